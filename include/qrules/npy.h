// qrules/npy.h — NumPy .npy files (format 1.0, 2.0 and 3.0; little-endian, C order).
//
//   qrules::NpyResult r = qrules::ReadNpyFile("input.npy");
//   if (!r.ok()) { std::cerr << qrules::RenderText(r.diagnostics); return 2; }
//   const qrules::Tensor& x = *r.tensor;   // float32 → Tensor::f32; integer/bool → Tensor::i64
//
// Readable dtypes: <f4 (float32), <f8 (float64, narrowed to float32), |u1 (uint8), |i1 (int8),
// <i4 (int32), <i8 (int64), |b1 (bool).  Anything else — big-endian, fortran_order True, other
// dtypes, a malformed header, truncated or excess data — is a `data-invalid` diagnostic saying
// what was expected.  An unreadable file is `io-error`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/tensor.h"

namespace qrules {

struct NpyResult {
  std::optional<Tensor> tensor;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return tensor.has_value() && !HasErrors(diagnostics); }
};

[[nodiscard]] NpyResult ReadNpyFile(const std::string& path);
// Parses .npy bytes; `name` is used in diagnostics.
[[nodiscard]] NpyResult ReadNpyBytes(std::string_view bytes, std::string_view name);

// Serializes a tensor as .npy format 1.0 (float32 → <f4; int64/int32/int8/uint8/bool → their own
// NumPy dtype, values narrowed from Tensor::i64).
std::string WriteNpyBytes(const Tensor& tensor);
// Writes the file; returns an `io-error` diagnostic on failure, nullopt on success.
std::optional<Diagnostic> WriteNpyFile(const std::string& path, const Tensor& tensor);

}  // namespace qrules
