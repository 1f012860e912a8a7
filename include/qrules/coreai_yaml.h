// qrules/coreai_yaml.h — coreai_opt's YAML configuration format, in and out.
//
//   // YAML -> .qrules (what `qrules import` does)
//   qrules::YamlImportResult r = qrules::ImportCoreaiYamlFile("config.yaml");
//   std::cerr << qrules::RenderText(r.diagnostics);      // errors point at YAML line:column
//   if (r.ok()) std::cout << r.text;                      // canonical .qrules, comments kept
//
//   // compiled .qrules -> YAML (what `qrules export --to coreai-yaml` does)
//   qrules::CompileResult c = qrules::CompileFile("rules.qrules");
//   qrules::YamlExportResult y = qrules::ExportCoreaiYaml(*c.rules);
//   if (y.ok()) std::cout << y.text;
//
// Import reads what coreai_opt's `QuantizerConfig.from_yaml` reads (grammar/COREAI-YAML.md,
// grammar/SEMANTICS.md §a, §f), with the same coercions: a top-level mapping with `quantization_config`
// (required) and `quantization_spec` (anchors only, ignored); anchors, aliases and `<<` merge keys;
// `null` or an empty value = disabled (`none`), `{}` = the class default; `global_config` absent =
// the default W8A8 config; quoted digit-string keys of op/module input/output maps become indices
// (state maps keep strings, and an integer key there is an error); every module-name and op-name
// key is a regex matched against the whole name, so it becomes a `/regex/` selector; module type
// keys must be fully-qualified.  Spec mappings anchored in `quantization_spec` become named specs
// (`*base` -> `base`, `<<: *base` plus overrides -> `base { ... }`).  The output is the canonical
// `qrules fmt` form, with the YAML's `#` comments attached to the nearest following entry.
//
// Export writes the compiled configuration as coreai_opt YAML: every spec fully expanded as a
// mapping, exact names regex-escaped (coreai_opt treats every name key as a regex), disabled groups
// and scopes as `null`, omitted groups omitted, `global_config` absent when the rules have no
// `global`.  Importing the export gives rules that resolve to the same plan on every model.
// What coreai_opt cannot express (`expect` clauses, a non-default averaging_constant) is reported
// as a warning.
//
// Errors are diagnostics (codes `yaml-syntax`, `yaml-invalid`, and the .qrules codes where one fits:
// `unknown-field`, `unknown-dtype`, `invalid-key`, `regex-syntax`, `invalid-schedule`, ...), never
// exceptions and never printed.  All functions are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "qrules/compile.h"
#include "qrules/diagnostic.h"
#include "qrules/source.h"

namespace qrules {

struct YamlImportOptions {
  // Keep the YAML's `#` comments in the output.
  bool keep_comments = true;
  // Turn spec mappings anchored in `quantization_spec` into named specs (else every spec is inline).
  bool named_specs = true;
  // Name of the .qrules file being produced (used in the header comment only); may be empty.
  std::string output_name;
};

struct [[nodiscard]] YamlImportResult {
  std::string text;  // the .qrules text; empty when an error was found
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return !HasErrors(diagnostics); }
};

YamlImportResult ImportCoreaiYaml(const std::shared_ptr<const Source>& yaml,
                                  const YamlImportOptions& options = {});
// Reads the file first; an unreadable file is an `io-error` diagnostic without a line.
YamlImportResult ImportCoreaiYamlFile(const std::string& path, const YamlImportOptions& options = {});

struct [[nodiscard]] YamlExportResult {
  std::string text;  // the YAML document
  std::vector<Diagnostic> diagnostics;  // warnings about what coreai_opt cannot express
  bool ok() const { return !HasErrors(diagnostics); }
};

YamlExportResult ExportCoreaiYaml(const CompiledRules& rules);

// coreai_opt treats module-name and op-name keys as Python regexes: the exact name `s` as a regex
// that matches only `s` (metacharacters backslash-escaped; valid for both Python `re` and RE2).
std::string EscapeRegex(std::string_view s);

}  // namespace qrules
