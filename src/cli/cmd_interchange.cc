// qrules import, export and diff: coreai_opt YAML in and out, and plan lockfile diffs.
#include <fstream>
#include <ostream>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "qrules/compile.h"
#include "qrules/coreai_yaml.h"
#include "qrules/plan_diff.h"

namespace qrules::cli {
namespace {

bool IsIoProblem(const std::vector<Diagnostic>& diags) {
  for (const auto& d : diags) {
    if (d.severity == Severity::kError && d.location.line == 0 &&
        (d.code == DiagCode::kIoError || d.code == DiagCode::kImportNotFound)) {
      return true;
    }
  }
  return false;
}

// Writes `text` to `path` ("-" or empty: stdout).  Returns false (after a message) on failure.
bool WriteOutput(const std::optional<std::string>& path, const std::string& text, std::string_view cmd, Io& io) {
  if (!path || *path == "-") {
    io.out << text;
    return true;
  }
  if (auto d = WriteFileAtomically(*path, text)) {
    io.err << fmt::format("qrules {}: ", cmd) << RenderText(std::span<const Diagnostic>(&*d, 1));
    return false;
  }
  return true;
}

}  // namespace

int CmdImport(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"-o", "--output"}, {"--no-comments", "--inline-specs"});
  if (!a.error.empty()) return UsageError(io, "import", a.error);
  if (a.positional.size() != 1) return UsageError(io, "import", "expected one coreai_opt YAML file");
  auto output = a.Value("-o") ? a.Value("-o") : a.Value("--output");
  YamlImportOptions o;
  o.keep_comments = !a.Flag("--no-comments");
  o.named_specs = !a.Flag("--inline-specs");
  if (output && *output != "-") o.output_name = *output;
  YamlImportResult r = ImportCoreaiYamlFile(a.positional[0], o);
  io.err << RenderText(r.diagnostics);
  if (IsIoProblem(r.diagnostics)) return 2;
  if (!r.ok()) return 1;
  return WriteOutput(output, r.text, "import", io) ? 0 : 2;
}

int CmdExport(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--to", "-o", "--output"}, {});
  if (!a.error.empty()) return UsageError(io, "export", a.error);
  if (a.positional.size() != 1) return UsageError(io, "export", "expected one .qrules file");
  std::string to = a.Value("--to").value_or("coreai-yaml");
  if (to != "coreai-yaml") return UsageError(io, "export", fmt::format("unknown format '{}': expected coreai-yaml", to));
  auto output = a.Value("-o") ? a.Value("-o") : a.Value("--output");
  CompileResult c = CompileFile(a.positional[0]);
  std::vector<Diagnostic> diags = c.diagnostics;
  if (!c.ok()) {
    io.err << RenderText(diags);
    return IsIoProblem(diags) ? 2 : 1;
  }
  YamlExportResult y = ExportCoreaiYaml(*c.rules);
  for (auto& d : y.diagnostics) diags.push_back(d);
  io.err << RenderText(diags);
  if (!y.ok()) return 1;
  return WriteOutput(output, y.text, "export", io) ? 0 : 2;
}

int CmdDiff(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {}, {});
  if (!a.error.empty()) return UsageError(io, "diff", a.error);
  if (a.positional.size() != 2) return UsageError(io, "diff", "expected OLD.json NEW.json");
  PlanDiffResult d = DiffPlanJsonFiles(a.positional[0], a.positional[1]);
  if (!d.ok()) {
    io.err << RenderText(d.diagnostics);
    return 2;
  }
  io.out << RenderPlanDiff(d.diff);
  return d.diff.empty() ? 0 : 1;
}

}  // namespace qrules::cli
