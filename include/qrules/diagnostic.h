// qrules/diagnostic.h — diagnostics as data, and their renderers.
//
// Every problem qrules finds in user input — a .qrules file, a model, a data file — is a
// `Diagnostic` inside a result object.  The library never prints and never throws for bad input;
// the caller decides how to show diagnostics:
//
//   qrules::CompileResult r = qrules::CompileFile("rules.qrules");
//   std::cerr << qrules::RenderText(r.diagnostics);     // clang-style text
//   std::cout << qrules::RenderJson(r.diagnostics);     // array of objects, for CI annotators
//
// A diagnostic carries a stable code from the one table in `diagnostic_kinds.def`, a severity, a
// 1-based line and byte column, the text of that source line (so rendering needs no file access),
// the length of the range to underline, notes (each with its own location) and optional
// `did you mean` suggestions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "qrules/source.h"

namespace qrules {

enum class Severity { kNote, kWarning, kError };

enum class DiagCode {
#define QRULES_DIAG(name, code, severity, summary) name,
#include "qrules/diagnostic_kinds.def"
#undef QRULES_DIAG
};

// One row of the diagnostic table.
struct DiagnosticKind {
  DiagCode code;
  std::string_view id;  // "unknown-dtype"
  Severity default_severity;
  std::string_view summary;
};

// The whole table, in declaration order.
std::span<const DiagnosticKind> AllDiagnosticKinds();
const DiagnosticKind& KindOf(DiagCode code);
// Looks a code up by its id ("unknown-dtype"); nullptr when there is none.
const DiagnosticKind* FindDiagnosticKind(std::string_view id);
std::string_view SeverityName(Severity s);  // "error", "warning", "note"

// Where a diagnostic or note points.  `line == 0` means "no position" (e.g. a file that could
// not be opened); then only `file` is shown.
struct DiagLocation {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  uint32_t length = 1;       // bytes to underline on `line` (clipped to the line's end)
  std::string line_text;     // the source line, for the caret display

  // Location of a byte range in a source (the underline stops at the end of the first line).
  static DiagLocation From(const SourceRange& range);
  static DiagLocation From(const Source& source, uint32_t begin, uint32_t end);
};

struct DiagNote {
  DiagLocation location;  // may have line == 0: a note without a position
  std::string message;
};

struct Diagnostic {
  DiagCode code = DiagCode::kSyntax;
  Severity severity = Severity::kError;
  DiagLocation location;
  std::string message;
  std::vector<DiagNote> notes;
  std::vector<std::string> suggestions;  // rendered as "did you mean 'x'?"

  std::string_view id() const { return KindOf(code).id; }
};

// Builds a diagnostic with the code's default severity.
Diagnostic MakeDiagnostic(DiagCode code, DiagLocation location, std::string message);

bool HasErrors(std::span<const Diagnostic> diagnostics);
size_t CountSeverity(std::span<const Diagnostic> diagnostics, Severity severity);

// Severity remapping (`--warn code=error`, `--werror`): returns the diagnostics with severities
// changed.  `warnings_as_errors` turns every warning into an error.
struct SeverityOptions {
  std::map<std::string, Severity, std::less<>> overrides;  // by code id
  bool warnings_as_errors = false;
};
std::vector<Diagnostic> ApplySeverityOptions(std::vector<Diagnostic> diagnostics,
                                             const SeverityOptions& options);

// clang-style text:
//   rules.qrules:12:10: error: unknown dtype 'int7' [unknown-dtype]
//      12 |   dtype: int7
//         |          ^~~~
//   rules.qrules:12:10: note: did you mean 'int4'?
std::string RenderText(std::span<const Diagnostic> diagnostics);
// A JSON array of objects with file, line, column, end_column, severity, code, message, notes,
// suggestions.
std::string RenderJson(std::span<const Diagnostic> diagnostics);
// SARIF 2.1.0 log with one run whose tool.driver.rules are the whole diagnostic table.
std::string RenderSarif(std::span<const Diagnostic> diagnostics, std::string_view tool_version);

// Reads the whole of a regular file of at most `max_bytes` bytes into `out`.  Directories,
// devices and pipes (/dev/zero never ends, /dev/stdin would wait) and larger files are refused
// before anything is allocated.  On failure returns an `io-error` diagnostic that names the file
// and says why ("not a regular file", "larger than the limit of N bytes", the system's reason);
// on success nullopt.  Every file reader of the library goes through it.
std::optional<Diagnostic> ReadFileBounded(const std::string& path, size_t max_bytes, std::string& out);

// Writes `bytes` to `path` so that a failure (a full disk, no permission) is an `io-error` that
// leaves no partial file: a regular file is written beside the target and renamed over it; an
// existing non-regular file (/dev/stdout, a pipe) is written directly and the write checked.
std::optional<Diagnostic> WriteFileAtomically(const std::string& path, std::string_view bytes);

// Edit-distance suggestions: the candidates closest to `word` (at most `max_results`), or none
// when nothing is close enough to be a plausible typo.
std::vector<std::string> SuggestSimilar(std::string_view word,
                                        std::span<const std::string_view> candidates,
                                        size_t max_results = 1);
size_t EditDistance(std::string_view a, std::string_view b);

}  // namespace qrules
