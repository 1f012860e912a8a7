// qrules/plan_diff.h — comparing two plans: `qrules plan --format json` output used as a lockfile.
//
//   qrules::PlanDiffResult d = qrules::DiffPlanJsonFiles("plan.lock.json", "plan.new.json");
//   if (!d.ok()) { std::cerr << qrules::RenderText(d.diagnostics); return 2; }
//   std::cout << qrules::RenderPlanDiff(d.diff);
//   return d.diff.empty() ? 0 : 1;
//
// Tensors are matched by op name, role (input/output/state) and key (index or state name).  A
// tensor is reported when its spec changed (any field of the JSON `spec`, including a change from
// or to float) or when the rule that decided it changed (its `source`, "file:line").  Ops present
// in only one plan are reported as added or removed, and so are tensors of a kept op.  The order
// is deterministic: the new plan's op order, then removed ops in the old plan's order.
// A file that is not a plan (unreadable, not JSON, wrong shape) is a `plan-invalid` diagnostic
// (`io-error` when it cannot be read).  Thread-safe; never throws.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/source.h"

namespace qrules {

struct PlanChange {
  enum class Kind { kOpAdded, kOpRemoved, kTensorAdded, kTensorRemoved, kTensorChanged };
  Kind kind = Kind::kTensorChanged;
  std::string op;       // op name
  std::string op_type;  // op type
  std::string role;     // tensors: "input", "output", "state"
  std::string key;      // tensors: "0", "weight", ...
  std::string tensor;   // tensors: the tensor's name (in the new plan when it exists there)
  // For tensors: the spec summaries ("int8 symmetric per_tensor moving_average", or "float") and
  // deciding sources ("rules.qrules:12", or "" when none), before and after.
  std::string old_spec, new_spec;
  std::string old_source, new_source;
  bool spec_changed = false;
  bool source_changed = false;
};

struct PlanDiff {
  std::string old_name, new_name;
  std::vector<PlanChange> changes;
  bool empty() const { return changes.empty(); }
};

struct [[nodiscard]] PlanDiffResult {
  PlanDiff diff;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return !HasErrors(diagnostics); }
};

PlanDiffResult DiffPlanJson(const Source& old_plan, const Source& new_plan);
PlanDiffResult DiffPlanJsonFiles(const std::string& old_path, const std::string& new_path);

// One line per change, then a summary line; "no changes\n" for an empty diff.
std::string RenderPlanDiff(const PlanDiff& diff);

}  // namespace qrules
