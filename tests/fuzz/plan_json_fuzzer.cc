// libFuzzer entry point for the plan lockfile reader and differ (DiffPlanJson, RenderPlanDiff).
//
// Invariants checked on every input (a violation aborts, so libFuzzer saves the input):
//   * DiffPlanJson never crashes, hangs, throws or trips ASan/UBSan, whether the fuzz text is the
//     old plan, the new plan or both (diffed against itself and against a fixed valid plan);
//   * a diff that is not ok carries an error diagnostic, and is ok or not the same way whichever
//     side the fuzz text is on (only the fuzz text can be invalid);
//   * RenderPlanDiff of every ok diff never crashes;
//   * a valid plan diffed against itself has no changes (the loader rejects duplicate ops and
//     tensors, so matching is unambiguous).
// DiffPlanJson takes the text, so no temporary file is needed; plans reference no other files.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "qrules/plan_diff.h"

namespace {

constexpr const char* kTarget = "plan_json_fuzzer";

// tests/data/cli/plan_old.json plus a float tensor and a second op.
constexpr std::string_view kFixedPlan = R"({"qrules_plan": 1, "model": "net.onnx", "rules": "a.qrules",
 "ops": [{"name": "/fc1/Gemm", "type": "linear",
          "tensors": [{"role": "state", "key": "weight", "tensor": "fc1.weight",
                       "spec": {"dtype": "int8", "qscheme": "symmetric", "qformulation": "zp",
                                "granularity": {"type": "per_channel", "axis": 0, "block_size": null},
                                "qparams": "static", "float_range": [null, null], "scale_dtype": "none"},
                       "source": "a.qrules:5", "reason": "quantized", "point": 0},
                      {"role": "input", "key": 0, "tensor": "x", "spec": null, "source": "",
                       "reason": "float", "point": 1}]},
         {"name": "/relu/Relu", "type": "relu", "tensors": []}]})";

void Check(const char* stage, const qrules::PlanDiffResult& r) {
  qrules_fuzz::CheckOkOrError(kTarget, stage, r.ok(), r.diagnostics);
  if (r.ok()) (void)qrules::RenderPlanDiff(r.diff);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const qrules::Source fixed("fixed.json", std::string(kFixedPlan));
  const qrules::Source fuzz("fuzz.json", std::string(reinterpret_cast<const char*>(data), size));

  qrules::PlanDiffResult self = qrules::DiffPlanJson(fuzz, fuzz);
  Check("DiffPlanJson(fuzz, fuzz)", self);
  if (self.ok() && !self.diff.empty()) {
    qrules_fuzz::Fail(kTarget, "a plan diffed against itself has changes", qrules::RenderPlanDiff(self.diff));
  }
  qrules::PlanDiffResult as_new = qrules::DiffPlanJson(fixed, fuzz);
  Check("DiffPlanJson(fixed, fuzz)", as_new);
  qrules::PlanDiffResult as_old = qrules::DiffPlanJson(fuzz, fixed);
  Check("DiffPlanJson(fuzz, fixed)", as_old);
  if (self.ok() != as_new.ok() || self.ok() != as_old.ok()) {
    qrules_fuzz::Fail(kTarget, "whether the fuzz plan is valid depends on the other plan",
                      "self " + std::to_string(self.ok()) + ", as new " + std::to_string(as_new.ok()) +
                          ", as old " + std::to_string(as_old.ok()));
  }
  return 0;
}
