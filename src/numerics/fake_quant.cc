// The fast path: FakeQuantize and ComputeRange over a block layout, vectorized.
//
// A layout is first "coalesced": dims of size 1 are dropped, and a dim is merged into the one
// before it when it lies whole inside a block (or when both have block 1).  What remains is a list
// of (size, block) pairs whose last entry is the "row".  Along the row, qparams are constant over
// runs of `row_block` elements.  Long runs (per-tensor, per-channel on an outer axis, per-block
// along the last axis) go to a kernel with broadcast qparams; short runs (per-channel on the last
// axis, ...) go to a kernel that reads per-element qparam arrays expanded once for the row (and,
// when every outer dim lies whole inside the blocks, replicated over many rows so each call is
// long).
#include "qrules/fake_quant.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>
#include <vector>

#include "numerics/kernels.h"
#include "numerics/numerics_internal.h"

namespace qrules {
namespace internal {

float FastRoundToFormat(float r, uint32_t min_exponent_field, uint32_t mantissa_bits) {
  uint32_t bits;
  std::memcpy(&bits, &r, sizeof bits);
  const uint32_t sign = bits & 0x80000000u;
  const uint32_t abs_bits = bits & 0x7fffffffu;
  uint32_t e = abs_bits >> 23;
  e = e < min_exponent_field ? min_exponent_field : e;
  // c = 2^(e - 127 + 23 - m): ulp(c) is the format's quantum in this binade, so a + c rounds a
  // to a multiple of the quantum, ties to even; subtracting c is exact.
  const uint32_t c_bits = (e + 23 - mantissa_bits) << 23;
  float a, c;
  std::memcpy(&a, &abs_bits, sizeof a);
  std::memcpy(&c, &c_bits, sizeof c);
  const float v = (a + c) - c;
  uint32_t v_bits;
  std::memcpy(&v_bits, &v, sizeof v_bits);
  v_bits |= sign;
  float out;
  std::memcpy(&out, &v_bits, sizeof out);
  return out;
}

bool CpuHasAvx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool CpuHasAvx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
}

const KernelTable& BestKernels() {
  static const KernelTable* best = [] {
    const char* isa = std::getenv("QRULES_NUMERICS_ISA");
    const char* div = std::getenv("QRULES_NUMERICS_DIV");
    const std::string_view want = isa ? isa : "avx512";
    const bool avx512 = want == "avx512" && CpuHasAvx512();
    // The checked reciprocal pays with 16 lanes, {1to16} operands and mask-register flags; with
    // AVX2 or SSE it measured slower than divps on Zen 4 (per-block 32: 0.31x vs 0.52x with AVX2).
    const std::string_view chosen = div ? div : avx512 ? "checked" : "divps";
    const DivisionMethod method = chosen == "rcp64"     ? DivisionMethod::kReciprocal64
                                  : chosen == "checked" ? DivisionMethod::kCheckedReciprocal
                                                        : DivisionMethod::kDivide;
    if (avx512) return &Avx512Kernels(method);
    if (want != "sse" && CpuHasAvx2()) return &Avx2Kernels(method);
    return &SseKernels(method);
  }();
  return *best;
}

namespace {

constexpr int64_t kMinConstRun = 8;          // shorter runs use the per-element kernel
constexpr int64_t kColsMinRow = 32;          // rows at least this long use the column kernel
constexpr int64_t kColsTileElements = 1024;  // 4 KiB of x per column-kernel tile
// Beyond cache sizes the column walk defeats the prefetchers: stream row by row instead.
constexpr int64_t kColsMaxElements = int64_t{1} << 18;
constexpr int64_t kVarChunk = 256;  // elements per per-element kernel call (replicated rows)

struct Plan {
  std::vector<int64_t> outer_n, outer_b, outer_qstride;
  int64_t outer_rows = 1;
  bool outer_whole = true;  // every outer dim inside one block: qbase is always 0
  int64_t row_n = 1, row_b = 1;
};

Plan MakePlan(const BlockLayout& layout) {
  std::vector<int64_t> n, b;
  for (size_t d = 0; d < layout.shape.size(); ++d) {
    const int64_t size = layout.shape[d], block = layout.block_shape[d];
    if (size == 1) continue;
    if (!n.empty() && block == size) {  // whole inside the block: merge into the previous dim
      n.back() *= size;
      b.back() *= size;
    } else if (!n.empty() && block == 1 && b.back() == 1) {
      n.back() *= size;
    } else {
      n.push_back(size);
      b.push_back(block);
    }
  }
  Plan p;
  if (n.empty()) return p;
  p.row_n = n.back();
  p.row_b = b.back();
  n.pop_back();
  b.pop_back();
  // qparam strides (C order over n/b), the row's qparam stride is 1.
  int64_t stride = p.row_n / p.row_b;
  p.outer_qstride.resize(n.size());
  for (size_t d = n.size(); d-- > 0;) {
    p.outer_qstride[d] = stride;
    stride *= n[d] / b[d];
  }
  for (size_t d = 0; d < n.size(); ++d) {
    p.outer_rows *= n[d];
    if (b[d] != n[d]) p.outer_whole = false;
  }
  p.outer_n = std::move(n);
  p.outer_b = std::move(b);
  return p;
}

// Walks the outer rows in order, calling fn(row_index, qbase).
template <typename Fn>
void ForEachRow(const Plan& p, Fn&& fn) {
  std::vector<int64_t> idx(p.outer_n.size(), 0);
  int64_t qbase = 0;
  for (int64_t row = 0; row < p.outer_rows; ++row) {
    fn(row, qbase);
    for (size_t d = idx.size(); d-- > 0;) {  // increment the multi-index, keep qbase in step
      const int64_t old_block = idx[d] / p.outer_b[d];
      if (++idx[d] < p.outer_n[d]) {
        qbase += (idx[d] / p.outer_b[d] - old_block) * p.outer_qstride[d];
        break;
      }
      qbase -= old_block * p.outer_qstride[d];
      idx[d] = 0;
    }
  }
}

// The per-element qparam arrays of one row (length row_n), replicated `reps` times, in the folded
// integer form of kernels.h.
struct Expanded {
  std::vector<double> rcp;
  std::vector<float> scale, float_offset, lo, hi;
  std::vector<float> zh, zl;  // empty unless expanded with reciprocal pairs
  std::vector<float> recip;   // empty unless expanded for the checked reciprocal
  float near = 0.0f;
  int64_t qbase = -1;
  bool foldable = true;

  IntVarParams IntParams(bool zp) const {
    return {rcp.data(),
            scale.data(),
            float_offset.data(),
            lo.data(),
            hi.data(),
            zp,
            zh.empty() ? nullptr : zh.data(),
            zl.empty() ? nullptr : zl.data(),
            recip.empty() ? nullptr : recip.data(),
            near};
  }
};

// What the per-element qparam arrays carry besides scale and the folded bounds.
struct ExpandFor {
  bool rcp64;    // the float64 reciprocals (rcp64 tables)
  bool checked;  // RN32(1 / scale) and `near` (checked tables; integer kernels)
};

void Expand(const QuantKernel& k, const QParams& qp, int64_t qbase, int64_t row_n, int64_t row_b,
            int64_t reps, ExpandFor what, const BlockPairs* pairs, Expanded* e) {
  const auto len = static_cast<size_t>(row_n * reps);
  const bool need_rcp = what.rcp64;
  const bool checked = what.checked && !k.floating && pairs == nullptr;
  e->rcp.resize(need_rcp ? len : 0);
  e->zh.resize(pairs ? len : 0);
  e->zl.resize(pairs ? len : 0);
  e->recip.resize(checked ? len : 0);
  e->scale.resize(len);
  if (!k.floating) {
    e->float_offset.resize(len);
    e->lo.resize(len);
    e->hi.resize(len);
  }
  const bool zp = k.formulation == QFormulation::kZp;
  const auto qmin = static_cast<float>(k.qmin), qmax = static_cast<float>(k.qmax);
  bool covered = true;  // every scale within the checked reciprocal's range
  float bound = 0.0f;
  for (size_t i = 0; i < len; ++i) {
    const auto blk = static_cast<size_t>(qbase + (static_cast<int64_t>(i) % row_n) / row_b);
    const float scale = qp.scale[blk];
    if (need_rcp) e->rcp[i] = 1.0 / static_cast<double>(scale);
    if (pairs) {
      e->zh[i] = pairs->zh[blk];
      e->zl[i] = pairs->zl[blk];
    }
    if (checked) {
      e->recip[i] = 1.0f / scale;
      covered = covered && CheckedReciprocalApplies(scale);
    }
    e->scale[i] = scale;
    if (!k.floating) {
      const float qo = zp ? static_cast<float>(qp.zero_point[blk]) : qmin;
      e->float_offset[i] = zp ? 0.0f : qp.minval[blk];
      e->lo[i] = qmin - qo;
      e->hi[i] = qmax - qo;
      e->foldable = e->foldable && Foldable(qo, qmin, qmax);
      bound = std::max(bound, FoldedBound(e->lo[i], e->hi[i]));
    }
  }
  if (checked && (!covered || !e->foldable)) e->recip.clear();  // these rows divide
  e->near = NearHalfBound(bound);
  e->qbase = qbase;
}

}  // namespace
}  // namespace internal

namespace internal {

int64_t MakeBlockPairs(const QuantKernel& kernel, const QParams& qparams,
                       std::vector<float>* zh, std::vector<float>* zl) {
  zh->clear();
  zl->clear();
  if (kernel.floating) return 0;
  const bool zp = kernel.formulation == QFormulation::kZp;
  const size_t blocks = qparams.scale.size();
  if ((zp ? qparams.zero_point.size() : qparams.minval.size()) != blocks) return 0;
  const auto qmin = static_cast<float>(kernel.qmin), qmax = static_cast<float>(kernel.qmax);
  zh->assign(blocks, 0.0f);
  zl->assign(blocks, 0.0f);
  int64_t proven = 0;
  for (size_t b = 0; b < blocks; ++b) {
    const float qo = zp ? static_cast<float>(qparams.zero_point[b]) : qmin;
    if (!Foldable(qo, qmin, qmax)) continue;
    // The folded clamp range is [qmin - qo, qmax - qo] (kernels.h).
    const float bound = FoldedBound(qmin - qo, qmax - qo);
    ReciprocalPair pair;
    if (!FindExactReciprocalPair(qparams.scale[b], bound, &pair)) continue;
    (*zh)[b] = pair.zh;
    (*zl)[b] = pair.zl;
    ++proven;
  }
  return proven;
}

}  // namespace internal

PreparedQParams::PreparedQParams(const QuantKernel& kernel, QParams qparams)
    : qparams_(std::move(qparams)), kernel_(kernel) {
  proven_blocks_ = internal::MakeBlockPairs(kernel_, qparams_, &zh_, &zl_);
  if (proven_blocks_ == 0) {
    zh_.clear();
    zl_.clear();
  }
}

bool PreparedQParams::PreparedFor(const QuantKernel& k) const {
  return k.floating == kernel_.floating && k.formulation == kernel_.formulation &&
         k.qmin == kernel_.qmin && k.qmax == kernel_.qmax;
}

void FakeQuantize(const QuantKernel& kernel, const BlockLayout& layout,
                  const PreparedQParams& qparams, std::span<const float> x, std::span<float> y,
                  std::span<uint8_t> ste_mask) {
  const internal::KernelTable& kt = internal::BestKernels();
  if (qparams.multiplying_blocks() == 0 || !qparams.PreparedFor(kernel)) {
    internal::FakeQuantizeWith(kt, kernel, layout, qparams.qparams(), x, y, ste_mask);
    return;
  }
  const internal::BlockPairs pairs{qparams.reciprocal_high().data(),
                                   qparams.reciprocal_low().data(), qparams.multiplies()};
  internal::FakeQuantizeWith(kt, kernel, layout, qparams.qparams(), x, y, ste_mask, &pairs);
}

void FakeQuantize(const QuantKernel& kernel, const BlockLayout& layout, const QParams& qparams,
                  std::span<const float> x, std::span<float> y, std::span<uint8_t> ste_mask) {
  const internal::KernelTable& kt = internal::BestKernels();
  // Proving a block's pair costs ~0.2 µs, the division ~0.04 ns more per element than the
  // multiplication: blocks of 2^14 elements and more repay it within this call.
  constexpr int64_t kPairsPayFrom = int64_t{1} << 14;
  if (!kernel.floating && kt.division != internal::DivisionMethod::kReciprocal64 &&
      layout.numel() >= kPairsPayFrom * layout.num_blocks()) {
    std::vector<float> zh, zl;
    const int64_t proven = internal::MakeBlockPairs(kernel, qparams, &zh, &zl);
    if (proven > 0) {
      const internal::BlockPairs pairs{zh.data(), zl.data(),
                                       proven == static_cast<int64_t>(zh.size())};
      internal::FakeQuantizeWith(kt, kernel, layout, qparams, x, y, ste_mask, &pairs);
      return;
    }
  }
  internal::FakeQuantizeWith(kt, kernel, layout, qparams, x, y, ste_mask);
}

void internal::FakeQuantizeWith(const KernelTable& kt, const QuantKernel& kernel,
                                const BlockLayout& layout, const QParams& qparams,
                                std::span<const float> x, std::span<float> y,
                                std::span<uint8_t> ste_mask, const BlockPairs* pairs) {
  using namespace internal;
  // The pairs are used only by division tables (never with rcp64) and integer kernels; the
  // per-element kernels (short runs) need a pair for every block.
  if (kernel.floating || kt.division == DivisionMethod::kReciprocal64) pairs = nullptr;
  const BlockPairs* const lane_pairs = pairs && pairs->complete ? pairs : nullptr;

  assert(x.size() == y.size() && static_cast<int64_t>(x.size()) == layout.numel());
  assert(static_cast<int64_t>(qparams.scale.size()) == layout.num_blocks());
  assert(ste_mask.empty() || ste_mask.size() == x.size());
  assert(kernel.floating || (kernel.formulation == QFormulation::kZp
                                 ? qparams.zero_point.size() == qparams.scale.size()
                                 : qparams.minval.size() == qparams.scale.size()));
  if (x.empty()) return;
  const Plan plan = MakePlan(layout);
  const FloatFormat fmt = FormatOf(kernel.dtype);
  const auto min_e = static_cast<uint32_t>(fmt.min_exponent + 127);
  const auto mant = static_cast<uint32_t>(fmt.mantissa_bits);
  uint8_t* const mask = ste_mask.empty() ? nullptr : ste_mask.data();
  const float* const xs = x.data();
  float* const ys = y.data();
  const bool zp = kernel.formulation == QFormulation::kZp;
  const auto qmin = static_cast<float>(kernel.qmin), qmax = static_cast<float>(kernel.qmax);

  auto run_var = [&](int64_t off, int64_t n, const Expanded& e) {
    uint8_t* m = mask ? mask + off : nullptr;
    if (!kernel.floating) {
      kt.int_var(xs + off, ys + off, m, n, e.IntParams(zp));
    } else {
      const FpVarParams p{e.rcp.data(), e.scale.data(), kernel.fp_max, min_e, mant};
      kt.fp_var(xs + off, ys + off, m, n, p);
    }
  };

  const int64_t runs = plan.row_n / plan.row_b;
  if (runs == 1 || plan.row_b >= kMinConstRun) {
    ForEachRow(plan, [&](int64_t row, int64_t qbase) {
      const int64_t off = row * plan.row_n;
      uint8_t* m = mask ? mask + off : nullptr;
      const auto q = static_cast<size_t>(qbase);
      if (!kernel.floating) {
        const IntBlocks b{qparams.scale.data() + q,
                          zp ? qparams.zero_point.data() + q : nullptr,
                          zp ? nullptr : qparams.minval.data() + q,
                          qmin,
                          qmax,
                          zp,
                          pairs ? pairs->zh + q : nullptr,
                          pairs ? pairs->zl + q : nullptr};
        kt.int_const(xs + off, ys + off, m, plan.row_b, runs, b);
      } else {
        const FpBlocks b{qparams.scale.data() + q, kernel.fp_max, min_e, mant};
        kt.fp_const(xs + off, ys + off, m, plan.row_b, runs, b);
      }
    });
    return;
  }
  Expanded e;
  const ExpandFor need{kt.division == DivisionMethod::kReciprocal64,
                       kt.division == DivisionMethod::kCheckedReciprocal};
  if (plan.outer_whole) {
    // qparams depend only on the position in the row.
    if (plan.row_n >= kColsMinRow) {
      Expand(kernel, qparams, 0, plan.row_n, plan.row_b, 1, need, lane_pairs, &e);
      if (!e.foldable) {  // zero points beyond ±2^20: not produced by any calculator
        FakeQuantizeReference(kernel, layout, qparams, x, y, ste_mask);
        return;
      }
      const IntVarParams ip = e.IntParams(zp);
      const FpVarParams fp{e.rcp.data(), e.scale.data(), kernel.fp_max, min_e, mant};
      if (layout.numel() > kColsMaxElements) {
        // Beyond the caches: stream the rows in memory order (qparams reloaded from L1).
        if (!kernel.floating) {
          kt.int_rows(xs, ys, mask, plan.outer_rows, plan.row_n, ip);
        } else {
          kt.fp_rows(xs, ys, mask, plan.outer_rows, plan.row_n, fp);
        }
        return;
      }
      // In cache: column groups keep their qparams in registers down an L1-sized tile of rows.
      const int64_t tile = std::max<int64_t>(1, kColsTileElements / plan.row_n);
      for (int64_t row = 0; row < plan.outer_rows; row += tile) {
        const int64_t rows = std::min(tile, plan.outer_rows - row);
        const int64_t off = row * plan.row_n;
        uint8_t* m = mask ? mask + off : nullptr;
        if (!kernel.floating) {
          kt.int_cols(xs + off, ys + off, m, rows, plan.row_n, ip);
        } else {
          kt.fp_cols(xs + off, ys + off, m, rows, plan.row_n, fp);
        }
      }
      return;
    }
    // Short rows: replicate the row's qparams so that each call is long.
    const int64_t reps = std::max<int64_t>(1, kVarChunk / plan.row_n);
    Expand(kernel, qparams, 0, plan.row_n, plan.row_b, reps, need, lane_pairs, &e);
    if (!e.foldable) {
      FakeQuantizeReference(kernel, layout, qparams, x, y, ste_mask);
      return;
    }
    for (int64_t row = 0; row < plan.outer_rows; row += reps) {
      const int64_t rows = std::min(reps, plan.outer_rows - row);
      run_var(row * plan.row_n, rows * plan.row_n, e);
    }
    return;
  }
  ForEachRow(plan, [&](int64_t row, int64_t qbase) {
    if (e.qbase != qbase) {
      Expand(kernel, qparams, qbase, plan.row_n, plan.row_b, 1, need, lane_pairs, &e);
    }
    if (!e.foldable) {
      const auto n = static_cast<size_t>(plan.row_n), off = static_cast<size_t>(row) * n;
      const BlockLayout one = BlockLayout::PerTensor({1});
      for (size_t i = off; i < off + n; ++i) {  // the reference, element by element
        QParams single;
        const auto blk = static_cast<size_t>(qbase) + (i - off) / static_cast<size_t>(plan.row_b);
        single.scale = {qparams.scale[blk]};
        if (!kernel.floating) {
          single.zero_point = {zp ? qparams.zero_point[blk] : 0};
          single.minval = {zp ? 0.0f : qparams.minval[blk]};
        }
        FakeQuantizeReference(kernel, one, single, x.subspan(i, 1), y.subspan(i, 1),
                              ste_mask.empty() ? ste_mask : ste_mask.subspan(i, 1));
      }
      return;
    }
    run_var(row * plan.row_n, plan.row_n, e);
  });
}

namespace internal {

bool FusedStaticObserveQuantize(const QuantizationSpec& spec, const QuantKernel& kernel,
                                const BlockLayout& layout, std::span<const float> x,
                                std::span<float> y, std::span<uint8_t> ste_mask, BlockRange* range,
                                QParams* qparams) {
  const Plan plan = MakePlan(layout);
  const int64_t runs_per_row = plan.row_n / plan.row_b;
  for (int64_t b : plan.outer_b) {
    if (b != 1) return false;  // a block spans several rows
  }
  if (!(runs_per_row == 1 || plan.row_b >= kMinConstRun)) return false;
  // Every block is one run, and block k is the k-th run of row_b elements in memory.
  const KernelTable& kt = BestKernels();
  const int64_t run = plan.row_b;
  const int64_t total = plan.outer_rows * runs_per_row;
  const auto blocks = static_cast<size_t>(total);
  assert(static_cast<int64_t>(blocks) == layout.num_blocks());
  constexpr float kInf = std::numeric_limits<float>::infinity();
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  // Every entry is written chunk by chunk below (the range initialised while in cache), so
  // resize: assigning would write each array once more through memory.
  range->min.resize(blocks);
  range->max.resize(blocks);
  const bool floating = kernel.floating;
  qparams->shape = layout.qparam_shape;
  qparams->scale.resize(blocks);
  qparams->zero_point.resize(floating ? 0 : blocks);
  qparams->minval.resize(floating ? 0 : blocks);
  const FloatFormat fmt = FormatOf(kernel.dtype);
  const auto min_e = static_cast<uint32_t>(fmt.min_exponent + 127);
  const auto mant = static_cast<uint32_t>(fmt.mantissa_bits);
  const bool both_bounds = spec.float_range_min && spec.float_range_max;
  const IntQParamsArgs qargs = floating ? IntQParamsArgs{} : IntQParamsArgsFor(spec);
  // Chunks of about 32 KiB: reduce, compute their qparams, quantize while still in cache.
  const int64_t chunk = std::max<int64_t>(1, 8192 / run);
  std::vector<uint8_t> chunk_nan(static_cast<size_t>(chunk));  // the chunk's NaN flags
  for (int64_t k0 = 0; k0 < total; k0 += chunk) {
    const int64_t kn = std::min(chunk, total - k0);
    const auto b0 = static_cast<size_t>(k0);
    const int64_t off = k0 * run;
    std::fill(chunk_nan.begin(), chunk_nan.end(), uint8_t{0});
    uint8_t* const nan = chunk_nan.data();  // nan[b - b0] for block b
    std::fill_n(&range->min[b0], kn, kInf);
    std::fill_n(&range->max[b0], kn, -kInf);
    if (!both_bounds) {
      kt.minmax_runs(x.data() + off, run, kn, &range->min[b0], &range->max[b0], nan);
    }
    if (!floating) {  // vectorized: with short blocks this arithmetic outweighs the data pass
      kt.int_qparams(qargs, kn, &range->min[b0], &range->max[b0], nan, &qparams->scale[b0],
                     &qparams->zero_point[b0], &qparams->minval[b0]);
    } else {
      for (size_t b = b0; b < b0 + static_cast<size_t>(kn); ++b) {
        range->min[b] = ClampRangeMin(spec.float_range_min ? *spec.float_range_min
                                      : nan[b - b0]        ? kNan
                                                           : range->min[b]);
        range->max[b] = ClampRangeMax(spec.float_range_max ? *spec.float_range_max
                                      : nan[b - b0]        ? kNan
                                                           : range->max[b]);
      }
      BlockQParams(spec, &range->min[b0], &range->max[b0], static_cast<size_t>(kn),
                   &qparams->scale[b0], nullptr, nullptr);
    }
    uint8_t* m = ste_mask.empty() ? nullptr : ste_mask.data() + off;
    if (!floating) {
      const bool use_zp = kernel.formulation == QFormulation::kZp;
      const IntBlocks b{&qparams->scale[b0],
                        &qparams->zero_point[b0],
                        &qparams->minval[b0],
                        static_cast<float>(kernel.qmin),
                        static_cast<float>(kernel.qmax),
                        use_zp};
      kt.int_const(x.data() + off, y.data() + off, m, run, kn, b);
    } else {
      const FpBlocks b{&qparams->scale[b0], kernel.fp_max, min_e, mant};
      kt.fp_const(x.data() + off, y.data() + off, m, run, kn, b);
    }
  }
  return true;
}

}  // namespace internal

BlockRange ComputeRange(const BlockLayout& layout, std::span<const float> x,
                        std::optional<float> float_range_min,
                        std::optional<float> float_range_max) {
  using namespace internal;
  assert(static_cast<int64_t>(x.size()) == layout.numel());
  const auto blocks = static_cast<size_t>(layout.num_blocks());
  constexpr float kInf = std::numeric_limits<float>::infinity();
  std::vector<float> lo(blocks, kInf), hi(blocks, -kInf);
  std::vector<uint8_t> nan(blocks, 0);
  const KernelTable& kt = BestKernels();
  const Plan plan = MakePlan(layout);
  const int64_t runs = plan.row_n / plan.row_b;
  if (!x.empty() && !(float_range_min && float_range_max)) {
    if (runs == 1 || plan.row_b >= kMinConstRun) {
      ForEachRow(plan, [&](int64_t row, int64_t qbase) {
        const auto q = static_cast<size_t>(qbase);
        kt.minmax_runs(x.data() + row * plan.row_n, plan.row_b, runs, &lo[q], &hi[q], &nan[q]);
      });
    } else {
      // Element-wise accumulators for one row, folded into the blocks when qbase changes.
      const auto len = static_cast<size_t>(plan.row_n);
      std::vector<float> acc_lo(len, kInf), acc_hi(len, -kInf);
      std::vector<uint8_t> acc_nan(len, 0);
      int64_t acc_qbase = -1;
      auto flush = [&] {
        if (acc_qbase < 0) return;
        for (size_t i = 0; i < len; ++i) {
          const auto blk = static_cast<size_t>(acc_qbase + static_cast<int64_t>(i) / plan.row_b);
          lo[blk] = acc_lo[i] < lo[blk] ? acc_lo[i] : lo[blk];
          hi[blk] = acc_hi[i] > hi[blk] ? acc_hi[i] : hi[blk];
          nan[blk] |= acc_nan[i];
          acc_lo[i] = kInf;
          acc_hi[i] = -kInf;
          acc_nan[i] = 0;
        }
      };
      ForEachRow(plan, [&](int64_t row, int64_t qbase) {
        if (qbase != acc_qbase) {
          flush();
          acc_qbase = qbase;
        }
        kt.minmax_var(x.data() + row * plan.row_n, plan.row_n, acc_lo.data(), acc_hi.data(),
                      acc_nan.data());
      });
      flush();
    }
  }
  BlockRange range;
  range.min.resize(blocks);
  range.max.resize(blocks);
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  for (size_t b = 0; b < blocks; ++b) {
    range.min[b] = ClampRangeMin(float_range_min ? *float_range_min : nan[b] ? kNan : lo[b]);
    range.max[b] = ClampRangeMax(float_range_max ? *float_range_max : nan[b] ? kNan : hi[b]);
  }
  return range;
}

}  // namespace qrules
