// Conv and ConvTranspose against naive loops written from the ONNX definitions.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "unit/exec_test_util.h"

namespace qrules {
namespace {

using namespace qrules::testing;

std::vector<float> Pseudo(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = static_cast<float>((seed >> 8) % 2001) / 1000.0f - 1.0f;
  }
  return v;
}

struct ConvCase {
  int64_t n, c, h, w, m, group, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
};

// y[n,m,oy,ox] = b[m] + sum_{c,ky,kx} x[n, g*C/G + c, oy*sh - pt + ky*dh, ox*sw - pl + kx*dw]
//                                     * w[m, c, ky, kx]
std::vector<float> NaiveConv(const ConvCase& k, const std::vector<float>& x,
                             const std::vector<float>& wt, const std::vector<float>& b,
                             int64_t oh, int64_t ow) {
  const int64_t cg = k.c / k.group, mg = k.m / k.group;
  std::vector<float> y(k.n * k.m * oh * ow, 0.0f);
  for (int64_t n = 0; n < k.n; ++n)
    for (int64_t m = 0; m < k.m; ++m)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double s = b.empty() ? 0.0 : b[m];
          const int64_t g = m / mg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t ky = 0; ky < k.kh; ++ky)
              for (int64_t kx = 0; kx < k.kw; ++kx) {
                const int64_t iy = oy * k.sh - k.pt + ky * k.dh, ix = ox * k.sw - k.pl + kx * k.dw;
                if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
                s += static_cast<double>(x[((n * k.c + g * cg + c) * k.h + iy) * k.w + ix]) *
                     wt[((m * cg + c) * k.kh + ky) * k.kw + kx];
              }
          y[((n * k.m + m) * oh + oy) * ow + ox] = static_cast<float>(s);
        }
  return y;
}

TEST_CASE("Conv matches a direct loop", "[exec][conv]") {
  const ConvCase cases[] = {
      // n c h w  m  g kh kw sh sw dh dw pt pl pb pr
      {1, 1, 5, 5, 1, 1, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},   // plain
      {2, 3, 7, 6, 4, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   // batch, same padding
      {1, 4, 9, 8, 6, 2, 3, 2, 2, 1, 1, 1, 1, 0, 2, 1},   // groups, stride, asymmetric pads
      {1, 3, 9, 9, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   // depthwise
      {2, 4, 10, 9, 4, 4, 3, 3, 2, 2, 2, 1, 2, 1, 1, 0},  // depthwise, stride and dilation
      {1, 2, 11, 11, 3, 1, 3, 3, 2, 3, 2, 2, 0, 1, 1, 2}, // dilation with strides
      {2, 8, 4, 5, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   // pointwise 1x1
      {1, 6, 4, 4, 4, 2, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},   // strided 1x1, groups
      {1, 3, 1, 12, 2, 1, 1, 4, 1, 2, 1, 1, 0, 1, 0, 2},  // 1-D (h == 1), run as rank 3
      {1, 2, 1, 9, 4, 2, 1, 3, 1, 1, 1, 2, 0, 2, 0, 1},   // 1-D, stride 1, dilation, groups
      {2, 4, 8, 7, 6, 2, 3, 2, 1, 1, 2, 3, 2, 0, 1, 3},   // stride 1, dilations, asymmetric pads
      {1, 2, 6, 40, 3, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // wide rows (chunked im2col path)
      // Direct path (stride 1, ow <= 32, <= 15% wrap-around columns, C*KH*KW <= 288):
      {2, 32, 6, 14, 11, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, // K = 288 (the limit)
      {1, 3, 12, 28, 4, 1, 3, 3, 1, 1, 2, 2, 2, 1, 2, 2},  // dilation, partial 16-lane block
      {1, 4, 6, 20, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   // groups
      // ... and just outside it: im2col
      {2, 36, 9, 14, 10, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, // K = 324
      {1, 8, 7, 7, 6, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},    // 7x7 map: 2 of 9 columns wasted
  };
  uint32_t seed = 1;
  for (const ConvCase& k : cases) {
    const bool one_d = k.h == 1 && k.kh == 1;
    const int64_t oh = (k.h + k.pt + k.pb - (k.dh * (k.kh - 1) + 1)) / k.sh + 1;
    const int64_t ow = (k.w + k.pl + k.pr - (k.dw * (k.kw - 1) + 1)) / k.sw + 1;
    auto xv = Pseudo(k.n * k.c * k.h * k.w, seed++);
    auto wv = Pseudo(k.m * (k.c / k.group) * k.kh * k.kw, seed++);
    auto bv = Pseudo(k.m, seed++);
    AttrMap a;
    Tensor x, w;
    if (one_d) {
      a.Set("strides", AInts({k.sw}));
      a.Set("dilations", AInts({k.dw}));
      a.Set("pads", AInts({k.pl, k.pr}));
      x = F({k.n, k.c, k.w}, xv);
      w = F({k.m, k.c / k.group, k.kw}, wv);
    } else {
      a.Set("strides", AInts({k.sh, k.sw}));
      a.Set("dilations", AInts({k.dh, k.dw}));
      a.Set("pads", AInts({k.pt, k.pl, k.pb, k.pr}));
      x = F({k.n, k.c, k.h, k.w}, xv);
      w = F({k.m, k.c / k.group, k.kh, k.kw}, wv);
    }
    a.Set("group", AInt(k.group));
    auto want = NaiveConv(k, xv, wv, bv, oh, ow);
    auto r = RunOp("Conv", {x, w, F({k.m}, bv)}, a);
    INFO("case c=" << k.c << " m=" << k.m << " group=" << k.group);
    REQUIRE(r.error.empty());
    std::vector<int64_t> shape = one_d ? std::vector<int64_t>{k.n, k.m, ow}
                                       : std::vector<int64_t>{k.n, k.m, oh, ow};
    CheckClose(r.outputs[0], shape, want, 1e-4f);
    // Without bias.
    auto r2 = RunOp("Conv", {x, w}, a);
    auto want2 = NaiveConv(k, xv, wv, {}, oh, ow);
    CheckClose(r2.outputs[0], shape, want2, 1e-4f);
  }
}

TEST_CASE("Conv auto_pad SAME_UPPER keeps the size", "[exec][conv]") {
  AttrMap a;
  a.Set("auto_pad", AStr("SAME_UPPER"));
  a.Set("strides", AInts({2, 2}));
  auto r = RunOp("Conv", {F({1, 1, 5, 5}, Pseudo(25, 3)), F({1, 1, 3, 3}, Pseudo(9, 4))}, a);
  REQUIRE(r.error.empty());
  CHECK(r.outputs[0].shape == std::vector<int64_t>{1, 1, 3, 3});
}

TEST_CASE("Conv shape errors are reported", "[exec][conv]") {
  AttrMap a;
  auto r = RunOp("Conv", {F({1, 3, 5, 5}, Pseudo(75, 1)), F({2, 2, 3, 3}, Pseudo(36, 2))}, a);
  CHECK(r.error == "Conv channels do not fit: input [1,3,5,5], weight [2,2,3,3], group 1");
  r = RunOp("Conv", {F({1, 1, 2, 2}, Pseudo(4, 1)), F({1, 1, 3, 3}, Pseudo(9, 2))}, a);
  CHECK(r.error == "the window (extent 3) is larger than the padded input (2)");
  r = RunOp("Conv", {F({1, 1, 2, 2, 2}, Pseudo(8, 1)), F({1, 1, 1, 1, 1}, Pseudo(1, 2))}, a);
  CHECK(r.error == "Conv supports 1-D and 2-D inputs, got [1,1,2,2,2]");
}

// y[n, g*M/G + m, iy*sh - pt + ky*dh, ix*sw - pl + kx*dw] += x[n, g*C/G + c, iy, ix] * w[c', m, ky, kx]
TEST_CASE("ConvTranspose matches a scatter loop", "[exec][conv]") {
  struct Case {
    int64_t n, c, h, w, mg, group, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, oph, opw;
  };
  const Case cases[] = {
      {1, 2, 3, 3, 3, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 4, 4, 3, 2, 2, 2, 3, 1, 2, 2, 1, 0, 1, 1, 0, 0, 1},
      {1, 1, 5, 5, 1, 1, 4, 4, 2, 2, 1, 1, 1, 1, 1, 1, 0, 0},
  };
  uint32_t seed = 77;
  for (const Case& k : cases) {
    const int64_t m = k.mg * k.group, cg = k.c / k.group;
    const int64_t oh = k.sh * (k.h - 1) + k.oph + (k.kh - 1) * k.dh + 1 - k.pt - k.pb;
    const int64_t ow = k.sw * (k.w - 1) + k.opw + (k.kw - 1) * k.dw + 1 - k.pl - k.pr;
    auto xv = Pseudo(k.n * k.c * k.h * k.w, seed++);
    auto wv = Pseudo(k.c * k.mg * k.kh * k.kw, seed++);
    auto bv = Pseudo(m, seed++);
    std::vector<float> want(k.n * m * oh * ow);
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t mm = 0; mm < m; ++mm)
        for (int64_t i = 0; i < oh * ow; ++i) want[(n * m + mm) * oh * ow + i] = bv[mm];
    for (int64_t n = 0; n < k.n; ++n)
      for (int64_t ci = 0; ci < k.c; ++ci)
        for (int64_t iy = 0; iy < k.h; ++iy)
          for (int64_t ix = 0; ix < k.w; ++ix)
            for (int64_t ml = 0; ml < k.mg; ++ml)
              for (int64_t ky = 0; ky < k.kh; ++ky)
                for (int64_t kx = 0; kx < k.kw; ++kx) {
                  const int64_t oy = iy * k.sh - k.pt + ky * k.dh, ox = ix * k.sw - k.pl + kx * k.dw;
                  if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                  const int64_t mo = (ci / cg) * k.mg + ml;
                  want[((n * m + mo) * oh + oy) * ow + ox] +=
                      xv[((n * k.c + ci) * k.h + iy) * k.w + ix] *
                      wv[((ci * k.mg + ml) * k.kh + ky) * k.kw + kx];
                }
    AttrMap a;
    a.Set("strides", AInts({k.sh, k.sw}));
    a.Set("dilations", AInts({k.dh, k.dw}));
    a.Set("pads", AInts({k.pt, k.pl, k.pb, k.pr}));
    a.Set("output_padding", AInts({k.oph, k.opw}));
    a.Set("group", AInt(k.group));
    auto r = RunOp("ConvTranspose",
                   {F({k.n, k.c, k.h, k.w}, xv), F({k.c, k.mg, k.kh, k.kw}, wv), F({m}, bv)}, a);
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {k.n, m, oh, ow}, want, 1e-4f);
  }
}

}  // namespace
}  // namespace qrules
