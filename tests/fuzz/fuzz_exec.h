// Executor checks shared by the targets that produce a model (onnx_fuzzer, qir_fuzzer).
//
//   * Executor::Create never crashes and is ok or carries an error diagnostic;
//   * when the executor exists, the model has at most kMaxRunOps ops and every graph input has a
//     small static shape (a dynamic axis 0, the batch, is taken as 1), one Run on zero inputs never crashes, is ok or carries an error
//     diagnostic, and an ok run returns one tensor per graph output.
// Set QRULES_FUZZ_NO_RUN=1 in the environment to skip the run (fuzz planning only).
#pragma once

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "fuzz_common.h"
#include "exec/kernel_util.h"
#include "qrules/executor.h"

namespace qrules_fuzz {

inline constexpr int64_t kMaxRunInputElements = 4096;  // per graph input
inline constexpr size_t kMaxRunOps = 256;

inline bool RunEnabled() {
  static const bool enabled = [] {
    // Tensors past 4 Mi elements are refused while fuzzing: a model may legitimately pad or
    // expand to billions of elements, which would only measure the fuzzer's patience.
    qrules::internal::kMaxElements = int64_t{1} << 22;
    return std::getenv("QRULES_FUZZ_NO_RUN") == nullptr;
  }();
  return enabled;
}

// Zero tensors for the graph inputs (batch 1 where axis 0 is dynamic), or false when some input
// is not small, static and typed.
inline bool ZeroInputs(const qrules::Model& model, std::vector<qrules::Tensor>& out) {
  for (qrules::TensorId id : model.inputs()) {
    const qrules::TensorInfo& info = model.tensor(id);
    if (!info.dtype || !info.shape.known) return false;
    qrules::Tensor t;
    t.type = *info.dtype;
    t.shape = info.shape.sizes();
    if (!t.shape.empty() && t.shape[0] < 0) t.shape[0] = 1;
    int64_t n = 1;
    for (int64_t d : t.shape) {
      if (d < 0 || (d > 0 && n > kMaxRunInputElements / d)) return false;
      n *= d;
    }
    if (n > kMaxRunInputElements) return false;
    if (t.type == qrules::ElementType::kFloat32) {
      t.f32.assign(static_cast<size_t>(n), 0.0f);
    } else {
      t.i64.assign(static_cast<size_t>(n), 0);
    }
    out.push_back(std::move(t));
  }
  return true;
}

inline void CreateAndMaybeRun(const char* target, const std::shared_ptr<const qrules::Model>& model) {
  qrules::ExecutorResult created = qrules::Executor::Create(model);
  CheckOkOrError(target, "Executor::Create", created.ok(), created.diagnostics);
  if (!created.ok() || !RunEnabled() || model->ops().size() > kMaxRunOps) return;
  std::vector<qrules::Tensor> inputs;
  if (!ZeroInputs(*model, inputs)) return;
  qrules::RunResult run = created.executor->Run(inputs);
  CheckOkOrError(target, "Executor::Run", run.ok(), run.diagnostics);
  if (run.ok() && run.outputs.size() != model->outputs().size()) {
    Fail(target, "Run is ok but does not return one tensor per graph output");
  }
}

}  // namespace qrules_fuzz
