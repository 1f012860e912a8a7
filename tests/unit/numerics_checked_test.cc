// The checked reciprocal (kernels.h): its error argument swept over every dividend of a range for
// several scales, and the checked kernel tables against the reference on quotients at and next to
// half-integers, special values, and scales the method does not cover.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "numerics/kernels.h"
#include "numerics_golden_reader.h"
#include "qrules/fake_quant.h"

namespace qrules {
namespace {

using testing::BitsOf;
using testing::FloatFromBits;
using testing::SameBits;

// The scalar steps of one kernel lane: t = RN(d * RN(1/s)), n = round_half_even(t), flagged unless
// |t - n| < near.  Returns whether it flagged; *n is the unchecked integer.
bool CheckedLane(float d, float recip, float near, float* n) {
  const float t = d * recip;
  *n = std::nearbyint(t);
  return !(std::fabs(t - *n) < near);
}

TEST_CASE("the checked reciprocal keeps division's integer wherever it does not flag",
          "[numerics][checked]") {
  // 8-bit ZP ranges: folded bounds within ±255.  Scales: ordinary int8 scales, the ends of a
  // binade, one without a reciprocal pair (0x1.8ffffcp-1), and scales whose RN(1/s) is among the
  // farthest from 1/s of 200,000 random scales (the largest error the argument allows for).
  constexpr float kBound = 255.0f;
  const float near = internal::NearHalfBound(kBound);
  std::vector<float> scales = {0.1f, 6.0f / 255.0f, 0x1.fffffep-1f, 0x1.8ffffcp-1f, 3.7f};
  {
    std::mt19937_64 rng(5);
    std::uniform_real_distribution<float> unit(1.0f, 2.0f);
    std::vector<std::pair<double, float>> by_error;
    for (int i = 0; i < 200000; ++i) {
      const float s = unit(rng) * 0x1p-6f;
      const double exact = 1.0 / static_cast<double>(s);
      const double r = static_cast<double>(1.0f / s);
      by_error.emplace_back(std::fabs(r - exact) / exact, s);
    }
    std::sort(by_error.rbegin(), by_error.rend());
    CHECK(by_error[0].first > 0x1.fcp-25);  // within 1% of the half-ulp worst case
    scales.push_back(by_error[0].second);
    scales.push_back(by_error[1].second);
  }
  int64_t checked = 0, flagged = 0, unchecked_misses = 0;
  for (const float s : scales) {
    INFO("scale " << std::hexfloat << s);
    REQUIRE(internal::CheckedReciprocalApplies(s));
    const float recip = 1.0f / s;
    int64_t bad = 0;
    // Every positive d with d / s in [1/4, 256] (negative d mirror it: every step rounds to
    // nearest, which is symmetric), a few beyond each end.
    const uint32_t first = BitsOf(0.25f * s) - 2, last = BitsOf(256.0f * s) + 2;
    for (uint32_t u = first; u <= last; ++u) {
      const float d = FloatFromBits(u);
      float n = 0.0f;
      const bool flag = CheckedLane(d, recip, near, &n);
      const float exact = std::nearbyint(d / s);
      const bool differs = BitsOf(n) != BitsOf(exact);
      unchecked_misses += differs ? 1 : 0;
      flagged += flag ? 1 : 0;
      bad += (!flag && differs) ? 1 : 0;
      ++checked;
    }
    CHECK(bad == 0);
  }
  CHECK(checked > 500'000'000);
  // The check is needed (without it the integer differs somewhere) and rare: 2 * (1/2 - near)
  // = 257 * 2^-21 of uniformly spread quotients, ~1.2 * 10^-4.
  CHECK(unchecked_misses > 0);
  CHECK(flagged > 0);
  CHECK(flagged < checked / 2000);
}

TEST_CASE("the checked reciprocal covers scales with a normal reciprocal", "[numerics][checked]") {
  CHECK(internal::CheckedReciprocalApplies(0x1p-125f));
  CHECK(internal::CheckedReciprocalApplies(0x1p125f));
  CHECK(internal::CheckedReciprocalApplies(-0.1f));
  CHECK_FALSE(internal::CheckedReciprocalApplies(std::nextafter(0x1p-125f, 0.0f)));
  CHECK_FALSE(internal::CheckedReciprocalApplies(std::nextafter(0x1p125f, 0x1p126f)));
  CHECK_FALSE(internal::CheckedReciprocalApplies(0.0f));
  CHECK_FALSE(internal::CheckedReciprocalApplies(1e-40f));
  CHECK_FALSE(internal::CheckedReciprocalApplies(std::numeric_limits<float>::infinity()));
  CHECK_FALSE(internal::CheckedReciprocalApplies(std::nanf("")));
  // The argument needs 1/2 - near >= 3.01 * 2^-24 * (L + 2) (plus the rounding of near itself).
  for (const float bound : {1.0f, 7.0f, 255.0f, 65535.0f, 1048576.0f}) {
    INFO("bound " << bound);
    CHECK(0.5 - static_cast<double>(internal::NearHalfBound(bound)) >=
          3.01 * 0x1p-24 * (static_cast<double>(bound) + 2.0) + 0x1p-25);
  }
  CHECK(internal::FoldedBound(-200.0f, 55.0f) == 200.0f);
  CHECK(internal::FoldedBound(0.0f, 255.0f) == 255.0f);
}

std::vector<const internal::KernelTable*> CheckedTables() {
  std::vector<const internal::KernelTable*> t = {
      &internal::SseKernels(internal::DivisionMethod::kCheckedReciprocal)};
  if (internal::CpuHasAvx2()) {
    t.push_back(&internal::Avx2Kernels(internal::DivisionMethod::kCheckedReciprocal));
  }
  if (internal::CpuHasAvx512()) {
    t.push_back(&internal::Avx512Kernels(internal::DivisionMethod::kCheckedReciprocal));
  }
  return t;
}

// Values x with x / s at, and one to three ulps beside, every half-integer k + 1/2 and integer k
// for |k| <= 300, and special values; `count` of them, drawn at random.
class HardValues {
 public:
  explicit HardValues(float s) {
    const float inf = std::numeric_limits<float>::infinity();
    pool_ = {0.0f,       -0.0f,      inf,         -inf, std::numeric_limits<float>::max(),
             0x1p-149f,  -0x1p-149f, 1e30f,       -1e30f,
             FloatFromBits(0x7fc00001u), FloatFromBits(0xffc12345u)};
    for (int k = -300; k <= 300; ++k) {
      for (const float base : {(static_cast<float>(k) + 0.5f) * s, static_cast<float>(k) * s}) {
        float up = base, down = base;
        pool_.push_back(base);
        for (int step = 0; step < 3; ++step) {
          up = std::nextafter(up, inf);
          down = std::nextafter(down, -inf);
          pool_.push_back(up);
          pool_.push_back(down);
        }
      }
    }
  }
  float Draw(std::mt19937_64& rng) const {
    return pool_[std::uniform_int_distribution<size_t>(0, pool_.size() - 1)(rng)];
  }

 private:
  std::vector<float> pool_;
};

// Runs every table of `tables` (with `pairs` when given), with and without the STE mask, against
// the reference, bit for bit; returns the elements compared.
int64_t CompareTables(const std::vector<const internal::KernelTable*>& tables,
                      const QuantKernel& k, const BlockLayout& layout, const QParams& qp,
                      const std::vector<float>& x, const std::string& what,
                      const internal::BlockPairs* pairs = nullptr) {
  std::vector<float> ref(x.size()), fast(x.size());
  std::vector<uint8_t> ref_mask(x.size()), fast_mask(x.size());
  FakeQuantizeReference(k, layout, qp, x, ref, ref_mask);
  int64_t compared = 0;
  for (const internal::KernelTable* kt : tables) {
    for (const bool with_mask : {false, true}) {
      std::fill(fast.begin(), fast.end(), 12345.0f);  // a sentinel: unwritten elements show
      std::fill(fast_mask.begin(), fast_mask.end(), uint8_t{2});
      internal::FakeQuantizeWith(*kt, k, layout, qp, x, fast,
                                 with_mask ? std::span<uint8_t>(fast_mask) : std::span<uint8_t>(),
                                 pairs);
      size_t where = 0;
      const bool same = SameBits(ref, fast, &where);
      INFO(kt->name << ", " << what << ", qmin " << k.qmin << ", "
                    << QFormulationName(k.formulation) << ", mask " << with_mask << ", index "
                    << where << " x=" << std::hexfloat << x[where] << " ref=" << ref[where]
                    << " fast=" << fast[where]);
      CHECK(same);
      if (with_mask) CHECK(ref_mask == fast_mask);
      compared += static_cast<int64_t>(x.size());
    }
  }
  return compared;
}

// A layout and the block index of each element (row-major).
struct Case {
  std::vector<int64_t> shape;
  Granularity g;
  std::string what;
};
int64_t BlockOf(const Case& c, int64_t i) {
  const int64_t cols = c.shape.size() == 2 ? c.shape[1] : 1;
  if (c.g.kind == GranularityKind::kPerTensor) return 0;
  if (c.g.kind == GranularityKind::kPerBlock) {
    const int64_t per_row = cols / c.g.block_size[0];
    return (i / cols) * per_row + (i % cols) / c.g.block_size[0];
  }
  return c.g.axis == 0 ? i / cols : i % cols;
}

// The data of case `c` (numel elements): each element drawn from values[scale_index(block)], the
// hard values of its own block's scale.
template <typename ScaleIndex>
std::vector<float> DrawPerBlock(const Case& c, int64_t numel, const std::vector<HardValues>& values,
                                ScaleIndex scale_index, std::mt19937_64& rng) {
  std::vector<float> x(static_cast<size_t>(numel));
  for (size_t i = 0; i < x.size(); ++i) {
    x[i] = values[scale_index(BlockOf(c, static_cast<int64_t>(i)))].Draw(rng);
  }
  return x;
}

std::vector<Case> CheckedCases() {
  Granularity axis0, last, block32;
  axis0.kind = last.kind = GranularityKind::kPerChannel;
  axis0.axis = 0;
  last.axis = -1;
  block32.kind = GranularityKind::kPerBlock;
  block32.axis = 1;
  block32.block_size = {32};
  // Per tensor (long runs); runs of 16 and 32 (with AVX-512: the fixed-run kernels), 40 (the
  // general run loop); the last axis with 48 and 64 columns in cache (column kernels) and beyond
  // 2^18 elements (row kernels: 64 columns in registers, 96 in the general row loop); short rows
  // of 12 (per-element kernel); blocks of 32.
  return {{{9600}, Granularity{}, "per tensor"},
          {{600, 16}, axis0, "runs of 16"},
          {{300, 32}, axis0, "runs of 32"},
          {{240, 40}, axis0, "runs of 40"},
          {{200, 48}, last, "last axis, 48 columns"},
          {{150, 64}, last, "last axis, 64 columns"},
          {{4100, 64}, last, "last axis, 64 columns, row kernel"},
          {{2740, 96}, last, "last axis, 96 columns, row kernel"},
          {{800, 12}, last, "last axis, 12 columns"},
          {{100, 96}, block32, "blocks of 32"}};
}

TEST_CASE("checked kernel tables equal the reference next to half-integers",
          "[numerics][checked]") {
  // Four scales across the blocks; each element's quotient by its own block's scale lies at or
  // next to a half-integer or an integer (or is a special value).  Zero points across the range,
  // minvals at multiples of the scale (keeping the quotients there) and -0.0.
  const std::vector<float> scales = {0.1f, 0x1.8ffffcp-1f, 0.0123f, 3.7f};
  std::vector<HardValues> values;
  for (const float s : scales) values.emplace_back(s);
  std::mt19937_64 rng(11);
  int64_t compared = 0;
  for (const Case& c : CheckedCases()) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(c.shape, c.g, &layout).ok());
    const int64_t blocks = layout.num_blocks();
    auto scale_index = [](int64_t b) { return static_cast<size_t>((b * 5 + b / 3) % 4); };
    const std::vector<float> x = DrawPerBlock(c, layout.numel(), values, scale_index, rng);
    for (const auto& [qmin, qmax] : {std::pair{-128, 127}, std::pair{0, 15}, std::pair{-2, 1}}) {
      for (const QFormulation f : {QFormulation::kZp, QFormulation::kMinval}) {
        const QuantKernel k = QuantKernel::Integer(qmin, qmax, f);
        QParams qp;
        for (int64_t b = 0; b < blocks; ++b) {
          const float s = scales[scale_index(b)];
          qp.scale.push_back(s);
          qp.zero_point.push_back(qmin + static_cast<int32_t>(b % (qmax - qmin + 1)));
          qp.minval.push_back(b % 3 == 1 ? -0.0f : -static_cast<float>(b % 5) * s);
        }
        compared += CompareTables(CheckedTables(), k, layout, qp, x, c.what);
      }
    }
  }
  CHECK(compared > 10'000'000);
}

TEST_CASE("checked tables take the checked reciprocal for blocks without a reciprocal pair",
          "[numerics][checked]") {
  // Pairs for two blocks in three (the others marked as having none): the pair kernels hand those
  // blocks to the table's method, here the checked reciprocal (the AVX2 and AVX-512 tables; the
  // per-element kernels take pairs only when every block has one).  The SSE4.1 table (the
  // baseline every x86-64-v2 CPU runs) is always compared, so the test asserts on any machine.
  std::vector<const internal::KernelTable*> tables{
      &internal::SseKernels(internal::DivisionMethod::kCheckedReciprocal)};
  if (internal::CpuHasAvx2()) {
    tables.push_back(&internal::Avx2Kernels(internal::DivisionMethod::kCheckedReciprocal));
  }
  if (internal::CpuHasAvx512()) {
    tables.push_back(&internal::Avx512Kernels(internal::DivisionMethod::kCheckedReciprocal));
  }
  const std::vector<float> scales = {0.1f, 0.37f, 0.0123f, 3.7f};
  std::vector<HardValues> values;
  for (const float s : scales) values.emplace_back(s);
  std::mt19937_64 rng(17);
  int64_t compared = 0;
  for (const Case& c : CheckedCases()) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(c.shape, c.g, &layout).ok());
    const int64_t blocks = layout.num_blocks();
    auto scale_index = [](int64_t b) { return static_cast<size_t>(b % 4); };
    const std::vector<float> x = DrawPerBlock(c, layout.numel(), values, scale_index, rng);
    const QuantKernel k = QuantKernel::Integer(-128, 127, QFormulation::kZp);
    QParams qp;
    for (int64_t b = 0; b < blocks; ++b) {
      qp.scale.push_back(scales[scale_index(b)]);
      qp.zero_point.push_back(static_cast<int32_t>(b % 11) - 5);
    }
    std::vector<float> zh, zl;
    REQUIRE(internal::MakeBlockPairs(k, qp, &zh, &zl) == blocks);
    for (size_t b = 0; b < zh.size(); b += 3) zh[b] = zl[b] = 0.0f;
    const internal::BlockPairs pairs{zh.data(), zl.data(), false};
    compared += CompareTables(tables, k, layout, qp, x, c.what, &pairs);
  }
  CHECK(compared > 1'000'000);
}

TEST_CASE("checked kernel tables equal the reference at and beyond the scales they cover",
          "[numerics][checked]") {
  // Blocks with subnormal, tiny and huge scales among ordinary ones, which the kernels divide
  // (block by block, chunk by chunk, or the whole row for the lane kernels).  (No float32 scale is
  // far enough outside [2^-125, 2^125] to break the checked reciprocal's argument badly enough to
  // show here — 1e-40 has an infinite reciprocal, which flags every lane — so this tests the
  // fallbacks' bookkeeping, not the bound itself.)
  const std::vector<float> odd = {1e-40f, 0x1p-126f, 0x1p126f, 0x1.8p125f};
  Granularity axis0, last;
  axis0.kind = last.kind = GranularityKind::kPerChannel;
  axis0.axis = 0;
  last.axis = -1;
  const std::vector<Case> cases = {{{300, 16}, axis0, "runs of 16"},
                                   {{150, 32}, axis0, "runs of 32"},
                                   {{90, 40}, axis0, "runs of 40"},
                                   {{100, 48}, last, "last axis, 48 columns"},
                                   {{400, 12}, last, "last axis, 12 columns"}};
  std::mt19937_64 rng(13);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const Case& c : cases) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(c.shape, c.g, &layout).ok());
    QParams qp;
    for (int64_t b = 0; b < layout.num_blocks(); ++b) {
      const float s = b % 7 == 3 ? odd[static_cast<size_t>(b / 7) % odd.size()] : 0.05f;
      qp.scale.push_back(s);
      qp.zero_point.push_back(static_cast<int32_t>(b % 9) - 4);
    }
    std::vector<float> x(static_cast<size_t>(layout.numel()));
    for (size_t i = 0; i < x.size(); ++i) {
      const float v = normal(rng);
      x[i] = i % 3 == 0 ? v * 1e-38f : i % 3 == 1 ? v * 1e38f : v * 5.0f;
    }
    const QuantKernel k = QuantKernel::Integer(-128, 127, QFormulation::kZp);
    CompareTables(CheckedTables(), k, layout, qp, x, c.what);
  }
}

}  // namespace
}  // namespace qrules
