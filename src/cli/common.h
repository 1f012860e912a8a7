// Helpers shared by the subcommand implementations.
#pragma once

#include <string>
#include <vector>

#include "cli/commands.h"
#include <memory>
#include <optional>

#include "qrules/compile.h"
#include "qrules/diagnostic.h"
#include "qrules/ir.h"

namespace qrules::cli {

// Applies severity options, prints diagnostics in `format` (text to stderr with a summary line;
// json and sarif to stdout) and returns the exit code: 2 for an I/O problem, 1 for errors, else 0.
struct ParsedArgs;

int ReportDiagnostics(std::vector<Diagnostic> all, const SeverityOptions& sev, const std::string& format,
                      Io& io, bool io_problem);

// A model from a file: IR text (.qir) or ONNX with an optional module map.
ModelResult LoadModel(const std::string& path, const std::optional<std::string>& modules);
// Compiles rules and loads the model; on failure prints diagnostics and returns the exit code.
std::optional<int> PrepareRulesAndModel(const std::string& rules_path, const std::string& model_path,
                                        const std::optional<std::string>& modules, Io& io,
                                        std::shared_ptr<const CompiledRules>& rules,
                                        std::shared_ptr<const Model>& model, std::vector<Diagnostic>& warnings);

// lint with --model: compile each file, resolve it against the model, report everything.
int LintWithModel(const ParsedArgs& a, const SeverityOptions& sev, const std::string& format, Io& io);

}  // namespace qrules::cli
