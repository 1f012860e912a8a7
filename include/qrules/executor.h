// qrules/executor.h — the float executor: runs a model IR with Eigen kernels, with hooks for
// fake quantization.
//
//   qrules::ImportResult m = qrules::ImportOnnxFile("net.onnx");
//   qrules::ExecutorResult e = qrules::Executor::Create(m.model);
//   if (!e.ok()) { std::cerr << qrules::RenderText(e.diagnostics); return 2; }
//   qrules::RunResult r = e.executor->Run({x});          // x: Tensor [N, ...]
//   if (!r.ok()) { std::cerr << qrules::RenderText(r.diagnostics); return 1; }
//   const qrules::Tensor& logits = r.outputs[0];           // graph outputs, in order
//
// Op set.  The kernels follow the ONNX operator definitions (opset 7–21 conventions; attribute-
// vs input-form `axes`, `pads`, `min`/`max` are both accepted): Conv (1-D/2-D, groups,
// depthwise, strides, pads, dilations, auto_pad), ConvTranspose, Gemm, MatMul (batched,
// broadcasting), Add/Sub/Mul/Div/Pow/Max/Min/Sum/Mean with numpy broadcasting, Sqrt, Erf, Exp, Log,
// Relu, LeakyRelu, Clip, Sigmoid, HardSigmoid, HardSwish, Tanh, Gelu, Softmax, LogSoftmax,
// Reduce{Mean,Max,Min,Sum,Prod,L2,SumSquare}, BatchNormalization (inference), LayerNormalization,
// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool, Flatten, Reshape, Transpose, Concat,
// Split, Slice, Squeeze, Unsqueeze, Gather, Shape, Size, Cast, Identity, Dropout, Constant,
// ConstantOfShape, Range, Expand, Tile, Where, Equal, Less, Greater, And, Or, Not, Resize /
// Upsample (nearest, linear), Pad (constant, reflect, edge).  `SupportedOpTypes()` lists them.
// Ops are dispatched on `Op::onnx_type`; ops built without one (IR text, ModelBuilder) are
// dispatched on their torch type (conv2d, linear, relu, add, ...) or, failing that, on `type`
// taken as an ONNX type.  Integer tensors (shape chains) are computed in int64.
//
// Errors.  `Create` checks the whole model up front: every op type must have a kernel (one
// `unsupported-op` diagnostic lists all missing types), attributes must be usable, and every
// state must carry data.  `Run` checks inputs and every shape as it goes; a mismatch is one
// `execution-error` diagnostic naming the op, never a crash, abort or exception.  After a
// failed run the executor is still usable.
//
// Batching.  Axis 0 of every graph input is the batch; any batch size works (the models'
// dynamic dims are not checked against the IR shapes, static dims are).  `RunBatched` splits
// large inputs into batches and concatenates the outputs along axis 0.
//
// Memory.  Graph inputs and states are read in place (never copied unless a hook modifies
// them).  An intermediate tensor is released right after its last consumer has run; its buffer
// goes to a pool that later ops reuse, so a steady sequence of runs does not allocate.
//
// Hooks (fake quantization, observers).  `SetHook(hook, filter)` calls `filter` once for every
// (op, input slot) and (op, output slot) of the model; where it answers `kObserve` or `kModify`,
// `hook` runs on every Run:
//   * output slots: right after the op produced the tensor, before any consumer reads it;
//     `kModify` changes what every consumer (and the graph output) sees;
//   * input slots: right before the op runs; `kModify` changes only what this op sees (the
//     executor hands the hook a private copy, or the tensor itself when this op is its only
//     reader).  Input slots cover graph inputs and states as well as activations.
// With `kObserve` the hook must not modify the tensor.  Points where the filter said `kNone`
// cost nothing.  Weights are better transformed once with `TransformStates`.
//
// Plan-time rewrites (invisible in results).  Conv/Gemm/MatMul followed by a bias Add (MatMul
// with a rank-1 state bias) and/or a Relu read by nobody else run as one kernel; so does the
// erf-GELU chain PyTorch exports below opset 20 (Div, Erf, Add, Mul, Mul).  Element-wise and
// reshaping ops reuse their input's buffer when it dies there.  A hook point on an intermediate
// tensor of a fused chain turns that fusion off, so hooks always see exactly the tensors of the
// unfused graph; a hook on the chain's last output keeps the fusion and reports the last op.
//
// Opsets.  The IR carries no opset version, so the kernels accept both the attribute and the
// input form of `axes`/`pads`/`min`/`max`/`starts`…, and Softmax/LogSoftmax follow opset >= 13
// (one axis, default -1); pre-13 Softmax with a non-last axis computes differently.
//
// Thread safety.  An Executor is not thread-safe (it owns scratch buffers); use one per thread.
// It keeps the model alive through its shared_ptr.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/ir.h"
#include "qrules/tensor.h"

namespace qrules {

// Where a hooked tensor sits on an op.
struct TensorSlot {
  enum class Kind { kInput, kOutput };
  Kind kind = Kind::kOutput;
  int index = 0;  // input or output index of the op
  friend bool operator==(const TensorSlot&, const TensorSlot&) = default;
};

enum class HookMode { kNone, kObserve, kModify };

struct TensorEvent {
  OpId op_id = kNoOp;
  const Op* op = nullptr;
  TensorSlot slot;
  TensorId tensor = kNoTensor;
  HookMode mode = HookMode::kObserve;
};

// Decides once, at SetHook time, whether a point is hooked.
using HookFilter = std::function<HookMode(const Model& model, OpId op, TensorSlot slot)>;
using TensorHook = std::function<void(const TensorEvent& event, Tensor& tensor)>;

struct [[nodiscard]] RunResult {
  std::vector<Tensor> outputs;  // the graph outputs, in Model::outputs() order; empty on error
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return !HasErrors(diagnostics); }
};

class Executor;

struct [[nodiscard]] ExecutorResult {
  std::unique_ptr<Executor> executor;  // null iff diagnostics hold an error
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return executor != nullptr; }
};

// The op types with a kernel (ONNX names), sorted.
std::span<const std::string_view> SupportedOpTypes();

class Executor {
 public:
  // Checks the model and plans its execution (order, kernels, buffer lifetimes).
  static ExecutorResult Create(std::shared_ptr<const Model> model);

  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  const Model& model() const { return *model_; }

  // Runs the model on one input per graph input (Model::inputs() order).
  RunResult Run(std::span<const Tensor> inputs);
  RunResult Run(std::initializer_list<Tensor> inputs) {
    return Run(std::span<const Tensor>(inputs.begin(), inputs.size()));
  }
  // Runs in batches of at most `batch_size` along axis 0 of every input (which must agree on
  // it) and concatenates each output along axis 0.  `batch_size <= 0` = one batch.
  RunResult RunBatched(std::span<const Tensor> inputs, int64_t batch_size);

  // Applies `fn` to every state tensor once (e.g. weight fake-quantization).  The executor
  // works on its own copies; the model is not changed.  States whose shared data is read by
  // `fn` but not changed still get copied — call it once with all changes.
  using StateFn = std::function<void(TensorId id, const TensorInfo& info, Tensor& value)>;
  void TransformStates(const StateFn& fn);
  // Drops every transformation: states are the model's values again.
  void ResetStates();
  // The current value of a state tensor; nullptr when `id` is not a state.
  const Tensor* state(TensorId id) const;

  void SetHook(TensorHook hook, const HookFilter& filter);
  void ClearHook();

 private:
  struct Impl;
  explicit Executor(std::shared_ptr<const Model> model);
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace qrules
