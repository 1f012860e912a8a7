// Kernel tests: every expected number below is computed by hand from the ONNX operator
// definition, not taken from the program.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "exec/kernels.h"
#include "unit/exec_test_util.h"

namespace qrules {
namespace {

using namespace qrules::testing;

AttrMap Attrs(std::initializer_list<std::pair<std::string, AttrValue>> kv) {
  AttrMap m;
  for (const auto& [k, v] : kv) m.Set(k, v);
  return m;
}

TEST_CASE("supported op table is sorted and complete", "[exec]") {
  auto ops = internal::SupportedOpTypes();
  CHECK(std::is_sorted(ops.begin(), ops.end()));
  for (std::string_view op : {"Conv", "ConvTranspose", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div",
                              "Pow", "Sqrt", "Erf", "Exp", "Log", "Max", "Min", "Relu", "LeakyRelu",
                              "Clip", "Sigmoid", "HardSigmoid", "Tanh", "Gelu", "Softmax",
                              "ReduceMean", "ReduceMax", "ReduceSum", "BatchNormalization",
                              "LayerNormalization", "MaxPool", "AveragePool", "GlobalAveragePool",
                              "Flatten", "Reshape", "Transpose", "Concat", "Slice", "Squeeze",
                              "Unsqueeze", "Gather", "Shape", "Cast", "Identity", "Constant",
                              "Resize", "Pad"}) {
    INFO(op);
    CHECK(internal::IsSupportedOpType(op));
  }
  CHECK_FALSE(internal::IsSupportedOpType("NonMaxSuppression"));
}

TEST_CASE("binary ops broadcast like numpy", "[exec]") {
  Tensor a = F({2, 3}, {1, 2, 3, 4, 5, 6});
  SECTION("row vector") {
    auto r = RunOp("Add", {a, F({3}, {10, 20, 30})});
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {2, 3}, {11, 22, 33, 14, 25, 36});
  }
  SECTION("column against row") {
    auto r = RunOp("Sub", {F({2, 1}, {1, 2}), F({1, 3}, {1, 2, 3})});
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {2, 3}, {0, -1, -2, 1, 0, -1});
  }
  SECTION("scalar") {
    auto r = RunOp("Mul", {F({}, {2}), a});
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {2, 3}, {2, 4, 6, 8, 10, 12});
  }
  SECTION("middle axis broadcast, rank 3") {
    auto r = RunOp("Div", {F({2, 1, 2}, {2, 4, 6, 8}), F({1, 2, 1}, {1, 2})});
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {2, 2, 2}, {2, 4, 1, 2, 6, 8, 3, 4});
  }
  SECTION("pow") {
    auto r = RunOp("Pow", {F({3}, {1, 2, 3}), F({}, {2})});
    CheckClose(r.outputs[0], {3}, {1, 4, 9});
    r = RunOp("Pow", {F({2}, {4, 8}), F({2}, {0.5f, 1.0f / 3})});
    CheckClose(r.outputs[0], {2}, {2, 2});
    r = RunOp("Pow", {F({2}, {2, 3}), I({}, {3})});  // int exponent
    CheckClose(r.outputs[0], {2}, {8, 27});
  }
  SECTION("int64 arithmetic (shape chains)") {
    auto r = RunOp("Div", {I({2}, {7, -7}), I({}, {2})});
    CheckInts(r.outputs[0], {2}, {3, -3});
    r = RunOp("Mul", {I({2}, {3, 4}), I({1}, {5})});
    CheckInts(r.outputs[0], {2}, {15, 20});
    r = RunOp("Div", {I({1}, {1}), I({1}, {0})});
    CHECK(r.error == "integer division by zero");
  }
  SECTION("incompatible shapes are an error") {
    auto r = RunOp("Add", {a, F({2}, {1, 2})});
    CHECK(r.error == "cannot broadcast [2,3] with [2]");
  }
  SECTION("variadic max/min") {
    auto r = RunOp("Max", {F({2}, {1, 5}), F({1}, {3}), F({2}, {2, 2})});
    CheckClose(r.outputs[0], {2}, {3, 5});
    r = RunOp("Min", {F({2}, {1, 5}), F({1}, {3})});
    CheckClose(r.outputs[0], {2}, {1, 3});
  }
  SECTION("mod (fmod=0: the divisor's sign, as Python's %) and fmod (fmod=1: the dividend's)") {
    // 7 % 3 = 1, -7 % 3 = 2, 7 % -3 = -2, -7 % -3 = -1 (Python); C fmod: 1, -1, 1, -1.
    auto r = RunOp("Mod", {I({4}, {7, -7, 7, -7}), I({4}, {3, 3, -3, -3})});
    CheckInts(r.outputs[0], {4}, {1, 2, -2, -1});
    r = RunOp("Mod", {I({4}, {7, -7, 7, -7}), I({4}, {3, 3, -3, -3})}, Attrs({{"fmod", AInt(1)}}));
    CheckInts(r.outputs[0], {4}, {1, -1, 1, -1});
    r = RunOp("Mod", {F({3}, {5.5f, -5.5f, 5.5f}), F({3}, {2, 2, -2})}, Attrs({{"fmod", AInt(1)}}));
    CheckClose(r.outputs[0], {3}, {1.5f, -1.5f, 1.5f});
    r = RunOp("Mod", {F({2}, {5.5f, -5.5f}), F({}, {2})});
    CheckClose(r.outputs[0], {2}, {1.5f, 0.5f});
    r = RunOp("Mod", {I({1}, {4}), I({1}, {0})});
    CHECK(r.error == "integer modulo by zero");
  }
  SECTION("comparisons give bool") {
    auto r = RunOp("Equal", {I({3}, {1, 2, 3}), I({}, {2})});
    CHECK(r.outputs[0].type == ElementType::kBool);
    CheckInts(r.outputs[0], {3}, {0, 1, 0});
  }
}

TEST_CASE("unary activations", "[exec]") {
  Tensor x = F({4}, {-1, 0, 0.5f, 2});
  auto run = [&](std::string_view op, AttrMap a = {}) {
    auto r = RunOp(op, {x}, a);
    REQUIRE(r.error.empty());
    return r.outputs[0];
  };
  CheckClose(run("Relu"), {4}, {0, 0, 0.5f, 2});
  CheckClose(run("LeakyRelu", Attrs({{"alpha", AFloat(0.1f)}})), {4}, {-0.1f, 0, 0.5f, 2});
  // 1 / (1 + e^-x)
  CheckClose(run("Sigmoid"), {4}, {0.2689414f, 0.5f, 0.6224593f, 0.8807971f});
  // max(0, min(1, 0.2 x + 0.5))
  CheckClose(run("HardSigmoid"), {4}, {0.3f, 0.5f, 0.6f, 0.9f});
  CheckClose(run("Tanh"), {4}, {-0.7615942f, 0, 0.4621172f, 0.9640276f});
  CheckClose(run("Exp"), {4}, {0.3678794f, 1, 1.6487213f, 7.3890561f});
  CheckClose(run("Erf"), {4}, {-0.8427008f, 0, 0.5204999f, 0.9953223f});
  // x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
  CheckClose(run("Gelu"), {4}, {-0.1586553f, 0, 0.3457312f, 1.9544997f});
  CheckClose(run("Gelu", Attrs({{"approximate", AStr("tanh")}})), {4},
             {-0.1588080f, 0, 0.3457140f, 1.9545977f}, 1e-4f);
  CheckClose(run("Neg"), {4}, {1, 0, -0.5f, -2});
  auto r = RunOp("Sqrt", {F({2}, {4, 9})});
  CheckClose(r.outputs[0], {2}, {2, 3});
  r = RunOp("Log", {F({2}, {1, std::exp(2.0f)})});
  CheckClose(r.outputs[0], {2}, {0, 2});
}

TEST_CASE("Clip takes bounds from inputs or attributes", "[exec]") {
  Tensor x = F({3}, {-1, 3, 7});
  Tensor lo = F({}, {0}), hi = F({}, {6});
  auto r = RunOp("Clip", std::vector<const Tensor*>{&x, &lo, &hi});
  CheckClose(r.outputs[0], {3}, {0, 3, 6});
  r = RunOp("Clip", std::vector<const Tensor*>{&x, nullptr, &hi});  // min omitted
  CheckClose(r.outputs[0], {3}, {-1, 3, 6});
  r = RunOp("Clip", {x}, Attrs({{"min", AFloat(0)}, {"max", AFloat(1)}}), 1, 6);
  CheckClose(r.outputs[0], {3}, {0, 1, 1});
}

TEST_CASE("Softmax", "[exec]") {
  // e^k / (e + e^2 + e^3)
  auto r = RunOp("Softmax", {F({1, 3}, {1, 2, 3})});
  CheckClose(r.outputs[0], {1, 3}, {0.0900306f, 0.2447285f, 0.6652410f});
  r = RunOp("Softmax", {F({2, 2}, {1, 2, 3, 4})}, Attrs({{"axis", AInt(0)}}));
  CheckClose(r.outputs[0], {2, 2}, {0.1192029f, 0.1192029f, 0.8807971f, 0.8807971f});
  r = RunOp("LogSoftmax", {F({1, 2}, {0, 0})});
  CheckClose(r.outputs[0], {1, 2}, {-0.6931472f, -0.6931472f});
  // opset < 13: flattened to 2-D at axis 1
  r = RunOp("Softmax", {F({1, 2, 2}, {0, 0, 0, 0})}, {}, 1, 11);
  CheckClose(r.outputs[0], {1, 2, 2}, {0.25f, 0.25f, 0.25f, 0.25f});
}

TEST_CASE("Reductions", "[exec]") {
  Tensor x = F({2, 2}, {1, 2, 3, 4});
  auto r = RunOp("ReduceMean", {x}, Attrs({{"axes", AInts({1})}, {"keepdims", AInt(0)}}));
  CheckClose(r.outputs[0], {2}, {1.5f, 3.5f});
  r = RunOp("ReduceMean", {x}, Attrs({{"axes", AInts({-1})}}));
  CheckClose(r.outputs[0], {2, 1}, {1.5f, 3.5f});
  r = RunOp("ReduceMax", {x}, Attrs({{"axes", AInts({0})}}));
  CheckClose(r.outputs[0], {1, 2}, {3, 4});
  r = RunOp("ReduceSum", {x, I({2}, {0, 1})}, Attrs({{"keepdims", AInt(0)}}));
  CheckClose(r.outputs[0], {}, {10});
  r = RunOp("ReduceSum", {x}, Attrs({{"noop_with_empty_axes", AInt(1)}}));
  CheckClose(r.outputs[0], {2, 2}, {1, 2, 3, 4});
  r = RunOp("ReduceMean", {F({2, 3, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})},
            Attrs({{"axes", AInts({0, 2})}, {"keepdims", AInt(0)}}));
  // (0+1+6+7)/4, (2+3+8+9)/4, (4+5+10+11)/4
  CheckClose(r.outputs[0], {3}, {3.5f, 5.5f, 7.5f});
  r = RunOp("ReduceMean", {x}, Attrs({{"axes", AInts({2})}}));
  CHECK(r.error == "reduce axis 2 out of range");
}

TEST_CASE("BatchNormalization and LayerNormalization", "[exec]") {
  // y = (x - mean) / sqrt(var + eps) * scale + B, eps 0
  auto r = RunOp("BatchNormalization",
                 {F({1, 2, 1, 2}, {1, 2, 3, 4}), F({2}, {2, 1}), F({2}, {0, 1}), F({2}, {1, 3}),
                  F({2}, {4, 1})},
                 Attrs({{"epsilon", AFloat(0)}}));
  REQUIRE(r.error.empty());
  CheckClose(r.outputs[0], {1, 2, 1, 2}, {0, 1, 1, 2});
  r = RunOp("BatchNormalization",
            {F({1, 2}, {1, 2}), F({3}, {1, 1, 1}), F({2}, {0, 0}), F({2}, {0, 0}), F({2}, {1, 1})});
  CHECK(r.error == "BatchNormalization parameter 1 has shape [3], expected [2]");

  // rows [1,2,3] and [2,4,6]: normalised both to [-1.2247449, 0, 1.2247449]
  r = RunOp("LayerNormalization",
            {F({2, 3}, {1, 2, 3, 2, 4, 6}), F({3}, {1, 1, 2}), F({3}, {0, 1, 0})},
            Attrs({{"epsilon", AFloat(0)}}), 3);
  REQUIRE(r.error.empty());
  CheckClose(r.outputs[0], {2, 3}, {-1.2247449f, 1, 2.4494897f, -1.2247449f, 1, 2.4494897f});
  CheckClose(r.outputs[1], {2, 1}, {2, 4});                     // Mean
  CheckClose(r.outputs[2], {2, 1}, {1.2247449f, 0.6123724f});   // 1/sqrt(2/3), 1/sqrt(8/3)
}

TEST_CASE("Gemm and MatMul", "[exec]") {
  // A B^T = [[4,2],[10,5]]; 2 * that + 0.5 * [10,20]
  Tensor a = F({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = F({2, 3}, {1, 0, 1, 0, 1, 0});
  auto r = RunOp("Gemm", {a, b, F({2}, {10, 20})},
                 Attrs({{"alpha", AFloat(2)}, {"beta", AFloat(0.5f)}, {"transB", AInt(1)}}));
  REQUIRE(r.error.empty());
  CheckClose(r.outputs[0], {2, 2}, {13, 14, 25, 20});
  r = RunOp("Gemm", {a, F({2, 3}, {1, 0, 1, 0, 1, 0}), F({2, 1}, {1, 2})},
            Attrs({{"transA", AInt(1)}}));
  // A^T [3,2] x B [2,3] = [[1,4,1],[2,5,2],[3,6,3]] + C broadcast [2,1] does not fit [3,3]
  CHECK(r.error == "Gemm C of shape [2,1] does not broadcast to [3,3]");
  r = RunOp("Gemm", {a, F({2, 2}, {1, 0, 0, 1})});
  CHECK(r.error == "Gemm inner dimensions differ: A [2,3], B [2,2]");

  SECTION("MatMul batched with broadcasting, against a naive loop") {
    // A [2,1,2,3], B [3,3,2] -> [2,3,2,2]
    std::vector<float> av(12), bv(18);
    for (size_t i = 0; i < av.size(); ++i) av[i] = static_cast<float>(i) - 5.0f;
    for (size_t i = 0; i < bv.size(); ++i) bv[i] = 0.5f * static_cast<float>(i % 7) - 1.0f;
    auto m = RunOp("MatMul", {F({2, 1, 2, 3}, av), F({3, 3, 2}, bv)});
    REQUIRE(m.error.empty());
    std::vector<float> want;
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j)
        for (int r0 = 0; r0 < 2; ++r0)
          for (int c = 0; c < 2; ++c) {
            float s = 0;
            for (int k = 0; k < 3; ++k) s += av[i * 6 + r0 * 3 + k] * bv[j * 6 + k * 2 + c];
            want.push_back(s);
          }
    CheckClose(m.outputs[0], {2, 3, 2, 2}, want);
  }
  SECTION("MatMul with 1-D operands") {
    auto m = RunOp("MatMul", {F({3}, {1, 2, 3}), F({3, 2}, {1, 0, 0, 1, 1, 1})});
    CheckClose(m.outputs[0], {2}, {4, 5});
    m = RunOp("MatMul", {F({2, 3}, {1, 2, 3, 4, 5, 6}), F({3}, {1, 1, 1})});
    CheckClose(m.outputs[0], {2}, {6, 15});
  }
}

TEST_CASE("Pooling", "[exec]") {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  auto r = RunOp("MaxPool", {F({1, 1, 4, 4}, v)},
                 Attrs({{"kernel_shape", AInts({2, 2})}, {"strides", AInts({2, 2})}}));
  CheckClose(r.outputs[0], {1, 1, 2, 2}, {5, 7, 13, 15});

  Tensor x = F({1, 1, 2, 2}, {1, 2, 3, 4});
  AttrMap a = Attrs({{"kernel_shape", AInts({3, 3})}, {"pads", AInts({1, 1, 1, 1})}});
  r = RunOp("AveragePool", {x}, a);
  CheckClose(r.outputs[0], {1, 1, 2, 2}, {2.5f, 2.5f, 2.5f, 2.5f});  // 10 / 4 real cells
  a.Set("count_include_pad", AInt(1));
  r = RunOp("AveragePool", {x}, a);
  CheckClose(r.outputs[0], {1, 1, 2, 2}, {10.f / 9, 10.f / 9, 10.f / 9, 10.f / 9});

  // ceil_mode: 3x3 input, 2x2 windows, stride 2 -> 2x2 with partial windows at the edge
  r = RunOp("AveragePool", {F({1, 1, 3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9})},
            Attrs({{"kernel_shape", AInts({2, 2})}, {"strides", AInts({2, 2})}, {"ceil_mode", AInt(1)}}));
  CheckClose(r.outputs[0], {1, 1, 2, 2}, {3, 4.5f, 7.5f, 9});

  // 1-D max pool with dilation 2: windows {x0,x2}, {x1,x3}
  r = RunOp("MaxPool", {F({1, 1, 4}, {1, 5, 3, 2})},
            Attrs({{"kernel_shape", AInts({2})}, {"dilations", AInts({2})}}));
  CheckClose(r.outputs[0], {1, 1, 2}, {3, 5});

  r = RunOp("GlobalAveragePool", {F({1, 2, 1, 2}, {1, 3, 5, 9})});
  CheckClose(r.outputs[0], {1, 2, 1, 1}, {2, 7});

  r = RunOp("MaxPool", {F({1, 1, 2, 2}, {1, 2, 3, 4})}, Attrs({{"kernel_shape", AInts({3, 3})}}));
  CHECK(r.error == "the window (extent 3) is larger than the padded input (2)");
}

TEST_CASE("ScatterND writes or combines slices at index tuples", "[exec]") {
  // data [4, 2]; two index tuples of length 1 (rows 3 and -4 = 0), updates [2, 2].
  const Tensor data = F({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
  const Tensor rows = I({2, 1}, {3, -4});
  const Tensor updates = F({2, 2}, {10, 20, 30, 40});
  auto r = RunOp("ScatterND", {data, rows, updates});
  CheckClose(r.outputs[0], {4, 2}, {30, 40, 3, 4, 5, 6, 10, 20});
  r = RunOp("ScatterND", {data, rows, updates}, Attrs({{"reduction", AStr("add")}}));
  CheckClose(r.outputs[0], {4, 2}, {31, 42, 3, 4, 5, 6, 17, 28});
  r = RunOp("ScatterND", {data, rows, updates}, Attrs({{"reduction", AStr("max")}}));
  CheckClose(r.outputs[0], {4, 2}, {30, 40, 3, 4, 5, 6, 10, 20});
  // Full index tuples (k = rank) on int64 data: single elements.
  r = RunOp("ScatterND", {I({2, 2}, {1, 2, 3, 4}), I({2, 2}, {0, 1, 1, 0}), I({2}, {-5, -6})});
  CheckInts(r.outputs[0], {2, 2}, {1, -5, -6, 4});
  // Bad input: an index out of range, updates of the wrong shape.
  r = RunOp("ScatterND", {data, I({1, 1}, {4}), F({1, 2}, {0, 0})});
  CHECK(r.error == "ScatterND index out of range");
  r = RunOp("ScatterND", {data, rows, F({2}, {0, 0})});
  CHECK(r.error == "ScatterND updates have shape [2], expected [2,2]");
}

TEST_CASE("Shape ops", "[exec]") {
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i) v[i] = static_cast<float>(i);
  Tensor x = F({2, 3, 4}, v);
  SECTION("Flatten / Reshape") {
    auto r = RunOp("Flatten", {x}, Attrs({{"axis", AInt(2)}}));
    CHECK(r.outputs[0].shape == std::vector<int64_t>{6, 4});
    r = RunOp("Reshape", {x, I({2}, {0, -1})});
    CHECK(r.outputs[0].shape == std::vector<int64_t>{2, 12});
    CHECK(r.outputs[0].f32 == v);
    r = RunOp("Reshape", {x, I({2}, {-1, -1})});
    CHECK(r.error == "Reshape shape has more than one -1");
    r = RunOp("Reshape", {x, I({2}, {5, -1})});
    CHECK(r.error == "cannot reshape [2,3,4] to [5,-1]");
    r = RunOp("Reshape", {x, I({2}, {5, 5})});
    CHECK(r.error == "cannot reshape [2,3,4] to [5,5]");
  }
  SECTION("Transpose") {
    auto r = RunOp("Transpose", {F({2, 3}, {1, 2, 3, 4, 5, 6})});
    CheckClose(r.outputs[0], {3, 2}, {1, 4, 2, 5, 3, 6});
    r = RunOp("Transpose", {x}, Attrs({{"perm", AInts({1, 0, 2})}}));
    REQUIRE(r.outputs[0].shape == std::vector<int64_t>{3, 2, 4});
    // out[j][i][k] = x[i][j][k]
    CHECK(r.outputs[0].f32[1 * 8 + 1 * 4 + 2] == v[1 * 12 + 1 * 4 + 2]);
    CHECK(r.outputs[0].f32[2 * 8 + 0 * 4 + 3] == v[0 * 12 + 2 * 4 + 3]);
  }
  SECTION("Concat / Split") {
    auto r = RunOp("Concat", {F({2, 1}, {1, 2}), F({2, 2}, {3, 4, 5, 6})}, Attrs({{"axis", AInt(1)}}));
    CheckClose(r.outputs[0], {2, 3}, {1, 3, 4, 2, 5, 6});
    r = RunOp("Concat", {I({1}, {-1}), I({2}, {3, 4})}, Attrs({{"axis", AInt(0)}}));
    CheckInts(r.outputs[0], {3}, {-1, 3, 4});
    r = RunOp("Split", {F({5}, {1, 2, 3, 4, 5}), I({2}, {2, 3})}, {}, 2);
    CheckClose(r.outputs[0], {2}, {1, 2});
    CheckClose(r.outputs[1], {3}, {3, 4, 5});
  }
  SECTION("Slice") {
    Tensor s = F({10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
    auto r = RunOp("Slice", {s, I({1}, {-3}), I({1}, {100})});
    CheckClose(r.outputs[0], {3}, {7, 8, 9});
    r = RunOp("Slice", {s, I({1}, {-1}), I({1}, {-100}), I({1}, {0}), I({1}, {-2})});
    CheckClose(r.outputs[0], {5}, {9, 7, 5, 3, 1});
    r = RunOp("Slice", {F({2, 3}, {1, 2, 3, 4, 5, 6}), I({1}, {1}), I({1}, {INT64_MAX}), I({1}, {1})});
    CheckClose(r.outputs[0], {2, 2}, {2, 3, 5, 6});
    r = RunOp("Slice", {s, I({1}, {0}), I({1}, {5}), I({1}, {0}), I({1}, {0})});
    CHECK(r.error == "Slice step must not be 0");
  }
  SECTION("Squeeze / Unsqueeze") {
    Tensor t = F({1, 3, 1}, {1, 2, 3});
    CHECK(RunOp("Squeeze", {t, I({1}, {0})}).outputs[0].shape == std::vector<int64_t>{3, 1});
    CHECK(RunOp("Squeeze", {t}).outputs[0].shape == std::vector<int64_t>{3});
    CHECK(RunOp("Squeeze", {t, I({1}, {1})}).error == "cannot squeeze dim 1 of [1,3,1]");
    CHECK(RunOp("Unsqueeze", {F({3}, {1, 2, 3}), I({2}, {0, -1})}).outputs[0].shape ==
          std::vector<int64_t>{1, 3, 1});
    CHECK(RunOp("Unsqueeze", {I({}, {7})}, Attrs({{"axes", AInts({0})}}), 1, 11).outputs[0].shape ==
          std::vector<int64_t>{1});
  }
  SECTION("Gather") {
    Tensor t = F({3, 2}, {1, 2, 3, 4, 5, 6});
    auto r = RunOp("Gather", {t, I({2}, {-1, 0})});
    CheckClose(r.outputs[0], {2, 2}, {5, 6, 1, 2});
    r = RunOp("Gather", {t, I({}, {1})}, Attrs({{"axis", AInt(1)}}));
    CheckClose(r.outputs[0], {3}, {2, 4, 6});
    r = RunOp("Gather", {I({3}, {8, 28, 28}), I({}, {0})});
    CheckInts(r.outputs[0], {}, {8});
    r = RunOp("Gather", {t, I({1}, {3})});
    CHECK(r.error == "Gather index 3 out of range for dim 3");
  }
  SECTION("Shape / Cast / Size") {
    CheckInts(RunOp("Shape", {x}).outputs[0], {3}, {2, 3, 4});
    CheckInts(RunOp("Shape", {x}, Attrs({{"start", AInt(1)}})).outputs[0], {2}, {3, 4});
    CheckInts(RunOp("Size", {x}).outputs[0], {}, {24});
    CheckInts(RunOp("Cast", {F({2}, {1.7f, -1.7f})}, Attrs({{"to", AInt(7)}})).outputs[0], {2}, {1, -1});
    CheckClose(RunOp("Cast", {I({2}, {1, 0})}, Attrs({{"to", AInt(1)}})).outputs[0], {2}, {1, 0});
    CHECK(RunOp("Cast", {x}, Attrs({{"to", AInt(8)}})).error == "Cast to ONNX type 8 is not supported");
  }
  SECTION("Pad") {
    auto r = RunOp("Pad", {F({2}, {1, 2}), I({2}, {1, 2}), F({}, {9})});
    CheckClose(r.outputs[0], {5}, {9, 1, 2, 9, 9});
    r = RunOp("Pad", {F({3}, {1, 2, 3}), I({2}, {2, 1})}, Attrs({{"mode", AStr("reflect")}}));
    CheckClose(r.outputs[0], {6}, {3, 2, 1, 2, 3, 2});
    r = RunOp("Pad", {F({2}, {1, 2}), I({2}, {1, 1})}, Attrs({{"mode", AStr("edge")}}));
    CheckClose(r.outputs[0], {4}, {1, 1, 2, 2});
    r = RunOp("Pad", {F({1, 2}, {1, 2}), I({4}, {0, 1, 0, 0})});
    CheckClose(r.outputs[0], {1, 3}, {0, 1, 2});
  }
  SECTION("Expand / Where / Range / ConstantOfShape / Tile") {
    CheckClose(RunOp("Expand", {F({2, 1}, {1, 2}), I({2}, {2, 3})}).outputs[0], {2, 3},
               {1, 1, 1, 2, 2, 2});
    Tensor cond = I({2}, {1, 0});
    cond.type = ElementType::kBool;
    CheckClose(RunOp("Where", {cond, F({2}, {1, 2}), F({}, {9})}).outputs[0], {2}, {1, 9});
    CheckInts(RunOp("Range", {I({}, {0}), I({}, {7}), I({}, {3})}).outputs[0], {3}, {0, 3, 6});
    CheckClose(RunOp("ConstantOfShape", {I({2}, {1, 2})}).outputs[0], {1, 2}, {0, 0});
    CheckClose(RunOp("Tile", {F({2}, {1, 2}), I({1}, {2})}).outputs[0], {4}, {1, 2, 1, 2});
  }
}

TEST_CASE("Resize", "[exec]") {
  Tensor x = F({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor none;
  none.shape = {0};
  SECTION("nearest, half_pixel, round_prefer_floor") {
    Tensor scales = F({4}, {1, 1, 2, 2});
    auto r = RunOp("Resize", std::vector<const Tensor*>{&x, &none, &scales});
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {1, 1, 4, 4}, {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4});
  }
  SECTION("linear, half_pixel") {
    // source coords (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]
    Tensor row = F({1, 1, 1, 2}, {0, 4});
    Tensor scales = F({4}, {1, 1, 1, 2});
    auto r = RunOp("Resize", std::vector<const Tensor*>{&row, &none, &scales}, Attrs({{"mode", AStr("linear")}}));
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {1, 1, 1, 4}, {0, 1, 3, 4});
  }
  SECTION("linear, align_corners, sizes") {
    Tensor row = F({1, 1, 1, 2}, {0, 4});
    Tensor sizes = I({4}, {1, 1, 1, 3});
    auto r = RunOp("Resize", std::vector<const Tensor*>{&row, nullptr, nullptr, &sizes},
                   Attrs({{"mode", AStr("linear")}, {"coordinate_transformation_mode", AStr("align_corners")}}));
    REQUIRE(r.error.empty());
    CheckClose(r.outputs[0], {1, 1, 1, 3}, {0, 2, 4});
  }
  SECTION("cubic is rejected at creation") {
    auto r = RunOp("Resize", {x}, Attrs({{"mode", AStr("cubic")}}));
    CHECK(r.error == "Resize mode 'cubic' is not supported (nearest and linear are)");
  }
}

TEST_CASE("Constant", "[exec]") {
  AttrValue t;
  t.kind = AttrValue::Kind::kTensor;
  t.t = F({2}, {1, 2});
  auto r = RunOp("Constant", std::vector<const Tensor*>{}, Attrs({{"value", t}}));
  CheckClose(r.outputs[0], {2}, {1, 2});
  r = RunOp("Constant", std::vector<const Tensor*>{}, Attrs({{"value_ints", AInts({3, 4})}}));
  CheckInts(r.outputs[0], {2}, {3, 4});
}

}  // namespace
}  // namespace qrules
