// The vectorized inner loops of the fast path, compiled once per instruction set (kernels_sse.cc
// for x86-64-v2, kernels_avx2.cc for AVX2, kernels_avx512.cc for AVX-512F) from kernels_impl.h,
// and picked at run time.
//
// Division.  Every kernel needs the correctly rounded float32 quotient d / scale (integer kernels:
// at least its rounded integer).  Four methods are compiled, all exact:
//  * checked reciprocal (BestKernels() default with AVX-512; integer kernels).  With
//    r = RN32(1 / scale), t = RN32(d * r) and n = round_half_even(t), the kernels keep n unless
//    |t - n| >= near = 1/2 - (L + 2) * 2^-22, where L bounds the folded clamp range (|lo|, |hi|
//    <= L); flagged vectors divide.  Argument, for 2^-125 <= |scale| <= 2^125 (so that r is a
//    normal float within 2^-24 relative of 1 / scale; other scales divide) and u = 2^-24: with
//    q = d / scale exactly and y = RN32(q) (what division gives), |t - q| <= (2u + u^2)|q| and
//    |y - q| <= u|q| while t is normal, so |y - t| < 3.01u|t|.  If |t| <= L + 2 and |t - n| <
//    near, then |y - n| < 1/2 - 4u(L + 2) + 3.01u(L + 2) < 1/2, so round(y) = n.  If |t| > L + 2
//    (with L <= 2^21), q and y exceed L + 1.5 in magnitude, so round(y) and n both lie beyond the
//    clamp range on the same side: the same clamped value and STE mask.  When d * r underflows,
//    t, y and n are zeros or tiny numbers of q's sign, and round gives ±0 alike.  (NaN and ±inf
//    d would give division's result too, r being finite and not NaN; the kernels flag them
//    anyway, see NearHalfInteger.)  The flag costs 3 vector ops; with 8-bit ranges about 10^-4 of
//    random quotients are flagged (the adversarial tests hit it on purpose).
//  * divps.  On AMD Zen 4 the divider caps a kernel at ~0.6-0.65x of a streaming multiply in L2.
//  * reciprocal pairs (integer kernels in the AVX2 / AVX-512 tables, when the caller passes pairs:
//    PreparedQParams, or FakeQuantize on blocks of 2^14+ elements): q = fma(d, zh, RN(d * zl)),
//    two FMA-unit ops and no check, with a pair proven per scale to give division's rounded
//    integer for every d (reciprocal.cc).  Blocks without a pair use the table's own method.
//    (A Markstein correction, q = d*r; e = fma(-q, s, d); q += e*r, needs three dependent ops and
//    is not exact for every d without a fourth; measured 0.52x when tried.)
//  * rcp64 (QRULES_NUMERICS_DIV=rcp64): the float64 reciprocal method:
//     q = float32( double(d) * rcp ),   rcp = RN64(1 / double(scale))        (per block, once)
// and this equals RN32(d / scale) for every float32 d and scale (with NaN payloads and the x86
// default NaN included).  Proof sketch: double(d)*rcp = t(1 + e) with t = d / scale exactly and
// |e| <= 2^-52 + 2^-106.  RN32 of that differs from RN32(t) only if a float32 rounding boundary
// (a midpoint of two neighbouring floats, or the overflow threshold, both numbers with a 25-bit
// significand M*2^a) lies between them.  t cannot be such a midpoint: d = M*2^a*scale would need
// 25 significant bits.  And if t != M*2^a, then |d - M*2^a*scale| >= 2^(a + exponent of scale's
// last bit), which gives |t - M*2^a| / (M*2^a) > 2^-49 > |e|.  So t and the float64 product round
// to the same float32.  Only quotients in float32's subnormal range (|t| < 2^-126) are exempt, and
// those give ±0 (same sign) after every kernel's rounding.  The float64 products never overflow or
// underflow (|t| < 2^277, |t| >= 2^-277).  The tests check it on the golden data and on ~11.5M
// random and adversarial pairs (numerics_kernel_test.cc), and run every kernel table bit for bit
// against the reference.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "numerics/numerics_internal.h"
#include "qrules/fake_quant.h"

namespace qrules::internal {

// How the kernels obtain the correctly rounded quotient (all exact; the choice is speed only).
enum class DivisionMethod {
  kDivide,             // divps: IEEE division
  kReciprocal64,       // float32(double(d) * rcp), rcp = RN64(1 / double(scale)); see above
  kCheckedReciprocal,  // integer kernels: RN32(d * RN32(1 / scale)), checked; FP kernels divide
};

// The checked reciprocal's conditions (see above).  Scales it covers: r = RN32(1 / scale) is a
// normal float.
inline bool CheckedReciprocalApplies(float scale) {
  // 2^-125 <= |scale| <= 2^125 on the bits (false for NaN; vectorizes in the kernels' loops).
  uint32_t bits;
  __builtin_memcpy(&bits, &scale, sizeof bits);
  return (bits & 0x7fffffffu) - 0x01000000u <= 0x7E000000u - 0x01000000u;
}
// max(|lo|, |hi|): the bound L of a folded clamp range [lo, hi].
inline float FoldedBound(float lo, float hi) {
  const float a = lo < 0.0f ? -lo : lo, b = hi < 0.0f ? -hi : hi;
  return a > b ? a : b;
}
// `near` for a bound L <= 2^21 (exact: L + 2 and the product are exact; the subtraction's rounding,
// <= 2^-25, is covered by the margin between 4u and 3.01u times L + 2 >= 2).
inline float NearHalfBound(float bound) { return 0.5f - (bound + 2.0f) * 0x1p-22f; }

// The integer kernel is run in a folded form that is bit-identical to the reference:
//     r = clamp(round((x - fo) / scale), lo, hi),  lo = qmin - qo, hi = qmax - qo
//     y = r * scale + fo                          (STE mask: round(...) in [lo, hi])
// Valid when |qo|, |qmin|, |qmax| <= 2^20 (else the kernels run the literal form for that block):
// then round(q) + qo is exact while |round(q)| <= 2^23, beyond that both forms clamp to the same
// end, and (clamp(r) - qo) equals the folded r exactly.  `+ fo` (also +0.0 for ZP) turns a -0.0
// product into +0.0, as the reference's `r - qo` does.  subtract_offset = false skips x - 0.0
// for ZP (x - (+0.0) == x for every x but a signalling NaN, which the division quiets anyway).
struct IntConstParams {
  double rcp;
  float scale, float_offset, lo, hi;
  bool subtract_offset;  // false for ZP
  bool normalize_zero;   // float_offset is -0.0: add +0.0 after rounding (see kernels_impl.h)
  float zh = 0.0f, zl = 0.0f;  // the reciprocal pair, when the kernel multiplies (reciprocal.cc)
  float recip = 0.0f, near = 0.0f;  // the checked reciprocal: RN32(1 / scale), NearHalfBound
};
// The qparams of consecutive blocks, read by the *_const kernels (run r uses entry r).
struct IntBlocks {
  const float* scale;
  const int32_t* zero_point;  // ZP
  const float* minval;        // MINVAL
  float qmin, qmax;
  bool zp;  // the formulation
  // Per block, a reciprocal pair proven exact for its scale (reciprocal.cc), or null: the table's
  // own method.  zh = 0 marks a block without a pair (it takes the table's own method too).  Only
  // the AVX2 / AVX-512 tables read them (they need FMA); the zero points must be foldable.
  const float* zh = nullptr;
  const float* zl = nullptr;
  bool checked = false;  // the table's method is the checked reciprocal (for blocks without a pair)
};
struct FpBlocks {
  const float* scale;
  float fp_max;
  uint32_t min_exponent_field;
  uint32_t mantissa_bits;
};
// |v| <= 2^20 for the quant offset and the clamp range: the folded integer form applies.
inline bool Foldable(float qo, float qmin, float qmax) {
  constexpr float kLimit = 1048576.0f;
  return qo <= kLimit && qo >= -kLimit && qmin <= kLimit && qmin >= -kLimit && qmax <= kLimit &&
         qmax >= -kLimit;
}

struct IntVarParams {  // one entry per element
  const double* rcp;
  const float* scale;
  const float* float_offset;
  const float* lo;
  const float* hi;
  bool zp = false;  // every float_offset is +0.0 (ZP): the column kernels skip x - fo and + fo
  const float* zh = nullptr;  // reciprocal pairs per element (all proven), or null: divide
  const float* zl = nullptr;
  // The checked reciprocal: RN32(1 / scale) per element (every scale covered), or null: divide;
  // and NearHalfBound of the largest |lo|, |hi|.
  const float* recip = nullptr;
  float near = 0.0f;
};
struct FpConstParams {
  double rcp;
  float scale, fp_max;
  uint32_t min_exponent_field;  // biased float32 exponent of the format's smallest normal
  uint32_t mantissa_bits;
};
struct FpVarParams {
  const double* rcp;
  const float* scale;
  float fp_max;
  uint32_t min_exponent_field;
  uint32_t mantissa_bits;
};

struct KernelTable {
  const char* name;  // "avx2/divps", "sse4.1/rcp64", ...
  DivisionMethod division;
  // y[i] = QDQ(x[i]); mask may be null.  The *_const kernels process `runs` consecutive runs of
  // `run` elements, run r with the qparams p[r].
  void (*int_const)(const float* x, float* y, uint8_t* mask, int64_t run, int64_t runs,
                    const IntBlocks& b);
  void (*int_var)(const float* x, float* y, uint8_t* mask, int64_t n, const IntVarParams& p);
  void (*fp_const)(const float* x, float* y, uint8_t* mask, int64_t run, int64_t runs,
                   const FpBlocks& b);
  void (*fp_var)(const float* x, float* y, uint8_t* mask, int64_t n, const FpVarParams& p);
  // `rows` rows of `cols` elements, column c with the qparams p[c] (p has cols entries).  The
  // column-major walk keeps a column group's qparams in registers down the rows (for tiles in
  // L1); the row-major walk streams the rows in memory order and reloads the qparams from L1
  // (for tensors beyond the caches, where a strided walk defeats the prefetchers).
  void (*int_cols)(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                   const IntVarParams& p);
  void (*fp_cols)(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                  const FpVarParams& p);
  void (*int_rows)(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                   const IntVarParams& p);
  void (*fp_rows)(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                  const FpVarParams& p);
  // For each of `runs` consecutive runs of `run` elements: mn[r] = min(mn[r], min of run r),
  // mx[r] likewise, nan[r] |= any NaN in run r.
  void (*minmax_runs)(const float* x, int64_t run, int64_t runs, float* mn, float* mx,
                      uint8_t* nan);
  // Element-wise: mn[i] = min(mn[i], x[i]), mx likewise, nan[i] |= isnan(x[i]).
  void (*minmax_var)(const float* x, int64_t n, float* mn, float* mx, uint8_t* nan);
  // The static calculator's integer qparams (§c.3-§c.6) of n blocks from their raw min / max /
  // NaN flags: mn/mx (raw, in) become the clamped range (out); scale, zero_point, minval out.
  void (*int_qparams)(const IntQParamsArgs& a, int64_t n, float* mn, float* mx,
                      const uint8_t* nan, float* scale, int32_t* zero_point, float* minval);
};

const KernelTable& SseKernels(DivisionMethod method);
const KernelTable& Avx2Kernels(DivisionMethod method);
const KernelTable& Avx512Kernels(DivisionMethod method);
bool CpuHasAvx2();
bool CpuHasAvx512();
// The kernels FakeQuantize uses: AVX-512 with the checked reciprocal when the CPU has it, else
// AVX2, else SSE4.1, with divps (their checked tables are exact but slower).  Environment
// overrides (for benchmarking on other machines):
// QRULES_NUMERICS_ISA=sse|avx2|avx512 (at most what the CPU has),
// QRULES_NUMERICS_DIV=checked|divps|rcp64.
const KernelTable& BestKernels();

// Per-block reciprocal pairs (reciprocal.cc) for an integer kernel's qparams.
struct BlockPairs {
  const float* zh;  // one entry per block; zh = 0: no pair (the table's own method)
  const float* zl;
  bool complete;  // every block has a pair (the per-element kernels need that)
};
// Fills zh / zl (one entry per block, 0 where a block has no proven pair for `kernel`'s clamp
// range) and returns how many blocks have one.  Integer kernels only; a block whose zero point is
// not foldable gets none.
int64_t MakeBlockPairs(const QuantKernel& kernel, const QParams& qparams, std::vector<float>* zh,
                       std::vector<float>* zl);

// FakeQuantize with a given kernel table (tests run every table against the reference); with
// `pairs` (from MakeBlockPairs for this kernel and qparams), tables with FMA multiply.
void FakeQuantizeWith(const KernelTable& kt, const QuantKernel& kernel, const BlockLayout& layout,
                      const QParams& qparams, std::span<const float> x, std::span<float> y,
                      std::span<uint8_t> ste_mask, const BlockPairs* pairs = nullptr);

// Scalar versions of the same element operations, for loop tails.
float FastRoundToFormat(float r, uint32_t min_exponent_field, uint32_t mantissa_bits);

}  // namespace qrules::internal
