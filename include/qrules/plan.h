// qrules/plan.h — resolving a compiled rule file against a model: the plan.
//
//   qrules::CompileResult rules = qrules::CompileFile("rules/w8a8.qrules");
//   qrules::ModelResult model = qrules::ImportOnnxFile("net.onnx", {.module_map_path = "net.modules.json"});
//   qrules::PlanResult plan = qrules::Resolve(*rules.rules, model.model);
//   for (const qrules::OpPlan& op : plan.plan->ops) ...        // every op, with every tensor decided
//   std::cout << qrules::RenderPlanJson(*plan.plan);
//
// Resolution follows coreai_opt's graph mode exactly (grammar/SEMANTICS.md §b and the Part 1
// decisions):
//   1. every module gets one ModuleQuantizerConfig: module_name entries, then module_type entries,
//      then global; within a level the later entry wins, and a match propagates to all descendants
//      not yet assigned (with the module-level spec maps emptied);
//   2. an op is governed by the config of its innermost module;
//   3. op_name (last matching entry) beats op_type beats the module's op_* groups; the chosen
//      OpQuantizerConfig is used as a whole;
//   4. only key ops of registered patterns get op-level specs; conv/linear/matmul/add/mul fuse with
//      a following batch_norm and/or activation (no fake-quant inside a fused pattern);
//   5. one fake-quant per graph edge, the first-annotated side decides (annotation order: NAME,
//      TYPE, GLOBAL; then OP_NAME, OP_TYPE, DEFAULT; longer patterns first; then graph order);
//      shared-observer ops (flatten, pools, mean, cat) share one fake-quant between their inputs
//      and output, and an annotated producer pushes its output fake-quant forward through
//      not-yet-annotated shared-observer ops; where a consumer annotated earlier already put its
//      own fake-quant on a shared-observer op's output edge, that output adopts it (so the op's
//      input and output then carry two fake-quants, torchao's back-to-back case); a state tensor
//      has one fake-quant, decided by its first-annotated consumer;
//   6. module_input / module_output / module_state override the op-level decisions for the tensors
//      they hit (innermost module wins; a module's NAME config is used over its TYPE config);
//   7. weight axes left open are resolved from the consuming op (§b.10, on the weight as stored);
//      a block size that does not divide its dimension leaves the tensor float with a warning.
// Compilation of the rule table is done once per Resolve: all op-name and module-name patterns of
// a level are matched with one RE2::Set pass per name.  The Plan is immutable and deterministic:
// the same rules and model give byte-identical renderings.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qrules/compile.h"
#include "qrules/config.h"
#include "qrules/diagnostic.h"
#include "qrules/ir.h"

namespace qrules {

// Which level of QuantizerConfig decided a module's config.
enum class ModuleLevel { kName, kType, kGlobal };
// Which part of that ModuleQuantizerConfig decided an op's config.
enum class OpLevel { kOpName, kOpType, kDefault };
std::string_view ModuleLevelName(ModuleLevel l);  // "module_name", "module_type", "global"
std::string_view OpLevelName(OpLevel l);          // "op_name", "op_type", "default"

enum class TensorRole { kInput, kOutput, kState };
std::string_view TensorRoleName(TensorRole r);  // "input", "output", "state"

// Why a tensor of an op has the spec it has (or none).
enum class Reason {
  kQuantized,          // spec set by the deciding entry
  kSharedEdge,         // the other side of the edge decided first; this side reuses its fake-quant
  kSharedObserver,     // shares the fake-quant of a shared-observer op's first input
  kNoRule,             // no key (nor `*`) for this tensor
  kDisabled,           // an entry set it to `none`
  kNotRegistered,      // the op is not the key op of a registered pattern
  kInsidePattern,      // between fused ops (conv -> bn -> relu): never quantized
  kNotFloat,           // integer/bool tensor
  kConstant,           // float, but computed from constants and shapes only (not an activation)
  kBlockSizeMismatch,  // per_block size does not divide the dimension: stays float
  kAxisError,          // axis unresolved or out of range (an error diagnostic says which)
};
std::string_view ReasonName(Reason r);  // "quantized", "shared-edge", ...

// Where a decision came from: the rule text and its location.
struct Origin {
  SourceRange where;         // the deciding entry (tensor map entry, op entry or scope); may be empty
  std::string description;   // e.g. `module_name "fc1" > op_type linear > op_state[weight]`
};

// An entry that also matched and did not decide, and why.
struct LosingEntry {
  SourceRange where;
  std::string description;  // e.g. `module_name /fc\d/ (line 4): a later entry wins`
};

// One fake-quantization point: where the executor quantizes, with which spec and observer.
struct FakeQuantPoint {
  int id = 0;
  TensorId tensor = kNoTensor;
  bool is_state = false;
  QuantizationSpec spec;  // axis resolved; qparams kDefault left as written (see EffectiveQParams)
  Origin origin;
  // The module whose config gives the QAT schedule (§d), and that schedule.
  ModuleId schedule_module = 0;
  std::optional<QATSchedule> qat_schedule;
};

struct TensorPlan {
  TensorRole role = TensorRole::kInput;
  TensorKey key;            // input/output index, or the state's local name
  TensorId tensor = kNoTensor;
  int point = -1;           // FakeQuantPoint id; -1 = stays float
  Reason reason = Reason::kNoRule;
  Origin origin;            // for kQuantized / kDisabled: the deciding entry
  std::string note;         // extra explanation (the pattern, the sharing partner, ...)
};

struct OpPlan {
  OpId op = kNoOp;
  std::string pattern;           // registered pattern matched with this op as key ("conv_act"), or ""
  std::vector<OpId> fused;       // the other ops of the pattern
  OpId fused_into = kNoOp;       // for a non-key op inside a pattern: the key op
  ModuleId governing_module = 0;
  ModuleLevel module_level = ModuleLevel::kGlobal;
  OpLevel op_level = OpLevel::kDefault;
  Origin config_origin;          // the module scope / op entry that gave the op config
  std::vector<LosingEntry> also_matched;
  std::vector<TensorPlan> tensors;  // inputs (by distinct index), states, outputs
};

struct ModulePlan {
  ModuleId module = 0;
  ModuleLevel level = ModuleLevel::kGlobal;
  int entry = -1;                // index into module_name / module_type, -1 for global
  ModuleId matched_at = 0;       // the module the entry matched (an ancestor when inherited)
  Origin origin;
  std::vector<LosingEntry> also_matched;
};

class Plan {
 public:
  std::shared_ptr<const Model> model;
  std::shared_ptr<const CompiledRules> rules;
  std::vector<ModulePlan> modules;      // by ModuleId
  std::vector<OpPlan> ops;              // by OpId
  std::vector<FakeQuantPoint> points;   // by id
  // Per op and input index (raw ONNX index): the point applied when the op reads that input.
  // kInheritPoint = use the producer's output point (if any); -1 = read the float value.
  static constexpr int kInheritPoint = -2;
  std::vector<std::vector<int>> input_points;   // [op][raw input index]
  std::vector<std::vector<int>> output_points;  // [op][output index]
  std::vector<int> state_points;                // [tensor] for states; -1 otherwise

  const OpPlan* FindOp(std::string_view name) const;
};

struct ResolveOptions {
  bool lint = true;  // model-aware lints (unmatched-rule, inert-rule, observed shadowed-entry)
};

struct [[nodiscard]] PlanResult {
  std::shared_ptr<const Plan> plan;  // null iff an error was found (axis errors, failed expect)
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return plan != nullptr; }
};

PlanResult Resolve(std::shared_ptr<const CompiledRules> rules, std::shared_ptr<const Model> model,
                   const ResolveOptions& options = {});

// Renderings.  JSON schema (documented in README.md): {"model", "rules", "ops": [{"name", "type",
// "module", "pattern", "config": {"level", "op_level", "source"}, "tensors": [{"role", "key",
// "tensor", "spec": null | {"dtype", "qscheme", "qformulation", "granularity": {"type", "axis",
// "block_size"}, "qparams", "float_range", "scale_dtype"}, "source", "reason", "point"}]}],
// "summary": {...}}.
// What a plan quantizes, counted one way for every report (plan, run, lint --model).  An op is
// quantized when one of its own tensors is fake-quantized by its decision (reason `quantized`
// or `shared-observer`, or a state with a point): an op that only reads a producer's quantized
// output (`shared-edge`) changes nothing it computes, and a Shape/Size op reads no values.
// Weights are the float states that ops with a weight input (conv, conv_transpose, linear,
// embedding: Op::weight_input) read there; a BatchNorm's scale is not one.
struct PlanSummary {
  size_t ops = 0;
  size_t quantized_ops = 0;
  size_t weights = 0;            // float weight tensors (each counted once, however many readers)
  size_t quantized_weights = 0;  // of those, with a fake-quant point
  size_t weight_points = 0;      // fake-quant points on states (weights, and any other state a rule names)
  size_t activation_points = 0;  // fake-quant points on activations
};
PlanSummary Summarize(const Plan& plan);
// "12 of 47 ops quantized: 9 of 9 weights and 14 activation points fake-quantized" (no newline).
std::string RenderPlanSummary(const PlanSummary& s);

std::string RenderPlanJson(const Plan& plan);
std::string RenderPlanText(const Plan& plan);
std::string SpecSummary(const QuantizationSpec& spec, bool is_state);  // "int8 symmetric per_channel(axis=0) static"

// `qrules explain --schedule`: the QAT timeline each scope's qat_schedule implies (§d): for every
// range of training steps, whether observers and fake quantization are on.  Needs no model.
std::string RenderScheduleTimeline(const QuantizerConfig& config);

// `qrules explain`: how one op, tensor or module was decided, with every entry that matched.
std::string ExplainOp(const Plan& plan, OpId op);
std::string ExplainTensor(const Plan& plan, TensorId tensor);
std::string ExplainModule(const Plan& plan, ModuleId module);

}  // namespace qrules
