// Kernels: the float64-reciprocal division, reference vs vectorized path on random and adversarial
// data, layouts and their errors, qparams by hand, dtype names.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "numerics/kernels.h"
#include "numerics/numerics_internal.h"
#include "numerics_golden_reader.h"
#include "qrules/fake_quant.h"

namespace qrules {
namespace {

// Bit-pattern helpers shared with the golden-file reader.
using testing::BitsOf;
using testing::FloatFromBits;
using testing::SameBitsOrBothNan;
float DivByRcp(float x, float s) {
  return static_cast<float>(static_cast<double>(x) * (1.0 / static_cast<double>(s)));
}
// Equal bits, or (below float32's normal range, where the proof of kernels.h does not apply and no
// kernel can tell the difference) equal sign and both below 2^-126.
bool SameQuotient(float a, float b) {
  if (BitsOf(a) == BitsOf(b)) return true;
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::fabs(a) < 0x1p-126f && std::fabs(b) < 0x1p-126f && std::signbit(a) == std::signbit(b);
}

TEST_CASE("float64 reciprocal multiply equals float32 division", "[numerics][division]") {
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<uint32_t> any_bits;
  size_t checked = 0, bad = 0;
  auto check = [&](float x, float s) {
    ++checked;
    if (!SameQuotient(DivByRcp(x, s), x / s)) {
      if (bad++ < 5) {
        INFO("x=" << std::hexfloat << x << " s=" << s);
        CHECK(false);
      }
    }
  };
  // Random bit patterns (every exponent, NaN, inf, subnormals).
  for (int i = 0; i < 4'000'000; ++i) check(FloatFromBits(any_bits(rng)), FloatFromBits(any_bits(rng)));
  // Quotients near float32 midpoints: x = RN(m * s) and its neighbours, m a midpoint.
  std::uniform_real_distribution<float> unit(1.0f, 2.0f);
  std::uniform_int_distribution<int> exp(-40, 40);
  for (int i = 0; i < 1'000'000; ++i) {
    const float s = std::ldexp(unit(rng), exp(rng));
    const float q = std::ldexp(unit(rng), exp(rng));
    const double mid = static_cast<double>(q) + std::ldexp(1.0, std::ilogb(q) - 24);
    const float x = static_cast<float>(mid * s);
    check(x, s);
    check(std::nextafter(x, 0.0f), s);
    check(std::nextafter(x, INFINITY), s);
  }
  // Small-integer and k + 0.5 quotients against scales like 0.1, 6/255, 2^-23.
  for (float s : {0.1f, 0.125f, 6.0f / 255.0f, 1.0f / 3.0f, 0x1p-23f, 1e-30f, 3e9f, 0x1p-149f}) {
    for (int k = -70000; k <= 70000; ++k) {
      const float x = (static_cast<float>(k) + 0.5f) * s;
      check(x, s);
      check(std::nextafter(x, 0.0f), s);
      check(std::nextafter(x, INFINITY), s);
      check(static_cast<float>(k) * s, s);
    }
  }
  CHECK(bad == 0);
  CHECK(checked > 5'000'000);
}

// --- random / adversarial data -------------------------------------------------------------------

std::vector<float> AdversarialData(std::mt19937_64& rng, size_t n,
                                   const std::vector<float>& scales) {
  std::uniform_int_distribution<int> kind(0, 11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> k(-300, 300);
  std::uniform_int_distribution<uint32_t> any_bits;
  std::uniform_int_distribution<size_t> pick(0, scales.size() - 1);
  std::vector<float> x(n);
  for (float& v : x) {
    const float s = scales[pick(rng)];
    switch (kind(rng)) {
      case 0:
        v = normal(rng);
        break;
      case 1:
        v = normal(rng) * s * 100.0f;
        break;
      case 2:
        v = (static_cast<float>(k(rng)) + 0.5f) * s;
        break;  // ties k + 0.5
      case 3:
        v = std::nextafter((static_cast<float>(k(rng)) + 0.5f) * s, 0.0f);
        break;
      case 4:
        v = static_cast<float>(k(rng)) * s;
        break;
      case 5:
        v = FloatFromBits(any_bits(rng) & 0x807fffffu);
        break;  // ±denormals, ±0
      case 6:
        v = (any_bits(rng) & 1 ? 1.0f : -1.0f) * std::ldexp(1.0f, k(rng) % 128);
        break;
      case 7:
        v = (any_bits(rng) & 1) ? 0.0f : -0.0f;
        break;
      case 8:
        v = FloatFromBits(any_bits(rng));
        break;  // anything, NaN and inf included
      case 9:
        v = (any_bits(rng) & 1 ? 1.0f : -1.0f) * std::numeric_limits<float>::max();
        break;
      case 10:
        v = normal(rng) * 1e30f;
        break;
      default:
        v = normal(rng) * s * 3.0f;
        break;
    }
  }
  return x;
}

std::vector<float> RandomScales(std::mt19937_64& rng, size_t n) {
  const std::vector<float> pool = {0.125f,    0.1f,   6.0f / 255.0f, 1.0f / 3.0f, 0x1p-23f, 2.5e4f,
                                   0x1p-126f, 1e-40f, 0.37f,         448.0f,      1.0f};
  std::uniform_int_distribution<size_t> pick(0, pool.size() - 1);
  std::uniform_real_distribution<float> uni(1e-3f, 10.0f);
  std::vector<float> s(n);
  for (float& v : s) v = (rng() & 3) ? pool[pick(rng)] : uni(rng);
  return s;
}

// Scales from RandomScales; zero points anywhere in [qmin, qmax]; minvals N(-1, 2), one in 8 -0.0.
QParams RandomQParams(std::mt19937_64& rng, const QuantKernel& k, size_t blocks) {
  QParams qp;
  qp.scale = RandomScales(rng, blocks);
  std::uniform_int_distribution<int32_t> zp(k.qmin, k.qmax);
  std::normal_distribution<float> mv(-1.0f, 2.0f);
  for (size_t b = 0; b < blocks; ++b) {
    qp.zero_point.push_back(zp(rng));
    qp.minval.push_back((rng() & 7) == 0 ? -0.0f : mv(rng));
  }
  return qp;
}

Granularity PerChannel(int64_t axis) {
  Granularity g;
  g.kind = GranularityKind::kPerChannel;
  g.axis = axis;
  return g;
}
Granularity PerBlock(int64_t axis, int64_t b) {
  Granularity g;
  g.kind = GranularityKind::kPerBlock;
  g.axis = axis;
  g.block_size = {b};
  return g;
}
Granularity PerBlockTuple(std::vector<int64_t> b) {
  Granularity g;
  g.kind = GranularityKind::kPerBlock;
  g.block_size = std::move(b);
  g.block_is_tuple = true;
  return g;
}


// Every table this CPU can run: each ISA with each division method.
std::vector<const internal::KernelTable*> AllTables() {
  using internal::DivisionMethod;
  std::vector<const internal::KernelTable*> t;
  for (const DivisionMethod m : {DivisionMethod::kDivide, DivisionMethod::kReciprocal64,
                                 DivisionMethod::kCheckedReciprocal}) {
    t.push_back(&internal::SseKernels(m));
    if (internal::CpuHasAvx2()) t.push_back(&internal::Avx2Kernels(m));
    if (internal::CpuHasAvx512()) t.push_back(&internal::Avx512Kernels(m));
  }
  return t;
}

// The tables that read reciprocal pairs (compiled with FMA; divps and checked tables).
std::vector<const internal::KernelTable*> PairTables() {
  using internal::DivisionMethod;
  std::vector<const internal::KernelTable*> t;
  for (const DivisionMethod m : {DivisionMethod::kDivide, DivisionMethod::kCheckedReciprocal}) {
    if (internal::CpuHasAvx2()) t.push_back(&internal::Avx2Kernels(m));
    if (internal::CpuHasAvx512()) t.push_back(&internal::Avx512Kernels(m));
  }
  return t;
}

// The scales the reciprocal-pair proof and the checked reciprocal cover: RandomScales' subnormal
// entries replaced.
QParams InPairRange(QParams qp) {
  for (float& s : qp.scale) s = s < 0x1p-60f ? 0.37f : s;
  return qp;
}

// Every table in `tables` (with `pairs` when given; and PreparedQParams when `prepared`) against
// the reference, bit for bit (NaN payloads aside), once per entry of `masks` (with the STE mask
// or without); returns the elements compared.
size_t CheckAgainstReference(const QuantKernel& k, const BlockLayout& layout, const QParams& qp,
                             const std::vector<float>& x,
                             const std::vector<const internal::KernelTable*>& tables,
                             std::initializer_list<bool> masks,
                             const internal::BlockPairs* pairs = nullptr, bool prepared = false) {
  const size_t n = x.size();
  std::vector<float> ref(n), fast(n);
  std::vector<uint8_t> ref_mask(n), fast_mask(n);
  FakeQuantizeReference(k, layout, qp, x, ref, ref_mask);
  auto compare = [&](const char* what, bool with_mask) {
    size_t where = 0;
    const bool same = SameBitsOrBothNan(ref, fast, &where);
    INFO(what << ", mask " << with_mask << ", fp " << k.floating << ", qmin " << k.qmin
              << ", formulation " << QFormulationName(k.formulation) << ", index " << where
              << " x=" << std::hexfloat << x[where] << " ref=" << ref[where]
              << " fast=" << fast[where]);
    CHECK(same);
    if (with_mask) CHECK(ref_mask == fast_mask);
  };
  // A sentinel before every call, so that an element a kernel fails to write shows.
  auto reset = [&] {
    std::fill(fast.begin(), fast.end(), 12345.0f);
    std::fill(fast_mask.begin(), fast_mask.end(), uint8_t{2});
  };
  for (const bool with_mask : masks) {
    const std::span<uint8_t> m = with_mask ? std::span<uint8_t>(fast_mask) : std::span<uint8_t>();
    for (const internal::KernelTable* kt : tables) {
      reset();
      internal::FakeQuantizeWith(*kt, k, layout, qp, x, fast, m, pairs);
      compare(kt->name, with_mask);
    }
    if (prepared) {
      reset();
      FakeQuantize(k, layout, PreparedQParams(k, qp), x, fast, m);
      compare("PreparedQParams", with_mask);
    }
  }
  return n;
}

// Integer kernels with reciprocal pairs (every pair table, and PreparedQParams) against the
// reference, with and without the STE mask; returns the elements compared.
size_t CheckPairsAgainstReference(const QuantKernel& k, const BlockLayout& layout,
                                  const QParams& qp, const std::vector<float>& x) {
  std::vector<float> zh, zl;
  const int64_t proven = internal::MakeBlockPairs(k, qp, &zh, &zl);
  REQUIRE(proven == static_cast<int64_t>(qp.scale.size()));
  const internal::BlockPairs pairs{zh.data(), zl.data(), true};
  return CheckAgainstReference(k, layout, qp, x, PairTables(), {false, true}, &pairs, true);
}

TEST_CASE("reference and vectorized path agree bit for bit", "[numerics][random]") {
  struct LayoutCase {
    std::vector<int64_t> shape;
    Granularity g;
  };
  const std::vector<LayoutCase> layouts = {
      {{1037}, Granularity{}},
      {{7, 5, 3}, Granularity{}},
      {{6, 4, 6}, PerChannel(0)},
      {{2, 6, 12}, PerChannel(1)},
      {{4, 6, 6}, PerChannel(-1)},
      {{3, 37}, PerChannel(-1)},
      {{5, 3, 9}, PerChannel(2)},
      {{1, 4100}, PerChannel(1)},
      {{64, 33}, PerChannel(0)},
      {{9, 47}, PerChannel(0)},  // runs of 47: two 16-lane vectors and a masked tail of 15
      {{5, 24}, PerChannel(0)},
      {{3, 100}, PerBlock(1, 20)},
      {{40, 16}, PerChannel(0)},     // 16-element runs, 16 at a time (AVX-512 ranges)
      {{3, 640}, PerBlock(1, 32)},   // 32-element runs: a group of 16 and a remainder per row
      {{6, 16}, PerBlock(0, 2)},
      {{6, 16}, PerBlock(1, 4)},
      {{6, 64}, PerBlock(1, 32)},
      {{8, 16, 3, 3}, PerBlock(1, 8)},
      {{8, 16, 3, 3}, PerBlock(0, 4)},
      {{4, 6, 10}, PerBlockTuple({2, -1, 5})},
      {{4, 6, 10}, PerBlockTuple({1, 3, -1})},
      {{4, 6, 10}, PerBlockTuple({-1, 1, 1})},
  };
  std::mt19937_64 rng(7);
  std::vector<QuantKernel> kernels;
  for (Dtype d :
       {Dtype::kInt8, Dtype::kInt4, Dtype::kInt2, Dtype::kUint8, Dtype::kUint4, Dtype::kUint2}) {
    for (QScheme q : {QScheme::kSymmetric, QScheme::kSymmetricWithClipping}) {
      const IntRange r = QuantRange(d, q);
      kernels.push_back(QuantKernel::Integer(r.qmin, r.qmax, QFormulation::kZp));
      kernels.push_back(QuantKernel::Integer(r.qmin, r.qmax, QFormulation::kMinval));
    }
  }
  for (Dtype d : {Dtype::kFloat8E4m3fn, Dtype::kFloat8E5m2, Dtype::kFloat4E2m1fnX2}) {
    kernels.push_back(QuantKernel::Floating(d));
  }
  size_t compared = 0;
  for (const LayoutCase& lc : layouts) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(lc.shape, lc.g, &layout).ok());
    const auto n = static_cast<size_t>(layout.numel());
    const auto blocks = static_cast<size_t>(layout.num_blocks());
    for (const QuantKernel& k : kernels) {
      for (int rep = 0; rep < 3; ++rep) {
        const QParams qp = RandomQParams(rng, k, blocks);
        const std::vector<float> x = AdversarialData(rng, n, qp.scale);
        INFO("shape rank " << lc.shape.size());
        CheckAgainstReference(k, layout, qp, x, AllTables(), {true});
        if (!k.floating) {
          // Scales the pairs and the checked reciprocal cover in every block (RandomScales'
          // subnormal entries would send whole rows and chunks to division): the checked
          // tables' own kernels, with and without the STE mask, then the pairs.
          const QParams in_range = InPairRange(qp);
          const std::vector<float> x_in_range = AdversarialData(rng, n, in_range.scale);
          compared += CheckAgainstReference(k, layout, in_range, x_in_range, AllTables(),
                                            {false, true});
          compared += CheckPairsAgainstReference(k, layout, in_range, x_in_range);
        }
        // Ranges: the vectorized reduction against the reference.
        size_t where = 0;
        const BlockRange rr = ComputeRangeReference(layout, x);
        const BlockRange fr = ComputeRange(layout, x);
        CHECK(SameBitsOrBothNan(rr.min, fr.min, &where));
        CHECK(SameBitsOrBothNan(rr.max, fr.max, &where));
        compared += n;
      }
    }
  }
  CHECK(compared > 100000);
}

// --- FP rounding
// -----------------------------------------------------------------------------------

TEST_CASE("FP format rounding: one round-to-nearest-even from float32", "[numerics]") {
  // e2m1 values 0, 0.5, 1, 1.5, 2, 3, 4, 6; midpoints go to the even encoding.
  const Dtype fp4 = Dtype::kFloat4E2m1fnX2;
  CHECK(RoundToFloatFormat(fp4, 0.25f) == 0.0f);  // tie 0 / 0.5 -> 0 (even)
  CHECK(RoundToFloatFormat(fp4, 0.75f) == 1.0f);  // tie 0.5 / 1 -> 1 (even)
  CHECK(RoundToFloatFormat(fp4, 1.25f) == 1.0f);  // tie 1 / 1.5 -> 1
  CHECK(RoundToFloatFormat(fp4, 1.75f) == 2.0f);  // tie 1.5 / 2 -> 2
  CHECK(RoundToFloatFormat(fp4, 2.5f) == 2.0f);   // tie 2 / 3 -> 2
  CHECK(RoundToFloatFormat(fp4, 3.5f) == 4.0f);   // tie 3 / 4 -> 4
  CHECK(RoundToFloatFormat(fp4, 5.0f) == 4.0f);   // tie 4 / 6 -> 4
  CHECK(RoundToFloatFormat(fp4, 5.0001f) == 6.0f);
  CHECK(BitsOf(RoundToFloatFormat(fp4, -0.1f)) == 0x80000000u);  // small negatives give -0.0
  // e4m3fn: subnormal step 2^-9, max 448 = 1.75 * 2^8; 3 mantissa bits.
  const Dtype e4m3 = Dtype::kFloat8E4m3fn;
  CHECK(RoundToFloatFormat(e4m3, 0x1p-10f) == 0.0f);  // half the smallest subnormal
  CHECK(RoundToFloatFormat(e4m3, 0x1.8p-10f) == 0x1p-9f);
  CHECK(RoundToFloatFormat(e4m3, 0x1.1p0f) == 1.0f);
  CHECK(RoundToFloatFormat(e4m3, 0x1.3p0f) == 0x1.4p0f);  // tie 1.125/1.25 -> 1.25 (even)
  CHECK(RoundToFloatFormat(e4m3, 440.0f) == 448.0f);
  // e5m2: subnormal step 2^-16, 2 mantissa bits.
  CHECK(RoundToFloatFormat(Dtype::kFloat8E5m2, 0x1.5p0f) == 0x1.4p0f);
  CHECK(RoundToFloatFormat(Dtype::kFloat8E5m2, 0x1.8p-17f) == 0x1p-16f);
  // Vectorized rounding on every float32 up to fp_max (step through the bit patterns).
  for (Dtype d : {Dtype::kFloat8E4m3fn, Dtype::kFloat8E5m2, Dtype::kFloat4E2m1fnX2}) {
    const internal::FloatFormat f = {d == Dtype::kFloat4E2m1fnX2 ? 1
                                     : d == Dtype::kFloat8E4m3fn ? 3
                                                                 : 2,
                                     d == Dtype::kFloat4E2m1fnX2 ? 0
                                     : d == Dtype::kFloat8E4m3fn ? -6
                                                                 : -14};
    size_t bad = 0;
    for (uint32_t b = 0; b <= BitsOf(FloatMax(d)); b += 7) {
      const float r = FloatFromBits(b);
      const float want = RoundToFloatFormat(d, r);
      bad +=
          BitsOf(internal::FastRoundToFormat(r, static_cast<uint32_t>(f.min_exponent + 127),
                                           static_cast<uint32_t>(f.mantissa_bits))) != BitsOf(want);
      bad +=
          BitsOf(internal::FastRoundToFormat(-r, static_cast<uint32_t>(f.min_exponent + 127),
                                           static_cast<uint32_t>(f.mantissa_bits))) != BitsOf(-want);
    }
    CHECK(bad == 0);
  }
}

// --- layouts
// ---------------------------------------------------------------------------------------

TEST_CASE("block layouts (c.5)", "[numerics][layout]") {
  BlockLayout l;
  const std::vector<int64_t> w = {32, 16, 3, 3};
  REQUIRE(MakeBlockLayout(w, Granularity{}, &l).ok());
  CHECK(l.block_shape == w);
  CHECK(l.qparam_shape == std::vector<int64_t>{1, 1, 1, 1});
  REQUIRE(MakeBlockLayout(w, PerChannel(0), &l).ok());
  CHECK(l.block_shape == std::vector<int64_t>{1, 16, 3, 3});
  CHECK(l.qparam_shape == std::vector<int64_t>{32, 1, 1, 1});
  REQUIRE(MakeBlockLayout(w, PerChannel(-3), &l).ok());
  CHECK(l.block_shape == std::vector<int64_t>{32, 1, 3, 3});
  // The example of c.5: [C_out, C_in, KH, KW], axis 1, b 8 -> (1, 8, KH, KW).
  REQUIRE(MakeBlockLayout(w, PerBlock(1, 8), &l).ok());
  CHECK(l.block_shape == std::vector<int64_t>{1, 8, 3, 3});
  CHECK(l.qparam_shape == std::vector<int64_t>{32, 2, 1, 1});
  CHECK(l.BlockOf(0) == 0);
  CHECK(l.BlockOf(8 * 9) == 1);   // [0, 8, 0, 0]
  CHECK(l.BlockOf(16 * 9) == 2);  // [1, 0, 0, 0]
  REQUIRE(MakeBlockLayout(w, PerBlock(0, 4), &l).ok());
  CHECK(l.block_shape == std::vector<int64_t>{4, 1, 3, 3});
  REQUIRE(MakeBlockLayout(w, PerBlockTuple({8, -1, 1, 3}), &l).ok());
  CHECK(l.block_shape == std::vector<int64_t>{8, 16, 1, 3});
  CHECK(l.qparam_shape == std::vector<int64_t>{4, 1, 3, 1});
}

TEST_CASE("block layout errors are statuses", "[numerics][layout]") {
  BlockLayout l;
  const std::vector<int64_t> s3 = {4, 6, 8};
  NumericsStatus st = MakeBlockLayout(s3, PerChannel(3), &l);
  CHECK(st.code == NumericsError::kAxisOutOfRange);
  CHECK(st.message ==
        "axis 3 is out of bounds for tensor of rank 3. Allowed axis range is [-3, 3)");
  CHECK(MakeBlockLayout(s3, PerChannel(-4), &l).code == NumericsError::kAxisOutOfRange);
  Granularity unresolved;
  unresolved.kind = GranularityKind::kPerChannel;
  st = MakeBlockLayout(s3, unresolved, &l);
  CHECK(st.code == NumericsError::kAxisUnresolved);
  CHECK(st.message == "axis is None and was not resolved");
  Granularity block_no_axis = PerBlock(0, 2);
  block_no_axis.axis.reset();
  st = MakeBlockLayout(s3, block_no_axis, &l);
  CHECK(st.code == NumericsError::kAxisUnresolved);
  CHECK(st.message == "axis must be specified when block_size is an int");
  st = MakeBlockLayout(s3, PerBlock(1, 4), &l);
  CHECK(st.code == NumericsError::kBlockSizeMismatch);
  CHECK(NumericsErrorId(st.code) == "block-size-mismatch");
  CHECK(MakeBlockLayout(s3, PerBlock(0, 3), &l).code == NumericsError::kBlockSizeMismatch);
  CHECK(MakeBlockLayout(s3, PerBlock(0, 8), &l).code == NumericsError::kBlockSizeMismatch);
  CHECK(MakeBlockLayout(s3, PerBlock(2, 2), &l).code == NumericsError::kBlockAxisInvalid);
  CHECK(MakeBlockLayout(s3, PerBlock(0, 0), &l).code == NumericsError::kBlockSizeInvalid);
  const std::vector<int64_t> s1 = {8};
  CHECK(MakeBlockLayout(s1, PerBlock(1, 2), &l).code == NumericsError::kAxisOutOfRange);
  CHECK(MakeBlockLayout(s3, PerBlockTuple({2, -1}), &l).code == NumericsError::kBlockTupleRank);
  CHECK(MakeBlockLayout(s3, PerBlockTuple({2, -1, 3}), &l).code ==
        NumericsError::kBlockSizeMismatch);
  CHECK(MakeBlockLayout(s3, PerBlockTuple({2, 0, 1}), &l).code == NumericsError::kBlockSizeInvalid);
  Granularity tuple_axis = PerBlockTuple({2, -1, 4});
  tuple_axis.axis = 0;
  CHECK(MakeBlockLayout(s3, tuple_axis, &l).code == NumericsError::kBlockAxisInvalid);
  // An error leaves the layout alone.
  REQUIRE(MakeBlockLayout(s3, PerChannel(1), &l).ok());
  CHECK(!MakeBlockLayout(s3, PerChannel(5), &l).ok());
  CHECK(l.block_shape == std::vector<int64_t>{4, 1, 8});
}

// --- qparams by hand (c.4, c.6, c.8)
// ----------------------------------------------------------------

QuantizationSpec Spec(Dtype d, QScheme q) {
  QuantizationSpec s;
  s.dtype = d;
  s.qscheme = q;
  return s;
}

TEST_CASE("qparams and the numeric consequences of c.8", "[numerics]") {
  const BlockLayout layout = BlockLayout::PerTensor({4});
  // int8 symmetric with max_abs 127.5: scale = 127.5 / 127.5 = 1.  -max_abs is the tie -127.5,
  // which rounds (half to even) to -128; +max_abs maps to 127.5 -> 128, clamped to 127, so the
  // output is 127 = 0.99608 * max_abs.
  const std::vector<float> x = {-127.5f, 0.5f, 1.5f, 127.5f};
  const BlockRange r = ComputeRange(layout, x);
  CHECK(r.min[0] == -127.5f);
  CHECK(r.max[0] == 127.5f);
  QuantizationSpec sym = Spec(Dtype::kInt8, QScheme::kSymmetric);
  QParams qp = ComputeQParams(sym, r);
  CHECK(qp.scale[0] == 1.0f);
  CHECK(qp.zero_point[0] == 0);
  CHECK(qp.minval[0] == -127.5f);
  std::vector<float> y(4);
  FakeQuantize(QuantKernel::ForSpec(sym), layout, qp, x, y);
  CHECK(y == std::vector<float>{-128.0f, 0.0f, 2.0f, 127.0f});  // 0.5 -> 0, 1.5 -> 2 (even)
  // MINVAL: (x - minval) / scale + qmin = x + 127.5 - 128, i.e. codes -128, -0.5 -> ...
  FakeQuantize(QuantKernel::Integer(-128, 127, QFormulation::kMinval), layout, qp, x, y);
  // x - minval = 0, 128, 129, 255 -> + qmin: -128, 0, 1, 127 -> y = (r + 128) * 1 - 127.5.
  CHECK(y == std::vector<float>{-127.5f, 0.5f, 1.5f, 127.5f});
  // symmetric_with_clipping with max_abs 127: scale 1, ±max_abs reproduced exactly.
  QuantizationSpec clip = Spec(Dtype::kInt8, QScheme::kSymmetricWithClipping);
  const std::vector<float> xc = {-127.0f, 3.0f, -0.4f, 127.0f};
  qp = ComputeQParams(clip, ComputeRange(layout, xc));
  CHECK(qp.scale[0] == 1.0f);
  FakeQuantize(QuantKernel::ForSpec(clip), layout, qp, xc, y);
  CHECK(y == std::vector<float>{-127.0f, 3.0f, 0.0f, 127.0f});
  CHECK(BitsOf(y[2]) == 0u);  // the integer kernel never outputs -0.0
  // uint4 symmetric: zero point 8, denominator 7.5.
  qp = ComputeQParams(Spec(Dtype::kUint4, QScheme::kSymmetric), r);
  CHECK(qp.zero_point[0] == 8);
  CHECK(qp.scale[0] == 127.5f / 7.5f);
  // All zeros: scale = eps, asymmetric zp = qmin; minval of a symmetric all-zero block is -0.0.
  const std::vector<float> zeros(4, 0.0f);
  const BlockRange rz = ComputeRange(layout, zeros);
  qp = ComputeQParams(Spec(Dtype::kUint8, QScheme::kAsymmetric), rz);
  CHECK(qp.scale[0] == 0x1p-23f);
  CHECK(qp.zero_point[0] == 0);
  qp = ComputeQParams(Spec(Dtype::kInt4, QScheme::kAsymmetric), rz);
  CHECK(qp.zero_point[0] == -8);
  qp = ComputeQParams(Spec(Dtype::kInt8, QScheme::kSymmetric), rz);
  CHECK(BitsOf(qp.minval[0]) == 0x80000000u);
  // Asymmetric: [-1, 3] in uint8: scale 4/255, zp = 0 - round(-1 / scale) = round(63.75) = 64.
  const std::vector<float> a = {-1.0f, 3.0f};
  const BlockRange ra = ComputeRange(BlockLayout::PerTensor({2}), a);
  qp = ComputeQParams(Spec(Dtype::kUint8, QScheme::kAsymmetric), ra);
  CHECK(qp.scale[0] == 4.0f / 255.0f);
  CHECK(qp.zero_point[0] == 64);
  CHECK(qp.minval[0] == -1.0f);
  // The range always holds 0: positive-only data gives min +0.0.
  const BlockRange rp = ComputeRange(BlockLayout::PerTensor({2}), std::vector<float>{1.0f, 3.0f});
  CHECK(BitsOf(rp.min[0]) == 0u);
  // float_range replaces the observed bound, then min(., 0).
  const BlockRange rf = ComputeRange(BlockLayout::PerTensor({2}), a, 0.5f, std::nullopt);
  CHECK(BitsOf(rf.min[0]) == 0u);
  CHECK(rf.max[0] == 3.0f);
}

TEST_CASE("e8m0 scales: FLOOR mode, and values beyond fp_max clip", "[numerics]") {
  // FP4 block max 7.9: e = 2, e_s = 0, scale 1; 7.9 / 1 clips to 6.
  QuantizationSpec fp4 = Spec(Dtype::kFloat4E2m1fnX2, QScheme::kSymmetric);
  CHECK(fp4.EffectiveScaleDtype() == ScaleDtype::kFloat8E8m0fnu);
  const std::vector<float> x = {7.9f, -1.2f, 0.3f, 2.6f};
  const BlockLayout layout = BlockLayout::PerTensor({4});
  const QParams qp = ComputeQParams(fp4, ComputeRange(layout, x));
  CHECK(qp.scale[0] == 1.0f);
  std::vector<float> y(4);
  std::vector<uint8_t> mask(4);
  FakeQuantize(QuantKernel::ForSpec(fp4), layout, qp, x, y, mask);
  CHECK(y == std::vector<float>{6.0f, -1.0f, 0.5f, 3.0f});
  CHECK(mask == std::vector<uint8_t>{0, 1, 1, 1});
  // All zeros: 2^-126.
  const std::vector<float> z(4, 0.0f);
  CHECK(ComputeQParams(fp4, ComputeRange(layout, z)).scale[0] == 0x1p-126f);
  // e4m3 with e8m0: t = 8; max 448 -> e 8 -> 2^0.  e5m2 none: max / 57344.
  QuantizationSpec e4 = Spec(Dtype::kFloat8E4m3fn, QScheme::kSymmetric);
  e4.scale_dtype = ScaleDtype::kFloat8E8m0fnu;
  const std::vector<float> big = {448.0f, -3.0f};
  CHECK(ComputeQParams(e4, ComputeRange(BlockLayout::PerTensor({2}), big)).scale[0] == 1.0f);
  QuantizationSpec e5 = Spec(Dtype::kFloat8E5m2, QScheme::kSymmetric);
  CHECK(ComputeQParams(e5, ComputeRange(BlockLayout::PerTensor({2}), big)).scale[0] ==
        448.0f / 57344.0f);
}

TEST_CASE("STE mask: 1 where the pre-clamp code lies in [qmin, qmax]", "[numerics]") {
  const BlockLayout layout = BlockLayout::PerTensor({6});
  QParams qp;
  qp.scale = {1.0f};
  qp.zero_point = {0};
  qp.minval = {0.0f};
  const std::vector<float> x = {-128.4f, -128.6f, 127.4f, 127.6f, NAN, 3.0f};
  std::vector<float> y(6), yr(6);
  std::vector<uint8_t> m(6), mr(6);
  const QuantKernel k = QuantKernel::Integer(-128, 127, QFormulation::kZp);
  FakeQuantize(k, layout, qp, x, y, m);
  FakeQuantizeReference(k, layout, qp, x, yr, mr);
  CHECK(m == std::vector<uint8_t>{1, 0, 1, 0, 0, 1});
  CHECK(mr == m);
  CHECK(y[1] == -128.0f);
  CHECK(y[3] == 127.0f);
  CHECK(std::isnan(y[4]));
}

TEST_CASE("non-finite data in qparams (nonfinite.md tables)", "[numerics]") {
  const BlockLayout layout = BlockLayout::PerTensor({4});
  const std::vector<float> x = {1.0f, 2.0f, INFINITY, -3.0f};
  const BlockRange r = ComputeRange(layout, x);
  QParams qp = ComputeQParams(Spec(Dtype::kInt8, QScheme::kAsymmetric), r);
  CHECK(std::isinf(qp.scale[0]));
  CHECK(qp.zero_point[0] == -128);
  QuantizationSpec fp4 = Spec(Dtype::kFloat4E2m1fnX2, QScheme::kSymmetric);
  qp = ComputeQParams(fp4, r);
  CHECK(qp.scale[0] == 0x1p126f);
  std::vector<float> y(4);
  FakeQuantize(QuantKernel::ForSpec(fp4), layout, qp, x, y);
  CHECK(BitsOf(y[0]) == 0u);
  CHECK(y[2] == INFINITY);
  CHECK(BitsOf(y[3]) == 0x80000000u);
  // NaN in a block: range NaN; asymmetric zero point INT32_MIN.
  const std::vector<float> n = {1.0f, NAN, -2.0f};
  const BlockRange rn = ComputeRange(BlockLayout::PerTensor({3}), n);
  CHECK(std::isnan(rn.min[0]));
  CHECK(std::isnan(rn.max[0]));
  qp = ComputeQParams(Spec(Dtype::kInt8, QScheme::kAsymmetric), rn);
  CHECK(std::isnan(qp.scale[0]));
  CHECK(qp.zero_point[0] == INT32_MIN);
  // [-inf, 0.5, 2]: asymmetric ZP outputs [nan, inf, inf].
  const std::vector<float> m = {-INFINITY, 0.5f, 2.0f};
  const BlockLayout l3 = BlockLayout::PerTensor({3});
  qp = ComputeQParams(Spec(Dtype::kInt8, QScheme::kAsymmetric), ComputeRange(l3, m));
  CHECK(qp.zero_point[0] == INT32_MIN);
  std::vector<float> ym(3), ymr(3);
  FakeQuantize(QuantKernel::Integer(-128, 127, QFormulation::kZp), l3, qp, m, ym);
  FakeQuantizeReference(QuantKernel::Integer(-128, 127, QFormulation::kZp), l3, qp, m, ymr);
  CHECK(std::isnan(ym[0]));
  CHECK(ym[1] == INFINITY);
  CHECK(ym[2] == INFINITY);
  CHECK(std::isnan(ymr[0]));
  CHECK(ymr[1] == INFINITY);
}

// --- config.h numerics functions ----------------------------------------------------------------

TEST_CASE("dtype names, parsing and ranges (c.1)", "[numerics][dtype]") {
  const std::vector<std::string_view> names = {"int8",          "int4",        "int2",
                                               "uint8",         "uint4",       "uint2",
                                               "float8_e4m3fn", "float8_e5m2", "float4_e2m1fn_x2"};
  CHECK(AllDtypeNames() == names);
  for (std::string_view n : names) CHECK(DtypeName(*ParseDtype(n)) == n);
  CHECK(ParseDtype("float4_e2m1fn") == Dtype::kFloat4E2m1fnX2);
  CHECK(ParseDtype("float8_e4m3") == Dtype::kFloat8E4m3fn);
  CHECK(!ParseDtype("int9"));
  for (std::string_view n : {"symmetric", "symmetric_with_clipping", "asymmetric"}) {
    CHECK(QSchemeName(*ParseQScheme(n)) == n);
  }
  for (std::string_view n : {"zp", "minval"}) CHECK(QFormulationName(*ParseQFormulation(n)) == n);
  for (std::string_view n : {"per_tensor", "per_channel", "per_block"}) {
    CHECK(GranularityName(*ParseGranularity(n)) == n);
  }
  for (std::string_view n : {"default", "static", "moving_average", "global_minmax"}) {
    CHECK(QParamsName(*ParseQParams(n)) == n);
  }
  for (std::string_view n : {"none", "float8_e8m0fnu"}) {
    CHECK(ScaleDtypeName(*ParseScaleDtype(n)) == n);
  }
  CHECK(!ParseQScheme("sym"));
  struct Row {
    Dtype d;
    int bits;
    int32_t lo, hi, clip_lo, clip_hi;
  };
  for (const Row& r :
       {Row{Dtype::kInt8, 8, -128, 127, -127, 127}, Row{Dtype::kInt4, 4, -8, 7, -7, 7},
        Row{Dtype::kInt2, 2, -2, 1, -1, 1}, Row{Dtype::kUint8, 8, 0, 255, 0, 255},
        Row{Dtype::kUint4, 4, 0, 15, 0, 15}, Row{Dtype::kUint2, 2, 0, 3, 0, 3}}) {
    CHECK(DtypeBits(r.d) == r.bits);
    CHECK(!IsFloatingDtype(r.d));
    CHECK(QuantRange(r.d, QScheme::kSymmetric).qmin == r.lo);
    CHECK(QuantRange(r.d, QScheme::kAsymmetric).qmax == r.hi);
    CHECK(QuantRange(r.d, QScheme::kSymmetricWithClipping).qmin == r.clip_lo);
    CHECK(QuantRange(r.d, QScheme::kSymmetricWithClipping).qmax == r.clip_hi);
  }
  CHECK(FloatMax(Dtype::kFloat8E4m3fn) == 448.0f);
  CHECK(FloatMax(Dtype::kFloat8E5m2) == 57344.0f);
  CHECK(FloatMax(Dtype::kFloat4E2m1fnX2) == 6.0f);
  CHECK(DtypeBits(Dtype::kFloat4E2m1fnX2) == 4);
  CHECK(IsFloatingDtype(Dtype::kFloat8E5m2));
  // c.9 defaults.
  const QuantizationSpec w = DefaultWeightSpec();
  CHECK(w.granularity.kind == GranularityKind::kPerChannel);
  CHECK(w.granularity.axis == 0);
  CHECK(w.EffectiveQParams(true) == QParamsKind::kStatic);
  const QuantizationSpec a = DefaultActivationSpec();
  CHECK(a.granularity.kind == GranularityKind::kPerTensor);
  CHECK(a.EffectiveQParams(false) == QParamsKind::kMovingAverage);
  QuantizationSpec bare;
  CHECK(bare.EffectiveQParams(true) == QParamsKind::kStatic);
  CHECK(bare.EffectiveQParams(false) == QParamsKind::kMovingAverage);
  CHECK(!bare.SameNumerics(w));
  QuantizationSpec named = w;
  named.name = "w8";
  CHECK(named.SameNumerics(w));
}

}  // namespace
}  // namespace qrules

namespace qrules {
namespace {

// The vectorized static qparams (fused observe + quantize) against the reference's steps:
// ClampRangeMin/Max over the observed (or float_range) bounds, then BlockQParams.
TEST_CASE("vectorized integer qparams equal the reference's", "[numerics]") {
  std::mt19937_64 rng(17);
  const std::vector<float> specials = {0.0f, -0.0f, std::numeric_limits<float>::infinity(),
                                       -std::numeric_limits<float>::infinity(), 0x1p-130f,
                                       -0x1p-126f, 3e38f, -3e38f, 1e-30f};
  std::normal_distribution<float> normal(0.0f, 3.0f);
  auto value = [&] {
    const uint64_t k = rng() % 8;
    return k == 0 ? specials[rng() % specials.size()] : normal(rng);
  };
  const size_t n = 203;  // full vectors and a tail on every ISA
  for (Dtype d : {Dtype::kInt8, Dtype::kUint4, Dtype::kInt2}) {
    for (QScheme q : {QScheme::kAsymmetric, QScheme::kSymmetric, QScheme::kSymmetricWithClipping}) {
      for (int bounds = 0; bounds < 4; ++bounds) {
        QuantizationSpec spec;
        spec.dtype = d;
        spec.qscheme = q;
        if (bounds & 1) spec.float_range_min = -1.5f;
        if (bounds & 2) spec.float_range_max = 0.75f;
        std::vector<float> mn(n), mx(n);
        std::vector<uint8_t> nan(n);
        for (size_t b = 0; b < n; ++b) {
          mn[b] = value();
          mx[b] = value();
          nan[b] = (rng() % 9) == 0 ? 1 : 0;
        }
        // Expected: the reference.
        std::vector<float> lo(n), hi(n), scale(n), minval(n);
        std::vector<int32_t> zp(n);
        const float qnan = std::numeric_limits<float>::quiet_NaN();
        for (size_t b = 0; b < n; ++b) {
          lo[b] = internal::ClampRangeMin(spec.float_range_min ? *spec.float_range_min
                                          : nan[b]             ? qnan
                                                               : mn[b]);
          hi[b] = internal::ClampRangeMax(spec.float_range_max ? *spec.float_range_max
                                          : nan[b]             ? qnan
                                                               : mx[b]);
        }
        internal::BlockQParams(spec, lo.data(), hi.data(), n, scale.data(), zp.data(),
                               minval.data());
        const internal::IntQParamsArgs a = internal::IntQParamsArgsFor(spec);
        for (const internal::KernelTable* kt : AllTables()) {
          std::vector<float> lo2 = mn, hi2 = mx, scale2(n), minval2(n);
          std::vector<int32_t> zp2(n);
          kt->int_qparams(a, static_cast<int64_t>(n), lo2.data(), hi2.data(), nan.data(),
                          scale2.data(), zp2.data(), minval2.data());
          INFO("kernels " << kt->name << ", dtype " << static_cast<int>(d) << ", qscheme "
                          << static_cast<int>(q) << ", bounds " << bounds);
          size_t where = 0;
          CHECK(SameBitsOrBothNan(lo, lo2, &where));
          CHECK(SameBitsOrBothNan(hi, hi2, &where));
          CHECK(SameBitsOrBothNan(scale, scale2, &where));
          CHECK(SameBitsOrBothNan(minval, minval2, &where));
          CHECK(zp == zp2);
        }
      }
    }
  }
}

// Tensors beyond kColsMaxElements (2^18) walk per-column qparams row by row, and rows of 16, 32,
// 48 or 64 columns keep every qparam vector in registers: both paths against the reference.
TEST_CASE("large tensors with per-channel qparams on the last axis", "[numerics]") {
  std::mt19937_64 rng(11);
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{4200, 64}, std::vector<int64_t>{8200, 32},
        std::vector<int64_t>{2100, 130}, std::vector<int64_t>{5600, 48}}) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(shape, PerChannel(-1), &layout).ok());
    REQUIRE(layout.numel() > (int64_t{1} << 18));
    const auto n = static_cast<size_t>(layout.numel());
    const auto blocks = static_cast<size_t>(layout.num_blocks());
    const std::vector<QuantKernel> kernels = {
        QuantKernel::Integer(-128, 127, QFormulation::kZp),
        QuantKernel::Integer(0, 15, QFormulation::kMinval),
        QuantKernel::Floating(Dtype::kFloat8E4m3fn)};
    for (const QuantKernel& k : kernels) {
      const QParams qp = RandomQParams(rng, k, blocks);
      const std::vector<float> x = AdversarialData(rng, n, qp.scale);
      INFO("columns " << shape[1]);
      CheckAgainstReference(k, layout, qp, x, AllTables(), {false, true});
      if (!k.floating) {
        const QParams in_range = InPairRange(qp);
        CheckPairsAgainstReference(k, layout, in_range, AdversarialData(rng, n, in_range.scale));
      }
    }
  }
}

TEST_CASE("zero points too large for the folded kernel take the literal path", "[numerics]") {
  std::mt19937_64 rng(3);
  // Every kernel table against the reference, ZP int8, scale 0.1, the given zero points.
  auto check = [&](const BlockLayout& layout, const std::function<int32_t(int64_t)>& zero_point) {
    QParams qp;
    for (int64_t b = 0; b < layout.num_blocks(); ++b) {
      qp.scale.push_back(0.1f);
      qp.zero_point.push_back(zero_point(b));
      qp.minval.push_back(-1.0f);
    }
    const std::vector<float> x = AdversarialData(rng, static_cast<size_t>(layout.numel()), {0.1f});
    INFO("blocks " << layout.num_blocks());
    CheckAgainstReference(QuantKernel::Integer(-128, 127, QFormulation::kZp), layout, qp, x,
                          AllTables(), {true});
  };
  // Runs of 16 and 32 (the fixed-run kernels check each chunk of 256 runs as they convert it):
  // 300 channels, so one chunk holds huge zero points and the other does not.
  for (const int64_t run : {16, 32}) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(std::vector<int64_t>{300, run}, PerChannel(0), &layout).ok());
    check(layout, [](int64_t b) {
      return b == 270 ? INT32_MIN : b == 271 ? 3000001 : static_cast<int32_t>(b % 7) - 3;
    });
  }
  // Per-tensor, and per-channel on the last axis.
  for (const std::vector<int64_t>& shape :
       {std::vector<int64_t>{3, 40}, std::vector<int64_t>{40, 3}}) {
    BlockLayout layout;
    REQUIRE(MakeBlockLayout(shape, shape[1] == 40 ? Granularity{} : PerChannel(-1), &layout).ok());
    check(layout, [](int64_t b) { return b % 2 ? 3000001 : INT32_MIN; });
  }
}

}  // namespace
}  // namespace qrules
