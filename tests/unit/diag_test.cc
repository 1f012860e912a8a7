#include <catch2/catch.hpp>

#include <set>

#include "qrules/diagnostic.h"

using namespace qrules;

TEST_CASE("source locates offsets as 1-based line and byte column", "[diag]") {
  Source src("a.qrules", "qrules 1\n\nspec x {\n");
  CHECK(src.Locate(0).line == 1);
  CHECK(src.Locate(0).column == 1);
  CHECK(src.Locate(9).line == 2);
  CHECK(src.Locate(15).line == 3);
  CHECK(src.Locate(15).column == 6);  // "spec x": the x is the 6th byte of line 3
  CHECK(src.LineText(3) == "spec x {");
  CHECK(src.LineText(4).empty());
}

TEST_CASE("text rendering is clang-style with caret and suggestion", "[diag]") {
  auto src = std::make_shared<const Source>("r.qrules", "qrules 1\nspec a {\n  dtype: int7\n}\n");
  Diagnostic d = MakeDiagnostic(DiagCode::kUnknownDtype, DiagLocation::From(*src, 27, 31),
                                "unknown dtype 'int7'");
  d.suggestions.push_back("int4");
  std::vector<Diagnostic> v{d};
  CHECK(RenderText(v) ==
        "r.qrules:3:10: error: unknown dtype 'int7' [unknown-dtype]\n"
        "    3 |   dtype: int7\n"
        "      |          ^~~~\n"
        "r.qrules:3:10: note: did you mean 'int4'?\n");
}

TEST_CASE("every diagnostic code is unique and kebab-case", "[diag]") {
  std::set<std::string_view> seen;
  for (const auto& k : AllDiagnosticKinds()) {
    CHECK(seen.insert(k.id).second);
    for (char c : k.id) CHECK(((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'));
    CHECK(FindDiagnosticKind(k.id) == &k);
  }
  CHECK(FindDiagnosticKind("no-such-code") == nullptr);
}

TEST_CASE("suggestions come from edit distance and reject unrelated words", "[diag]") {
  std::vector<std::string_view> dtypes{"int8", "int4", "uint8", "float8_e4m3fn"};
  CHECK(SuggestSimilar("int7", dtypes) == std::vector<std::string>{"int8"});
  CHECK(SuggestSimilar("flaot8_e4m3fn", dtypes) == std::vector<std::string>{"float8_e4m3fn"});
  CHECK(SuggestSimilar("bogus", dtypes).empty());
  CHECK(EditDistance("kitten", "sitting") == 3);
  CHECK(EditDistance("ab", "ba") == 1);
}

TEST_CASE("severity overrides and werror", "[diag]") {
  std::vector<Diagnostic> v{MakeDiagnostic(DiagCode::kUnescapedDot, {}, "x"),
                            MakeDiagnostic(DiagCode::kShortTypeName, {}, "y")};
  CHECK_FALSE(HasErrors(v));
  SeverityOptions o;
  o.overrides["unescaped-dot"] = Severity::kError;
  auto w = ApplySeverityOptions(v, o);
  CHECK(w[0].severity == Severity::kError);
  CHECK(w[1].severity == Severity::kWarning);
  o.warnings_as_errors = true;
  CHECK(CountSeverity(ApplySeverityOptions(v, o), Severity::kError) == 2);
}
