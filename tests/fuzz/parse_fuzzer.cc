// libFuzzer entry point for the .qrules front end: parse + compile + lint, and the formatter.
//
// Invariants checked on every input (a violation aborts, so libFuzzer saves the input):
//   * Compile and Format never crash, hang or trip ASan/UBSan;
//   * Compile is ok exactly when it reports no error;
//   * Format succeeds whenever Compile does (a file that compiles also parses);
//   * Format's output, when ok, is a fixed point: Format(Format(x)) == Format(x);
//   * Format keeps the meaning as far as ok-ness goes: Compile(Format(x)).ok() == Compile(x).ok().
//
// Imports resolve relative to a directory that does not exist; inputs that could import device
// or proc files (which may block or be huge) are skipped.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "qrules/compile.h"
#include "qrules/format.h"

namespace {

constexpr const char* kName = "/nonexistent-qrules-fuzz/input.qrules";

[[noreturn]] void Fail(const char* what, const std::string& a, const std::string& b) {
  std::fprintf(stderr, "parse_fuzzer: invariant violated: %s\n--- first ---\n%s\n--- second ---\n%s\n",
               what, a.c_str(), b.c_str());
  std::abort();
}

bool MayReadSpecialFiles(std::string_view text) {
  if (text.find("import") == std::string_view::npos) return false;
  for (std::string_view bad : {"dev", "proc", "sys", "fd"}) {
    if (text.find(bad) != std::string_view::npos) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  if (MayReadSpecialFiles(text)) return 0;
  qrules::CompileOptions options;
  options.max_file_bytes = 1u << 20;

  auto source = std::make_shared<const qrules::Source>(kName, text);
  qrules::CompileResult compiled = qrules::Compile(source, options);
  if (compiled.ok() == qrules::HasErrors(compiled.diagnostics)) {
    Fail("Compile ok() disagrees with its diagnostics", text, qrules::RenderText(compiled.diagnostics));
  }
  // Rendering must not crash either (it reads every location and note).
  (void)qrules::RenderText(compiled.diagnostics);
  (void)qrules::RenderJson(compiled.diagnostics);

  qrules::FormatResult formatted = qrules::Format(source);
  if (compiled.ok() && !formatted.ok) {
    Fail("Compile succeeded but Format failed", text, qrules::RenderText(formatted.diagnostics));
  }
  if (!formatted.ok) return 0;

  auto again = std::make_shared<const qrules::Source>(kName, formatted.text);
  qrules::FormatResult twice = qrules::Format(again);
  if (!twice.ok) Fail("Format output does not parse", formatted.text, qrules::RenderText(twice.diagnostics));
  if (twice.text != formatted.text) Fail("Format is not idempotent", formatted.text, twice.text);

  qrules::CompileResult recompiled = qrules::Compile(again, options);
  if (recompiled.ok() != compiled.ok()) {
    Fail("Format changed whether the file compiles", text + "\n--- formatted ---\n" + formatted.text,
         qrules::RenderText(compiled.ok() ? recompiled.diagnostics : compiled.diagnostics));
  }
  return 0;
}
