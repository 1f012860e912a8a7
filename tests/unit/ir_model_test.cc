// The C++ builder API, state ownership rules and the op registry.
#include <catch2/catch.hpp>

#include "qrules/ir.h"

using namespace qrules;

TEST_CASE("ModelBuilder builds the header's example", "[ir][model]") {
  ModelBuilder b;
  b.AddModule("", "my.Net");
  b.AddModule("fc", "torch.nn.modules.linear.Linear");
  b.AddInput({.name = "x", .shape = {1, 4}});
  b.AddState({.name = "fc.weight", .shape = {2, 4}, .data = Tensor::Float({2, 4}, std::vector<float>(8, 1.0f))});
  b.AddState({.name = "c"});
  b.AddOp({.name = "fc", .type = "linear", .module = "fc", .inputs = {"x", "fc.weight"},
           .outputs = {{.name = "y", .shape = {1, 2}}}});
  b.AddOp({.type = "mul", .module = "head.scale", .inputs = {"y", "c"}, .outputs = {{.name = "z"}}});
  b.AddOutput("z");
  ModelResult r = std::move(b).Build();
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  const Model& m = *r.model;
  const Op& fc = *m.FindOp("fc");
  const TensorInfo& w = m.tensor(fc.inputs[1]);
  CHECK(m.module(w.owner).name == "fc");
  CHECK(w.local_name == "weight");
  CHECK(w.dtype == ElementType::kFloat32);
  CHECK(w.dtype_name == "float32");
  CHECK(m.InputName(fc, 1) == "weight");
  CHECK(m.OutputName(fc, 0) == "output");
  // Generated op name; implicit modules with their parents; dotless state owned by the consumer.
  const Op& mul = *m.FindOp("mul_0");
  CHECK(m.module(mul.module).name == "head.scale");
  CHECK(m.FindModule("head")->type.empty());
  CHECK(mul.module_stack.size() == 3);
  const TensorInfo& c = *m.FindTensor("c");
  CHECK(m.module(c.owner).name == "head.scale");
  CHECK(c.local_name == "other");
  CHECK(m.FindModule("head.scale")->states == std::vector<TensorId>{*m.TensorIdOf("c")});
  CHECK(m.has_module_types());
}

TEST_CASE("local names of consumer-owned states are unique per module", "[ir][model]") {
  ModelBuilder b;
  b.AddInput({.name = "x", .shape = {2}});
  b.AddState({.name = "a", .shape = {2}});
  b.AddState({.name = "k", .shape = {2}});
  b.AddState({.name = "unused", .shape = {1}});
  b.AddOp({.name = "m1", .type = "mul", .module = "blk", .inputs = {"x", "a"}, .outputs = {{.name = "y"}}});
  b.AddOp({.name = "m2", .type = "mul", .module = "blk", .inputs = {"y", "k"}, .outputs = {{.name = "z"}}});
  b.AddOp({.name = "u", .type = "Foo", .module = "blk", .inputs = {"z", "a"}, .outputs = {{.name = "w"}}});
  ModelResult r = std::move(b).Build();
  REQUIRE(r.ok());
  CHECK(r.model->FindTensor("a")->local_name == "other");
  CHECK(r.model->FindTensor("k")->local_name == "other_1");
  CHECK(r.model->FindTensor("a")->consumers.size() == 2);
  CHECK(r.model->FindTensor("unused")->owner == 0);
  CHECK(r.model->FindTensor("unused")->local_name == "unused");
  CHECK(r.model->InputName(*r.model->FindOp("u"), 1).empty());
}

TEST_CASE("builder errors are model-invalid diagnostics", "[ir][model]") {
  ModelBuilder b;
  b.SetName("m");
  b.AddModule("a", "x.A");
  b.AddModule("a", "x.B");
  b.AddState({.name = "w", .shape = {2, 2}, .data = Tensor::Float({2, 2}, {1, 2, 3})});
  b.AddOp({.name = "o", .type = "relu", .inputs = {"nope"}, .outputs = {{.name = "y"}}});
  b.AddOp({.name = "o", .type = "relu", .inputs = {"y"}, .outputs = {{.name = "y2"}}});
  ModelResult r = std::move(b).Build();
  CHECK(r.model == nullptr);
  CHECK(RenderText(r.diagnostics) ==
        "m: error: module 'a' declared with type 'x.A' and 'x.B' [model-invalid]\n"
        "m: error: op 'o' is defined twice [model-invalid]\n"
        "m: error: op 'o' reads undefined tensor 'nope' [model-invalid]\n");
}

TEST_CASE("the op registry follows SEMANTICS.md b.5 and b.10", "[ir][model]") {
  for (const char* t : {"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
                        "linear", "embedding", "matmul", "add", "add_", "mul", "mul_", "sub", "sub_", "isub",
                        "flatten", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool2d", "adaptive_avg_pool2d",
                        "mean", "cat", "concat"}) {
    INFO(t);
    CHECK(IsRegisteredOp(t));
  }
  for (const char* t : {"relu", "softmax", "layer_norm", "div", "batch_norm", "reshape", "gelu", "Foo"}) {
    INFO(t);
    CHECK_FALSE(IsRegisteredOp(t));
  }
  for (const char* t : {"relu", "relu6", "leaky_relu", "silu", "elu", "celu", "selu", "mish", "hardtanh", "hardswish",
                        "hardsigmoid", "gelu", "sigmoid", "logsigmoid", "tanh"}) {
    INFO(t);
    REQUIRE(FindOpType(t));
    CHECK(FindOpType(t)->activation);
  }
  for (const char* t : {"flatten", "max_pool2d", "avg_pool1d", "adaptive_avg_pool3d", "mean", "cat"}) {
    CHECK(FindOpType(t)->shared_observer);
  }
  CHECK_FALSE(FindOpType("add")->shared_observer);
  CHECK(FindOpType("flatten")->channel_altering);
  CHECK(FindOpType("permute")->channel_altering);
  CHECK(FindOpType("cat")->variadic);
  CHECK(FindOpType("embedding")->input_names == std::vector<std::string_view>{"weight", "indices"});
  CHECK(FindOpType("add")->input_names == std::vector<std::string_view>{"input", "other"});
  CHECK(FindOpType("batch_norm")->input_names.size() == 5);
  CHECK(FindOpType("conv2d")->pattern == "conv");
  CHECK(FindOpType("sub_")->pattern == "sub");
  // b.10 table.
  auto axes = [](const char* t) { return std::pair(FindOpType(t)->per_channel_axis, FindOpType(t)->per_block_axis); };
  CHECK(axes("conv2d") == std::pair(0, 1));
  CHECK(axes("conv_transpose3d") == std::pair(1, 0));
  CHECK(axes("linear") == std::pair(0, 1));
  CHECK(axes("embedding") == std::pair(0, 1));
  CHECK(axes("matmul") == std::pair(-1, -1));
  Op op;
  op.type = "matmul";
  CHECK_FALSE(DefaultWeightAxis(op, WeightAxisUse::kPerChannel));
}

TEST_CASE("shapes print and compare", "[ir][model]") {
  Shape s{1, Dim::Symbol("N"), Dim()};
  CHECK(s.ToString() == "[1, N, ?]");
  CHECK_FALSE(s.is_static());
  CHECK(s.sizes() == std::vector<int64_t>{1, -1, -1});
  CHECK(Shape().ToString() == "?");
  CHECK(Shape::Of(std::vector<int64_t>{}).ToString() == "[]");
  CHECK(Shape::Of(std::vector<int64_t>{2, 3}).is_static());
}
