// qrules/npy.h — NumPy .npy files (format 1.0, 2.0 and 3.0; little-endian, C order).
//
//   qrules::NpyResult r = qrules::ReadNpyFile("input.npy");
//   if (!r.ok()) { std::cerr << qrules::RenderText(r.diagnostics); return 2; }
//   const qrules::Tensor& x = *r.tensor;   // float32 → Tensor::f32; integer/bool → Tensor::i64
//
// Readable dtypes, little-endian: float16 and float32 (exact as float32), float64 (rounded to
// float32, with a `data-converted` note saying how many values changed), int8, int16, int32,
// int64, uint8, uint16, uint32, uint64 (held in Tensor::i64; a uint64 value above INT64_MAX is
// an error) and bool.  Anything else — big-endian, fortran_order True, other dtypes, a malformed
// header, truncated or excess data — is a `data-invalid` diagnostic saying what was expected.
// An unreadable file is `io-error`.  To feed a model input, ConformToInput converts the tensor
// to what the input declares.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/ir.h"
#include "qrules/tensor.h"

namespace qrules {

struct NpyResult {
  std::optional<Tensor> tensor;
  std::vector<Diagnostic> diagnostics;
  std::string dtype = {};  // the file's dtype as NumPy names it ("float16", "uint8", ...)
  bool ok() const { return tensor.has_value() && !HasErrors(diagnostics); }
};

[[nodiscard]] NpyResult ReadNpyFile(const std::string& path);
// Parses .npy bytes; `name` is used in diagnostics.
[[nodiscard]] NpyResult ReadNpyBytes(std::string_view bytes, std::string_view name);

// Converts `t`, read from a file of NumPy dtype `file_dtype` (NpyResult::dtype), to what the
// model input `input` declares, exactly, or says why it cannot:
//   * a float32 input takes float data, and integer or bool data whose every value is exact in
//     float32 (|v| <= 2^24);
//   * an integer or bool input takes integer or bool data (bool: 0 and 1 only); float data is
//     refused, since which integer a float stands for is a guess;
//   * every dimension the input fixes must match (symbolic ones such as the batch take any size).
// Returns nullopt on success, else the problem in words, e.g. "the model input 'input_ids' is
// int64 [N, 6]; the file holds float32 [4, 6]" — the caller says which file and flag.
std::optional<std::string> ConformToInput(Tensor& t, std::string_view file_dtype, const TensorInfo& input);

// Serializes a tensor as .npy format 1.0 (float32 → <f4; int64/int32/int8/uint8/bool → their own
// NumPy dtype, values narrowed from Tensor::i64).
std::string WriteNpyBytes(const Tensor& tensor);
// Writes the file; returns an `io-error` diagnostic on failure, nullopt on success.
std::optional<Diagnostic> WriteNpyFile(const std::string& path, const Tensor& tensor);

}  // namespace qrules
