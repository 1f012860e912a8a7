// The scalar reference of the fake-quantization numerics: block layouts (§c.5), ranges (§c.3),
// qparams (§c.4, §c.6) and the QDQ kernels (§c.8).  This file is the specification the vectorized
// path in fake_quant.cc must equal bit for bit; it is written to be read next to the formulas in
// qrules/fake_quant.h, one float32 operation per step.  Compiled with -ffp-contract=off.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "numerics/numerics_internal.h"
#include "qrules/fake_quant.h"

namespace qrules {

std::string_view NumericsErrorId(NumericsError e) {
  switch (e) {
    case NumericsError::kOk:
      return "ok";
    case NumericsError::kAxisUnresolved:
      return "axis-unresolved";
    case NumericsError::kAxisOutOfRange:
      return "axis-out-of-range";
    case NumericsError::kBlockAxisInvalid:
      return "block-axis-invalid";
    case NumericsError::kBlockSizeInvalid:
      return "block-size-invalid";
    case NumericsError::kBlockTupleRank:
      return "block-tuple-rank";
    case NumericsError::kBlockSizeMismatch:
      return "block-size-mismatch";
    case NumericsError::kGranularityFrozen:
      return "granularity-frozen";
    case NumericsError::kShapeMismatch:
      return "shape-mismatch";
    case NumericsError::kNotObserved:
      return "not-observed";
    case NumericsError::kInvalidSchedule:
      return "invalid-schedule";
    case NumericsError::kNotInTrainingMode:
      return "not-in-training-mode";
    case NumericsError::kNestedTrainingMode:
      return "nested-training-mode";
    case NumericsError::kNoSchedule:
      return "no-schedule";
    case NumericsError::kScheduleConfigured:
      return "schedule-configured";
  }
  return "?";
}

// --- Block layout
// ----------------------------------------------------------------------------------

int64_t BlockLayout::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int64_t BlockLayout::num_blocks() const {
  int64_t n = 1;
  for (int64_t d : qparam_shape) n *= d;
  return n;
}

int64_t BlockLayout::BlockOf(int64_t flat_index) const {
  int64_t block = 0;
  int64_t block_stride = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    const int64_t i = flat_index % shape[d];
    flat_index /= shape[d];
    block += (i / block_shape[d]) * block_stride;
    block_stride *= qparam_shape[d];
  }
  return block;
}

BlockLayout BlockLayout::PerTensor(std::vector<int64_t> shape) {
  BlockLayout layout;
  layout.block_shape = shape;
  layout.qparam_shape.assign(shape.size(), 1);
  layout.shape = std::move(shape);
  return layout;
}

namespace {

std::string ShapeString(std::span<const int64_t> shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

NumericsStatus Mismatch(int64_t block, size_t dim, std::span<const int64_t> shape) {
  return NumericsStatus::Error(
      NumericsError::kBlockSizeMismatch,
      "block size " + std::to_string(block) + " does not divide dimension " + std::to_string(dim) +
          " (size " + std::to_string(shape[dim]) + ") of tensor shape " + ShapeString(shape));
}

}  // namespace

NumericsStatus MakeBlockLayout(std::span<const int64_t> shape, const Granularity& granularity,
                               BlockLayout* layout) {
  const auto rank = static_cast<int64_t>(shape.size());
  std::vector<int64_t> block(shape.begin(), shape.end());
  switch (granularity.kind) {
    case GranularityKind::kPerTensor:
      break;
    case GranularityKind::kPerChannel: {
      if (!granularity.axis) {
        return NumericsStatus::Error(NumericsError::kAxisUnresolved,
                                     "axis is None and was not resolved");
      }
      int64_t axis = *granularity.axis;
      if (axis < -rank || axis >= rank) {
        return NumericsStatus::Error(NumericsError::kAxisOutOfRange,
                                     "axis " + std::to_string(axis) +
                                         " is out of bounds for tensor of rank " +
                                         std::to_string(rank) + ". Allowed axis range is [" +
                                         std::to_string(-rank) + ", " + std::to_string(rank) + ")");
      }
      if (axis < 0) axis += rank;
      block[axis] = 1;
      break;
    }
    case GranularityKind::kPerBlock: {
      if (granularity.block_size.empty()) {
        return NumericsStatus::Error(NumericsError::kBlockSizeInvalid, "block_size is empty");
      }
      if (!granularity.block_is_tuple) {
        if (!granularity.axis) {
          return NumericsStatus::Error(NumericsError::kAxisUnresolved,
                                       "axis must be specified when block_size is an int");
        }
        const int64_t axis = *granularity.axis;
        const int64_t b = granularity.block_size[0];
        if (axis != 0 && axis != 1) {
          return NumericsStatus::Error(
              NumericsError::kBlockAxisInvalid,
              "per_block axis must be 0 or 1, got " + std::to_string(axis));
        }
        if (b <= 0) {
          return NumericsStatus::Error(NumericsError::kBlockSizeInvalid,
                                       "block_size must be > 0, got " + std::to_string(b));
        }
        if (axis >= rank) {
          return NumericsStatus::Error(
              NumericsError::kAxisOutOfRange,
              "axis " + std::to_string(axis) + " is out of bounds for tensor of rank " +
                  std::to_string(rank) + ". Allowed axis range is [" + std::to_string(-rank) +
                  ", " + std::to_string(rank) + ")");
        }
        if (shape[axis] % b != 0) return Mismatch(b, static_cast<size_t>(axis), shape);
        block[axis] = b;
        const int64_t other = 1 - axis;
        if (other < rank) block[other] = 1;
      } else {
        if (granularity.axis) {
          return NumericsStatus::Error(NumericsError::kBlockAxisInvalid,
                                       "axis must be None when block_size is a tuple");
        }
        if (static_cast<int64_t>(granularity.block_size.size()) != rank) {
          return NumericsStatus::Error(
              NumericsError::kBlockTupleRank,
              "block_size tuple has " + std::to_string(granularity.block_size.size()) +
                  " entries but the tensor has rank " + std::to_string(rank));
        }
        for (size_t d = 0; d < shape.size(); ++d) {
          const int64_t b = granularity.block_size[d];
          if (b == -1) continue;  // the whole dimension
          if (b <= 0) {
            return NumericsStatus::Error(
                NumericsError::kBlockSizeInvalid,
                "block_size entries must be > 0 or -1, got " + std::to_string(b));
          }
          if (shape[d] % b != 0) return Mismatch(b, d, shape);
          block[d] = b;
        }
      }
      break;
    }
  }
  layout->shape.assign(shape.begin(), shape.end());
  layout->qparam_shape.resize(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    // A zero-sized dimension is one (empty) block.
    layout->qparam_shape[d] = block[d] == 0 ? 1 : shape[d] / block[d];
    if (block[d] == 0) block[d] = 1;
  }
  layout->block_shape = std::move(block);
  return NumericsStatus::Ok();
}

// --- Range
// -----------------------------------------------------------------------------------------

BlockRange ComputeRangeReference(const BlockLayout& layout, std::span<const float> x,
                                 std::optional<float> float_range_min,
                                 std::optional<float> float_range_max) {
  assert(static_cast<int64_t>(x.size()) == layout.numel());
  const auto blocks = static_cast<size_t>(layout.num_blocks());
  std::vector<float> lo(blocks, std::numeric_limits<float>::infinity());
  std::vector<float> hi(blocks, -std::numeric_limits<float>::infinity());
  std::vector<bool> nan(blocks, false);
  for (size_t i = 0; i < x.size(); ++i) {
    const auto b = static_cast<size_t>(layout.BlockOf(static_cast<int64_t>(i)));
    if (std::isnan(x[i])) nan[b] = true;
    if (x[i] < lo[b]) lo[b] = x[i];
    if (x[i] > hi[b]) hi[b] = x[i];
  }
  BlockRange range;
  range.min.resize(blocks);
  range.max.resize(blocks);
  for (size_t b = 0; b < blocks; ++b) {
    const float observed_min = nan[b] ? std::numeric_limits<float>::quiet_NaN() : lo[b];
    const float observed_max = nan[b] ? std::numeric_limits<float>::quiet_NaN() : hi[b];
    range.min[b] = internal::ClampRangeMin(float_range_min ? *float_range_min : observed_min);
    range.max[b] = internal::ClampRangeMax(float_range_max ? *float_range_max : observed_max);
  }
  return range;
}

// --- QParams
// ---------------------------------------------------------------------------------------

namespace internal {

// §c.4 / §c.6 for n blocks (the spec decoded once, then one plain loop per formula).
// zero_point / minval are not written for floating dtypes.
void BlockQParams(const QuantizationSpec& spec, const float* mn, const float* mx, size_t n,
                  float* scale, int32_t* zero_point, float* minval) {
  constexpr float kEps = 0x1p-23f;
  if (IsFloatingDtype(spec.dtype)) {
    if (spec.EffectiveScaleDtype() != ScaleDtype::kFloat8E8m0fnu) {
      const float fp_max = FloatMax(spec.dtype);
      for (size_t b = 0; b < n; ++b) {
        const float m = NanMax(-mn[b], mx[b]);
        scale[b] = NanMax(m / fp_max, kEps);
      }
      return;
    }
    // OCP-MX FLOOR: the exponent field of max_abs, read from its bits (255 for inf / NaN).
    const int t = spec.dtype == Dtype::kFloat4E2m1fnX2 ? 2
                  : spec.dtype == Dtype::kFloat8E4m3fn ? 8
                                                       : 15;
    for (size_t b = 0; b < n; ++b) {
      const float max_abs = NanMax(std::fabs(mn[b]), std::fabs(mx[b]));
      uint32_t bits;
      std::memcpy(&bits, &max_abs, sizeof bits);
      const int e = static_cast<int>((bits >> 23) & 0xffu) - 127;
      const int e_s = std::clamp(e - t, -127, 128);
      scale[b] = NanMax(std::ldexp(1.0f, e_s), 0x1p-126f);
    }
    return;
  }
  const IntQParamsArgs a = IntQParamsArgsFor(spec);
  for (size_t b = 0; b < n; ++b) {
    IntQParamsOne(a, mn[b], mx[b], &scale[b], &zero_point[b], &minval[b]);
  }
}

IntQParamsArgs IntQParamsArgsFor(const QuantizationSpec& spec) {
  const IntRange q = QuantRange(spec.dtype, spec.qscheme);
  IntQParamsArgs a{};
  a.asymmetric = spec.qscheme == QScheme::kAsymmetric;
  a.has_range_min = spec.float_range_min.has_value();
  a.has_range_max = spec.float_range_max.has_value();
  a.range_min = spec.float_range_min.value_or(0.0f);
  a.range_max = spec.float_range_max.value_or(0.0f);
  a.steps = static_cast<float>(q.qmax - q.qmin);
  a.denominator = static_cast<float>(q.qmax - q.qmin) / 2.0f;  // exact
  a.qmin = static_cast<float>(q.qmin);
  a.qmax = static_cast<float>(q.qmax);
  a.symmetric_zero_point = (q.qmax + q.qmin + 1) / 2;  // C++ division truncates, as trunc()
  return a;
}

}  // namespace internal

QParams ComputeQParams(const QuantizationSpec& spec, const BlockRange& range,
                       std::span<const int64_t> qparam_shape) {
  assert(range.min.size() == range.max.size());
  const size_t blocks = range.min.size();
  QParams qp;
  qp.shape.assign(qparam_shape.begin(), qparam_shape.end());
  qp.scale.resize(blocks);
  if (!IsFloatingDtype(spec.dtype)) {
    qp.zero_point.resize(blocks);
    qp.minval.resize(blocks);
  }
  internal::BlockQParams(spec, range.min.data(), range.max.data(), blocks, qp.scale.data(),
                         qp.zero_point.data(), qp.minval.data());
  return qp;
}

// --- Kernels
// ---------------------------------------------------------------------------------------

QuantKernel QuantKernel::ForSpec(const QuantizationSpec& spec) {
  if (IsFloatingDtype(spec.dtype)) return Floating(spec.dtype);
  const IntRange q = QuantRange(spec.dtype, spec.qscheme);
  QuantKernel k = Integer(q.qmin, q.qmax, spec.qformulation);
  k.dtype = spec.dtype;
  return k;
}

QuantKernel QuantKernel::Integer(int32_t qmin, int32_t qmax, QFormulation formulation) {
  QuantKernel k;
  k.floating = false;
  k.formulation = formulation;
  k.qmin = qmin;
  k.qmax = qmax;
  return k;
}

QuantKernel QuantKernel::Floating(Dtype dtype) {
  assert(IsFloatingDtype(dtype));
  QuantKernel k;
  k.floating = true;
  k.dtype = dtype;
  k.fp_max = FloatMax(dtype);
  const IntRange q = QuantRange(dtype, QScheme::kSymmetric);
  k.qmin = q.qmin;
  k.qmax = q.qmax;
  return k;
}

float RoundToFloatFormat(Dtype dtype, float r) {
  const internal::FloatFormat f = internal::FormatOf(dtype);
  if (std::isnan(r) || r == 0.0f) return r;  // NaN as is; ±0 keeps its sign
  const float a = std::fabs(r);
  int e = 0;
  std::frexp(a, &e);  // a = m * 2^e, m in [0.5, 1): floor(log2 a) = e - 1
  const int exponent = std::max(e - 1, f.min_exponent);
  const float quantum = std::ldexp(1.0f, exponent - f.mantissa_bits);
  // a / quantum and the product are exact (powers of two); nearbyint rounds half to even, which
  // is the even encoding.
  const float v = std::nearbyint(a / quantum) * quantum;
  return std::copysign(v, r);
}

void FakeQuantizeReference(const QuantKernel& kernel, const BlockLayout& layout,
                           const QParams& qparams, std::span<const float> x, std::span<float> y,
                           std::span<uint8_t> ste_mask, std::span<float> codes) {
  assert(x.size() == y.size() && static_cast<int64_t>(x.size()) == layout.numel());
  assert(static_cast<int64_t>(qparams.scale.size()) == layout.num_blocks());
  assert(ste_mask.empty() || ste_mask.size() == x.size());
  assert(codes.empty() || codes.size() == x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const auto b = static_cast<size_t>(layout.BlockOf(static_cast<int64_t>(i)));
    const float scale = qparams.scale[b];
    float code;
    float out;
    bool in_range;
    if (!kernel.floating) {
      const bool zp = kernel.formulation == QFormulation::kZp;
      assert(zp ? qparams.zero_point.size() == qparams.scale.size()
                : qparams.minval.size() == qparams.scale.size());
      const float quant_offset =
          zp ? static_cast<float>(qparams.zero_point[b]) : static_cast<float>(kernel.qmin);
      const float float_offset = zp ? 0.0f : qparams.minval[b];
      const auto qmin = static_cast<float>(kernel.qmin);
      const auto qmax = static_cast<float>(kernel.qmax);
      float r = (x[i] - float_offset) / scale;
      r = std::nearbyint(r);  // round half to even (default rounding mode)
      r = r + quant_offset;
      in_range = r >= qmin && r <= qmax;
      r = internal::NanClamp(r, qmin, qmax);
      code = r;
      out = (r - quant_offset) * scale + float_offset;
    } else {
      float r = x[i] / scale;
      in_range = r >= -kernel.fp_max && r <= kernel.fp_max;
      r = internal::NanClamp(r, -kernel.fp_max, kernel.fp_max);
      const float v = RoundToFloatFormat(kernel.dtype, r);
      code = v;
      out = v * scale;
    }
    y[i] = out;
    if (!ste_mask.empty()) ste_mask[i] = in_range ? 1 : 0;
    if (!codes.empty()) codes[i] = code;
  }
}

}  // namespace qrules
