// Qparams calculators (§c.7) and the FakeQuantizer forward (§c.8).
#include "qrules/observer.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <utility>

#include "numerics/numerics_internal.h"

namespace qrules {
namespace {

// torch.minimum / torch.maximum: NaN in either argument gives NaN.
float NanMin(float a, float b) {
  if (std::isnan(a)) return a;
  if (std::isnan(b)) return b;
  return a < b ? a : b;
}

void CopyThrough(std::span<const float> x, std::span<float> y) {
  if (x.data() != y.data()) std::copy(x.begin(), x.end(), y.begin());
}

template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

}  // namespace

QParamsCalculator::QParamsCalculator(QuantizationSpec spec, QParamsKind kind)
    : spec_(std::move(spec)), kind_(kind), averaging_constant_(spec_.averaging_constant) {
  assert(kind != QParamsKind::kDefault);
}

NumericsStatus QParamsCalculator::SetGranularity(const Granularity& granularity) {
  if (initialized_) {
    return NumericsStatus::Error(
        NumericsError::kGranularityFrozen,
        "Cannot change granularity after observer has been initialized with data.");
  }
  spec_.granularity = granularity;
  return NumericsStatus::Ok();
}

bool QParamsCalculator::frozen() const {
  return initialized_ && spec_.float_range_min && spec_.float_range_max;
}

void QParamsCalculator::Update(BlockRange current) {
  if (!initialized_ || kind_ == QParamsKind::kStatic) {
    running_ = std::move(current);
  } else if (kind_ == QParamsKind::kMovingAverage) {
    const float c = averaging_constant_;
    const float one_minus_c = 1.0f - c;
    for (size_t b = 0; b < running_.min.size(); ++b) {
      float t1 = c * current.min[b];
      float t2 = one_minus_c * running_.min[b];
      running_.min[b] = t1 + t2;
      t1 = c * current.max[b];
      t2 = one_minus_c * running_.max[b];
      running_.max[b] = t1 + t2;
    }
  } else {  // global_minmax
    for (size_t b = 0; b < running_.min.size(); ++b) {
      running_.min[b] = NanMin(running_.min[b], current.min[b]);
      running_.max[b] = internal::NanMax(running_.max[b], current.max[b]);
    }
  }
  initialized_ = true;
  qparams_ = ComputeQParams(spec_, running_, layout_.qparam_shape);
}

NumericsStatus QParamsCalculator::Observe(std::span<const int64_t> shape,
                                          std::span<const float> x) {
  BlockLayout layout;
  if (NumericsStatus st = MakeBlockLayout(shape, spec_.granularity, &layout); !st.ok()) return st;
  if (initialized_ && layout.qparam_shape != layout_.qparam_shape) {
    return NumericsStatus::Error(NumericsError::kShapeMismatch,
                                 "the qparam shape of this tensor differs from the first "
                                 "observation's");
  }
  layout_ = std::move(layout);
  if (frozen()) return NumericsStatus::Ok();
  Update(ComputeRange(layout_, x, spec_.float_range_min, spec_.float_range_max));
  return NumericsStatus::Ok();
}

NumericsStatus QParamsCalculator::ObserveAndFakeQuantize(std::span<const int64_t> shape,
                                                         std::span<const float> x,
                                                         std::span<float> y,
                                                         std::span<uint8_t> ste_mask) {
  if (kind_ == QParamsKind::kStatic) {
    BlockLayout layout;
    if (NumericsStatus st = MakeBlockLayout(shape, spec_.granularity, &layout); !st.ok()) {
      return st;
    }
    if (!frozen() && (!initialized_ || layout.qparam_shape == layout_.qparam_shape)) {
      // Written in place (the static calculator replaces its range on every call), so repeated
      // calls reuse the buffers instead of faulting in fresh pages for every block array.
      if (internal::FusedStaticObserveQuantize(spec_, QuantKernel::ForSpec(spec_), layout, x, y,
                                               ste_mask, &running_, &qparams_)) {
        layout_ = std::move(layout);
        initialized_ = true;
        return NumericsStatus::Ok();
      }
    }
  }
  if (NumericsStatus st = Observe(shape, x); !st.ok()) return st;
  FakeQuantize(QuantKernel::ForSpec(spec_), layout_, qparams_, x, y, ste_mask);
  return NumericsStatus::Ok();
}

FakeQuantizer::FakeQuantizer(QuantizationSpec spec, bool is_state)
    : calculator_(spec, spec.EffectiveQParams(is_state)), kernel_(QuantKernel::ForSpec(spec)) {}

NumericsStatus FakeQuantizer::Forward(std::span<const int64_t> shape, std::span<const float> x,
                                      std::span<float> y, std::span<uint8_t> ste_mask) {
  assert(x.size() == y.size());
  if (disabled_) {
    CopyThrough(x, y);
    return NumericsStatus::Ok();
  }
  BlockLayout layout;
  if (observer_enabled_) {
    if (fake_quant_enabled_ && !use_reference_) {
      NumericsStatus st = calculator_.ObserveAndFakeQuantize(shape, x, y, ste_mask);
      if (st.code == NumericsError::kBlockSizeMismatch) {
        disabled_ = true;
        st.message += ". Skipping quantization.";
      }
      if (!st.ok()) CopyThrough(x, y);
      return st;
    }
    NumericsStatus st = calculator_.Observe(shape, x);
    if (st.code == NumericsError::kBlockSizeMismatch) {
      disabled_ = true;
      st.message += ". Skipping quantization.";
    }
    if (!st.ok()) {
      CopyThrough(x, y);
      return st;
    }
    layout = calculator_.layout();
  } else if (fake_quant_enabled_) {
    if (NumericsStatus st = MakeBlockLayout(shape, calculator_.spec().granularity, &layout);
        !st.ok()) {
      CopyThrough(x, y);
      return st;
    }
  }
  if (!fake_quant_enabled_) {
    CopyThrough(x, y);
    return NumericsStatus::Ok();
  }
  const QParams& qp = calculator_.qparams();
  if (qp.empty() || static_cast<int64_t>(qp.scale.size()) != layout.num_blocks()) {
    CopyThrough(x, y);
    return NumericsStatus::Error(NumericsError::kNotObserved,
                                 "Using default scale and zero point: no qparams have been "
                                 "observed for this tensor shape");
  }
  if (use_reference_) {
    FakeQuantizeReference(kernel_, layout, qp, x, y, ste_mask);
  } else if (observer_enabled_) {
    FakeQuantize(kernel_, layout, qp, x, y, ste_mask);  // qparams new with every batch
  } else {
    // Frozen qparams (evaluation after calibration): prove the reciprocal pairs once.  The
    // comparison (of bits: -0.0 and +0.0 minvals differ, NaN equals itself) keeps it right if
    // the calculator is changed through calculator().
    const QParams& held = prepared_.qparams();
    if (!SameBits(held.scale, qp.scale) || !SameBits(held.zero_point, qp.zero_point) ||
        !SameBits(held.minval, qp.minval)) {
      prepared_ = PreparedQParams(kernel_, qp);
    }
    FakeQuantize(kernel_, layout, prepared_, x, y, ste_mask);
  }
  return NumericsStatus::Ok();
}

}  // namespace qrules
