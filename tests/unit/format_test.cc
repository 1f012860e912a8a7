// qrules fmt: canonical, idempotent, comment-preserving, meaning-preserving.
#include <catch2/catch.hpp>

#include "qrules/compile.h"
#include "qrules/format.h"
#include "test_util.h"

using namespace qrules;

namespace {

std::string Fmt(const std::string& text) {
  FormatResult f = Format(std::make_shared<const Source>("t.qrules", text));
  INFO(RenderText(f.diagnostics));
  REQUIRE(f.ok);
  return f.text;
}

size_t CountComments(const std::string& text) {
  size_t n = 0;
  for (size_t p = text.find('#'); p != std::string::npos; p = text.find('#', p + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("fmt prints the canonical layout", "[format]") {
  // Written by hand from the layout rules in include/qrules/format.h.
  const std::string messy = R"(qrules   1
# presets
import "a.qrules"
import "b.qrules"
spec   act8{dtype:int8,qscheme :symmetric # trailing
granularity:per_block( block_size:(1,32) )}
global{op_input{*:act8,0:none}
op_type linear{op_state{weight:act8{dtype:int4}}}


op_type cat:none
qat_schedule{enable_observer:0 enable_fake_quant:10}}
module_name /a\.b/ expect>=1:none
)";
  const std::string expected = R"(qrules 1

# presets
import "a.qrules"
import "b.qrules"

spec act8 {
  dtype: int8
  qscheme: symmetric  # trailing
  granularity: per_block(block_size: (1, 32))
}

global {
  op_input { *: act8, 0: none }
  op_type linear { op_state { weight: act8 { dtype: int4 } } }

  op_type cat: none
  qat_schedule { enable_observer: 0, enable_fake_quant: 10 }
}

module_name /a\.b/ expect >= 1: none
)";
  CHECK(Fmt(messy) == expected);
  CHECK(Fmt(expected) == expected);
}

TEST_CASE("fmt breaks maps with comments or long lines over several lines", "[format]") {
  const std::string in =
      "qrules 1\n\nglobal {\n  op_input {\n    # first input\n    0: none\n    1: none  # second\n  }\n}\n";
  CHECK(Fmt(in) == in);
  std::string long_map = "qrules 1\nglobal {\n  op_input {";
  for (int i = 0; i < 12; ++i) long_map += " " + std::to_string(i) + ": none,";
  long_map += " }\n}\n";
  std::string out = Fmt(long_map);
  CHECK(out.find("    11: none\n") != std::string::npos);
  CHECK(Fmt(out) == out);
}

TEST_CASE("fmt is idempotent, keeps comments and meaning on every file in the repository", "[format]") {
  testing::InSourceDir cd;
  std::vector<std::filesystem::path> files;
  for (const char* dir : {"rules", "examples", "tests/golden", "tests/fuzz/corpus"}) {
    auto more = testing::FilesWithExtension(dir, ".qrules");
    files.insert(files.end(), more.begin(), more.end());
  }
  REQUIRE(files.size() >= 20);
  for (const auto& p : files) {
    INFO(p.string());
    std::string text = testing::ReadText(p);
    FormatResult once = Format(std::make_shared<const Source>(p.string(), text));
    if (!once.ok) continue;  // syntax-error goldens
    FormatResult twice = Format(std::make_shared<const Source>(p.string(), once.text));
    REQUIRE(twice.ok);
    CHECK(twice.text == once.text);
    CHECK(CountComments(once.text) == CountComments(text));
    // Same diagnostics codes before and after formatting (same meaning, same problems).
    CompileResult a = Compile(std::make_shared<const Source>(p.string(), text));
    CompileResult b = Compile(std::make_shared<const Source>(p.string(), once.text));
    CHECK(a.diagnostics.size() == b.diagnostics.size());
    CHECK(a.ok() == b.ok());
  }
}

TEST_CASE("fmt keeps a comment-only block and comments above the header stable", "[format]") {
  // Found by the fuzzer: a tensor map holding only a comment gained a blank line on the second run.
  const std::string in = "qrules 1\n\nglobal {\n  op_state {\n    # x\n  }\n}\n";
  CHECK(Fmt(in) == in);
  CHECK(Fmt(Fmt(in)) == in);
  const std::string header_comment = "# about this file\nqrules 1\n\nglobal: none\n";
  CHECK(Fmt(header_comment) == header_comment);
}
