// The .qrules language builds exactly the configuration model of grammar/SEMANTICS.md §a.
#include <catch2/catch.hpp>

#include <filesystem>

#include "qrules/compile.h"
#include "test_util.h"

using namespace qrules;

namespace {

CompileResult CompileText(const std::string& text, const std::string& name = "test.qrules") {
  return Compile(std::make_shared<const Source>(name, text));
}

std::shared_ptr<const CompiledRules> MustCompile(const std::string& text) {
  CompileResult r = CompileText(text);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return r.rules;
}

const TensorSpecEntry& Entry(const TensorSpecMap& m, const TensorKey& k) {
  const TensorSpecEntry* e = m.Find(k);
  REQUIRE(e != nullptr);
  return *e;
}

}  // namespace

// The language's design example: specs, inheritance and every kind of scope and op entry in one
// file (grammar/REFERENCE.md).
constexpr const char* kDesignExample = R"(qrules 1

# A spec says how one tensor is quantized.
spec act8 {
  dtype: int8
  qscheme: symmetric
  granularity: per_tensor
  qparams: moving_average
}

spec w8 {
  dtype: int8
  granularity: per_channel
  qparams: static
}

spec w4 : w8 {
  dtype: int4
  granularity: per_block(block_size: 32)
}

spec mxfp4 {
  dtype: float4_e2m1fn_x2
  granularity: per_block(block_size: 32)
  scale_dtype: float8_e8m0fnu
}

global {
  op_input  { *: act8 }
  op_output { *: act8 }
  op_state  { weight: w8, bias: none }

  op_type linear {
    op_state { weight: w4 }
  }
  op_type cat: none
  op_name "linear_23" { op_output: none }
  op_name /conv2d_\d+/ { op_input { 0: act8 } }
}

module_type "torch.nn.modules.linear.Linear" {
  op_input: none
  op_output: none
  op_state { weight: w4 }
}

module_type "torch.nn.modules.activation.MultiheadAttention" {
  op_input: none
  op_output: none
  module_input  { 0: act8, 1: act8, 2: act8 }
  module_output { *: act8 }
}

module_name "model.lm_head": none
module_name /model\.layers\.\d+\.mlp/ {
  op_state { weight: w8 }
  qat_schedule { enable_observer: 0, enable_fake_quant: 100, disable_observer: 1000 }
}
)";

TEST_CASE("the design example builds the documented model", "[language]") {
  auto rules = MustCompile(kDesignExample);
  const QuantizerConfig& c = rules->config;
  REQUIRE(c.global.has_value());
  CHECK_FALSE(c.global_disabled);
  const ModuleQuantizerConfig& g = *c.global;
  // op_state { weight: w8, bias: none }: bias explicitly disabled, still an entry.
  REQUIRE(g.op_state.has_value());
  CHECK(g.op_state->entries.size() == 2);
  CHECK_FALSE(Entry(*g.op_state, TensorKey::Name("bias")).spec.has_value());
  const QuantizationSpec& w8 = *Entry(*g.op_state, TensorKey::Name("weight")).spec;
  CHECK(w8.dtype == Dtype::kInt8);
  CHECK(w8.granularity.kind == GranularityKind::kPerChannel);
  CHECK_FALSE(w8.granularity.axis.has_value());  // resolved from the consuming op later
  CHECK(w8.qparams == QParamsKind::kStatic);

  // op_type linear: used as a whole; omitted op_input/op_output are the class defaults (§a.2).
  REQUIRE(g.op_type.size() == 2);
  CHECK(g.op_type[0].op_type == "linear");
  OpQuantizerConfig lin = g.op_type[0].Effective();
  CHECK_FALSE(lin.op_input.has_value());
  TensorSpecMap lin_in = lin.Input();
  REQUIRE(lin_in.entries.size() == 1);
  CHECK(lin_in.entries[0].key == TensorKey::All());
  CHECK(lin_in.entries[0].spec->SameNumerics(DefaultActivationSpec()));
  const TensorSpecMap lin_state = lin.State();  // a value: keep it alive while w4 refers into it
  const QuantizationSpec& w4 = *Entry(lin_state, TensorKey::Name("weight")).spec;
  CHECK(w4.dtype == Dtype::kInt4);
  CHECK(w4.qparams == QParamsKind::kStatic);  // inherited from w8
  CHECK(w4.granularity.kind == GranularityKind::kPerBlock);
  CHECK(w4.granularity.block_size == std::vector<int64_t>{32});
  CHECK_FALSE(w4.granularity.block_is_tuple);

  // op_type cat: none = all three groups disabled.
  CHECK(g.op_type[1].op_type == "cat");
  CHECK_FALSE(g.op_type[1].config.has_value());
  OpQuantizerConfig cat = g.op_type[1].Effective();
  CHECK(cat.Input().empty());
  CHECK(cat.Output().empty());
  CHECK(cat.State().empty());

  REQUIRE(g.op_name.size() == 2);
  CHECK_FALSE(g.op_name[0].selector.is_regex);
  CHECK(g.op_name[0].selector.text == "linear_23");
  CHECK(g.op_name[0].config->op_output->empty());
  CHECK_FALSE(g.op_name[0].config->op_input.has_value());
  CHECK(g.op_name[1].selector.is_regex);
  CHECK(g.op_name[1].selector.text == "conv2d_\\d+");
  CHECK(Entry(*g.op_name[1].config->op_input, TensorKey::Index(0)).spec->name == "act8");

  REQUIRE(c.module_type.size() == 2);
  CHECK(c.module_type[0].type_name == "torch.nn.modules.linear.Linear");
  CHECK(c.module_type[0].config.op_input->empty());
  const ModuleQuantizerConfig& mha = c.module_type[1].config;
  CHECK(mha.module_input.entries.size() == 3);
  CHECK(mha.module_output.entries.size() == 1);

  REQUIRE(c.module_name.size() == 2);
  CHECK(c.module_name[0].disabled);
  CHECK(c.module_name[0].config.op_input->empty());
  CHECK(c.module_name[0].config.op_state->empty());
  REQUIRE(c.module_name[1].config.qat_schedule.has_value());
  const QATSchedule& s = *c.module_name[1].config.qat_schedule;
  CHECK(s.enable_observer == 0);
  CHECK(s.enable_fake_quant == 100);
  CHECK(s.disable_observer == 1000);

  const QuantizationSpec* mx = rules->FindSpec("mxfp4");
  REQUIRE(mx != nullptr);
  CHECK(mx->dtype == Dtype::kFloat4E2m1fnX2);
  CHECK(mx->EffectiveScaleDtype() == ScaleDtype::kFloat8E8m0fnu);
}

TEST_CASE("global omitted, none, and empty follow coreai_opt (§a.1, §a.4)", "[language]") {
  SECTION("absent global is the default W8A8 module config") {
    auto r = MustCompile("qrules 1\n");
    CHECK_FALSE(r->config.global.has_value());
    OpQuantizerConfig op = r->config.EffectiveGlobal().DefaultOpConfig();
    REQUIRE(op.op_input->entries.size() == 1);
    CHECK(op.op_input->entries[0].key == TensorKey::All());
    CHECK(op.op_input->entries[0].spec->SameNumerics(DefaultActivationSpec()));
    REQUIRE(op.op_state->entries.size() == 1);
    CHECK(op.op_state->entries[0].key == TensorKey::Name("weight"));
    const QuantizationSpec& w = *op.op_state->entries[0].spec;
    CHECK(w.SameNumerics(DefaultWeightSpec()));
    CHECK(w.granularity.kind == GranularityKind::kPerChannel);
    CHECK(w.granularity.axis == 0);
  }
  SECTION("global: none disables everything") {
    auto r = MustCompile("qrules 1\nglobal: none\n");
    REQUIRE(r->config.global.has_value());
    CHECK(r->config.global_disabled);
    OpQuantizerConfig op = r->config.global->DefaultOpConfig();
    CHECK(op.op_input->empty());
    CHECK(op.op_output->empty());
    CHECK(op.op_state->empty());
  }
  SECTION("global {} is the default module config; op_input {} and op_input: none both disable") {
    auto r = MustCompile("qrules 1\nglobal {\n  op_input {}\n  op_output: none\n}\n");
    const ModuleQuantizerConfig& g = *r->config.global;
    CHECK(g.op_input.has_value());
    CHECK(g.op_input->empty());
    CHECK(g.op_output->empty());
    CHECK_FALSE(g.op_state.has_value());  // omitted: class default
    CHECK(g.DefaultOpConfig().op_state->entries.size() == 1);
  }
}

TEST_CASE("spec fields: every value form", "[language]") {
  auto r = MustCompile(R"(qrules 1
spec a {
  dtype: uint4
  qscheme: asymmetric
  qformulation: minval
  granularity: per_block(block_size: (1, 32, -1))
  qparams: moving_average(averaging_constant: 0.05)
  range: minmax
  float_range: [none, 6.0]
  fake_quantize: default
}
spec b : a { granularity: per_channel(axis: -1), qparams: global_minmax, float_range: [-2.5, 2.5] }
spec c { dtype: float8_e5m2, scale_dtype: float8_e8m0fnu }
spec d { dtype: float4_e2m1fn }
)");
  const QuantizationSpec& a = *r->FindSpec("a");
  CHECK(a.dtype == Dtype::kUint4);
  CHECK(a.qscheme == QScheme::kAsymmetric);
  CHECK(a.qformulation == QFormulation::kMinval);
  CHECK(a.granularity.kind == GranularityKind::kPerBlock);
  CHECK(a.granularity.block_is_tuple);
  CHECK(a.granularity.block_size == std::vector<int64_t>{1, 32, -1});
  CHECK(a.qparams == QParamsKind::kMovingAverage);
  CHECK(a.averaging_constant == 0.05f);
  CHECK_FALSE(a.float_range_min.has_value());
  CHECK(a.float_range_max == 6.0f);
  const QuantizationSpec& b = *r->FindSpec("b");
  CHECK(b.dtype == Dtype::kUint4);  // inherited
  CHECK(b.granularity.kind == GranularityKind::kPerChannel);
  CHECK(b.granularity.axis == -1);
  CHECK(b.qparams == QParamsKind::kGlobalMinmax);
  CHECK(b.float_range_min == -2.5f);
  CHECK(r->FindSpec("c")->scale_dtype == ScaleDtype::kFloat8E8m0fnu);
  CHECK(r->FindSpec("d")->dtype == Dtype::kFloat4E2m1fnX2);  // coreai alias
}

TEST_CASE("inline specs, inline inheritance and expectations", "[language]") {
  auto r = MustCompile(R"(qrules 1
spec act8 { qparams: static }
module_name /layers\.\d+/ expect >= 2 {
  op_input { 0: act8 { dtype: uint8 }, 1: { dtype: int4 } }
  op_type linear expect 3 { op_input: none }
}
)");
  const ModuleNameEntry& e = r->config.module_name.at(0);
  REQUIRE(e.expect.has_value());
  CHECK(e.expect->op == Expectation::Op::kGe);
  CHECK(e.expect->count == 2);
  CHECK(e.expect->Holds(2));
  CHECK_FALSE(e.expect->Holds(1));
  const QuantizationSpec& in0 = *Entry(*e.config.op_input, TensorKey::Index(0)).spec;
  CHECK(in0.dtype == Dtype::kUint8);
  CHECK(in0.qparams == QParamsKind::kStatic);
  const QuantizationSpec& in1 = *Entry(*e.config.op_input, TensorKey::Index(1)).spec;
  CHECK(in1.dtype == Dtype::kInt4);
  CHECK(in1.qparams == QParamsKind::kDefault);
  REQUIRE(e.config.op_type.at(0).expect.has_value());
  CHECK(e.config.op_type.at(0).expect->count == 3);
  CHECK(e.config.op_type.at(0).expect->op == Expectation::Op::kEq);
}

TEST_CASE("imports bring in specs, resolve relative to the importer, and are idempotent", "[language]") {
  auto dir = std::filesystem::temp_directory_path() / "qrules_import_test";
  std::filesystem::create_directories(dir / "lib");
  testing::WriteText(dir / "lib" / "base.qrules", "qrules 1\nspec w8 { granularity: per_channel }\n");
  testing::WriteText(dir / "lib" / "more.qrules",
                     "qrules 1\nimport \"base.qrules\"\nspec w4 : w8 { dtype: int4 }\n");
  testing::WriteText(dir / "main.qrules",
                     "qrules 1\nimport \"lib/base.qrules\"\nimport \"lib/more.qrules\"\n"
                     "global { op_state { weight: w4 } }\n");
  CompileResult r = CompileFile((dir / "main.qrules").string());
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  CHECK(r.diagnostics.empty());
  CHECK(r.rules->sources.size() == 3);
  const QuantizationSpec& w = *Entry(*r.rules->config.global->op_state, TensorKey::Name("weight")).spec;
  CHECK(w.dtype == Dtype::kInt4);
  CHECK(w.granularity.kind == GranularityKind::kPerChannel);
}

TEST_CASE("schedule rules of §a.5", "[language]") {
  auto check_error = [](const std::string& body, const std::string& message) {
    CompileResult r = CompileText("qrules 1\nglobal { qat_schedule { " + body + " } }\n");
    REQUIRE_FALSE(r.ok());
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].code == DiagCode::kInvalidSchedule);
    CHECK(r.diagnostics[0].message == message);
  };
  check_error("enable_observer: 3, enable_fake_quant: 2", "enable_fake_quant (2) must be >= enable_observer (3)");
  check_error("enable_observer: 3, enable_fake_quant: 3, disable_observer: 3",
              "disable_observer (3) must be > enable_observer (3)");
  check_error("enable_observer: 1, enable_fake_quant: 5, disable_observer: 4",
              "disable_observer (4) must be >= enable_fake_quant (5)");
  check_error("disable_observer: 0", "disable_observer must be > 0, got 0");
  check_error("enable_observer: -1", "enable_observer must be >= 0, got -1");
  auto ok = MustCompile("qrules 1\nglobal { qat_schedule { enable_observer: 1, enable_fake_quant: 2, disable_observer: 5 } }\n");
  const QATSchedule& s = *ok->config.global->qat_schedule;
  // §d example (1, 2, 5): s=0 off/off; 1 on/off; 2-4 on/on; >=5 off/on.
  CHECK((!s.ObserverOn(0) && !s.FakeQuantOn(0)));
  CHECK((s.ObserverOn(1) && !s.FakeQuantOn(1)));
  CHECK((s.ObserverOn(4) && s.FakeQuantOn(4)));
  CHECK((!s.ObserverOn(5) && s.FakeQuantOn(5)));
}

TEST_CASE("state maps take no indices, and mixed keys and misplaced groups are errors", "[language]") {
  auto codes = [](const std::string& text) {
    std::vector<DiagCode> out;
    for (const auto& d : CompileText(text).diagnostics) out.push_back(d.code);
    return out;
  };
  CHECK(codes("qrules 1\nglobal { op_state { 0: none } }\n") == std::vector<DiagCode>{DiagCode::kInvalidKey});
  CHECK(codes("qrules 1\nglobal { op_output { *: none, 0: none } }\n").empty());
  CHECK(codes("qrules 1\nglobal { op_type linear { module_input { 0: none } } }\n") ==
        std::vector<DiagCode>{DiagCode::kMisplacedGroup});
  CHECK(codes("qrules 1\nglobal { op_type softmax: none }\n") ==
        std::vector<DiagCode>{DiagCode::kUnregisteredOpType});
  CHECK(codes("qrules 1\nspec a { granularity: per_block(block_size: 0) }\n") ==
        std::vector<DiagCode>{DiagCode::kInvalidValue});
  CHECK(codes("qrules 1\nspec a { granularity: per_block(axis: 2, block_size: 4) }\n") ==
        std::vector<DiagCode>{DiagCode::kInvalidValue});
  CHECK(codes("qrules 1\nspec a { granularity: per_tensor(axis: 0) }\n") ==
        std::vector<DiagCode>{DiagCode::kUnknownField});
  CHECK(codes("qrules 1\nspec a { dtype: float8_e4m3fn, qformulation: minval }\n") ==
        std::vector<DiagCode>{DiagCode::kInvalidSpec});
  CHECK(codes("qrules 1\nspec a {}\nspec a {}\n") == std::vector<DiagCode>{DiagCode::kRedefinedSpec});
  CHECK(codes("qrules 1\nmodule_name \"m\": none\nmodule_name \"m\": none\n") ==
        std::vector<DiagCode>{DiagCode::kDuplicateEntry});
  // The same text as a regex is another selector (not a duplicate); being later, it wins.
  CHECK(codes("qrules 1\nmodule_name \"m\": none\nmodule_name /m/: none\n") ==
        std::vector<DiagCode>{DiagCode::kShadowedEntry});
  CHECK(codes("qrules 1\nglobal { op_name /l\\d/: none, op_name /l\\d/: none }\n") ==
        std::vector<DiagCode>{DiagCode::kDuplicateEntry});
  CHECK(codes("qrules 1\nspec a {}\nglobal { op_input { *: none } }\n") ==
        std::vector<DiagCode>{DiagCode::kUnusedSpec});
}

TEST_CASE("malformed input never crashes and always reports", "[language][robustness]") {
  std::string good = kDesignExample;
  SECTION("every truncation of a valid file parses or reports a diagnostic") {
    for (size_t n = 0; n < good.size(); n += 7) {
      CompileResult r = CompileText(good.substr(0, n));
      CHECK((r.ok() || !r.diagnostics.empty()));
    }
  }
  SECTION("binary garbage and invalid UTF-8") {
    std::string garbage;
    uint32_t x = 12345;
    for (int i = 0; i < 4096; ++i) {
      x = x * 1664525u + 1013904223u;
      garbage += static_cast<char>(x >> 24);
    }
    CompileResult r = CompileText(garbage);
    REQUIRE_FALSE(r.ok());
    CompileResult u = CompileText("qrules 1\n# caf\xc3\n");
    REQUIRE_FALSE(u.ok());
    CHECK(u.diagnostics.at(0).code == DiagCode::kInvalidEncoding);
    CHECK(u.diagnostics.at(0).location.line == 2);
    CompileResult ok_utf8 = CompileText("qrules 1\n# caf\xc3\xa9 \xe2\x9c\x93\n");
    CHECK(ok_utf8.ok());
  }
  SECTION("100,000 levels of nesting give one syntax error, not a stack overflow") {
    std::string deep = "qrules 1\nglobal " + std::string(100000, '{') + std::string(100000, '}');
    CompileResult r = CompileText(deep);
    REQUIRE_FALSE(r.ok());
    CHECK(r.diagnostics.at(0).code == DiagCode::kSyntax);
    std::string deep_paren = "qrules 1\nspec a { granularity: per_block(block_size: " + std::string(100000, '(');
    CHECK_FALSE(CompileText(deep_paren).ok());
  }
  SECTION("a 10 MB file and a 1 MB regex") {
    std::string big = "qrules 1\n";
    while (big.size() < 10'000'000) big += "module_name \"m" + std::to_string(big.size()) + "\": none\n";
    CompileResult r = CompileText(big);
    CHECK(r.ok());
    std::string regex = "qrules 1\nmodule_name /" + std::string(1'000'000, 'a') + "/: none\n";
    CompileResult rr = CompileText(regex);
    CHECK((rr.ok() || !rr.diagnostics.empty()));
  }
  SECTION("a directory or a missing file is an io-error without a position") {
    CompileResult r = CompileFile(std::filesystem::temp_directory_path().string());
    REQUIRE(r.diagnostics.size() == 1);
    CHECK(r.diagnostics[0].code == DiagCode::kIoError);
    CHECK(r.diagnostics[0].location.line == 0);
    CHECK(CompileFile("/nonexistent/x.qrules").diagnostics.at(0).code == DiagCode::kIoError);
  }
}
