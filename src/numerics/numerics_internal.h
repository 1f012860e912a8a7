// Private helpers shared by the reference and the vectorized numerics.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "qrules/config.h"

namespace qrules::internal {

// torch.maximum / torch.clamp semantics: NaN in either argument gives NaN.
inline float NanMax(float a, float b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return a > b ? a : b;
}

// torch.clamp: NaN stays NaN (the comparisons are false), +inf -> hi, -inf -> lo.
inline float NanClamp(float r, float lo, float hi) {
  r = r < lo ? lo : r;
  return r > hi ? hi : r;
}

// §c.3's `min(min, 0)` / `max(max, 0)` with a deterministic zero: any zero bound is +0.0.
inline float ClampRangeMin(float m) { return std::isnan(m) || m < 0.0f ? m : 0.0f; }
inline float ClampRangeMax(float m) { return std::isnan(m) || m > 0.0f ? m : 0.0f; }

// float -> int32 as x86's cvttss2si: truncation, and INT32_MIN for NaN and out-of-range values.
inline int32_t FloatToInt32(float z) {
  if (!(z >= -2147483648.0f && z < 2147483648.0f)) return INT32_MIN;
  return static_cast<int32_t>(z);
}

// The static calculator's integer qparams constants for one spec (§c.4-§c.6), decoded once.
struct IntQParamsArgs {
  bool asymmetric;
  bool has_range_min, has_range_max;  // float_range bounds replace the observed ones
  float range_min, range_max;
  float steps;        // asymmetric: qmax - qmin
  float denominator;  // symmetric: (qmax - qmin) / 2
  float qmin, qmax;
  int32_t symmetric_zero_point;
};

// §c.4 / §c.6 for one block whose range [lo, hi] is already clamped to contain 0: the
// reference formulas, which the vectorized kernel (int_qparams) reproduces lane by lane.
inline void IntQParamsOne(const IntQParamsArgs& a, float lo, float hi, float* scale,
                          int32_t* zero_point, float* minval) {
  constexpr float kEps = 0x1p-23f;
  if (a.asymmetric) {
    const float s = NanMax((hi - lo) / a.steps, kEps);
    float z = a.qmin - std::nearbyint(lo / s);  // nearbyint: round half to even
    z = NanClamp(z, a.qmin, a.qmax);
    *scale = s;
    *zero_point = FloatToInt32(z);  // NaN -> INT32_MIN, as on x86
    *minval = lo;
  } else {
    *scale = NanMax(NanMax(-lo, hi) / a.denominator, kEps);
    *zero_point = a.symmetric_zero_point;
    *minval = -NanMax(std::fabs(lo), std::fabs(hi));
  }
}

// An FP8 / FP4 format: mantissa bits and the exponent of its smallest normal value.
struct FloatFormat {
  int mantissa_bits;
  int min_exponent;
};
inline FloatFormat FormatOf(Dtype d) {
  switch (d) {
    case Dtype::kFloat8E4m3fn:
      return {3, -6};
    case Dtype::kFloat8E5m2:
      return {2, -14};
    case Dtype::kFloat4E2m1fnX2:
      return {1, 0};
    default:
      return {23, -126};
  }
}

// The quotient d / s as fma(d, zh, RN(d * zl)) (reciprocal.cc).
struct ReciprocalPair {
  float zh, zl;
};
// A pair for `scale` with which n = round_half_even(fma(d, zh, RN(d * zl))) gives the same
// clamp(n, lo, hi) and the same STE mask (lo <= n <= hi) as round_half_even(RN(d / scale)), for
// any lo, hi with max(|lo|, |hi|) <= clamp_bound and every float32 d (±0, ±inf and NaN
// included); proven per scale.  False (keep dividing) when no
// pair is found among the few tried, or the scale or bound is out of the proof's range.
bool FindExactReciprocalPair(float scale, float clamp_bound, ReciprocalPair* out);

}  // namespace qrules::internal

namespace qrules {
struct QuantizationSpec;
}
namespace qrules::internal {
// The IntQParamsArgs of an integer spec (reference_fake_quant.cc).
IntQParamsArgs IntQParamsArgsFor(const QuantizationSpec& spec);
// §c.4 / §c.6 qparams of n blocks from their ranges (reference_fake_quant.cc).  zero_point and
// minval are not touched for floating dtypes (may be null then).
void BlockQParams(const QuantizationSpec& spec, const float* mn, const float* mx, size_t n,
                  float* scale, int32_t* zero_point, float* minval);
}  // namespace qrules::internal

#include <span>

namespace qrules {
struct BlockLayout;
struct BlockRange;
struct QParams;
struct QuantKernel;
}  // namespace qrules
namespace qrules::internal {
// Static observe + quantize in one pass when every block is one contiguous run (fake_quant.cc);
// false (nothing written) for other layouts.
bool FusedStaticObserveQuantize(const QuantizationSpec& spec, const QuantKernel& kernel,
                                const BlockLayout& layout, std::span<const float> x,
                                std::span<float> y, std::span<uint8_t> ste_mask, BlockRange* range,
                                QParams* qparams);
}  // namespace qrules::internal
