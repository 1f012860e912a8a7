// Every kernel fed random shapes, types, omitted inputs and attributes: an error message or a
// result, never a crash (run under -fsanitize=address,undefined in the sanitizer CI job).
#include <catch2/catch.hpp>

#include <random>

#include "exec/kernels.h"
#include "unit/exec_test_util.h"

namespace qrules {
namespace {

using namespace qrules::testing;

Tensor RandomTensor(std::mt19937& rng) {
  std::uniform_int_distribution<int> rank_d(0, 4), dim_d(0, 4), kind_d(0, 3), val_d(-3, 5);
  std::vector<int64_t> shape(rank_d(rng));
  for (int64_t& d : shape) d = dim_d(rng) == 0 ? 0 : dim_d(rng);
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  Tensor t;
  t.shape = shape;
  if (kind_d(rng) == 0) {
    t.type = ElementType::kInt64;
    for (int64_t i = 0; i < n; ++i) t.i64.push_back(val_d(rng));
  } else {
    t.type = ElementType::kFloat32;
    for (int64_t i = 0; i < n; ++i) t.f32.push_back(static_cast<float>(val_d(rng)) * 0.5f);
  }
  return t;
}

AttrMap RandomAttrs(std::mt19937& rng) {
  std::uniform_int_distribution<int> coin(0, 2), small(-3, 4), len(0, 5);
  auto ints = [&] {
    std::vector<int64_t> v(len(rng));
    for (int64_t& x : v) x = small(rng);
    return v;
  };
  AttrMap a;
  for (const char* name : {"axis", "group", "keepdims", "transA", "transB", "to", "ceil_mode",
                           "count_include_pad", "allowzero", "start", "end", "noop_with_empty_axes"})
    if (coin(rng) == 0) a.Set(name, AInt(small(rng) + (std::string(name) == "to" ? 5 : 0)));
  for (const char* name : {"axes", "perm", "pads", "strides", "dilations", "kernel_shape",
                           "starts", "ends", "split", "output_padding", "output_shape"})
    if (coin(rng) == 0) a.Set(name, AInts(ints()));
  for (const char* name : {"alpha", "beta", "epsilon", "min", "max"})
    if (coin(rng) == 0) a.Set(name, AFloat(static_cast<float>(small(rng))));
  if (coin(rng) == 0) a.Set("mode", AStr(coin(rng) ? "linear" : "reflect"));
  if (coin(rng) == 0) a.Set("auto_pad", AStr(coin(rng) ? "SAME_UPPER" : "VALID"));
  return a;
}

TEST_CASE("kernels survive random inputs and attributes", "[exec][robustness]") {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> nin(0, 5), omit(0, 6), nout(1, 3);
  int ran = 0, failed = 0;
  for (std::string_view op : internal::SupportedOpTypes()) {
    for (int iter = 0; iter < 150; ++iter) {
      const int n = nin(rng);
      std::vector<Tensor> storage(n);
      std::vector<const Tensor*> ptrs;
      for (int i = 0; i < n; ++i) {
        storage[i] = RandomTensor(rng);
        ptrs.push_back(i > 0 && omit(rng) == 0 ? nullptr : &storage[i]);
      }
      if (ptrs.empty() || !ptrs[0]) {  // the executor guarantees input 0 (except Constant)
        if (op != "Constant") continue;
      }
      AttrMap attrs = RandomAttrs(rng);
      OpRun r = RunOp(op, ptrs, attrs, static_cast<size_t>(nout(rng)), iter % 2 ? 13 : 11);
      ++ran;
      failed += !r.error.empty();
    }
  }
  INFO(ran << " runs, " << failed << " rejected");
  CHECK(ran > 5000);
  // Both outcomes occur in bulk: a kernel set that rejected everything (or nothing) would pass
  // the no-crash check while exercising nothing.
  CHECK(ran - failed > ran / 10);
  CHECK(failed > ran / 10);
}

}  // namespace
}  // namespace qrules
