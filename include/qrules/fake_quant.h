// qrules/fake_quant.h — fake-quantization numerics: block layouts, ranges, qparams and the QDQ
// kernels of grammar/SEMANTICS.md §c.3–§c.8, bit for bit as the golden vectors in tests/data/golden.
//
//   qrules::QuantizationSpec spec = qrules::DefaultWeightSpec();   // int8 symmetric, per-channel 0
//   qrules::BlockLayout layout;
//   if (auto st = qrules::MakeBlockLayout(shape, spec.granularity, &layout); !st.ok()) {
//     // st.code == NumericsError::kBlockSizeMismatch: keep the tensor float (SEMANTICS.md Part 1 #6)
//   }
//   qrules::BlockRange range = qrules::ComputeRange(layout, x, spec.float_range_min,
//                                                   spec.float_range_max);
//   qrules::QParams qp = qrules::ComputeQParams(spec, range);
//   qrules::FakeQuantize(qrules::QuantKernel::ForSpec(spec), layout, qp, x, y);
//
// Stateful pieces (calculators, the per-tensor FakeQuantizer and the QAT state machine) are in
// qrules/observer.h.
//
// Everything is float32.  Each step below is ONE float32 operation rounded to nearest-even — no
// fused multiply-add, no float64 intermediate that could change a result, no reciprocal standing
// in for a division.  The vectorized path reorders nothing that could change a bit: it divides
// with divps, or replaces the division only where that provably yields division's result — the
// integer kernels multiply by RN(1 / scale) and divide the rare vectors whose product lies too
// close to a half-integer to be sure of the rounding (AVX-512), or by a reciprocal pair proven for
// the scale (PreparedQParams); a float64 reciprocal is selectable (src/numerics/kernels.h has the
// arguments).  The integer kernel runs in an algebraically folded form that is proven and tested
// to be bit-identical.
//
// Integer kernel (per element, with the qparams of the element's block):
//     r = (x - float_offset) / scale        true division
//     r = round_half_to_even(r)
//     r = r + quant_offset                  quant_offset converted to float32
//     r = clamp(r, qmin, qmax)              the integer code (NaN stays NaN, ±inf -> qmax / qmin)
//     y = (r - quant_offset) * scale + float_offset
//   ZP:     quant_offset = zero_point, float_offset = +0.0  (so y is never -0.0)
//   MINVAL: quant_offset = qmin,       float_offset = minval
// Floating (FP8 / FP4) kernel:
//     r = clamp(x / scale, -fp_max, fp_max) NaN stays NaN, ±inf -> ±fp_max
//     v = r rounded once to the nearest value of the format, ties to the even encoding, sign kept
//         (-0.0 stays -0.0; small negatives give -0.0)
//     y = v * scale
// STE mask (backward of QAT): 1 where the pre-clamp value lies in [qmin, qmax] (integer: after
// rounding and the offset; FP: x / scale in [-fp_max, fp_max]), else 0; NaN gives 0.
//
// Errors: problems of the *input* (a granularity that does not fit a tensor shape) come back as a
// NumericsStatus, never as an exception or a print.  Misuse of the API (spans of the wrong length,
// qparams of the wrong size) is checked with assert().
//
// Thread-safety: every function here is pure (reads its arguments, writes only its outputs); call
// them concurrently on distinct outputs.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qrules/config.h"

namespace qrules {

// --- Status --------------------------------------------------------------------------------------

enum class NumericsError {
  kOk,
  kAxisUnresolved,  // per_channel axis None, or per_block int block size without an axis
  kAxisOutOfRange,  // "axis A is out of bounds for tensor of rank R. Allowed axis range is [-R, R)"
  kBlockAxisInvalid,    // per_block axis not in {0, 1}, or an axis together with a tuple
  kBlockSizeInvalid,    // block size 0 or negative (other than -1 in a tuple)
  kBlockTupleRank,      // tuple length != tensor rank
  kBlockSizeMismatch,   // a block size does not divide its dimension: keep the tensor float
  kGranularityFrozen,   // granularity changed after the first observation
  kShapeMismatch,       // a later observation with a different qparam shape
  kNotObserved,         // fake quantization asked for before any observation (passes x through)
  kInvalidSchedule,     // QATSchedule field constraints (§a.5)
  kNotInTrainingMode,   // step() outside training_mode()
  kNestedTrainingMode,  // training_mode() entered twice
  kNoSchedule,          // step() with no schedule anywhere (a warning; no effect)
  kScheduleConfigured,  // manual enable/disable while a schedule is configured
};

// The stable kebab-case id of an error ("block-size-mismatch", "axis-out-of-range", ...).
std::string_view NumericsErrorId(NumericsError e);

struct [[nodiscard]] NumericsStatus {
  NumericsError code = NumericsError::kOk;
  std::string message;  // the coreai_opt wording where the spec gives one

  bool ok() const { return code == NumericsError::kOk; }
  static NumericsStatus Ok() { return {}; }
  static NumericsStatus Error(NumericsError c, std::string m) { return {c, std::move(m)}; }
};

// --- Block layout (§c.5) -------------------------------------------------------------------------

// How a tensor of `shape` (C order) is cut into blocks that share one set of qparams.
//   per_tensor:            block = shape
//   per_channel(a):        block = shape with dim a (negative: a + rank) replaced by 1
//   per_block(a, b):       a in {0,1}; dim a -> b, the other of dims 0/1 -> 1, dims >= 2 whole
//   per_block(tuple):      per-dim block sizes, -1 = the whole dim; tuple length == rank
// qparam_shape[d] = shape[d] / block_shape[d]; every qparam array is stored in C order of it.
struct BlockLayout {
  std::vector<int64_t> shape;
  std::vector<int64_t> block_shape;
  std::vector<int64_t> qparam_shape;

  int64_t numel() const;       // product of shape (1 for rank 0)
  int64_t num_blocks() const;  // product of qparam_shape
  // The block (index into the qparam arrays) of element `flat_index` (C order).  O(rank).
  int64_t BlockOf(int64_t flat_index) const;
  // A layout of one block covering `shape` (per-tensor).
  static BlockLayout PerTensor(std::vector<int64_t> shape);
};

// Resolves `granularity` against `shape`.  Errors (layout untouched): kAxisUnresolved,
// kAxisOutOfRange, kBlockAxisInvalid, kBlockSizeInvalid, kBlockTupleRank, kBlockSizeMismatch.
NumericsStatus MakeBlockLayout(std::span<const int64_t> shape, const Granularity& granularity,
                               BlockLayout* layout);

// --- Range (§c.3) --------------------------------------------------------------------------------

// Per-block min and max after §c.3, one entry per block (C order of qparam_shape):
//   min = float_range_min if set, else the block minimum;  then min = (min < 0) ? min : +0.0
//   max = float_range_max if set, else the block maximum;  then max = (max > 0) ? max : +0.0
// So the range always holds 0 and a zero bound is +0.0 (whatever the sign of a zero in the data).
// A NaN anywhere in a block makes that block's min and max NaN (torch.amin/amax propagate NaN).
struct BlockRange {
  std::vector<float> min;
  std::vector<float> max;
};

// Fast path (vectorized, single pass over x).  x.size() == layout.numel().
BlockRange ComputeRange(const BlockLayout& layout, std::span<const float> x,
                        std::optional<float> float_range_min = std::nullopt,
                        std::optional<float> float_range_max = std::nullopt);
// Scalar reference; equal to ComputeRange bit for bit (NaN compared by NaN-ness).
BlockRange ComputeRangeReference(const BlockLayout& layout, std::span<const float> x,
                                 std::optional<float> float_range_min = std::nullopt,
                                 std::optional<float> float_range_max = std::nullopt);

// --- QParams (§c.4, §c.6) ------------------------------------------------------------------------

// Quantization parameters per block.  `zero_point` and `minval` are empty for floating dtypes.
struct QParams {
  std::vector<int64_t> shape;  // the layout's qparam_shape (may be empty when unknown)
  std::vector<float> scale;
  std::vector<int32_t> zero_point;
  std::vector<float> minval;

  bool empty() const { return scale.empty(); }
};

// Qparams from a range, float32, eps = 2^-23, per block:
//   integer, symmetric / symmetric_with_clipping:
//     scale = max(max(-min, max) / ((qmax - qmin) / 2), eps)
//     zero_point = trunc((qmax + qmin + 1) / 2)            0, or 128 / 8 / 2 for uint8 / 4 / 2
//     minval = -max(|min|, |max|)                          (-0.0 for an all-zero block)
//   integer, asymmetric:
//     scale = max((max - min) / (qmax - qmin), eps)
//     zero_point = clamp(qmin - round_half_even(min / scale), qmin, qmax) as int32
//     minval = min
//   floating, scale_dtype none (FP8):   scale = max(max(-min, max) / fp_max, eps)
//   floating, float8_e8m0fnu (FP4 always):  e = exponent field of max_abs - 127 (-127 for 0 and
//     subnormals, 128 for inf/NaN), e_s = clamp(e - t, -127, 128), t = 2 (FP4), 8 (e4m3), 15
//     (e5m2), scale = max(2^e_s, 2^-126)   (FLOOR mode: max_abs / scale may exceed fp_max and clip)
// NaN propagates through every max above; a NaN zero point (asymmetric) becomes INT32_MIN, as the
// x86 conversion the reference uses does.  `shape` is copied from `qparam_shape` when given.
QParams ComputeQParams(const QuantizationSpec& spec, const BlockRange& range,
                       std::span<const int64_t> qparam_shape = {});

// --- Kernels (§c.8) ------------------------------------------------------------------------------

// What the kernel needs of a spec.  Integer: [qmin, qmax] and the formulation.  Floating: the
// format (mantissa bits, minimum normal exponent) and fp_max.
struct QuantKernel {
  bool floating = false;
  Dtype dtype = Dtype::kInt8;
  QFormulation formulation = QFormulation::kZp;
  int32_t qmin = -128;
  int32_t qmax = 127;
  float fp_max = 0.0f;

  static QuantKernel ForSpec(const QuantizationSpec& spec);
  // An integer kernel with an explicit clamp range (e.g. the golden files' `qmin` / `qmax`).
  static QuantKernel Integer(int32_t qmin, int32_t qmax, QFormulation formulation);
  // The FP8 / FP4 kernel of `dtype` (IsFloatingDtype(dtype) required).
  static QuantKernel Floating(Dtype dtype);
};

// Fake-quantizes x into y (x and y may be the same span).  Preconditions (assert):
// x.size() == y.size() == layout.numel(); qparams hold layout.num_blocks() scales (and zero points
// / minvals for an integer kernel: zero_point for ZP, minval for MINVAL).  ste_mask, when not
// empty, has x.size() entries and receives the STE mask (1/0).
// Fast path: vectorized with SSE4.1 (the x86-64-v2 baseline), AVX2 or AVX-512 as the CPU allows,
// chosen at run time; one pass over x; identical to the reference bit for bit, NaN payloads
// included.  Per-channel and per-block layouts are walked as runs of equal qparams (no
// per-channel passes).  Integer blocks of 2^14 or more elements multiply by proven reciprocal
// pairs (see PreparedQParams, which does so for any block size); with AVX-512 the other integer
// blocks use the checked reciprocal (above), elsewhere they divide.
void FakeQuantize(const QuantKernel& kernel, const BlockLayout& layout, const QParams& qparams,
                  std::span<const float> x, std::span<float> y, std::span<uint8_t> ste_mask = {});

// Qparams prepared once for many FakeQuantize calls with one integer kernel: frozen weights, or
// activations after calibration.  The kernels' slowest step is the division by the scale; for
// each block, preparing looks for two float32 constants (zh, zl) with which fma(d, zh, d * zl)
// rounds to the same integer as round_half_even(d / scale) for *every* float32 d — checked per
// scale by a short number-theoretic proof (src/numerics/reciprocal.cc) — and FakeQuantize then
// multiplies with no per-element check (two FMA-unit operations where the plain call's checked
// reciprocal needs four).  Results are bit-identical either way.  Blocks without a proven pair
// (none among 20,000 random scales with 8-bit ranges; about 2% of scales with an 8-bit
// significand less an ulp or two, such as 0x1.8ffffcp-1) are quantized as the plain call would:
// block by block for layouts whose blocks are runs of 8 or more elements, the whole tensor for
// shorter runs (per-channel on the last axis).  Floating kernels and CPUs without FMA never use
// pairs; AVX2-only CPUs use them on runs of 64+ elements only (their short-run kernels measured
// slower with pairs).  Preparing costs about 0.2 µs per block.  Immutable after construction.
class PreparedQParams {
 public:
  PreparedQParams() = default;
  PreparedQParams(const QuantKernel& kernel, QParams qparams);

  const QParams& qparams() const { return qparams_; }
  // True when every block has a proven pair (FakeQuantize with `kernel` multiplies).
  bool multiplies() const {
    return proven_blocks_ > 0 && proven_blocks_ == static_cast<int64_t>(qparams_.scale.size());
  }
  int64_t multiplying_blocks() const { return proven_blocks_; }
  // The pairs, one per block (zh = 0 where a block has none; empty when no block has one).
  std::span<const float> reciprocal_high() const { return zh_; }
  std::span<const float> reciprocal_low() const { return zl_; }
  // Whether the pairs were proven for `kernel` (the clamp range enters the proof).
  bool PreparedFor(const QuantKernel& kernel) const;

 private:
  QParams qparams_;
  QuantKernel kernel_;
  std::vector<float> zh_, zl_;
  int64_t proven_blocks_ = 0;
};

// FakeQuantize with prepared qparams; the same results as with qparams.qparams().
void FakeQuantize(const QuantKernel& kernel, const BlockLayout& layout,
                  const PreparedQParams& qparams, std::span<const float> x, std::span<float> y,
                  std::span<uint8_t> ste_mask = {});

// Scalar reference, the specification.  `codes`, when not empty, receives the value before
// dequantization: the clamped integer code r (integer kernel) or the format value v (FP kernel).
void FakeQuantizeReference(const QuantKernel& kernel, const BlockLayout& layout,
                           const QParams& qparams, std::span<const float> x, std::span<float> y,
                           std::span<uint8_t> ste_mask = {}, std::span<float> codes = {});

// Rounds a float32 once to the nearest value of an FP8 / FP4 format (ties to even, sign kept, no
// clamp: |r| must be <= FloatMax(dtype) or NaN).  The format-rounding step of the FP kernel.
float RoundToFloatFormat(Dtype dtype, float r);

}  // namespace qrules
