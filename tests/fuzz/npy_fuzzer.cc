// libFuzzer entry point for the .npy reader and writer.
//
// Invariants checked on every input (a violation aborts, so libFuzzer saves the input):
//   * ReadNpyBytes never crashes, hangs or trips ASan/UBSan;
//   * its result is ok or carries an error diagnostic;
//   * an ok result holds a consistent tensor (numel matches the data of its type);
//   * when ok, WriteNpyBytes of the tensor reads back ok, with the same element type, shape and
//     values (bitwise for float32: every dtype the reader accepts is held exactly as written).
// The format has no references to other files.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_common.h"
#include "qrules/npy.h"

namespace {

constexpr const char* kTarget = "npy_fuzzer";

std::string Describe(const qrules::Tensor& t) {
  std::string s(qrules::ElementTypeName(t.type));
  s += " [";
  for (size_t i = 0; i < t.shape.size(); ++i) s += (i ? ", " : "") + std::to_string(t.shape[i]);
  s += "] f32=" + std::to_string(t.f32.size()) + " i64=" + std::to_string(t.i64.size());
  return s;
}

void CheckConsistent(const char* what, const qrules::Tensor& t) {
  const auto n = static_cast<size_t>(t.numel());
  const bool ok = t.is_float() ? (t.f32.size() == n && t.i64.empty()) : (t.i64.size() == n && t.f32.empty());
  if (!ok) qrules_fuzz::Fail(kTarget, what, Describe(t));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  qrules::NpyResult read = qrules::ReadNpyBytes(bytes, "fuzz.npy");
  qrules_fuzz::CheckOkOrError(kTarget, "ReadNpyBytes", read.ok(), read.diagnostics);
  if (!read.ok()) return 0;
  const qrules::Tensor& t = *read.tensor;
  CheckConsistent("ReadNpyBytes returned a tensor whose data does not match its shape", t);

  std::string written = qrules::WriteNpyBytes(t);
  qrules::NpyResult again = qrules::ReadNpyBytes(written, "rewritten.npy");
  if (!again.ok()) {
    qrules_fuzz::Fail(kTarget, "WriteNpyBytes output does not read back",
                      Describe(t) + "\n" + qrules_fuzz::Render(again.diagnostics));
  }
  const qrules::Tensor& u = *again.tensor;
  if (u.type != t.type || u.shape != t.shape) {
    qrules_fuzz::Fail(kTarget, "write + read changed the type or shape", Describe(t) + " -> " + Describe(u));
  }
  CheckConsistent("re-read tensor's data does not match its shape", u);
  const bool same = t.is_float()
                        ? (u.f32.size() == t.f32.size() &&
                           (t.f32.empty() || std::memcmp(u.f32.data(), t.f32.data(), t.f32.size() * 4) == 0))
                        : u.i64 == t.i64;
  if (!same) qrules_fuzz::Fail(kTarget, "write + read changed the values", Describe(t));
  return 0;
}
