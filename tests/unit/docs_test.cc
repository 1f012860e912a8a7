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
