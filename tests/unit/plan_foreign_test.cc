// Plans on exports from other toolchains (tests/data/foreign, made by make_foreign_models.py):
// Paddle2ONNX-style initializer names, tf2onnx-style names with a weight behind an Identity and a
// kernel behind a Transpose, weights from a Constant node, a DequantizeLinear and a Cast+Reshape
// chain, and a three-input model.  No module map.  The facts checked (which node reads which
// weight, in which layout) come from the generator's expected.json, not from qrules.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "qrules/compile.h"
#include "qrules/executor.h"
#include "qrules/npy.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "test_util.h"

namespace qrules {
namespace {

const std::string kDir = std::string(QRULES_TEST_DATA_DIR) + "/foreign/";
const std::vector<std::string> kModels = {"paddle_like", "tf_like", "constants", "multi_input"};

const nlohmann::json& Expected() {
  static const nlohmann::json j = nlohmann::json::parse(testing::ReadText(kDir + "expected.json"));
  return j["models"];
}

std::shared_ptr<const Model> Load(const std::string& name) {
  ImportResult r = ImportOnnxFile(kDir + name + ".onnx");
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return r.model;
}

std::shared_ptr<const Plan> PlanWith(const std::string& rules_file, const std::shared_ptr<const Model>& model,
                                     std::vector<Diagnostic>* diagnostics = nullptr) {
  CompileResult c = CompileFile(std::string(QRULES_SOURCE_DIR) + "/rules/" + rules_file);
  INFO(RenderText(c.diagnostics));
  REQUIRE(c.ok());
  PlanResult p = Resolve(c.rules, model);
  INFO(RenderText(p.diagnostics));
  REQUIRE(p.ok());
  if (diagnostics) *diagnostics = p.diagnostics;
  return p.plan;
}

// The plan entry of the weight that `node` reads (the op whose input is the tensor
// `weight_input`: after folding, the chain's last output).
struct WeightSlot {
  const OpPlan* op = nullptr;
  const TensorPlan* tensor = nullptr;
};
WeightSlot FindWeight(const Plan& plan, const std::string& weight_input) {
  const Model& m = *plan.model;
  const TensorInfo* t = m.FindTensor(weight_input);
  if (t == nullptr || t->consumers.empty()) return {};
  const TensorId id = *m.TensorIdOf(weight_input);
  const OpPlan& op = plan.ops[static_cast<size_t>(t->consumers.front())];
  for (const TensorPlan& tp : op.tensors) {
    if (tp.tensor == id) return {&op, &tp};
  }
  return {};
}

const QuantizationSpec* SpecOf(const Plan& plan, const TensorPlan& tp) {
  return tp.point >= 0 ? &plan.points[static_cast<size_t>(tp.point)].spec : nullptr;
}

int ActivationPoints(const Plan& plan) {
  int n = 0;
  for (const FakeQuantPoint& p : plan.points) n += !p.is_state;
  return n;
}

TEST_CASE("foreign exports: every constant conv/linear weight is a state the role 'weight' reaches",
          "[plan][foreign]") {
  for (const std::string& name : kModels) {
    SECTION(name) {
      const auto& ex = Expected()[name];
      auto model = Load(name);
      auto plan = PlanWith("w8a8.qrules", model);
      REQUIRE(ex["weights"].size() == ex["weight_count"].get<size_t>());
      REQUIRE(ex["weight_count"].get<size_t>() >= 2);
      for (const auto& w : ex["weights"]) {
        const std::string input = w["weight_input"];
        INFO(name << ": " << w["op_type"].get<std::string>() << " '" << w["node"].get<std::string>() << "' reads "
                  << input);
        const TensorInfo* t = model->FindTensor(input);
        REQUIRE(t != nullptr);
        CHECK(t->is_state());  // a folded chain is a state like an initializer
        CHECK(t->shape.sizes() == w["stored_shape_at_op"].get<std::vector<int64_t>>());
        WeightSlot slot = FindWeight(*plan, input);
        REQUIRE(slot.tensor != nullptr);
        CHECK(slot.tensor->role == TensorRole::kState);
        CHECK(slot.tensor->key.name == "weight");
        const QuantizationSpec* spec = SpecOf(*plan, *slot.tensor);
        REQUIRE(spec != nullptr);
        // weight8: int8, one scale per output feature, on the axis that holds them as stored.
        CHECK(spec->dtype == Dtype::kInt8);
        CHECK(spec->granularity.kind == GranularityKind::kPerChannel);
        CHECK(spec->granularity.axis == w["out_features_axis"].get<int64_t>());
      }
      // The chains' sources are gone: nothing but the folded value is left of them.
      for (const auto& w : ex["weights"]) {
        if (w["chain"].empty()) continue;
        const TensorInfo* source = model->FindTensor(w["weight_source"].get<std::string>());
        CHECK((source == nullptr || !source->consumers.empty()));
      }
    }
  }
}

TEST_CASE("foreign exports run as their reference computes them, chains folded", "[plan][foreign][exec]") {
  for (const std::string& name : kModels) {
    SECTION(name) {
      const auto& ex = Expected()[name];
      auto model = Load(name);
      std::vector<Tensor> inputs;
      // In the graph's input order (input_files is a list, or an object keyed by input name).
      for (size_t i = 0; i < ex["graph_inputs"].size(); ++i) {
        const auto& files = ex["input_files"];
        const std::string file = files.is_object() ? files[ex["graph_inputs"][i]["name"].get<std::string>()]
                                                   : files[i];
        NpyResult r = ReadNpyFile(kDir + file);
        REQUIRE(r.ok());
        inputs.push_back(*r.tensor);
      }
      NpyResult expected = ReadNpyFile(kDir + ex["output_file"].get<std::string>());
      REQUIRE(expected.ok());
      ExecutorResult e = Executor::Create(model);
      INFO(RenderText(e.diagnostics));
      REQUIRE(e.ok());
      RunResult r = e.executor->Run(inputs);
      INFO(RenderText(r.diagnostics));
      REQUIRE(r.ok());
      REQUIRE(r.outputs[0].shape == expected.tensor->shape);
      for (size_t i = 0; i < expected.tensor->f32.size(); ++i) {
        CHECK(r.outputs[0].f32[i] == Approx(expected.tensor->f32[i]).margin(1e-5).epsilon(1e-4));
      }
    }
  }
}

// Each preset does what its header comment says, on models it was not written for.
TEST_CASE("presets on foreign exports", "[plan][foreign][presets]") {
  struct Preset {
    std::string file;
    Dtype weight_dtype;
    GranularityKind granularity;
    bool activations;  // int8 / fp8 activations on registered ops, or weight-only
  };
  const std::vector<Preset> presets = {
      {"w8a8.qrules", Dtype::kInt8, GranularityKind::kPerChannel, true},
      {"w8.qrules", Dtype::kInt8, GranularityKind::kPerChannel, false},
      {"w4.qrules", Dtype::kInt4, GranularityKind::kPerChannel, false},
      {"w4_per_block.qrules", Dtype::kInt4, GranularityKind::kPerBlock, false},
      {"fp8_mxfp4.qrules", Dtype::kFloat4E2m1fnX2, GranularityKind::kPerBlock, true},
      {"llm_w4_per_block.qrules", Dtype::kInt4, GranularityKind::kPerBlock, false},
  };
  for (const Preset& preset : presets) {
    for (const std::string& name : kModels) {
      DYNAMIC_SECTION(preset.file << " on " << name) {
        auto model = Load(name);
        std::vector<Diagnostic> diags;
        auto plan = PlanWith(preset.file, model, &diags);
        CHECK((ActivationPoints(*plan) > 0) == preset.activations);
        for (const auto& w : Expected()[name]["weights"]) {
          INFO(w["weight_input"].get<std::string>());
          WeightSlot slot = FindWeight(*plan, w["weight_input"]);
          REQUIRE(slot.tensor != nullptr);
          const QuantizationSpec* spec = SpecOf(*plan, *slot.tensor);
          const auto shape = w["stored_shape_at_op"].get<std::vector<int64_t>>();
          const int64_t out_axis = w["out_features_axis"].get<int64_t>();
          if (preset.granularity == GranularityKind::kPerBlock) {
            // Blocks of 32 along the input features: a layer whose input dimension 32 does not
            // divide stays float, with a block-size-mismatch warning.
            const int64_t in_axis = shape.size() == 2 ? 1 - out_axis : 1;
            const bool divisible = shape[static_cast<size_t>(in_axis)] % 32 == 0;
            if (!divisible) {
              CHECK(spec == nullptr);
              CHECK(std::any_of(diags.begin(), diags.end(),
                                [](const Diagnostic& d) { return d.code == DiagCode::kBlockSizeMismatch; }));
              continue;
            }
            REQUIRE(spec != nullptr);
            CHECK(spec->granularity.axis == in_axis);
          } else {
            REQUIRE(spec != nullptr);
            CHECK(spec->granularity.axis == out_axis);
          }
          CHECK(spec->dtype == preset.weight_dtype);
          CHECK(spec->granularity.kind == preset.granularity);
        }
        // Biases stay float under every preset ("only the state named weight").
        for (const OpPlan& op : plan->ops) {
          for (const TensorPlan& tp : op.tensors) {
            if (tp.role == TensorRole::kState && tp.key.name == "bias") CHECK(tp.point < 0);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace qrules
