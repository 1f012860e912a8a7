// Element-wise, activation, normalisation and reduction kernels.
#include <algorithm>
#include <cmath>
#include <limits>

#include <Eigen/Core>
#include <unsupported/Eigen/SpecialFunctions>

#include "exec/kernel_registry.h"
#include "exec/kernel_util.h"
#include "exec/vec.h"

namespace qrules::internal {
namespace {

using ArrayMap = Eigen::Map<Eigen::ArrayXf>;
using ConstArrayMap = Eigen::Map<const Eigen::ArrayXf>;

// ----- binary element-wise with numpy broadcasting -----

// kMod: ONNX Mod with fmod=0 (the result takes the divisor's sign, as Python's %); kFmod: fmod=1
// (C's fmod / %, the dividend's sign).  Comparisons and logic ops come last (kEqual onwards).
enum class BinOp { kAdd, kSub, kMul, kDiv, kPow, kMax, kMin, kMod, kFmod, kEqual, kLess, kGreater, kAnd, kOr };

template <typename T, typename F>
void BroadcastLoop(const Tensor& a, const T* pa, const Tensor& b, const T* pb,
                   const std::vector<int64_t>& oshape, auto* po, F f) {
  if (a.shape == b.shape) {
    const int64_t n = static_cast<int64_t>(CheckedNumel(oshape));
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    return;
  }
  ForEachBroadcastRow(oshape, BroadcastStrides(a.shape, oshape), BroadcastStrides(b.shape, oshape),
                      [&](int64_t oo, int64_t oa, int64_t ob, int64_t n, int64_t ia, int64_t ib) {
                        auto* o = po + oo;
                        const T* x = pa + oa;
                        const T* y = pb + ob;
                        if (ia == 1 && ib == 1) {
                          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
                        } else if (ia == 1 && ib == 0) {
                          const T yv = *y;
                          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
                        } else if (ia == 0 && ib == 1) {
                          const T xv = *x;
                          for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
                        } else {
                          for (int64_t i = 0; i < n; ++i) o[i] = f(x[i * ia], y[i * ib]);
                        }
                      });
}

template <typename T>
KStatus ApplyBinary(BinOp op, const Tensor& a, const T* pa, const Tensor& b, const T* pb,
                    const std::vector<int64_t>& oshape, Tensor* out) {
  const bool cmp = op == BinOp::kEqual || op == BinOp::kLess || op == BinOp::kGreater ||
                   op == BinOp::kAnd || op == BinOp::kOr;
  if (cmp) {
    KStatus st = AllocInt(out, oshape, ElementType::kBool);
    if (!st.empty()) return st;
    int64_t* po = out->i64.data();
    switch (op) {
      case BinOp::kEqual: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) -> int64_t { return x == y; }); break;
      case BinOp::kLess: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) -> int64_t { return x < y; }); break;
      case BinOp::kGreater: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) -> int64_t { return x > y; }); break;
      case BinOp::kAnd: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) -> int64_t { return x != 0 && y != 0; }); break;
      default: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) -> int64_t { return x != 0 || y != 0; }); break;
    }
    return {};
  }
  KStatus st = AllocLike(out, a, oshape);
  if (!st.empty()) return st;
  T* po;
  if constexpr (std::is_same_v<T, float>) po = out->f32.data();
  else po = out->i64.data();
  switch (op) {
    case BinOp::kAdd: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) { return x + y; }); break;
    case BinOp::kSub: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) { return x - y; }); break;
    case BinOp::kMul: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) { return x * y; }); break;
    case BinOp::kDiv:
      if constexpr (std::is_same_v<T, float>) {
        BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) { return x / y; });
      } else {
        for (int64_t v : b.i64)
          if (v == 0) return "integer division by zero";
        BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) {
          if (y == -1) return static_cast<T>(0 - static_cast<uint64_t>(x));  // no INT64_MIN / -1 trap
          return x / y;
        });
      }
      break;
    case BinOp::kPow:
      if constexpr (std::is_same_v<T, float>) {
        if (b.numel() == 1 && pb[0] == 2.0f) {
          BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T) { return x * x; });
        } else if (b.numel() == 1 && pb[0] == 0.5f) {
          BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T) { return std::sqrt(x); });
        } else {
          BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) { return std::pow(x, y); });
        }
      } else {
        BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) {
          double r = std::pow(static_cast<double>(x), static_cast<double>(y));
          if (!(r > -9.2e18 && r < 9.2e18)) return T{0};
          return static_cast<T>(r);
        });
      }
      break;
    case BinOp::kMax: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) { return x < y ? y : x; }); break;
    case BinOp::kMin: BroadcastLoop<T>(a, pa, b, pb, oshape, po, [](T x, T y) { return y < x ? y : x; }); break;
    case BinOp::kMod:
    case BinOp::kFmod: {
      const bool divisor_sign = op == BinOp::kMod;
      if constexpr (std::is_same_v<T, float>) {
        BroadcastLoop<T>(a, pa, b, pb, oshape, po, [divisor_sign](T x, T y) {
          T r = std::fmod(x, y);
          if (divisor_sign && r != 0 && ((r < 0) != (y < 0))) r += y;
          return r;
        });
      } else {
        for (int64_t v : b.i64)
          if (v == 0) return "integer modulo by zero";
        BroadcastLoop<T>(a, pa, b, pb, oshape, po, [divisor_sign](T x, T y) {
          if (y == -1) return T{0};  // no INT64_MIN % -1 trap
          T r = x % y;
          if (divisor_sign && r != 0 && ((r < 0) != (y < 0))) r += y;
          return r;
        });
      }
      break;
    }
    default: break;
  }
  return {};
}

// Float/int64 mixes (e.g. Pow with an int exponent) are promoted to float.
const float* AsFloat(const Tensor& t, std::vector<float>* scratch) {
  if (t.is_float()) return t.f32.data();
  scratch->resize(t.i64.size());
  for (size_t i = 0; i < t.i64.size(); ++i) (*scratch)[i] = static_cast<float>(t.i64[i]);
  return scratch->data();
}

KStatus Binary(BinOp op, const Tensor& a, const Tensor& b, Tensor* out,
               std::vector<float>* scratch_a, std::vector<float>* scratch_b) {
  std::vector<int64_t> oshape;
  if (!BroadcastShapes(a.shape, b.shape, &oshape)) {
    return "cannot broadcast " + ShapeString(a.shape) + " with " + ShapeString(b.shape);
  }
  if (a.is_float() == b.is_float()) {
    if (a.is_float()) return ApplyBinary<float>(op, a, a.f32.data(), b, b.f32.data(), oshape, out);
    return ApplyBinary<int64_t>(op, a, a.i64.data(), b, b.i64.data(), oshape, out);
  }
  const float* pa = AsFloat(a, scratch_a);
  const float* pb = AsFloat(b, scratch_b);
  // Result type follows the first operand (Pow's base); for others both are float after promotion.
  Tensor fa;  // type carrier only
  fa.type = ElementType::kFloat32;
  fa.shape = a.shape;
  Tensor fb;
  fb.type = ElementType::kFloat32;
  fb.shape = b.shape;
  KStatus st = ApplyBinary<float>(op, fa, pa, fb, pb, oshape, out);
  if (!st.empty() || !(op == BinOp::kPow && !a.is_float())) return st;
  // Integer base with float exponent: cast back.
  std::vector<float> f = std::move(out->f32);
  out->type = a.type;
  out->i64.resize(f.size());
  for (size_t i = 0; i < f.size(); ++i) out->i64[i] = static_cast<int64_t>(f[i]);
  out->f32.clear();
  return {};
}

class BinaryKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  explicit BinaryKernel(BinOp op) : op_(op) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[0] || !in[1]) return "expected two inputs";
    if (out[0] == in[0]) {  // in place: fine when the output has input 0's shape and type
      std::vector<int64_t> oshape;
      const bool cmp = op_ >= BinOp::kEqual;
      if (cmp || in[0]->is_float() != in[1]->is_float() ||
          !BroadcastShapes(in[0]->shape, in[1]->shape, &oshape) || oshape != in[0]->shape) {
        tmp_ = *in[0];
        return Binary(op_, tmp_, *in[1], out[0], &sa_, &sb_);
      }
    }
    return Binary(op_, *in[0], *in[1], out[0], &sa_, &sb_);
  }
  int InPlaceInput() const override { return 0; }

 private:
  Tensor tmp_;
  BinOp op_;
  std::vector<float> sa_, sb_;
};

// Max/Min/Sum/Mean over any number of inputs.
class VariadicKernel : public Kernel {
 public:
  VariadicKernel(BinOp op, bool mean) : op_(op), mean_(mean) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    std::vector<const Tensor*> xs;
    for (const Tensor* t : in)
      if (t) xs.push_back(t);
    if (xs.empty()) return "expected at least one input";
    if (xs.size() == 1) {
      *out[0] = *xs[0];
    } else {
      KStatus st = Binary(op_, *xs[0], *xs[1], out[0], &sa_, &sb_);
      if (!st.empty()) return st;
      for (size_t i = 2; i < xs.size(); ++i) {
        tmp_ = *out[0];
        st = Binary(op_, tmp_, *xs[i], out[0], &sa_, &sb_);
        if (!st.empty()) return st;
      }
    }
    if (mean_) {
      if (!out[0]->is_float()) return "Mean needs float inputs";
      const float inv = 1.0f / static_cast<float>(xs.size());
      for (float& v : out[0]->f32) v *= inv;
    }
    return {};
  }

 private:
  BinOp op_;
  bool mean_;
  Tensor tmp_;
  std::vector<float> sa_, sb_;
};

// ----- unary -----

enum class UnOp {
  kRelu, kLeakyRelu, kSigmoid, kHardSigmoid, kHardSwish, kTanh, kExp, kLog, kSqrt, kErf, kGelu,
  kGeluTanh, kNeg, kAbs, kReciprocal, kFloor, kCeil, kClip, kSoftplus, kNot, kSin, kCos, kElu,
  kRound
};

class UnaryKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  UnaryKernel(UnOp op, float alpha, float beta) : op_(op), alpha_(alpha), beta_(beta) {}
  int InPlaceInput() const override { return 0; }
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.empty() || !in[0]) return "missing input";
    const Tensor& x = *in[0];
    if (!x.is_float()) return RunInt(x, out[0]);
    KStatus st = AllocFloat(out[0], x.shape);
    if (!st.empty()) return st;
    const int64_t n = static_cast<int64_t>(x.f32.size());
    const float* px = x.f32.data();
    float* py = out[0]->f32.data();
    ConstArrayMap xa(px, n);
    ArrayMap ya(py, n);
    float lo = alpha_, hi = beta_;
    switch (op_) {
      case UnOp::kRelu: ya = xa.max(0.0f); break;
      case UnOp::kLeakyRelu:
        for (int64_t i = 0; i < n; ++i) py[i] = px[i] < 0 ? px[i] * alpha_ : px[i];
        break;
      case UnOp::kSigmoid: ya = xa.logistic(); break;
      case UnOp::kHardSigmoid: ya = (xa * alpha_ + beta_).max(0.0f).min(1.0f); break;
      case UnOp::kHardSwish: ya = xa * (xa * (1.0f / 6.0f) + 0.5f).max(0.0f).min(1.0f); break;
      case UnOp::kTanh: ya = xa.tanh(); break;
      case UnOp::kExp: ya = xa.exp(); break;
      case UnOp::kLog: ya = xa.log(); break;
      case UnOp::kSqrt: ya = xa.sqrt(); break;
      case UnOp::kErf: Vec().erf(px, py, n); break;
      case UnOp::kGelu: Vec().gelu(px, py, n); break;
      case UnOp::kGeluTanh:
        ya = 0.5f * xa * (1.0f + (0.7978845608028654f * (xa + 0.044715f * xa.cube())).tanh());
        break;
      case UnOp::kNeg: ya = -xa; break;
      case UnOp::kAbs: ya = xa.abs(); break;
      case UnOp::kReciprocal: ya = xa.inverse(); break;
      case UnOp::kFloor: ya = xa.floor(); break;
      case UnOp::kCeil: ya = xa.ceil(); break;
      case UnOp::kRound: ya = xa.rint(); break;
      case UnOp::kSin: ya = xa.sin(); break;
      case UnOp::kCos: ya = xa.cos(); break;
      case UnOp::kSoftplus:
        for (int64_t i = 0; i < n; ++i)
          py[i] = px[i] > 20.0f ? px[i] : std::log1p(std::exp(px[i]));
        break;
      case UnOp::kElu:
        for (int64_t i = 0; i < n; ++i) py[i] = px[i] < 0 ? alpha_ * std::expm1(px[i]) : px[i];
        break;
      case UnOp::kClip: {
        // Opset >= 11 takes min/max as optional inputs.
        double v;
        if (in.size() > 1 && in[1]) {
          if (!ReadScalar(*in[1], &v)) return "Clip min must be a scalar";
          lo = static_cast<float>(v);
        }
        if (in.size() > 2 && in[2]) {
          if (!ReadScalar(*in[2], &v)) return "Clip max must be a scalar";
          hi = static_cast<float>(v);
        }
        for (int64_t i = 0; i < n; ++i) py[i] = std::min(std::max(px[i], lo), hi);
        break;
      }
      case UnOp::kNot: return "Not needs a bool input";
    }
    return {};
  }

 private:
  KStatus RunInt(const Tensor& x, Tensor* y) {
    KStatus st = AllocInt(y, x.shape, x.type);
    if (!st.empty()) return st;
    for (size_t i = 0; i < x.i64.size(); ++i) {
      int64_t v = x.i64[i];
      switch (op_) {
        case UnOp::kNeg: v = static_cast<int64_t>(0 - static_cast<uint64_t>(v)); break;
        case UnOp::kAbs: v = v < 0 ? static_cast<int64_t>(0 - static_cast<uint64_t>(v)) : v; break;
        case UnOp::kRelu: v = std::max<int64_t>(v, 0); break;
        case UnOp::kNot: v = v == 0; break;
        case UnOp::kFloor: case UnOp::kCeil: case UnOp::kRound: break;
        default: return "this op needs a float input";
      }
      y->i64[i] = v;
    }
    return {};
  }

  UnOp op_;
  float alpha_, beta_;
};

// ----- Softmax / LogSoftmax -----

class SoftmaxKernel : public Kernel {
 public:
  SoftmaxKernel(int64_t axis, bool legacy, bool log) : axis_(axis), legacy_(legacy), log_(log) {}
  bool OverwritesOutputs() const override { return true; }
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    if (!x.is_float()) return "Softmax needs a float input";
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis;
    if (rank == 0) return "Softmax needs a tensor of rank >= 1";
    if (!NormalizeAxis(axis_, rank, &axis)) return "axis out of range";
    int64_t outer = 1, len = 1, inner = 1;
    for (int64_t i = 0; i < rank; ++i) {
      if (i < axis) outer *= x.shape[i];
      else if (i == axis || legacy_) len *= x.shape[i];
      else inner *= x.shape[i];
    }
    KStatus st = AllocFloat(out[0], x.shape);
    if (!st.empty()) return st;
    const float* px = x.f32.data();
    float* py = out[0]->f32.data();
    if (len == 0) return {};
    if (inner == 1) {  // the common case: contiguous rows, vectorised
      Vec().softmax_rows(px, py, outer, len, log_);
      return {};
    }
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t j = 0; j < inner; ++j) {
        const float* a = px + o * len * inner + j;
        float* b = py + o * len * inner + j;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t i = 0; i < len; ++i) m = std::max(m, a[i * inner]);
        float s = 0;
        for (int64_t i = 0; i < len; ++i) {
          float e = std::exp(a[i * inner] - m);
          b[i * inner] = e;
          s += e;
        }
        if (log_) {
          float ls = std::log(s);
          for (int64_t i = 0; i < len; ++i) b[i * inner] = a[i * inner] - m - ls;
        } else {
          float inv = 1.0f / s;
          for (int64_t i = 0; i < len; ++i) b[i * inner] *= inv;
        }
      }
    }
    return {};
  }

 private:
  int64_t axis_;
  bool legacy_, log_;
};

// ----- reductions -----

enum class RedOp { kSum, kMean, kMax, kMin, kProd, kL2, kSumSquare };

class ReduceKernel : public Kernel {
 public:
  ReduceKernel(RedOp op, std::vector<int64_t> axes, bool axes_from_input, bool keepdims,
               bool noop_with_empty_axes)
      : op_(op),
        axes_(std::move(axes)),
        axes_from_input_(axes_from_input),
        keepdims_(keepdims),
        noop_(noop_with_empty_axes) {}

  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    std::vector<int64_t> axes = axes_;
    if (axes_from_input_ && in.size() > 1 && in[1]) {
      if (!ReadInts(*in[1], &axes)) return "invalid axes input";
    }
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<bool> red(rank, false);
    if (axes.empty()) {
      if (noop_) {
        *out[0] = x;
        return {};
      }
      red.assign(rank, true);
    }
    for (int64_t a : axes) {
      int64_t n;
      if (!NormalizeAxis(a, rank, &n)) return "reduce axis " + std::to_string(a) + " out of range";
      red[n] = true;
    }
    std::vector<int64_t> oshape, kshape;
    int64_t count = 1;
    for (int64_t i = 0; i < rank; ++i) {
      if (red[i]) {
        count *= x.shape[i];
        kshape.push_back(1);
        if (keepdims_) oshape.push_back(1);
      } else {
        kshape.push_back(x.shape[i]);
        oshape.push_back(x.shape[i]);
      }
    }
    if (!x.is_float()) return ReduceInt(x, kshape, oshape, out[0]);
    KStatus st = AllocFloat(out[0], oshape);
    if (!st.empty()) return st;
    float* po = out[0]->f32.data();
    const float* px = x.f32.data();
    const size_t on = out[0]->f32.size();
    if ((op_ == RedOp::kMax || op_ == RedOp::kMin) && count == 0 && on > 0) {
      return "cannot take the max/min of an empty set";
    }
    float init = 0;
    if (op_ == RedOp::kMax) init = -std::numeric_limits<float>::infinity();
    if (op_ == RedOp::kMin) init = std::numeric_limits<float>::infinity();
    if (op_ == RedOp::kProd) init = 1;
    std::fill(po, po + on, init);
    std::vector<int64_t> sin(rank), sout = BroadcastStrides(kshape, x.shape);
    {
      int64_t s = 1;
      for (int64_t i = rank; i-- > 0;) {
        sin[i] = s;
        s *= x.shape[i];
      }
    }
    ForEachBroadcastRow(x.shape, sin, sout,
                        [&](int64_t, int64_t oa, int64_t ob, int64_t n, int64_t ia, int64_t ib) {
                          const float* a = px + oa;
                          float* b = po + ob;
                          for (int64_t i = 0; i < n; ++i) {
                            float v = a[i * ia];
                            float& r = b[i * ib];
                            switch (op_) {
                              case RedOp::kSum: case RedOp::kMean: r += v; break;
                              case RedOp::kMax: r = std::max(r, v); break;
                              case RedOp::kMin: r = std::min(r, v); break;
                              case RedOp::kProd: r *= v; break;
                              case RedOp::kL2: case RedOp::kSumSquare: r += v * v; break;
                            }
                          }
                        });
    if (op_ == RedOp::kMean) {
      const float inv = count == 0 ? std::numeric_limits<float>::quiet_NaN()
                                   : 1.0f / static_cast<float>(count);
      for (size_t i = 0; i < on; ++i) po[i] *= inv;
    } else if (op_ == RedOp::kL2) {
      for (size_t i = 0; i < on; ++i) po[i] = std::sqrt(po[i]);
    }
    return {};
  }

 private:
  KStatus ReduceInt(const Tensor& x, const std::vector<int64_t>& kshape,
                    const std::vector<int64_t>& oshape, Tensor* y) {
    KStatus st = AllocInt(y, oshape, x.type);
    if (!st.empty()) return st;
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    std::vector<int64_t> sin(rank), sout = BroadcastStrides(kshape, x.shape);
    int64_t s = 1;
    for (int64_t i = rank; i-- > 0;) {
      sin[i] = s;
      s *= x.shape[i];
    }
    int64_t init = 0;
    if (op_ == RedOp::kMax) init = std::numeric_limits<int64_t>::min();
    if (op_ == RedOp::kMin) init = std::numeric_limits<int64_t>::max();
    if (op_ == RedOp::kProd) init = 1;
    std::fill(y->i64.begin(), y->i64.end(), init);
    std::vector<int64_t> cnt(y->i64.size(), 0);
    ForEachBroadcastRow(x.shape, sin, sout,
                        [&](int64_t, int64_t oa, int64_t ob, int64_t n, int64_t ia, int64_t ib) {
                          for (int64_t i = 0; i < n; ++i) {
                            int64_t v = x.i64[oa + i * ia];
                            int64_t& r = y->i64[ob + i * ib];
                            ++cnt[ob + i * ib];
                            switch (op_) {
                              case RedOp::kMax: r = std::max(r, v); break;
                              case RedOp::kMin: r = std::min(r, v); break;
                              case RedOp::kProd: r *= v; break;
                              default: r += v; break;
                            }
                          }
                        });
    if (op_ == RedOp::kMean)
      for (size_t i = 0; i < cnt.size(); ++i)
        if (cnt[i]) y->i64[i] /= cnt[i];
    return {};
  }

  RedOp op_;
  std::vector<int64_t> axes_;
  bool axes_from_input_, keepdims_, noop_;
};

// ----- normalisation -----

class BatchNormKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  explicit BatchNormKernel(float eps) : eps_(eps) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 5) return "BatchNormalization expects 5 inputs";
    for (size_t i = 0; i < 5; ++i)
      if (!in[i] || !in[i]->is_float()) return "BatchNormalization needs float inputs";
    const Tensor& x = *in[0];
    if (x.shape.size() < 2) return "BatchNormalization input must have rank >= 2";
    const int64_t n = x.shape[0], c = x.shape[1];
    int64_t inner = 1;
    for (size_t i = 2; i < x.shape.size(); ++i) inner *= x.shape[i];
    for (size_t i = 1; i < 5; ++i) {
      if (in[i]->numel() != c) {
        return "BatchNormalization parameter " + std::to_string(i) + " has shape " +
               ShapeString(in[i]->shape) + ", expected [" + std::to_string(c) + "]";
      }
    }
    KStatus st = AllocFloat(out[0], x.shape);
    if (!st.empty()) return st;
    const float *scale = in[1]->f32.data(), *bias = in[2]->f32.data(),
                *mean = in[3]->f32.data(), *var = in[4]->f32.data();
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const float k = scale[ch] / std::sqrt(var[ch] + eps_);
        const float d = bias[ch] - mean[ch] * k;
        const int64_t off = (b * c + ch) * inner;
        ConstArrayMap xa(x.f32.data() + off, inner);
        ArrayMap ya(out[0]->f32.data() + off, inner);
        ya = xa * k + d;
      }
    }
    return {};
  }

 private:
  float eps_;
};

class LayerNormKernel : public Kernel {
 public:
  LayerNormKernel(int64_t axis, float eps) : axis_(axis), eps_(eps) {}
  bool OverwritesOutputs() const override { return true; }
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[0] || !in[1]) return "LayerNormalization expects X and Scale";
    const Tensor& x = *in[0];
    const Tensor& scale = *in[1];
    const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
    if (!x.is_float() || !scale.is_float() || (bias && !bias->is_float()))
      return "LayerNormalization needs float inputs";
    const int64_t rank = static_cast<int64_t>(x.shape.size());
    int64_t axis;
    if (!NormalizeAxis(axis_, rank, &axis)) return "axis out of range";
    int64_t outer = 1, len = 1;
    for (int64_t i = 0; i < rank; ++i) (i < axis ? outer : len) *= x.shape[i];
    const int64_t sn = scale.numel(), bn = bias ? bias->numel() : 0;
    if ((sn != len && sn != 1) || (bias && bn != len && bn != 1)) {
      return "LayerNormalization scale/bias shape does not match the normalized shape";
    }
    KStatus st = AllocFloat(out[0], x.shape);
    if (!st.empty()) return st;
    std::vector<int64_t> stat_shape(x.shape.begin(), x.shape.begin() + axis);
    stat_shape.resize(rank, 1);
    float* mean_out = nullptr;
    float* inv_out = nullptr;
    if (out.size() > 1 && out[1]) {
      st = AllocFloat(out[1], stat_shape);
      if (!st.empty()) return st;
      mean_out = out[1]->f32.data();
    }
    if (out.size() > 2 && out[2]) {
      st = AllocFloat(out[2], stat_shape);
      if (!st.empty()) return st;
      inv_out = out[2]->f32.data();
    }
    if (sn == len && (!bias || bn == len)) {  // per-element scale and bias: the common case
      Vec().layer_norm_rows(x.f32.data(), out[0]->f32.data(), outer, len, scale.f32.data(),
                            bias ? bias->f32.data() : nullptr, eps_, mean_out, inv_out);
      return {};
    }
    for (int64_t o = 0; o < outer; ++o) {
      ConstArrayMap xa(x.f32.data() + o * len, len);
      ArrayMap ya(out[0]->f32.data() + o * len, len);
      const float mean = len ? xa.mean() : 0.0f;
      const float var = len ? (xa - mean).square().mean() : 0.0f;
      const float inv = 1.0f / std::sqrt(var + eps_);
      if (mean_out) mean_out[o] = mean;
      if (inv_out) inv_out[o] = inv;
      if (sn == len) ya = (xa - mean) * inv * ConstArrayMap(scale.f32.data(), len);
      else ya = (xa - mean) * (inv * scale.f32[0]);
      if (bias) {
        if (bn == len) ya += ConstArrayMap(bias->f32.data(), len);
        else ya += bias->f32[0];
      }
    }
    return {};
  }

 private:
  int64_t axis_;
  float eps_;
};

class GlobalPoolKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  explicit GlobalPoolKernel(bool max) : max_(max) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    if (!x.is_float() || x.shape.size() < 2) return "global pooling needs a float [N,C,...] input";
    int64_t inner = 1;
    std::vector<int64_t> oshape = {x.shape[0], x.shape[1]};
    for (size_t i = 2; i < x.shape.size(); ++i) {
      inner *= x.shape[i];
      oshape.push_back(1);
    }
    KStatus st = AllocFloat(out[0], oshape);
    if (!st.empty()) return st;
    const int64_t rows = x.shape[0] * x.shape[1];
    if (inner == 0 && rows > 0) return "global pooling over an empty spatial extent";
    for (int64_t r = 0; r < rows; ++r) {
      ConstArrayMap xa(x.f32.data() + r * inner, inner);
      out[0]->f32[r] = max_ ? xa.maxCoeff() : xa.mean();
    }
    return {};
  }

 private:
  bool max_;
};

}  // namespace

std::unique_ptr<Kernel> CreateMathKernel(const KernelSpec& s, std::string* error) {
  const AttrMap& a = *s.attrs;
  const std::string_view op = s.op_type;
  static const std::pair<std::string_view, BinOp> kBinary[] = {
      {"Add", BinOp::kAdd},     {"Sub", BinOp::kSub},         {"Mul", BinOp::kMul},
      {"Div", BinOp::kDiv},     {"Pow", BinOp::kPow},         {"Equal", BinOp::kEqual},
      {"Less", BinOp::kLess},   {"Greater", BinOp::kGreater}, {"And", BinOp::kAnd},
      {"Or", BinOp::kOr}};
  for (const auto& [name, bop] : kBinary)
    if (op == name) return std::make_unique<BinaryKernel>(bop);
  if (op == "Mod") return std::make_unique<BinaryKernel>(a.Int("fmod", 0) != 0 ? BinOp::kFmod : BinOp::kMod);
  if (op == "Max") return std::make_unique<VariadicKernel>(BinOp::kMax, false);
  if (op == "Min") return std::make_unique<VariadicKernel>(BinOp::kMin, false);
  if (op == "Sum") return std::make_unique<VariadicKernel>(BinOp::kAdd, false);
  if (op == "Mean") return std::make_unique<VariadicKernel>(BinOp::kAdd, true);

  static const std::pair<std::string_view, UnOp> kUnary[] = {
      {"Relu", UnOp::kRelu},       {"Sigmoid", UnOp::kSigmoid},   {"Tanh", UnOp::kTanh},
      {"Exp", UnOp::kExp},         {"Log", UnOp::kLog},           {"Sqrt", UnOp::kSqrt},
      {"Erf", UnOp::kErf},         {"Neg", UnOp::kNeg},           {"Abs", UnOp::kAbs},
      {"Reciprocal", UnOp::kReciprocal}, {"Floor", UnOp::kFloor}, {"Ceil", UnOp::kCeil},
      {"Round", UnOp::kRound},     {"Softplus", UnOp::kSoftplus}, {"Not", UnOp::kNot},
      {"Sin", UnOp::kSin},         {"Cos", UnOp::kCos},           {"HardSwish", UnOp::kHardSwish}};
  for (const auto& [name, uop] : kUnary)
    if (op == name) return std::make_unique<UnaryKernel>(uop, 0.0f, 0.0f);
  if (op == "LeakyRelu")
    return std::make_unique<UnaryKernel>(UnOp::kLeakyRelu, a.Float("alpha", 0.01f), 0.0f);
  if (op == "Elu") return std::make_unique<UnaryKernel>(UnOp::kElu, a.Float("alpha", 1.0f), 0.0f);
  if (op == "HardSigmoid") {
    return std::make_unique<UnaryKernel>(UnOp::kHardSigmoid, a.Float("alpha", 0.2f),
                                         a.Float("beta", 0.5f));
  }
  if (op == "Gelu") {
    std::string approx = a.String("approximate", "none");
    if (approx != "none" && approx != "tanh") {
      *error = "Gelu approximate='" + approx + "' is not supported";
      return nullptr;
    }
    return std::make_unique<UnaryKernel>(approx == "tanh" ? UnOp::kGeluTanh : UnOp::kGelu, 0, 0);
  }
  if (op == "Clip") {
    return std::make_unique<UnaryKernel>(UnOp::kClip,
                                         a.Float("min", -std::numeric_limits<float>::infinity()),
                                         a.Float("max", std::numeric_limits<float>::infinity()));
  }
  if (op == "Softmax" || op == "LogSoftmax") {
    const bool legacy = s.opset < 13;
    return std::make_unique<SoftmaxKernel>(a.Int("axis", legacy ? 1 : -1), legacy,
                                           op == "LogSoftmax");
  }
  static const std::pair<std::string_view, RedOp> kReduce[] = {
      {"ReduceSum", RedOp::kSum},   {"ReduceMean", RedOp::kMean}, {"ReduceMax", RedOp::kMax},
      {"ReduceMin", RedOp::kMin},   {"ReduceProd", RedOp::kProd}, {"ReduceL2", RedOp::kL2},
      {"ReduceSumSquare", RedOp::kSumSquare}};
  for (const auto& [name, rop] : kReduce) {
    if (op != name) continue;
    // Axes moved from attribute to input: ReduceSum at opset 13, the others at opset 18.
    const bool from_input = rop == RedOp::kSum ? s.opset >= 13 : s.opset >= 18;
    return std::make_unique<ReduceKernel>(rop, a.Ints("axes"), from_input,
                                          a.Int("keepdims", 1) != 0,
                                          a.Int("noop_with_empty_axes", 0) != 0);
  }
  if (op == "BatchNormalization") {
    if (a.Int("training_mode", 0) != 0) {
      *error = "BatchNormalization in training mode is not supported";
      return nullptr;
    }
    return std::make_unique<BatchNormKernel>(a.Float("epsilon", 1e-5f));
  }
  if (op == "LayerNormalization") {
    return std::make_unique<LayerNormKernel>(a.Int("axis", -1), a.Float("epsilon", 1e-5f));
  }
  if (op == "GlobalAveragePool") return std::make_unique<GlobalPoolKernel>(false);
  if (op == "GlobalMaxPool") return std::make_unique<GlobalPoolKernel>(true);
  return nullptr;
}

}  // namespace qrules::internal
