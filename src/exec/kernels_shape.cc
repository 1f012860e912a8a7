// Data-movement and shape-computing kernels: Reshape, Flatten, Squeeze, Unsqueeze, Transpose,
// Concat, Split, Slice, Gather, Pad, Expand, Tile, Where, ScatterND, Shape, Size, Cast, Identity, Dropout,
// Constant, ConstantOfShape, Range.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "exec/kernel_registry.h"
#include "exec/kernel_util.h"

namespace qrules::internal {
namespace {

std::vector<int64_t> ContiguousStrides(std::span<const int64_t> shape) {
  std::vector<int64_t> s(shape.size());
  int64_t v = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = v;
    v *= shape[i];
  }
  return s;
}

// out[...] = in[base + sum(idx_i * strides_i)] over out_shape; works for float and int tensors.
void StridedCopy(const Tensor& in, int64_t base, std::vector<int64_t> strides,
                 std::span<const int64_t> out_shape, Tensor* out) {
  std::vector<int64_t> zero(out_shape.size(), 0);
  if (in.is_float()) {
    const float* src = in.f32.data() + base;
    float* dst = out->f32.data();
    ForEachBroadcastRow(out_shape, std::move(strides), zero,
                        [&](int64_t oo, int64_t oa, int64_t, int64_t n, int64_t ia, int64_t) {
                          if (ia == 1) CopyBytes(dst + oo, src + oa, sizeof(float) * n);
                          else for (int64_t i = 0; i < n; ++i) dst[oo + i] = src[oa + i * ia];
                        });
  } else {
    const int64_t* src = in.i64.data() + base;
    int64_t* dst = out->i64.data();
    ForEachBroadcastRow(out_shape, std::move(strides), zero,
                        [&](int64_t oo, int64_t oa, int64_t, int64_t n, int64_t ia, int64_t) {
                          for (int64_t i = 0; i < n; ++i) dst[oo + i] = src[oa + i * ia];
                        });
  }
}

KStatus CopyWithShape(const Tensor& x, std::vector<int64_t> shape, Tensor* y) {
  if (CheckedNumel(shape) != x.numel()) {
    return "cannot reshape " + ShapeString(x.shape) + " to " + ShapeString(shape);
  }
  if (y == &x) {  // in place: only the shape changes
    y->shape = std::move(shape);
    return {};
  }
  y->type = x.type;
  y->shape = std::move(shape);
  if (x.is_float()) {
    y->f32.assign(x.f32.begin(), x.f32.end());
    y->i64.clear();
  } else {
    y->i64.assign(x.i64.begin(), x.i64.end());
    y->f32.clear();
  }
  return {};
}

// Axes from an attribute (older opsets) or from input `index` (newer opsets).
KStatus AxesFrom(const std::vector<int64_t>& attr, std::span<const Tensor* const> in, size_t index,
                 std::vector<int64_t>* axes, bool* given) {
  *given = false;
  if (in.size() > index && in[index]) {
    if (!ReadInts(*in[index], axes)) return "invalid axes input";
    *given = true;
    return {};
  }
  *axes = attr;
  *given = !attr.empty();
  return {};
}

// ----- Reshape family -----

class ReshapeKernel : public Kernel {
 public:
  int InPlaceInput() const override { return 0; }
  explicit ReshapeKernel(bool allowzero) : allowzero_(allowzero) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[1]) return "Reshape expects a shape input";
    const Tensor& x = *in[0];
    std::vector<int64_t> shape;
    if (!ReadInts(*in[1], &shape)) return "invalid shape input";
    int64_t infer = -1, known = 1;
    for (size_t i = 0; i < shape.size(); ++i) {
      if (shape[i] == 0 && !allowzero_) {
        if (i >= x.shape.size()) return "Reshape 0 refers to a dim the input does not have";
        shape[i] = x.shape[i];
      }
      if (shape[i] == -1) {
        if (infer >= 0) return "Reshape shape has more than one -1";
        infer = static_cast<int64_t>(i);
      } else if (shape[i] < 0) {
        return "Reshape shape has a negative dim " + std::to_string(shape[i]);
      } else {
        if (__builtin_mul_overflow(known, shape[i], &known)) return "Reshape shape too large";
      }
    }
    if (infer >= 0) {
      if (known == 0 || x.numel() % known != 0) {
        return "cannot reshape " + ShapeString(x.shape) + " to " + ShapeString(shape);
      }
      shape[infer] = x.numel() / known;
    }
    return CopyWithShape(x, std::move(shape), out[0]);
  }

 private:
  bool allowzero_;
};

class FlattenKernel : public Kernel {
 public:
  int InPlaceInput() const override { return 0; }
  explicit FlattenKernel(int64_t axis) : axis_(axis) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    const int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t axis = axis_ < 0 ? axis_ + r : axis_;
    if (axis < 0 || axis > r) return "Flatten axis out of range";
    int64_t a = 1, b = 1;
    for (int64_t i = 0; i < r; ++i) (i < axis ? a : b) *= x.shape[i];
    return CopyWithShape(x, {a, b}, out[0]);
  }

 private:
  int64_t axis_;
};

class SqueezeKernel : public Kernel {
 public:
  int InPlaceInput() const override { return 0; }
  SqueezeKernel(bool unsqueeze, std::vector<int64_t> axes)
      : unsqueeze_(unsqueeze), axes_attr_(std::move(axes)) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    std::vector<int64_t> axes;
    bool given;
    KStatus st = AxesFrom(axes_attr_, in, 1, &axes, &given);
    if (!st.empty()) return st;
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> shape;
    if (unsqueeze_) {
      const int64_t orank = r + static_cast<int64_t>(axes.size());
      std::vector<bool> ins(orank, false);
      for (int64_t a : axes) {
        int64_t n;
        if (!NormalizeAxis(a, orank, &n) || ins[n]) return "Unsqueeze axes invalid";
        ins[n] = true;
      }
      size_t j = 0;
      for (int64_t i = 0; i < orank; ++i) shape.push_back(ins[i] ? 1 : x.shape[j++]);
    } else {
      std::vector<bool> rm(r, false);
      if (!given) {
        for (int64_t i = 0; i < r; ++i) rm[i] = x.shape[i] == 1;
      }
      for (int64_t a : axes) {
        int64_t n;
        if (!NormalizeAxis(a, r, &n)) return "Squeeze axis out of range";
        if (x.shape[n] != 1) {
          return "cannot squeeze dim " + std::to_string(n) + " of " + ShapeString(x.shape);
        }
        rm[n] = true;
      }
      for (int64_t i = 0; i < r; ++i)
        if (!rm[i]) shape.push_back(x.shape[i]);
    }
    return CopyWithShape(x, std::move(shape), out[0]);
  }

 private:
  bool unsqueeze_;
  std::vector<int64_t> axes_attr_;
};

class IdentityKernel : public Kernel {
 public:
  int InPlaceInput() const override { return 0; }
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.empty() || !in[0]) return "missing input";
    KStatus st = CopyWithShape(*in[0], in[0]->shape, out[0]);
    if (!st.empty()) return st;
    if (out.size() > 1 && out[1]) {  // Dropout mask: all kept
      st = AllocInt(out[1], in[0]->shape, ElementType::kBool);
      if (!st.empty()) return st;
      std::fill(out[1]->i64.begin(), out[1]->i64.end(), 1);
    }
    return {};
  }
};

// ----- Transpose -----

class TransposeKernel : public Kernel {
 public:
  explicit TransposeKernel(std::vector<int64_t> perm) : perm_(std::move(perm)) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    const size_t r = x.shape.size();
    std::vector<int64_t> perm = perm_;
    if (perm.empty()) {
      for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
    }
    if (perm.size() != r) return "Transpose perm does not match the input rank";
    std::vector<bool> seen(r, false);
    for (int64_t& p : perm) {
      int64_t n;
      if (!NormalizeAxis(p, static_cast<int64_t>(r), &n) || seen[n]) return "Transpose perm is not a permutation";
      seen[n] = true;
      p = n;
    }
    std::vector<int64_t> istr = ContiguousStrides(x.shape), oshape(r), ostr(r);
    for (size_t i = 0; i < r; ++i) {
      oshape[i] = x.shape[perm[i]];
      ostr[i] = istr[perm[i]];
    }
    KStatus st = AllocLike(out[0], x, oshape);
    if (!st.empty()) return st;
    if (x.is_float() && r >= 2 && ostr[r - 1] != 1 && TiledTranspose(x, oshape, ostr, out[0])) {
      return {};
    }
    StridedCopy(x, 0, ostr, oshape, out[0]);
    return {};
  }

 private:
  // When the output's innermost dim is strided in the input (a transpose of the last two dims
  // somewhere, e.g. the attention keys' [0,2,3,1]), the element-wise gather misses the cache
  // on every read: copy 16x16 tiles between that dim and the one that is contiguous in the
  // input instead.  False when no output dim is contiguous in the input.
  static bool TiledTranspose(const Tensor& x, const std::vector<int64_t>& oshape,
                             const std::vector<int64_t>& ostr, Tensor* y) {
    const size_t r = oshape.size();
    size_t q = r;
    for (size_t i = 0; i + 1 < r; ++i)
      if (ostr[i] == 1 && oshape[i] > 1) q = i;
    if (q == r) return false;
    for (int64_t d : oshape)
      if (d == 0) return true;  // nothing to copy (the odometer below visits one index)
    std::vector<int64_t> ocontig(r, 1);
    for (size_t i = r - 1; i-- > 0;) ocontig[i] = ocontig[i + 1] * oshape[i + 1];
    // The other dims, iterated as an odometer.
    std::vector<size_t> rest;
    for (size_t i = 0; i + 1 < r; ++i)
      if (i != q) rest.push_back(i);
    std::vector<int64_t> idx(rest.size(), 0);
    const int64_t rows = oshape[q], cols = oshape[r - 1];  // a 2-D out[rows][cols] per step
    const int64_t src_col = ostr[r - 1], dst_row = ocontig[q];
    const float* src0 = x.f32.data();
    float* dst0 = y->f32.data();
    constexpr int64_t kTile = 16;
    int64_t so = 0, dof = 0;
    for (;;) {
      for (int64_t a0 = 0; a0 < rows; a0 += kTile) {
        const int64_t a1 = std::min(rows, a0 + kTile);
        for (int64_t b0 = 0; b0 < cols; b0 += kTile) {
          const int64_t b1 = std::min(cols, b0 + kTile);
          for (int64_t a = a0; a < a1; ++a) {
            float* d = dst0 + dof + a * dst_row;
            const float* sp = src0 + so + a;
            for (int64_t b = b0; b < b1; ++b) d[b] = sp[b * src_col];
          }
        }
      }
      size_t k = rest.size();
      for (; k-- > 0;) {
        const size_t dim = rest[k];
        so += ostr[dim];
        dof += ocontig[dim];
        if (++idx[k] < oshape[dim]) break;
        so -= ostr[dim] * oshape[dim];
        dof -= ocontig[dim] * oshape[dim];
        idx[k] = 0;
      }
      if (k == static_cast<size_t>(-1)) break;
    }
    return true;
  }

  std::vector<int64_t> perm_;
};

// ----- Concat / Split -----

class ConcatKernel : public Kernel {
 public:
  explicit ConcatKernel(int64_t axis) : axis_(axis) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    std::vector<const Tensor*> xs;
    for (const Tensor* t : in)
      if (t) xs.push_back(t);
    if (xs.empty()) return "Concat expects inputs";
    const Tensor& f = *xs[0];
    const int64_t r = static_cast<int64_t>(f.shape.size());
    int64_t axis;
    if (!NormalizeAxis(axis_, r, &axis)) return "Concat axis out of range";
    std::vector<int64_t> oshape = f.shape;
    oshape[axis] = 0;
    for (const Tensor* t : xs) {
      if (t->shape.size() != f.shape.size() || t->is_float() != f.is_float()) {
        return "Concat inputs differ in rank or type";
      }
      for (int64_t i = 0; i < r; ++i) {
        if (i != axis && t->shape[i] != f.shape[i]) {
          return "Concat inputs differ outside the axis: " + ShapeString(f.shape) + " and " +
                 ShapeString(t->shape);
        }
      }
      oshape[axis] += t->shape[axis];
    }
    KStatus st = AllocLike(out[0], f, oshape);
    if (!st.empty()) return st;
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= f.shape[i];
    for (int64_t i = axis + 1; i < r; ++i) inner *= f.shape[i];
    const int64_t orow = oshape[axis] * inner;
    int64_t off = 0;
    for (const Tensor* t : xs) {
      const int64_t chunk = t->shape[axis] * inner;
      for (int64_t o = 0; o < outer; ++o) {
        if (f.is_float()) {
          CopyBytes(out[0]->f32.data() + o * orow + off, t->f32.data() + o * chunk, sizeof(float) * chunk);
        } else {
          CopyBytes(out[0]->i64.data() + o * orow + off, t->i64.data() + o * chunk, sizeof(int64_t) * chunk);
        }
      }
      off += chunk;
    }
    return {};
  }

 private:
  int64_t axis_;
};

class SplitKernel : public Kernel {
 public:
  SplitKernel(int64_t axis, std::vector<int64_t> split, int64_t num_outputs)
      : axis_(axis), split_attr_(std::move(split)), num_outputs_(num_outputs) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    const int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t axis;
    if (!NormalizeAxis(axis_, r, &axis)) return "Split axis out of range";
    std::vector<int64_t> split = split_attr_;
    if (in.size() > 1 && in[1] && !ReadInts(*in[1], &split)) return "invalid split input";
    const int64_t n = static_cast<int64_t>(out.size());
    const int64_t dim = x.shape[axis];
    if (split.empty()) {
      const int64_t parts = num_outputs_ > 0 ? num_outputs_ : n;
      const int64_t each = (dim + parts - 1) / parts;
      for (int64_t i = 0; i < parts; ++i) split.push_back(std::max<int64_t>(0, std::min(each, dim - i * each)));
    }
    int64_t total = 0;
    for (int64_t v : split) {
      if (v < 0) return "Split sizes must be non-negative";
      total += v;
    }
    if (static_cast<int64_t>(split.size()) != n || total != dim) {
      return "Split sizes do not add up to the dim (" + std::to_string(dim) + ")";
    }
    std::vector<int64_t> str = ContiguousStrides(x.shape);
    int64_t start = 0;
    for (int64_t i = 0; i < n; ++i) {
      std::vector<int64_t> shape = x.shape;
      shape[axis] = split[i];
      if (out[i]) {
        KStatus st = AllocLike(out[i], x, shape);
        if (!st.empty()) return st;
        StridedCopy(x, start * str[axis], str, shape, out[i]);
      }
      start += split[i];
    }
    return {};
  }

 private:
  int64_t axis_;
  std::vector<int64_t> split_attr_;
  int64_t num_outputs_;
};

// ----- Slice -----

class SliceKernel : public Kernel {
 public:
  SliceKernel(std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> axes)
      : starts_(std::move(starts)), ends_(std::move(ends)), axes_(std::move(axes)) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    std::vector<int64_t> starts = starts_, ends = ends_, axes = axes_, steps;
    if (in.size() > 1 && in[1] && !ReadInts(*in[1], &starts)) return "invalid starts";
    if (in.size() > 2 && in[2] && !ReadInts(*in[2], &ends)) return "invalid ends";
    if (in.size() > 3 && in[3] && !ReadInts(*in[3], &axes)) return "invalid axes";
    if (in.size() > 4 && in[4] && !ReadInts(*in[4], &steps)) return "invalid steps";
    if (starts.size() != ends.size()) return "Slice starts and ends differ in length";
    if (axes.empty())
      for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (axes.size() != starts.size() || steps.size() != starts.size())
      return "Slice axes/steps do not match starts";
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> oshape = x.shape, str = ContiguousStrides(x.shape), ostr = str;
    int64_t base = 0;
    std::vector<bool> seen(r, false);
    for (size_t i = 0; i < axes.size(); ++i) {
      int64_t ax;
      if (!NormalizeAxis(axes[i], r, &ax) || seen[ax]) return "Slice axes invalid";
      seen[ax] = true;
      const int64_t dim = x.shape[ax], step = steps[i];
      if (step == 0) return "Slice step must not be 0";
      int64_t s = starts[i], e = ends[i];
      if (s < 0) s = s < -dim ? 0 : s + dim;
      if (e < 0) e = e < -dim ? -1 : e + dim;
      int64_t cnt;
      if (step > 0) {
        s = std::clamp<int64_t>(s, 0, dim);
        e = std::clamp<int64_t>(e, 0, dim);
        cnt = e > s ? 1 + (e - s - 1) / step : 0;
      } else {
        s = std::clamp<int64_t>(s, -1, dim - 1);
        e = std::clamp<int64_t>(e, -1, dim - 1);
        const int64_t mag = step == INT64_MIN ? INT64_MAX : -step;
        cnt = s > e ? 1 + (s - e - 1) / mag : 0;
      }
      oshape[ax] = cnt;
      if (cnt > 0) base += s * str[ax];
      ostr[ax] = cnt > 1 ? str[ax] * step : 0;  // |step| < dim when cnt > 1: no overflow
    }
    KStatus st = AllocLike(out[0], x, oshape);
    if (!st.empty()) return st;
    if (CheckedNumel(oshape) > 0) StridedCopy(x, base, ostr, oshape, out[0]);
    return {};
  }

 private:
  std::vector<int64_t> starts_, ends_, axes_;
};

// ----- Gather -----

class GatherKernel : public Kernel {
 public:
  explicit GatherKernel(int64_t axis) : axis_(axis) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[1]) return "Gather expects indices";
    const Tensor& x = *in[0];
    const Tensor& idx = *in[1];
    if (idx.is_float()) return "Gather indices must be integers";
    const int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t axis;
    if (!NormalizeAxis(axis_, r, &axis)) return "Gather axis out of range";
    std::vector<int64_t> oshape(x.shape.begin(), x.shape.begin() + axis);
    oshape.insert(oshape.end(), idx.shape.begin(), idx.shape.end());
    oshape.insert(oshape.end(), x.shape.begin() + axis + 1, x.shape.end());
    const int64_t dim = x.shape[axis];
    int64_t outer = 1, inner = 1;
    for (int64_t i = 0; i < axis; ++i) outer *= x.shape[i];
    for (int64_t i = axis + 1; i < r; ++i) inner *= x.shape[i];
    KStatus st = AllocLike(out[0], x, oshape);
    if (!st.empty()) return st;
    const int64_t ni = static_cast<int64_t>(idx.i64.size());
    for (int64_t j = 0; j < ni; ++j) {
      int64_t v = idx.i64[j];
      if (v < -dim || v >= dim) {
        return "Gather index " + std::to_string(v) + " out of range for dim " + std::to_string(dim);
      }
    }
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < ni; ++j) {
        int64_t v = idx.i64[j];
        if (v < 0) v += dim;
        const int64_t src = (o * dim + v) * inner, dst = (o * ni + j) * inner;
        if (x.is_float()) CopyBytes(out[0]->f32.data() + dst, x.f32.data() + src, sizeof(float) * inner);
        else CopyBytes(out[0]->i64.data() + dst, x.i64.data() + src, sizeof(int64_t) * inner);
      }
    }
    return {};
  }

 private:
  int64_t axis_;
};

// ----- Pad -----

class PadKernel : public Kernel {
 public:
  PadKernel(std::string mode, std::vector<int64_t> pads, float value)
      : mode_(std::move(mode)), pads_attr_(std::move(pads)), value_attr_(value) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    const int64_t r = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> pads = pads_attr_;
    if (in.size() > 1 && in[1] && !ReadInts(*in[1], &pads)) return "invalid pads input";
    double value = value_attr_;
    if (in.size() > 2 && in[2] && in[2]->numel() > 0 && !ReadScalar(*in[2], &value))
      return "Pad constant_value must be a scalar";
    std::vector<int64_t> axes;
    if (in.size() > 3 && in[3]) {
      if (!ReadInts(*in[3], &axes)) return "invalid axes input";
    } else {
      for (int64_t i = 0; i < r; ++i) axes.push_back(i);
    }
    const size_t na = axes.size();
    if (pads.size() != 2 * na) return "Pad pads must have 2 values per axis";
    std::vector<int64_t> pb(r, 0), pe(r, 0);
    for (size_t i = 0; i < na; ++i) {
      int64_t ax;
      if (!NormalizeAxis(axes[i], r, &ax)) return "Pad axis out of range";
      pb[ax] = pads[i];
      pe[ax] = pads[i + na];
    }
    std::vector<int64_t> oshape(r);
    for (int64_t i = 0; i < r; ++i) {
      if (__builtin_add_overflow(x.shape[i], pb[i], &oshape[i]) ||
          __builtin_add_overflow(oshape[i], pe[i], &oshape[i]) || oshape[i] > kMaxElements) {
        return "Pad output too large";
      }
      if (oshape[i] < 0) return "Pad removes more than the dim holds";
      if (mode_ != "constant" && oshape[i] > 0 && x.shape[i] == 0) return "cannot pad an empty dim in this mode";
      if (mode_ == "reflect" && (pb[i] >= x.shape[i] || pe[i] >= x.shape[i]) && (pb[i] > 0 || pe[i] > 0))
        return "reflect padding must be smaller than the dim";
    }
    KStatus st = AllocLike(out[0], x, oshape);
    if (!st.empty()) return st;
    const int64_t n = CheckedNumel(oshape);
    std::vector<int64_t> istr = ContiguousStrides(x.shape), idx(r, 0);
    for (int64_t o = 0; o < n; ++o) {
      int64_t src = 0;
      bool outside = false;
      for (int64_t d = 0; d < r; ++d) {
        int64_t i = idx[d] - pb[d];
        const int64_t dim = x.shape[d];
        if (i < 0 || i >= dim) {
          if (mode_ == "constant") {
            outside = true;
            break;
          }
          if (mode_ == "edge") i = i < 0 ? 0 : dim - 1;
          else i = i < 0 ? -i : 2 * (dim - 1) - i;  // reflect
        }
        src += i * istr[d];
      }
      if (x.is_float()) out[0]->f32[o] = outside ? static_cast<float>(value) : x.f32[src];
      else out[0]->i64[o] = outside ? static_cast<int64_t>(value) : x.i64[src];
      for (int64_t d = r; d-- > 0;) {
        if (++idx[d] < oshape[d]) break;
        idx[d] = 0;
      }
    }
    return {};
  }

 private:
  std::string mode_;
  std::vector<int64_t> pads_attr_;
  float value_attr_;
};

// ----- Expand / Tile / Where -----

class ExpandKernel : public Kernel {
 public:
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[1]) return "Expand expects a shape";
    const Tensor& x = *in[0];
    std::vector<int64_t> shape, oshape;
    if (!ReadInts(*in[1], &shape)) return "invalid shape input";
    if (!BroadcastShapes(x.shape, shape, &oshape)) {
      return "cannot expand " + ShapeString(x.shape) + " to " + ShapeString(shape);
    }
    KStatus st = AllocLike(out[0], x, oshape);
    if (!st.empty()) return st;
    StridedCopy(x, 0, BroadcastStrides(x.shape, oshape), oshape, out[0]);
    return {};
  }
};

class TileKernel : public Kernel {
 public:
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[1]) return "Tile expects repeats";
    const Tensor& x = *in[0];
    std::vector<int64_t> rep;
    if (!ReadInts(*in[1], &rep) || rep.size() != x.shape.size()) return "Tile repeats must match the rank";
    std::vector<int64_t> oshape(x.shape.size());
    for (size_t i = 0; i < rep.size(); ++i) {
      if (rep[i] < 0) return "Tile repeats must be non-negative";
      if (__builtin_mul_overflow(x.shape[i], rep[i], &oshape[i])) return "Tile output too large";
    }
    KStatus st = AllocLike(out[0], x, oshape);
    if (!st.empty()) return st;
    const int64_t n = CheckedNumel(oshape);
    const size_t r = oshape.size();
    std::vector<int64_t> istr = ContiguousStrides(x.shape), idx(r, 0);
    for (int64_t o = 0; o < n; ++o) {
      int64_t src = 0;
      for (size_t d = 0; d < r; ++d) src += (idx[d] % x.shape[d]) * istr[d];
      if (x.is_float()) out[0]->f32[o] = x.f32[src];
      else out[0]->i64[o] = x.i64[src];
      for (size_t d = r; d-- > 0;) {
        if (++idx[d] < oshape[d]) break;
        idx[d] = 0;
      }
    }
    return {};
  }
};

class WhereKernel : public Kernel {
 public:
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 3 || !in[0] || !in[1] || !in[2]) return "Where expects 3 inputs";
    const Tensor &c = *in[0], &a = *in[1], &b = *in[2];
    if (c.is_float() || a.is_float() != b.is_float()) return "Where input types do not fit";
    std::vector<int64_t> s1, oshape;
    if (!BroadcastShapes(c.shape, a.shape, &s1) || !BroadcastShapes(s1, b.shape, &oshape))
      return "Where inputs do not broadcast";
    KStatus st = AllocLike(out[0], a, oshape);
    if (!st.empty()) return st;
    std::vector<int64_t> sc = BroadcastStrides(c.shape, oshape), sa = BroadcastStrides(a.shape, oshape),
                         sb = BroadcastStrides(b.shape, oshape);
    const size_t r = oshape.size();
    std::vector<int64_t> idx(r, 0);
    const int64_t n = CheckedNumel(oshape);
    int64_t oc = 0, oa = 0, ob = 0;
    for (int64_t o = 0; o < n; ++o) {
      const bool t = c.i64[oc] != 0;
      if (a.is_float()) out[0]->f32[o] = t ? a.f32[oa] : b.f32[ob];
      else out[0]->i64[o] = t ? a.i64[oa] : b.i64[ob];
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        oc += sc[d];
        oa += sa[d];
        ob += sb[d];
        if (idx[d] < oshape[d]) break;
        oc -= sc[d] * oshape[d];
        oa -= sa[d] * oshape[d];
        ob -= sb[d] * oshape[d];
        idx[d] = 0;
      }
    }
    return {};
  }
};

// ScatterND: a copy of data with `updates` written (or combined, by `reduction`) at the index
// tuples of the last axis of `indices`: data [r dims], indices [q dims, last = k <= r],
// updates = indices.shape[:-1] + data.shape[k:].  Negative indices count from the end.
class ScatterNDKernel : public Kernel {
 public:
  explicit ScatterNDKernel(std::string reduction) : reduction_(std::move(reduction)) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 3 || !in[0] || !in[1] || !in[2]) return "ScatterND expects 3 inputs";
    const Tensor &data = *in[0], &indices = *in[1], &updates = *in[2];
    if (indices.is_float() || data.is_float() != updates.is_float()) return "ScatterND input types do not fit";
    if (indices.shape.empty()) return "ScatterND indices need at least one axis";
    const auto k = static_cast<size_t>(indices.shape.back());
    if (k < 1 || k > data.shape.size()) return "ScatterND index tuples longer than the data's rank";
    std::vector<int64_t> want(indices.shape.begin(), indices.shape.end() - 1);
    want.insert(want.end(), data.shape.begin() + static_cast<std::ptrdiff_t>(k), data.shape.end());
    if (updates.shape != want) {
      return "ScatterND updates have shape " + ShapeString(updates.shape) + ", expected " + ShapeString(want);
    }
    KStatus st = AllocLike(out[0], data, data.shape);
    if (!st.empty()) return st;
    if (data.is_float()) {
      out[0]->f32 = data.f32;
    } else {
      out[0]->i64 = data.i64;
    }
    int64_t slice = 1;  // elements per index tuple
    for (size_t d = k; d < data.shape.size(); ++d) slice *= data.shape[d];
    std::vector<int64_t> stride(k, slice);
    for (size_t d = k - 1; d-- > 0;) stride[d] = stride[d + 1] * data.shape[d + 1];
    const int64_t tuples = static_cast<int64_t>(indices.i64.size()) / static_cast<int64_t>(k);
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t offset = 0;
      for (size_t d = 0; d < k; ++d) {
        int64_t i = indices.i64[static_cast<size_t>(t) * k + d];
        if (i < 0) i += data.shape[d];
        if (i < 0 || i >= data.shape[d]) return "ScatterND index out of range";
        offset += i * stride[d];
      }
      const int64_t from = t * slice;
      if (data.is_float()) {
        if (!Combine(out[0]->f32, updates.f32, offset, from, slice)) return "unknown ScatterND reduction '" + reduction_ + "'";
      } else {
        if (!Combine(out[0]->i64, updates.i64, offset, from, slice)) return "unknown ScatterND reduction '" + reduction_ + "'";
      }
    }
    return {};
  }

 private:
  template <typename T>
  bool Combine(std::vector<T>& dst, const std::vector<T>& src, int64_t at, int64_t from, int64_t n) const {
    T* d = dst.data() + at;
    const T* u = src.data() + from;
    if (reduction_ == "none") {
      std::copy(u, u + n, d);
    } else if (reduction_ == "add") {
      for (int64_t i = 0; i < n; ++i) d[i] += u[i];
    } else if (reduction_ == "mul") {
      for (int64_t i = 0; i < n; ++i) d[i] *= u[i];
    } else if (reduction_ == "max") {
      for (int64_t i = 0; i < n; ++i) d[i] = d[i] < u[i] ? u[i] : d[i];
    } else if (reduction_ == "min") {
      for (int64_t i = 0; i < n; ++i) d[i] = u[i] < d[i] ? u[i] : d[i];
    } else {
      return false;
    }
    return true;
  }
  std::string reduction_;
};

// ----- Shape, Size, Cast, constants, Range -----

class ShapeKernel : public Kernel {
 public:
  ShapeKernel(int64_t start, std::optional<int64_t> end) : start_(start), end_(end) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    const int64_t r = static_cast<int64_t>(x.shape.size());
    int64_t s = start_ < 0 ? start_ + r : start_;
    int64_t e = end_ ? (*end_ < 0 ? *end_ + r : *end_) : r;
    s = std::clamp<int64_t>(s, 0, r);
    e = std::clamp<int64_t>(e, s, r);
    KStatus st = AllocInt(out[0], {e - s});
    if (!st.empty()) return st;
    std::copy(x.shape.begin() + s, x.shape.begin() + e, out[0]->i64.begin());
    return {};
  }

 private:
  int64_t start_;
  std::optional<int64_t> end_;
};

class SizeKernel : public Kernel {
 public:
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    KStatus st = AllocInt(out[0], {});
    if (!st.empty()) return st;
    out[0]->i64[0] = in[0]->numel();
    return {};
  }
};

// ONNX TensorProto.DataType codes.
bool OnnxTypeToElement(int64_t code, ElementType* t) {
  switch (code) {
    case 1: case 10: case 11: case 16: *t = ElementType::kFloat32; return true;  // float, f16, f64, bf16
    case 7: case 12: case 13: *t = ElementType::kInt64; return true;             // int64, uint32, uint64
    case 6: case 5: case 4: *t = ElementType::kInt32; return true;               // int32, int16, uint16
    case 3: *t = ElementType::kInt8; return true;
    case 2: *t = ElementType::kUint8; return true;
    case 9: *t = ElementType::kBool; return true;
    default: return false;
  }
}

int64_t NarrowInt(int64_t v, ElementType t) {
  switch (t) {
    case ElementType::kInt32: return static_cast<int32_t>(static_cast<uint32_t>(v));
    case ElementType::kInt8: return static_cast<int8_t>(static_cast<uint8_t>(v));
    case ElementType::kUint8: return static_cast<uint8_t>(v);
    case ElementType::kBool: return v != 0;
    default: return v;
  }
}

class CastKernel : public Kernel {
 public:
  explicit CastKernel(ElementType to) : to_(to) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    Tensor* y = out[0];
    if (to_ == ElementType::kFloat32) {
      KStatus st = AllocFloat(y, x.shape);
      if (!st.empty()) return st;
      if (x.is_float()) std::copy(x.f32.begin(), x.f32.end(), y->f32.begin());
      else for (size_t i = 0; i < x.i64.size(); ++i) y->f32[i] = static_cast<float>(x.i64[i]);
      return {};
    }
    KStatus st = AllocInt(y, x.shape, to_);
    if (!st.empty()) return st;
    if (x.is_float()) {
      for (size_t i = 0; i < x.f32.size(); ++i) {
        const float f = x.f32[i];
        int64_t v;
        if (to_ == ElementType::kBool) v = f != 0.0f;
        else if (!(f > -9.2e18f && f < 9.2e18f)) v = 0;  // NaN / out of range: undefined in ONNX
        else v = static_cast<int64_t>(f);
        y->i64[i] = NarrowInt(v, to_);
      }
    } else {
      for (size_t i = 0; i < x.i64.size(); ++i) y->i64[i] = NarrowInt(x.i64[i], to_);
    }
    return {};
  }

 private:
  ElementType to_;
};

class ConstantKernel : public Kernel {
 public:
  explicit ConstantKernel(Tensor value) : value_(std::move(value)) {}
  KStatus Run(std::span<const Tensor* const>, std::span<Tensor* const> out) override {
    *out[0] = value_;
    return {};
  }

 private:
  Tensor value_;
};

class ConstantOfShapeKernel : public Kernel {
 public:
  explicit ConstantOfShapeKernel(Tensor value) : value_(std::move(value)) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    std::vector<int64_t> shape;
    if (!ReadInts(*in[0], &shape)) return "invalid shape input";
    KStatus st = AllocLike(out[0], value_, shape);
    if (!st.empty()) return st;
    if (value_.is_float()) std::fill(out[0]->f32.begin(), out[0]->f32.end(), value_.f32[0]);
    else std::fill(out[0]->i64.begin(), out[0]->i64.end(), value_.i64[0]);
    return {};
  }

 private:
  Tensor value_;
};

class RangeKernel : public Kernel {
 public:
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 3 || !in[0] || !in[1] || !in[2]) return "Range expects start, limit, delta";
    double s, l, d;
    if (!ReadScalar(*in[0], &s) || !ReadScalar(*in[1], &l) || !ReadScalar(*in[2], &d))
      return "Range inputs must be scalars";
    if (!std::isfinite(s) || !std::isfinite(l) || !std::isfinite(d) || std::abs(s) > 9e18 ||
        std::abs(d) > 9e18) {
      return "Range inputs out of range";
    }
    if (d == 0) return "Range delta must not be 0";
    const double cnt = std::max(0.0, std::ceil((l - s) / d));
    if (!(cnt <= static_cast<double>(kMaxElements))) return "Range output too large";
    const int64_t n = static_cast<int64_t>(cnt);
    KStatus st = AllocLike(out[0], *in[0], {n});
    if (!st.empty()) return st;
    for (int64_t i = 0; i < n; ++i) {
      if (in[0]->is_float()) out[0]->f32[i] = static_cast<float>(s + static_cast<double>(i) * d);
      else out[0]->i64[i] = static_cast<int64_t>(static_cast<uint64_t>(static_cast<int64_t>(s)) +
                                                 static_cast<uint64_t>(i) * static_cast<uint64_t>(static_cast<int64_t>(d)));
    }
    return {};
  }
};

// The value of a Constant node from whichever attribute holds it.
bool ConstantValue(const AttrMap& a, Tensor* t) {
  if (const AttrValue* v = a.Find("value")) {
    if (v->kind != AttrValue::Kind::kTensor) return false;
    *t = v->t;
    return DataConsistent(*t);
  }
  if (const AttrValue* v = a.Find("value_float")) {
    *t = Tensor::Float({}, {v->f});
    return true;
  }
  if (const AttrValue* v = a.Find("value_floats")) {
    *t = Tensor::Float({static_cast<int64_t>(v->floats.size())}, v->floats);
    return true;
  }
  if (const AttrValue* v = a.Find("value_int")) {
    *t = Tensor::Int64({}, {v->i});
    return true;
  }
  if (const AttrValue* v = a.Find("value_ints")) {
    *t = Tensor::Int64({static_cast<int64_t>(v->ints.size())}, v->ints);
    return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<Kernel> CreateShapeKernel(const KernelSpec& s, std::string* error) {
  const AttrMap& a = *s.attrs;
  const std::string_view op = s.op_type;
  if (op == "Reshape") return std::make_unique<ReshapeKernel>(a.Int("allowzero", 0) != 0);
  if (op == "Flatten") return std::make_unique<FlattenKernel>(a.Int("axis", 1));
  if (op == "Squeeze") return std::make_unique<SqueezeKernel>(false, a.Ints("axes"));
  if (op == "Unsqueeze") {
    if (!a.Has("axes") && s.num_inputs < 2) {
      *error = "Unsqueeze needs axes";
      return nullptr;
    }
    return std::make_unique<SqueezeKernel>(true, a.Ints("axes"));
  }
  if (op == "Identity" || op == "Dropout") return std::make_unique<IdentityKernel>();
  if (op == "Transpose") return std::make_unique<TransposeKernel>(a.Ints("perm"));
  if (op == "Concat") {
    if (!a.Has("axis")) {
      *error = "Concat needs an axis";
      return nullptr;
    }
    return std::make_unique<ConcatKernel>(a.Int("axis", 0));
  }
  if (op == "Split") {
    return std::make_unique<SplitKernel>(a.Int("axis", 0), a.Ints("split"), a.Int("num_outputs", 0));
  }
  if (op == "Slice") return std::make_unique<SliceKernel>(a.Ints("starts"), a.Ints("ends"), a.Ints("axes"));
  if (op == "Gather") return std::make_unique<GatherKernel>(a.Int("axis", 0));
  if (op == "Pad") {
    std::string mode = a.String("mode", "constant");
    if (mode != "constant" && mode != "reflect" && mode != "edge") {
      *error = "Pad mode '" + mode + "' is not supported";
      return nullptr;
    }
    return std::make_unique<PadKernel>(mode, a.Ints("pads"), a.Float("value", 0.0f));
  }
  if (op == "Expand") return std::make_unique<ExpandKernel>();
  if (op == "Tile") return std::make_unique<TileKernel>();
  if (op == "Where") return std::make_unique<WhereKernel>();
  if (op == "ScatterND") return std::make_unique<ScatterNDKernel>(a.String("reduction", "none"));
  if (op == "Shape") {
    std::optional<int64_t> end;
    if (a.Has("end")) end = a.Int("end", 0);
    return std::make_unique<ShapeKernel>(a.Int("start", 0), end);
  }
  if (op == "Size") return std::make_unique<SizeKernel>();
  if (op == "Cast") {
    ElementType t;
    if (!OnnxTypeToElement(a.Int("to", 0), &t)) {
      *error = "Cast to ONNX type " + std::to_string(a.Int("to", 0)) + " is not supported";
      return nullptr;
    }
    return std::make_unique<CastKernel>(t);
  }
  if (op == "Constant") {
    Tensor t;
    if (!ConstantValue(a, &t)) {
      *error = "Constant has no usable value attribute";
      return nullptr;
    }
    return std::make_unique<ConstantKernel>(std::move(t));
  }
  if (op == "ConstantOfShape") {
    Tensor t = Tensor::Float({1}, {0.0f});
    if (a.Has("value") && (!ConstantValue(a, &t) || t.numel() != 1)) {
      *error = "ConstantOfShape value must hold one element";
      return nullptr;
    }
    return std::make_unique<ConstantOfShapeKernel>(std::move(t));
  }
  if (op == "Range") return std::make_unique<RangeKernel>();
  return nullptr;
}

}  // namespace qrules::internal
