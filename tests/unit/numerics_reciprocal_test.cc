// The reciprocal pair (src/numerics/reciprocal.cc): the per-scale proof against exhaustive sweeps,
// special values through PreparedQParams, and when preparing keeps the division.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "numerics/kernels.h"
#include "numerics/numerics_internal.h"
#include "numerics_golden_reader.h"
#include "qrules/fake_quant.h"

namespace qrules {
namespace {

using testing::BitsOf;
using testing::FloatFromBits;
using testing::SameBitsOrBothNan;
float PairQuotient(float d, internal::ReciprocalPair p) { return std::fma(d, p.zh, d * p.zl); }

// Scales the sweeps run on: ordinary int8 scales, the ends of a binade, scales whose first
// candidate pair misses the correctly rounded quotient somewhere (0x1.e23596p-1 ...), and scales
// whose first candidate misses next to a half-integer below 2^8, where an int8 result would change
// (0x1.8ffffcp-1, 0x1.9bfffep-5; found by running the proof over random scales), so the later
// candidates and the proof's rejections are exercised too.
const std::vector<float>& SweepScales() {
  static const std::vector<float> s = {
      0.1f,           1.0f / 3.0f,    6.0f / 255.0f,  0x1.fffffep-1f, 0x1.e23596p-1f,
      0x1.5181aep-1f, 0x1.a6a2cep-3f, 0x1.8ffffcp-1f, 0x1.9bfffep-5f, 0.25f};
  return s;
}

// Every positive float32 d with lo_t * s <= d <= hi_t * s (plus a few beyond each end).
template <typename Fn>
void ForEachDividend(float s, float lo_t, float hi_t, Fn&& fn) {
  const uint32_t first = BitsOf(lo_t * s) - 2, last = BitsOf(hi_t * s) + 2;
  for (uint32_t u = first; u <= last; ++u) fn(FloatFromBits(u));
}

TEST_CASE("a proven pair rounds to division's integer for every dividend", "[numerics][pair]") {
  // int8 ZP: clamp bounds within ±255 (zero points anywhere in [-128, 127]).
  constexpr float kBound = 255.0f;
  int64_t checked = 0, quotient_misses = 0;
  for (const float s : SweepScales()) {
    internal::ReciprocalPair pair;
    if (!internal::FindExactReciprocalPair(s, kBound, &pair)) continue;  // divides (tested below)
    INFO("scale " << std::hexfloat << s << " zh " << pair.zh << " zl " << pair.zl);
    CHECK(pair.zl > 0.0f);
    int64_t bad = 0;
    // d / s in [2^-3, 2^8]: below 1/2 both must give +0; above, the integers may differ only
    // where both lie beyond every clamp bound and the STE mask's edge (|n| > 255).  (Negative d
    // mirror these exactly: every step rounds to nearest, which is symmetric.)
    ForEachDividend(s, 0x1p-3f, 0x1p8f, [&](float d) {
      const float exact = d / s, fast = PairQuotient(d, pair);
      quotient_misses += BitsOf(exact) != BitsOf(fast) ? 1 : 0;
      const float a = std::nearbyint(exact), b = std::nearbyint(fast);
      if (BitsOf(a) != BitsOf(b) && std::fmin(std::fabs(a), std::fabs(b)) <= kBound) ++bad;
      ++checked;
    });
    CHECK(bad == 0);
  }
  CHECK(checked > 650'000'000);  // at least 8 of the 10 scales have a pair
  // The pair is not the correctly rounded quotient everywhere: the proof is what makes it safe.
  CHECK(quotient_misses > 0);
}

TEST_CASE("with the widest clamp bound a proven pair is the correctly rounded quotient",
          "[numerics][pair]") {
  // Bound 2^21: every midpoint counts, so the proof covers RN(d / s) itself for |d / s| >= 1/4.
  int64_t checked = 0;
  for (const float s : SweepScales()) {
    internal::ReciprocalPair pair;
    if (!internal::FindExactReciprocalPair(s, 2097152.0f, &pair)) continue;
    INFO("scale " << std::hexfloat << s);
    int64_t bad = 0;
    for (const float lo_t : {0.25f, 1.0f, 0x1p20f}) {
      ForEachDividend(s, lo_t, 2 * lo_t, [&](float d) {
        bad += BitsOf(d / s) != BitsOf(PairQuotient(d, pair)) ? 1 : 0;
        ++checked;
      });
    }
    CHECK(bad == 0);
  }
  CHECK(checked > 75'000'000);  // (half the sweep scales have no quotient-exact pair)
}

TEST_CASE("almost every scale gets a pair, and out-of-range scales and bounds do not",
          "[numerics][pair]") {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  int proven8 = 0, proven_wide = 0;
  constexpr int kScales = 20000;
  for (int i = 0; i < kScales; ++i) {
    const float s = std::ldexp(0.5f + unit(rng), -static_cast<int>(rng() % 24));
    internal::ReciprocalPair pair;
    proven8 += internal::FindExactReciprocalPair(s, 255.0f, &pair) ? 1 : 0;
    proven_wide += internal::FindExactReciprocalPair(s, 2097152.0f, &pair) ? 1 : 0;
  }
  CHECK(proven8 == kScales);                // 8-bit clamp ranges: misses never matter
  CHECK(proven_wide > kScales * 97 / 100);  // exact quotients: four candidates mostly do
  internal::ReciprocalPair pair;
  CHECK_FALSE(internal::FindExactReciprocalPair(1e-40f, 255.0f, &pair));  // subnormal scale
  CHECK_FALSE(internal::FindExactReciprocalPair(0x1p70f, 255.0f, &pair));
  CHECK_FALSE(
      internal::FindExactReciprocalPair(std::numeric_limits<float>::infinity(), 255.0f, &pair));
  CHECK_FALSE(internal::FindExactReciprocalPair(std::nanf(""), 255.0f, &pair));
  CHECK_FALSE(internal::FindExactReciprocalPair(-0.1f, 255.0f, &pair));
  CHECK_FALSE(internal::FindExactReciprocalPair(0.1f, 0x1p22f, &pair));  // beyond the fold
  // A power of two: zh + zl = 1/s exactly.
  REQUIRE(internal::FindExactReciprocalPair(0.125f, 255.0f, &pair));
  CHECK(static_cast<double>(pair.zh) + static_cast<double>(pair.zl) == 8.0);
}

std::vector<float> SpecialData() {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {0.0f,
                          -0.0f,
                          inf,
                          -inf,
                          std::numeric_limits<float>::max(),
                          -std::numeric_limits<float>::max(),
                          0x1p-149f,
                          -0x1p-149f,
                          0x1p-127f,
                          FloatFromBits(0x7fc00001u),
                          FloatFromBits(0xffc12345u),
                          FloatFromBits(0x7f800001u),
                          1e30f,
                          -1e30f,
                          0.5f,
                          -0.5f,
                          1.5f,
                          2.5f,
                          -2.5f};
  // Ties k + 1/2 of the scales used below, and their neighbours.
  for (const float s : {0.1f, 1.0f / 3.0f, 0.02f}) {
    for (int k = -300; k <= 300; ++k) {
      const float t = (static_cast<float>(k) + 0.5f) * s;
      x.push_back(t);
      x.push_back(std::nextafter(t, 0.0f));
      x.push_back(std::nextafter(t, inf));
    }
  }
  while (x.size() % 48 != 0) x.push_back(0.0f);
  return x;
}

TEST_CASE("prepared qparams: special values equal the reference", "[numerics][pair]") {
  const std::vector<float> x = SpecialData();
  const auto n = static_cast<int64_t>(x.size());
  Granularity per_channel;
  per_channel.kind = GranularityKind::kPerChannel;
  per_channel.axis = 1;
  struct Case {
    std::vector<int64_t> shape;
    Granularity g;
  };
  const std::vector<Case> cases = {{{n}, Granularity{}},
                                   {{n / 48, 48}, per_channel},  // last axis, 48 columns
                                   {{n / 16, 16}, per_channel}};
  for (const Case& c : cases) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(c.shape, c.g, &layout).ok());
    for (const QFormulation f : {QFormulation::kZp, QFormulation::kMinval}) {
      const QuantKernel k = QuantKernel::Integer(-128, 127, f);
      QParams qp;
      for (int64_t b = 0; b < layout.num_blocks(); ++b) {
        qp.scale.push_back(b % 3 == 0 ? 0.1f : b % 3 == 1 ? 1.0f / 3.0f : 0.02f);
        qp.zero_point.push_back(static_cast<int32_t>(b % 11) - 5);
        qp.minval.push_back(b % 2 ? -0.0f : -1.25f);
      }
      const PreparedQParams prepared(k, qp);
      REQUIRE(prepared.multiplies());
      std::vector<float> ref(x.size()), fast(x.size());
      std::vector<uint8_t> ref_mask(x.size()), fast_mask(x.size());
      FakeQuantizeReference(k, layout, qp, x, ref, ref_mask);
      FakeQuantize(k, layout, prepared, x, fast, fast_mask);
      size_t where = 0;
      INFO("shape rank " << c.shape.size() << " formulation " << QFormulationName(f));
      const bool same = SameBitsOrBothNan(ref, fast, &where);
      INFO("x=" << std::hexfloat << x[where] << " ref=" << ref[where] << " fast=" << fast[where]);
      CHECK(same);
      CHECK(ref_mask == fast_mask);
    }
  }
}

TEST_CASE("blocks without a pair fall back to the plain kernels, block by block or the whole tensor",
          "[numerics][pair]") {
  // 0x1.8ffffcp-1: no candidate pair survives the proof (every one misses next to a half-integer
  // below 2^8); the other scales have pairs.
  constexpr float kNoPair = 0x1.8ffffcp-1f;
  internal::ReciprocalPair unused;
  REQUIRE_FALSE(internal::FindExactReciprocalPair(kNoPair, 255.0f, &unused));
  std::mt19937_64 rng(9);
  std::normal_distribution<float> normal(0.0f, 60.0f);
  Granularity axis0, last;
  axis0.kind = last.kind = GranularityKind::kPerChannel;
  axis0.axis = 0;
  last.axis = -1;
  // Runs of 16 and 32 (fixed-run kernels), 40 (the general run loop), and the last axis.
  const std::vector<std::pair<std::vector<int64_t>, Granularity>> cases = {
      {{300, 16}, axis0}, {{300, 32}, axis0}, {{90, 40}, axis0}, {{200, 48}, last}};
  for (const auto& [shape, g] : cases) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(shape, g, &layout).ok());
    QParams qp;
    for (int64_t b = 0; b < layout.num_blocks(); ++b) {
      qp.scale.push_back(b % 5 == 2 ? kNoPair : 0.37f + 0.01f * static_cast<float>(b % 7));
      qp.zero_point.push_back(static_cast<int32_t>(b % 9) - 4);
    }
    std::vector<float> x(static_cast<size_t>(layout.numel()));
    for (float& v : x) v = normal(rng);
    // Ties of the no-pair scale, where a miss would show.
    for (size_t i = 0; i < x.size(); i += 3) x[i] = (std::round(x[i]) + 0.5f) * kNoPair;
    const QuantKernel k = QuantKernel::Integer(-128, 127, QFormulation::kZp);
    const PreparedQParams prepared(k, qp);
    CHECK_FALSE(prepared.multiplies());
    CHECK(prepared.multiplying_blocks() == layout.num_blocks() - (layout.num_blocks() + 2) / 5);
    std::vector<float> ref(x.size()), fast(x.size());
    std::vector<uint8_t> ref_mask(x.size()), fast_mask(x.size());
    FakeQuantizeReference(k, layout, qp, x, ref, ref_mask);
    FakeQuantize(k, layout, prepared, x, fast, fast_mask);
    size_t where = 0;
    INFO("shape " << shape[0] << "x" << shape[1]);
    CHECK(SameBitsOrBothNan(ref, fast, &where));
    CHECK(ref_mask == fast_mask);
  }
}

TEST_CASE("prepared qparams fall back to the plain kernels where no pair applies",
          "[numerics][pair]") {
  BlockLayout layout = BlockLayout::PerTensor({64});
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.37f - 11.0f;
  QParams qp;
  qp.scale = {0.1f};
  qp.zero_point = {3};
  qp.minval = {-1.0f};
  const QuantKernel int8 = QuantKernel::Integer(-128, 127, QFormulation::kZp);
  CHECK(PreparedQParams(int8, qp).multiplies());
  CHECK(PreparedQParams(int8, qp).PreparedFor(int8));
  CHECK_FALSE(PreparedQParams(QuantKernel::Floating(Dtype::kFloat8E4m3fn), qp).multiplies());
  QParams subnormal = qp;
  subnormal.scale = {1e-40f};
  CHECK_FALSE(PreparedQParams(int8, subnormal).multiplies());
  QParams huge_zero_point = qp;
  huge_zero_point.zero_point = {3000001};
  CHECK_FALSE(PreparedQParams(int8, huge_zero_point).multiplies());
  // Prepared for int8 but applied with uint4 (another clamp range): the pairs are not used, and
  // the result is still the reference's.
  const QuantKernel uint4 = QuantKernel::Integer(0, 15, QFormulation::kZp);
  const PreparedQParams prepared(int8, qp);
  CHECK_FALSE(prepared.PreparedFor(uint4));
  std::vector<float> ref(64), fast(64);
  FakeQuantizeReference(uint4, layout, qp, x, ref);
  FakeQuantize(uint4, layout, prepared, x, fast);
  size_t where = 0;
  CHECK(SameBitsOrBothNan(ref, fast, &where));
}

}  // namespace
}  // namespace qrules
