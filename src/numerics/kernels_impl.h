// The body of the vectorized kernels, included once per instruction set by kernels_sse.cc,
// kernels_avx2.cc and kernels_avx512.cc (which define QRULES_KERNEL_NS).  The vector width follows
// the compiler target: AVX-512 -> 16 floats, AVX2 -> 8 floats, otherwise SSE4.1 -> 4 floats.  Every lane performs exactly the operations of
// the scalar reference (reference_fake_quant.cc) in the same order; see kernels.h for the division.
//
// Operand order matters for NaN: x86 max/min return their second operand when either is NaN, so
// clamp(r) is max(lo, r) then min(hi, r) (= `r < lo ? lo : r`, `r > hi ? hi : r`), which keeps a
// NaN r; x86 arithmetic returns the first NaN operand, so the data is always the first operand.
#include <immintrin.h>

#include <cstdint>
#include <type_traits>

#include "numerics/kernels.h"
#include "numerics/numerics_internal.h"

#ifndef QRULES_KERNEL_NS
#error "define QRULES_KERNEL_NS before including kernels_impl.h"
#endif

namespace qrules::internal::QRULES_KERNEL_NS {
namespace {

#if defined(__AVX512F__)
// 16 lanes; loop tails run as one masked vector instead of scalar elements (kMaskedTail), which
// matters for short qparam runs (a per-channel run of 16 elements is one vector, no tail at all).
constexpr int kWidth = 16;
constexpr bool kMaskedTail = true;
using VF = __m512;
using VI = __m512i;
using VD = __m512d;
inline __mmask16 TailMask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }  // n < 16
inline VF Load(const float* p) { return _mm512_loadu_ps(p); }
inline VF LoadN(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(TailMask(n), p); }
inline void Store(float* p, VF v) { _mm512_storeu_ps(p, v); }
inline void StoreN(float* p, VF v, int64_t n) { _mm512_mask_storeu_ps(p, TailMask(n), v); }
inline VF Set1(float f) { return _mm512_set1_ps(f); }
inline VD Set1D(double d) { return _mm512_set1_pd(d); }
inline VF Add(VF a, VF b) { return _mm512_add_ps(a, b); }
inline VF Sub(VF a, VF b) { return _mm512_sub_ps(a, b); }
inline VF Mul(VF a, VF b) { return _mm512_mul_ps(a, b); }
inline VF Max(VF a, VF b) { return _mm512_max_ps(a, b); }
inline VF Min(VF a, VF b) { return _mm512_min_ps(a, b); }
inline VF RoundEven(VF a) {
  return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline int NanBits(VF v) { return _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q); }
inline __mmask16 InRange(VF r, VF lo, VF hi) {
  return _mm512_cmp_ps_mask(r, lo, _CMP_GE_OQ) & _mm512_cmp_ps_mask(r, hi, _CMP_LE_OQ);
}
// Writes kWidth (or n) bytes: 1 where lo <= r <= hi, else 0 (NaN: 0).
inline void StoreInRange(uint8_t* out, VF r, VF lo, VF hi) {
  const __m128i bytes = _mm512_cvtepi32_epi8(_mm512_maskz_set1_epi32(InRange(r, lo, hi), 1));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out), bytes);
}
inline void StoreInRangeN(uint8_t* out, VF r, VF lo, VF hi, int64_t n) {
  _mm512_mask_cvtepi32_storeu_epi8(out, TailMask(n),
                                   _mm512_maskz_set1_epi32(InRange(r, lo, hi), 1));
}
inline VF Halves(__m256 lo, __m256 hi) {
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
}
inline __m256 LowHalf(VF v) { return _mm512_castps512_ps256(v); }
inline __m256 HighHalf(VF v) {
  return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}
// q = float32(double(d) * rcp), lane by lane.
inline VF DivByRcp(VF d, VD rcp) {
  const VD lo = _mm512_mul_pd(_mm512_cvtps_pd(LowHalf(d)), rcp);
  const VD hi = _mm512_mul_pd(_mm512_cvtps_pd(HighHalf(d)), rcp);
  return Halves(_mm512_cvtpd_ps(lo), _mm512_cvtpd_ps(hi));
}
inline VF Div(VF a, VF b) { return _mm512_div_ps(a, b); }
inline VF Fmadd(VF a, VF b, VF c) { return _mm512_fmadd_ps(a, b, c); }
// r * scale + (+0.0) in one rounding: the same float as the two-step form, because adding +0.0 to
// a rounded product is exact (and turns -0.0 into +0.0 in both).  One FP op fewer for ZP blocks.
inline VF MulAddZero(VF r, VF scale) { return _mm512_fmadd_ps(r, scale, _mm512_setzero_ps()); }
inline VF DivByRcpArray(VF d, const double* rcp) {
  const VD lo = _mm512_mul_pd(_mm512_cvtps_pd(LowHalf(d)), _mm512_loadu_pd(rcp));
  const VD hi = _mm512_mul_pd(_mm512_cvtps_pd(HighHalf(d)), _mm512_loadu_pd(rcp + 8));
  return Halves(_mm512_cvtpd_ps(lo), _mm512_cvtpd_ps(hi));
}
inline VF RoundFormat(VF r, VI min_e, VI shift_add) {
  const VI bits = _mm512_castps_si512(r);
  const VI sign = _mm512_and_si512(bits, _mm512_set1_epi32(INT32_MIN));
  const VI abs = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
  VI e = _mm512_max_epi32(_mm512_srli_epi32(abs, 23), min_e);
  const VF c = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(e, shift_add), 23));
  const VF v = _mm512_sub_ps(_mm512_add_ps(_mm512_castsi512_ps(abs), c), c);
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(v), sign));
}
inline VI Set1I(int32_t i) { return _mm512_set1_epi32(i); }
// Same reduction order as the AVX2 kernels (halves, then quarters...).
inline float HMin(VF v) {
  const __m256 h = _mm256_min_ps(LowHalf(v), HighHalf(v));
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline float HMax(VF v) {
  const __m256 h = _mm256_max_ps(LowHalf(v), HighHalf(v));
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline VF Unordered(VF a) {
  return _mm512_castsi512_ps(_mm512_maskz_set1_epi32(_mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q), -1));
}
inline VF Or(VF a, VF b) {
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
inline bool AnyBits(VF a) {
  return _mm512_test_epi32_mask(_mm512_castps_si512(a), _mm512_castps_si512(a)) != 0;
}
inline VF ZeroF() { return _mm512_setzero_ps(); }
// Masks as vectors (all-ones lanes), for the per-block qparams arithmetic.
inline VF Select(VF mask, VF a, VF b) {  // mask ? a : b
  return _mm512_mask_blend_ps(
      _mm512_cmp_epi32_mask(_mm512_castps_si512(mask), _mm512_setzero_si512(), _MM_CMPINT_LT), b,
      a);
}
inline VF FlagsNonZero(const uint8_t* p) {  // kWidth bytes
  const VI v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  return _mm512_castsi512_ps(_mm512_maskz_set1_epi32(_mm512_test_epi32_mask(v, v), -1));
}
inline VF Xor(VF a, VF b) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
inline VF AndNot(VF a, VF b) {  // ~a & b
  return _mm512_castsi512_ps(_mm512_andnot_si512(_mm512_castps_si512(a), _mm512_castps_si512(b)));
}
inline void StoreTruncated(int32_t* p, VF v) {  // cvttps2dq: NaN / out of range -> INT32_MIN
  _mm512_storeu_si512(p, _mm512_cvttps_epi32(v));
}
#elif defined(__AVX2__)
constexpr int kWidth = 8;
using VF = __m256;
using VI = __m256i;
using VD = __m256d;
inline VF Load(const float* p) { return _mm256_loadu_ps(p); }
inline void Store(float* p, VF v) { _mm256_storeu_ps(p, v); }
inline VF Set1(float f) { return _mm256_set1_ps(f); }
inline VD Set1D(double d) { return _mm256_set1_pd(d); }
inline VF Add(VF a, VF b) { return _mm256_add_ps(a, b); }
inline VF Sub(VF a, VF b) { return _mm256_sub_ps(a, b); }
inline VF Mul(VF a, VF b) { return _mm256_mul_ps(a, b); }
inline VF Max(VF a, VF b) { return _mm256_max_ps(a, b); }
inline VF Min(VF a, VF b) { return _mm256_min_ps(a, b); }
inline VF RoundEven(VF a) {
  return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline int NanBits(VF v) { return _mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)); }
// Writes kWidth bytes: 1 where lo <= r <= hi, else 0 (NaN: 0).
inline void StoreInRange(uint8_t* out, VF r, VF lo, VF hi) {
  const VF in = _mm256_and_ps(_mm256_cmp_ps(r, lo, _CMP_GE_OQ), _mm256_cmp_ps(r, hi, _CMP_LE_OQ));
  const VI one = _mm256_srli_epi32(_mm256_castps_si256(in), 31);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(one), _mm256_extracti128_si256(one, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packs_epi16(w, w));
}
// q = float32(double(d) * rcp), lane by lane.
inline VF DivByRcp(VF d, VD rcp) {
  VD lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(d)), rcp);
  VD hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(d, 1)), rcp);
  return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}
inline VF Div(VF a, VF b) { return _mm256_div_ps(a, b); }
inline VF Fmadd(VF a, VF b, VF c) { return _mm256_fmadd_ps(a, b, c); }
inline VF MulAddZero(VF r, VF scale) {
  return _mm256_add_ps(_mm256_mul_ps(r, scale), _mm256_setzero_ps());
}
inline VF DivByRcpArray(VF d, const double* rcp) {
  VD lo = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(d)), _mm256_loadu_pd(rcp));
  VD hi = _mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(d, 1)), _mm256_loadu_pd(rcp + 4));
  return _mm256_set_m128(_mm256_cvtpd_ps(hi), _mm256_cvtpd_ps(lo));
}
inline VF RoundFormat(VF r, VI min_e, VI shift_add) {
  const VI bits = _mm256_castps_si256(r);
  const VI sign = _mm256_and_si256(bits, _mm256_set1_epi32(INT32_MIN));
  const VI abs = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff));
  VI e = _mm256_max_epi32(_mm256_srli_epi32(abs, 23), min_e);
  const VF c = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, shift_add), 23));
  const VF v = _mm256_sub_ps(_mm256_add_ps(_mm256_castsi256_ps(abs), c), c);
  return _mm256_or_ps(v, _mm256_castsi256_ps(sign));
}
inline VI Set1I(int32_t i) { return _mm256_set1_epi32(i); }
inline float HMin(VF v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline float HMax(VF v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline VF Unordered(VF a) { return _mm256_cmp_ps(a, a, _CMP_UNORD_Q); }
inline VF Or(VF a, VF b) { return _mm256_or_ps(a, b); }
inline bool AnyBits(VF a) { return _mm256_movemask_ps(a) != 0; }
inline VF ZeroF() { return _mm256_setzero_ps(); }
inline VF Select(VF mask, VF a, VF b) { return _mm256_blendv_ps(b, a, mask); }
inline VF FlagsNonZero(const uint8_t* p) {
  int64_t bytes;
  __builtin_memcpy(&bytes, p, 8);
  const VI v = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(bytes));
  return _mm256_castsi256_ps(_mm256_cmpgt_epi32(v, _mm256_setzero_si256()));
}
inline VF Xor(VF a, VF b) { return _mm256_xor_ps(a, b); }
inline VF AndNot(VF a, VF b) { return _mm256_andnot_ps(a, b); }
inline void StoreTruncated(int32_t* p, VF v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_cvttps_epi32(v));
}
#else
constexpr int kWidth = 4;
using VF = __m128;
using VI = __m128i;
using VD = __m128d;
inline VF Load(const float* p) { return _mm_loadu_ps(p); }
inline void Store(float* p, VF v) { _mm_storeu_ps(p, v); }
inline VF Set1(float f) { return _mm_set1_ps(f); }
inline VD Set1D(double d) { return _mm_set1_pd(d); }
inline VF Add(VF a, VF b) { return _mm_add_ps(a, b); }
inline VF Sub(VF a, VF b) { return _mm_sub_ps(a, b); }
inline VF Mul(VF a, VF b) { return _mm_mul_ps(a, b); }
inline VF Max(VF a, VF b) { return _mm_max_ps(a, b); }
inline VF Min(VF a, VF b) { return _mm_min_ps(a, b); }
inline VF RoundEven(VF a) { return _mm_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline int NanBits(VF v) { return _mm_movemask_ps(_mm_cmpunord_ps(v, v)); }
inline void StoreInRange(uint8_t* out, VF r, VF lo, VF hi) {
  const VF in = _mm_and_ps(_mm_cmpge_ps(r, lo), _mm_cmple_ps(r, hi));
  const VI one = _mm_srli_epi32(_mm_castps_si128(in), 31);
  const __m128i w = _mm_packs_epi32(one, one);
  const int32_t bytes = _mm_cvtsi128_si32(_mm_packs_epi16(w, w));
  __builtin_memcpy(out, &bytes, 4);
}
inline VF DivByRcp(VF d, VD rcp) {
  const VD lo = _mm_mul_pd(_mm_cvtps_pd(d), rcp);
  const VD hi = _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(d, d)), rcp);
  return _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi));
}
inline VF Div(VF a, VF b) { return _mm_div_ps(a, b); }
// (Never called: without FMA the tables divide; defined for the templates' discarded branches.)
inline VF Fmadd(VF a, VF b, VF c) {
  alignas(16) float va[4], vb[4], vc[4];
  _mm_store_ps(va, a);
  _mm_store_ps(vb, b);
  _mm_store_ps(vc, c);
  for (int k = 0; k < 4; ++k) va[k] = __builtin_fmaf(va[k], vb[k], vc[k]);
  return _mm_load_ps(va);
}
inline VF MulAddZero(VF r, VF scale) { return _mm_add_ps(_mm_mul_ps(r, scale), _mm_setzero_ps()); }
inline VF DivByRcpArray(VF d, const double* rcp) {
  const VD lo = _mm_mul_pd(_mm_cvtps_pd(d), _mm_loadu_pd(rcp));
  const VD hi = _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(d, d)), _mm_loadu_pd(rcp + 2));
  return _mm_movelh_ps(_mm_cvtpd_ps(lo), _mm_cvtpd_ps(hi));
}
inline VF RoundFormat(VF r, VI min_e, VI shift_add) {
  const VI bits = _mm_castps_si128(r);
  const VI sign = _mm_and_si128(bits, _mm_set1_epi32(INT32_MIN));
  const VI abs = _mm_and_si128(bits, _mm_set1_epi32(0x7fffffff));
  VI e = _mm_max_epi32(_mm_srli_epi32(abs, 23), min_e);
  const VF c = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(e, shift_add), 23));
  const VF v = _mm_sub_ps(_mm_add_ps(_mm_castsi128_ps(abs), c), c);
  return _mm_or_ps(v, _mm_castsi128_ps(sign));
}
inline VI Set1I(int32_t i) { return _mm_set1_epi32(i); }
inline float HMin(VF v) {
  const __m128 m = _mm_min_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline float HMax(VF v) {
  const __m128 m = _mm_max_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline VF Unordered(VF a) { return _mm_cmpunord_ps(a, a); }
inline VF Or(VF a, VF b) { return _mm_or_ps(a, b); }
inline bool AnyBits(VF a) { return _mm_movemask_ps(a) != 0; }
inline VF ZeroF() { return _mm_setzero_ps(); }
inline VF Select(VF mask, VF a, VF b) { return _mm_blendv_ps(b, a, mask); }
inline VF FlagsNonZero(const uint8_t* p) {
  int32_t bytes;
  __builtin_memcpy(&bytes, p, 4);
  const VI v = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(bytes));
  return _mm_castsi128_ps(_mm_cmpgt_epi32(v, _mm_setzero_si128()));
}
inline VF Xor(VF a, VF b) { return _mm_xor_ps(a, b); }
inline VF AndNot(VF a, VF b) { return _mm_andnot_ps(a, b); }
inline void StoreTruncated(int32_t* p, VF v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), _mm_cvttps_epi32(v));
}
#endif

#if !defined(__AVX512F__)
// Without mask registers the loop tails run element by element (these are never called).
constexpr bool kMaskedTail = false;
inline VF LoadN(const float* p, int64_t) { return Load(p); }
inline void StoreN(float* p, VF v, int64_t) { Store(p, v); }
inline void StoreInRangeN(uint8_t* out, VF r, VF lo, VF hi, int64_t) {
  StoreInRange(out, r, lo, hi);
}
#endif

// Full-vector or tail (lanes < kWidth) loads and stores, chosen at compile time.
template <bool kFull>
inline VF LoadL(const float* p, int64_t lanes) {
  if constexpr (kFull) {
    return Load(p);
  } else {
    return LoadN(p, lanes);
  }
}
template <bool kFull>
inline void StoreL(float* p, VF v, int64_t lanes) {
  if constexpr (kFull) {
    Store(p, v);
  } else {
    StoreN(p, v, lanes);
  }
}
template <bool kFull>
inline void StoreInRangeL(uint8_t* out, VF r, VF lo, VF hi, int64_t lanes) {
  if constexpr (kFull) {
    StoreInRange(out, r, lo, hi);
  } else {
    StoreInRangeN(out, r, lo, hi, lanes);
  }
}
using Full = std::true_type;
using Tail = std::false_type;

// --- How an integer kernel obtains round(d / scale) ---------------------------------------------
// Every integer kernel needs division's rounded integer, round_half_even(RN(d / scale)).  Three
// ways, all bit-identical (kernels.h has the arguments):
//  * kDivide: divps.  On Zen 4 the divider caps a kernel at ~0.6x of a streaming multiply in L2.
//  * kPair: fma(d, zh, RN(d * zl)) with a reciprocal pair proven exact for the block's scale
//    (reciprocal.cc; PreparedQParams), two FMA-unit ops.  Only tables compiled with FMA.
//  * kChecked: t = RN(d * RN(1 / scale)), n = round(t), exact unless t lies within `near` of a
//    half-integer; those vectors (a few in 10^3 with 8-bit ranges) divide instead.  Needs no
//    preparation, so it is what a plain FakeQuantize call uses.
enum class Quot { kDivide, kPair, kChecked };

#if defined(__FMA__)
constexpr bool kHasFma = true;
#else
constexpr bool kHasFma = false;
#endif
// The AVX2 table uses pairs only on long runs: with 8 lanes, no masked tails and no {1to16}
// operands its short-run and per-element kernels ran slower with pairs than with divps on Zen 4
// (last axis 0.35x -> 0.29x, blocks of 32 0.51x -> 0.44x), while long runs gain (0.60x -> 0.79x).
constexpr bool kPairsOnShortRuns = kWidth == 16;
constexpr int64_t kPairsMinRun = kPairsOnShortRuns ? 1 : 8 * kWidth;
// With pairs, d feeds two operations.  Left to itself GCC folds the load of d into both (loading
// it twice) and materializes the broadcast qparams with separate vbroadcastss, which on Zen 4
// cost an FP-pipe slot each; pinning d in a register lets the broadcasts fold into the multiply
// and the FMA as {1to16} memory operands instead (per-channel runs of 16: 0.59x -> 0.81x of the
// streaming kernel in a micro-benchmark).  The empty asm emits no instruction.
__attribute__((always_inline)) inline VF InRegister(VF v) {
#if defined(__AVX512F__)
  asm("" : "+v"(v));
#else
  asm("" : "+x"(v));
#endif
  return v;
}

// kChecked's test: some lane of t = d * (1 / scale) lies within `near` of a half-integer, where n
// (= round(t)) might differ from division's, or is NaN or infinite (t - n is NaN: unordered
// compare).  Those are exact without the test too (kernels.h), but flagging them keeps every NaN
// away from the fast path, whose clamp takes its bounds as memory operands and so cannot keep a
// NaN operand (x86 max/min return the second operand, which must then be the bound).
__attribute__((always_inline)) inline bool NearHalfInteger(VF t, VF n, VF near) {
#if defined(__AVX512F__)
  return _mm512_cmp_ps_mask(_mm512_abs_ps(Sub(t, n)), near, _CMP_NLT_UQ) != 0;
#elif defined(__AVX2__)
  const VF e = _mm256_andnot_ps(Set1(-0.0f), Sub(t, n));
  return _mm256_movemask_ps(_mm256_cmp_ps(e, near, _CMP_NLT_UQ)) != 0;
#else
  return _mm_movemask_ps(_mm_cmpnlt_ps(_mm_andnot_ps(Set1(-0.0f), Sub(t, n)), near)) != 0;
#endif
}

// round(d / scale) with the qparams in registers: kPair: a = zh, b = zl; kChecked: a = 1 / scale,
// b = near (kernels.h); kDivide: a, b unused.
template <Quot kQ>
__attribute__((always_inline)) inline VF RoundedQuotient(VF d, VF scale, VF a, VF b) {
  if constexpr (kQ == Quot::kPair) {
    d = InRegister(d);
    return RoundEven(Fmadd(d, a, Mul(d, b)));
  } else if constexpr (kQ == Quot::kChecked) {
    d = InRegister(d);
    const VF t = Mul(d, a);
    const VF n = RoundEven(t);
    if (__builtin_expect(NearHalfInteger(t, n, b), 0)) return RoundEven(Div(d, scale));
    return n;
  } else {
    return RoundEven(Div(d, scale));
  }
}

// The same with per-run qparams read from memory, for kernels whose qparams change every vector
// or two (runs of 16 / 32): on AVX-512 each is a {1to16} operand of the arithmetic, which GCC
// does not emit by itself once a broadcast is reused (separate vbroadcastss cost an FP-pipe slot
// each on Zen 4; per-block 32 with pairs: 0.67x -> 0.8x).  Same operations, same operand order.
#if defined(__AVX512F__)
#define QRULES_BROADCAST_OP(insn, mem, reg, out) \
  asm(insn " %1%{1to16%}, %2, %0" : "=v"(out) : "m"(mem), "v"(reg))
#endif
__attribute__((always_inline)) inline VF DivAt(VF d, const float* scale) {
#if defined(__AVX512F__)
  VF q;
  QRULES_BROADCAST_OP("vdivps", *scale, d, q);
  return q;
#else
  return Div(d, Set1(*scale));
#endif
}
__attribute__((always_inline)) inline VF MulAt(VF d, const float* c) {
#if defined(__AVX512F__)
  VF t;
  QRULES_BROADCAST_OP("vmulps", *c, d, t);
  return t;
#else
  return Mul(d, Set1(*c));
#endif
}
template <Quot kQ>
__attribute__((always_inline)) inline VF RoundedQuotientAt(VF d, const float* scale, const float* a,
                                                           const float* b, VF near) {
  if constexpr (kQ == Quot::kPair) {
#if defined(__AVX512F__)
    VF t = MulAt(d, b);                                                  // t = d * zl
    asm("vfmadd231ps %2%{1to16%}, %1, %0" : "+v"(t) : "v"(d), "m"(*a));  // t = d * zh + t
    return RoundEven(t);
#else
    return RoundedQuotient<kQ>(d, ZeroF(), Set1(*a), Set1(*b));
#endif
  } else if constexpr (kQ == Quot::kChecked) {
    const VF t = MulAt(d, a);
    const VF n = RoundEven(t);
    if (__builtin_expect(NearHalfInteger(t, n, near), 0)) return RoundEven(DivAt(d, scale));
    return n;
  } else {
    return RoundEven(DivAt(d, scale));
  }
}
// clamp(r, *lo, *hi) and r * *scale + 0 (the ZP output), with memory operands as above.  ClampAt
// returns the bound for a NaN r (see NearHalfInteger): only for r that cannot be NaN.  (For r = -0
// and a bound +0 it returns +0 where Min(hi, Max(lo, r)) keeps -0; the ZP output's + 0 erases
// that sign either way.)
__attribute__((always_inline)) inline VF ClampAt(VF r, const float* lo, const float* hi) {
#if defined(__AVX512F__)
  VF m, out;
  QRULES_BROADCAST_OP("vmaxps", *lo, r, m);
  QRULES_BROADCAST_OP("vminps", *hi, m, out);
  return out;
#else
  return Min(Set1(*hi), Max(Set1(*lo), r));
#endif
}

__attribute__((always_inline)) inline VF MulAddZeroAt(VF r, const float* scale) {
#if defined(__AVX512F__)
  const VF zero = ZeroF();
  asm("vfmadd132ps %1%{1to16%}, %2, %0" : "+v"(r) : "m"(*scale), "v"(zero));  // r * scale + 0
  return r;
#else
  return MulAddZero(r, Set1(*scale));
#endif
}

// --- Scalar element operations (loop tails); the same operations as one vector lane. ----------
template <bool kRcp>
inline float Quotient(float d, double rcp, float scale) {
  if constexpr (kRcp) {
    return static_cast<float>(static_cast<double>(d) * rcp);
  } else {
    return d / scale;
  }
}
// (kChecked tails divide: the same integer.)
template <bool kRcp, Quot kQ = Quot::kDivide>
inline float IntElement(float x, const IntConstParams& p, uint8_t* mask) {
  const float d = p.subtract_offset ? x - p.float_offset : x;
  const float q = kQ == Quot::kPair ? __builtin_fmaf(d, p.zh, d * p.zl)
                                    : Quotient<kRcp>(d, p.rcp, p.scale);
  float r = __builtin_nearbyintf(q);
  if (p.normalize_zero) r = r + 0.0f;  // -0.0 -> +0.0, see IntRun
  if (mask) *mask = (r >= p.lo && r <= p.hi) ? 1 : 0;
  r = r < p.lo ? p.lo : r;
  r = r > p.hi ? p.hi : r;
  return r * p.scale + p.float_offset;
}
template <bool kRcp>
inline float FpElement(float x, double rcp, float scale, float fp_max, uint32_t min_e,
                       uint32_t mant, uint8_t* mask) {
  float r = Quotient<kRcp>(x, rcp, scale);
  if (mask) *mask = (r >= -fp_max && r <= fp_max) ? 1 : 0;
  r = r < -fp_max ? -fp_max : r;
  r = r > fp_max ? fp_max : r;
  return FastRoundToFormat(r, min_e, mant) * scale;
}

// --- Integer QDQ ---------------------------------------------------------------------------------
// The folded form of the integer kernel (see IntConstParams in kernels.h):
//   r = clamp(round((x - fo) / scale), lo, hi);  y = r * scale + fo
// round() may give -0.0 where the reference's (round() + qo) - qo gives +0.0; with fo = -0.0
// (a MINVAL block) that sign would survive `r * scale + fo`, so such blocks add +0.0 after
// rounding (normalize_zero).  With any other fo the sum erases the sign of a zero product.
template <bool kMask, bool kRcp, Quot kQ = Quot::kDivide>
__attribute__((always_inline)) inline void IntRun(const float* x, float* y, uint8_t* mask,
                                                  int64_t n, const IntConstParams& p) {
  const VD rcp = Set1D(p.rcp);
  const VF a = Set1(kQ == Quot::kPair ? p.zh : p.recip);
  const VF b = Set1(kQ == Quot::kPair ? p.zl : p.near);
  const VF zero = Set1(0.0f);
  const VF scale = Set1(p.scale), fo = Set1(p.float_offset);
  const VF lo = Set1(p.lo), hi = Set1(p.hi);
  auto step = [&](auto full, int64_t i, int64_t lanes) __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    VF d = LoadL<kFull>(x + i, lanes);
    if (p.subtract_offset) d = Sub(d, fo);
    VF r;
    if constexpr (kRcp) {
      r = RoundEven(DivByRcp(d, rcp));
    } else {
      r = RoundedQuotient<kQ>(d, scale, a, b);  // (masked tail lanes: never stored)
    }
    if (p.normalize_zero) r = Add(r, zero);
    if constexpr (kMask) StoreInRangeL<kFull>(mask + i, r, lo, hi, lanes);
    r = Min(hi, Max(lo, r));
    // (ZP: fo is +0.0)
    StoreL<kFull>(y + i, p.subtract_offset ? Add(Mul(r, scale), fo) : MulAddZero(r, scale), lanes);
  };
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) step(Full{}, i, kWidth);
  if constexpr (kMaskedTail && !kRcp) {
    if (i < n) step(Tail{}, i, n - i);
  } else {
    for (; i < n; ++i) y[i] = IntElement<kRcp, kQ>(x[i], p, kMask ? mask + i : nullptr);
  }
}

// The reference's literal operations, for blocks whose zero point is too large to fold.
template <bool kRcp>
void IntRunLiteral(const float* x, float* y, uint8_t* mask, int64_t n, float scale, float qo,
                   float fo, float qmin, float qmax) {
  const double rcp = 1.0 / static_cast<double>(scale);
  for (int64_t i = 0; i < n; ++i) {
    float r = __builtin_nearbyintf(Quotient<kRcp>(x[i] - fo, rcp, scale)) + qo;
    if (mask) mask[i] = (r >= qmin && r <= qmax) ? 1 : 0;
    r = r < qmin ? qmin : r;
    r = r > qmax ? qmax : r;
    y[i] = (r - qo) * scale + fo;
  }
}

template <bool kMask, bool kRcp, bool kZp, Quot kQ = Quot::kDivide>
void IntConstRuns(const float* x, float* y, uint8_t* mask, int64_t run, int64_t runs,
                  const IntBlocks& b) {
  // Foldability of every block first (one cheap pass), so the run loop has no per-run checks.
  bool all_foldable = Foldable(0.0f, b.qmin, b.qmax);
  if constexpr (kZp) {
    int32_t worst = 0;
    for (int64_t r = 0; r < runs; ++r) {
      const int32_t z = b.zero_point[r];
      worst |= (z > (1 << 20) || z < -(1 << 20)) ? 1 : 0;
    }
    all_foldable = all_foldable && worst == 0;
  }
  for (int64_t r = 0; r < runs; ++r) {
    const float scale = b.scale[r];
    const float qo = kZp ? static_cast<float>(b.zero_point[r]) : b.qmin;
    const float fo = kZp ? 0.0f : b.minval[r];
    uint8_t* m = kMask ? mask + r * run : nullptr;
    if (!all_foldable && !Foldable(qo, b.qmin, b.qmax)) {
      IntRunLiteral<kRcp>(x + r * run, y + r * run, m, run, scale, qo, fo, b.qmin, b.qmax);
      continue;
    }
    IntConstParams p{
        kRcp ? 1.0 / static_cast<double>(scale) : 0.0, scale, fo, b.qmin - qo, b.qmax - qo, !kZp,
        !kZp && fo == 0.0f && __builtin_signbit(fo)};
    const float* const xr = x + r * run;
    float* const yr = y + r * run;
    if constexpr (kQ == Quot::kPair) {
      if (b.zh[r] != 0.0f) {
        p.zh = b.zh[r];
        p.zl = b.zl[r];
        IntRun<kMask, kRcp, Quot::kPair>(xr, yr, m, run, p);
        continue;
      }
      // No proven pair for this block's scale: the table's own method.
      if (!b.checked) {
        IntRun<kMask, kRcp, Quot::kDivide>(xr, yr, m, run, p);
        continue;
      }
    }
    if constexpr (kQ == Quot::kPair || kQ == Quot::kChecked) {
      if (CheckedReciprocalApplies(scale)) {
        p.recip = 1.0f / scale;
        p.near = NearHalfBound(FoldedBound(p.lo, p.hi));
        IntRun<kMask, kRcp, Quot::kChecked>(xr, yr, m, run, p);
        continue;
      }
    }
    IntRun<kMask, kRcp, Quot::kDivide>(xr, yr, m, run, p);
  }
}

// The qparams of `b` from run `runs` on.
inline IntBlocks AdvancedBlocks(const IntBlocks& b, int64_t runs) {
  IntBlocks out = b;
  out.scale += runs;
  if (out.zero_point) out.zero_point += runs;
  if (out.minval) out.minval += runs;
  if (out.zh) out.zh += runs;
  if (out.zl) out.zl += runs;
  return out;
}

// Runs of exactly kVecs vectors (per-channel with 16-element channels, per-block 32, ...), where
// the per-run set-up of IntConstRuns costs as much as the run itself: each run reads its qparams
// straight from the arrays (as {1to16} operands on AVX-512) in a fixed, unrolled body, after a
// vectorized pass per chunk of runs that folds the zero points (and, kChecked, takes the
// reciprocals).  MINVAL blocks always add +0.0 after rounding: bit-identical to normalize_zero (a
// zero product plus an offset that is not ±0 loses its sign anyway), and branch-free.
template <bool kMask, bool kZp, int kVecs, Quot kQ = Quot::kDivide>
void IntFixedRuns(const float* x, float* y, uint8_t* mask, int64_t runs, const IntBlocks& b) {
  constexpr int64_t kRun = int64_t{kVecs} * kWidth;
  constexpr int64_t kChunk = 256;
  alignas(64) float lo_chunk[kChunk];     // ZP: the folded clamp bounds qmin - qo, qmax - qo
  alignas(64) float hi_chunk[kChunk];
  alignas(64) float recip_chunk[kChunk];  // kChecked: RN(1 / scale)
  const VF zero = ZeroF(), span = Set1(b.qmax - b.qmin);
  // Local copies: the output stores could alias `b` as far as the compiler knows, which would
  // reload its pointers on every run.
  const float* const scales = b.scale;
  const float* const minvals = b.minval;
  const int32_t* const zero_points = b.zero_point;
  const float* const zhs = b.zh;
  const float* const zls = b.zl;
  const float qmin = b.qmin, qmax = b.qmax, qspan = b.qmax - b.qmin;
  for (int64_t j0 = 0; j0 < runs; j0 += kChunk) {
    const int64_t nj = runs - j0 < kChunk ? runs - j0 : kChunk;
    // Runs the fixed body cannot take: a zero point beyond ±2^20 (no calculator makes one), a run
    // without a pair (kPair), or a scale the checked reciprocal does not cover (kChecked).  Then
    // the general loop decides this chunk run by run.  (Plain loops and integer reductions:
    // vectorized by the compiler.)
    uint32_t general = 0;
    int32_t zmin = INT32_MAX, zmax = INT32_MIN;
    if constexpr (kZp) {
      for (int64_t j = 0; j < nj; ++j) {
        const int32_t z = zero_points[j0 + j];
        general |= (z > (1 << 20) || z < -(1 << 20)) ? 1u : 0u;
        lo_chunk[j] = qmin - static_cast<float>(z);
        hi_chunk[j] = qmax - static_cast<float>(z);
        zmin = z < zmin ? z : zmin;
        zmax = z > zmax ? z : zmax;
      }
    }
    if constexpr (kQ == Quot::kPair) {
      for (int64_t j = 0; j < nj; ++j) general |= zhs[j0 + j] == 0.0f ? 1u : 0u;
    }
    VF near = zero;
    if constexpr (kQ == Quot::kChecked) {
      for (int64_t j = 0; j < nj; ++j) {
        general |= CheckedReciprocalApplies(scales[j0 + j]) ? 0u : 1u;
        recip_chunk[j] = 1.0f / scales[j0 + j];
      }
      // The largest |lo|, |hi| of the chunk (MINVAL: [0, qmax - qmin]).
      const float bound = !kZp ? qspan
                               : general != 0 ? 0.0f
                                              : FoldedBound(qmin - static_cast<float>(zmax),
                                                            qmax - static_cast<float>(zmin));
      near = Set1(NearHalfBound(bound));
    }
    if (general != 0) {
      IntConstRuns<kMask, false, kZp, kQ>(x + j0 * kRun, y + j0 * kRun,
                                          kMask ? mask + j0 * kRun : nullptr, kRun, nj,
                                          AdvancedBlocks(b, j0));
      continue;
    }
    for (int64_t j = 0; j < nj; ++j) {
      const float* const scale_at = scales + j0 + j;
      const float* const a_at = kQ == Quot::kPair ? zhs + j0 + j : recip_chunk + j;
      const float* const b_at = kQ == Quot::kPair ? zls + j0 + j : nullptr;
      for (int v = 0; v < kVecs; ++v) {
        const int64_t i = (j0 + j) * kRun + v * kWidth;
        VF d = Load(x + i);
        if constexpr (kZp) {
          VF q;
          if constexpr (kQ == Quot::kChecked && !kMask) {
            // The fast path: every operand a {1to16} broadcast (never NaN here, see ClampAt).
            const VF t = MulAt(d, a_at);
            q = RoundEven(t);
            if (__builtin_expect(!NearHalfInteger(t, q, near), 1)) {
              Store(y + i, MulAddZeroAt(ClampAt(q, lo_chunk + j, hi_chunk + j), scale_at));
              continue;
            }
            q = RoundEven(DivAt(d, scale_at));
          } else {
            q = RoundedQuotientAt<kQ>(d, scale_at, a_at, b_at, near);
          }
          const VF vlo = Set1(lo_chunk[j]), vhi = Set1(hi_chunk[j]);
          if constexpr (kMask) StoreInRange(mask + i, q, vlo, vhi);
          Store(y + i, MulAddZeroAt(Min(vhi, Max(vlo, q)), scale_at));
        } else {
          const VF off = Set1(minvals[j0 + j]);
          d = Sub(d, off);
          VF q = Add(RoundedQuotientAt<kQ>(d, scale_at, a_at, b_at, near), zero);
          if constexpr (kMask) StoreInRange(mask + i, q, zero, span);
          q = Min(span, Max(zero, q));
          Store(y + i, Add(Mul(q, Set1(*scale_at)), off));
        }
      }
    }
  }
}

template <bool kMask, bool kRcp, Quot kQ = Quot::kDivide>
void IntConstImpl(const float* x, float* y, uint8_t* mask, int64_t run, int64_t runs,
                  const IntBlocks& b) {
  if constexpr (!kRcp) {
    // The fixed-run kernels fold (checking each chunk's zero points as they convert them).
    const bool foldable = Foldable(0.0f, b.qmin, b.qmax);
    if (foldable && run == kWidth) {
      b.zp ? IntFixedRuns<kMask, true, 1, kQ>(x, y, mask, runs, b)
           : IntFixedRuns<kMask, false, 1, kQ>(x, y, mask, runs, b);
      return;
    }
    if (foldable && run == 2 * kWidth) {
      b.zp ? IntFixedRuns<kMask, true, 2, kQ>(x, y, mask, runs, b)
           : IntFixedRuns<kMask, false, 2, kQ>(x, y, mask, runs, b);
      return;
    }
  }
  b.zp ? IntConstRuns<kMask, kRcp, true, kQ>(x, y, mask, run, runs, b)
       : IntConstRuns<kMask, kRcp, false, kQ>(x, y, mask, run, runs, b);
}

template <bool kMask, bool kRcp, Quot kQ = Quot::kDivide>
void IntVarImpl(const float* x, float* y, uint8_t* mask, int64_t n, const IntVarParams& p) {
  const VF zero = Set1(0.0f), near = Set1(p.near);
  auto step = [&](auto full, int64_t i, int64_t lanes) __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const VF fo = LoadL<kFull>(p.float_offset + i, lanes);
    const VF scale = LoadL<kFull>(p.scale + i, lanes);
    const VF lo = LoadL<kFull>(p.lo + i, lanes), hi = LoadL<kFull>(p.hi + i, lanes);
    const VF d = Sub(LoadL<kFull>(x + i, lanes), fo);
    VF r;
    if constexpr (kRcp) {
      r = RoundEven(DivByRcpArray(d, p.rcp + i));
    } else if constexpr (kQ == Quot::kPair) {
      r = RoundedQuotient<kQ>(d, scale, LoadL<kFull>(p.zh + i, lanes),
                              LoadL<kFull>(p.zl + i, lanes));
    } else if constexpr (kQ == Quot::kChecked) {
      r = RoundedQuotient<kQ>(d, scale, LoadL<kFull>(p.recip + i, lanes), near);
    } else {
      r = RoundedQuotient<kQ>(d, scale, zero, zero);  // tail lanes: 0 / 0, never stored
    }
    r = Add(r, zero);  // fo may be -0.0 anywhere in the row
    if constexpr (kMask) StoreInRangeL<kFull>(mask + i, r, lo, hi, lanes);
    r = Min(hi, Max(lo, r));
    StoreL<kFull>(y + i, Add(Mul(r, scale), fo), lanes);
  };
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) step(Full{}, i, kWidth);
  if constexpr (kMaskedTail && !kRcp) {
    if (i < n) step(Tail{}, i, n - i);
    return;
  }
  for (; i < n; ++i) {
    IntConstParams e{
        kRcp ? p.rcp[i] : 0.0, p.scale[i], p.float_offset[i], p.lo[i], p.hi[i], true, true};
    if constexpr (kQ == Quot::kPair) {
      e.zh = p.zh[i];
      e.zl = p.zl[i];
    }
    y[i] = IntElement<kRcp, kQ>(x[i], e, kMask ? mask + i : nullptr);
  }
}

// Per-column qparams (p has `cols` entries) over `rows` rows of `cols` elements.  One element
// step of column group c (lanes columns from c) of row r; the qparam vectors are passed in (a, b:
// see RoundedQuotient).
template <bool kMask, bool kZp, bool kFull, Quot kQ>
__attribute__((always_inline)) inline void IntColStep(const float* x, float* y, uint8_t* mask,
                                                      int64_t i, int64_t lanes, VF scale, VF fo,
                                                      VF lo, VF hi, VF a, VF b) {
  VF d = LoadL<kFull>(x + i, lanes);
  if constexpr (!kZp) d = Sub(d, fo);
  VF v = RoundedQuotient<kQ>(d, scale, a, b);  // tail lanes: never stored
  if constexpr (!kZp) v = Add(v, ZeroF());     // fo may be -0.0 in some column
  if constexpr (kMask) StoreInRangeL<kFull>(mask + i, v, lo, hi, lanes);
  v = Min(hi, Max(lo, v));
  StoreL<kFull>(y + i, kZp ? MulAddZero(v, scale) : Add(Mul(v, scale), fo), lanes);
}
// The quotient constants a, b of columns [c, c + lanes) (see RoundedQuotient).
template <bool kFull, Quot kQ>
__attribute__((always_inline)) inline void QuotientConstants(const IntVarParams& p, int64_t c,
                                                             int64_t lanes, VF* a, VF* b) {
  if constexpr (kQ == Quot::kPair) {
    *a = LoadL<kFull>(p.zh + c, lanes);
    *b = LoadL<kFull>(p.zl + c, lanes);
  } else if constexpr (kQ == Quot::kChecked) {
    *a = LoadL<kFull>(p.recip + c, lanes);
    *b = Set1(p.near);
  } else {
    *a = ZeroF();
    *b = ZeroF();
  }
}
template <bool kMask, bool kZp, bool kFull, Quot kQ>
__attribute__((always_inline)) inline void IntColGroup(const float* x, float* y, uint8_t* mask,
                                                       int64_t rows, int64_t cols, int64_t c,
                                                       int64_t lanes, const IntVarParams& p) {
  const VF fo = kZp ? ZeroF() : LoadL<kFull>(p.float_offset + c, lanes);
  const VF scale = LoadL<kFull>(p.scale + c, lanes);
  const VF lo = LoadL<kFull>(p.lo + c, lanes), hi = LoadL<kFull>(p.hi + c, lanes);
  VF a, b;
  QuotientConstants<kFull, kQ>(p, c, lanes, &a, &b);
  for (int64_t r = 0; r < rows; ++r) {
    IntColStep<kMask, kZp, kFull, kQ>(x, y, mask, r * cols + c, lanes, scale, fo, lo, hi, a, b);
  }
}

// Column-major: each column group loads its qparams once and walks down the rows (callers pass an
// L1-sized tile of rows).
template <bool kMask, bool kZp, Quot kQ>
void IntColsDiv(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                const IntVarParams& p) {
  int64_t c = 0;
  for (; c + kWidth <= cols; c += kWidth) {
    IntColGroup<kMask, kZp, true, kQ>(x, y, mask, rows, cols, c, kWidth, p);
  }
  if (c < cols) IntColGroup<kMask, kZp, false, kQ>(x, y, mask, rows, cols, c, cols - c, p);
}

// Row-major with rows of exactly kGroups full vectors (64 channels: 4): every qparam vector is
// loaded once and stays in a register (kGroups * 6 of the 32), so the loop only streams data.
template <bool kMask, bool kZp, int kGroups, Quot kQ>
void IntRowsInRegisters(const float* x, float* y, uint8_t* mask, int64_t rows,
                        const IntVarParams& p) {
  constexpr int64_t kCols = int64_t{kGroups} * kWidth;
  VF scale[kGroups], fo[kGroups], lo[kGroups], hi[kGroups], a[kGroups], b[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    scale[g] = Load(p.scale + g * kWidth);
    fo[g] = kZp ? ZeroF() : Load(p.float_offset + g * kWidth);
    lo[g] = Load(p.lo + g * kWidth);
    hi[g] = Load(p.hi + g * kWidth);
    QuotientConstants<true, kQ>(p, g * kWidth, kWidth, &a[g], &b[g]);
  }
  for (int64_t r = 0; r < rows; ++r) {
    for (int g = 0; g < kGroups; ++g) {
      IntColStep<kMask, kZp, true, kQ>(x, y, mask, r * kCols + g * kWidth, kWidth, scale[g], fo[g],
                                       lo[g], hi[g], a[g], b[g]);
    }
  }
}

// Row-major: rows in memory order, the qparams reloaded per group (they stay in L1).
template <bool kMask, bool kZp, Quot kQ>
void IntRowsDiv(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                const IntVarParams& p) {
  switch (cols) {
    case kWidth:
      return IntRowsInRegisters<kMask, kZp, 1, kQ>(x, y, mask, rows, p);
    case 2 * kWidth:
      return IntRowsInRegisters<kMask, kZp, 2, kQ>(x, y, mask, rows, p);
    case 3 * kWidth:
      return IntRowsInRegisters<kMask, kZp, 3, kQ>(x, y, mask, rows, p);
    case 4 * kWidth:
      return IntRowsInRegisters<kMask, kZp, 4, kQ>(x, y, mask, rows, p);
    default:
      break;
  }
  for (int64_t r = 0; r < rows; ++r) {
    int64_t c = 0;
    for (; c + kWidth <= cols; c += kWidth) {
      const VF fo = kZp ? ZeroF() : Load(p.float_offset + c);
      VF a, b;
      QuotientConstants<true, kQ>(p, c, kWidth, &a, &b);
      IntColStep<kMask, kZp, true, kQ>(x, y, mask, r * cols + c, kWidth, Load(p.scale + c), fo,
                                       Load(p.lo + c), Load(p.hi + c), a, b);
    }
    if (c < cols) {
      const int64_t lanes = cols - c;
      const VF fo = kZp ? ZeroF() : LoadL<false>(p.float_offset + c, lanes);
      VF a, b;
      QuotientConstants<false, kQ>(p, c, lanes, &a, &b);
      IntColStep<kMask, kZp, false, kQ>(x, y, mask, r * cols + c, lanes,
                                        LoadL<false>(p.scale + c, lanes), fo,
                                        LoadL<false>(p.lo + c, lanes),
                                        LoadL<false>(p.hi + c, lanes), a, b);
    }
  }
}

// Visits `rows` x `cols` in either order: group(r, c) for each full vector of columns, then
// element(r, c) for the columns left over.
template <bool kRowMajor, typename Group, typename Element>
__attribute__((always_inline)) inline void WalkColumns(int64_t rows, int64_t cols, Group&& group,
                                                       Element&& element) {
  const int64_t full = cols - cols % kWidth;
  if constexpr (kRowMajor) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < full; c += kWidth) group(r, c);
      for (int64_t c = full; c < cols; ++c) element(r, c);
    }
  } else {
    for (int64_t c = 0; c < full; c += kWidth) {
      for (int64_t r = 0; r < rows; ++r) group(r, c);
    }
    for (int64_t c = full; c < cols; ++c) {
      for (int64_t r = 0; r < rows; ++r) element(r, c);
    }
  }
}

// The same with the reciprocal division, and on ISAs without masked tails: whole groups
// vectorized, remaining columns element by element.
template <bool kMask, bool kRcp, bool kRowMajor, Quot kQ = Quot::kDivide>
void IntColsGeneric(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                    const IntVarParams& p) {
  const VF zero = Set1(0.0f);
  auto group = [&](int64_t r, int64_t c) __attribute__((always_inline)) {
    const VF fo = Load(p.float_offset + c), scale = Load(p.scale + c);
    const VF lo = Load(p.lo + c), hi = Load(p.hi + c);
    const int64_t i = r * cols + c;
    const VF d = Sub(Load(x + i), fo);
    VF q;
    if constexpr (kRcp) {
      q = RoundEven(DivByRcpArray(d, p.rcp + c));
    } else {
      VF a, b;
      QuotientConstants<true, kQ>(p, c, kWidth, &a, &b);
      q = RoundedQuotient<kQ>(d, scale, a, b);
    }
    VF v = Add(q, zero);  // fo may be -0.0 in some column
    if constexpr (kMask) StoreInRange(mask + i, v, lo, hi);
    v = Min(hi, Max(lo, v));
    Store(y + i, Add(Mul(v, scale), fo));
  };
  auto element = [&](int64_t r, int64_t c) {
    IntConstParams e{
        kRcp ? p.rcp[c] : 0.0, p.scale[c], p.float_offset[c], p.lo[c], p.hi[c], true, true};
    if constexpr (kQ == Quot::kPair) {
      e.zh = p.zh[c];
      e.zl = p.zl[c];
    }
    const int64_t i = r * cols + c;
    y[i] = IntElement<kRcp, kQ>(x[i], e, kMask ? mask + i : nullptr);
  };
  WalkColumns<kRowMajor>(rows, cols, group, element);
}

template <bool kMask, bool kRowMajor>
void FpColsDiv(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
               const FpVarParams& p) {
  const VF hi = Set1(p.fp_max), lo = Set1(-p.fp_max);
  const VI min_e = Set1I(static_cast<int32_t>(p.min_exponent_field));
  const VI shift_add = Set1I(static_cast<int32_t>(23 - p.mantissa_bits));
  auto step = [&](auto full, int64_t r, int64_t c, int64_t lanes) __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const VF scale = LoadL<kFull>(p.scale + c, lanes);
    const int64_t i = r * cols + c;
    VF v = Div(LoadL<kFull>(x + i, lanes), scale);  // tail lanes: 0 / 0, never stored
    if constexpr (kMask) StoreInRangeL<kFull>(mask + i, v, lo, hi, lanes);
    v = Min(hi, Max(lo, v));
    StoreL<kFull>(y + i, Mul(RoundFormat(v, min_e, shift_add), scale), lanes);
  };
  const int64_t full = cols - cols % kWidth;
  if constexpr (kRowMajor) {
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < full; c += kWidth) step(Full{}, r, c, kWidth);
      if (full < cols) step(Tail{}, r, full, cols - full);
    }
  } else {
    for (int64_t c = 0; c < full; c += kWidth) {
      for (int64_t r = 0; r < rows; ++r) step(Full{}, r, c, kWidth);
    }
    if (full < cols) {
      for (int64_t r = 0; r < rows; ++r) step(Tail{}, r, full, cols - full);
    }
  }
}

template <bool kMask, bool kRcp, bool kRowMajor>
void FpColsGeneric(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                   const FpVarParams& p) {
  const VF hi = Set1(p.fp_max), lo = Set1(-p.fp_max);
  const VI min_e = Set1I(static_cast<int32_t>(p.min_exponent_field));
  const VI shift_add = Set1I(static_cast<int32_t>(23 - p.mantissa_bits));
  auto group = [&](int64_t r, int64_t c) __attribute__((always_inline)) {
    const VF scale = Load(p.scale + c);
    const int64_t i = r * cols + c;
    VF v;
    if constexpr (kRcp) {
      v = DivByRcpArray(Load(x + i), p.rcp + c);
    } else {
      v = Div(Load(x + i), scale);
    }
    if constexpr (kMask) StoreInRange(mask + i, v, lo, hi);
    v = Min(hi, Max(lo, v));
    Store(y + i, Mul(RoundFormat(v, min_e, shift_add), scale));
  };
  auto element = [&](int64_t r, int64_t c) {
    const int64_t i = r * cols + c;
    y[i] = FpElement<kRcp>(x[i], kRcp ? p.rcp[c] : 0.0, p.scale[c], p.fp_max, p.min_exponent_field,
                           p.mantissa_bits, kMask ? mask + i : nullptr);
  };
  WalkColumns<kRowMajor>(rows, cols, group, element);
}

template <bool kRcp, bool kRowMajor, Quot kQ>
void IntColsWith(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
                 const IntVarParams& p) {
  if constexpr (kMaskedTail && !kRcp) {
    if constexpr (kRowMajor) {
      if (p.zp) {
        mask ? IntRowsDiv<true, true, kQ>(x, y, mask, rows, cols, p)
             : IntRowsDiv<false, true, kQ>(x, y, mask, rows, cols, p);
      } else {
        mask ? IntRowsDiv<true, false, kQ>(x, y, mask, rows, cols, p)
             : IntRowsDiv<false, false, kQ>(x, y, mask, rows, cols, p);
      }
    } else {
      if (p.zp) {
        mask ? IntColsDiv<true, true, kQ>(x, y, mask, rows, cols, p)
             : IntColsDiv<false, true, kQ>(x, y, mask, rows, cols, p);
      } else {
        mask ? IntColsDiv<true, false, kQ>(x, y, mask, rows, cols, p)
             : IntColsDiv<false, false, kQ>(x, y, mask, rows, cols, p);
      }
    }
  } else {
    mask ? IntColsGeneric<true, kRcp, kRowMajor, kQ>(x, y, mask, rows, cols, p)
         : IntColsGeneric<false, kRcp, kRowMajor, kQ>(x, y, mask, rows, cols, p);
  }
}
// The table's entry points: pairs when the caller passes them (and the ISA takes them), else the
// table's method (kernels.h).
template <DivisionMethod kM, bool kRowMajor>
void IntCols(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
             const IntVarParams& p) {
  constexpr bool kRcp = kM == DivisionMethod::kReciprocal64;
  if constexpr (!kRcp && kHasFma && kPairsOnShortRuns) {
    if (p.zh != nullptr) {
      return IntColsWith<false, kRowMajor, Quot::kPair>(x, y, mask, rows, cols, p);
    }
  }
  if constexpr (kM == DivisionMethod::kCheckedReciprocal) {
    if (p.recip != nullptr) {
      return IntColsWith<false, kRowMajor, Quot::kChecked>(x, y, mask, rows, cols, p);
    }
  }
  IntColsWith<kRcp, kRowMajor, Quot::kDivide>(x, y, mask, rows, cols, p);
}
template <bool kRcp, bool kRowMajor>
void FpCols(const float* x, float* y, uint8_t* mask, int64_t rows, int64_t cols,
            const FpVarParams& p) {
  if constexpr (kMaskedTail && !kRcp) {
    mask ? FpColsDiv<true, kRowMajor>(x, y, mask, rows, cols, p)
         : FpColsDiv<false, kRowMajor>(x, y, mask, rows, cols, p);
  } else {
    mask ? FpColsGeneric<true, kRcp, kRowMajor>(x, y, mask, rows, cols, p)
         : FpColsGeneric<false, kRcp, kRowMajor>(x, y, mask, rows, cols, p);
  }
}

// --- FP QDQ --------------------------------------------------------------------------------------
template <bool kMask, bool kRcp>
__attribute__((always_inline)) inline void FpRun(const float* x, float* y, uint8_t* mask, int64_t n,
                                                 const FpConstParams& p) {
  const VD rcp = Set1D(p.rcp);
  const VF scale = Set1(p.scale), hi = Set1(p.fp_max), lo = Set1(-p.fp_max);
  const VI min_e = Set1I(static_cast<int32_t>(p.min_exponent_field));
  const VI shift_add = Set1I(static_cast<int32_t>(23 - p.mantissa_bits));
  auto step = [&](auto full, int64_t i, int64_t lanes) __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    VF r;
    if constexpr (kRcp) {
      r = DivByRcp(LoadL<kFull>(x + i, lanes), rcp);
    } else {
      r = Div(LoadL<kFull>(x + i, lanes), scale);
    }
    if constexpr (kMask) StoreInRangeL<kFull>(mask + i, r, lo, hi, lanes);
    r = Min(hi, Max(lo, r));
    StoreL<kFull>(y + i, Mul(RoundFormat(r, min_e, shift_add), scale), lanes);
  };
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) step(Full{}, i, kWidth);
  if constexpr (kMaskedTail && !kRcp) {
    if (i < n) step(Tail{}, i, n - i);
    return;
  }
  for (; i < n; ++i) {
    y[i] = FpElement<kRcp>(x[i], p.rcp, p.scale, p.fp_max, p.min_exponent_field, p.mantissa_bits,
                           kMask ? mask + i : nullptr);
  }
}

template <bool kMask, bool kRcp>
void FpConstImpl(const float* x, float* y, uint8_t* mask, int64_t run, int64_t runs,
                 const FpBlocks& b) {
  for (int64_t r = 0; r < runs; ++r) {
    const FpConstParams p{kRcp ? 1.0 / static_cast<double>(b.scale[r]) : 0.0, b.scale[r], b.fp_max,
                          b.min_exponent_field, b.mantissa_bits};
    FpRun<kMask, kRcp>(x + r * run, y + r * run, kMask ? mask + r * run : nullptr, run, p);
  }
}

template <bool kMask, bool kRcp>
void FpVarImpl(const float* x, float* y, uint8_t* mask, int64_t n, const FpVarParams& p) {
  const VF hi = Set1(p.fp_max), lo = Set1(-p.fp_max);
  const VI min_e = Set1I(static_cast<int32_t>(p.min_exponent_field));
  const VI shift_add = Set1I(static_cast<int32_t>(23 - p.mantissa_bits));
  auto step = [&](auto full, int64_t i, int64_t lanes) __attribute__((always_inline)) {
    constexpr bool kFull = decltype(full)::value;
    const VF scale = LoadL<kFull>(p.scale + i, lanes);
    VF r;
    if constexpr (kRcp) {
      r = DivByRcpArray(LoadL<kFull>(x + i, lanes), p.rcp + i);
    } else {
      r = Div(LoadL<kFull>(x + i, lanes), scale);  // tail lanes: 0 / 0, never stored
    }
    if constexpr (kMask) StoreInRangeL<kFull>(mask + i, r, lo, hi, lanes);
    r = Min(hi, Max(lo, r));
    StoreL<kFull>(y + i, Mul(RoundFormat(r, min_e, shift_add), scale), lanes);
  };
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) step(Full{}, i, kWidth);
  if constexpr (kMaskedTail && !kRcp) {
    if (i < n) step(Tail{}, i, n - i);
    return;
  }
  for (; i < n; ++i) {
    y[i] = FpElement<kRcp>(x[i], kRcp ? p.rcp[i] : 0.0, p.scale[i], p.fp_max, p.min_exponent_field,
                           p.mantissa_bits, kMask ? mask + i : nullptr);
  }
}

template <DivisionMethod kM>
void IntConst(const float* x, float* y, uint8_t* mask, int64_t run, int64_t runs,
              const IntBlocks& blocks) {
  constexpr bool kRcp = kM == DivisionMethod::kReciprocal64;
  IntBlocks p = blocks;
  p.checked = kM == DivisionMethod::kCheckedReciprocal;
  if constexpr (!kRcp && kHasFma) {
    if (p.zh != nullptr && run >= kPairsMinRun) {
      mask ? IntConstImpl<true, false, Quot::kPair>(x, y, mask, run, runs, p)
           : IntConstImpl<false, false, Quot::kPair>(x, y, mask, run, runs, p);
      return;
    }
  }
  if constexpr (kM == DivisionMethod::kCheckedReciprocal) {
    mask ? IntConstImpl<true, false, Quot::kChecked>(x, y, mask, run, runs, p)
         : IntConstImpl<false, false, Quot::kChecked>(x, y, mask, run, runs, p);
    return;
  }
  mask ? IntConstImpl<true, kRcp>(x, y, mask, run, runs, p)
       : IntConstImpl<false, kRcp>(x, y, mask, run, runs, p);
}
template <DivisionMethod kM>
void IntVar(const float* x, float* y, uint8_t* mask, int64_t n, const IntVarParams& p) {
  constexpr bool kRcp = kM == DivisionMethod::kReciprocal64;
  if constexpr (!kRcp && kHasFma && kPairsOnShortRuns) {
    if (p.zh != nullptr) {
      mask ? IntVarImpl<true, false, Quot::kPair>(x, y, mask, n, p)
           : IntVarImpl<false, false, Quot::kPair>(x, y, mask, n, p);
      return;
    }
  }
  if constexpr (kM == DivisionMethod::kCheckedReciprocal) {
    if (p.recip != nullptr) {
      mask ? IntVarImpl<true, false, Quot::kChecked>(x, y, mask, n, p)
           : IntVarImpl<false, false, Quot::kChecked>(x, y, mask, n, p);
      return;
    }
  }
  mask ? IntVarImpl<true, kRcp>(x, y, mask, n, p) : IntVarImpl<false, kRcp>(x, y, mask, n, p);
}
template <bool kRcp>
void FpConst(const float* x, float* y, uint8_t* mask, int64_t run, int64_t runs,
             const FpBlocks& p) {
  mask ? FpConstImpl<true, kRcp>(x, y, mask, run, runs, p)
       : FpConstImpl<false, kRcp>(x, y, mask, run, runs, p);
}
template <bool kRcp>
void FpVar(const float* x, float* y, uint8_t* mask, int64_t n, const FpVarParams& p) {
  mask ? FpVarImpl<true, kRcp>(x, y, mask, n, p) : FpVarImpl<false, kRcp>(x, y, mask, n, p);
}

// --- Range ---------------------------------------------------------------------------------------
// min / max / any-NaN of x[0..n), folded into lo / hi / nan.
__attribute__((always_inline)) inline void MinMaxOne(const float* x, int64_t n, float* lo_io,
                                                     float* hi_io, bool* nan_io) {
  int64_t i = 0;
  float lo = *lo_io, hi = *hi_io;
  bool any_nan = false;
  if (n >= 2 * kWidth) {
    VF vlo0 = Set1(lo), vhi0 = Set1(hi), vlo1 = vlo0, vhi1 = vhi0, vnan = ZeroF();
    for (; i + 2 * kWidth <= n; i += 2 * kWidth) {
      const VF a = Load(x + i), b = Load(x + i + kWidth);
      vlo0 = Min(vlo0, a);
      vhi0 = Max(vhi0, a);
      vlo1 = Min(vlo1, b);
      vhi1 = Max(vhi1, b);
      vnan = Or(vnan, Or(Unordered(a), Unordered(b)));
    }
    any_nan = AnyBits(vnan);
    const float l = HMin(Min(vlo0, vlo1)), h = HMax(Max(vhi0, vhi1));
    lo = l < lo ? l : lo;
    hi = h > hi ? h : hi;
  }
  for (; i < n; ++i) {
    const float v = x[i];
    any_nan |= __builtin_isnan(v);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  *lo_io = lo;
  *hi_io = hi;
  *nan_io = *nan_io || any_nan;
}

#if defined(__AVX512F__)
// Lane j of the result = op over the 16 lanes of v[j]: a transposing tree of 15 ops and 30
// shuffles for 16 vectors, instead of a horizontal reduction (4 ops + 4 shuffles) per vector.
template <typename Op>
inline VF ReduceEach16(const VF (&v)[16], Op op) {
  VF m1[8], m2[4], m3[2];
  for (int k = 0; k < 8; ++k) {  // 256-bit halves: [v2k partials | v2k+1 partials]
    const VF a = v[2 * k], b = v[2 * k + 1];
    m1[k] = op(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
               _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  for (int k = 0; k < 4; ++k) {  // 128-bit lane t: vector 4k+t's partials
    const VF c = m1[2 * k], d = m1[2 * k + 1];
    m2[k] = op(_mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(2, 0, 2, 0)),
               _mm512_shuffle_f32x4(c, d, _MM_SHUFFLE(3, 1, 3, 1)));
  }
  for (int k = 0; k < 2; ++k) {  // lane t: [vector 8k+t: 2 partials, vector 8k+4+t: 2 partials]
    const VF e = m2[2 * k], f = m2[2 * k + 1];
    m3[k] = op(_mm512_shuffle_ps(e, f, _MM_SHUFFLE(1, 0, 1, 0)),
               _mm512_shuffle_ps(e, f, _MM_SHUFFLE(3, 2, 3, 2)));
  }
  // Element 4t+u now holds vector t+4u; put vector j at element j.
  const VF r = op(_mm512_shuffle_ps(m3[0], m3[1], _MM_SHUFFLE(2, 0, 2, 0)),
                  _mm512_shuffle_ps(m3[0], m3[1], _MM_SHUFFLE(3, 1, 3, 1)));
  const VI order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  return _mm512_permutexvar_ps(order, r);
}

// Runs of 16 or 32 elements (per-channel with short channels, per-block 32), 16 runs at a time.
// The reduction order differs from the scalar loop's, which only matters for the sign of a zero
// bound (ClampRangeMin/Max make every zero bound +0.0) and for runs with a NaN (flagged apart).
template <int kVecs>
void MinMaxRuns16(const float* x, int64_t groups, float* mn, float* mx, uint8_t* nan) {
  for (int64_t g = 0; g < groups; ++g) {
    VF lo[16], hi[16];
    __mmask16 unordered = 0;  // any NaN lane in the group (mask registers only: cheap)
    for (int j = 0; j < 16; ++j) {
      const float* p = x + (g * 16 + j) * (kVecs * kWidth);
      const VF a = Load(p);
      lo[j] = a;
      hi[j] = a;
      if constexpr (kVecs == 2) {
        const VF b = Load(p + kWidth);
        unordered = static_cast<__mmask16>(unordered | _mm512_cmp_ps_mask(a, b, _CMP_UNORD_Q));
        lo[j] = Min(a, b);
        hi[j] = Max(a, b);
      } else {
        unordered = static_cast<__mmask16>(unordered | _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q));
      }
    }
    float* const m0 = mn + g * 16;
    float* const m1 = mx + g * 16;
    Store(m0, Min(Load(m0), ReduceEach16(lo, [](VF a, VF b) { return Min(a, b); })));
    Store(m1, Max(Load(m1), ReduceEach16(hi, [](VF a, VF b) { return Max(a, b); })));
    if (unordered != 0) {  // rare: find the runs with a NaN
      for (int j = 0; j < 16; ++j) {
        const float* p = x + (g * 16 + j) * (kVecs * kWidth);
        bool any = false;
        for (int k = 0; k < kVecs * kWidth; ++k) any |= __builtin_isnan(p[k]);
        nan[g * 16 + j] |= any ? 1 : 0;
      }
    }
  }
}
#endif

void MinMaxRuns(const float* x, int64_t run, int64_t runs, float* mn, float* mx, uint8_t* nan) {
#if defined(__AVX512F__)
  if (run == kWidth || run == 2 * kWidth) {
    const int64_t groups = runs / 16;
    run == kWidth ? MinMaxRuns16<1>(x, groups, mn, mx, nan)
                  : MinMaxRuns16<2>(x, groups, mn, mx, nan);
    x += groups * 16 * run;
    mn += groups * 16;
    mx += groups * 16;
    nan += groups * 16;
    runs -= groups * 16;
  }
#endif
  for (int64_t r = 0; r < runs; ++r) {
    bool any_nan = false;
    MinMaxOne(x + r * run, run, &mn[r], &mx[r], &any_nan);
    nan[r] |= any_nan ? 1 : 0;
  }
}

// --- Static integer qparams ------------------------------------------------------------------
// Lane by lane the reference's scalar steps (reference_fake_quant.cc), with x86 max/min operand
// orders chosen to match its NaN and zero handling:
//   ClampRangeMin(m) = NaN or m < 0 ? m : +0    -> min(0, m) + 0   (min returns m for a NaN m;
//   ClampRangeMax(m) = NaN or m > 0 ? m : +0    -> max(0, m) + 0    + 0 turns -0 into +0)
//   NanMax(t, eps), eps > 0                       -> max(eps, t)      (returns t for a NaN t)
//   NanMax(a, b) = NaN a ? a : NaN b ? b : a > b ? a : b
//                                                 -> NaN a ? a : max(a, b)
//   NanClamp(z, lo, hi)                           -> min(hi, max(lo, z))
//   FloatToInt32 (NaN / out of range: INT32_MIN)  -> cvttps2dq
__attribute__((always_inline)) inline VF NanMaxV(VF a, VF b) {
  return Select(Unordered(a), a, Max(a, b));
}
void IntQParams(const IntQParamsArgs& a, int64_t n, float* mn, float* mx, const uint8_t* nan,
                float* scale, int32_t* zero_point, float* minval) {
  const VF zero = ZeroF(), eps = Set1(0x1p-23f), sign = Set1(-0.0f);
  const VF qnan = Set1(__builtin_nanf("")), qmin = Set1(a.qmin), qmax = Set1(a.qmax);
  const VF steps = Set1(a.steps), denominator = Set1(a.denominator);
  const VF range_min = Set1(a.range_min), range_max = Set1(a.range_max);
  const VF zp_symmetric = Set1(static_cast<float>(a.symmetric_zero_point));
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    const VF flagged = FlagsNonZero(nan + i);
    VF lo = a.has_range_min ? range_min : Select(flagged, qnan, Load(mn + i));
    VF hi = a.has_range_max ? range_max : Select(flagged, qnan, Load(mx + i));
    lo = Add(Min(zero, lo), zero);
    hi = Add(Max(zero, hi), zero);
    Store(mn + i, lo);
    Store(mx + i, hi);
    if (a.asymmetric) {
      const VF s = Max(eps, Div(Sub(hi, lo), steps));
      const VF z = Min(qmax, Max(qmin, Sub(qmin, RoundEven(Div(lo, s)))));
      Store(scale + i, s);
      StoreTruncated(zero_point + i, z);
      Store(minval + i, lo);
    } else {
      const VF m = NanMaxV(Xor(lo, sign), hi);
      Store(scale + i, Max(eps, Div(m, denominator)));
      StoreTruncated(zero_point + i, zp_symmetric);
      Store(minval + i, Xor(NanMaxV(AndNot(sign, lo), AndNot(sign, hi)), sign));
    }
  }
  // The tail: the reference's scalar steps.
  for (; i < n; ++i) {
    const float q = __builtin_nanf("");
    mn[i] = ClampRangeMin(a.has_range_min ? a.range_min : nan[i] ? q : mn[i]);
    mx[i] = ClampRangeMax(a.has_range_max ? a.range_max : nan[i] ? q : mx[i]);
    IntQParamsOne(a, mn[i], mx[i], &scale[i], &zero_point[i], &minval[i]);
  }
}

void MinMaxVar(const float* x, int64_t n, float* mn, float* mx, uint8_t* nan) {
  int64_t i = 0;
  for (; i + kWidth <= n; i += kWidth) {
    const VF v = Load(x + i);
    Store(mn + i, Min(Load(mn + i), v));
    Store(mx + i, Max(Load(mx + i), v));
    if (const int bits = NanBits(v)) {
      for (int k = 0; k < kWidth; ++k) nan[i + k] |= static_cast<uint8_t>((bits >> k) & 1);
    }
  }
  for (; i < n; ++i) {
    const float v = x[i];
    nan[i] |= __builtin_isnan(v) ? 1 : 0;
    mn[i] = v < mn[i] ? v : mn[i];
    mx[i] = v > mx[i] ? v : mx[i];
  }
}

}  // namespace

#if defined(__AVX512F__)
#define QRULES_ISA_NAME "avx512"
#elif defined(__AVX2__)
#define QRULES_ISA_NAME "avx2"
#else
#define QRULES_ISA_NAME "sse4.1"
#endif

// One table per division method; the FP kernels of the checked table divide (the checked
// reciprocal gives division's integer, not its quotient).
template <DivisionMethod kM>
const KernelTable& TableFor(const char* name) {
  constexpr bool kRcp = kM == DivisionMethod::kReciprocal64;
  static const KernelTable table = {name,
                                    kM,
                                    IntConst<kM>,
                                    IntVar<kM>,
                                    FpConst<kRcp>,
                                    FpVar<kRcp>,
                                    IntCols<kM, false>,
                                    FpCols<kRcp, false>,
                                    IntCols<kM, true>,
                                    FpCols<kRcp, true>,
                                    MinMaxRuns,
                                    MinMaxVar,
                                    IntQParams};
  return table;
}

const KernelTable& Table(DivisionMethod method) {
  switch (method) {
    case DivisionMethod::kReciprocal64:
      return TableFor<DivisionMethod::kReciprocal64>(QRULES_ISA_NAME "/rcp64");
    case DivisionMethod::kCheckedReciprocal:
      return TableFor<DivisionMethod::kCheckedReciprocal>(QRULES_ISA_NAME "/checked");
    case DivisionMethod::kDivide:
      break;
  }
  return TableFor<DivisionMethod::kDivide>(QRULES_ISA_NAME "/divps");
}
#undef QRULES_ISA_NAME

}  // namespace qrules::internal::QRULES_KERNEL_NS
