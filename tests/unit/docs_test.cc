// The documentation and the shipped rule files are checked, not trusted:
//   * every ```qrules fence in grammar/REFERENCE.md and README.md is a complete file that compiles
//     with no diagnostics at all (REFERENCE.md's are also already in `qrules fmt` form);
//   * every ```qrules-warning fence compiles (no errors) with at least one warning;
//   * every ```qrules-error fence fails with at least one error;
//   * every .qrules file in rules/ and examples/ compiles with zero diagnostics and is a fixed
//     point of Format;
//   * the diagnostic table of REFERENCE.md lists every code of diagnostic_kinds.def.
// Fences are compiled as if they were files in rules/, so `import "specs.qrules"` in an example
// refers to rules/specs.qrules.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "qrules/compile.h"
#include "qrules/format.h"
#include "qrules/op_table.h"
#include "sema/sema.h"

using namespace qrules;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = QRULES_SOURCE_DIR;

std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Fence {
  std::string kind;  // "qrules", "qrules-error", "qrules-warning"
  int line = 0;      // 1-based line of the opening fence
  std::string text;
};

// The fenced blocks whose info string is qrules, qrules-error or qrules-warning.  Other fences
// (```text, ```sh, ...) are skipped.  An unterminated fence is reported as a failure.
std::vector<Fence> ExtractFences(const std::string& doc, const std::string& doc_name) {
  std::vector<Fence> out;
  std::istringstream in(doc);
  std::string line;
  int n = 0;
  bool inside = false;
  bool wanted = false;
  Fence cur;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!inside) {
      if (line.rfind("```", 0) == 0) {
        inside = true;
        std::string info = line.substr(3);
        info.erase(0, info.find_first_not_of(' '));
        info.erase(info.find_last_not_of(' ') + 1);
        wanted = info == "qrules" || info == "qrules-error" || info == "qrules-warning";
        cur = Fence{info, n, {}};
      }
    } else if (line.rfind("```", 0) == 0) {
      inside = false;
      if (wanted) out.push_back(cur);
    } else if (wanted) {
      cur.text += line;
      cur.text += '\n';
    }
  }
  INFO(doc_name);
  CHECK_FALSE(inside);
  return out;
}

std::string Describe(const std::vector<Diagnostic>& d) { return RenderText(d); }

// `canonical`: ```qrules fences must also be in `qrules fmt` form (REFERENCE.md shows the style).
void CheckFences(const fs::path& doc_path, size_t min_fences, bool canonical) {
  // A document that moved or vanished is a failure, not a skip: its examples would go unchecked.
  REQUIRE(fs::exists(doc_path));
  std::string doc = ReadAll(doc_path);
  std::vector<Fence> fences = ExtractFences(doc, doc_path.string());
  CHECK(fences.size() >= min_fences);
  for (const Fence& f : fences) {
    std::string where = doc_path.filename().string() + ":" + std::to_string(f.line);
    // Named as a file in rules/, so that imports of the standard specs resolve.
    auto src = std::make_shared<const Source>((kRoot / "rules" / (where + ".qrules")).string(), f.text);
    CompileResult r = Compile(src);
    INFO("```" << f.kind << " fence at " << where << "\n" << f.text << "\n" << Describe(r.diagnostics));
    if (f.kind == "qrules") {
      CHECK(f.text.rfind("qrules 1\n", 0) == 0);
      CHECK(r.ok());
      CHECK(r.diagnostics.empty());
      FormatResult fr = Format(src);
      REQUIRE(fr.ok);
      if (canonical) CHECK(fr.text == f.text);
    } else if (f.kind == "qrules-warning") {
      CHECK(r.ok());
      CHECK(CountSeverity(r.diagnostics, Severity::kWarning) >= 1);
    } else {
      CHECK_FALSE(r.ok());
      CHECK(HasErrors(r.diagnostics));
    }
  }
}

std::vector<fs::path> QrulesFiles(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".qrules") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("every qrules example in grammar/REFERENCE.md lints as documented", "[docs]") {
  CheckFences(kRoot / "grammar" / "REFERENCE.md", 40, /*canonical=*/true);
}

TEST_CASE("every qrules example in README.md lints as documented", "[docs]") {
  CheckFences(kRoot / "README.md", 1, /*canonical=*/false);
}

TEST_CASE("the fence extractor sees kinds, lines and text", "[docs]") {
  std::string doc = "# t\n```qrules\nqrules 1\n```\n\n```sh\nls\n```\n```qrules-error\nx\n```\n";
  std::vector<Fence> f = ExtractFences(doc, "t.md");
  REQUIRE(f.size() == 2);
  CHECK(f[0].kind == "qrules");
  CHECK(f[0].line == 2);
  CHECK(f[0].text == "qrules 1\n");
  CHECK(f[1].kind == "qrules-error");
  CHECK(f[1].text == "x\n");
}

TEST_CASE("rules/ and examples/ compile with zero diagnostics and are fmt-canonical", "[docs]") {
  std::vector<fs::path> files = QrulesFiles(kRoot / "rules");
  CHECK(files.size() >= 7);
  std::vector<fs::path> examples = QrulesFiles(kRoot / "examples");
  CHECK(examples.size() >= 3);
  files.insert(files.end(), examples.begin(), examples.end());
  for (const fs::path& p : files) {
    CompileResult r = CompileFile(p.string());
    INFO(p.string() << "\n" << Describe(r.diagnostics));
    CHECK(r.ok());
    CHECK(r.diagnostics.empty());
    std::string text = ReadAll(p);
    FormatResult f = Format(std::make_shared<const Source>(p.string(), text));
    REQUIRE(f.ok);
    CHECK(f.text == text);
  }
}

TEST_CASE("rules/w8a8.qrules is the default configuration written out (§c.9)", "[docs]") {
  CompileResult r = CompileFile((kRoot / "rules" / "w8a8.qrules").string());
  INFO(Describe(r.diagnostics));
  REQUIRE(r.ok());
  CompileResult empty = Compile(std::make_shared<const Source>("empty.qrules", "qrules 1\n"));
  REQUIRE(empty.ok());
  OpQuantizerConfig written = r.rules->config.EffectiveGlobal().DefaultOpConfig();
  OpQuantizerConfig implied = empty.rules->config.EffectiveGlobal().DefaultOpConfig();
  auto same = [](const TensorSpecMap& a, const TensorSpecMap& b) {
    if (a.entries.size() != b.entries.size()) return false;
    for (size_t i = 0; i < a.entries.size(); ++i) {
      const auto& x = a.entries[i];
      const auto& y = b.entries[i];
      if (!(x.key == y.key) || x.spec.has_value() != y.spec.has_value()) return false;
      if (x.spec && !x.spec->SameNumerics(*y.spec)) return false;
    }
    return true;
  };
  CHECK(same(written.Input(), implied.Input()));
  CHECK(same(written.Output(), implied.Output()));
  CHECK(same(written.State(), implied.State()));
}

TEST_CASE("the weight-only presets disable activations and leave the weight axis open (§e)", "[docs]") {
  struct Case {
    const char* file;
    Dtype dtype;
    GranularityKind granularity;
  };
  const Case cases[] = {{"w8.qrules", Dtype::kInt8, GranularityKind::kPerChannel},
                        {"w4.qrules", Dtype::kInt4, GranularityKind::kPerChannel},
                        {"w4_per_block.qrules", Dtype::kInt4, GranularityKind::kPerBlock}};
  for (const Case& c : cases) {
    CompileResult r = CompileFile((kRoot / "rules" / c.file).string());
    INFO(c.file << "\n" << Describe(r.diagnostics));
    REQUIRE(r.ok());
    OpQuantizerConfig op = r.rules->config.EffectiveGlobal().DefaultOpConfig();
    CHECK(op.Input().empty());
    CHECK(op.Output().empty());
    TensorSpecMap state = op.State();  // by value: keep it alive while `w` points into it
    const TensorSpecEntry* w = state.Find(TensorKey::Name("weight"));
    REQUIRE(w != nullptr);
    REQUIRE(w->spec.has_value());
    CHECK(w->spec->dtype == c.dtype);
    CHECK(w->spec->qscheme == QScheme::kSymmetric);
    CHECK(w->spec->qparams == QParamsKind::kDefault);
    CHECK(w->spec->granularity.kind == c.granularity);
    CHECK_FALSE(w->spec->granularity.axis.has_value());
    if (c.granularity == GranularityKind::kPerBlock) {
      CHECK(w->spec->granularity.block_size == std::vector<int64_t>{32});
    }
  }
}

TEST_CASE("the diagnostic table of REFERENCE.md lists every code", "[docs]") {
  std::string doc = ReadAll(kRoot / "grammar" / "REFERENCE.md");
  for (const DiagnosticKind& k : AllDiagnosticKinds()) {
    INFO(k.id);
    CHECK(doc.find("| `" + std::string(k.id) + "` |") != std::string::npos);
  }
}

namespace {
// The op table as grammar/REFERENCE.md shows it, one row per torch op type.
std::string OpTableMarkdown() {
  std::string out = "| torch op type | ONNX op | inputs, by position | registered pattern | notes |\n";
  out += "|---|---|---|---|---|\n";
  for (const OpTypeInfo& i : AllOpTypes()) {
    std::string inputs;
    for (size_t k = 0; k < i.input_names.size(); ++k) {
      std::string name(i.input_names[k]);
      if (IsParameterRole(name)) name = "**" + name + "**";
      inputs += (k ? ", " : "") + name;
    }
    if (i.variadic) inputs += ", …";
    std::vector<std::string> notes;
    if (i.weight_input >= 0) {
      notes.push_back("weight axes: per_channel " + std::to_string(i.per_channel_axis) + ", per_block " +
                      std::to_string(i.per_block_axis));
    }
    if (i.shared_observer) notes.push_back("shares one fake-quant");
    if (i.activation) notes.push_back("activation");
    if (i.batch_norm) notes.push_back("folds into a conv pattern");
    if (i.channel_altering) notes.push_back("moves channels");
    std::string joined;
    for (size_t k = 0; k < notes.size(); ++k) joined += (k ? "; " : "") + notes[k];
    out += "| `" + std::string(i.type) + "` | " + (i.onnx_type.empty() ? "—" : "`" + std::string(i.onnx_type) + "`") +
           " | " + inputs + " | " + (i.pattern.empty() ? "—" : std::string(i.pattern)) + " | " + joined + " |\n";
  }
  return out;
}
}  // namespace

TEST_CASE("grammar/REFERENCE.md documents the op table as the code has it", "[docs]") {
  const std::string doc = ReadAll(kRoot / "grammar" / "REFERENCE.md");
  const std::string begin = "<!-- op-table: generated from src/ops/op_table.cc; docs_test checks it -->\n";
  const std::string end = "<!-- /op-table -->";
  const size_t a = doc.find(begin);
  const size_t b = doc.find(end);
  REQUIRE(a != std::string::npos);
  REQUIRE(b != std::string::npos);
  const std::string expected = OpTableMarkdown();
  INFO("expected table:\n" << expected);
  CHECK(doc.substr(a + begin.size(), b - a - begin.size()) == expected);
}

TEST_CASE("sema's registered op types are the op table's pattern keys", "[docs][ops]") {
  std::vector<std::string_view> keys;
  for (const OpTypeInfo& i : AllOpTypes()) {
    if (i.is_pattern_key()) keys.push_back(i.type);
  }
  auto sema = RegisteredPatternKeyOpTypes();
  CHECK(std::vector<std::string_view>(sema.begin(), sema.end()) == keys);
  // §b.5's list, written out: conv/conv_transpose, linear, embedding, matmul, add, mul, sub,
  // flatten, pools, mean, cat.
  for (const char* t : {"conv2d", "conv_transpose2d", "linear", "embedding", "matmul", "add", "mul", "sub", "flatten",
                        "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d", "mean", "cat"}) {
    INFO(t);
    CHECK(IsRegisteredOp(t));
  }
  for (const char* t : {"relu", "batch_norm", "layer_norm", "softmax", "prelu", "lstm", "div"}) {
    INFO(t);
    CHECK_FALSE(IsRegisteredOp(t));
  }
  // An ONNX op maps to its first row: a registered spelling where one exists.
  CHECK(FindOnnxOp("Add")->type == "add");
  CHECK(FindOnnxOp("Clip")->type == "hardtanh");
  CHECK(FindOnnxOp("Transpose")->type == "permute");
  CHECK(FindOnnxOp("MatMul")->type == "matmul");
  CHECK(FindOnnxOp("LSTM")->input_names[2] == "weight_hh");
  CHECK(FindOnnxOp("NoSuchOp") == nullptr);
}
