// Every input a fuzzer crashed on (tests/fuzz, run_fuzz.sh) stays here as a regression case:
// tests/data/fuzz_regressions/<format>/.  Each must now give a result or a diagnostic — under
// ASan+UBSan in CI, so that the original memory error or undefined behaviour would show.
#include <catch2/catch.hpp>

#include <filesystem>

#include "qrules/executor.h"
#include "qrules/ir.h"
#include "qrules/npy.h"
#include "qrules/onnx_import.h"
#include "test_util.h"

namespace qrules {
namespace {

const std::filesystem::path kDir = std::filesystem::path(QRULES_TEST_DATA_DIR) / "fuzz_regressions";

std::vector<std::filesystem::path> Cases(const char* format) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(kDir / format)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("ONNX inputs a fuzzer crashed on import, and build an executor or say why not", "[fuzz][onnx]") {
  const auto cases = Cases("onnx");
  REQUIRE(cases.size() >= 2);
  for (const auto& path : cases) {
    INFO(path.filename().string());
    ImportResult r = ImportOnnxBytes(testing::ReadText(path), path.filename().string());
    CHECK((r.ok() || HasErrors(r.diagnostics)));
    if (!r.ok()) continue;
    ExecutorResult e = Executor::Create(r.model);
    CHECK((e.ok() || HasErrors(e.diagnostics)));
  }
}

TEST_CASE("IR text a fuzzer broke: what parses prints to text that parses again", "[fuzz][qir]") {
  const auto cases = Cases("qir");
  REQUIRE_FALSE(cases.empty());
  for (const auto& path : cases) {
    INFO(path.filename().string());
    ModelResult r = ParseModelText(std::make_shared<const Source>(path.string(), testing::ReadText(path)));
    CHECK((r.ok() || HasErrors(r.diagnostics)));
    if (!r.ok()) continue;
    ModelResult again = ParseModelText(std::make_shared<const Source>("printed.qir", PrintModelText(*r.model)));
    INFO(RenderText(again.diagnostics));
    CHECK(again.ok());
  }
}

TEST_CASE("a float32 .npy with a zero dimension reads as an empty tensor", "[fuzz][npy]") {
  const auto cases = Cases("npy");
  REQUIRE_FALSE(cases.empty());
  NpyResult r = ReadNpyBytes(testing::ReadText(kDir / "npy" / "empty_float32.npy"), "empty_float32.npy");
  REQUIRE(r.ok());
  CHECK(r.tensor->numel() == 0);
  CHECK(r.tensor->f32.empty());
  for (const auto& path : cases) {
    INFO(path.filename().string());
    NpyResult any = ReadNpyBytes(testing::ReadText(path), path.filename().string());
    CHECK((any.ok() || HasErrors(any.diagnostics)));
  }
}

}  // namespace
}  // namespace qrules
