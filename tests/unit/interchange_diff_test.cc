// Plan lockfile diffs (include/qrules/plan_diff.h).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "qrules/compile.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "qrules/plan_diff.h"

using namespace qrules;

namespace {

std::string PlanJson(const std::string& rules_text, const std::string& rules_name) {
  ImportOptions o;
  o.module_map_path = std::string(QRULES_TEST_DATA_DIR) + "/models/fmnist_mlp.modules.json";
  ModelResult m = ImportOnnxFile(std::string(QRULES_TEST_DATA_DIR) + "/models/fmnist_mlp.onnx", o);
  REQUIRE(m.ok());
  CompileResult c = Compile(std::make_shared<const Source>(rules_name, rules_text));
  INFO(RenderText(c.diagnostics));
  REQUIRE(c.ok());
  PlanResult p = Resolve(c.rules, m.model);
  REQUIRE(p.ok());
  return RenderPlanJson(*p.plan);
}

PlanDiffResult Diff(const std::string& a, const std::string& b) {
  return DiffPlanJson(Source("old.json", a), Source("new.json", b));
}

const std::string kW8A8 = "qrules 1\n";
const std::string kW4 =
    "qrules 1\n\nglobal {\n  op_type linear {\n    op_state { weight: { dtype: int4, granularity: per_channel } }\n  }\n}\n";

}  // namespace

TEST_CASE("identical plans: no changes", "[interchange][diff]") {
  std::string a = PlanJson(kW8A8, "a.qrules");
  PlanDiffResult d = Diff(a, a);
  REQUIRE(d.ok());
  CHECK(d.diff.empty());
  CHECK(RenderPlanDiff(d.diff) == "no changes\n");
}

TEST_CASE("a changed spec and a changed deciding rule are both reported", "[interchange][diff]") {
  std::string a = PlanJson(kW8A8, "a.qrules");
  std::string b = PlanJson(kW4, "a.qrules");
  PlanDiffResult d = Diff(a, b);
  REQUIRE(d.ok());
  // Each linear's weight changed spec; the activations around the linears keep their spec but are
  // now decided by the op_type entry (a.qrules:4, its op_input default at :3 for the graph input)
  // instead of the absent global.
  CHECK(RenderPlanDiff(d.diff) ==
        "~ /flatten/Flatten input 0 'input': int8 symmetric per_tensor moving_average [(none) -> a.qrules:3]\n"
        "~ /flatten/Flatten output 0 '/flatten/Flatten_output_0': int8 symmetric per_tensor moving_average "
        "[(none) -> a.qrules:4]\n"
        "~ /fc1/Gemm input 0 '/flatten/Flatten_output_0': int8 symmetric per_tensor moving_average [(none) -> a.qrules:4]\n"
        "~ /fc1/Gemm state weight 'fc1.weight': int8 symmetric per_channel(axis=0) static -> int4 symmetric "
        "per_channel(axis=0) static [(none) -> a.qrules:5]\n"
        "~ /relu1/Relu output 0 '/relu1/Relu_output_0': int8 symmetric per_tensor moving_average [(none) -> a.qrules:4]\n"
        "~ /fc2/Gemm input 0 '/relu1/Relu_output_0': int8 symmetric per_tensor moving_average [(none) -> a.qrules:4]\n"
        "~ /fc2/Gemm state weight 'fc2.weight': int8 symmetric per_channel(axis=0) static -> int4 symmetric "
        "per_channel(axis=0) static [(none) -> a.qrules:5]\n"
        "~ /relu2/Relu output 0 '/relu2/Relu_output_0': int8 symmetric per_tensor moving_average [(none) -> a.qrules:4]\n"
        "~ /fc3/Gemm input 0 '/relu2/Relu_output_0': int8 symmetric per_tensor moving_average [(none) -> a.qrules:4]\n"
        "~ /fc3/Gemm state weight 'fc3.weight': int8 symmetric per_channel(axis=0) static -> int4 symmetric "
        "per_channel(axis=0) static [(none) -> a.qrules:5]\n"
        "~ /fc3/Gemm output 0 'logits': int8 symmetric per_tensor moving_average [(none) -> a.qrules:4]\n"
        "11 tensors changed\n");
  for (const auto& c : d.diff.changes) CHECK(c.kind == PlanChange::Kind::kTensorChanged);
  // The reverse diff has the same entries.
  CHECK(Diff(b, a).diff.changes.size() == 11);
}

TEST_CASE("added and removed ops and tensors", "[interchange][diff]") {
  nlohmann::ordered_json a = nlohmann::ordered_json::parse(PlanJson(kW8A8, "a.qrules"));
  nlohmann::ordered_json b = a;
  b["ops"].erase(b["ops"].begin());  // /flatten/Flatten removed
  nlohmann::ordered_json extra = b["ops"][0];
  extra["name"] = "/fc9/Gemm";
  b["ops"].push_back(extra);
  b["ops"][0]["tensors"].erase(b["ops"][0]["tensors"].begin() + 2);  // fc1's bias row removed
  PlanDiffResult d = Diff(a.dump(2), b.dump(2));
  REQUIRE(d.ok());
  std::string text = RenderPlanDiff(d.diff);
  CHECK(text ==
        "- /fc1/Gemm state bias 'fc1.bias': float [(none)]\n"
        "+ op /fc9/Gemm (linear): added\n"
        "- op /flatten/Flatten (flatten): removed\n"
        "1 tensor removed, 1 op added, 1 op removed\n");
}

TEST_CASE("a file that is not a plan is plan-invalid", "[interchange][diff]") {
  std::string a = PlanJson(kW8A8, "a.qrules");
  PlanDiffResult d = Diff(a, "{\n  \"ops\": [\n    {\"name\": 1,\n");
  REQUIRE_FALSE(d.ok());
  REQUIRE(d.diagnostics.size() == 1);
  CHECK(d.diagnostics[0].code == DiagCode::kPlanInvalid);
  CHECK(d.diagnostics[0].location.file == "new.json");
  CHECK(d.diagnostics[0].location.line == 4);
  d = Diff("[1, 2]", a);
  REQUIRE_FALSE(d.ok());
  CHECK(d.diagnostics[0].code == DiagCode::kPlanInvalid);
  CHECK(d.diagnostics[0].location.file == "old.json");
  d = Diff(a, "{\"ops\": [{\"name\": \"x\", \"tensors\": [{\"role\": \"input\", \"key\": 0}]}]}");
  REQUIRE_FALSE(d.ok());
  CHECK(d.diagnostics[0].message == "not a plan: a tensor needs a 'spec' (an object, or null for float) (at /ops/0/tensors/0)");
  PlanDiffResult missing = DiffPlanJsonFiles("/nonexistent/a.json", "/nonexistent/b.json");
  REQUIRE(missing.diagnostics.size() == 2);
  CHECK(missing.diagnostics[0].code == DiagCode::kIoError);
}
