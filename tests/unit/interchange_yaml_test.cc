// coreai_opt YAML import/export (include/qrules/coreai_yaml.h): every form of
// grammar/COREAI-YAML.md against a hand-written expected .qrules (tests/golden/yaml), what
// each form means on models, the importer's errors with their YAML line:column, and the
// YAML -> qrules -> YAML -> qrules round trip on every model.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "qrules/compile.h"
#include "qrules/coreai_yaml.h"
#include "qrules/format.h"
#include "qrules/ir.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "test_util.h"

using namespace qrules;
namespace fs = std::filesystem;

namespace {

const std::string kGolden = "tests/golden/yaml";

std::shared_ptr<const Model> LoadModel(const std::string& name) {
  ModelResult r;
  if (name.size() > 4 && name.substr(name.size() - 4) == ".qir") {
    r = LoadModelTextFile(std::string(QRULES_SOURCE_DIR) + "/" + kGolden + "/models/" + name);
  } else {
    ImportOptions o;
    o.module_map_path = std::string(QRULES_TEST_DATA_DIR) + "/models/" + name + ".modules.json";
    r = ImportOnnxFile(std::string(QRULES_TEST_DATA_DIR) + "/models/" + name + ".onnx", o);
  }
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return r.model;
}

YamlImportResult ImportText(const std::string& yaml, const std::string& name = "test.yaml") {
  return ImportCoreaiYaml(std::make_shared<const Source>(name, yaml));
}

std::shared_ptr<const CompiledRules> CompileText(const std::string& text, const std::string& name = "imported.qrules") {
  CompileResult c = Compile(std::make_shared<const Source>(name, text));
  INFO(text << RenderText(c.diagnostics));
  REQUIRE(c.ok());
  return c.rules;
}

std::shared_ptr<const CompiledRules> ImportAndCompile(const std::string& yaml) {
  YamlImportResult r = ImportText(yaml);
  INFO(yaml << RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return CompileText(r.text);
}

std::shared_ptr<const Plan> PlanOf(const std::shared_ptr<const CompiledRules>& rules,
                                   const std::shared_ptr<const Model>& model) {
  PlanResult p = Resolve(rules, model);
  INFO(RenderText(p.diagnostics));
  REQUIRE(p.ok());
  return p.plan;
}

// The plan JSON without the parts that name rule files and lines (they differ between two
// equivalent rule texts): what every tensor gets, and why.
std::string PlanMeaning(const Plan& plan) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(RenderPlanJson(plan));
  j.erase("rules");
  for (auto& op : j["ops"]) {
    op["config"].erase("source");
    op["config"].erase("rule");
    for (auto& t : op["tensors"]) t.erase("source");
  }
  return j.dump(1);
}

const TensorPlan& TensorOf(const Plan& plan, const std::string& op, TensorRole role, const std::string& key) {
  const OpPlan* p = plan.FindOp(op);
  REQUIRE(p != nullptr);
  for (const auto& tp : p->tensors) {
    if (tp.role == role && tp.key.ToString() == key) return tp;
  }
  FAIL("op " << op << " has no " << TensorRoleName(role) << " " << key);
  return p->tensors.front();
}

// The spec of a tensor, or null when it stays float.
const QuantizationSpec* SpecOf(const Plan& plan, const std::string& op, TensorRole role, const std::string& key) {
  const TensorPlan& tp = TensorOf(plan, op, role, key);
  return tp.point >= 0 ? &plan.points[static_cast<size_t>(tp.point)].spec : nullptr;
}

std::string Summary(const Plan& plan, const std::string& op, TensorRole role, const std::string& key) {
  const QuantizationSpec* s = SpecOf(plan, op, role, key);
  return s ? SpecSummary(*s, role == TensorRole::kState) : "float";
}

constexpr auto kIn = TensorRole::kInput;
constexpr auto kOut = TensorRole::kOutput;
constexpr auto kState = TensorRole::kState;

}  // namespace

TEST_CASE("every form of COREAI-YAML.md imports to its hand-written .qrules", "[interchange][yaml]") {
  testing::InSourceDir in_source;
  auto files = testing::FilesWithExtension(kGolden, ".yaml");
  std::erase_if(files, [](const fs::path& p) { return p.parent_path().filename() != "yaml"; });
  REQUIRE(files.size() == 8);
  for (const auto& yaml : files) {
    SECTION(yaml.filename().string()) {
      YamlImportResult r = ImportCoreaiYamlFile(yaml.string());
      INFO(RenderText(r.diagnostics));
      REQUIRE(r.ok());
      CHECK(r.diagnostics.empty());
      fs::path expected = fs::path(yaml).replace_extension(".qrules");
      testing::CheckGolden(expected, r.text);
      // Canonical: fmt leaves it unchanged.
      FormatResult f = Format(std::make_shared<const Source>(expected.string(), r.text));
      REQUIRE(f.ok);
      CHECK(f.text == r.text);
      // Lint-clean, except the unescaped '.' that a coreai_opt name regex such as model.lm_head has.
      CompileResult c = Compile(std::make_shared<const Source>(expected.string(), r.text));
      INFO(RenderText(c.diagnostics));
      REQUIRE(c.ok());
      for (const auto& d : c.diagnostics) CHECK(d.code == DiagCode::kUnescapedDot);
    }
  }
}

TEST_CASE("form 1: {} is the default W8A8 config", "[interchange][yaml][models]") {
  auto rules = ImportAndCompile("quantization_config: {}\n");
  CHECK_FALSE(rules->config.global.has_value());
  auto plan = PlanOf(rules, LoadModel("fmnist_mlp"));
  CHECK(Summary(*plan, "/fc1/Gemm", kIn, "0") == "int8 symmetric per_tensor moving_average");
  CHECK(Summary(*plan, "/fc1/Gemm", kState, "weight") == "int8 symmetric per_channel(axis=0) static");
  CHECK(Summary(*plan, "/fc1/Gemm", kState, "bias") == "float");
  CHECK(Summary(*plan, "/fc3/Gemm", kOut, "0") == "int8 symmetric per_tensor moving_average");
  // `global_config: {}` is the same config.
  auto plan2 = PlanOf(ImportAndCompile("quantization_config:\n  global_config: {}\n"), LoadModel("fmnist_mlp"));
  CHECK(PlanMeaning(*plan) == PlanMeaning(*plan2));
}

TEST_CASE("form 2: weight-only int4 per-block, and empty value and null both disable", "[interchange][yaml][models]") {
  testing::InSourceDir in_source;
  auto r = ImportCoreaiYamlFile(kGolden + "/2_w4_per_block.yaml");
  REQUIRE(r.ok());
  auto rules = CompileText(r.text);
  const QuantizerConfig& c = rules->config;
  REQUIRE(c.global);
  REQUIRE(c.global->op_input.has_value());
  CHECK(c.global->op_input->empty());
  REQUIRE(c.global->op_output.has_value());
  CHECK(c.global->op_output->empty());
  for (const char* m : {"fmnist_mlp", "fmnist_cnn", "fmnist_cnn_bn"}) {
    auto plan = PlanOf(rules, LoadModel(m));
    for (const auto& op : plan->ops) {
      for (const auto& tp : op.tensors) {
        if (tp.role != kState && tp.point >= 0) FAIL("activation quantized in " << m);
      }
    }
  }
  auto plan = PlanOf(rules, LoadModel("fmnist_mlp"));
  // Linear weights [out, in]: blocks of 32 along axis 1 (resolved from the op).  784 is not a
  // multiple of 32, so fc1's weight stays float (block-size-mismatch).
  CHECK(Summary(*plan, "/fc2/Gemm", kState, "weight") == "int4 symmetric per_block(axis=1,block=32) static");
  CHECK(Summary(*plan, "/fc3/Gemm", kState, "weight") == "int4 symmetric per_block(axis=1,block=32) static");
  CHECK(Summary(*plan, "/fc1/Gemm", kState, "weight") == "float");
  CHECK(TensorOf(*plan, "/fc1/Gemm", kState, "weight").reason == Reason::kBlockSizeMismatch);
  CHECK(Summary(*plan, "/fc2/Gemm", kIn, "0") == "float");
}

TEST_CASE("form 3: global null, one module type enabled", "[interchange][yaml][models]") {
  testing::InSourceDir in_source;
  auto r = ImportCoreaiYamlFile(kGolden + "/3_global_null_linear.yaml");
  REQUIRE(r.ok());
  auto rules = CompileText(r.text);
  CHECK(rules->config.global_disabled);
  auto plan = PlanOf(rules, LoadModel("fmnist_cnn"));
  CHECK(Summary(*plan, "/conv1/Conv", kIn, "0") == "float");
  CHECK(Summary(*plan, "/conv1/Conv", kState, "weight") == "float");
  CHECK(Summary(*plan, "/fc1/Gemm", kIn, "0") == "int8 symmetric per_tensor moving_average");
  // per_channel with the axis left open: 0 for a Linear weight; qparams default -> static.
  CHECK(Summary(*plan, "/fc1/Gemm", kState, "weight") == "int8 symmetric per_channel(axis=0) static");
  CHECK(Summary(*plan, "/fc2/Gemm", kOut, "0") == "int8 symmetric per_tensor moving_average");
}

TEST_CASE("form 4: op_type null disables linear, and cat's omitted op_state is the class default", "[interchange][yaml][models]") {
  testing::InSourceDir in_source;
  auto r = ImportCoreaiYamlFile(kGolden + "/4_op_type_null.yaml");
  REQUIRE(r.ok());
  auto rules = CompileText(r.text);
  REQUIRE(rules->config.global);
  const auto& ops = rules->config.global->op_type;
  REQUIRE(ops.size() == 2);
  CHECK(ops[0].op_type == "linear");
  CHECK_FALSE(ops[0].config.has_value());
  REQUIRE(ops[1].config.has_value());
  CHECK_FALSE(ops[1].config->op_state.has_value());  // omitted: the class default, used as a whole
  REQUIRE(ops[1].config->op_output.has_value());
  CHECK(ops[1].config->op_output->empty());
  auto plan = PlanOf(rules, LoadModel("fmnist_cnn"));
  CHECK(Summary(*plan, "/fc1/Gemm", kState, "weight") == "float");
  CHECK(Summary(*plan, "/fc2/Gemm", kOut, "0") == "float");
  // Convolutions keep the default W8A8.
  CHECK(Summary(*plan, "/conv2/Conv", kState, "weight") == "int8 symmetric per_channel(axis=0) static");
  CHECK(Summary(*plan, "/conv2/Conv", kIn, "0") == "int8 symmetric per_tensor moving_average");
}

TEST_CASE("form 5: module-name regexes and module-type scopes", "[interchange][yaml][models]") {
  testing::InSourceDir in_source;
  auto r = ImportCoreaiYamlFile(kGolden + "/5_module_scopes.yaml");
  REQUIRE(r.ok());
  auto rules = CompileText(r.text);
  REQUIRE(rules->config.module_name.size() == 2);
  CHECK(rules->config.module_name[0].selector.is_regex);
  CHECK(rules->config.module_name[0].selector.text == "model.lm_head");
  CHECK(rules->config.module_name[1].selector.text == "model\\.layers\\.[0-9]+\\.self_attn");
  auto plan = PlanOf(rules, LoadModel("tiny_llm.qir"));
  // model.lm_head is disabled, and so is modelXlm_head: the '.' of the regex matches any character.
  CHECK(Summary(*plan, "lm_head", kState, "weight") == "float");
  CHECK(Summary(*plan, "lm_head", kOut, "0") == "float");
  CHECK(Summary(*plan, "lm_head_x", kState, "weight") == "float");
  // The embedding: weight only, int8 per-channel (axis 0 for an Embedding weight).
  CHECK(Summary(*plan, "embedding", kState, "weight") == "int8 symmetric per_channel(axis=0) static");
  CHECK(Summary(*plan, "embedding", kOut, "0") == "float");
  // The attention block keeps the default config (softmax is not a registered op anyway).
  CHECK(Summary(*plan, "q_proj", kState, "weight") == "int8 symmetric per_channel(axis=0) static");
  CHECK(plan->FindOp("q_proj")->module_level == ModuleLevel::kName);
  CHECK(Summary(*plan, "mlp", kState, "weight") == "int8 symmetric per_channel(axis=0) static");
}

TEST_CASE("form 6: module boundary specs, and \"0\" becomes index 0", "[interchange][yaml][models]") {
  testing::InSourceDir in_source;
  auto r = ImportCoreaiYamlFile(kGolden + "/6_module_boundary.yaml");
  REQUIRE(r.ok());
  auto rules = CompileText(r.text);
  REQUIRE(rules->config.module_type.size() == 1);
  const auto& mi = rules->config.module_type[0].config.module_input;
  REQUIRE(mi.entries.size() == 3);
  CHECK(mi.entries[0].key == TensorKey::Index(0));
  CHECK(mi.entries[1].key == TensorKey::Index(1));
  CHECK(mi.entries[2].key == TensorKey::Index(2));
  auto plan = PlanOf(rules, LoadModel("tiny_llm.qir"));
  // The MultiheadAttention module's inputs h, q (of mha_qk) and p (of mha_v), and its output a2.
  const std::string a8 = "int8 symmetric per_tensor moving_average";
  CHECK(Summary(*plan, "mha_qk", kIn, "0") == a8);
  CHECK(Summary(*plan, "mha_qk", kIn, "1") == a8);
  CHECK(Summary(*plan, "mha_v", kIn, "1") == a8);
  CHECK(Summary(*plan, "mha_v", kOut, "0") == a8);
  CHECK(TensorOf(*plan, "mha_v", kIn, "1").origin.description.find("module_input[2]") != std::string::npos);
  // Inside: op_output null, so a1 (between the two ops) stays float.
  CHECK(Summary(*plan, "mha_qk", kOut, "0") == "float");
}

TEST_CASE("form 7: FP8 activations, MXFP4 weights, a merge-key axis override", "[interchange][yaml][models]") {
  testing::InSourceDir in_source;
  auto r = ImportCoreaiYamlFile(kGolden + "/7_fp8_mxfp4_merge.yaml");
  REQUIRE(r.ok());
  auto rules = CompileText(r.text);
  auto plan = PlanOf(rules, LoadModel("tiny_decoder.qir"));
  // deconv1: `<<: *base` (int4 per_block 32) with granularity overridden to axis 1.
  const QuantizationSpec* w1 = SpecOf(*plan, "deconv1", kState, "weight");
  REQUIRE(w1);
  CHECK(w1->dtype == Dtype::kInt4);
  CHECK(w1->granularity.kind == GranularityKind::kPerBlock);
  CHECK(w1->granularity.block_size == std::vector<int64_t>{32});
  // The override as compiled: axis 1 (the plan maps it onto the stored layout of the weight).
  const auto& override_spec = rules->config.module_name.at(0).config.op_state->entries.at(0).spec;
  REQUIRE(override_spec);
  CHECK(override_spec->granularity.axis == 1);
  CHECK(w1->scale_dtype == ScaleDtype::kNone);
  // deconv2 and head: MXFP4 (axis 0 for ConvTranspose weights, 1 for Linear).
  const QuantizationSpec* w2 = SpecOf(*plan, "deconv2", kState, "weight");
  REQUIRE(w2);
  CHECK(w2->dtype == Dtype::kFloat4E2m1fnX2);
  CHECK(w2->granularity.axis == 0);
  CHECK(w2->EffectiveScaleDtype() == ScaleDtype::kFloat8E8m0fnu);
  CHECK(Summary(*plan, "head", kState, "weight") == "float4_e2m1fn_x2 symmetric per_block(axis=1,block=32) static e8m0-scale");
  // deconv1's module_name config is used as a whole: its omitted op_input/op_output are the class
  // defaults (int8), not global's FP8.
  CHECK(Summary(*plan, "deconv1", kIn, "0") == "int8 symmetric per_tensor moving_average");
  // d1 (deconv1 -> deconv2) is one edge, decided by the module_name side first.
  CHECK(Summary(*plan, "deconv2", kIn, "0") == "int8 symmetric per_tensor moving_average");
  CHECK(Summary(*plan, "deconv2", kOut, "0") == "float8_e4m3fn symmetric per_tensor moving_average");
  CHECK(Summary(*plan, "head", kOut, "0") == "float8_e4m3fn symmetric per_tensor moving_average");
  // On the shared CNN, global applies: FP8 inputs, MXFP4 weights (conv1's C_in 1 is not a multiple of 32).
  auto cnn = PlanOf(rules, LoadModel("fmnist_cnn"));
  CHECK(Summary(*cnn, "/conv1/Conv", kIn, "0") == "float8_e4m3fn symmetric per_tensor moving_average");
  CHECK(Summary(*cnn, "/conv1/Conv", kState, "weight") == "float");
}

TEST_CASE("form 8: a QAT schedule", "[interchange][yaml][models]") {
  testing::InSourceDir in_source;
  auto r = ImportCoreaiYamlFile(kGolden + "/8_qat_schedule.yaml");
  REQUIRE(r.ok());
  auto rules = CompileText(r.text);
  REQUIRE(rules->config.global);
  REQUIRE(rules->config.global->qat_schedule);
  const QATSchedule& s = *rules->config.global->qat_schedule;
  CHECK(s.enable_observer == 0);
  CHECK(s.enable_fake_quant == 100);
  CHECK(s.disable_observer == 1000);
  auto plan = PlanOf(rules, LoadModel("fmnist_mlp"));
  const TensorPlan& tp = TensorOf(*plan, "/fc1/Gemm", kState, "weight");
  REQUIRE(tp.point >= 0);
  REQUIRE(plan->points[static_cast<size_t>(tp.point)].qat_schedule);
  CHECK(plan->points[static_cast<size_t>(tp.point)].qat_schedule->enable_fake_quant == 100);
}

TEST_CASE("importer errors carry the YAML line and column", "[interchange][yaml][errors]") {
  testing::InSourceDir in_source;
  auto files = testing::FilesWithExtension(kGolden + "/errors", ".yaml");
  REQUIRE(files.size() >= 12);
  for (const auto& yaml : files) {
    SECTION(yaml.filename().string()) {
      YamlImportResult r = ImportCoreaiYamlFile(yaml.string());
      CHECK_FALSE(r.ok());
      CHECK(r.text.empty());
      std::string actual = RenderText(r.diagnostics);
      fs::path expected = fs::path(yaml).replace_extension(".expected");
      testing::CheckGolden(expected, actual);
    }
  }
}

TEST_CASE("importer diagnostics: codes and positions", "[interchange][yaml][errors]") {
  auto first = [](const std::string& yaml) {
    YamlImportResult r = ImportText(yaml);
    REQUIRE_FALSE(r.diagnostics.empty());
    return r.diagnostics.front();
  };
  Diagnostic d = first("quantization_config: [1, 2\n");
  CHECK(d.code == DiagCode::kYamlSyntax);
  CHECK(d.location.line >= 1);
  d = first("quantization_config:\n  bogus: 1\n");
  CHECK(d.code == DiagCode::kUnknownField);
  CHECK(d.location.line == 2);
  CHECK(d.location.column == 3);
  d = first("quantization_config:\n  global_config:\n    op_input_spec: {\"*\": {granularity: per_tensor}}\n");
  CHECK(d.code == DiagCode::kInvalidValue);  // a bare string is not a granularity
  d = first("quantization_config:\n  global_config:\n    op_input_spec: {\"*\": {granularity: {axis: 0}}}\n");
  CHECK(d.code == DiagCode::kInvalidValue);  // missing type
  d = first("quantization_config:\n  global_config:\n    op_state_spec: {weight: {granularity: {type: per_channel, block_size: 4}}}\n");
  CHECK(d.code == DiagCode::kUnknownField);
  d = first("quantization_config:\n  global_config:\n    op_state_spec: {weight: {granularity: {type: per_block, axis: 2, block_size: 4}}}\n");
  CHECK(d.code == DiagCode::kInvalidValue);
  d = first("quantization_config:\n  global_config:\n    qat_schedule: {enable_observer: 0, disable_observer: 0}\n");
  CHECK(d.code == DiagCode::kInvalidSchedule);
  d = first("quantization_config:\n  global_config:\n    qat_schedule: {enable_fake_quant: 5, disable_observer: 3}\n");
  CHECK(d.code == DiagCode::kInvalidSchedule);
  CHECK(d.message == "disable_observer (3) must be >= enable_fake_quant (5)");
  d = first("quantization_config:\n  module_name_configs:\n    fc1:\n      op_name_config:\n        \"linear_(\": null\n");
  CHECK(d.code == DiagCode::kRegexSyntax);
  CHECK(d.location.line == 5);
  d = first("quantization_config:\n  global_config:\n    op_type_config:\n      linear: {module_input_spec: {}}\n");
  CHECK(d.code == DiagCode::kUnknownField);
  d = first("quantization_config:\n  global_config:\n    op_input_spec: {\"*\": {float_range: [1.0, 5.0]}}\n");
  CHECK(d.code == DiagCode::kInvalidSpec);
  CHECK(d.location.line == 3);
  d = first("quantization_config:\n  global_config:\n    op_input_spec: {x: {dtype: int8}, 1: null}\n");
  CHECK(d.code == DiagCode::kMixedKeys);
  CHECK(d.location.line == 3);
  d = first("");
  CHECK(d.code == DiagCode::kYamlInvalid);
  d = first("- 1\n- 2\n");
  CHECK(d.code == DiagCode::kYamlInvalid);
  d = first("quantization_config:\n");
  CHECK(d.code == DiagCode::kYamlInvalid);
  d = first("quantization_config: {}\n---\nquantization_config: {}\n");
  CHECK(d.code == DiagCode::kYamlSyntax);
  d = first("quantization_config:\n  global_config: {op_input_spec: *nope}\n");
  CHECK(d.code == DiagCode::kYamlSyntax);
}

TEST_CASE("coercions: digit strings, state keys, null and {}", "[interchange][yaml]") {
  auto rules = ImportAndCompile(
      "quantization_config:\n"
      "  module_type_configs:\n"
      "    my.Block:\n"
      "      op_input_spec: {\"01\": {dtype: int8}, \"*\": null}\n"
      "      op_output_spec: {\"-1\": null}\n"
      "      op_state_spec: {\"0\": {}, weight: null}\n"
      "      module_output_spec: {\"1\": null}\n"
      "    my.Other: {}\n"
      "    my.Off:\n");
  const auto& types = rules->config.module_type;
  REQUIRE(types.size() == 3);
  const auto& in = *types[0].config.op_input;
  CHECK(in.entries[0].key == TensorKey::Index(1));
  CHECK(in.entries[1].key == TensorKey::All());
  CHECK(types[0].config.op_output->entries[0].key == TensorKey::Name("-1"));  // "-1" stays a string
  const auto& st = *types[0].config.op_state;
  CHECK(st.entries[0].key == TensorKey::Name("0"));  // state keys stay strings
  REQUIRE(st.entries[0].spec.has_value());            // {} is the bare QuantizationSpec()
  CHECK(st.entries[0].spec->qparams == QParamsKind::kDefault);
  CHECK_FALSE(st.entries[1].spec.has_value());        // null: explicitly not quantized
  CHECK(types[0].config.module_output.entries[0].key == TensorKey::Index(1));
  CHECK_FALSE(types[1].disabled);                      // {}: the default module config
  CHECK_FALSE(types[1].config.op_input.has_value());
  CHECK(types[2].disabled);                            // empty value: disabled
  // computed fields that coreai_opt's model_dump() writes are accepted and ignored
  auto dumped = ImportAndCompile(
      "quantization_config:\n  global_config:\n    op_state_spec:\n      weight: {dtype: int4, n_bits: 4, quant_min: -8, "
      "quant_max: 7, target_dtype: int4, granularity: {type: per_channel, axis: 0}, float_range: [null, null], "
      "qparam_calculator_cls: static, range_calculator_cls: minmax, fake_quantize_cls: default, scale_dtype: null, "
      "qformulation: zp, qscheme: symmetric}\n");
  const auto& w = dumped->config.global->op_state->entries[0].spec;
  REQUIRE(w);
  CHECK(w->dtype == Dtype::kInt4);
  CHECK(w->qparams == QParamsKind::kStatic);
}

TEST_CASE("anchors, aliases and merge keys follow PyYAML", "[interchange][yaml]") {
  auto rules = ImportAndCompile(
      "quantization_spec:\n"
      "  a: &a {dtype: int4, qscheme: asymmetric}\n"
      "  b: &b {dtype: uint8, qformulation: minval}\n"
      "  cfg: &cfg\n"
      "    op_input_spec: {'*': *a}\n"
      "quantization_config:\n"
      "  global_config:\n"
      "    <<: *cfg\n"
      "    op_output_spec:\n"
      "      '*': {<<: [*a, *b], qscheme: symmetric}\n"
      "      0: {<<: *b}\n");
  const ModuleQuantizerConfig& g = *rules->config.global;
  REQUIRE(g.op_input);
  CHECK(g.op_input->entries[0].spec->dtype == Dtype::kInt4);
  CHECK(g.op_input->entries[0].spec->name == "a");
  const auto& out = *g.op_output;
  // [*a, *b]: the earlier mapping wins (dtype from a), an explicit key wins over both.
  CHECK(out.entries[0].spec->dtype == Dtype::kInt4);
  CHECK(out.entries[0].spec->qformulation == QFormulation::kMinval);
  CHECK(out.entries[0].spec->qscheme == QScheme::kSymmetric);
  CHECK(out.entries[1].spec->dtype == Dtype::kUint8);
  CHECK(out.entries[1].spec->qformulation == QFormulation::kMinval);
}

TEST_CASE("comments are kept, attached to the next entry", "[interchange][yaml]") {
  YamlImportResult r = ImportText(
      "# top of file\n"
      "quantization_config:\n"
      "  # the global part\n"
      "  global_config:\n"
      "    op_input_spec: null  # no inputs\n"
      "  module_name_configs:\n"
      "    # the head stays float\n"
      "    head: null\n"
      "# end of file\n");
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  CHECK(r.text ==
        "qrules 1\n\n"
        "# top of file\n"
        "# the global part\n"
        "global {\n"
        "  op_input: none  # no inputs\n"
        "}\n\n"
        "# the head stays float\n"
        "module_name /head/: none\n\n"
        "# end of file\n");
  YamlImportOptions o;
  o.keep_comments = false;
  YamlImportResult bare = ImportCoreaiYaml(std::make_shared<const Source>("a.yaml", "# x\nquantization_config: {}\n"), o);
  CHECK(bare.text == "qrules 1\n");
}

TEST_CASE("export: disabled is null, omitted is omitted, exact names are escaped", "[interchange][export]") {
  auto rules = CompileText(
      "qrules 1\n\n"
      "spec w4 {\n  dtype: int4\n  granularity: per_block(axis: 1, block_size: 32)\n  qparams: static\n}\n\n"
      "global: none\n\n"
      "module_name \"model.layers.0\" {\n  op_input: none\n  op_state { weight: w4, bias: none }\n"
      "  op_name \"linear_1\": none\n  op_name /matmul_\\d+/ { op_output {} }\n}\n\n"
      "module_type \"my.Block\" {\n  module_input { 0: { dtype: uint8, qscheme: asymmetric, float_range: [-1, 6] } }\n"
      "  qat_schedule { enable_fake_quant: 10 }\n}\n\n"
      "module_type \"my.Off\": none\n\n"
      "module_type \"my.Default\" {}\n");
  YamlExportResult y = ExportCoreaiYaml(*rules);
  INFO(RenderText(y.diagnostics));
  REQUIRE(y.ok());
  CHECK(y.text ==
        "quantization_config:\n"
        "  global_config: null\n"
        "  module_type_configs:\n"
        "    my.Block:\n"
        "      module_input_spec:\n"
        "        0: {dtype: uint8, qscheme: asymmetric, qformulation: zp, granularity: {type: per_tensor}, "
        "fake_quantize_cls: default, qparam_calculator_cls: default, range_calculator_cls: minmax, "
        "float_range: [-1.0, 6.0], scale_dtype: null}\n"
        "      qat_schedule: {enable_observer: 0, enable_fake_quant: 10, disable_observer: null}\n"
        "    my.Off: null\n"
        "    my.Default: {}\n"
        "  module_name_configs:\n"
        "    'model\\.layers\\.0':\n"
        "      op_input_spec: null\n"
        "      op_state_spec:\n"
        "        weight: {dtype: int4, qscheme: symmetric, qformulation: zp, granularity: {type: per_block, axis: 1, "
        "block_size: 32}, fake_quantize_cls: default, qparam_calculator_cls: static, range_calculator_cls: minmax, "
        "float_range: [null, null], scale_dtype: null}\n"
        "        bias: null\n"
        "      op_name_config:\n"
        "        linear_1: null\n"
        "        'matmul_\\d+':\n"
        "          op_output_spec: null\n");
  // No global at all: global_config absent.
  YamlExportResult d = ExportCoreaiYaml(*CompileText("qrules 1\n"));
  CHECK(d.text == "quantization_config: {}\n");
  YamlExportResult g = ExportCoreaiYaml(*CompileText("qrules 1\n\nglobal {}\n"));
  CHECK(g.text == "quantization_config:\n  global_config: {}\n");
  CHECK(EscapeRegex("a.b[0](x)+") == "a\\.b\\[0\\]\\(x\\)\\+");
}

TEST_CASE("export warns about what coreai_opt cannot express", "[interchange][export]") {
  auto rules = CompileText(
      "qrules 1\n\nmodule_type \"my.Block\" expect 2 {\n  op_input { *: { qparams: moving_average(averaging_constant: 0.5) } }\n}\n");
  YamlExportResult y = ExportCoreaiYaml(*rules);
  REQUIRE(y.diagnostics.size() == 2);
  for (const auto& d : y.diagnostics) CHECK(d.severity == Severity::kWarning);
  // The extension field still round-trips through qrules import.
  YamlImportResult back = ImportText(y.text);
  INFO(RenderText(back.diagnostics));
  REQUIRE(back.ok());
  CHECK(back.text.find("moving_average(averaging_constant: 0.5)") != std::string::npos);
}

TEST_CASE("round trip: YAML -> qrules -> YAML -> qrules resolves to the same plan on every model", "[interchange][roundtrip]") {
  testing::InSourceDir in_source;
  std::vector<std::string> models = {"fmnist_mlp", "fmnist_cnn", "fmnist_cnn_bn", "tiny_llm.qir", "tiny_decoder.qir"};
  std::vector<std::shared_ptr<const Model>> loaded;
  for (const auto& m : models) loaded.push_back(LoadModel(m));
  std::vector<std::pair<std::string, std::shared_ptr<const CompiledRules>>> cases;
  for (const auto& yaml : testing::FilesWithExtension(kGolden, ".yaml")) {
    if (yaml.parent_path().filename() != "yaml") continue;
    YamlImportResult r = ImportCoreaiYamlFile(yaml.string());
    REQUIRE(r.ok());
    cases.push_back({yaml.string(), CompileText(r.text)});
  }
  // The shipped presets too: qrules -> YAML -> qrules.
  for (const auto& q : testing::FilesWithExtension("rules", ".qrules")) {
    CompileResult c = CompileFile(q.string());
    REQUIRE(c.ok());
    cases.push_back({q.string(), c.rules});
  }
  // The eight forms of grammar/COREAI-YAML.md and every preset (at least the seven shipped).
  REQUIRE(cases.size() >= 8 + 7);
  for (const auto& [name, first] : cases) {
    SECTION(name) {
      YamlExportResult y = ExportCoreaiYaml(*first);
      REQUIRE(y.ok());
      YamlImportResult back = ImportText(y.text, "exported.yaml");
      INFO(y.text << RenderText(back.diagnostics));
      REQUIRE(back.ok());
      auto second = CompileText(back.text);
      // Exporting again gives the same YAML.
      CHECK(ExportCoreaiYaml(*second).text == y.text);
      for (size_t i = 0; i < loaded.size(); ++i) {
        INFO("model " << models[i]);
        PlanResult a = Resolve(first, loaded[i], ResolveOptions{.lint = false});
        PlanResult b = Resolve(second, loaded[i], ResolveOptions{.lint = false});
        // Every case resolves on every model: a case that resolved nowhere would compare nothing.
        REQUIRE(a.ok());
        REQUIRE(b.ok());
        CHECK(PlanMeaning(*a.plan) == PlanMeaning(*b.plan));
      }
    }
  }
}
