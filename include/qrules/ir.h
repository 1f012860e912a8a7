// qrules/ir.h — the model IR: a module tree, ops in topological order, tensors; the op registry;
// the IR text format; the `inspect` summary.
//
// A `Model` is what rules are resolved against and what the executor runs.  It is built once —
// by the ONNX importer (`qrules/onnx_import.h`), by the IR text parser below, or by hand with
// `ModelBuilder` — and is immutable afterwards; share it as `std::shared_ptr<const Model>`, safe to
// read from several threads.
//
//   qrules::ModelBuilder b;
//   b.AddModule("", "my.Net");
//   b.AddModule("fc", "torch.nn.modules.linear.Linear");
//   b.AddInput({.name = "x", .shape = {1, 4}});            // dtype defaults to float32
//   b.AddState({.name = "fc.weight", .shape = {2, 4}});    // owner "fc", local name "weight"
//   b.AddOp({.name = "fc", .type = "linear", .module = "fc",
//            .inputs = {"x", "fc.weight"},
//            .outputs = {{.name = "y", .shape = {1, 2}}}});
//   b.AddOutput("y");
//   qrules::ModelResult r = std::move(b).Build();
//   if (!r.ok()) std::cerr << qrules::RenderText(r.diagnostics);
//   const qrules::Op& fc = *r.model->FindOp("fc");
//   const qrules::TensorInfo& w = r.model->tensor(fc.inputs[1]);
//   // r.model->module(w.owner).name == "fc", w.local_name == "weight", r.model->InputName(fc, 1) == "weight"
//
// Names.  Modules are named by their fully-qualified name (fqn) as in PyTorch's `named_modules()`:
// the root is "", children are "features", "features.0", ...  Op types use torch functional naming
// ("conv2d", "linear", "add", "max_pool2d"); ops the registry does not know keep their ONNX op type
// ("Softmax" is mapped to "softmax", but e.g. "NonMaxSuppression" stays "NonMaxSuppression").
//
// Ids.  `TensorId`, `OpId` and `ModuleId` are indices into `tensors()`, `ops()`, `modules()`.
// `ops()` is in topological order (every op comes after the producers of its inputs); module 0 is
// the root "".
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/op_table.h"
#include "qrules/source.h"
#include "qrules/tensor.h"

namespace qrules {

using TensorId = int32_t;
using OpId = int32_t;
using ModuleId = int32_t;
inline constexpr TensorId kNoTensor = -1;  // an omitted optional input (ONNX "")
inline constexpr OpId kNoOp = -1;          // e.g. the producer of a graph input or state

// ---------------------------------------------------------------------------------------------
// Shapes

// One dimension: a known size (>= 0), or dynamic (`size == -1`), optionally with a symbolic name
// ("N", "batch") taken from the model.
struct Dim {
  int64_t size = -1;
  std::string symbol;  // only meaningful when size == -1; may be empty

  Dim() = default;
  Dim(int64_t s) : size(s < 0 ? -1 : s) {}  // NOLINT: implicit, so that `Shape{{1}, {3}}` reads well
  static Dim Symbol(std::string name) {
    Dim d;
    d.symbol = std::move(name);
    return d;
  }

  bool is_static() const { return size >= 0; }
  friend bool operator==(const Dim&, const Dim&) = default;
};

// A tensor's shape; `known == false` means even the rank is unknown (then `dims` is empty).
struct Shape {
  bool known = false;
  std::vector<Dim> dims;

  Shape() = default;
  // A known shape: `Shape{{1}, {3}, Dim::Symbol("N")}`, or from plain sizes with `Shape::Of`.
  Shape(std::initializer_list<Dim> d) : known(true), dims(d) {}
  static Shape Of(std::span<const int64_t> sizes);   // -1 = dynamic
  static Shape Unknown() { return Shape(); }

  size_t rank() const { return dims.size(); }
  bool is_static() const;                   // known and every dim static
  std::vector<int64_t> sizes() const;       // dims with -1 for dynamic ones
  std::string ToString() const;             // "[1, 3, N, 8]", "[]" for scalars, "?" when unknown
  friend bool operator==(const Shape&, const Shape&) = default;
};

// ---------------------------------------------------------------------------------------------
// Attributes (kept as in ONNX: names and conventions of the ONNX operator, e.g. Conv's `strides`,
// `pads` [x1_begin, x2_begin, ..., x1_end, x2_end], `dilations`, `group`, `kernel_shape`; Gemm's
// `transA`, `transB`, `alpha`, `beta`; Flatten's `axis`; ...).

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kTensor, kInts, kFloats, kStrings };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0;
  std::string s;
  Tensor t;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;

  static Attribute Int(int64_t v);
  static Attribute Float(float v);
  static Attribute String(std::string v);
  static Attribute Ints(std::vector<int64_t> v);
  static Attribute Floats(std::vector<float> v);
  static Attribute Strings(std::vector<std::string> v);
  static Attribute OfTensor(Tensor v);
};
using AttributeMap = std::map<std::string, Attribute, std::less<>>;

// ---------------------------------------------------------------------------------------------
// The IR elements

struct Module {
  std::string name;                 // fqn; "" for the root
  std::string type;                 // fully-qualified type ("torch.nn.modules.conv.Conv2d"); may be ""
  ModuleId parent = -1;             // -1 for the root
  std::vector<ModuleId> children;   // in declaration (named_modules) order
  std::vector<OpId> ops;            // ops whose *innermost* module is this one, topological order
  std::vector<TensorId> states;     // state tensors this module owns directly
};

struct Op {
  std::string name;                 // unique; the ONNX node name (or a generated "<type>_<n>")
  std::string type;                 // torch functional name, or the ONNX type when unregistered
  std::string onnx_type;            // original ONNX op type ("Conv", "Gemm"); "" for text/builder ops
  std::string domain;               // ONNX domain ("" = default)
  ModuleId module = 0;              // innermost enclosing module
  std::vector<ModuleId> module_stack;  // root → innermost, so module_stack.back() == module
  std::vector<TensorId> inputs;     // by index, as in the source graph; kNoTensor = omitted optional
  std::vector<TensorId> outputs;    // by index
  AttributeMap attributes;

  // For ops with a weight input (linear, conv*, conv_transpose*, embedding): the index of that
  // input and the axes of the weight *as stored* that hold the output and input channels.
  // linear in torch layout [out, in] (ONNX Gemm transB=1): out 0, in 1; linear with the weight
  // stored transposed [in, out] (Gemm transB=0, MatMul with an initializer): out 1, in 0;
  // conv [out, in/g, k...]: 0, 1; conv_transpose [in, out/g, k...]: 1, 0; embedding [num, dim]:
  // 0, 1.  All -1 for ops without a weight.
  int weight_input = -1;
  int weight_output_axis = -1;
  int weight_input_axis = -1;

  // Convenience: `inputs[i]` or kNoTensor when out of range.
  TensorId input(size_t i) const { return i < inputs.size() ? inputs[i] : kNoTensor; }
  TensorId output(size_t i) const { return i < outputs.size() ? outputs[i] : kNoTensor; }
};

enum class TensorKind {
  kInput,       // a graph input
  kState,       // a parameter, buffer or constant (ONNX initializer or Constant node)
  kActivation,  // produced by an op
};

struct TensorInfo {
  std::string name;                 // unique
  TensorKind kind = TensorKind::kActivation;
  std::optional<ElementType> dtype; // nullopt when unknown or not representable (see dtype_name)
  std::string dtype_name;           // "float32", "int64", ..., "float16", "float64", or "unknown"
  Shape shape;
  OpId producer = kNoOp;            // kNoOp for inputs and states
  std::vector<OpId> consumers;      // distinct ops reading it, topological order

  // State tensors only: the owning module and the local name within it ("weight", "bias",
  // "running_mean").  For non-state tensors owner is -1 and local_name "".
  ModuleId owner = -1;
  std::string local_name;
  std::shared_ptr<const Tensor> data;  // the value when the model has it (states), else null

  bool is_state() const { return kind == TensorKind::kState; }
  // A floating tensor (float16/bfloat16/float32/float64): quantizable.
  bool is_float() const;
};

// The export idioms of a model, recognised once when it is built (src/ir/idioms.cc), so that the
// resolver (and any later reader) sees the torch program an ONNX export stands for instead of
// re-deriving it: which tensors are activations, which ops are pieces of one torch op.
struct ExportIdioms {
  // [tensor] Its values depend on a graph input's values.  A float tensor computed only from
  // constants and shapes (a Resize's scales built by Shape -> ... -> Concat) is not an
  // activation: in the torch program it is a Python number.
  std::vector<bool> value_dependent;
  // [op] For a MatMul reading a constant weight (a linear exported for a 3-D input): the Add of a
  // constant rank-1 tensor, in the same module, that applies the linear's bias; else kNoOp.
  std::vector<OpId> bias_add;
  // [op] One-activation chains reading the op's output 0: the erf-GELU chain
  // Mul(Mul(x, Add(Erf(Div(x, c1)), c2)), c3) (its ops in that order) and SiLU's / Hardswish's
  // x * sigmoid(x) / x * hardsigmoid(x) (the sigmoid and the Mul); empty when none.
  std::vector<std::vector<std::vector<OpId>>> activation_chains;
  // [op] A piece of a leaf module that is one unregistered op in torch (LayerNorm, GroupNorm,
  // InstanceNorm decomposed by an export below opset 17): never a pattern key.
  std::vector<bool> inside_single_op_module;
};

// The immutable model.  Build it with ModelBuilder, ParseModelText or ImportOnnx.
class Model {
 public:
  const std::string& name() const { return name_; }  // model/source name, for messages

  std::span<const Module> modules() const { return modules_; }
  std::span<const Op> ops() const { return ops_; }
  std::span<const TensorInfo> tensors() const { return tensors_; }
  std::span<const TensorId> inputs() const { return inputs_; }    // graph inputs, in order
  std::span<const TensorId> outputs() const { return outputs_; }  // graph outputs, in order

  const Module& module(ModuleId id) const { return modules_.at(static_cast<size_t>(id)); }
  const Op& op(OpId id) const { return ops_.at(static_cast<size_t>(id)); }
  const TensorInfo& tensor(TensorId id) const { return tensors_.at(static_cast<size_t>(id)); }
  const Module& root() const { return modules_.front(); }

  // Lookups by name; nullptr / nullopt when absent.
  const Module* FindModule(std::string_view fqn) const;
  const Op* FindOp(std::string_view name) const;
  const TensorInfo* FindTensor(std::string_view name) const;
  std::optional<ModuleId> ModuleIdOf(std::string_view fqn) const;
  std::optional<OpId> OpIdOf(std::string_view name) const;
  std::optional<TensorId> TensorIdOf(std::string_view name) const;

  // The name of input slot `index` of `op` per the op registry ("input", "weight", "bias",
  // "other", "tensors", ...), or "" when the op type is unregistered or the index has no name.
  std::string_view InputName(const Op& op, size_t index) const;
  // The parameter role of input slot `index` ("weight", "bias", "running_mean", "running_var",
  // ...): the torch name of the module parameter or buffer that the slot holds, or "" for a data
  // slot ("input", "other", ...) and for ops outside the registry.  A state in a parameter slot
  // has that role as its op_state key, whatever the initializer is called.
  std::string_view StateRole(const Op& op, size_t index) const;
  // "output" for registered ops' output 0 (multi-output ops: "output" for every index), "" otherwise.
  std::string_view OutputName(const Op& op, size_t index) const;

  // The name a PyTorch user knows a tensor by: for a state owned by a named module, the module's
  // fqn and the state's local name ("layer4.1.conv2.weight", even when the ONNX initializer is
  // "onnx::Conv_193"); otherwise the tensor's own name.
  std::string KnownName(TensorId id) const;
  // KnownName with the ONNX name beside it when they differ: "layer4.1.conv2.weight
  // (onnx::Conv_193)"; just the name when they agree.
  std::string NameForMessages(TensorId id) const;

  // Export idioms (see ExportIdioms), recognised when the model was built.
  const ExportIdioms& idioms() const { return idioms_; }
  // The op reading op's output 0, when exactly one does and the graph does not return it.
  OpId SoleConsumer(const Op& op) const;
  bool IsGraphOutput(TensorId t) const;

  // Whether any module carries a type (plain ONNX without a module map has none).
  bool has_module_types() const;

 private:
  friend class ModelBuilder;
  std::string name_;
  std::vector<Module> modules_;
  std::vector<Op> ops_;
  std::vector<TensorInfo> tensors_;
  std::vector<TensorId> inputs_;
  std::vector<TensorId> outputs_;
  std::unordered_map<std::string, ModuleId> module_index_;
  std::unordered_map<std::string, OpId> op_index_;
  std::unordered_map<std::string, TensorId> tensor_index_;
  ExportIdioms idioms_;
};

// The result of building, parsing or importing a model.  `model` is null when there were errors.
struct ModelResult {
  std::shared_ptr<const Model> model;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return model != nullptr && !HasErrors(diagnostics); }
};

// ---------------------------------------------------------------------------------------------
// Building

// Declaration of a graph input or a state tensor (or an op output).
struct TensorSpec {
  std::string name = {};
  std::optional<ElementType> dtype = ElementType::kFloat32;
  std::string dtype_name = {};            // defaults to the name of *dtype ("float32"), or "unknown"
  Shape shape = {};
  std::optional<Tensor> data = {};        // states: the value (its shape must match `shape` when known)
  // States: explicit owner module fqn and local name.  When absent: a name "a.b.w" whose prefix
  // "a.b" is a declared module gives owner "a.b", local "w"; otherwise the owner is the innermost
  // module of the first consuming op and the local name is that op's input slot name ("weight",
  // "bias"; "input<i>" for unregistered ops), made unique within the module with "_1", "_2", ...;
  // an unconsumed state belongs to the root with its full name as local name.
  std::optional<std::string> owner = {};
  std::optional<std::string> local_name = {};
  SourceRange where = {};                 // for diagnostics; may be empty
};

struct OpSpec {
  std::string name = {};                  // "" = generated "<type>_<n>"
  std::string type = {};                  // torch functional name or unregistered type
  std::string onnx_type = {};
  std::string domain = {};
  std::string module = {};                // innermost module fqn; created (with parents) if undeclared
  std::vector<std::string> inputs = {};   // tensor names by index; "" = omitted optional input
  std::vector<TensorSpec> outputs = {};   // the tensors this op produces
  AttributeMap attributes = {};
  // Override the registry's weight axes (see Op); -1 = use the registry default for `type`.
  int weight_output_axis = -1;
  int weight_input_axis = -1;
  SourceRange where = {};
};

// Collects declarations in any order and checks them in Build(): unique names, every input
// defined, no cycles (ops are sorted topologically, keeping the given order where possible),
// state data matching its shape.  Problems are `model-invalid` diagnostics (with the `where`
// location when given).  Not thread-safe; single use.
class ModelBuilder {
 public:
  ModelBuilder();
  // Used in diagnostics without a location and as Model::name().
  void SetName(std::string name);
  // Declares a module (and, implicitly with empty type, its missing ancestors).  Redeclaring
  // sets the type if it was empty; a different non-empty type is an error.
  void AddModule(std::string fqn, std::string type = "", SourceRange where = {});
  void AddInput(TensorSpec spec);
  void AddState(TensorSpec spec);
  void AddOp(OpSpec spec);
  void AddOutput(std::string tensor_name, SourceRange where = {});
  // The diagnostic code for problems found in Build() (model-invalid by default).
  void SetDiagCode(DiagCode code);

  [[nodiscard]] ModelResult Build() &&;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// ---------------------------------------------------------------------------------------------
// The op registry (grammar/SEMANTICS.md §b.5, §b.10)

// The op table (FindOpType, AllOpTypes, IsRegisteredOp) is qrules/op_table.h, included above.

// Which default axis of §b.10.
enum class WeightAxisUse { kPerChannel, kPerBlock };
// The default axis for `op`'s weight as stored (accounting for a transposed linear weight), or
// nullopt when the op type has no default (§b.10: unresolved-axis).
std::optional<int> DefaultWeightAxis(const Op& op, WeightAxisUse use);

// ---------------------------------------------------------------------------------------------
// The IR text format (grammar/ir.peg, documented in grammar/IR-REFERENCE.md)

// Parses IR text.  Syntax errors are `syntax` diagnostics; semantic ones (undefined tensor,
// duplicate name, cycle) are `model-invalid`; both point into `source`.
[[nodiscard]] ModelResult ParseModelText(std::shared_ptr<const Source> source);
// Reads and parses a file; an unreadable file is an `io-error` diagnostic.
[[nodiscard]] ModelResult LoadModelTextFile(const std::string& path);

struct PrintOptions {
  bool include_data = true;         // print state values (`= [...]`)
  size_t max_data_elements = SIZE_MAX;  // states with more elements are printed without data
};
// Prints `model` in the IR text format; ParseModelText of the result gives an equal model.
std::string PrintModelText(const Model& model, const PrintOptions& options = {});

// A human summary for `qrules inspect`: modules with types, ops with types and modules, and
// tensors (state: owner/local, shape, dtype).
std::string RenderModelSummary(const Model& model);

}  // namespace qrules
