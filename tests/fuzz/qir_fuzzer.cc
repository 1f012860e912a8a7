// libFuzzer entry point for the IR text format (ParseModelText, PrintModelText) and, through it,
// the executor: the text format reaches the kernels with arbitrary attributes and shapes far more
// easily than ONNX protobuf bytes do.
//
// Invariants checked on every input (a violation aborts, so libFuzzer saves the input):
//   * ParseModelText never crashes, hangs or trips ASan/UBSan;
//   * its result is ok or carries an error diagnostic;
//   * when ok, PrintModelText's output parses ok and prints identically again (ir.h: "ParseModelText
//     of the result gives an equal model"), and RenderModelSummary never crashes;
//   * when ok, the executor checks of fuzz_exec.h (Create; one Run on zero inputs for small
//     models; QRULES_FUZZ_NO_RUN=1 skips the run).
// The IR text format has no includes or file references.
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_common.h"
#include "fuzz_exec.h"
#include "qrules/ir.h"
#include "qrules/source.h"

namespace {

constexpr const char* kTarget = "qir_fuzzer";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  qrules::ModelResult parsed = qrules::ParseModelText(std::make_shared<const qrules::Source>("fuzz.qir", text));
  qrules_fuzz::CheckOkOrError(kTarget, "ParseModelText", parsed.ok(), parsed.diagnostics);
  if (!parsed.ok()) return 0;
  (void)qrules::RenderModelSummary(*parsed.model);

  std::string printed = qrules::PrintModelText(*parsed.model);
  qrules::ModelResult again = qrules::ParseModelText(std::make_shared<const qrules::Source>("printed.qir", printed));
  if (!again.ok()) {
    qrules_fuzz::Fail(kTarget, "PrintModelText output does not parse",
                      printed + "\n--- diagnostics ---\n" + qrules::RenderText(again.diagnostics));
  }
  std::string twice = qrules::PrintModelText(*again.model);
  if (twice != printed) {
    qrules_fuzz::Fail(kTarget, "print + parse + print is not a fixed point",
                      "--- first ---\n" + printed + "--- second ---\n" + twice);
  }

  qrules_fuzz::CreateAndMaybeRun(kTarget, parsed.model);
  return 0;
}
