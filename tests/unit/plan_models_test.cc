// The shared Fashion-MNIST models (tests/data/models) with the presets of rules/: the expected
// tensors come from the models' documented structure (models/README.md, the module maps), and
// from the preset definitions (grammar/SEMANTICS.md §c.9, §e).
#include <catch2/catch.hpp>

#include "qrules/compile.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "test_util.h"

using namespace qrules;

namespace {

std::shared_ptr<const Model> Load(const std::string& name) {
  ImportOptions o;
  o.module_map_path = std::string(QRULES_TEST_DATA_DIR) + "/models/" + name + ".modules.json";
  ModelResult r = ImportOnnxFile(std::string(QRULES_TEST_DATA_DIR) + "/models/" + name + ".onnx", o);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return r.model;
}

PlanResult PlanWith(const std::string& preset, const std::shared_ptr<const Model>& model) {
  CompileResult c = CompileFile(std::string(QRULES_SOURCE_DIR) + "/rules/" + preset);
  INFO(RenderText(c.diagnostics));
  REQUIRE(c.ok());
  return Resolve(c.rules, model);
}

// The op of a module (each shared model has one op per module).
const OpPlan& OpIn(const Plan& plan, const std::string& module) {
  auto id = plan.model->ModuleIdOf(module);
  REQUIRE(id.has_value());
  const Module& m = plan.model->module(*id);
  REQUIRE(m.ops.size() == 1);
  return plan.ops[static_cast<size_t>(m.ops[0])];
}

const TensorPlan& Role(const OpPlan& op, TensorRole role, const std::string& key) {
  for (const auto& tp : op.tensors) {
    if (tp.role == role && tp.key.ToString() == key) return tp;
  }
  FAIL("missing " << key);
  return op.tensors.front();
}

const QuantizationSpec& Spec(const Plan& plan, const TensorPlan& tp) {
  REQUIRE(tp.point >= 0);
  return plan.points[static_cast<size_t>(tp.point)].spec;
}

}  // namespace

TEST_CASE("fmnist_mlp with w8a8: fused linear+relu, per-channel weights, float biases", "[plan][models]") {
  auto model = Load("fmnist_mlp");
  PlanResult r = PlanWith("w8a8.qrules", model);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Plan& plan = *r.plan;
  // flatten -> fc1 -> relu1 -> fc2 -> relu2 -> fc3: fc1 and fc2 fuse with their relu.
  CHECK(OpIn(plan, "fc1").pattern == "linear_act");
  CHECK(OpIn(plan, "fc2").pattern == "linear_act");
  CHECK(OpIn(plan, "fc3").pattern == "linear");
  CHECK(OpIn(plan, "flatten").pattern == "flatten");
  for (const char* fc : {"fc1", "fc2", "fc3"}) {
    const QuantizationSpec& w = Spec(plan, Role(OpIn(plan, fc), TensorRole::kState, "weight"));
    CHECK(w.dtype == Dtype::kInt8);
    CHECK(w.granularity.kind == GranularityKind::kPerChannel);
    CHECK(w.granularity.axis == 0);  // Gemm transB=1: the weight is stored [out, in]
    CHECK(Role(OpIn(plan, fc), TensorRole::kState, "bias").point < 0);
  }
  // Nothing between a linear and its relu; the relu outputs and fc3's output are quantized.
  CHECK(Role(OpIn(plan, "fc1"), TensorRole::kOutput, "0").reason == Reason::kInsidePattern);
  CHECK(Role(OpIn(plan, "relu1"), TensorRole::kOutput, "0").point >= 0);
  CHECK(Role(OpIn(plan, "relu2"), TensorRole::kOutput, "0").point >= 0);
  CHECK(Role(OpIn(plan, "fc3"), TensorRole::kOutput, "0").point >= 0);
  // fc2 reads relu1's fake-quant (one per edge).
  CHECK(Role(OpIn(plan, "fc2"), TensorRole::kInput, "0").point == Role(OpIn(plan, "relu1"), TensorRole::kOutput, "0").point);
}

TEST_CASE("fmnist_mlp with w4_per_block: 784 input channels do not divide into blocks of 32", "[plan][models]") {
  auto model = Load("fmnist_mlp");
  PlanResult r = PlanWith("w4_per_block.qrules", model);
  REQUIRE(r.ok());
  const Plan& plan = *r.plan;
  // fc1.weight [256, 784]: 784 = 24.5 * 32 => stays float with a warning.  fc2 [128, 256] and
  // fc3 [10, 128] divide.  Weight-only: no activation fake-quant at all.
  CHECK(Role(OpIn(plan, "fc1"), TensorRole::kState, "weight").reason == Reason::kBlockSizeMismatch);
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].code == DiagCode::kBlockSizeMismatch);
  for (const char* fc : {"fc2", "fc3"}) {
    const QuantizationSpec& w = Spec(plan, Role(OpIn(plan, fc), TensorRole::kState, "weight"));
    CHECK(w.dtype == Dtype::kInt4);
    CHECK(w.granularity.axis == 1);  // per-block default for linear: the input channels
  }
  CHECK(plan.points.size() == 2);
}

TEST_CASE("fmnist_cnn: folded conv weights belong to their conv, and pools share the fake-quant", "[plan][models]") {
  auto model = Load("fmnist_cnn");
  PlanResult r = PlanWith("w8a8.qrules", model);
  REQUIRE(r.ok());
  const Plan& plan = *r.plan;
  const OpPlan& conv1 = OpIn(plan, "conv1");
  CHECK(conv1.pattern == "conv_act");
  const TensorPlan& w = Role(conv1, TensorRole::kState, "weight");
  CHECK(model->tensor(w.tensor).name.rfind("onnx::Conv_", 0) == 0);
  CHECK(Spec(plan, w).granularity.axis == 0);
  int relu1 = Role(OpIn(plan, "relu1"), TensorRole::kOutput, "0").point;
  REQUIRE(relu1 >= 0);
  CHECK(Role(OpIn(plan, "pool1"), TensorRole::kOutput, "0").point == relu1);
  CHECK(Role(OpIn(plan, "conv2"), TensorRole::kInput, "0").point == relu1);
}

TEST_CASE("fmnist_cnn_bn: conv -> batch_norm -> relu fuse into one pattern", "[plan][models]") {
  auto model = Load("fmnist_cnn_bn");
  PlanResult r = PlanWith("w8a8.qrules", model);
  REQUIRE(r.ok());
  const Plan& plan = *r.plan;
  CHECK(OpIn(plan, "conv1").pattern == "conv_bn_act");
  CHECK(Role(OpIn(plan, "bn1"), TensorRole::kOutput, "0").reason == Reason::kInsidePattern);
  // batch_norm's parameters are inside the pattern: not quantized.
  CHECK(Role(OpIn(plan, "bn1"), TensorRole::kState, "weight").point < 0);
  CHECK(Role(OpIn(plan, "relu1"), TensorRole::kOutput, "0").point >= 0);
}

TEST_CASE("every preset resolves on every shared model", "[plan][models]") {
  for (const char* m : {"fmnist_mlp", "fmnist_cnn", "fmnist_cnn_bn"}) {
    auto model = Load(m);
    for (const char* preset : {"w8a8.qrules", "w8.qrules", "w4.qrules", "w4_per_block.qrules", "fp8_mxfp4.qrules"}) {
      INFO(m << " " << preset);
      PlanResult r = PlanWith(preset, model);
      INFO(RenderText(r.diagnostics));
      CHECK(r.ok());
    }
  }
}

// zoo_sequence (tests/data/models/make_torch_zoo.py) is a PyTorch export at opset 13: its
// nn.Linear layers on 3-D inputs become MatMul + Add(bias), F.gelu the erf chain Div, Erf, Add,
// Mul, Mul, and nn.LayerNorm nine element-wise ops.  In the PyTorch program each is one op, so
// (grammar/SEMANTICS.md §b.4-b.5) a linear's output fake-quant sits after its bias, gelu fuses into the
// linear before it, and the unregistered layer_norm carries no fake-quant inside.
TEST_CASE("zoo_sequence with w8a8: exported decompositions are the torch program's ops", "[plan][models]") {
  auto model = Load("zoo_sequence");
  PlanResult r = PlanWith("w8a8.qrules", model);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Plan& plan = *r.plan;
  auto ops_of = [&](const std::string& module) {
    auto id = plan.model->ModuleIdOf(module);
    REQUIRE(id.has_value());
    return plan.model->module(*id).ops;
  };
  auto output_point = [&](OpId op) {
    for (const TensorPlan& tp : plan.ops[static_cast<size_t>(op)].tensors) {
      if (tp.role == TensorRole::kOutput) return tp.point;
    }
    return -1;
  };
  for (const char* linear : {"qkv", "proj", "ff1", "ff2", "out"}) {
    INFO("linear " << linear);
    const std::vector<OpId> ops = ops_of(linear);
    if (plan.model->op(ops[0]).onnx_type != "MatMul") continue;  // `out` acts on 2-D: a Gemm
    REQUIRE(ops.size() == 2);  // MatMul, Add
    const OpPlan& mm = plan.ops[static_cast<size_t>(ops[0])];
    CHECK(mm.pattern.rfind("linear", 0) == 0);
    CHECK(plan.ops[static_cast<size_t>(ops[1])].fused_into == ops[0]);
    CHECK(output_point(ops[0]) < 0);  // MatMul's output: inside the linear
    if (std::string(linear) != "ff1") CHECK(output_point(ops[1]) >= 0);  // after the bias
  }
  // ff1 -> gelu: one pattern; the fake-quant after the chain's last Mul, none inside.
  const OpId ff1 = ops_of("ff1")[0];
  const OpPlan& ff1_plan = plan.ops[static_cast<size_t>(ff1)];
  CHECK(ff1_plan.pattern == "linear_act");
  REQUIRE(ff1_plan.fused.size() == 6);  // the bias Add and the five GELU ops
  for (size_t i = 0; i + 1 < ff1_plan.fused.size(); ++i) CHECK(output_point(ff1_plan.fused[i]) < 0);
  CHECK(plan.model->op(ff1_plan.fused.back()).type == "mul");
  CHECK(output_point(ff1_plan.fused.back()) >= 0);
  // LayerNorm: nine ops, none quantized; the linear after it quantizes its input.
  for (const char* norm : {"norm1", "norm2"}) {
    INFO("layer norm " << norm);
    const std::vector<OpId> ops = ops_of(norm);
    CHECK(ops.size() >= 5);
    for (OpId o : ops) {
      CHECK(plan.ops[static_cast<size_t>(o)].pattern.empty());
      CHECK(output_point(o) < 0);
    }
  }
}

// zoo_vision: F.silu(conv(z)) exports as Sigmoid + Mul(conv_out, sigmoid), F.hardswish as
// HardSigmoid + Mul: one activation after the conv (torch: conv -> silu, fused).  sigmoid(conv(d)) * d multiplies by another tensor: the
// sigmoid is the conv's activation and the Mul is an op of its own.
TEST_CASE("zoo_vision with w8a8: SiLU and Hardswish fuse into their conv, a gating Mul does not",
          "[plan][models]") {
  auto model = Load("zoo_vision");
  PlanResult r = PlanWith("w8a8.qrules", model);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Plan& plan = *r.plan;
  auto conv_of = [&](const std::string& module) -> const OpPlan& {
    auto id = plan.model->ModuleIdOf(module);
    REQUIRE(id.has_value());
    REQUIRE(plan.model->module(*id).ops.size() == 1);
    return plan.ops[static_cast<size_t>(plan.model->module(*id).ops[0])];
  };
  const OpPlan& mix = conv_of("mix");
  CHECK(mix.pattern == "conv_act");
  REQUIRE(mix.fused.size() == 2);
  CHECK(plan.model->op(mix.fused[0]).type == "sigmoid");
  CHECK(plan.model->op(mix.fused[1]).type == "mul");
  const OpPlan& up = conv_of("up");  // F.hardswish: HardSigmoid + Mul at opset 13
  CHECK(up.pattern == "conv_transpose_act");
  REQUIRE(up.fused.size() == 2);
  CHECK(plan.model->op(up.fused[0]).type == "hardsigmoid");
  CHECK(plan.model->op(up.fused[1]).type == "mul");
  const OpPlan& dilated = conv_of("dilated");
  CHECK(dilated.pattern == "conv_act");
  REQUIRE(dilated.fused.size() == 1);
  CHECK(plan.model->op(dilated.fused[0]).type == "sigmoid");
}

// The bias of a linear exported as MatMul + Add is a state of the Add; `op_state { bias: … }`
// must reach it as it reaches a Gemm's third input (zoo_sequence: qkv, proj, ff1, ff2 are
// MatMul + Add, `out` acts on 2-D and is a Gemm).
TEST_CASE("op_state bias reaches the bias of a MatMul-exported linear", "[plan][models]") {
  auto model = Load("zoo_sequence");
  CompileResult c = Compile(std::make_shared<const Source>(
      "bias.qrules",
      "qrules 1\n"
      "global {\n"
      "  op_state { weight: { dtype: int8, granularity: per_channel, qparams: static },\n"
      "             bias: { dtype: int8, granularity: per_tensor, qparams: static } }\n"
      "}\n"));
  INFO(RenderText(c.diagnostics));
  REQUIRE(c.ok());
  PlanResult r = Resolve(c.rules, model);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Plan& plan = *r.plan;
  for (const char* linear : {"qkv", "proj", "ff1", "ff2", "out"}) {
    INFO("linear " << linear);
    auto id = plan.model->ModuleIdOf(linear);
    REQUIRE(id.has_value());
    int biases = 0;
    for (OpId o : plan.model->module(*id).ops) {
      for (const TensorPlan& tp : plan.ops[static_cast<size_t>(o)].tensors) {
        if (tp.role != TensorRole::kState || plan.model->tensor(tp.tensor).local_name != "bias") continue;
        ++biases;
        CHECK(tp.reason == Reason::kQuantized);
        REQUIRE(tp.point >= 0);
        CHECK(plan.points[static_cast<size_t>(tp.point)].spec.granularity.kind == GranularityKind::kPerTensor);
        CHECK(plan.state_points[static_cast<size_t>(tp.tensor)] == tp.point);
      }
    }
    CHECK(biases == 1);
  }
}
