// libFuzzer entry point for the ONNX importer's module map (ImportOptions::module_map_json): a
// fixed valid model, tests/data/foreign/constants.onnx (read once at startup from the source tree,
// QRULES_SOURCE_DIR), imported with the fuzz bytes as the module map JSON text.
//
// Invariants checked on every input (a violation aborts, so libFuzzer saves the input):
//   * ImportOnnxBytes never crashes, hangs, throws or trips ASan/UBSan;
//   * its result is ok or carries an error diagnostic;
//   * when ok, RenderModelSummary and PrintModelText never crash and the printed model parses
//     back ok (module names and types from the map must survive the text format).
// The map is passed as text (module_map_path stays empty), so no input can make the importer open
// a file.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "fuzz_common.h"
#include "qrules/ir.h"
#include "qrules/onnx_import.h"

#ifndef QRULES_SOURCE_DIR
#error "QRULES_SOURCE_DIR must name the source tree (tests/fuzz/CMakeLists.txt defines it)"
#endif

namespace {

constexpr const char* kTarget = "module_map_fuzzer";

const std::string& ModelBytes() {
  static const std::string bytes = [] {
    const std::string path = std::string(QRULES_SOURCE_DIR) + "/tests/data/foreign/constants.onnx";
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string s = ss.str();
    if (!f || s.empty()) {
      std::fprintf(stderr, "%s: cannot read %s\n", kTarget, path.c_str());
      std::exit(2);
    }
    // The model must import without a map, or every input would fail for the same reason.
    qrules::ImportResult plain = qrules::ImportOnnxBytes(s, "constants.onnx", qrules::ImportOptions{});
    if (!plain.ok()) {
      std::fprintf(stderr, "%s: %s does not import:\n%s", kTarget, path.c_str(),
                   qrules::RenderText(plain.diagnostics).c_str());
      std::exit(2);
    }
    return s;
  }();
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)ModelBytes();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  qrules::ImportOptions options;
  options.module_map_json = std::string(reinterpret_cast<const char*>(data), size);
  qrules::ImportResult imported = qrules::ImportOnnxBytes(ModelBytes(), "constants.onnx", options);
  qrules_fuzz::CheckOkOrError(kTarget, "ImportOnnxBytes", imported.ok(), imported.diagnostics);
  if (!imported.ok()) return 0;
  (void)qrules::RenderModelSummary(*imported.model);
  std::string printed = qrules::PrintModelText(*imported.model);
  qrules::ModelResult again = qrules::ParseModelText(std::make_shared<const qrules::Source>("printed.qir", printed));
  if (!again.ok()) {
    qrules_fuzz::Fail(kTarget, "PrintModelText of the imported model does not parse",
                      printed + "\n--- diagnostics ---\n" + qrules::RenderText(again.diagnostics));
  }
  return 0;
}
