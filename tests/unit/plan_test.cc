// Resolution semantics (grammar/SEMANTICS.md §a.9, §b.1-b.10, Part 1) on small IR models written
// in the IR text format.  Every expectation is derived from the semantics text, case by case.
#include <catch2/catch.hpp>

#include "qrules/compile.h"
#include "qrules/ir.h"
#include "qrules/plan.h"

using namespace qrules;

namespace {

std::shared_ptr<const Model> ModelOf(const std::string& text) {
  ModelResult r = ParseModelText(std::make_shared<const Source>("model.qir", "qrules-ir 1\n" + text));
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return r.model;
}

PlanResult PlanOf(const std::string& rules, const std::shared_ptr<const Model>& model) {
  CompileResult c = Compile(std::make_shared<const Source>("r.qrules", "qrules 1\n" + rules));
  INFO(RenderText(c.diagnostics));
  REQUIRE(c.ok());
  return Resolve(c.rules, model);
}

std::shared_ptr<const Plan> MustPlan(const std::string& rules, const std::shared_ptr<const Model>& model) {
  PlanResult p = PlanOf(rules, model);
  INFO(RenderText(p.diagnostics));
  REQUIRE(p.ok());
  return p.plan;
}

const TensorPlan& T(const Plan& plan, const std::string& op, TensorRole role, const std::string& key) {
  const OpPlan* p = plan.FindOp(op);
  REQUIRE(p != nullptr);
  for (const auto& tp : p->tensors) {
    if (tp.role == role && tp.key.ToString() == key) return tp;
  }
  FAIL("no tensor " << key << " on op " << op);
  return p->tensors.front();
}

const QuantizationSpec* SpecOf(const Plan& plan, const TensorPlan& tp) {
  return tp.point >= 0 ? &plan.points[static_cast<size_t>(tp.point)].spec : nullptr;
}

// Line of the rule that decided the module config of `module`.
int DecidingLine(const Plan& plan, const std::string& module) {
  auto id = plan.model->ModuleIdOf(module);
  REQUIRE(id.has_value());
  const SourceRange& r = plan.modules[static_cast<size_t>(*id)].origin.where;
  return r.valid() ? static_cast<int>(r.source->Locate(r.begin).line) : 0;
}

// A model: inner (Sequential) holding linear1, linear2; each linear has a weight and bias.
const char* kNested = R"(
module "" : "my.Net"
module "inner_model" : "torch.nn.modules.container.Sequential"
module "inner_model.linear1" : "torch.nn.modules.linear.Linear"
module "inner_model.linear2" : "torch.nn.modules.linear.Linear"
module "head" : "torch.nn.modules.linear.Linear"
input x : float32[2, 4]
state "inner_model.linear1.weight" : float32[4, 4]
state "inner_model.linear1.bias" : float32[4]
state "inner_model.linear2.weight" : float32[4, 4]
state "inner_model.linear2.bias" : float32[4]
state "head.weight" : float32[4, 4]
op linear "linear" in "inner_model.linear1" (x, "inner_model.linear1.weight", "inner_model.linear1.bias") -> a : float32[2, 4]
op linear "linear_1" in "inner_model.linear2" (a, "inner_model.linear2.weight", "inner_model.linear2.bias") -> b : float32[2, 4]
op linear "linear_2" in "head" (b, "head.weight") -> y : float32[2, 4]
output y
)";

}  // namespace

TEST_CASE("§b.1: the later module_name entry wins even over a more specific earlier one", "[plan]") {
  auto model = ModelOf(kNested);
  // {"inner_model.linear2": A, "inner_model": B} => inner_model.linear2 gets B (line 3).
  auto plan = MustPlan("module_name \"inner_model.linear2\": none\nmodule_name \"inner_model\" { op_input: none }\n", model);
  CHECK(DecidingLine(*plan, "inner_model.linear2") == 3);
  CHECK(DecidingLine(*plan, "inner_model") == 3);
  // B disables op inputs but keeps default outputs and weights; A (disable everything) lost.
  CHECK(T(*plan, "linear_1", TensorRole::kState, "weight").point >= 0);
  // Reversed order: the child entry is listed later and wins for itself only.
  auto plan2 = MustPlan("module_name \"inner_model\" { op_input: none }\nmodule_name \"inner_model.linear2\": none\n", model);
  CHECK(DecidingLine(*plan2, "inner_model.linear2") == 3);
  CHECK(DecidingLine(*plan2, "inner_model.linear1") == 2);
  CHECK(T(*plan2, "linear_1", TensorRole::kState, "weight").point < 0);
}

TEST_CASE("§b.1: type configs propagate to the subtree, and order decides", "[plan]") {
  auto model = ModelOf(kNested);
  const std::string linear_a = "module_type \"torch.nn.modules.linear.Linear\" { op_state { weight: { dtype: int4, granularity: per_channel } } }\n";
  const std::string seq_b = "module_type \"torch.nn.modules.container.Sequential\" { op_state: none }\n";
  // {Linear: A, Sequential: B}: the Linear inside the Sequential gets B (inherited).
  auto plan = MustPlan(linear_a + seq_b, model);
  CHECK(DecidingLine(*plan, "inner_model.linear1") == 3);
  CHECK(T(*plan, "linear", TensorRole::kState, "weight").point < 0);
  // head is a Linear outside the Sequential: A.
  CHECK(DecidingLine(*plan, "head") == 2);
  CHECK(SpecOf(*plan, T(*plan, "linear_2", TensorRole::kState, "weight"))->dtype == Dtype::kInt4);
  // Reversed: inner Linears get A.
  auto plan2 = MustPlan(seq_b + linear_a, model);
  CHECK(DecidingLine(*plan2, "inner_model.linear1") == 3);
  CHECK(SpecOf(*plan2, T(*plan2, "linear", TensorRole::kState, "weight"))->dtype == Dtype::kInt4);
  CHECK(DecidingLine(*plan2, "inner_model") == 2);
}

TEST_CASE("§b.1: a NAME match on an ancestor beats a TYPE match on a descendant", "[plan]") {
  auto model = ModelOf(kNested);
  auto plan = MustPlan(
      "module_type \"torch.nn.modules.linear.Linear\": none\nmodule_name \"inner_model\" { op_input: none }\n", model);
  CHECK(DecidingLine(*plan, "inner_model.linear1") == 3);
  CHECK(DecidingLine(*plan, "head") == 2);
  auto id = model->ModuleIdOf("inner_model.linear1");
  CHECK(plan->modules[static_cast<size_t>(*id)].level == ModuleLevel::kName);
}

TEST_CASE("§a.9: module_name regexes are full matches, and '.' matches any character", "[plan]") {
  auto model = ModelOf(kNested);
  // /inner_model.linear./ matches both linears (and would match inner_modelXlinearY).
  auto plan = MustPlan("module_name /inner_model.linear./: none\n", model);
  CHECK(DecidingLine(*plan, "inner_model.linear1") == 2);
  CHECK(DecidingLine(*plan, "inner_model.linear2") == 2);
  CHECK(DecidingLine(*plan, "inner_model") == 0);  // global, absent: no line
  // /inner/ is a full match: it matches nothing.
  PlanResult p = PlanOf("module_name /inner/: none\n", model);
  REQUIRE(p.ok());
  REQUIRE(p.diagnostics.size() == 1);
  CHECK(p.diagnostics[0].code == DiagCode::kUnmatchedRule);
}

TEST_CASE("§b.3: op_name beats op_type beats defaults, and a selected op config is used as a whole", "[plan]") {
  auto model = ModelOf(kNested);
  auto plan = MustPlan(R"(global {
  op_input: none
  op_state: none
  op_type linear { op_output: none }
  op_name "linear_2" { op_input: none, op_output: none }
}
)", model);
  // linear (op_type entry): omitted op_input and op_state are the class defaults, not the
  // module's `none`: input 0 quantized with the default activation spec, weight with the default
  // weight spec; output disabled.
  const TensorPlan& in = T(*plan, "linear", TensorRole::kInput, "0");
  REQUIRE(in.point >= 0);
  CHECK(SpecOf(*plan, in)->SameNumerics(DefaultActivationSpec()));
  const TensorPlan& w = T(*plan, "linear", TensorRole::kState, "weight");
  REQUIRE(w.point >= 0);
  CHECK(SpecOf(*plan, w)->granularity.axis == 0);
  CHECK(T(*plan, "linear", TensorRole::kState, "bias").point < 0);  // only `weight` by default
  CHECK(T(*plan, "linear", TensorRole::kOutput, "0").reason == Reason::kDisabled);
  // linear_2 (op_name): inputs disabled, weight default.
  const OpPlan* op2 = plan->FindOp("linear_2");
  CHECK(op2->op_level == OpLevel::kOpName);
  REQUIRE(op2->also_matched.size() == 1);  // the op_type entry lost
  CHECK(T(*plan, "linear_2", TensorRole::kState, "weight").point >= 0);
}

TEST_CASE("§b.6: one fake-quant per edge, and the first-annotated side decides", "[plan]") {
  auto model = ModelOf(kNested);
  // Default W8A8: linear's output FQ is reused by linear_1's input: one point on edge a.
  auto plan = MustPlan("", model);
  const TensorPlan& out = T(*plan, "linear", TensorRole::kOutput, "0");
  const TensorPlan& in = T(*plan, "linear_1", TensorRole::kInput, "0");
  REQUIRE(out.point >= 0);
  CHECK(in.point == out.point);
  // Points: x, a, b, y (activations) + three weights.
  CHECK(plan->points.size() == 7);
  // A NAME-level consumer annotated first puts its input spec on the edge; the producer (global)
  // adopts it instead of adding a second fake-quant.
  auto plan2 = MustPlan("module_name \"inner_model.linear2\" { op_input { 0: { dtype: uint8, qscheme: asymmetric } } }\n", model);
  const TensorPlan& out2 = T(*plan2, "linear", TensorRole::kOutput, "0");
  const TensorPlan& in2 = T(*plan2, "linear_1", TensorRole::kInput, "0");
  REQUIRE(out2.point >= 0);
  CHECK(in2.point == out2.point);
  CHECK(SpecOf(*plan2, out2)->dtype == Dtype::kUint8);
  CHECK(out2.reason == Reason::kSharedEdge);
  // The consumer's own `none` does not remove a fake-quant the producer put on the edge.
  auto plan3 = MustPlan("module_type \"torch.nn.modules.container.Sequential\" { op_input: none }\n", model);
  CHECK(T(*plan3, "linear_1", TensorRole::kInput, "0").point >= 0);
  CHECK(T(*plan3, "linear", TensorRole::kInput, "0").point < 0);
}

// conv -> relu -> maxpool -> flatten -> linear, plus an unregistered softmax.
const char* kCnn = R"(
module "" : "my.Cnn"
module "conv" : "torch.nn.modules.conv.Conv2d"
module "fc" : "torch.nn.modules.linear.Linear"
input x : float32[1, 1, 4, 4]
state "conv.weight" : float32[2, 1, 3, 3]
state "conv.bias" : float32[2]
state "fc.weight" : float32[8, 5]
op conv2d "conv2d" in "conv" (x, "conv.weight", "conv.bias") -> c : float32[1, 2, 2, 2]
op relu "relu" (c) -> r : float32[1, 2, 2, 2]
op max_pool2d "pool" (r) -> p : float32[1, 2, 1, 1]
op flatten "flat" (p) -> f : float32[1, 2]
op linear "fc" in "fc" weight_axes(1, 0) (f, "fc.weight") -> l : float32[1, 5]
op softmax "softmax" (l) -> y : float32[1, 5]
output y
)";

TEST_CASE("§b.5: fusion, shared observers, unregistered ops", "[plan]") {
  auto model = ModelOf(kCnn);
  auto plan = MustPlan("", model);
  const OpPlan* conv = plan->FindOp("conv2d");
  CHECK(conv->pattern == "conv_act");
  CHECK(plan->FindOp("relu")->fused_into == conv->op);
  // No fake-quant inside the pattern; the output after relu is quantized.
  CHECK(T(*plan, "conv2d", TensorRole::kOutput, "0").point < 0);
  CHECK(T(*plan, "conv2d", TensorRole::kOutput, "0").reason == Reason::kInsidePattern);
  int relu_out = T(*plan, "relu", TensorRole::kOutput, "0").point;
  REQUIRE(relu_out >= 0);
  // maxpool and flatten share the producer's fake-quant (shared observers).
  CHECK(T(*plan, "pool", TensorRole::kOutput, "0").point == relu_out);
  CHECK(T(*plan, "flat", TensorRole::kOutput, "0").point == relu_out);
  CHECK(T(*plan, "fc", TensorRole::kInput, "0").point == relu_out);
  // softmax is not registered: it adds nothing, but reads fc's quantized output.
  CHECK(T(*plan, "softmax", TensorRole::kOutput, "0").point < 0);
  CHECK(T(*plan, "softmax", TensorRole::kOutput, "0").reason == Reason::kNotRegistered);
  // §b.10 on the weight as stored: fc.weight is [in, out] (weight_axes(1, 0)) => axis 1.
  const TensorPlan& w = T(*plan, "fc", TensorRole::kState, "weight");
  CHECK(SpecOf(*plan, w)->granularity.axis == 1);
  CHECK(SpecOf(*plan, T(*plan, "conv2d", TensorRole::kState, "weight"))->granularity.axis == 0);
}

TEST_CASE("§b.5: an op type config on softmax is inert", "[plan]") {
  auto model = ModelOf(kCnn);
  CompileResult c = Compile(std::make_shared<const Source>("r.qrules", "qrules 1\nglobal { op_type max_pool2d: none }\n"));
  REQUIRE(c.ok());
  PlanResult p = Resolve(c.rules, model);
  REQUIRE(p.ok());
  CHECK(p.diagnostics.empty());
  // max_pool2d disabled: it is annotated (shared observer) with no specs, so its output is float
  // but its input still carries relu's fake-quant.
  CHECK(T(*p.plan, "pool", TensorRole::kOutput, "0").point < 0);
  CHECK(T(*p.plan, "pool", TensorRole::kInput, "0").point >= 0);
}

TEST_CASE("§b.5: a fused pattern does not cross a branch", "[plan]") {
  auto model = ModelOf(R"(
input x : float32[2, 4]
state "lin.weight" : float32[4, 4]
op linear "linear" in "lin" (x, "lin.weight") -> a : float32[2, 4]
op relu "relu" (a) -> r : float32[2, 4]
op add "add" (a, r) -> y : float32[2, 4]
output y
)");
  auto plan = MustPlan("", model);
  CHECK(plan->FindOp("linear")->pattern == "linear");
  CHECK(T(*plan, "linear", TensorRole::kOutput, "0").point >= 0);
  CHECK(T(*plan, "relu", TensorRole::kOutput, "0").point < 0);  // a standalone relu is not registered
}

TEST_CASE("§b.7: module-level specs override op-level decisions", "[plan]") {
  auto model = ModelOf(kNested);
  auto plan = MustPlan(R"(module_name "inner_model" {
  module_input { 0: { dtype: int4 } }
  module_output { *: none }
  module_state { *: none }
}
)", model);
  // The tensor entering inner_model is x, consumed by linear: int4 now.
  CHECK(SpecOf(*plan, T(*plan, "linear", TensorRole::kInput, "0"))->dtype == Dtype::kInt4);
  // b leaves inner_model: its producer's output spec is disabled.
  CHECK(T(*plan, "linear_1", TensorRole::kOutput, "0").point < 0);
  // module_state: only the module's own states (inner_model owns none), so weights stay quantized.
  CHECK(T(*plan, "linear_1", TensorRole::kState, "weight").point >= 0);
}

TEST_CASE("Part 1 #6: a block size that does not divide the dimension leaves the tensor float", "[plan]") {
  auto model = ModelOf(kNested);
  PlanResult p = PlanOf("global { op_state { weight: { dtype: int4, granularity: per_block(block_size: 3) } } }\n", model);
  REQUIRE(p.ok());
  REQUIRE_FALSE(p.diagnostics.empty());
  CHECK(p.diagnostics[0].code == DiagCode::kBlockSizeMismatch);
  CHECK(T(*p.plan, "linear", TensorRole::kState, "weight").reason == Reason::kBlockSizeMismatch);
  // Block 2 divides the input channels (axis 1 by default for linear): quantized.
  auto ok = MustPlan("global { op_state { weight: { dtype: int4, granularity: per_block(block_size: 2) } } }\n", model);
  CHECK(SpecOf(*ok, T(*ok, "linear", TensorRole::kState, "weight"))->granularity.axis == 1);
}

TEST_CASE("§b.10: activations with an open axis are errors", "[plan]") {
  auto model = ModelOf(kNested);
  PlanResult p = PlanOf("global { op_input { *: { granularity: per_channel } } }\n", model);
  CHECK_FALSE(p.ok());
  REQUIRE_FALSE(p.diagnostics.empty());
  CHECK(p.diagnostics[0].code == DiagCode::kUnresolvedAxis);
}

TEST_CASE("expectations and model-aware lints", "[plan]") {
  auto model = ModelOf(kNested);
  PlanResult p = PlanOf("module_name /inner_model\\.linear\\d/ expect 3: none\n"
                        "module_type \"torch.nn.modules.conv.Conv2d\": none\n"
                        "global { op_name \"linaer\": none }\n",
                        model);
  CHECK_FALSE(p.ok());
  std::vector<DiagCode> codes;
  for (const auto& d : p.diagnostics) codes.push_back(d.code);
  CHECK(std::count(codes.begin(), codes.end(), DiagCode::kExpectationFailed) == 1);
  CHECK(std::count(codes.begin(), codes.end(), DiagCode::kUnmatchedRule) == 2);
  for (const auto& d : p.diagnostics) {
    if (d.code == DiagCode::kUnmatchedRule && d.message.find("op_name") != std::string::npos) {
      CHECK(d.suggestions == std::vector<std::string>{"linear"});
    }
    if (d.code == DiagCode::kExpectationFailed) {
      CHECK(d.message == "module_name /inner_model\\.linear\\d/ matches 2 times, expected == 3");
    }
  }
}

TEST_CASE("plans are deterministic", "[plan]") {
  auto model = ModelOf(kCnn);
  auto a = MustPlan("global { op_type linear { op_state { weight: { dtype: int4 } } } }\n", model);
  auto b = MustPlan("global { op_type linear { op_state { weight: { dtype: int4 } } } }\n", model);
  CHECK(RenderPlanJson(*a) == RenderPlanJson(*b));
  CHECK(RenderPlanText(*a) == RenderPlanText(*b));
}
