// Golden vectors (tests/data/golden, generated from PyTorch float32 ops and re-derived by an
// independent NumPy implementation): both the scalar reference and the vectorized path must
// reproduce every value bit for bit.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "qrules/fake_quant.h"
#include "qrules/observer.h"
#include "unit/numerics_golden_reader.h"

namespace qrules {
namespace {

using testing::BitsOf;
using testing::GoldenCase;
using testing::ReadGoldenFile;

std::string GoldenPath(const char* file) {
  return std::string(QRULES_TEST_DATA_DIR "/golden/") + file;
}

// Number of elements whose bits differ; the first difference goes into `where`.
size_t BitMismatches(const std::vector<float>& got, const std::vector<float>& want,
                     std::string* where) {
  if (got.size() != want.size()) {
    *where = "size " + std::to_string(got.size()) + " vs " + std::to_string(want.size());
    return std::max(got.size(), want.size());
  }
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    if (BitsOf(got[i]) != BitsOf(want[i])) {
      if (bad++ == 0) {
        std::ostringstream os;
        os << "index " << i << ": got " << std::hex << BitsOf(got[i]) << " (" << got[i] << ") want "
           << BitsOf(want[i]) << " (" << want[i] << ")";
        *where = os.str();
      }
    }
  }
  return bad;
}

#define CHECK_BITS(got, want)                                  \
  do {                                                         \
    std::string where_;                                        \
    const size_t bad_ = BitMismatches((got), (want), &where_); \
    INFO(#got << " vs " << #want << ": " << where_);           \
    CHECK(bad_ == 0);                                          \
  } while (0)

std::vector<float> ToFloat(const std::vector<int64_t>& v) {
  return std::vector<float>(v.begin(), v.end());
}
std::vector<int64_t> ToInt64(const std::vector<int32_t>& v) {
  return std::vector<int64_t>(v.begin(), v.end());
}

Granularity GranularityOf(const GoldenCase& c) {
  Granularity g;
  const std::string kind = c.Word("granularity");
  g.kind = *ParseGranularity(kind);
  if (g.kind != GranularityKind::kPerTensor) g.axis = c.Int("axis");
  if (g.kind == GranularityKind::kPerBlock) g.block_size = {c.Int("block_size")};
  return g;
}

BlockLayout LayoutOf(const GoldenCase& c) {
  BlockLayout layout;
  const std::vector<int64_t> shape = c.Shape("shape");
  const NumericsStatus st = MakeBlockLayout(shape, GranularityOf(c), &layout);
  REQUIRE(st.ok());
  REQUIRE(layout.block_shape == c.Shape("block_shape"));
  REQUIRE(layout.qparam_shape == c.Shape("qparam_shape"));
  return layout;
}

QuantizationSpec SpecOf(const GoldenCase& c) {
  QuantizationSpec spec;
  spec.dtype = *ParseDtype(c.Word("dtype"));
  if (c.Has("qscheme")) spec.qscheme = *ParseQScheme(c.Word("qscheme"));
  spec.granularity = GranularityOf(c);
  if (c.Has("calculator")) spec.qparams = *ParseQParams(c.Word("calculator"));
  if (c.Has("scale_dtype")) spec.scale_dtype = *ParseScaleDtype(c.Word("scale_dtype"));
  auto [lo, hi] = c.FloatRange();
  spec.float_range_min = lo;
  spec.float_range_max = hi;
  if (c.Has("averaging_constant")) spec.averaging_constant = c.F32("averaging_constant")[0];
  return spec;
}

QParams QParamsOf(const GoldenCase& c, size_t batch = SIZE_MAX) {
  QParams qp;
  qp.shape = c.Shape("qparam_shape");
  if (batch == SIZE_MAX) {
    qp.scale = c.F32("scale");
    if (c.Has("zero_point")) {
      for (int64_t z : c.Ints("zero_point")) qp.zero_point.push_back(static_cast<int32_t>(z));
    }
    if (c.Has("minval")) qp.minval = c.F32("minval");
  } else {
    qp.scale = c.F32("after_batch_scale", batch);
    if (c.Has("after_batch_zero_point")) {
      for (int64_t z : c.Ints("after_batch_zero_point", batch)) {
        qp.zero_point.push_back(static_cast<int32_t>(z));
      }
    }
    if (c.Has("after_batch_minval")) qp.minval = c.F32("after_batch_minval", batch);
  }
  return qp;
}

// Runs both paths of `kernel` on x and checks y (and the codes, when given) bit for bit.
void CheckKernel(const QuantKernel& kernel, const BlockLayout& layout, const QParams& qp,
                 const std::vector<float>& x, const std::vector<float>& want_y,
                 const std::vector<float>* want_codes) {
  std::vector<float> ref(x.size()), fast(x.size()), codes(x.size());
  std::vector<uint8_t> ref_mask(x.size()), fast_mask(x.size());
  FakeQuantizeReference(kernel, layout, qp, x, ref, ref_mask, codes);
  FakeQuantize(kernel, layout, qp, x, fast, fast_mask);
  CHECK_BITS(ref, want_y);
  CHECK_BITS(fast, want_y);
  CHECK(ref_mask == fast_mask);
  if (want_codes) CHECK_BITS(codes, *want_codes);
  // In place (y aliasing x) gives the same.
  std::vector<float> inplace = x;
  FakeQuantize(kernel, layout, qp, inplace, inplace);
  CHECK_BITS(inplace, want_y);
}

TEST_CASE("golden A: integer fake quantization with explicit qparams", "[numerics][golden]") {
  const auto cases = ReadGoldenFile(GoldenPath("fq_int_explicit.txt"));
  REQUIRE(cases.size() == 88);
  size_t values = 0;
  for (const GoldenCase& c : cases) {
    INFO("case " << c.name);
    REQUIRE(c.Word("kernel") == "int");
    const BlockLayout layout = LayoutOf(c);
    const QParams qp = QParamsOf(c);
    const std::vector<float> x = c.F32("input");
    const auto qmin = static_cast<int32_t>(c.Int("qmin"));
    const auto qmax = static_cast<int32_t>(c.Int("qmax"));
    const IntRange dtype_range = QuantRange(
        *ParseDtype(c.Word("dtype")),
        c.Word("qrange") == "full" ? QScheme::kSymmetric : QScheme::kSymmetricWithClipping);
    CHECK(dtype_range.qmin == qmin);
    CHECK(dtype_range.qmax == qmax);
    for (QFormulation f : {QFormulation::kZp, QFormulation::kMinval}) {
      const bool zp = f == QFormulation::kZp;
      const std::string out_key = zp ? "output_zp" : "output_minval";
      const std::string q_key = zp ? "q_zp" : "q_minval";
      std::vector<float> want_codes;
      if (c.Has(q_key)) want_codes = ToFloat(c.Ints(q_key));
      CheckKernel(QuantKernel::Integer(qmin, qmax, f), layout, qp, x, c.F32(out_key),
                  c.Has(q_key) ? &want_codes : nullptr);
      values += x.size();
    }
  }
  CHECK(values > 30000);
}

TEST_CASE("golden B: integer qparams from data", "[numerics][golden]") {
  const auto cases = ReadGoldenFile(GoldenPath("qparams_int_from_data.txt"));
  REQUIRE(cases.size() == 299);
  for (const GoldenCase& c : cases) {
    INFO("case " << c.name);
    const QuantizationSpec spec = SpecOf(c);
    const BlockLayout layout = LayoutOf(c);
    const std::vector<float> x = c.F32("input");
    const BlockRange ref_range =
        ComputeRangeReference(layout, x, spec.float_range_min, spec.float_range_max);
    const BlockRange fast_range =
        ComputeRange(layout, x, spec.float_range_min, spec.float_range_max);
    CHECK_BITS(ref_range.min, c.F32("range_min"));
    CHECK_BITS(ref_range.max, c.F32("range_max"));
    CHECK_BITS(fast_range.min, c.F32("range_min"));
    CHECK_BITS(fast_range.max, c.F32("range_max"));
    const QParams qp = ComputeQParams(spec, ref_range, layout.qparam_shape);
    CHECK_BITS(qp.scale, c.F32("scale"));
    CHECK(ToInt64(qp.zero_point) == c.Ints("zero_point"));
    CHECK_BITS(qp.minval, c.F32("minval"));
    const IntRange q = QuantRange(spec.dtype, spec.qscheme);
    CHECK(q.qmin == c.Int("qmin"));
    CHECK(q.qmax == c.Int("qmax"));
    for (QFormulation f : {QFormulation::kZp, QFormulation::kMinval}) {
      const bool zp = f == QFormulation::kZp;
      const std::string q_key = zp ? "q_zp" : "q_minval";
      std::vector<float> want_codes;
      if (c.Has(q_key)) want_codes = ToFloat(c.Ints(q_key));
      const std::vector<float> want = c.F32(zp ? "output_zp" : "output_minval");
      CheckKernel(QuantKernel::Integer(q.qmin, q.qmax, f), layout, qp, x, want,
                  c.Has(q_key) ? &want_codes : nullptr);
      // End to end through a static FakeQuantizer (fused observe + quantize), both paths.
      QuantizationSpec s = spec;
      s.qformulation = f;
      s.qparams = QParamsKind::kStatic;
      for (bool reference : {false, true}) {
        FakeQuantizer fq(s);
        fq.set_use_reference(reference);
        std::vector<float> y(x.size());
        REQUIRE(fq.Forward(layout.shape, x, y).ok());
        CHECK_BITS(y, want);
        CHECK_BITS(fq.calculator().qparams().scale, c.F32("scale"));
      }
    }
  }
}

TEST_CASE("golden C: calculators batch by batch", "[numerics][golden]") {
  const auto cases = ReadGoldenFile(GoldenPath("calculators.txt"));
  REQUIRE(cases.size() == 33);
  for (const GoldenCase& c : cases) {
    INFO("case " << c.name);
    const QuantizationSpec spec = SpecOf(c);
    const bool floating = c.Word("kernel") == "fp";
    const BlockLayout layout = LayoutOf(c);
    const auto batches = static_cast<size_t>(c.Int("batches"));
    REQUIRE(c.Count("batch") == batches);
    if (spec.qparams == QParamsKind::kMovingAverage) {
      CHECK(BitsOf(spec.averaging_constant) == 0x3c23d70au);
    }
    // One calculator with both kernels, and FakeQuantizers end to end (fast and reference).
    QParamsCalculator calc(spec, spec.qparams);
    std::vector<FakeQuantizer> fqs;
    for (QFormulation f :
         floating ? std::vector<QFormulation>{QFormulation::kZp}
                  : std::vector<QFormulation>{QFormulation::kZp, QFormulation::kMinval}) {
      for (bool reference : {false, true}) {
        QuantizationSpec s = spec;
        s.qformulation = f;
        fqs.emplace_back(s);
        fqs.back().set_use_reference(reference);
      }
    }
    for (size_t b = 0; b < batches; ++b) {
      INFO("batch " << b);
      const std::vector<float> x = c.F32("batch", b);
      REQUIRE(calc.Observe(layout.shape, x).ok());
      CHECK_BITS(calc.running().min, c.F32("after_batch_running_min", b));
      CHECK_BITS(calc.running().max, c.F32("after_batch_running_max", b));
      const QParams& qp = calc.qparams();
      CHECK_BITS(qp.scale, c.F32("after_batch_scale", b));
      if (!floating) {
        CHECK(ToInt64(qp.zero_point) == c.Ints("after_batch_zero_point", b));
        CHECK_BITS(qp.minval, c.F32("after_batch_minval", b));
      }
      for (size_t k = 0; k < fqs.size(); ++k) {
        const bool zp = k < 2;
        const std::string key = floating ? "after_batch_output"
                                : zp     ? "after_batch_output_zp"
                                         : "after_batch_output_minval";
        std::vector<float> y(x.size());
        REQUIRE(fqs[k].Forward(layout.shape, x, y).ok());
        CHECK_BITS(y, c.F32(key, b));
      }
    }
    // The probe input, quantized with the final qparams (observer off).
    const std::vector<float> x = c.F32("input");
    CHECK_BITS(calc.qparams().scale, c.F32("scale"));
    for (size_t k = 0; k < fqs.size(); ++k) {
      const bool zp = k < 2;
      const std::string key = floating ? "output" : zp ? "output_zp" : "output_minval";
      fqs[k].set_observer_enabled(false);
      std::vector<float> y(x.size());
      REQUIRE(fqs[k].Forward(layout.shape, x, y).ok());
      CHECK_BITS(y, c.F32(key));
    }
  }
}

TEST_CASE("golden D: FP8 / FP4 fake quantization", "[numerics][golden]") {
  const auto cases = ReadGoldenFile(GoldenPath("fq_fp.txt"));
  REQUIRE(cases.size() == 82);
  for (const GoldenCase& c : cases) {
    INFO("case " << c.name);
    REQUIRE(c.Word("kernel") == "fp");
    const QuantizationSpec spec = SpecOf(c);
    const BlockLayout layout = LayoutOf(c);
    CHECK(BitsOf(FloatMax(spec.dtype)) == BitsOf(c.F32("fp_max")[0]));
    const std::vector<float> x = c.F32("input");
    QParams qp;
    if (c.Has("calculator")) {
      const BlockRange ref_range =
          ComputeRangeReference(layout, x, spec.float_range_min, spec.float_range_max);
      const BlockRange fast_range =
          ComputeRange(layout, x, spec.float_range_min, spec.float_range_max);
      CHECK_BITS(ref_range.min, c.F32("range_min"));
      CHECK_BITS(ref_range.max, c.F32("range_max"));
      CHECK_BITS(fast_range.min, c.F32("range_min"));
      CHECK_BITS(fast_range.max, c.F32("range_max"));
      qp = ComputeQParams(spec, ref_range, layout.qparam_shape);
      CHECK_BITS(qp.scale, c.F32("scale"));
      CHECK(qp.zero_point.empty());
      for (bool reference : {false, true}) {
        FakeQuantizer fq(spec, /*is_state=*/true);
        fq.set_use_reference(reference);
        std::vector<float> y(x.size());
        REQUIRE(fq.Forward(layout.shape, x, y).ok());
        CHECK_BITS(y, c.F32("output"));
      }
    } else {
      qp.scale = c.F32("scale");
      qp.shape = layout.qparam_shape;
    }
    const std::vector<float> quantized = c.F32("quantized");
    CheckKernel(QuantKernel::Floating(spec.dtype), layout, qp, x, c.F32("output"), &quantized);
  }
}

// The machine-readable probes of nonfinite.md: NaN compared by NaN-ness, everything else by bits.
TEST_CASE("nonfinite.md probes", "[numerics][golden]") {
  std::ifstream in(GoldenPath("nonfinite.md"));
  REQUIRE(in);
  using testing::FloatFromHex;
  size_t probes = 0;
  auto same = [](float got, float want) {
    return std::isnan(want) ? std::isnan(got) : BitsOf(got) == BitsOf(want);
  };
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("probe ", 0) != 0) continue;
    INFO(line);
    std::istringstream ss(line);
    std::vector<std::string> t;
    for (std::string tok; ss >> tok;) t.push_back(tok);
    const BlockLayout layout = BlockLayout::PerTensor({1});
    if (t[1] == "int") {
      REQUIRE(t.size() == 10);
      QParams qp;
      qp.scale = {FloatFromHex(t[4])};
      qp.zero_point = {std::stoi(t[5])};
      qp.minval = {FloatFromHex(t[6])};
      const std::vector<float> x = {FloatFromHex(t[7])};
      const float want[2] = {FloatFromHex(t[8]), FloatFromHex(t[9])};
      for (int f = 0; f < 2; ++f) {
        const QuantKernel k = QuantKernel::Integer(
            std::stoi(t[2]), std::stoi(t[3]), f == 0 ? QFormulation::kZp : QFormulation::kMinval);
        std::vector<float> ref(1), fast(1), fast_long(8);
        FakeQuantizeReference(k, layout, qp, x, ref);
        FakeQuantize(k, layout, qp, x, fast);
        // Also through a full vector lane.
        const std::vector<float> x8(8, x[0]);
        FakeQuantize(k, BlockLayout::PerTensor({8}), qp, x8, fast_long);
        CHECK(same(ref[0], want[f]));
        CHECK(same(fast[0], want[f]));
        CHECK(same(fast_long[3], want[f]));
        // The sign and payload of a NaN are kept too, on this (x86) reference.
        CHECK(BitsOf(ref[0]) == BitsOf(want[f]));
        CHECK(BitsOf(fast_long[3]) == BitsOf(want[f]));
      }
    } else {
      REQUIRE(t.size() == 6);
      const Dtype d = *ParseDtype(t[2]);
      QParams qp;
      qp.scale = {FloatFromHex(t[3])};
      const std::vector<float> x = {FloatFromHex(t[4])};
      const float want = FloatFromHex(t[5]);
      std::vector<float> ref(1), fast(1), fast_long(8);
      FakeQuantizeReference(QuantKernel::Floating(d), layout, qp, x, ref);
      FakeQuantize(QuantKernel::Floating(d), layout, qp, x, fast);
      const std::vector<float> x8(8, x[0]);
      FakeQuantize(QuantKernel::Floating(d), BlockLayout::PerTensor({8}), qp, x8, fast_long);
      CHECK(same(ref[0], want));
      CHECK(same(fast[0], want));
      CHECK(BitsOf(ref[0]) == BitsOf(want));
      CHECK(BitsOf(fast_long[5]) == BitsOf(want));
    }
    ++probes;
  }
  CHECK(probes == 40);
}

}  // namespace
}  // namespace qrules
