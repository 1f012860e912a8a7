// Calculators (§c.7), FakeQuantizer (§c.8) and the QAT schedule state machine (§d), with
// expectations computed by hand.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "numerics_golden_reader.h"
#include "qrules/fake_quant.h"
#include "qrules/observer.h"

namespace qrules {
namespace {

const std::vector<int64_t> kShape2 = {2};

QuantizationSpec Int8Asym(QParamsKind kind) {
  QuantizationSpec s;
  s.qscheme = QScheme::kAsymmetric;
  s.qparams = kind;
  return s;
}

TEST_CASE("moving average: c * current + (1 - c) * running, c settable", "[numerics][observer]") {
  QParamsCalculator calc(Int8Asym(QParamsKind::kMovingAverage), QParamsKind::kMovingAverage);
  CHECK(calc.averaging_constant() == 0.01f);
  calc.set_averaging_constant(0.5f);
  REQUIRE(calc.Observe(kShape2, std::vector<float>{-2.0f, 4.0f}).ok());
  CHECK(calc.running().min[0] == -2.0f);  // the first batch initialises
  CHECK(calc.running().max[0] == 4.0f);
  REQUIRE(calc.Observe(kShape2, std::vector<float>{-4.0f, 2.0f}).ok());
  CHECK(calc.running().min[0] == -3.0f);  // 0.5 * -4 + 0.5 * -2
  CHECK(calc.running().max[0] == 3.0f);   // 0.5 * 2 + 0.5 * 4
  CHECK(calc.qparams().scale[0] == 6.0f / 255.0f);
  calc.set_averaging_constant(0.25f);
  REQUIRE(calc.Observe(kShape2, std::vector<float>{1.0f, 7.0f}).ok());
  CHECK(calc.running().min[0] == -2.25f);  // 0.25 * 0 (range holds 0) + 0.75 * -3
  CHECK(calc.running().max[0] == 4.0f);    // 0.25 * 7 + 0.75 * 3
  // The spec's averaging_constant is the initial value.
  QuantizationSpec spec = Int8Asym(QParamsKind::kMovingAverage);
  spec.averaging_constant = 0.5f;
  QParamsCalculator from_spec(spec, QParamsKind::kMovingAverage);
  CHECK(from_spec.averaging_constant() == 0.5f);
}

TEST_CASE("global_minmax never shrinks, and static follows the batch", "[numerics][observer]") {
  QParamsCalculator g(Int8Asym(QParamsKind::kGlobalMinmax), QParamsKind::kGlobalMinmax);
  QParamsCalculator s(Int8Asym(QParamsKind::kStatic), QParamsKind::kStatic);
  for (const std::vector<float>& b :
       {std::vector<float>{-1.0f, 2.0f}, {-3.0f, 1.0f}, {0.5f, 1.0f}}) {
    REQUIRE(g.Observe(kShape2, b).ok());
    REQUIRE(s.Observe(kShape2, b).ok());
  }
  CHECK(g.running().min[0] == -3.0f);
  CHECK(g.running().max[0] == 2.0f);
  CHECK(s.running().min[0] == 0.0f);
  CHECK(s.running().max[0] == 1.0f);
}

TEST_CASE("float_range: both bounds freeze, one bound replaces", "[numerics][observer]") {
  QuantizationSpec spec = Int8Asym(QParamsKind::kMovingAverage);
  spec.float_range_min = -2.0f;
  spec.float_range_max = 2.0f;
  QParamsCalculator frozen(spec, QParamsKind::kMovingAverage);
  CHECK(!frozen.frozen());
  REQUIRE(frozen.Observe(kShape2, std::vector<float>{-10.0f, 10.0f}).ok());
  CHECK(frozen.frozen());
  REQUIRE(frozen.Observe(kShape2, std::vector<float>{-100.0f, 100.0f}).ok());
  CHECK(frozen.running().min[0] == -2.0f);
  CHECK(frozen.running().max[0] == 2.0f);
  CHECK(frozen.qparams().scale[0] == 4.0f / 255.0f);

  spec.float_range_max.reset();
  spec.float_range_min = -1.0f;
  QParamsCalculator lower(spec, QParamsKind::kStatic);
  REQUIRE(lower.Observe(kShape2, std::vector<float>{0.5f, 3.0f}).ok());
  CHECK(lower.running().min[0] == -1.0f);
  CHECK(lower.running().max[0] == 3.0f);
  REQUIRE(lower.Observe(kShape2, std::vector<float>{-7.0f, 1.0f}).ok());
  CHECK(lower.running().min[0] == -1.0f);
  CHECK(lower.running().max[0] == 1.0f);
}

TEST_CASE("calculator errors", "[numerics][observer]") {
  QuantizationSpec spec = Int8Asym(QParamsKind::kStatic);
  QParamsCalculator calc(spec, QParamsKind::kStatic);
  Granularity pc;
  pc.kind = GranularityKind::kPerChannel;
  pc.axis = 0;
  REQUIRE(calc.SetGranularity(pc).ok());
  const std::vector<int64_t> shape = {2, 3};
  const std::vector<float> x = {1, 2, 3, 4, 5, 6};
  REQUIRE(calc.Observe(shape, x).ok());
  CHECK(calc.qparams().scale.size() == 2);
  CHECK(calc.qparams().shape == std::vector<int64_t>{2, 1});
  CHECK(calc.SetGranularity(Granularity{}).code == NumericsError::kGranularityFrozen);
  const std::vector<int64_t> other = {3, 2};
  CHECK(calc.Observe(other, x).code == NumericsError::kShapeMismatch);
  pc.axis = 4;
  QParamsCalculator bad(spec, QParamsKind::kStatic);
  REQUIRE(bad.SetGranularity(pc).ok());
  CHECK(bad.Observe(shape, x).code == NumericsError::kAxisOutOfRange);
  CHECK(!bad.initialized());
}

TEST_CASE("FakeQuantizer forward (c.8)", "[numerics][fakequant]") {
  QuantizationSpec spec;
  spec.qparams = QParamsKind::kStatic;
  spec.qscheme = QScheme::kSymmetricWithClipping;
  FakeQuantizer fq(spec);
  CHECK(fq.observer_enabled());
  CHECK(fq.fake_quant_enabled());
  CHECK(!fq.disabled());
  const std::vector<int64_t> shape = {4};
  const std::vector<float> x = {-127.0f, 0.4f, 0.6f, 50.2f};
  std::vector<float> y(4);
  REQUIRE(fq.Forward(shape, x, y).ok());  // scale 1
  CHECK(y == std::vector<float>{-127.0f, 0.0f, 1.0f, 50.0f});
  // Observer off: the stored qparams are used.
  fq.set_observer_enabled(false);
  const std::vector<float> x2 = {300.0f, 2.5f, -3.5f, 0.0f};
  REQUIRE(fq.Forward(shape, x2, y).ok());
  CHECK(y == std::vector<float>{127.0f, 2.0f, -4.0f, 0.0f});
  // Fake quant off: identity, observer still runs when on.
  fq.set_observer_enabled(true);
  fq.set_fake_quant_enabled(false);
  REQUIRE(fq.Forward(shape, x2, y).ok());
  CHECK(y == x2);
  CHECK(fq.calculator().qparams().scale[0] == 300.0f / 127.0f);

  // Before any observation with the observer off: identity and kNotObserved.
  FakeQuantizer fresh(spec);
  fresh.set_observer_enabled(false);
  CHECK(fresh.Forward(shape, x, y).code == NumericsError::kNotObserved);
  CHECK(y == x);
}

TEST_CASE("frozen FakeQuantizer follows qparams changed through its calculator",
          "[numerics][fakequant]") {
  // With the observer off the qparams are prepared once and reused; changing them through
  // calculator() must still take effect on the next forward.
  const std::vector<int64_t> shape = {4096};
  std::vector<float> x(4096), y(4096), ref(4096);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(static_cast<float>(i) * 0.01f) * 3.0f;
  FakeQuantizer fq(Int8Asym(QParamsKind::kStatic));
  REQUIRE(fq.Forward(shape, x, y).ok());  // observe: range [-3, 3]
  fq.set_observer_enabled(false);
  for (int round = 0; round < 2; ++round) {
    const QParams qp = fq.calculator().qparams();
    REQUIRE(fq.Forward(shape, x, y).ok());
    FakeQuantizeReference(QuantKernel::ForSpec(fq.calculator().spec()),
                          BlockLayout::PerTensor(shape), qp, x, ref);
    CHECK(y == ref);
    // Observe a wider range directly: the next forward must use the new scale.
    std::vector<float> wide(x);
    wide[0] = 10.0f * static_cast<float>(round + 1);
    REQUIRE(fq.calculator().Observe(shape, wide).ok());
    REQUIRE(fq.calculator().qparams().scale != qp.scale);
  }
  std::vector<float> before(y);
  REQUIRE(fq.Forward(shape, x, y).ok());
  CHECK(y != before);  // the scale grew: coarser steps
}

TEST_CASE("block-size mismatch disables the FakeQuantizer for good", "[numerics][fakequant]") {
  QuantizationSpec spec = DefaultWeightSpec();
  spec.granularity.kind = GranularityKind::kPerBlock;
  spec.granularity.axis = 1;
  spec.granularity.block_size = {4};
  FakeQuantizer fq(spec, /*is_state=*/true);
  const std::vector<int64_t> shape = {2, 6};
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<float> y(x.size());
  const NumericsStatus st = fq.Forward(shape, x, y);
  CHECK(st.code == NumericsError::kBlockSizeMismatch);
  CHECK(st.message.find("Skipping quantization.") != std::string::npos);
  CHECK(fq.disabled());
  CHECK(y == x);
  // Later calls pass through, even for a shape that would fit.
  const std::vector<int64_t> fits = {2, 8};
  std::vector<float> x16(16, 0.3f), y16(16);
  CHECK(fq.Forward(fits, x16, y16).ok());
  CHECK(y16 == x16);
}

TEST_CASE("fused static observe + quantize equals observe then quantize", "[numerics][fakequant]") {
  QuantizationSpec spec = DefaultWeightSpec();  // per-channel axis 0: one run per block
  spec.qscheme = QScheme::kAsymmetric;
  spec.dtype = Dtype::kUint4;
  const std::vector<int64_t> shape = {3, 40};
  std::vector<float> x(120);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.37f - 2.0f;
  QParamsCalculator fused(spec, QParamsKind::kStatic), two(spec, QParamsKind::kStatic);
  std::vector<float> a(120), b(120);
  REQUIRE(fused.ObserveAndFakeQuantize(shape, x, a).ok());
  REQUIRE(two.Observe(shape, x).ok());
  FakeQuantizeReference(QuantKernel::ForSpec(spec), two.layout(), two.qparams(), x, b);
  CHECK(a == b);
  CHECK(fused.qparams().scale == two.qparams().scale);
  CHECK(fused.qparams().zero_point == two.qparams().zero_point);
  CHECK(fused.running().min == two.running().min);
}

TEST_CASE("fused static observe + quantize against the reference, short runs",
          "[numerics][fakequant]") {
  // Runs of 16 and 32 elements take the 16-runs-at-a-time range reduction (AVX-512) and the
  // fixed-run kernels; the expectation is the reference chain: range, qparams, quantize.
  struct Case {
    std::vector<int64_t> shape;
    Granularity g;
  };
  Granularity channel0;
  channel0.kind = GranularityKind::kPerChannel;
  channel0.axis = 0;
  Granularity block32;
  block32.kind = GranularityKind::kPerBlock;
  block32.axis = 1;
  block32.block_size = {32};
  const std::vector<Case> cases = {
      {{40, 16}, channel0}, {{37, 32}, channel0}, {{5, 640}, block32}, {{3, 96}, block32}};
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  for (const Case& c : cases) {
    for (const QScheme q : {QScheme::kAsymmetric, QScheme::kSymmetric}) {
      QuantizationSpec spec = DefaultWeightSpec();
      spec.qscheme = q;
      spec.granularity = c.g;
      const auto n = static_cast<size_t>(c.shape[0] * c.shape[1]);
      std::vector<float> x(n);
      QParamsCalculator fused(spec, QParamsKind::kStatic);
      std::vector<float> got(n), want(n);
      // A first call on other data: the calculator reuses its buffers, and the static
      // calculator's second range must not remember the first.
      for (float& v : x) v = 3.0f * normal(rng);
      REQUIRE(fused.ObserveAndFakeQuantize(c.shape, x, got).ok());
      for (float& v : x) v = normal(rng);
      x[17] = std::numeric_limits<float>::quiet_NaN();  // one block with a NaN
      x[n - 3] = -0.0f;
      REQUIRE(fused.ObserveAndFakeQuantize(c.shape, x, got).ok());
      const BlockRange range = ComputeRangeReference(fused.layout(), x);
      const QParams qp = ComputeQParams(spec, range, fused.layout().qparam_shape);
      FakeQuantizeReference(QuantKernel::ForSpec(spec), fused.layout(), qp, x, want);
      INFO("shape " << c.shape[0] << "x" << c.shape[1] << ", qscheme " << static_cast<int>(q));
      size_t mismatches = 0;
      for (size_t i = 0; i < n; ++i) {
        const bool same = std::isnan(got[i]) ? std::isnan(want[i])
                                             : testing::BitsOf(got[i]) == testing::BitsOf(want[i]);
        mismatches += same ? 0 : 1;
      }
      CHECK(mismatches == 0);
      for (size_t b = 0; b < qp.scale.size(); ++b) {
        CHECK((std::isnan(fused.qparams().scale[b]) ? std::isnan(qp.scale[b])
                                                    : fused.qparams().scale[b] == qp.scale[b]));
      }
      CHECK(fused.qparams().zero_point == qp.zero_point);
      size_t range_mismatches = 0;  // NaN bounds (the block with a NaN) compare as equal
      for (size_t b = 0; b < range.max.size(); ++b) {
        const float a = fused.running().max[b], e = range.max[b];
        range_mismatches += (std::isnan(a) ? std::isnan(e) : a == e) ? 0 : 1;
      }
      CHECK(range_mismatches == 0);
    }
  }
}

// --- QAT schedule (§a.5, §d) ---------------------------------------------------------------------

QATSchedule Schedule(int64_t o, int64_t f, std::optional<int64_t> d) {
  QATSchedule s;
  s.enable_observer = o;
  s.enable_fake_quant = f;
  s.disable_observer = d;
  return s;
}

TEST_CASE("QATSchedule validation messages", "[numerics][qat]") {
  CHECK(ValidateQATSchedule(Schedule(0, 0, std::nullopt)).ok());
  CHECK(ValidateQATSchedule(Schedule(1, 2, 5)).ok());
  CHECK(ValidateQATSchedule(Schedule(2, 2, 2)).code == NumericsError::kInvalidSchedule);
  CHECK(ValidateQATSchedule(Schedule(3, 1, std::nullopt)).message ==
        "enable_fake_quant (1) must be >= enable_observer (3)");
  CHECK(ValidateQATSchedule(Schedule(2, 2, 2)).message ==
        "disable_observer (2) must be > enable_observer (2)");
  CHECK(ValidateQATSchedule(Schedule(1, 4, 3)).message ==
        "disable_observer (3) must be >= enable_fake_quant (4)");
  CHECK(!ValidateQATSchedule(Schedule(-1, 0, std::nullopt)).ok());
  CHECK(!ValidateQATSchedule(Schedule(0, 0, 0)).ok());
}

TEST_CASE("QAT state machine: schedule (1, 2, 5)", "[numerics][qat]") {
  FakeQuantizer scheduled(DefaultActivationSpec());
  FakeQuantizer plain(DefaultActivationSpec());
  QatStateMachine qat;
  REQUIRE(qat.Add(&scheduled, Schedule(1, 2, 5)).ok());
  REQUIRE(qat.Add(&plain).ok());
  CHECK(qat.Add(&plain, Schedule(3, 1, std::nullopt)).code == NumericsError::kInvalidSchedule);

  CHECK(qat.Step().code == NumericsError::kNotInTrainingMode);
  CHECK(qat.Step().message == "step() must be called inside a training_mode() context.");
  CHECK(qat.SetObserverEnabled(false).code == NumericsError::kScheduleConfigured);

  REQUIRE(qat.EnterTrainingMode().ok());
  CHECK(qat.EnterTrainingMode().code == NumericsError::kNestedTrainingMode);
  // s = 0: off / off; the FQ without a schedule: on / on.
  CHECK(qat.step_count() == 0);
  CHECK(!scheduled.observer_enabled());
  CHECK(!scheduled.fake_quant_enabled());
  CHECK(plain.observer_enabled());
  CHECK(plain.fake_quant_enabled());
  struct State {
    bool obs, fq;
  };
  // s = 1: on/off; 2-4: on/on; >= 5: off/on.
  const std::vector<State> expected = {{true, false}, {true, true},  {true, true},
                                       {true, true},  {false, true}, {false, true}};
  for (size_t i = 0; i < expected.size(); ++i) {
    REQUIRE(qat.Step().ok());
    INFO("step " << qat.step_count());
    CHECK(qat.step_count() == static_cast<int64_t>(i + 1));
    CHECK(scheduled.observer_enabled() == expected[i].obs);
    CHECK(scheduled.fake_quant_enabled() == expected[i].fq);
    CHECK(plain.observer_enabled());
  }
  qat.ExitTrainingMode();
  CHECK(!scheduled.observer_enabled());
  CHECK(scheduled.fake_quant_enabled());
  CHECK(!plain.observer_enabled());
  CHECK(plain.fake_quant_enabled());
  CHECK(qat.Step().code == NumericsError::kNotInTrainingMode);
  // The count survives re-entry (s = 6: off / on) and is never reset.
  REQUIRE(qat.EnterTrainingMode().ok());
  CHECK(qat.step_count() == 6);
  CHECK(!scheduled.observer_enabled());
  CHECK(scheduled.fake_quant_enabled());
  CHECK(plain.observer_enabled());
  qat.ExitTrainingMode();
}

TEST_CASE("QAT state machine without schedules, and calibration", "[numerics][qat]") {
  FakeQuantizer fq(DefaultActivationSpec());
  QatStateMachine qat;
  REQUIRE(qat.Add(&fq).ok());
  qat.EnterCalibration();
  CHECK(fq.observer_enabled());
  CHECK(!fq.fake_quant_enabled());
  qat.ExitCalibration();
  CHECK(!fq.observer_enabled());
  CHECK(fq.fake_quant_enabled());
  REQUIRE(qat.EnterTrainingMode().ok());
  CHECK(fq.observer_enabled());
  CHECK(fq.fake_quant_enabled());
  CHECK(qat.Step().code == NumericsError::kNoSchedule);  // a warning, no effect
  CHECK(qat.step_count() == 0);
  qat.ExitTrainingMode();
  REQUIRE(qat.SetObserverEnabled(true).ok());
  REQUIRE(qat.SetFakeQuantEnabled(false).ok());
  CHECK(fq.observer_enabled());
  CHECK(!fq.fake_quant_enabled());
  // Default schedule (0, 0, None): on / on forever.
  FakeQuantizer d(DefaultActivationSpec());
  QatStateMachine q2;
  REQUIRE(q2.Add(&d, QATSchedule{}).ok());
  REQUIRE(q2.EnterTrainingMode().ok());
  for (int i = 0; i < 50; ++i) {
    CHECK(d.observer_enabled());
    CHECK(d.fake_quant_enabled());
    REQUIRE(q2.Step().ok());
  }
}

}  // namespace
}  // namespace qrules
