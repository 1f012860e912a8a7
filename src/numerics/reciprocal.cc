// Exact division by a known scale without dividing: the reciprocal pair and its per-scale proof.
//
// Every integer kernel computes n = round_half_even(RN(d / s)) and clamps n to [lo, hi] (the
// folded form of kernels.h), for every float32 d and a scale s fixed per block.  divps is the
// slowest step of that loop.  With two float32 constants per scale, zh ~ 1/s and zl ~ 1/s - zh,
//     q = fma(d, zh, RN(d * zl))                                          (two FMA-unit ops)
// is within ~2^-47 relative of d / s (Brisebarre, Muller and Raina, "Accelerating correctly
// rounded floating-point division when the divisor is known in advance", IEEE TC 53(8), 2004,
// Algorithm 2).  That is not always RN(d / s): close enough to a rounding midpoint, the two
// round to neighbouring floats.  FindExactReciprocalPair proves, for one s, that such a miss can
// never change the clamped integer or the STE mask, by listing every d that could come that close
// and trying it.
//
// Definitions.  t = d / s exactly; v = d*zh + RN(d*zl), the value the fma rounds.  We pick zh below
// 1/s (s*zh < 1) so that zl > 0: then d*zh and RN(d*zl) have the sign of d, so q is ±0 exactly
// when d is (same sign as d / s), q is ±inf for d = ±inf (inf + inf, never inf - inf), and a NaN
// d gives that NaN, as divps does.
//
// 1. Error bound.  With |t| >= 2^-2, d*zl = t*s*zl is a normal float32 product (s*zl >= 2^-49,
//    checked), so RN(d*zl) = d*zl*(1 + e), |e| <= 2^-24, and
//        v - t = t*(s*(zh + zl) - 1) + t*s*zl*e,   |v - t| <= rho*|t|,
//        rho = |s*zh - 1 + s*zl| + 2^-24*s*zl.
//    s*zh - 1 and s*zl are exact in float64 (24 x 24-bit products, Sterbenz), so rho is computed
//    to within a relative 2^-52, and rounded up.
// 2. Where a miss can happen.  RN(v) != RN(t) needs a rounding boundary m between t and v: a
//    midpoint between two neighbouring float32s (or the overflow threshold), m = M*2^c with M odd,
//    2^24 < M < 2^25.  Write s = S*2^sigma (S odd) and d = X*2^alpha (0 < X < 2^24).  If
//    k = alpha - sigma - c >= 0 then t - m = 2^c*D/S with the integer D = X*2^k - S*M; D != 0
//    (X*2^k = S*M is odd, forcing k = 0 and X = S*M > 2^24).  If k < 0, |t - m| > |t|.  And
//    |t - m| <= rho*|t| < rho*2^(c+25)*(1 + rho) gives |D| <= Dmax = floor(S*rho*2^25*(1 + 2^-40)).
//    For each D in [-Dmax, Dmax] \ {0} and k >= 1, S*M + D = X*2^k fixes M modulo 2^k
//    (M = -D * S^-1 mod 2^k); X < 2^24 bounds M, so only a handful of (M, X) pairs exist.  Every
//    d with a miss is d = ±X*2^alpha for one of them, at some exponent; float32 operations in the
//    normal range commute with scaling by 2^j, so trying one exponent per pair decides all.
// 3. Which misses matter.  A miss rounds t and v to neighbouring floats a < b.  Below 2^22 every
//    half-integer is a float, so round_half_even(a) != round_half_even(b) only if a or b is a
//    half-integer h, i.e. m = h ± ulp/2.  In binade [2^E, 2^(E+1)), m = (2j + 1)*2^(E-24) is
//    next to h = i + 1/2 only if M -/+ 1 = odd * 2^(23-E): v2(M -/+ 1) = 23 - E.  A miss between
//    n = i and i + 1 changes neither the clamped value nor the STE mask (lo <= n <= hi) unless
//    lo - 1 <= i <= hi, i.e. |h| <= B + 1/2 for B = max(|lo|, |hi|): E <= Emax =
//    floor(log2(B + 1/2)) (B + 1/2 is never a power of two for B >= 1).  So a pair (M, X) can
//    change a result only if max(v2(M - 1), v2(M + 1)) >= 23 - Emax; only those are tried (at
//    1 < t < 2, comparing q with d / s).  For 8-bit types (B <= 510) that is 1 midpoint in 2^15.
// 4. The rest.  |t| < 2^-2: |v| < 1/2 too and both round to a zero of d's sign.  |t| >= 2^22 >
//    2*B: both integers are beyond the clamp bound on the same side.
// If any tried d misses, the next zh below is tried (a different zl, different misses); after
// kChoices the scale keeps dividing.  Exhaustive sweeps in numerics_reciprocal_test.cc check both
// directions (no miss for a proven pair; a reported failure is real).
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "numerics/numerics_internal.h"

namespace qrules::internal {
namespace {

constexpr int kChoices = 4;

// 2-adic valuation of a nonzero value.
int TrailingZeros(uint64_t v) { return __builtin_ctzll(v); }

float Quotient(float d, ReciprocalPair p) { return std::fma(d, p.zh, d * p.zl); }

// §2-§3 for one candidate pair; true when no d can change a clamped integer.
bool Proven(float scale, ReciprocalPair pair, int e_max) {
  int exponent;
  const double significand = std::frexp(static_cast<double>(scale), &exponent);  // [0.5, 1)
  auto big_s = static_cast<uint64_t>(std::ldexp(significand, 24));
  int sigma = exponent - 24;
  while ((big_s & 1) == 0) {
    big_s >>= 1;
    ++sigma;
  }
  const double a = static_cast<double>(scale) * static_cast<double>(pair.zh) - 1.0;  // exact
  const double b = static_cast<double>(scale) * static_cast<double>(pair.zl);        // exact
  if (!(a < 0.0) || !(b > 0x1p-49)) return false;  // zh below 1/s; d*zl normal for |t| >= 1/4
  const double rho = (std::fabs(a + b) + 0x1p-24 * b) * (1.0 + 0x1p-40);
  const auto d_max =
      static_cast<int64_t>(std::floor(static_cast<double>(big_s) * rho * 0x1p25 * (1.0 + 0x1p-40)));
  if (d_max > 64) return false;  // not a pair worth proving (zh far from 1/s)
  uint64_t inverse = big_s;      // S^-1 modulo 2^64 by Newton's iteration (S odd)
  for (int i = 0; i < 6; ++i) inverse *= 2 - big_s * inverse;
  const int relevant_valuation = 23 - e_max;
  constexpr uint64_t kMLow = (uint64_t{1} << 24) + 1, kMHigh = (uint64_t{1} << 25) - 1;
  for (int64_t dd = -d_max; dd <= d_max; ++dd) {
    if (dd == 0) continue;
    for (int k = 1; k <= 49; ++k) {
      const uint64_t modulus = uint64_t{1} << k, mask = modulus - 1;
      const uint64_t m0 = (static_cast<uint64_t>(-dd) * inverse) & mask;
      // X = (S*M + D) / 2^k < 2^24  <=>  S*M + D < 2^(24+k).
      uint64_t m_high = kMHigh;
      if (24 + k < 63) {
        const uint64_t limit = (uint64_t{1} << (24 + k)) - 1;
        const auto room =
            dd < 0 ? limit + static_cast<uint64_t>(-dd) : limit - static_cast<uint64_t>(dd);
        if (room / big_s < m_high) m_high = room / big_s;
      }
      if (m_high < kMLow) continue;
      uint64_t m = m0 >= kMLow ? m0 : m0 + (((kMLow - m0) + mask) >> k << k);
      for (; m <= m_high; m += modulus) {
        if ((m & 1) == 0) continue;
        const int64_t num = static_cast<int64_t>(big_s * m) + dd;
        if (num <= 0 || (static_cast<uint64_t>(num) & mask) != 0) continue;
        const int v = std::max(TrailingZeros(m - 1), TrailingZeros(m + 1));
        if (v < relevant_valuation) continue;  // §3: next to no half-integer inside the clamp
        // d = X * 2^(k + sigma + c) with c = -24: t close to M * 2^-24, in (1, 2).
        const float d = std::ldexp(static_cast<float>(num >> k), k + sigma - 24);
        if (Quotient(d, pair) != d / scale || Quotient(-d, pair) != -d / scale) return false;
      }
    }
  }
  return true;
}

}  // namespace

bool FindExactReciprocalPair(float scale, float clamp_bound, ReciprocalPair* out) {
  // Scales far from 1 would push the tried d or d*zl out of the normal range; they divide.
  if (!(scale >= 0x1p-60f && scale <= 0x1p60f)) return false;
  if (!(clamp_bound >= 0.0f && clamp_bound <= 2097152.0f)) return false;  // B <= 2^21 (§4)
  const int e_max = static_cast<int>(std::floor(std::log2(static_cast<double>(clamp_bound) + 0.5)));
  // The largest float32 strictly below 1/s (s*zh < 1 is exact to test in float64).
  float zh = static_cast<float>(1.0 / static_cast<double>(scale));
  while (static_cast<double>(scale) * static_cast<double>(zh) >= 1.0) zh = std::nextafter(zh, 0.0f);
  for (int choice = 0; choice < kChoices; ++choice) {
    // zl = RN32(1/s - zh): 1 - s*zh is exact in float64, the quotient by s within 2^-53.
    const double gap = 1.0 - static_cast<double>(scale) * static_cast<double>(zh);
    const ReciprocalPair pair{zh, static_cast<float>(gap / static_cast<double>(scale))};
    if (Proven(scale, pair, e_max)) {
      *out = pair;
      return true;
    }
    zh = std::nextafter(zh, 0.0f);
  }
  return false;
}

}  // namespace qrules::internal
