// qrules/compile.h — compiling .qrules text into an immutable configuration.
//
//   qrules::CompileResult r = qrules::CompileFile("rules/w8a8.qrules");
//   if (!r.ok()) { std::cerr << qrules::RenderText(r.diagnostics); return 1; }
//   const qrules::QuantizerConfig& cfg = r.rules->config;
//   const qrules::QuantizationSpec* act8 = r.rules->FindSpec("act8");
//
// Compilation parses the file and its imports, resolves spec inheritance and references, checks
// every field and cross-field rule, compiles every regex with RE2, and runs the static lints
// (unescaped-dot, short-type-name, shadowed-entry, ...).  Problems are diagnostics in the result;
// the library never prints and never throws for bad input.  `rules` is null exactly when an error
// was found.  The compiled object is immutable and safe to share between threads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qrules/config.h"
#include "qrules/diagnostic.h"
#include "qrules/source.h"

namespace qrules {

struct CompileOptions {
  // Run the static lints (warnings).  Errors are always reported.
  bool lint = true;
  // Upper bound on the size of one input file; larger files are rejected with a diagnostic.
  size_t max_file_bytes = 64u << 20;
};

struct CompiledRules {
  QuantizerConfig config;
  // Every named spec, from the file and its imports, with inheritance resolved.
  std::map<std::string, QuantizationSpec, std::less<>> specs;
  // The main source first, then imported ones.
  std::vector<std::shared_ptr<const Source>> sources;

  const QuantizationSpec* FindSpec(std::string_view name) const {
    auto it = specs.find(name);
    return it == specs.end() ? nullptr : &it->second;
  }
};

struct [[nodiscard]] CompileResult {
  std::shared_ptr<const CompiledRules> rules;  // null iff diagnostics hold an error
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return rules != nullptr; }
};

// Compiles text already in memory.  Imports resolve relative to the directory of source->name().
CompileResult Compile(std::shared_ptr<const Source> source, const CompileOptions& options = {});
// Reads and compiles a file.  A missing file is `import-not-found`-style `io-error`.
CompileResult CompileFile(const std::string& path, const CompileOptions& options = {});

}  // namespace qrules
