// qrules lint and qrules fmt.
#include <fstream>
#include <ostream>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "qrules/compile.h"
#include "qrules/format.h"
#include "qrules/version.h"
#include "cli/common.h"

namespace qrules::cli {
namespace {

std::optional<Severity> ParseSeverity(std::string_view s) {
  if (s == "error") return Severity::kError;
  if (s == "warning") return Severity::kWarning;
  if (s == "note" || s == "ignore") return Severity::kNote;
  return std::nullopt;
}

bool IsIoProblem(const Diagnostic& d) { return d.code == DiagCode::kIoError && d.location.line == 0; }

}  // namespace

int CmdLint(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--format", "--warn", "--model", "--modules"},
                           {"--werror", "--list-diagnostics"});
  if (!a.error.empty()) return UsageError(io, "lint", a.error);
  if (a.Flag("--list-diagnostics")) {
    for (const DiagnosticKind& k : AllDiagnosticKinds()) {
      io.out << fmt::format("{:<22} {:<8} {}\n", k.id, SeverityName(k.default_severity), k.summary);
    }
    return 0;
  }
  std::string format = a.Value("--format").value_or("text");
  if (format != "text" && format != "json" && format != "sarif") {
    return UsageError(io, "lint", fmt::format("unknown format '{}': expected text, json or sarif", format));
  }
  if (a.positional.empty()) return UsageError(io, "lint", "no input files");
  SeverityOptions sev;
  sev.warnings_as_errors = a.Flag("--werror");
  for (const std::string& w : a.All("--warn")) {
    auto eq = w.find('=');
    std::string code = w.substr(0, eq);
    auto level = eq == std::string::npos ? std::optional<Severity>(Severity::kError) : ParseSeverity(w.substr(eq + 1));
    if (!FindDiagnosticKind(code) || !level) {
      return UsageError(io, "lint", fmt::format("bad --warn '{}': expected CODE=error|warning|ignore "
                                                "with a code from --list-diagnostics", w));
    }
    sev.overrides[code] = *level;
  }
  if (a.Value("--model")) return LintWithModel(a, sev, format, io);
  if (a.Value("--modules")) return UsageError(io, "lint", "--modules needs --model");
  std::vector<Diagnostic> all;
  bool io_problem = false;
  for (const std::string& path : a.positional) {
    CompileResult r = CompileFile(path);
    for (auto& d : r.diagnostics) {
      io_problem = io_problem || IsIoProblem(d);
      all.push_back(std::move(d));
    }
  }
  return ReportDiagnostics(std::move(all), sev, format, io, io_problem);
}

int ReportDiagnostics(std::vector<Diagnostic> all, const SeverityOptions& sev, const std::string& format,
                      Io& io, bool io_problem) {
  all = ApplySeverityOptions(std::move(all), sev);
  // Remapped to "ignore" (note) means dropped.
  std::erase_if(all, [](const Diagnostic& d) { return d.severity == Severity::kNote; });
  if (format == "json") {
    io.out << RenderJson(all);
  } else if (format == "sarif") {
    io.out << RenderSarif(all, kVersionString);
  } else {
    io.err << RenderText(all);
    size_t errors = CountSeverity(all, Severity::kError), warnings = CountSeverity(all, Severity::kWarning);
    if (errors + warnings > 0) {
      io.err << fmt::format("{} error{} and {} warning{} generated.\n", errors, errors == 1 ? "" : "s",
                            warnings, warnings == 1 ? "" : "s");
    }
  }
  if (io_problem) return 2;
  return HasErrors(all) ? 1 : 0;
}

int CmdFmt(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {}, {"--check", "-i", "--in-place"});
  if (!a.error.empty()) return UsageError(io, "fmt", a.error);
  bool check = a.Flag("--check");
  bool in_place = a.Flag("-i") || a.Flag("--in-place");
  if (check && in_place) return UsageError(io, "fmt", "--check and -i exclude each other");
  if (a.positional.empty()) return UsageError(io, "fmt", "no input files");
  int status = 0;
  for (const std::string& path : a.positional) {
    std::string text;
    if (auto d = ReadFileBounded(path, 64u << 20, text)) {
      io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
      status = 2;
      continue;
    }
    FormatResult f = Format(std::make_shared<const Source>(path, text));
    if (!f.ok) {
      io.err << RenderText(f.diagnostics);
      status = std::max(status, 1);
      continue;
    }
    if (check) {
      if (f.text != text) {
        io.out << fmt::format("{}: not formatted\n", path);
        status = std::max(status, 1);
      }
    } else if (in_place) {
      if (f.text != text) {
        if (auto d = WriteFileAtomically(path, f.text)) {
          io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
          status = 2;
        }
      }
    } else {
      io.out << f.text;
    }
  }
  return status;
}

}  // namespace qrules::cli
