// The executor's fast paths against straightforward reference loops: separable max pooling,
// Conv+BatchNormalization folding (with hooks and state changes), and the vectorised
// Softmax / erf / GELU / LayerNormalization kernels (vec.h).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "qrules/executor.h"
#include "qrules/ir.h"
#include "unit/exec_test_util.h"

namespace qrules {
namespace {

using namespace qrules::testing;

std::vector<float> Pseudo(size_t n, uint32_t seed, float lo = -1.0f, float hi = 1.0f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = lo + (hi - lo) * static_cast<float>((seed >> 8) % 2001) / 2000.0f;
  }
  return v;
}

TEST_CASE("MaxPool without dilation matches a per-window loop", "[exec][pool]") {
  struct Case {
    int64_t c, h, w, kh, kw, sh, sw, pt, pl, pb, pr;
    bool ceil;
  };
  const Case cases[] = {
      {3, 12, 12, 3, 3, 2, 2, 1, 1, 1, 1, false},  // ResNet stem pool
      {2, 7, 9, 3, 3, 1, 1, 1, 1, 1, 1, false},    // stride 1, same size
      {2, 9, 8, 2, 3, 2, 1, 0, 2, 1, 0, false},    // asymmetric kernel and pads
      {1, 7, 7, 2, 2, 2, 2, 0, 0, 0, 0, true},     // ceil mode: partial last window
      {2, 6, 11, 3, 2, 3, 2, 1, 0, 0, 1, true},    // ceil mode with pads and odd strides
      {1, 5, 5, 5, 5, 1, 1, 2, 2, 2, 2, false},    // windows larger than half the input
  };
  uint32_t seed = 7;
  for (const Case& k : cases) {
    auto xv = Pseudo(k.c * k.h * k.w, seed++);
    AttrMap a;
    a.Set("kernel_shape", AInts({k.kh, k.kw}));
    a.Set("strides", AInts({k.sh, k.sw}));
    a.Set("pads", AInts({k.pt, k.pl, k.pb, k.pr}));
    if (k.ceil) a.Set("ceil_mode", AInt(1));
    auto out_size = [&](int64_t n, int64_t kk, int64_t s, int64_t p0, int64_t p1) {
      const int64_t span = n + p0 + p1 - kk;
      int64_t o = (k.ceil ? (span + s - 1) / s : span / s) + 1;
      if (k.ceil && (o - 1) * s >= n + p0) --o;
      return o;
    };
    const int64_t oh = out_size(k.h, k.kh, k.sh, k.pt, k.pb);
    const int64_t ow = out_size(k.w, k.kw, k.sw, k.pl, k.pr);
    std::vector<float> want;
    for (int64_t c = 0; c < k.c; ++c)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t i = 0; i < k.kh; ++i)
            for (int64_t j = 0; j < k.kw; ++j) {
              const int64_t iy = oy * k.sh - k.pt + i, ix = ox * k.sw - k.pl + j;
              if (iy >= 0 && iy < k.h && ix >= 0 && ix < k.w)
                m = std::max(m, xv[(c * k.h + iy) * k.w + ix]);
            }
          want.push_back(m);
        }
    auto r = RunOp("MaxPool", {F({1, k.c, k.h, k.w}, xv)}, a);
    INFO("case h=" << k.h << " w=" << k.w << " k=" << k.kh << "x" << k.kw);
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {1, k.c, oh, ow}, want, 0.0f);
  }
}

TEST_CASE("Transpose of strided inner dims matches index arithmetic", "[exec]") {
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> cases = {
      {{2, 3, 17, 20}, {0, 2, 3, 1}},  // attention keys
      {{33, 18}, {1, 0}},
      {{5, 4, 19}, {2, 0, 1}},
      {{3, 1, 7, 2}, {3, 1, 2, 0}},    // size-1 dim in between
      {{4, 6, 5}, {1, 2, 0}},
      {{3, 0, 4}, {0, 2, 1}},          // empty
  };
  uint32_t seed = 31;
  for (const auto& [shape, perm] : cases) {
    const size_t r = shape.size();
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    auto xv = Pseudo(static_cast<size_t>(n), seed++);
    std::vector<int64_t> oshape(r), istr(r, 1);
    for (size_t i = r - 1; i-- > 0;) istr[i] = istr[i + 1] * shape[i + 1];
    for (size_t i = 0; i < r; ++i) oshape[i] = shape[perm[i]];
    std::vector<float> want;
    std::vector<int64_t> idx(r, 0);  // output index, row-major order
    for (int64_t e = 0; e < n; ++e) {
      int64_t off = 0;
      for (size_t i = 0; i < r; ++i) off += idx[i] * istr[perm[i]];
      want.push_back(xv[off]);
      for (size_t i = r; i-- > 0;) {
        if (++idx[i] < oshape[i]) break;
        idx[i] = 0;
      }
    }
    AttrMap a;
    a.Set("perm", AInts(perm));
    auto got = RunOp("Transpose", {F(shape, xv)}, a);
    REQUIRE(got.error.empty());
    CheckClose(got.outputs[0], oshape, want, 0.0f);
  }
}

// x [N,C,H,W] -> Conv(w, [b]; 3x3, stride 2, pads 1) -> BatchNormalization -> Relu -> y.
struct ConvBn {
  int64_t n = 2, c = 3, h = 9, w = 8, m = 5;
  std::vector<float> x, wt, b, scale, beta, mean, var;
  float eps = 1e-3f;
  bool bias = true;

  std::shared_ptr<const Model> Build() const {
    ModelBuilder mb;
    TensorSpec in;
    in.name = "x";
    in.shape = Shape::Of(std::vector<int64_t>{-1, c, h, w});
    mb.AddInput(in);
    mb.AddState(State("w", F({m, c, 3, 3}, wt)));
    if (bias) mb.AddState(State("b", F({m}, b)));
    mb.AddState(State("scale", F({m}, scale)));
    mb.AddState(State("beta", F({m}, beta)));
    mb.AddState(State("mean", F({m}, mean)));
    mb.AddState(State("var", F({m}, var)));
    std::vector<std::string> conv_in = {"x", "w"};
    if (bias) conv_in.push_back("b");
    mb.AddOp(MakeOp("conv", "Conv", conv_in, {Act("t")},
                    {{"strides", Attribute::Ints({2, 2})},
                     {"pads", Attribute::Ints({1, 1, 1, 1})},
                     {"kernel_shape", Attribute::Ints({3, 3})}}));
    mb.AddOp(MakeOp("bn", "BatchNormalization", {"t", "scale", "beta", "mean", "var"},
                    {Act("u")}, {{"epsilon", Attribute::Float(eps)}}));
    mb.AddOp(MakeOp("relu", "Relu", {"u"}, {Act("y")}));
    mb.AddOutput("y");
    ModelResult r = std::move(mb).Build();
    INFO(RenderText(r.diagnostics));
    REQUIRE(r.ok());
    return r.model;
  }

  int64_t oh() const { return (h + 2 - 3) / 2 + 1; }
  int64_t ow() const { return (w + 2 - 3) / 2 + 1; }

  // The conv output t (before BatchNormalization), in double.
  std::vector<double> ConvOut(const std::vector<float>& weights) const {
    std::vector<double> t;
    for (int64_t nn = 0; nn < n; ++nn)
      for (int64_t mm = 0; mm < m; ++mm)
        for (int64_t oy = 0; oy < oh(); ++oy)
          for (int64_t ox = 0; ox < ow(); ++ox) {
            double s = bias ? b[mm] : 0.0;
            for (int64_t cc = 0; cc < c; ++cc)
              for (int64_t i = 0; i < 3; ++i)
                for (int64_t j = 0; j < 3; ++j) {
                  const int64_t iy = oy * 2 - 1 + i, ix = ox * 2 - 1 + j;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                  s += static_cast<double>(x[((nn * c + cc) * h + iy) * w + ix]) *
                       weights[((mm * c + cc) * 3 + i) * 3 + j];
                }
            t.push_back(s);
          }
    return t;
  }

  // relu(BatchNormalization(conv)) from the ONNX definitions, unfolded.
  std::vector<float> Expected(const std::vector<float>& weights) const {
    std::vector<double> t = ConvOut(weights);
    std::vector<float> y;
    const int64_t plane = oh() * ow();
    for (size_t i = 0; i < t.size(); ++i) {
      const int64_t mm = static_cast<int64_t>(i) / plane % m;
      const double v = (t[i] - mean[mm]) / std::sqrt(static_cast<double>(var[mm]) + eps) *
                           scale[mm] + beta[mm];
      y.push_back(static_cast<float>(std::max(v, 0.0)));
    }
    return y;
  }
};

TEST_CASE("Conv+BatchNormalization folding matches the unfolded ops", "[exec][executor][conv]") {
  for (bool bias : {true, false}) {
    ConvBn k;
    k.bias = bias;
    k.x = Pseudo(k.n * k.c * k.h * k.w, 11);
    k.wt = Pseudo(k.m * k.c * 9, 12);
    k.b = Pseudo(k.m, 13);
    k.scale = Pseudo(k.m, 14, 0.5f, 2.0f);
    k.beta = Pseudo(k.m, 15);
    k.mean = Pseudo(k.m, 16);
    k.var = Pseudo(k.m, 17, 0.1f, 3.0f);
    std::shared_ptr<const Model> model = k.Build();
    ExecutorResult e = Executor::Create(model);
    REQUIRE(e.ok());
    Executor& ex = *e.executor;
    const Tensor in = F({k.n, k.c, k.h, k.w}, k.x);
    const std::vector<int64_t> shape = {k.n, k.m, k.oh(), k.ow()};
    INFO("conv bias " << bias);
    CheckClose(ex.Run({in}).outputs[0], shape, k.Expected(k.wt), 1e-4f);
    CheckClose(ex.Run({in}).outputs[0], shape, k.Expected(k.wt), 1e-4f);  // cached fold

    // A hook on the conv output sees the unfolded conv result (no folding then).
    std::vector<float> seen;
    ex.SetHook([&](const TensorEvent&, Tensor& t) { seen = t.f32; },
               [](const Model& mm, OpId op, TensorSlot s) {
                 return mm.op(op).name == "conv" && s.kind == TensorSlot::Kind::kOutput
                            ? HookMode::kObserve
                            : HookMode::kNone;
               });
    CheckClose(ex.Run({in}).outputs[0], shape, k.Expected(k.wt), 1e-4f);
    std::vector<double> conv = k.ConvOut(k.wt);
    REQUIRE(seen.size() == conv.size());
    for (size_t i = 0; i < conv.size(); ++i) CHECK(seen[i] == Approx(conv[i]).margin(1e-4));

    // A hook that modifies the weight input every run: folding must not cache stale weights.
    int runs = 0;
    ex.SetHook([&](const TensorEvent&, Tensor& t) { for (float& v : t.f32) v *= float(runs); },
               [](const Model& mm, OpId op, TensorSlot s) {
                 return mm.op(op).name == "conv" && s.kind == TensorSlot::Kind::kInput &&
                                s.index == 1
                            ? HookMode::kModify
                            : HookMode::kNone;
               });
    for (runs = 1; runs <= 2; ++runs) {
      std::vector<float> scaled = k.wt;
      for (float& v : scaled) v *= float(runs);
      CheckClose(ex.Run({in}).outputs[0], shape, k.Expected(scaled), 1e-4f);
    }
    ex.ClearHook();

    // A hook that modifies the activation input (what a W8A8 plan quantizes) leaves the cached
    // fold valid: the result follows the modified input, run after run.
    ex.SetHook([&](const TensorEvent&, Tensor& t) { for (float& v : t.f32) v *= 0.5f; },
               [](const Model& mm, OpId op, TensorSlot s) {
                 return mm.op(op).name == "conv" && s.kind == TensorSlot::Kind::kInput &&
                                s.index == 0
                            ? HookMode::kModify
                            : HookMode::kNone;
               });
    ConvBn halved_input = k;
    for (float& v : halved_input.x) v *= 0.5f;
    for (int run = 0; run < 2; ++run) {
      CheckClose(ex.Run({in}).outputs[0], shape, halved_input.Expected(k.wt), 1e-4f);
    }
    ex.ClearHook();

    // Changed states are folded again; ResetStates restores the originals.
    ex.TransformStates([&](TensorId, const TensorInfo& info, Tensor& v) {
      if (info.name == "w") for (float& f : v.f32) f *= -0.5f;
    });
    std::vector<float> halved = k.wt;
    for (float& v : halved) v *= -0.5f;
    CheckClose(ex.Run({in}).outputs[0], shape, k.Expected(halved), 1e-4f);
    ex.ResetStates();
    CheckClose(ex.Run({in}).outputs[0], shape, k.Expected(k.wt), 1e-4f);
  }
}

// x [N,2,3] -> MatMul(w [3,4]) -> Div(4) -> y: the plan folds the constant division into the
// GEMM's alpha; a hook on the MatMul output sees the undivided product.
TEST_CASE("MatMul followed by Div by a constant scalar", "[exec][executor]") {
  const std::vector<float> wv = Pseudo(12, 41), xv = Pseudo(2 * 2 * 3, 42);
  for (bool rank0 : {true, false}) {
    ModelBuilder mb;
    TensorSpec in;
    in.name = "x";
    in.shape = Shape::Of(std::vector<int64_t>{-1, 2, 3});
    mb.AddInput(in);
    mb.AddState(State("w", F({3, 4}, wv)));
    // A [1,1,1,1] divisor broadcasts the output to rank 4: not folded, same result.
    mb.AddState(State("c", rank0 ? F({}, {4.0f}) : F({1, 1, 1, 1}, {4.0f})));
    mb.AddOp(MakeOp("mm", "MatMul", {"x", "w"}, {Act("t")}));
    mb.AddOp(MakeOp("div", "Div", {"t", "c"}, {Act("y")}));
    mb.AddOutput("y");
    ModelResult m = std::move(mb).Build();
    REQUIRE(m.ok());
    ExecutorResult e = Executor::Create(m.model);
    REQUIRE(e.ok());
    std::vector<float> product, want;
    for (int64_t r = 0; r < 4; ++r)
      for (int64_t j = 0; j < 4; ++j) {
        double s = 0;
        for (int64_t k = 0; k < 3; ++k) s += double(xv[r * 3 + k]) * wv[k * 4 + j];
        product.push_back(static_cast<float>(s));
        want.push_back(static_cast<float>(s / 4));
      }
    const std::vector<int64_t> shape =
        rank0 ? std::vector<int64_t>{2, 2, 4} : std::vector<int64_t>{1, 2, 2, 4};
    const Tensor x = F({2, 2, 3}, xv);
    CheckClose(e.executor->Run({x}).outputs[0], shape, want, 1e-6f);
    std::vector<float> seen;
    e.executor->SetHook([&](const TensorEvent&, Tensor& t) { seen = t.f32; },
                        [](const Model& mm, OpId op, TensorSlot s) {
                          return mm.op(op).name == "mm" && s.kind == TensorSlot::Kind::kOutput
                                     ? HookMode::kObserve
                                     : HookMode::kNone;
                        });
    CheckClose(e.executor->Run({x}).outputs[0], shape, want, 1e-6f);
    REQUIRE(seen.size() == product.size());
    for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == Approx(product[i]).margin(1e-6));
    e.executor->ClearHook();

    // The divisor is read at every run: a changed state is used, also where 1/c is not a
    // finite float (0: +-inf / NaN like the division; a denormal: no overflow to inf).
    for (float c : {-2.0f, 0.0f, 1e-40f}) {
      e.executor->TransformStates([&](TensorId, const TensorInfo& info, Tensor& v) {
        if (info.name == "c") v.f32[0] = c;
      });
      const std::vector<float> got = e.executor->Run({x}).outputs[0].f32;
      REQUIRE(got.size() == product.size());
      for (size_t i = 0; i < got.size(); ++i) {
        const float q = product[i] / c;
        INFO("c=" << c << " i=" << i);
        if (std::isnan(q)) CHECK(std::isnan(got[i]));
        else if (std::isinf(q)) CHECK(got[i] == q);
        else CHECK(got[i] == Approx(q).epsilon(1e-5));
      }
    }
    e.executor->ResetStates();
    CheckClose(e.executor->Run({x}).outputs[0], shape, want, 1e-6f);
  }
}

// Batch-1 Gemm with transB (the dot-product path of Sgemm) and alpha/beta/bias, against a
// double loop; k and n are chosen off the 16-lane and 4-row blocks.
TEST_CASE("single-row Gemm with transposed weights", "[exec]") {
  for (int64_t k : {5, 16, 37}) {
    for (int64_t n : {1, 4, 7}) {
      auto av = Pseudo(k, 51), bv = Pseudo(n * k, 52), cv = Pseudo(n, 53);
      AttrMap a;
      a.Set("transB", AInt(1));
      a.Set("alpha", AFloat(0.5f));
      a.Set("beta", AFloat(2.0f));
      std::vector<float> want, want_no_c;
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t p = 0; p < k; ++p) dot += double(av[p]) * bv[j * k + p];
        want.push_back(static_cast<float>(0.5 * dot + 2.0 * cv[j]));
        want_no_c.push_back(static_cast<float>(0.5 * dot));
      }
      INFO("k=" << k << " n=" << n);
      CheckClose(RunOp("Gemm", {F({1, k}, av), F({n, k}, bv), F({n}, cv)}, a).outputs[0], {1, n},
                 want, 1e-5f);
      CheckClose(RunOp("Gemm", {F({1, k}, av), F({n, k}, bv)}, a).outputs[0], {1, n}, want_no_c,
                 1e-5f);
    }
  }
}

TEST_CASE("vectorised Softmax, Erf, Gelu and LayerNormalization match scalar formulas",
          "[exec]") {
  const int64_t rows = 3, len = 37;  // not a multiple of any vector width
  auto xv = Pseudo(rows * len, 21, -6.0f, 6.0f);
  const Tensor x = F({rows, len}, xv);
  std::vector<float> soft, logsoft, erf, gelu;
  for (int64_t r = 0; r < rows; ++r) {
    double mx = -1e30, sum = 0;
    for (int64_t i = 0; i < len; ++i) mx = std::max(mx, double(xv[r * len + i]));
    for (int64_t i = 0; i < len; ++i) sum += std::exp(xv[r * len + i] - mx);
    for (int64_t i = 0; i < len; ++i) {
      soft.push_back(static_cast<float>(std::exp(xv[r * len + i] - mx) / sum));
      logsoft.push_back(static_cast<float>(xv[r * len + i] - mx - std::log(sum)));
    }
  }
  for (float v : xv) {
    erf.push_back(static_cast<float>(std::erf(double(v))));
    gelu.push_back(static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)))));
  }
  CheckClose(RunOp("Softmax", {x}).outputs[0], {rows, len}, soft, 1e-6f);
  // Relative accuracy of the small probabilities, and rows with -inf / far-below-max entries
  // (exp underflows to exactly 0 there).
  {
    auto got = RunOp("Softmax", {x}).outputs[0].f32;
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == Approx(soft[i]).epsilon(1e-6));
    // Every lane of the vector loop and the scalar tail (row length 43): the max at 0, and
    // per row one probe value everywhere else.
    const float inf = std::numeric_limits<float>::infinity();
    for (float probe : {-87.2f, -87.0f, -50.0f, -87.4f, -100.0f, -inf}) {
      std::vector<float> row(43, probe);
      row[0] = 0.0f;
      auto r = RunOp("Softmax", {F({1, 43}, row)}).outputs[0].f32;
      const double e = std::exp(double(probe)), sum = 1.0 + 42.0 * e;
      INFO("probe " << probe);
      CHECK(r[0] == Approx(1.0 / sum).epsilon(1e-6));
      for (size_t i = 1; i < r.size(); ++i) {
        if (probe < -87.33f) CHECK(r[i] == 0.0f);  // exp below the smallest normal: 0
        else CHECK(r[i] == Approx(e / sum).epsilon(1e-5));
      }
    }
    std::vector<float> row(43, -1.0f);
    row[20] = std::numeric_limits<float>::quiet_NaN();
    auto r = RunOp("Softmax", {F({1, 43}, row)}).outputs[0].f32;
    CHECK(std::isnan(r[20]));
  }
  CheckClose(RunOp("LogSoftmax", {x}).outputs[0], {rows, len}, logsoft, 1e-5f);
  CheckClose(RunOp("Erf", {x}).outputs[0], {rows, len}, erf, 1e-6f);
  CheckClose(RunOp("Gelu", {x}, {}, 1, 20).outputs[0], {rows, len}, gelu, 1e-5f);

  auto scale = Pseudo(len, 22), bias = Pseudo(len, 23);
  std::vector<float> ln;
  for (int64_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < len; ++i) mean += xv[r * len + i];
    mean /= len;
    for (int64_t i = 0; i < len; ++i) var += (xv[r * len + i] - mean) * (xv[r * len + i] - mean);
    var /= len;
    for (int64_t i = 0; i < len; ++i)
      ln.push_back(static_cast<float>((xv[r * len + i] - mean) / std::sqrt(var + 1e-5) * scale[i] +
                                      bias[i]));
  }
  AttrMap a;
  a.Set("axis", AInt(-1));
  CheckClose(RunOp("LayerNormalization", {x, F({len}, scale), F({len}, bias)}, a).outputs[0],
             {rows, len}, ln, 1e-5f);
}

}  // namespace
}  // namespace qrules
