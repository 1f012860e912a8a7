// Shared helpers for the libFuzzer targets in tests/fuzz/.
//
// Every target checks the same contract on whatever the library returns: it never crashes, hangs
// or trips ASan/UBSan (libFuzzer and the sanitizers see to that), and a result that is not ok
// carries at least one error diagnostic.  A violated invariant aborts, so libFuzzer keeps the
// input as a crash reproducer; the message says which target and which invariant.
//
// QRULES_FUZZ_TRACE=1 in the environment prints every checked stage's outcome and diagnostics to
// stderr (for checking what a seed reaches: `QRULES_FUZZ_TRACE=1 <target>_fuzzer seed`).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "qrules/diagnostic.h"

namespace qrules_fuzz {

[[noreturn]] inline void Fail(const char* target, const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "%s: invariant violated: %s\n%s%s", target, what, detail.c_str(),
               detail.empty() || detail.back() == '\n' ? "" : "\n");
  std::abort();
}

inline bool Tracing() {
  static const bool on = std::getenv("QRULES_FUZZ_TRACE") != nullptr;
  return on;
}

// Renders the diagnostics both ways (rendering reads every location and note, so it must not
// crash either) and returns the text rendering for messages.
inline std::string Render(std::span<const qrules::Diagnostic> diagnostics) {
  (void)qrules::RenderJson(diagnostics);
  return qrules::RenderText(diagnostics);
}

// The common contract: `ok` false implies an error among `diagnostics`.
inline void CheckOkOrError(const char* target, const char* stage, bool ok,
                           std::span<const qrules::Diagnostic> diagnostics) {
  std::string text = Render(diagnostics);
  if (Tracing()) std::fprintf(stderr, "%s: %s %s\n%s", target, stage, ok ? "ok" : "failed", text.c_str());
  if (!ok && !qrules::HasErrors(diagnostics)) {
    Fail(target, (std::string(stage) + " failed without an error diagnostic").c_str(), text);
  }
}

}  // namespace qrules_fuzz
