// src/exec/kernels.h — the executor's kernel interface (internal).
//
// A kernel is created once per graph node from the node's op type, attributes and opset, which it
// validates and pre-digests; `Run` then only computes.  Kernels never assert or throw on user data:
// every shape and index is checked and a failure comes back as a message that the interpreter
// turns into an `execution-error` diagnostic.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qrules/tensor.h"

namespace qrules::internal {

// One ONNX attribute, decoupled from the IR's representation.
struct AttrValue {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  Tensor t;
};

class AttrMap {
 public:
  void Set(std::string name, AttrValue v) { values_[std::move(name)] = std::move(v); }
  const AttrValue* Find(std::string_view name) const {
    auto it = values_.find(name);
    return it == values_.end() ? nullptr : &it->second;
  }
  bool Has(std::string_view name) const { return Find(name) != nullptr; }
  int64_t Int(std::string_view name, int64_t def) const;
  float Float(std::string_view name, float def) const;
  std::string String(std::string_view name, std::string_view def) const;
  std::vector<int64_t> Ints(std::string_view name) const;  // empty when absent
  const std::map<std::string, AttrValue, std::less<>>& values() const { return values_; }

 private:
  std::map<std::string, AttrValue, std::less<>> values_;
};

// Status of a kernel call: empty = ok.  Small-string optimised, so success costs nothing.
using KStatus = std::string;

class Kernel {
 public:
  virtual ~Kernel() = default;
  // `inputs[i]` is null for an omitted optional input.  Outputs are distinct from inputs; their
  // buffers may hold capacity from earlier runs, which kernels reuse.  `outputs[i]` may be null
  // for an unused optional output.
  virtual KStatus Run(std::span<const Tensor* const> inputs, std::span<Tensor* const> outputs) = 0;

  // Plan-time optimisations (see executor.cc).  A kernel that can apply max(0, y) to its output
  // itself accepts SetFusedRelu(true) and returns true.
  virtual bool SetFusedRelu(bool on) { return !on; }
  // The input whose tensor may be handed to the kernel as its own output 0 (outputs[0] ==
  // inputs[i]), when the executor knows nobody else reads it; -1 = never.
  virtual int InPlaceInput() const { return -1; }
  // True when Run writes every element of its float outputs (after sizing them with AllocFloat):
  // the executor then hands it pooled buffers with stale contents instead of zeroed ones, which
  // saves a full write pass per op.  False (the default): outputs start empty, i.e. zeroed.
  virtual bool OverwritesOutputs() const { return false; }
  // Called when the executor's state tensors (weights) were replaced (TransformStates,
  // ResetStates): a kernel that caches something derived from a state input drops it.
  virtual void StatesChanged() {}
};

struct KernelSpec {
  std::string_view op_type;
  const AttrMap* attrs = nullptr;
  int64_t opset = 13;
  size_t num_inputs = 0;   // including omitted optional ones (their slot is null at Run)
  size_t num_outputs = 0;
};

// A Conv with a following inference BatchNormalization folded into its weights (executor plan):
// inputs X, W, [B], then the BatchNormalization's scale, bias, mean and var (slots 3-6, all
// states).  The folded weights are computed on the first run and kept until StatesChanged().
std::unique_ptr<Kernel> CreateConvBatchNormKernel(const AttrMap& conv_attrs, float epsilon,
                                                  std::string* error);

// MatMul(A, B) / C with C a rank-0 float input 2 (a following Div by a constant, folded in by the
// executor's plan: attention scores / sqrt(d)); runs as the GEMM's alpha = 1/C.
std::unique_ptr<Kernel> CreateScaledMatMulKernel();

// The op types with a kernel, sorted.
std::span<const std::string_view> SupportedOpTypes();
bool IsSupportedOpType(std::string_view op_type);
// Null with `*error` set when the attributes are invalid or a mode has no kernel (e.g. Resize cubic).
std::unique_ptr<Kernel> CreateKernel(const KernelSpec& spec, std::string* error);

// C[M,N] = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions.  `beta == 0`
// ignores C's old content.  The one GEMM entry point of the executor (benchmarked in bench/).
void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc);
// Which GEMM code path Sgemm uses on this CPU ("avx2-fma" or "generic").
// The widest variant family the CPU runs (AVX-512F+DQ+FMA, AVX2+FMA, or generic), capped by
// QRULES_EXEC_GEMM=generic|avx2 (tests, benchmarks); shared by the GEMM and the vector kernels.
enum class ExecIsa { kGeneric, kAvx2, kAvx512 };
ExecIsa PickExecIsa();
std::string_view SgemmPath();

}  // namespace qrules::internal
