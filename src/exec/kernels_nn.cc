// GEMM-based and windowed kernels: Gemm, MatMul, Conv, ConvTranspose, pools, Resize.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "exec/kernel_registry.h"
#include "exec/kernel_util.h"
#include "exec/vec.h"

namespace qrules::internal {
namespace {

void Relu(Tensor* t) {
  for (float& v : t->f32) v = std::max(v, 0.0f);
}

// ----- Gemm / MatMul -----

class GemmKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  GemmKernel(float alpha, float beta, bool ta, bool tb)
      : alpha_(alpha), beta_(beta), ta_(ta), tb_(tb) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[0] || !in[1]) return "Gemm expects inputs A and B";
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    const Tensor* c = in.size() > 2 ? in[2] : nullptr;
    if (!a.is_float() || !b.is_float() || (c && !c->is_float())) return "Gemm needs float inputs";
    if (a.shape.size() != 2 || b.shape.size() != 2) {
      return "Gemm needs 2-D A and B, got " + ShapeString(a.shape) + " and " +
             ShapeString(b.shape);
    }
    const int64_t m = ta_ ? a.shape[1] : a.shape[0];
    const int64_t k = ta_ ? a.shape[0] : a.shape[1];
    const int64_t kb = tb_ ? b.shape[1] : b.shape[0];
    const int64_t n = tb_ ? b.shape[0] : b.shape[1];
    if (k != kb) {
      return "Gemm inner dimensions differ: A " + ShapeString(a.shape) + ", B " +
             ShapeString(b.shape);
    }
    KStatus st = AllocFloat(out[0], {m, n});
    if (!st.empty()) return st;
    float* y = out[0]->f32.data();
    float beta = 0.0f;
    if (c && beta_ != 0.0f) {
      std::vector<int64_t> bs;
      const std::vector<int64_t> mn = {m, n};
      if (!BroadcastShapes(c->shape, mn, &bs) || bs != std::vector<int64_t>{m, n}) {
        return "Gemm C of shape " + ShapeString(c->shape) + " does not broadcast to [" +
               std::to_string(m) + "," + std::to_string(n) + "]";
      }
      const float* pc = c->f32.data();
      const int64_t cn = c->numel();
      if (cn == m * n) {
        CopyBytes(y, pc, sizeof(float) * m * n);
      } else if (cn == 1) {
        std::fill(y, y + m * n, pc[0]);
      } else if (c->shape.back() == n && cn == n) {
        for (int64_t i = 0; i < m; ++i) CopyBytes(y + i * n, pc, sizeof(float) * n);
      } else {  // [m,1]
        for (int64_t i = 0; i < m; ++i) std::fill(y + i * n, y + (i + 1) * n, pc[i]);
      }
      beta = beta_;
    }
    Sgemm(ta_, tb_, m, n, k, alpha_, a.f32.data(), a.shape[1], b.f32.data(), b.shape[1], beta, y,
          n);
    if (relu_) Relu(out[0]);
    return {};
  }

  bool SetFusedRelu(bool on) override {
    relu_ = on;
    return true;
  }

 private:
  float alpha_, beta_;
  bool ta_, tb_;
  bool relu_ = false;
};

// MatMul with numpy semantics; also "linear" from builder models (weight [out,in], y = x W^T + b).
class MatMulKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  // `divisor_input`: input 2 is a rank-0 divisor of the product (CreateScaledMatMulKernel), not a
  // linear bias.
  MatMulKernel(bool linear_t, bool divisor_input)
      : linear_t_(linear_t), divisor_input_(divisor_input) {}
  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[0] || !in[1]) return "MatMul expects two inputs";
    const Tensor& a = *in[0];
    const Tensor& b = *in[1];
    if (!a.is_float() || !b.is_float()) return "MatMul needs float inputs";
    if (a.shape.empty() || b.shape.empty()) return "MatMul inputs must have rank >= 1";
    std::vector<int64_t> as = a.shape, bs = b.shape;
    const bool a1 = as.size() == 1, b1 = bs.size() == 1;
    if (a1) as.insert(as.begin(), 1);
    if (b1) bs.push_back(1);
    if (linear_t_ && !b1) std::swap(bs[bs.size() - 1], bs[bs.size() - 2]);
    const int64_t m = as[as.size() - 2], k = as.back();
    const int64_t kb = bs[bs.size() - 2], n = bs.back();
    if (k != kb) {
      return "MatMul inner dimensions differ: " + ShapeString(a.shape) + " and " +
             ShapeString(b.shape);
    }
    std::vector<int64_t> abatch(as.begin(), as.end() - 2), bbatch(bs.begin(), bs.end() - 2);
    std::vector<int64_t> obatch;
    if (!BroadcastShapes(abatch, bbatch, &obatch)) {
      return "MatMul batch dimensions do not broadcast: " + ShapeString(a.shape) + " and " +
             ShapeString(b.shape);
    }
    std::vector<int64_t> oshape = obatch;
    if (!a1) oshape.push_back(m);
    if (!b1) oshape.push_back(n);
    KStatus st = AllocFloat(out[0], oshape);
    if (!st.empty()) return st;
    float* y = out[0]->f32.data();
    const bool tb = linear_t_ && !b1;
    const int64_t ldb = tb ? k : n;
    const int64_t bnum = CheckedNumel(bbatch);
    const int64_t onum = CheckedNumel(obatch);
    // Product / divisor as alpha = 1 / divisor in the GEMM, or as a division afterwards where
    // 1 / divisor is not a finite float (x * inf is not x / denormal).
    float alpha = 1.0f, divide_after = 1.0f;
    if (divisor_input_) {
      const Tensor* c = in.size() > 2 ? in[2] : nullptr;
      if (!c || !c->is_float() || !c->shape.empty() || c->f32.size() != 1) {
        return "MatMul divisor must be a float scalar";
      }
      const float inv = 1.0f / c->f32[0];
      if (std::isfinite(inv) && c->f32[0] != 0.0f) alpha = inv;
      else divide_after = c->f32[0];
    }
    float beta = 0.0f;
    if (!divisor_input_ && in.size() > 2 && in[2]) {  // linear bias over the last dim
      const Tensor& bias = *in[2];
      if (!bias.is_float() || bias.numel() != n) return "linear bias must have shape [out]";
      const int64_t rows = onum * m;
      for (int64_t r = 0; r < rows; ++r) CopyBytes(y + r * n, bias.f32.data(), sizeof(float) * n);
      beta = 1.0f;
    }
    if (bnum == 1) {  // one B for every batch: fold A's batch into M when A is contiguous
      const int64_t anum = CheckedNumel(abatch);
      if (anum == onum) {
        Sgemm(false, tb, onum * m, n, k, alpha, a.f32.data(), k, b.f32.data(), ldb, beta, y, n);
        Finish(divide_after, out[0]);
        return {};
      }
    }
    std::vector<int64_t> sa = BroadcastStrides(abatch, obatch);
    std::vector<int64_t> sb = BroadcastStrides(bbatch, obatch);
    // Iterate over batch indices.
    const size_t r = obatch.size();
    std::vector<int64_t> idx(r, 0);
    int64_t oa = 0, ob = 0;
    for (int64_t i = 0; i < onum; ++i) {
      Sgemm(false, tb, m, n, k, alpha, a.f32.data() + oa * m * k, k, b.f32.data() + ob * k * n, ldb,
            beta, y + i * m * n, n);
      for (size_t d = r; d-- > 0;) {
        ++idx[d];
        oa += sa[d];
        ob += sb[d];
        if (idx[d] < obatch[d]) break;
        oa -= sa[d] * obatch[d];
        ob -= sb[d] * obatch[d];
        idx[d] = 0;
      }
    }
    Finish(divide_after, out[0]);
    return {};
  }

  bool SetFusedRelu(bool on) override {
    relu_ = on;
    return true;
  }

 private:
  void Finish(float divisor, Tensor* y) const {
    if (divisor != 1.0f)
      for (float& v : y->f32) v /= divisor;
    if (relu_) Relu(y);
  }

  bool linear_t_;
  bool divisor_input_;
  bool relu_ = false;
};

// ----- window geometry shared by Conv, ConvTranspose and the pools -----

// Window parameters beyond 2^31 are rejected so that their arithmetic cannot overflow.
bool TooBig(int64_t v) { return v > (int64_t{1} << 31) || v < -(int64_t{1} << 31); }

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;  // pads: begins then ends
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
};

Window ReadWindow(const AttrMap& a) {
  Window w;
  w.kernel = a.Ints("kernel_shape");
  w.strides = a.Ints("strides");
  w.dilations = a.Ints("dilations");
  w.pads = a.Ints("pads");
  w.auto_pad = a.String("auto_pad", "NOTSET");
  w.ceil_mode = a.Int("ceil_mode", 0) != 0;
  return w;
}

// Resolves the window for `nsp` spatial dims of `in` (and kernel dims from the weight when the
// attribute is absent); computes output sizes.  Empty string on success.
KStatus ResolveWindow(const Window& w, std::span<const int64_t> in, std::span<const int64_t> kdims,
                      std::vector<int64_t>* k, std::vector<int64_t>* s, std::vector<int64_t>* d,
                      std::vector<int64_t>* pb, std::vector<int64_t>* pe,
                      std::vector<int64_t>* out) {
  const size_t n = in.size();
  *k = w.kernel.empty() ? std::vector<int64_t>(kdims.begin(), kdims.end()) : w.kernel;
  *s = w.strides.empty() ? std::vector<int64_t>(n, 1) : w.strides;
  *d = w.dilations.empty() ? std::vector<int64_t>(n, 1) : w.dilations;
  if (k->size() != n || s->size() != n || d->size() != n) {
    return "kernel_shape/strides/dilations do not match the " + std::to_string(n) +
           " spatial dims of the input";
  }
  if (!w.pads.empty() && w.pads.size() != 2 * n) return "pads must have 2 values per spatial dim";
  pb->assign(n, 0);
  pe->assign(n, 0);
  out->assign(n, 0);
  constexpr int64_t kLimit = int64_t{1} << 31;  // keeps the window arithmetic far from overflow
  for (size_t i = 0; i < n; ++i) {
    if ((*k)[i] <= 0 || (*s)[i] <= 0 || (*d)[i] <= 0) return "kernel, strides and dilations must be positive";
    if ((*k)[i] > kLimit || (*s)[i] > kLimit || (*d)[i] > kLimit ||
        (!w.pads.empty() && (TooBig(w.pads[i]) || TooBig(w.pads[i + n])))) {
      return "kernel, strides, dilations or pads are too large";
    }
    if (!kdims.empty() && kdims[i] != (*k)[i]) return "kernel_shape does not match the weight";
    const int64_t ext = ((*k)[i] - 1) * (*d)[i] + 1;
    if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") {
      const int64_t o = (in[i] + (*s)[i] - 1) / (*s)[i];
      const int64_t total = std::max<int64_t>(0, (o - 1) * (*s)[i] + ext - in[i]);
      (*pb)[i] = w.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      (*pe)[i] = total - (*pb)[i];
      (*out)[i] = o;
      continue;
    }
    if (w.auto_pad == "NOTSET" && !w.pads.empty()) {
      (*pb)[i] = w.pads[i];
      (*pe)[i] = w.pads[i + n];
      if ((*pb)[i] < 0 || (*pe)[i] < 0) return "negative pads are not supported";
    }
    const int64_t span = in[i] + (*pb)[i] + (*pe)[i] - ext;
    if (span < 0) {
      return "the window (extent " + std::to_string(ext) + ") is larger than the padded input (" +
             std::to_string(in[i] + (*pb)[i] + (*pe)[i]) + ")";
    }
    int64_t o = span / (*s)[i] + 1;
    if (w.ceil_mode) {
      o = (span + (*s)[i] - 1) / (*s)[i] + 1;
      if ((o - 1) * (*s)[i] >= in[i] + (*pb)[i]) --o;  // last window must start inside
    }
    (*out)[i] = o;
  }
  return {};
}

bool ValidAutoPad(const std::string& p) {
  return p == "NOTSET" || p == "VALID" || p == "SAME_UPPER" || p == "SAME_LOWER";
}

// ----- Conv -----

// Largest C*KH*KW that Vec().conv_small_k takes (DirectConv).
constexpr int64_t kDirectMaxTaps = 288;

// im2col buffer shared by all convolutions of the thread (only one runs at a time).
std::vector<float>& ConvScratch() {
  thread_local std::vector<float> buf;
  return buf;
}

// Grows the scratch to at least `n` floats; never shrinks it, so alternating sizes do not
// zero-fill the regrown part on every call.
std::vector<float>& GrowScratch(size_t n) {
  std::vector<float>& buf = ConvScratch();
  if (buf.size() < n) buf.resize(n);
  return buf;
}

class ConvKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  ConvKernel(Window w, int64_t group) : w_(std::move(w)), group_(group) {}
  // Folds BatchNormalization inputs 3-6 with this epsilon (CreateConvBatchNormKernel).
  void SetFoldBatchNorm(float epsilon) {
    fold_bn_ = true;
    bn_epsilon_ = epsilon;
  }
  void StatesChanged() override { folded_for_.clear(); }

  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[0] || !in[1]) return "Conv expects X and W";
    const Tensor& x = *in[0];
    const Tensor* wt_in = in[1];
    const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
    if (fold_bn_) {
      KStatus st = FoldBatchNorm(in);
      if (!st.empty()) return st;
      wt_in = &folded_w_;
      bias = &folded_b_;
    }
    const Tensor& wt = *wt_in;
    if (!x.is_float() || !wt.is_float() || (bias && !bias->is_float())) return "Conv needs float inputs";
    const size_t rank = x.shape.size();
    if (rank != 3 && rank != 4) return "Conv supports 1-D and 2-D inputs, got " + ShapeString(x.shape);
    if (wt.shape.size() != rank) return "Conv weight rank does not match the input";
    const int64_t nb = x.shape[0], c = x.shape[1], m = wt.shape[0];
    const int64_t g = group_;
    if (c % g != 0 || m % g != 0 || wt.shape[1] * g != c) {
      return "Conv channels do not fit: input " + ShapeString(x.shape) + ", weight " +
             ShapeString(wt.shape) + ", group " + std::to_string(g);
    }
    if (bias && bias->numel() != m) return "Conv bias must have " + std::to_string(m) + " elements";
    // Treat 1-D as 2-D with H = 1.
    std::vector<int64_t> sp(x.shape.begin() + 2, x.shape.end());
    std::vector<int64_t> kd(wt.shape.begin() + 2, wt.shape.end());
    std::vector<int64_t> k, s, d, pb, pe, o;
    KStatus st = ResolveWindow(w_, sp, kd, &k, &s, &d, &pb, &pe, &o);
    if (!st.empty()) return st;
    std::vector<int64_t> oshape = {nb, m};
    oshape.insert(oshape.end(), o.begin(), o.end());
    if (rank == 3) {
      for (auto* v : {&sp, &k, &s, &d, &o}) v->insert(v->begin(), 1);
      pb.insert(pb.begin(), 0);
      pe.insert(pe.begin(), 0);
    }
    const int64_t h = sp[0], wd = sp[1], kh = k[0], kw = k[1], oh = o[0], ow = o[1];
    st = AllocFloat(out[0], oshape);
    if (!st.empty()) return st;
    const int64_t cg = c / g, mg = m / g, ohw = oh * ow, hw = h * wd;
    const int64_t kk = cg * kh * kw;
    float* y = out[0]->f32.data();
    const float* px = x.f32.data();
    const float* pw = wt.f32.data();
    const float* pbias = bias ? bias->f32.data() : nullptr;
    if (ohw == 0 || nb == 0 || m == 0) return {};

    if (cg == 1 && mg == 1) {
      Depthwise(px, pw, pbias, y, nb, c, h, wd, kh, kw, oh, ow, s, d, pb);
      if (relu_) Relu(out[0]);
      return {};
    }

    const bool pointwise = kh == 1 && kw == 1 && s[0] == 1 && s[1] == 1 && pb[0] == 0 &&
                           pb[1] == 0 && pe[0] == 0 && pe[1] == 0;
    // Short reductions (fmnist_cnn: K = 9 and 144) run without im2col and GEMM packing, which
    // cost as much as their products (conv1 ~8 -> 6.3 us, conv2 27 -> 23 us at batch 1); on
    // narrow maps with at most 15% wrap-around columns, where it was measured.  (Larger K used
    // to take a padded-width GEMM here; plain im2col measured 7-15% faster on ResNet-18's 28x28
    // and 14x14 layers.)
    const int64_t padded_w = wd + pb[1] + pe[1];
    if (!pointwise && s[0] == 1 && s[1] == 1 && ow <= 32 && (padded_w - ow) * 100 <= 15 * ow &&
        cg * kh * kw <= kDirectMaxTaps) {
      return DirectConv(px, pw, pbias, y, nb, c, m, g, h, wd, kh, kw, oh, ow, d, pb, pe);
    }
    // im2col in chunks of output rows, so a chunk of the column matrix stays in cache while the
    // GEMM consumes it (~512 KiB; whole rows, at least one).
    int64_t rows_per_chunk = oh;
    if (!pointwise) {
      // ~512 KiB of column matrix per chunk, but at least ~256 columns for the GEMM.
      rows_per_chunk = std::max((int64_t{1} << 17) / std::max<int64_t>(1, kk * ow), (255 + ow) / ow);
      rows_per_chunk = std::clamp<int64_t>(rows_per_chunk, 1, oh);
      if (CheckedNumel(std::vector<int64_t>{kk, rows_per_chunk * ow}) < 0) return "Conv im2col buffer too large";
      GrowScratch(static_cast<size_t>(kk * rows_per_chunk * ow));
    }
    for (int64_t n = 0; n < nb; ++n) {
      for (int64_t gi = 0; gi < g; ++gi) {
        const float* xg = px + (n * c + gi * cg) * hw;
        float* yg = y + (n * m + gi * mg) * ohw;
        const float* wg = pw + gi * mg * kk;
        float beta = 0.0f;
        if (pbias) {
          for (int64_t j = 0; j < mg; ++j) std::fill(yg + j * ohw, yg + (j + 1) * ohw, pbias[gi * mg + j]);
          beta = 1.0f;
        }
        if (pointwise) {
          Sgemm(false, false, mg, ohw, kk, 1.0f, wg, kk, xg, ohw, beta, yg, ohw);
          continue;
        }
        for (int64_t oy0 = 0; oy0 < oh; oy0 += rows_per_chunk) {
          const int64_t oy1 = std::min(oh, oy0 + rows_per_chunk);
          const int64_t cols = (oy1 - oy0) * ow;
          float* col = ConvScratch().data();
          Im2Col(xg, cg, h, wd, kh, kw, oy0, oy1, ow, s, d, pb, col);
          Sgemm(false, false, mg, cols, kk, 1.0f, wg, kk, col, cols, beta, yg + oy0 * ow, ohw);
        }
      }
    }
    if (relu_) Relu(out[0]);
    return {};
  }

  bool SetFusedRelu(bool on) override {
    relu_ = on;
    return true;
  }

 private:
  // folded_w_[m] = W[m] * k[m], folded_b_[m] = (B[m] - mean[m]) * k[m] + beta[m] with
  // k = scale / sqrt(var + eps): conv then BatchNormalization in one conv.  Recomputed only when
  // an input tensor changed (inputs are states: they change only through the executor, which
  // calls StatesChanged()).
  KStatus FoldBatchNorm(std::span<const Tensor* const> in) {
    if (in.size() != 7) return "Conv with folded BatchNormalization expects 7 inputs";
    std::vector<const Tensor*> key(in.begin(), in.end());
    if (key == folded_for_) return {};
    const Tensor& w = *in[1];
    for (size_t i = 1; i < 7; ++i) {
      if (i != 2 && !in[i]) return "Conv with folded BatchNormalization is missing an input";
      if (in[i] && !in[i]->is_float()) return "Conv needs float inputs";
    }
    if (w.shape.empty()) return "Conv weight must have rank >= 1";
    const int64_t m = w.shape[0];
    if (in[2] && in[2]->numel() != m) return "Conv bias must have " + std::to_string(m) + " elements";
    for (size_t i = 3; i < 7; ++i) {
      if (in[i]->numel() != m) {
        return "BatchNormalization parameter " + std::to_string(i - 2) + " has shape " +
               ShapeString(in[i]->shape) + ", expected [" + std::to_string(m) + "]";
      }
    }
    const int64_t per = m ? w.numel() / m : 0;
    folded_w_ = w;
    folded_b_ = Tensor::Float({m}, std::vector<float>(static_cast<size_t>(m)));
    const float *scale = in[3]->f32.data(), *beta = in[4]->f32.data(),
                *mean = in[5]->f32.data(), *var = in[6]->f32.data();
    for (int64_t j = 0; j < m; ++j) {
      const float k = scale[j] / std::sqrt(var[j] + bn_epsilon_);
      float* row = folded_w_.f32.data() + j * per;
      for (int64_t i = 0; i < per; ++i) row[i] *= k;
      const float b = in[2] ? in[2]->f32[j] : 0.0f;
      folded_b_.f32[j] = (b - mean[j]) * k + beta[j];
    }
    folded_for_ = std::move(key);
    return {};
  }

  // Stride-1 conv with a short reduction (C*KH*KW <= kDirectMaxTaps) without im2col: each image
  // is zero-padded once, Vec().conv_small_k accumulates shifted rows of it over the padded width
  // (out[m][oy * wp + ox]), and the wrap-around columns are dropped while adding bias and Relu.
  KStatus DirectConv(const float* px, const float* pw, const float* pbias, float* y, int64_t nb,
                     int64_t c, int64_t m, int64_t g, int64_t h, int64_t wd, int64_t kh,
                     int64_t kw, int64_t oh, int64_t ow, const std::vector<int64_t>& d,
                     const std::vector<int64_t>& pb, const std::vector<int64_t>& pe) {
    const int64_t cg = c / g, mg = m / g, kk = cg * kh * kw;
    const int64_t hp = h + pb[0] + pe[0], wp = wd + pb[1] + pe[1];
    const int64_t plane = hp * wp, ncol = oh * wp, tail = (kw - 1) * d[1] + 1;
    // Scratch: padded image [cg, plane] + tail (read past the last row by the widest tap),
    // result [mg, ncol].
    const int64_t need = cg * plane + tail + mg * ncol;
    if (CheckedNumel(std::vector<int64_t>{need}) < 0) return "Conv buffer too large";
    std::vector<float>& buf = GrowScratch(static_cast<size_t>(need));
    float* padded = buf.data();
    float* tmp = padded + cg * plane + tail;
    std::fill(padded, padded + cg * plane + tail, 0.0f);
    const int64_t ohw = oh * ow;
    for (int64_t n = 0; n < nb; ++n) {
      for (int64_t gi = 0; gi < g; ++gi) {
        const float* xg = px + (n * c + gi * cg) * h * wd;
        for (int64_t ci = 0; ci < cg; ++ci)
          for (int64_t iy = 0; iy < h; ++iy)
            CopyBytes(padded + ci * plane + (iy + pb[0]) * wp + pb[1], xg + (ci * h + iy) * wd,
                      sizeof(float) * wd);
        Vec().conv_small_k(padded, cg, plane, wp, ncol, pw + gi * mg * kk, mg, kh, kw, d[0], d[1],
                           tmp, ncol);
        float* yg = y + (n * m + gi * mg) * ohw;
        for (int64_t mm = 0; mm < mg; ++mm) {
          const float bv = pbias ? pbias[gi * mg + mm] : 0.0f;
          for (int64_t oy = 0; oy < oh; ++oy) {
            const float* src = tmp + mm * ncol + oy * wp;
            float* dst = yg + mm * ohw + oy * ow;
            if (relu_) for (int64_t ox = 0; ox < ow; ++ox) dst[ox] = std::max(src[ox] + bv, 0.0f);
            else for (int64_t ox = 0; ox < ow; ++ox) dst[ox] = src[ox] + bv;
          }
        }
      }
    }
    return {};
  }

  // Column matrix rows (c, i, j), columns the output pixels of rows [oy0, oy1).
  static void Im2Col(const float* x, int64_t cg, int64_t h, int64_t w, int64_t kh, int64_t kw,
                     int64_t oy0, int64_t oy1, int64_t ow, const std::vector<int64_t>& s,
                     const std::vector<int64_t>& d, const std::vector<int64_t>& pb, float* col) {
    const int64_t sh = s[0], sw = s[1], dh = d[0], dw = d[1], ph = pb[0], pw = pb[1];
    const int64_t cols = (oy1 - oy0) * ow;
    for (int64_t c = 0; c < cg; ++c) {
      for (int64_t i = 0; i < kh; ++i) {
        for (int64_t j = 0; j < kw; ++j) {
          float* dst = col + ((c * kh + i) * kw + j) * cols;
          // Valid output columns: 0 <= ox*sw - pw + j*dw < w.
          const int64_t off = j * dw - pw;
          int64_t lo = off >= 0 ? 0 : (-off + sw - 1) / sw;
          int64_t hi = w - off <= 0 ? 0 : (w - off + sw - 1) / sw;  // first invalid
          lo = std::min(lo, ow);
          hi = std::clamp(hi, lo, ow);
          for (int64_t oy = oy0; oy < oy1; ++oy) {
            const int64_t iy = oy * sh - ph + i * dh;
            float* row = dst + (oy - oy0) * ow;
            if (iy < 0 || iy >= h) {
              for (int64_t ox = 0; ox < ow; ++ox) row[ox] = 0.0f;
              continue;
            }
            const float* src = x + (c * h + iy) * w + off;
            for (int64_t ox = 0; ox < lo; ++ox) row[ox] = 0.0f;
            if (sw == 1) {
              for (int64_t ox = lo; ox < hi; ++ox) row[ox] = src[ox];
            } else if (sw == 2) {
              for (int64_t ox = lo; ox < hi; ++ox) row[ox] = src[2 * ox];
            } else {
              for (int64_t ox = lo; ox < hi; ++ox) row[ox] = src[ox * sw];
            }
            for (int64_t ox = hi; ox < ow; ++ox) row[ox] = 0.0f;
          }
        }
      }
    }
  }

  static KStatus Depthwise(const float* x, const float* w, const float* bias, float* y, int64_t nb,
                           int64_t c, int64_t h, int64_t wd, int64_t kh, int64_t kw, int64_t oh,
                           int64_t ow, const std::vector<int64_t>& s,
                           const std::vector<int64_t>& d, const std::vector<int64_t>& pb) {
    for (int64_t n = 0; n < nb; ++n) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* xc = x + (n * c + ch) * h * wd;
        const float* wc = w + ch * kh * kw;
        float* yc = y + (n * c + ch) * oh * ow;
        std::fill(yc, yc + oh * ow, bias ? bias[ch] : 0.0f);
        for (int64_t i = 0; i < kh; ++i) {
          for (int64_t j = 0; j < kw; ++j) {
            const float wv = wc[i * kw + j];
            const int64_t off = j * d[1] - pb[1];
            int64_t lo = off >= 0 ? 0 : (-off + s[1] - 1) / s[1];
            int64_t hi = wd - off <= 0 ? 0 : (wd - off + s[1] - 1) / s[1];
            lo = std::min(lo, ow);
            hi = std::clamp(hi, lo, ow);
            for (int64_t oy = 0; oy < oh; ++oy) {
              const int64_t iy = oy * s[0] - pb[0] + i * d[0];
              if (iy < 0 || iy >= h) continue;
              const float* src = xc + iy * wd + off;
              float* row = yc + oy * ow;
              if (s[1] == 1) {
                for (int64_t ox = lo; ox < hi; ++ox) row[ox] += wv * src[ox];
              } else {
                for (int64_t ox = lo; ox < hi; ++ox) row[ox] += wv * src[ox * s[1]];
              }
            }
          }
        }
      }
    }
    return {};
  }

  Window w_;
  int64_t group_;
  bool relu_ = false;
  bool fold_bn_ = false;
  float bn_epsilon_ = 0.0f;
  Tensor folded_w_, folded_b_;
  std::vector<const Tensor*> folded_for_;  // the inputs folded_w_/folded_b_ were made from
};

// ----- ConvTranspose -----

class ConvTransposeKernel : public Kernel {
 public:
  ConvTransposeKernel(Window w, int64_t group, std::vector<int64_t> output_padding,
                      std::vector<int64_t> output_shape)
      : w_(std::move(w)), group_(group), opad_(std::move(output_padding)),
        oshape_attr_(std::move(output_shape)) {}

  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    if (in.size() < 2 || !in[0] || !in[1]) return "ConvTranspose expects X and W";
    const Tensor& x = *in[0];
    const Tensor& wt = *in[1];
    const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
    if (!x.is_float() || !wt.is_float() || (bias && !bias->is_float()))
      return "ConvTranspose needs float inputs";
    const size_t rank = x.shape.size();
    if (rank != 3 && rank != 4) return "ConvTranspose supports 1-D and 2-D inputs";
    if (wt.shape.size() != rank) return "ConvTranspose weight rank does not match the input";
    const int64_t g = group_;
    const int64_t nb = x.shape[0], c = x.shape[1];
    if (wt.shape[0] != c || c % g != 0) return "ConvTranspose weight does not match the input channels";
    const int64_t mg = wt.shape[1], m = mg * g, cg = c / g;
    if (bias && bias->numel() != m) return "ConvTranspose bias must have " + std::to_string(m) + " elements";
    const size_t nsp = rank - 2;
    std::vector<int64_t> sp(x.shape.begin() + 2, x.shape.end());
    std::vector<int64_t> k = w_.kernel.empty() ? std::vector<int64_t>(wt.shape.begin() + 2, wt.shape.end()) : w_.kernel;
    std::vector<int64_t> s = w_.strides.empty() ? std::vector<int64_t>(nsp, 1) : w_.strides;
    std::vector<int64_t> d = w_.dilations.empty() ? std::vector<int64_t>(nsp, 1) : w_.dilations;
    std::vector<int64_t> op = opad_.empty() ? std::vector<int64_t>(nsp, 0) : opad_;
    if (k.size() != nsp || s.size() != nsp || d.size() != nsp || op.size() != nsp)
      return "ConvTranspose attributes do not match the spatial rank";
    if (!w_.pads.empty() && w_.pads.size() != 2 * nsp) return "pads must have 2 values per spatial dim";
    std::vector<int64_t> pb(nsp, 0), pe(nsp, 0), o(nsp, 0);
    for (size_t i = 0; i < nsp; ++i) {
      if (k[i] <= 0 || s[i] <= 0 || d[i] <= 0) return "kernel, strides and dilations must be positive";
      constexpr int64_t kLimit = int64_t{1} << 31;
      if (k[i] > kLimit || s[i] > kLimit || d[i] > kLimit || TooBig(op[i]) ||
          (!w_.pads.empty() && (TooBig(w_.pads[i]) || TooBig(w_.pads[i + nsp])))) {
        return "kernel, strides, dilations or pads are too large";
      }
      if (k[i] != wt.shape[2 + i]) return "kernel_shape does not match the weight";
      const int64_t full = s[i] * (sp[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1;
      if (!oshape_attr_.empty() || w_.auto_pad == "SAME_UPPER" || w_.auto_pad == "SAME_LOWER") {
        int64_t target;
        if (!oshape_attr_.empty()) {
          if (oshape_attr_.size() < nsp) return "output_shape does not match the spatial rank";
          target = oshape_attr_[oshape_attr_.size() - nsp + i];
        } else {
          target = sp[i] * s[i];
        }
        const int64_t total = full - target;
        if (total < 0) return "ConvTranspose output_shape is larger than the full output";
        const bool upper = w_.auto_pad != "SAME_LOWER";
        pb[i] = upper ? total / 2 : total - total / 2;
        pe[i] = total - pb[i];
      } else if (!w_.pads.empty()) {
        pb[i] = w_.pads[i];
        pe[i] = w_.pads[i + nsp];
      }
      o[i] = full - pb[i] - pe[i];
      if (o[i] < 0 || pb[i] < 0 || pe[i] < 0) return "ConvTranspose pads larger than the output";
    }
    if (nsp == 1) {
      for (auto* v : {&sp, &k, &s, &d, &o}) v->insert(v->begin(), 1);
      pb.insert(pb.begin(), 0);
    }
    std::vector<int64_t> oshape = {nb, m};
    for (size_t i = 0; i < nsp; ++i) oshape.push_back(o[i + (nsp == 1 ? 1 : 0)]);
    KStatus st = AllocFloat(out[0], oshape);
    if (!st.empty()) return st;
    const int64_t h = sp[0], wd = sp[1], kh = k[0], kw = k[1], oh = o[0], ow = o[1];
    const int64_t hw = h * wd, ohw = oh * ow, rows = mg * kh * kw;
    if (CheckedNumel(std::vector<int64_t>{rows, hw}) < 0) return "ConvTranspose buffer too large";
    col_.resize(static_cast<size_t>(rows * hw));
    float* y = out[0]->f32.data();
    for (int64_t n = 0; n < nb; ++n) {
      for (int64_t gi = 0; gi < g; ++gi) {
        const float* xg = x.f32.data() + (n * c + gi * cg) * hw;
        const float* wg = wt.f32.data() + gi * cg * rows;  // [cg, rows]
        if (hw > 0) Sgemm(true, false, rows, hw, cg, 1.0f, wg, rows, xg, hw, 0.0f, col_.data(), hw);
        for (int64_t mm = 0; mm < mg; ++mm) {
          float* ym = y + (n * m + gi * mg + mm) * ohw;
          std::fill(ym, ym + ohw, bias ? bias->f32[gi * mg + mm] : 0.0f);
          for (int64_t i = 0; i < kh; ++i) {
            for (int64_t j = 0; j < kw; ++j) {
              const float* src = col_.data() + ((mm * kh + i) * kw + j) * hw;
              for (int64_t iy = 0; iy < h; ++iy) {
                const int64_t oy = iy * s[0] - pb[0] + i * d[0];
                if (oy < 0 || oy >= oh) continue;
                for (int64_t ix = 0; ix < wd; ++ix) {
                  const int64_t ox = ix * s[1] - pb[1] + j * d[1];
                  if (ox < 0 || ox >= ow) continue;
                  ym[oy * ow + ox] += src[iy * wd + ix];
                }
              }
            }
          }
        }
      }
    }
    return {};
  }

 private:
  Window w_;
  int64_t group_;
  std::vector<int64_t> opad_, oshape_attr_;
  std::vector<float> col_;
};

// ----- MaxPool / AveragePool (1-D and 2-D) -----

class PoolKernel : public Kernel {
 public:
  bool OverwritesOutputs() const override { return true; }
  PoolKernel(Window w, bool max, bool count_include_pad)
      : w_(std::move(w)), max_(max), include_pad_(count_include_pad) {}

  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    if (!x.is_float()) return "pooling needs a float input";
    if (out.size() > 1 && out[1]) return "MaxPool's Indices output is not supported";
    const size_t rank = x.shape.size();
    if (rank != 3 && rank != 4) return "pooling supports 1-D and 2-D inputs, got " + ShapeString(x.shape);
    std::vector<int64_t> sp(x.shape.begin() + 2, x.shape.end());
    std::vector<int64_t> k, s, d, pb, pe, o;
    KStatus st = ResolveWindow(w_, sp, {}, &k, &s, &d, &pb, &pe, &o);
    if (!st.empty()) return st;
    std::vector<int64_t> oshape = {x.shape[0], x.shape[1]};
    oshape.insert(oshape.end(), o.begin(), o.end());
    if (rank == 3) {
      for (auto* v : {&sp, &k, &s, &d, &o}) v->insert(v->begin(), 1);
      pb.insert(pb.begin(), 0);
      pe.insert(pe.begin(), 0);
    }
    st = AllocFloat(out[0], oshape);
    if (!st.empty()) return st;
    const int64_t planes = x.shape[0] * x.shape[1];
    const int64_t h = sp[0], wd = sp[1], oh = o[0], ow = o[1];
    float* y = out[0]->f32.data();
    // Per output row/column: the kernel taps that land inside the input, [lo, hi), and the
    // number of taps of the window clipped to the padded input (count_include_pad divisor).
    auto ranges = [](int64_t n_out, int64_t len, int64_t kk, int64_t stride, int64_t dil, int64_t pad,
                     int64_t pad_end, std::vector<int64_t>* lo, std::vector<int64_t>* hi,
                     std::vector<int64_t>* padded) {
      lo->resize(n_out);
      hi->resize(n_out);
      padded->resize(n_out);
      for (int64_t q = 0; q < n_out; ++q) {
        const int64_t start = q * stride - pad;
        int64_t a = start >= 0 ? 0 : (-start + dil - 1) / dil;
        int64_t b = len - start <= 0 ? 0 : (len - start + dil - 1) / dil;
        a = std::min(a, kk);
        b = std::clamp(b, a, kk);
        (*lo)[q] = a;
        (*hi)[q] = b;
        const int64_t end = std::min(start + (kk - 1) * dil + 1, len + pad_end);
        (*padded)[q] = (end - start + dil - 1) / dil;
      }
    };
    ranges(oh, h, k[0], s[0], d[0], pb[0], pe[0], &ylo_, &yhi_, &ypad_);
    ranges(ow, wd, k[1], s[1], d[1], pb[1], pe[1], &xlo_, &xhi_, &xpad_);
    // Max pooling without dilation is separable: a horizontal max of each input row into
    // hmax_ (ow columns), then an element-wise max of whole hmax_ rows, which vectorises.
    // About 10x fewer instructions than the per-window loop below (ResNet's 3x3/2 stem pool).
    const bool max2x2 = max_ && k[0] == 2 && k[1] == 2 && s[0] == 2 && s[1] == 2 && d[0] == 1 &&
                        d[1] == 1 && pb[0] == 0 && pb[1] == 0 && oh * 2 <= h && ow * 2 <= wd;
    const bool separable = max_ && !max2x2 && d[0] == 1 && d[1] == 1;
    // Output columns whose window lies wholly inside the row: no bounds per tap.
    int64_t full_lo = ow, full_hi = ow;
    if (separable) {
      hmax_.resize(static_cast<size_t>(h * ow));
      for (int64_t ox = 0; ox < ow; ++ox) {
        if (xlo_[ox] == 0 && xhi_[ox] == k[1]) {
          if (full_lo == ow) full_lo = ox;
          full_hi = ox + 1;
        }
      }
    }
    for (int64_t p = 0; p < planes; ++p) {
      const float* xp = x.f32.data() + p * h * wd;
      float* yp = y + p * oh * ow;
      if (max2x2) {
        for (int64_t oy = 0; oy < oh; ++oy) {
          const float* r0 = xp + 2 * oy * wd;
          const float* r1 = r0 + wd;
          for (int64_t ox = 0; ox < ow; ++ox) {
            yp[oy * ow + ox] = std::max(std::max(r0[2 * ox], r0[2 * ox + 1]),
                                        std::max(r1[2 * ox], r1[2 * ox + 1]));
          }
        }
        continue;
      }
      if (separable) {
        MaxPoolPlane(xp, yp, h, wd, oh, ow, k[1], s[0], s[1], pb[0], pb[1], full_lo, full_hi);
        continue;
      }
      for (int64_t oy = 0; oy < oh; ++oy) {
        const int64_t y0 = oy * s[0] - pb[0];
        const int64_t ia = ylo_[oy], ib = yhi_[oy];
        for (int64_t ox = 0; ox < ow; ++ox) {
          const int64_t x0 = ox * s[1] - pb[1];
          const int64_t ja = xlo_[ox], jb = xhi_[ox];
          float acc = max_ ? -std::numeric_limits<float>::infinity() : 0.0f;
          for (int64_t i = ia; i < ib; ++i) {
            const float* row = xp + (y0 + i * d[0]) * wd + x0;
            if (max_) {
              for (int64_t j = ja; j < jb; ++j) acc = std::max(acc, row[j * d[1]]);
            } else {
              for (int64_t j = ja; j < jb; ++j) acc += row[j * d[1]];
            }
          }
          if (!max_) {
            const int64_t div = include_pad_ ? ypad_[oy] * xpad_[ox] : (ib - ia) * (jb - ja);
            acc = div > 0 ? acc / static_cast<float>(div) : 0.0f;
          }
          yp[oy * ow + ox] = acc;
        }
      }
    }
    return {};
  }

 private:
  // One plane of a max pool with unit dilations; ylo_/yhi_/xlo_/xhi_ hold the in-range taps,
  // output columns [full_lo, full_hi) have all kw taps in range.
  void MaxPoolPlane(const float* xp, float* yp, int64_t h, int64_t wd, int64_t oh, int64_t ow,
                    int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t full_lo,
                    int64_t full_hi) {
    constexpr float kLowest = -std::numeric_limits<float>::infinity();
    float* hm = hmax_.data();
    for (int64_t iy = 0; iy < h; ++iy) {
      const float* row = xp + iy * wd;
      float* dst = hm + iy * ow;
      auto edge = [&](int64_t ox) {
        float acc = kLowest;
        const float* r = row + ox * sw - pw;
        for (int64_t j = xlo_[ox]; j < xhi_[ox]; ++j) acc = std::max(acc, r[j]);
        dst[ox] = acc;
      };
      for (int64_t ox = 0; ox < full_lo; ++ox) edge(ox);
      if (kw == 2 && sw == 2) {
        for (int64_t ox = full_lo; ox < full_hi; ++ox) {
          const float* r = row + 2 * ox - pw;
          dst[ox] = std::max(r[0], r[1]);
        }
      } else if (kw == 3 && sw == 2) {
        for (int64_t ox = full_lo; ox < full_hi; ++ox) {
          const float* r = row + 2 * ox - pw;
          dst[ox] = std::max(std::max(r[0], r[1]), r[2]);
        }
      } else {
        for (int64_t ox = full_lo; ox < full_hi; ++ox) {
          const float* r = row + ox * sw - pw;
          float acc = r[0];
          for (int64_t j = 1; j < kw; ++j) acc = std::max(acc, r[j]);
          dst[ox] = acc;
        }
      }
      for (int64_t ox = full_hi; ox < ow; ++ox) edge(ox);
    }
    for (int64_t oy = 0; oy < oh; ++oy) {
      float* out = yp + oy * ow;
      const int64_t ia = ylo_[oy], ib = yhi_[oy];
      if (ia >= ib) {
        std::fill(out, out + ow, kLowest);
        continue;
      }
      const float* first = hm + (oy * sh - ph + ia) * ow;
      std::copy(first, first + ow, out);
      for (int64_t i = ia + 1; i < ib; ++i) {
        const float* r = hm + (oy * sh - ph + i) * ow;
        for (int64_t ox = 0; ox < ow; ++ox) out[ox] = std::max(out[ox], r[ox]);
      }
    }
  }

  Window w_;
  bool max_, include_pad_;
  std::vector<int64_t> ylo_, yhi_, ypad_, xlo_, xhi_, xpad_;
  std::vector<float> hmax_;  // horizontal maxima of one plane, [h, ow]
};

// ----- Resize (nearest / linear, any rank, separable) -----

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(bool linear, std::string ctm, std::string nearest_mode, bool legacy_scales_input)
      : linear_(linear), ctm_(std::move(ctm)), nearest_(std::move(nearest_mode)),
        legacy_(legacy_scales_input) {}

  KStatus Run(std::span<const Tensor* const> in, std::span<Tensor* const> out) override {
    const Tensor& x = *in[0];
    if (!x.is_float()) return "Resize needs a float input";
    const size_t rank = x.shape.size();
    std::vector<double> scales(rank, 1.0);
    std::vector<int64_t> osz = x.shape;
    const Tensor* scales_t = legacy_ ? (in.size() > 1 ? in[1] : nullptr) : (in.size() > 2 ? in[2] : nullptr);
    const Tensor* sizes_t = !legacy_ && in.size() > 3 ? in[3] : nullptr;
    if (sizes_t && sizes_t->numel() > 0) {
      std::vector<int64_t> sz;
      if (!ReadInts(*sizes_t, &sz) || sz.size() != rank) return "Resize sizes must have one value per dim";
      for (size_t i = 0; i < rank; ++i) {
        if (sz[i] < 0) return "Resize sizes must be non-negative";
        osz[i] = sz[i];
        scales[i] = x.shape[i] ? static_cast<double>(sz[i]) / static_cast<double>(x.shape[i]) : 1.0;
      }
    } else if (scales_t && scales_t->numel() > 0) {
      if (!scales_t->is_float() || static_cast<size_t>(scales_t->numel()) != rank || !DataConsistent(*scales_t))
        return "Resize scales must be float with one value per dim";
      for (size_t i = 0; i < rank; ++i) {
        const double sc = scales_t->f32[i];
        if (!(sc > 0) || !std::isfinite(sc)) return "Resize scales must be positive";
        scales[i] = sc;
        const double od = std::floor(static_cast<double>(x.shape[i]) * sc);
        if (od > static_cast<double>(kMaxElements)) return "Resize output too large";
        osz[i] = static_cast<int64_t>(od);
      }
    } else {
      return "Resize needs scales or sizes";
    }
    if (CheckedNumel(osz) < 0) return "Resize output too large";
    // Resample one axis at a time.
    Tensor cur = x;
    for (size_t ax = 0; ax < rank; ++ax) {
      if (osz[ax] == cur.shape[ax] && scales[ax] == 1.0) continue;
      if (cur.shape[ax] == 0 && osz[ax] > 0) return "Resize of an empty dim";
      KStatus st = ResampleAxis(cur, ax, osz[ax], scales[ax], &tmp_);
      if (!st.empty()) return st;
      std::swap(cur, tmp_);
    }
    *out[0] = std::move(cur);
    return {};
  }

 private:
  double SourceCoord(int64_t xo, int64_t in, int64_t outn, double scale) const {
    const double xd = static_cast<double>(xo);
    if (ctm_ == "asymmetric") return xd / scale;
    if (ctm_ == "align_corners") return outn == 1 ? 0.0 : xd * static_cast<double>(in - 1) / static_cast<double>(outn - 1);
    if (ctm_ == "pytorch_half_pixel") return outn > 1 ? (xd + 0.5) / scale - 0.5 : 0.0;
    return (xd + 0.5) / scale - 0.5;  // half_pixel
  }

  KStatus ResampleAxis(const Tensor& x, size_t ax, int64_t outn, double scale, Tensor* y) {
    std::vector<int64_t> shape = x.shape;
    const int64_t in = shape[ax];
    shape[ax] = outn;
    KStatus st = AllocFloat(y, shape);
    if (!st.empty()) return st;
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < ax; ++i) outer *= x.shape[i];
    for (size_t i = ax + 1; i < x.shape.size(); ++i) inner *= x.shape[i];
    std::vector<int64_t> i0(outn), i1(outn);
    std::vector<float> wt(outn);
    for (int64_t o = 0; o < outn; ++o) {
      double c = SourceCoord(o, in, outn, scale);
      if (linear_) {
        c = std::clamp(c, 0.0, static_cast<double>(in - 1));
        const int64_t f = static_cast<int64_t>(std::floor(c));
        i0[o] = f;
        i1[o] = std::min(f + 1, in - 1);
        wt[o] = static_cast<float>(c - static_cast<double>(f));
      } else {
        double r;
        if (nearest_ == "floor") r = std::floor(c);
        else if (nearest_ == "ceil") r = std::ceil(c);
        else if (nearest_ == "round_prefer_ceil") r = std::floor(c + 0.5);
        else r = (c - std::floor(c) == 0.5) ? std::floor(c) : std::round(c);  // round_prefer_floor
        i0[o] = i1[o] = std::clamp<int64_t>(static_cast<int64_t>(r), 0, in - 1);
        wt[o] = 0.0f;
      }
    }
    const float* px = x.f32.data();
    float* py = y->f32.data();
    for (int64_t a = 0; a < outer; ++a) {
      for (int64_t o = 0; o < outn; ++o) {
        const float* r0 = px + (a * in + i0[o]) * inner;
        const float* r1 = px + (a * in + i1[o]) * inner;
        float* dst = py + (a * outn + o) * inner;
        const float w = wt[o];
        if (w == 0.0f) CopyBytes(dst, r0, sizeof(float) * inner);
        else for (int64_t t = 0; t < inner; ++t) dst[t] = r0[t] + w * (r1[t] - r0[t]);
      }
    }
    return {};
  }

  bool linear_;
  std::string ctm_, nearest_;
  bool legacy_;
  Tensor tmp_;
};

}  // namespace

std::unique_ptr<Kernel> CreateConvBatchNormKernel(const AttrMap& conv_attrs, float epsilon,
                                                  std::string* error) {
  KernelSpec spec{"Conv", &conv_attrs, 13, 7, 1};
  std::unique_ptr<Kernel> k = CreateNnKernel(spec, error);
  if (!k) return nullptr;
  static_cast<ConvKernel*>(k.get())->SetFoldBatchNorm(epsilon);
  return k;
}

std::unique_ptr<Kernel> CreateScaledMatMulKernel() {
  return std::make_unique<MatMulKernel>(false, true);
}

std::unique_ptr<Kernel> CreateNnKernel(const KernelSpec& s, std::string* error) {
  const AttrMap& a = *s.attrs;
  const std::string_view op = s.op_type;
  if (op == "Gemm") {
    return std::make_unique<GemmKernel>(a.Float("alpha", 1.0f), a.Float("beta", 1.0f),
                                        a.Int("transA", 0) != 0, a.Int("transB", 0) != 0);
  }
  if (op == "MatMul") return std::make_unique<MatMulKernel>(false, false);
  if (op == "qrules.LinearT") return std::make_unique<MatMulKernel>(true, false);
  if (op == "Conv" || op == "ConvTranspose" || op == "MaxPool" || op == "AveragePool") {
    Window w = ReadWindow(a);
    if (!ValidAutoPad(w.auto_pad)) {
      *error = "auto_pad '" + w.auto_pad + "' is not valid";
      return nullptr;
    }
    const int64_t group = a.Int("group", 1);
    if (group <= 0) {
      *error = "group must be positive";
      return nullptr;
    }
    if (op == "Conv") return std::make_unique<ConvKernel>(std::move(w), group);
    if (op == "ConvTranspose") {
      return std::make_unique<ConvTransposeKernel>(std::move(w), group, a.Ints("output_padding"),
                                                   a.Ints("output_shape"));
    }
    if (w.kernel.empty()) {
      *error = op == "MaxPool" ? "MaxPool needs kernel_shape" : "AveragePool needs kernel_shape";
      return nullptr;
    }
    if (op == "MaxPool" && a.Int("storage_order", 0) != 0) {
      *error = "MaxPool storage_order=1 is not supported";
      return nullptr;
    }
    return std::make_unique<PoolKernel>(std::move(w), op == "MaxPool",
                                        a.Int("count_include_pad", 0) != 0);
  }
  if (op == "Resize" || op == "Upsample") {
    const std::string mode = a.String("mode", "nearest");
    const bool legacy = op == "Upsample" || s.opset < 11 || s.num_inputs == 2;
    std::string ctm = a.String("coordinate_transformation_mode", legacy ? "asymmetric" : "half_pixel");
    if (mode != "nearest" && mode != "linear" && mode != "bilinear") {
      *error = "Resize mode '" + mode + "' is not supported (nearest and linear are)";
      return nullptr;
    }
    if (ctm != "half_pixel" && ctm != "asymmetric" && ctm != "align_corners" &&
        ctm != "pytorch_half_pixel") {
      *error = "Resize coordinate_transformation_mode '" + ctm + "' is not supported";
      return nullptr;
    }
    if (a.Int("antialias", 0) != 0 || a.Has("axes")) {
      *error = "Resize with antialias or axes is not supported";
      return nullptr;
    }
    const std::string nm = a.String("nearest_mode", legacy ? "floor" : "round_prefer_floor");
    if (nm != "round_prefer_floor" && nm != "round_prefer_ceil" && nm != "floor" && nm != "ceil") {
      *error = "Resize nearest_mode '" + nm + "' is not valid";
      return nullptr;
    }
    return std::make_unique<ResizeKernel>(mode != "nearest", ctm, nm, legacy);
  }
  return nullptr;
}

}  // namespace qrules::internal
