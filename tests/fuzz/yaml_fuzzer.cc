// libFuzzer entry point for the coreai_opt YAML importer (ImportCoreaiYaml).
//
// Invariants checked on every input (a violation aborts, so libFuzzer saves the input):
//   * ImportCoreaiYaml never crashes, hangs, throws or trips ASan/UBSan, with the default options
//     and with comments and named specs turned off;
//   * an ok import has non-empty .qrules text and an import with errors has empty text
//     (coreai_yaml.h: "empty when an error was found");
//   * the .qrules text of an ok import compiles (the importer promises canonical `qrules fmt`
//     output of a configuration it has checked).
//
// YAML has no includes; the .qrules text is compiled as a file in a directory that does not exist,
// and text that could import device or proc files is not compiled (as in parse_fuzzer.cc).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "qrules/compile.h"
#include "qrules/coreai_yaml.h"

namespace {

constexpr const char* kTarget = "yaml_fuzzer";
constexpr const char* kOutName = "/nonexistent-qrules-fuzz/imported.qrules";

bool MayReadSpecialFiles(std::string_view text) {
  if (text.find("import") == std::string_view::npos) return false;
  for (std::string_view bad : {"dev", "proc", "sys", "fd"}) {
    if (text.find(bad) != std::string_view::npos) return true;
  }
  return false;
}

void ImportAndCheck(const std::shared_ptr<const qrules::Source>& source, const qrules::YamlImportOptions& options) {
  qrules::YamlImportResult r = qrules::ImportCoreaiYaml(source, options);
  qrules_fuzz::CheckOkOrError(kTarget, "ImportCoreaiYaml", r.ok(), r.diagnostics);
  if (!r.ok()) {
    if (!r.text.empty()) qrules_fuzz::Fail(kTarget, "an import with errors returned .qrules text", r.text);
    return;
  }
  if (r.text.empty()) qrules_fuzz::Fail(kTarget, "an ok import returned empty .qrules text");
  if (MayReadSpecialFiles(r.text)) return;
  qrules::CompileOptions copts;
  copts.max_file_bytes = 1u << 20;
  qrules::CompileResult c = qrules::Compile(std::make_shared<const qrules::Source>(kOutName, r.text), copts);
  qrules_fuzz::CheckOkOrError(kTarget, "Compile of the imported text", c.ok(), c.diagnostics);
  if (!c.ok()) {
    qrules_fuzz::Fail(kTarget, "the imported .qrules text does not compile",
                      r.text + "\n--- diagnostics ---\n" + qrules::RenderText(c.diagnostics));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto source = std::make_shared<const qrules::Source>(
      "fuzz.yaml", std::string(reinterpret_cast<const char*>(data), size));
  ImportAndCheck(source, qrules::YamlImportOptions{});
  qrules::YamlImportOptions plain;
  plain.keep_comments = false;
  plain.named_specs = false;
  plain.output_name = "fuzz.qrules";
  ImportAndCheck(source, plain);
  return 0;
}
