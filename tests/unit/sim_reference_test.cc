// The fake-quantized simulator against an independent PyTorch reference
// (tests/data/sim_reference, written by tools/make_sim_reference.py; its README says how): a small
// CNN with per-channel (axis 0), per-channel on a transposed MatMul weight, per-tensor and
// per-block int4 weights and int8 activations, calibrated on calib.npy with float weights (§d).
// The generator keeps every value at least 0.002 steps from a rounding boundary, so PyTorch's
// multiply-by-reciprocal and our division agree: weight scales bit for bit, activation scales to
// float32 summation noise, outputs to 1e-5 with no element a whole output step off.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "qrules/compile.h"
#include "qrules/npy.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "qrules/simulate.h"
#include "test_util.h"

namespace qrules {
namespace {

const std::string kDir = std::string(QRULES_TEST_DATA_DIR) + "/sim_reference/";

Tensor Npy(const std::string& name) {
  NpyResult r = ReadNpyFile(kDir + name);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return *r.tensor;
}

float FromBits(const std::string& hex) {
  uint32_t bits = static_cast<uint32_t>(std::stoul(hex, nullptr, 16));
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

TEST_CASE("the simulator reproduces PyTorch's fake quantization of a small CNN", "[sim][reference]") {
  CompileResult rules = CompileFile(kDir + "rules.qrules");
  INFO(RenderText(rules.diagnostics));
  REQUIRE(rules.ok());
  ImportResult model = ImportOnnxFile(kDir + "model.onnx");
  REQUIRE(model.ok());
  PlanResult plan = Resolve(rules.rules, model.model);
  INFO(RenderText(plan.diagnostics));
  REQUIRE(plan.ok());
  SimulatorResult s = Simulator::Create(plan.plan);
  INFO(RenderText(s.diagnostics));
  REQUIRE(s.ok());
  std::vector<Tensor> calib{Npy("calib.npy")};
  REQUIRE_FALSE(HasErrors(s.simulator->Calibrate(calib, 16)));
  std::vector<Tensor> input{Npy("input.npy")};
  SimReportResult r = s.simulator->Evaluate(input, nullptr, 16);
  REQUIRE(r.ok());

  const nlohmann::json points = nlohmann::json::parse(testing::ReadText(kDir + "points.json"));
  // Every point of the reference is a point of the plan, with the reference's qparams.
  REQUIRE(points["points"].size() == plan.plan->points.size());
  for (const auto& ref : points["points"]) {
    const std::string tensor = ref["tensor"];
    INFO("point on " << tensor);
    const FakeQuantPoint* point = nullptr;
    for (const FakeQuantPoint& p : plan.plan->points) {
      if (model.model->tensor(p.tensor).name == tensor) point = &p;
    }
    REQUIRE(point != nullptr);
    CHECK(point->is_state == (ref["kind"] == "weight"));
    const QParams& qp = s.simulator->qparams(point->id);
    REQUIRE(qp.scale.size() == ref["scale"].size());
    REQUIRE(qp.zero_point.size() == ref["zero_point"].size());
    for (size_t i = 0; i < qp.scale.size(); ++i) {
      const float expected = FromBits(ref["scale_bits"][i]);
      if (point->is_state) {
        CHECK(qp.scale[i] == expected);
      } else {
        CHECK(qp.scale[i] == Approx(expected).epsilon(1e-6));
      }
      CHECK(qp.zero_point[i] == ref["zero_point"][i].get<int32_t>());
    }
  }

  const Tensor expected = Npy("expected.npy");
  const Tensor expected_float = Npy("float.npy");
  const Tensor& got = r.report->quantized_outputs.at(0);
  REQUIRE(got.shape == expected.shape);
  const float step = points["points"][4]["scale"][0].get<float>();  // the logits' point
  REQUIRE(points["points"][4]["tensor"] == "output");
  double worst = 0;
  for (size_t i = 0; i < got.f32.size(); ++i) worst = std::max(worst, double(std::abs(got.f32[i] - expected.f32[i])));
  INFO("largest difference " << worst << ", output step " << step);
  CHECK(worst <= 1e-5);
  CHECK(worst < 0.5 * step);
  // The float run matches PyTorch's float output too.
  RunResult f = s.simulator->RunFloat(input, 16);
  REQUIRE(f.ok());
  for (size_t i = 0; i < f.outputs[0].f32.size(); ++i) CHECK(f.outputs[0].f32[i] == Approx(expected_float.f32[i]).margin(1e-5));
}

}  // namespace
}  // namespace qrules
