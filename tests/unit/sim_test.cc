// The fake-quant simulator against an independent computation: a linear layer quantized by hand
// in the test (scalar float32 code written from grammar/SEMANTICS.md §c, not the library's kernels).
#include <catch2/catch.hpp>

#include <cmath>

#include "qrules/compile.h"
#include "qrules/npy.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "qrules/simulate.h"

using namespace qrules;

namespace {

// §c.8 integer ZP fake quantization, symmetric (zero point 0), one scale.
float FqSym(float x, float scale, int qmin, int qmax) {
  float r = std::nearbyint(x / scale);  // round half to even (default rounding mode)
  r = std::min(std::max(r, static_cast<float>(qmin)), static_cast<float>(qmax));
  return r * scale;
}

double Sqnr(const std::vector<float>& ref, const std::vector<float>& q) {
  double s = 0, n = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    s += static_cast<double>(ref[i]) * ref[i];
    double d = static_cast<double>(ref[i]) - q[i];
    n += d * d;
  }
  return 10 * std::log10(s / n);
}

std::shared_ptr<const Plan> PlanFor(const std::string& rules, const std::string& model_text) {
  ModelResult m = ParseModelText(std::make_shared<const Source>("m.qir", model_text));
  INFO(RenderText(m.diagnostics));
  REQUIRE(m.ok());
  CompileResult c = Compile(std::make_shared<const Source>("r.qrules", rules));
  INFO(RenderText(c.diagnostics));
  REQUIRE(c.ok());
  PlanResult p = Resolve(c.rules, m.model);
  INFO(RenderText(p.diagnostics));
  REQUIRE(p.ok());
  return p.plan;
}

const char* kLinear = R"(qrules-ir 1
module "fc" : "torch.nn.modules.linear.Linear"
input x : float32[N, 2]
state "fc.weight" : float32[2, 2] = [0.5, -0.3, 0.2, 0.9]
op linear "fc" in "fc" (x, "fc.weight") -> y : float32[N, 2]
output y
)";

// Fixed activation ranges (float_range [-2, 2]: scale 2/127.5 whatever the data) and a
// per-tensor weight, so that every scale is known in advance.
const char* kRules = R"(qrules 1
spec act { dtype: int8, float_range: [-2, 2] }
spec w { dtype: int8, granularity: per_tensor, qparams: static }
global {
  op_input { *: act }
  op_output { *: act }
  op_state { weight: w }
}
)";

}  // namespace

TEST_CASE("the report's figures match a hand-quantized linear layer", "[sim]") {
  auto plan = PlanFor(kRules, kLinear);
  REQUIRE(plan->points.size() == 3);  // x, y, weight
  SimulatorResult s = Simulator::Create(plan);
  INFO(RenderText(s.diagnostics));
  REQUIRE(s.ok());
  std::vector<float> x = {0.3f, -0.7f, 1.1f, 0.05f, -1.9f, 0.6f, 0.01f, -0.02f};
  Tensor input = Tensor::Float({4, 2}, x);
  std::vector<Tensor> inputs{input};
  REQUIRE_FALSE(HasErrors(s.simulator->Calibrate(inputs, 2)));
  SimReportResult r = s.simulator->Evaluate(inputs, nullptr, 2);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());

  // By hand: activation scale = max(2, 2) / 127.5; weight scale = max|w| / 127.5 = 0.9 / 127.5.
  const float act_scale = 2.0f / 127.5f;
  const float w_scale = 0.9f / 127.5f;
  const float w[4] = {0.5f, -0.3f, 0.2f, 0.9f};
  float wq[4];
  for (int i = 0; i < 4; ++i) wq[i] = FqSym(w[i], w_scale, -128, 127);
  std::vector<float> y_float, y_quant, xq;
  for (int n = 0; n < 4; ++n) {
    float x0 = x[2 * n], x1 = x[2 * n + 1];
    float q0 = FqSym(x0, act_scale, -128, 127), q1 = FqSym(x1, act_scale, -128, 127);
    xq.push_back(q0);
    xq.push_back(q1);
    for (int o = 0; o < 2; ++o) {
      y_float.push_back(x0 * w[2 * o] + x1 * w[2 * o + 1]);
      y_quant.push_back(FqSym(q0 * wq[2 * o] + q1 * wq[2 * o + 1], act_scale, -128, 127));
    }
  }
  const SimReport& rep = *r.report;
  REQUIRE(rep.quantized_outputs.size() == 1);
  for (size_t i = 0; i < y_quant.size(); ++i) CHECK(rep.quantized_outputs[0].f32[i] == Approx(y_quant[i]).margin(1e-6));
  REQUIRE(rep.outputs.size() == 1);
  CHECK(rep.outputs[0].sqnr_db == Approx(Sqnr(y_float, y_quant)).epsilon(1e-6));
  // Per point: the input's local SQNR is x against its fake-quantized value.
  bool found_input = false;
  for (const PointReport& p : rep.points) {
    if (p.tensor == "x") {
      found_input = true;
      CHECK(p.sqnr_db == Approx(Sqnr(x, xq)).epsilon(1e-6));
      CHECK(p.source == "r.qrules:5");
    }
  }
  CHECK(found_input);
  // Most damaging first.
  for (size_t i = 1; i < rep.points.size(); ++i) CHECK(rep.points[i - 1].sqnr_db <= rep.points[i].sqnr_db);
}

TEST_CASE("calibration sets moving-average ranges, and evaluation freezes them (§d)", "[sim]") {
  // Moving average activations: after calibrating on a batch with max 1 then a batch with max 3,
  // the running max is 0.01 * 3 + 0.99 * 1 = 1.02 (§c.7) and the scale 1.02 / 127.5.
  auto plan = PlanFor("qrules 1\nglobal { op_input { *: { dtype: int8 } }, op_output: none, op_state: none }\n",
                      "qrules-ir 1\ninput x : float32[N, 1]\nstate \"fc.weight\" : float32[1, 1] = [1]\n"
                      "op linear \"fc\" in \"fc\" (x, \"fc.weight\") -> y : float32[N, 1]\noutput y\n");
  SimulatorResult s = Simulator::Create(plan);
  REQUIRE(s.ok());
  std::vector<Tensor> calib{Tensor::Float({4, 1}, {1.0f, -0.5f, 3.0f, 0.25f})};
  REQUIRE_FALSE(HasErrors(s.simulator->Calibrate(calib, 2)));  // two batches: max 1, then max 3
  const float running_max = 0.01f * 3.0f + 0.99f * 1.0f;
  const float scale = running_max / 127.5f;
  // A probe of 2 lies above the frozen range: it clamps to 127 steps of the calibrated scale.  Had
  // evaluation updated the observer, the running max would be 0.01 * 2 + 0.99 * 1.02 = 1.0298 and
  // the output 127 * 1.0298 / 127.5, 1% higher.
  std::vector<Tensor> probe{Tensor::Float({1, 1}, {2.0f})};
  SimReportResult r = s.simulator->Evaluate(probe, nullptr, 1);
  REQUIRE(r.ok());
  CHECK(r.report->quantized_outputs[0].f32[0] == Approx(127 * scale).epsilon(1e-6));
  // A second evaluation sees the same frozen range.
  SimReportResult again = s.simulator->Evaluate(probe, nullptr, 1);
  REQUIRE(again.ok());
  CHECK(again.report->quantized_outputs[0].f32[0] == r.report->quantized_outputs[0].f32[0]);
}

TEST_CASE("QAT schedule state per point at a given step (§d)", "[sim]") {
  auto plan = PlanFor(R"(qrules 1
global { qat_schedule { enable_observer: 1, enable_fake_quant: 2, disable_observer: 5 } }
)", kLinear);
  SimulatorResult s = Simulator::Create(plan);
  REQUIRE(s.ok());
  int act = -1;
  for (const auto& p : plan->points) {
    if (!p.is_state) act = p.id;
  }
  REQUIRE(act >= 0);
  const bool expect[][2] = {{false, false}, {true, false}, {true, true}, {true, true}, {true, true}, {false, true}};
  for (int step = 0; step < 6; ++step) {
    s.simulator->SetQatStep(step);
    INFO("step " << step);
    CHECK(s.simulator->observer_enabled(act) == expect[step][0]);
    CHECK(s.simulator->fake_quant_enabled(act) == expect[step][1]);
  }
}

TEST_CASE("the shared CNN keeps its accuracy under W8A8", "[sim][models]") {
  ImportOptions o;
  o.module_map_path = std::string(QRULES_TEST_DATA_DIR) + "/models/fmnist_cnn.modules.json";
  ModelResult m = ImportOnnxFile(std::string(QRULES_TEST_DATA_DIR) + "/models/fmnist_cnn.onnx", o);
  REQUIRE(m.ok());
  CompileResult c = CompileFile(std::string(QRULES_SOURCE_DIR) + "/rules/w8a8.qrules");
  REQUIRE(c.ok());
  PlanResult p = Resolve(c.rules, m.model);
  REQUIRE(p.ok());
  SimulatorResult s = Simulator::Create(p.plan);
  REQUIRE(s.ok());
  NpyResult x = ReadNpyFile(std::string(QRULES_TEST_DATA_DIR) + "/models/fmnist_test1000_input.npy");
  NpyResult y = ReadNpyFile(std::string(QRULES_TEST_DATA_DIR) + "/models/fmnist_test1000_labels.npy");
  REQUIRE((x.ok() && y.ok()));
  std::vector<Tensor> inputs{*x.tensor};
  REQUIRE_FALSE(HasErrors(s.simulator->Calibrate(inputs, 100, 2)));
  SimReportResult r = s.simulator->Evaluate(inputs, &*y.tensor, 100);
  REQUIRE(r.ok());
  // models/README.md: float top-1 is 92.6% on these 1000 images.
  REQUIRE(r.report->float_accuracy.has_value());
  CHECK(*r.report->float_accuracy == Approx(0.926).margin(1e-9));
  // W8A8 on a small CNN should cost at most a point of accuracy, with most predictions unchanged.
  CHECK(*r.report->quantized_accuracy >= 0.916);
  CHECK(*r.report->outputs[0].top1_agreement >= 0.97);
  CHECK(r.report->outputs[0].sqnr_db > 20.0);
  CHECK(r.report->points.size() == p.plan->points.size());
}

// A producer that quantizes its output, read by two modules: "u" inherits the producer's
// fake-quant, "v" overrides its input with `module_input { 0: none }` and must read the float
// value (plan: input point -1).  Identity weights (not quantized) pass values through exactly, so
// each output shows what its op read.
const char* kForked = R"(qrules-ir 1
module "p" : "P"
module "u" : "U"
module "v" : "V"
input x : float32[N, 4]
state "p.weight" : float32[4, 4] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
state "u.weight" : float32[4, 4] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
state "v.weight" : float32[4, 4] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
op linear "p.fc" in "p" (x, "p.weight") -> h : float32[N, 4]
op linear "u.fc" in "u" (h, "u.weight") -> yu : float32[N, 4]
op linear "v.fc" in "v" (h, "v.weight") -> yv : float32[N, 4]
output yu
output yv
)";

std::string ForkedRules(const std::string& act) {
  return "qrules 1\nspec act " + act +
         "\nglobal: none\n"
         "module_name \"p\" { op_input: none, op_state: none, op_output { *: act } }\n"
         "module_name \"u\" { op_input: none, op_state: none, op_output: none }\n"
         "module_name \"v\" { op_input: none, op_state: none, op_output: none, module_input { 0: none } }\n";
}

TEST_CASE("module_input none reads the float value of an edge its producer quantizes", "[sim]") {
  auto plan = PlanFor(ForkedRules("{ dtype: int8, float_range: [-2, 2] }"), kForked);
  SimulatorResult s = Simulator::Create(plan);
  INFO(RenderText(s.diagnostics));
  REQUIRE(s.ok());
  const std::vector<float> x = {0.3f, 0.71f, 1.1f, 0.05f, 1.9f, 0.6f, 0.013f, 1.234f};
  std::vector<Tensor> inputs{Tensor::Float({2, 4}, x)};
  REQUIRE_FALSE(HasErrors(s.simulator->Calibrate(inputs, 2)));
  SimReportResult r = s.simulator->Evaluate(inputs, nullptr, 2);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  REQUIRE(r.report->quantized_outputs.size() == 2);
  const float act_scale = 2.0f / 127.5f;
  int differs = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("element " << i);
    CHECK(r.report->quantized_outputs[0].f32[i] == FqSym(x[i], act_scale, -128, 127));  // u
    CHECK(r.report->quantized_outputs[1].f32[i] == x[i]);                                // v
    differs += FqSym(x[i], act_scale, -128, 127) != x[i] ? 1 : 0;
  }
  CHECK(differs > 0);  // the data does show the difference
}

TEST_CASE("a split edge's observer sees each batch once", "[sim]") {
  // Moving average (§c.7): batches with max 1 then 3 give 0.01 * 3 + 0.99 * 1 = 1.02; observing
  // each batch twice (once per reader) would give 1.0398 and a different scale.
  auto plan = PlanFor(ForkedRules("{ dtype: int8 }"), kForked);
  SimulatorResult s = Simulator::Create(plan);
  REQUIRE(s.ok());
  std::vector<Tensor> calib{Tensor::Float({2, 4}, {1.0f, 0.5f, 0.25f, 0.0f, 3.0f, 2.0f, 1.0f, 0.5f})};
  REQUIRE_FALSE(HasErrors(s.simulator->Calibrate(calib, 1)));
  const float running_max = 0.01f * 3.0f + 0.99f * 1.0f;
  const float scale = running_max / 127.5f;
  // 2.5 lies above the range (clamps to 127 steps), so an observer still updating would show.
  std::vector<Tensor> probe{Tensor::Float({1, 4}, {2.5f, 0.5f, 0.0f, 0.77f})};
  SimReportResult r = s.simulator->Evaluate(probe, nullptr, 1);
  REQUIRE(r.ok());
  CHECK(r.report->quantized_outputs[0].f32[0] == Approx(127 * scale).epsilon(1e-6));
  CHECK(r.report->quantized_outputs[0].f32[3] == Approx(std::nearbyint(0.77f / scale) * scale).epsilon(1e-6));
  CHECK(r.report->quantized_outputs[1].f32[3] == 0.77f);
}

TEST_CASE("W8A8 on a PyTorch export whose Resize scales are computed", "[sim][models]") {
  // zoo_vision builds a Resize's scales with Concat (a registered op) from constants: a float
  // tensor that is not an activation.  Fake-quantizing it changed the resized shape; the plan
  // now leaves every tensor computed from constants and shapes alone (reason `constant`).
  const std::string dir = std::string(QRULES_TEST_DATA_DIR) + "/models/";
  ImportOptions o;
  o.module_map_path = dir + "zoo_vision.modules.json";
  ImportResult m = ImportOnnxFile(dir + "zoo_vision.onnx", o);
  REQUIRE(m.ok());
  CompileResult c = CompileFile(std::string(QRULES_SOURCE_DIR) + "/rules/w8a8.qrules");
  INFO(RenderText(c.diagnostics));
  REQUIRE(c.ok());
  PlanResult p = Resolve(c.rules, m.model);
  INFO(RenderText(p.diagnostics));
  REQUIRE(p.ok());
  int resizes = 0;
  for (const OpPlan& op : p.plan->ops) {
    const Op& o2 = m.model->op(op.op);
    if (o2.type != "upsample") continue;
    ++resizes;
    for (const TensorPlan& tp : op.tensors) {
      if (tp.role != TensorRole::kInput || tp.tensor == o2.inputs[0]) continue;
      INFO("Resize input " << m.model->tensor(tp.tensor).name);
      CHECK(tp.point < 0);
      if (m.model->tensor(tp.tensor).is_float()) CHECK(tp.reason == Reason::kConstant);
    }
  }
  CHECK(resizes == 2);
  SimulatorResult s = Simulator::Create(p.plan);
  REQUIRE(s.ok());
  NpyResult x = ReadNpyFile(dir + "zoo_vision.input0.npy");
  REQUIRE(x.ok());
  std::vector<Tensor> inputs{*x.tensor};
  REQUIRE_FALSE(HasErrors(s.simulator->Calibrate(inputs, 1)));
  SimReportResult r = s.simulator->Evaluate(inputs, nullptr, 2);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  CHECK(r.report->quantized_outputs[0].shape == std::vector<int64_t>{2, 5});
}
