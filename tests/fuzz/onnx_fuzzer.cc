// libFuzzer entry point for the ONNX importer and the executor's planning (and, for small models,
// one run).
//
// Invariants checked on every input (a violation aborts, so libFuzzer saves the input):
//   * ImportOnnxBytes never crashes, hangs, throws or trips ASan/UBSan;
//   * its result is ok or carries an error diagnostic (model == nullptr without an error is a bug);
//   * when the import is ok, Executor::Create never crashes and is ok or says why;
//   * when the executor exists and every graph input has a small static shape, one Run on zero
//     inputs never crashes and is ok or carries an error diagnostic (set QRULES_FUZZ_NO_RUN=1 in
//     the environment to skip the run and fuzz only import + planning).
//
// Files: the importer refuses external tensor data (it never opens files named by the model), and
// the module map is not used here (module_map_fuzzer.cc fuzzes it as JSON text), so no input can
// make this target read real files.
#include <cstdint>
#include <string_view>

#include "fuzz_common.h"
#include "fuzz_exec.h"
#include "qrules/onnx_import.h"

namespace {

constexpr const char* kTarget = "onnx_fuzzer";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  qrules::ImportResult imported = qrules::ImportOnnxBytes(bytes, "fuzz.onnx", qrules::ImportOptions{});
  qrules_fuzz::CheckOkOrError(kTarget, "ImportOnnxBytes", imported.ok(), imported.diagnostics);
  if (!imported.ok()) return 0;
  (void)qrules::RenderModelSummary(*imported.model);

  qrules_fuzz::CreateAndMaybeRun(kTarget, imported.model);
  return 0;
}
