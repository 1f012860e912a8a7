// Golden diagnostics: every tests/golden/lint/NAME.qrules compiles to exactly the rendered text in
// NAME.expected (full text, carets included).  QRULES_UPDATE_GOLDEN=1 rewrites the .expected files
// and fails — only for reviewing a deliberate change; every expected file was written by hand first.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <set>

#include "qrules/compile.h"
#include "qrules/ir.h"
#include "qrules/plan.h"
#include "test_util.h"

using namespace qrules;
using namespace qrules::testing;

namespace {

// Compares `actual` with NAME.expected next to `path` (see CheckGolden for QRULES_UPDATE_GOLDEN).
void CompareWithExpected(const std::filesystem::path& path, const std::string& actual) {
  std::filesystem::path expected_path = path;
  expected_path.replace_extension(".expected");
  CheckGolden(expected_path, actual);
}

}  // namespace

TEST_CASE("golden lint diagnostics match their expected text", "[golden]") {
  InSourceDir cd;
  auto files = FilesWithExtension("tests/golden/lint", ".qrules");
  REQUIRE(files.size() >= 20);
  for (const auto& path : files) CompareWithExpected(path, RenderText(CompileFile(path.string()).diagnostics));
}

TEST_CASE("every language diagnostic code has a golden test", "[golden]") {
  InSourceDir cd;
  std::set<std::string> covered;
  for (const auto& path : FilesWithExtension("tests/golden", ".expected")) {
    std::string text = ReadText(path);
    for (size_t p = text.find(" ["); p != std::string::npos; p = text.find(" [", p + 1)) {
      size_t e = text.find("]\n", p);
      if (e != std::string::npos) covered.insert(text.substr(p + 2, e - p - 2));
    }
  }
  // The codes the language was designed to guarantee, a subset of grammar/REFERENCE.md's
  // Diagnostics table (the last three need a model: lint_model/).
  for (const char* code : {"syntax", "unknown-field", "unknown-dtype", "unknown-qscheme",
                           "unknown-granularity", "unknown-qparams", "invalid-spec", "regex-syntax",
                           "mixed-keys", "global-module-spec", "duplicate-entry", "unknown-spec",
                           "spec-cycle", "import-not-found", "import-cycle", "invalid-schedule",
                           "unescaped-dot", "short-type-name", "shadowed-entry", "unmatched-rule",
                           "inert-rule", "expectation-failed"}) {
    INFO(code);
    CHECK(covered.count(code) == 1);
  }
}

// With a model: tests/golden/lint_model/NAME.qrules resolved against lint_model/model.qir; the
// compile diagnostics followed by the resolution diagnostics, as `qrules lint --model` prints them.
TEST_CASE("golden model-aware lint diagnostics match their expected text", "[golden]") {
  InSourceDir cd;
  ModelResult model = LoadModelTextFile("tests/golden/lint_model/model.qir");
  INFO(RenderText(model.diagnostics));
  REQUIRE(model.ok());
  auto files = FilesWithExtension("tests/golden/lint_model", ".qrules");
  REQUIRE(files.size() >= 4);
  for (const auto& path : files) {
    CompileResult r = CompileFile(path.string());
    std::vector<Diagnostic> all = r.diagnostics;
    if (r.ok()) {
      PlanResult p = Resolve(r.rules, model.model);
      all.insert(all.end(), p.diagnostics.begin(), p.diagnostics.end());
    }
    CompareWithExpected(path, RenderText(all));
  }
}
