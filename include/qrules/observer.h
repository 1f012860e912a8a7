// qrules/observer.h — stateful fake quantization: qparams calculators (observers, §c.7), the
// per-tensor FakeQuantizer (§c.8) and the QAT schedule state machine (§d).
//
//   qrules::FakeQuantizer fq(qrules::DefaultActivationSpec());      // moving_average, per-tensor
//   std::vector<float> y(x.size());
//   qrules::NumericsStatus st = fq.Forward(shape, x, y);             // observe, then QDQ
//   if (st.code == qrules::NumericsError::kBlockSizeMismatch) { /* fq.disabled(): y == x */ }
//
//   qrules::QatStateMachine qat;
//   qat.Add(&fq, qrules::QATSchedule{.enable_observer = 1, .enable_fake_quant = 2,
//                                    .disable_observer = 5});
//   (void)qat.EnterTrainingMode();  // applies the schedule at the current step count
//   for (...) { fq.Forward(...); (void)qat.Step(); }
//   (void)qat.ExitTrainingMode();   // observer off, fake quant on
//
// Numerics: the calculators keep their running range in float32, per block:
//   static:          running = current range (§c.3 of this batch)
//   moving_average:  first batch: running = current; afterwards, three float32 operations
//                    t1 = c * current;  t2 = (1 - c) * running;  running = t1 + t2
//                    with c = averaging_constant (default 0.01f) and 1 - c computed in float32
//                    (= float32(0.99) for the default)
//   global_minmax:   running_min = min(running_min, current), running_max likewise (never shrinks)
// NaN is sticky in moving_average and global_minmax (min/max propagate NaN), not in static.
// When both float_range bounds are set, the first observation initialises the range and
// qparams; later observations change nothing (frozen).  With one bound set, that bound replaces the
// observed value at every batch (and is averaged like one).  qparams = ComputeQParams(running).
//
// Errors come back as NumericsStatus (see fake_quant.h); nothing throws or prints.
// Thread-safety: these objects are mutable state: use one from one thread at a time.  Distinct
// objects are independent.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "qrules/config.h"
#include "qrules/fake_quant.h"

namespace qrules {

// A qparams calculator (observer) of §c.7 for one tensor.
class QParamsCalculator {
 public:
  // `kind` must be resolved (static, moving_average or global_minmax; not kDefault — use
  // spec.EffectiveQParams(is_state)).  averaging_constant starts as spec.averaging_constant.
  QParamsCalculator(QuantizationSpec spec, QParamsKind kind);

  // Replaces the granularity; only before the first observation (else kGranularityFrozen,
  // "Cannot change granularity after observer has been initialized...").
  NumericsStatus SetGranularity(const Granularity& granularity);
  void set_averaging_constant(float c) { averaging_constant_ = c; }
  float averaging_constant() const { return averaging_constant_; }

  // Observes x (C order, `shape`): computes the block layout and the batch's range, updates the
  // running range and recomputes the qparams.  Errors: the layout errors of MakeBlockLayout
  // (state unchanged), kShapeMismatch when the qparam shape differs from the first observation's.
  // When frozen, only the layout is recomputed.
  NumericsStatus Observe(std::span<const int64_t> shape, std::span<const float> x);

  // Observe + FakeQuantize in one call.  For a static calculator whose blocks are each one
  // contiguous run (per-channel on axis 0, per-block along the last axis, ...) this is one pass:
  // each block is reduced and quantized while it is in cache.  Same results as Observe followed by
  // FakeQuantize.  y.size() == x.size(); ste_mask empty or x.size().
  NumericsStatus ObserveAndFakeQuantize(std::span<const int64_t> shape, std::span<const float> x,
                                        std::span<float> y, std::span<uint8_t> ste_mask = {});

  bool initialized() const { return initialized_; }
  bool frozen() const;  // both float_range bounds set and initialized
  QParamsKind kind() const { return kind_; }
  const QuantizationSpec& spec() const { return spec_; }
  // The layout of the last observed tensor (empty before the first observation).
  const BlockLayout& layout() const { return layout_; }
  const BlockRange& running() const { return running_; }
  // Empty before the first observation ("Using default scale and zero point...").
  const QParams& qparams() const { return qparams_; }

 private:
  void Update(BlockRange current);

  QuantizationSpec spec_;
  QParamsKind kind_;
  float averaging_constant_;
  bool initialized_ = false;
  BlockLayout layout_;
  BlockRange running_;
  QParams qparams_;
};

// One fake-quantize module (§c.8): a calculator plus the observer_enabled / fake_quant_enabled
// flags (both on at construction) and the permanent `disabled` flag.
class FakeQuantizer {
 public:
  // is_state: the tensor is a weight / state (resolves qparams `default` to static, else
  // moving_average).
  explicit FakeQuantizer(QuantizationSpec spec, bool is_state = false);

  // forward(x) of §c.8, writing y (y may alias x):
  //   disabled                -> y = x, Ok
  //   observer on             -> observe x; a block-size mismatch sets disabled, y = x and returns
  //                              kBlockSizeMismatch ("... Skipping quantization."); other layout
  //                              errors return the error with y = x
  //   fake quant off          -> y = x
  //   no qparams yet          -> y = x, kNotObserved
  //   otherwise               -> y = FakeQuantize(x) with the current qparams (the layout is
  //                              recomputed for x's shape when the observer is off; with the
  //                              observer off the qparams are prepared once — PreparedQParams —
  //                              and reused while they stay the same)
  NumericsStatus Forward(std::span<const int64_t> shape, std::span<const float> x,
                         std::span<float> y, std::span<uint8_t> ste_mask = {});

  bool observer_enabled() const { return observer_enabled_; }
  bool fake_quant_enabled() const { return fake_quant_enabled_; }
  bool disabled() const { return disabled_; }
  void set_observer_enabled(bool on) { observer_enabled_ = on; }
  void set_fake_quant_enabled(bool on) { fake_quant_enabled_ = on; }
  // Use the scalar reference instead of the vectorized kernels (for tests; same results).
  void set_use_reference(bool on) { use_reference_ = on; }

  QParamsCalculator& calculator() { return calculator_; }
  const QParamsCalculator& calculator() const { return calculator_; }

 private:
  QParamsCalculator calculator_;
  QuantKernel kernel_;
  PreparedQParams prepared_;  // the frozen qparams, prepared (empty until first needed)
  bool observer_enabled_ = true;
  bool fake_quant_enabled_ = true;
  bool disabled_ = false;
  bool use_reference_ = false;
};

// The QATSchedule field constraints of §a.5, with coreai_opt's messages
// ("enable_fake_quant (F) must be >= enable_observer (O)", ...).  Ok or kInvalidSchedule.
NumericsStatus ValidateQATSchedule(const QATSchedule& schedule);

// The observer / fake-quant state machine of §d over a set of FakeQuantizers (not owned; they
// must outlive the machine).  The step count starts at 0, is never reset, and survives re-entry.
//   Add()                         registers an FQ with its module's schedule (nullopt: none)
//   EnterCalibration/Exit         observer on / fake quant off; exit: observer off / fq on
//   EnterTrainingMode()           every FQ on/on, then FQs with a schedule: schedule(step)
//   Step()                        step += 1, then schedule(step) for FQs with a schedule
//   ExitTrainingMode()            every FQ: observer off, fake quant on (regardless of schedule)
//   Set*Enabled()                 manual switches; refused when any FQ has a schedule
class QatStateMachine {
 public:
  // Errors: kInvalidSchedule (the FQ is not added).
  NumericsStatus Add(FakeQuantizer* fq, std::optional<QATSchedule> schedule = std::nullopt);

  void EnterCalibration();
  void ExitCalibration();
  // kNestedTrainingMode: "Cannot enter training_mode() while already inside a training_mode()
  // context. Nested training_mode() calls are not supported."
  NumericsStatus EnterTrainingMode();
  void ExitTrainingMode();
  // kNotInTrainingMode: "step() must be called inside a training_mode() context."
  // kNoSchedule (a warning, no effect, the count is not advanced): no FQ has a qat_schedule.
  NumericsStatus Step();

  // kScheduleConfigured when any FQ has a schedule: "Enable/disable APIs ... cannot be used with
  // a qat_schedule configured ...".
  NumericsStatus SetObserverEnabled(bool on);
  NumericsStatus SetFakeQuantEnabled(bool on);

  int64_t step_count() const { return step_; }
  bool in_training_mode() const { return training_; }

 private:
  void ApplySchedules();
  bool AnySchedule() const;

  struct Entry {
    FakeQuantizer* fq;
    std::optional<QATSchedule> schedule;
  };
  std::vector<Entry> entries_;
  int64_t step_ = 0;
  bool training_ = false;
};

}  // namespace qrules
