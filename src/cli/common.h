// Helpers shared by the subcommand implementations.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include "qrules/diagnostic.h"

namespace qrules::cli {

// Applies severity options, prints diagnostics in `format` (text to stderr with a summary line;
// json and sarif to stdout) and returns the exit code: 2 for an I/O problem, 1 for errors, else 0.
struct ParsedArgs;

int ReportDiagnostics(std::vector<Diagnostic> all, const SeverityOptions& sev, const std::string& format,
                      Io& io, bool io_problem);

// lint with --model: compile each file, resolve it against the model, report everything.
int LintWithModel(const ParsedArgs& a, const SeverityOptions& sev, const std::string& format, Io& io);

}  // namespace qrules::cli
