// The interpreter: shape chains with a dynamic batch, up-front rejection of unsupported ops,
// execution errors as diagnostics, hooks, state transforms, batching.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "qrules/executor.h"
#include "qrules/ir.h"
#include "unit/exec_test_util.h"

namespace qrules {
namespace {

using namespace qrules::testing;

// x [N,2,2] -> Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))  = [N,4]
//   -> Gemm(W [3,4], b [3], transB) -> Relu -> y [N,3]
std::shared_ptr<const Model> ShapeChainModel() {
  ModelBuilder b;
  b.SetName("chain");
  TensorSpec x;
  x.name = "x";
  x.shape = Shape::Of(std::vector<int64_t>{-1, 2, 2});
  x.shape.dims[0].symbol = "N";
  b.AddInput(x);
  b.AddState(State("zero", I({}, {0})));
  b.AddState(State("axes0", I({1}, {0})));
  b.AddState(State("minus1", I({1}, {-1})));
  b.AddState(State("fc.weight", F({3, 4}, {1, 0, 0, 0, 0, 1, 1, 0, -1, -1, -1, -1})));
  b.AddState(State("fc.bias", F({3}, {0, 1, 0})));
  b.AddOp(MakeOp("shape", "Shape", {"x"}, {Act("s", ElementType::kInt64)}));
  b.AddOp(MakeOp("gather", "Gather", {"s", "zero"}, {Act("n", ElementType::kInt64)},
                 {{"axis", Attribute::Int(0)}}));
  b.AddOp(MakeOp("unsq", "Unsqueeze", {"n", "axes0"}, {Act("n1", ElementType::kInt64)}));
  b.AddOp(MakeOp("cat", "Concat", {"n1", "minus1"}, {Act("shape2", ElementType::kInt64)},
                 {{"axis", Attribute::Int(0)}}));
  b.AddOp(MakeOp("reshape", "Reshape", {"x", "shape2"}, {Act("flat")}));
  b.AddOp(MakeOp("fc", "Gemm", {"flat", "fc.weight", "fc.bias"}, {Act("h")},
                 {{"transB", Attribute::Int(1)}}));
  b.AddOp(MakeOp("relu", "Relu", {"h"}, {Act("y")}));
  b.AddOutput("y");
  ModelResult r = std::move(b).Build();
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return r.model;
}

// Row [a,b,c,d] -> relu([a, 1 + b + c, -(a+b+c+d)])
std::vector<float> ChainExpected(const std::vector<float>& x) {
  std::vector<float> y;
  for (size_t i = 0; i < x.size(); i += 4) {
    const float a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
    y.push_back(std::max(a, 0.0f));
    y.push_back(std::max(1 + b + c, 0.0f));
    y.push_back(std::max(-(a + b + c + d), 0.0f));
  }
  return y;
}

TEST_CASE("shape chains with a dynamic batch", "[exec][executor]") {
  auto model = ShapeChainModel();
  ExecutorResult e = Executor::Create(model);
  INFO(RenderText(e.diagnostics));
  REQUIRE(e.ok());
  for (int64_t n : {1, 3, 1, 5}) {  // alternate sizes: buffers from the pool must be resized
    std::vector<float> xv;
    for (int64_t i = 0; i < n * 4; ++i) xv.push_back(static_cast<float>(i % 7) - 3.0f);
    RunResult r = e.executor->Run({F({n, 2, 2}, xv)});
    INFO(RenderText(r.diagnostics));
    REQUIRE(r.ok());
    REQUIRE(r.outputs.size() == 1);
    CheckClose(r.outputs[0], {n, 3}, ChainExpected(xv));
  }
}

TEST_CASE("RunBatched concatenates batches along axis 0", "[exec][executor]") {
  ExecutorResult e = Executor::Create(ShapeChainModel());
  REQUIRE(e.ok());
  std::vector<float> xv;
  for (int i = 0; i < 7 * 4; ++i) xv.push_back(static_cast<float>(i % 5) - 2.0f);
  std::vector<Tensor> in = {F({7, 2, 2}, xv)};
  RunResult r = e.executor->RunBatched(in, 3);
  REQUIRE(r.ok());
  CheckClose(r.outputs[0], {7, 3}, ChainExpected(xv));
}

TEST_CASE("inputs that do not fit are execution errors", "[exec][executor]") {
  ExecutorResult e = Executor::Create(ShapeChainModel());
  REQUIRE(e.ok());
  Executor& ex = *e.executor;
  RunResult r = ex.Run({F({1, 4}, {1, 2, 3, 4})});
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].id() == "execution-error");
  CHECK(r.diagnostics[0].message == "input 'x': expected shape [N, 2, 2], got [1,4]");
  CHECK(r.outputs.empty());

  r = ex.Run({F({1, 2, 2}, {1, 2, 3})});
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].message == "input 'x': data size does not match shape [1,2,2]");

  r = ex.Run(std::span<const Tensor>());
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].message == "the model takes 1 input(s), got 0");

  r = ex.Run({I({1, 2, 2}, {1, 2, 3, 4})});
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].message == "input 'x': expected float data");

  // Still usable afterwards.
  r = ex.Run({F({1, 2, 2}, {1, 2, 3, 4})});
  REQUIRE(r.ok());
  CheckClose(r.outputs[0], {1, 3}, {1, 6, 0});
}

TEST_CASE("a shape mismatch inside the graph names the op", "[exec][executor]") {
  ModelBuilder b;
  b.SetName("bad");
  TensorSpec x;
  x.name = "x";
  x.shape = Shape::Of(std::vector<int64_t>{-1, 4});
  b.AddInput(x);
  b.AddState(State("w", F({3, 5}, std::vector<float>(15, 1.0f))));
  b.AddOp(MakeOp("fc", "Gemm", {"x", "w"}, {Act("y")}, {{"transB", Attribute::Int(1)}}));
  b.AddOutput("y");
  ModelResult m = std::move(b).Build();
  REQUIRE(m.ok());
  ExecutorResult e = Executor::Create(m.model);
  REQUIRE(e.ok());
  RunResult r = e.executor->Run({F({2, 4}, std::vector<float>(8, 1.0f))});
  REQUIRE(r.diagnostics.size() == 1);
  CHECK(r.diagnostics[0].id() == "execution-error");
  CHECK(r.diagnostics[0].message == "op 'fc' (Gemm): Gemm inner dimensions differ: A [2,4], B [3,5]");
}

TEST_CASE("unsupported ops are rejected up front with one diagnostic", "[exec][executor]") {
  ModelBuilder b;
  b.SetName("odd");
  TensorSpec x;
  x.name = "x";
  x.shape = Shape::Of(std::vector<int64_t>{1, 4});
  b.AddInput(x);
  b.AddOp(MakeOp("a", "NonMaxSuppression", {"x"}, {Act("t1")}));
  b.AddOp(MakeOp("b", "Relu", {"t1"}, {Act("t2")}));
  b.AddOp(MakeOp("c", "Einsum", {"t2"}, {Act("t3")}));
  b.AddOp(MakeOp("d", "NonMaxSuppression", {"t3"}, {Act("t4")}));
  b.AddOutput("t4");
  ModelResult m = std::move(b).Build();
  REQUIRE(m.ok());
  ExecutorResult e = Executor::Create(m.model);
  CHECK_FALSE(e.ok());
  REQUIRE(e.diagnostics.size() == 1);
  const Diagnostic& d = e.diagnostics[0];
  CHECK(d.id() == "unsupported-op");
  CHECK(d.message ==
        "model uses 2 op types the executor has no kernel for: 'Einsum', 'NonMaxSuppression'");
  REQUIRE(d.notes.size() == 2);
  CHECK(d.notes[0].message == "'Einsum' is used by 'c'");
  CHECK(d.notes[1].message == "'NonMaxSuppression' is used by 'a', 'd'");
}

TEST_CASE("unsupported attribute variants are rejected at creation", "[exec][executor]") {
  ModelBuilder b;
  TensorSpec x;
  x.name = "x";
  x.shape = Shape::Of(std::vector<int64_t>{1, 1, 2, 2});
  b.AddInput(x);
  b.AddState(State("scales", F({4}, {1, 1, 2, 2})));
  b.AddOp(MakeOp("up", "Resize", {"x", "", "scales"}, {Act("y")},
                 {{"mode", Attribute::String("cubic")}}));
  b.AddOutput("y");
  ModelResult m = std::move(b).Build();
  REQUIRE(m.ok());
  ExecutorResult e = Executor::Create(m.model);
  REQUIRE(e.diagnostics.size() == 1);
  CHECK(e.diagnostics[0].id() == "unsupported-op");
  CHECK(e.diagnostics[0].message ==
        "op 'up' (Resize): Resize mode 'cubic' is not supported (nearest and linear are)");
}

TEST_CASE("hooks observe and modify tensors", "[exec][executor]") {
  ExecutorResult e = Executor::Create(ShapeChainModel());
  REQUIRE(e.ok());
  Executor& ex = *e.executor;
  const Model& m = ex.model();
  const OpId fc = *m.OpIdOf("fc");
  const OpId relu = *m.OpIdOf("relu");
  Tensor x = F({1, 2, 2}, {1, 2, 3, 4});  // h = [1, 6, -10]

  SECTION("observe every output") {
    std::vector<std::string> seen;
    ex.SetHook(
        [&](const TensorEvent& ev, Tensor&) { seen.push_back(m.tensor(ev.tensor).name); },
        [](const Model&, OpId, TensorSlot s) {
          return s.kind == TensorSlot::Kind::kOutput ? HookMode::kObserve : HookMode::kNone;
        });
    REQUIRE(ex.Run({x}).ok());
    CHECK(seen == std::vector<std::string>{"s", "n", "n1", "shape2", "flat", "h", "y"});
  }
  SECTION("modify an op output") {
    ex.SetHook([](const TensorEvent&, Tensor& t) { t.f32[2] = 5.0f; },
               [&](const Model&, OpId op, TensorSlot s) {
                 return op == fc && s.kind == TensorSlot::Kind::kOutput ? HookMode::kModify
                                                                         : HookMode::kNone;
               });
    RunResult r = ex.Run({x});
    CheckClose(r.outputs[0], {1, 3}, {1, 6, 5});
  }
  SECTION("modify an op input: graph input, state and activation") {
    ex.SetHook(
        [&](const TensorEvent& ev, Tensor& t) {
          if (ev.slot.index == 1) {
            for (float& v : t.f32) v *= 2;  // weight
          } else if (ev.op_id == relu) {
            t.f32[0] = -1;
          }
        },
        [&](const Model&, OpId op, TensorSlot s) {
          if (s.kind != TensorSlot::Kind::kInput) return HookMode::kNone;
          if (op == fc && s.index == 1) return HookMode::kModify;
          if (op == relu && s.index == 0) return HookMode::kModify;
          return HookMode::kNone;
        });
    RunResult r = ex.Run({x});
    // h = 2 W x + b = [2, 11, -20]; relu input element 0 forced to -1
    CheckClose(r.outputs[0], {1, 3}, {0, 11, 0});
    // The model's weight is untouched, and so is the caller's input.
    CHECK(m.tensor(*m.TensorIdOf("fc.weight")).data->f32[0] == 1.0f);
    CHECK(x.f32[0] == 1.0f);
    ex.ClearHook();
    CheckClose(ex.Run({x}).outputs[0], {1, 3}, {1, 6, 0});
  }
}

TEST_CASE("TransformStates changes weights once, and ResetStates restores them", "[exec][executor]") {
  ExecutorResult e = Executor::Create(ShapeChainModel());
  REQUIRE(e.ok());
  Executor& ex = *e.executor;
  Tensor x = F({1, 2, 2}, {1, 2, 3, 4});
  int calls = 0;
  ex.TransformStates([&](TensorId, const TensorInfo& info, Tensor& v) {
    ++calls;
    if (info.name == "fc.bias") v.f32 = {10, 10, 10};
  });
  CHECK(calls == 5);
  CheckClose(ex.Run({x}).outputs[0], {1, 3}, {11, 15, 0});
  CheckClose(ex.Run({x}).outputs[0], {1, 3}, {11, 15, 0});
  ex.ResetStates();
  CheckClose(ex.Run({x}).outputs[0], {1, 3}, {1, 6, 0});
}

}  // namespace
}  // namespace qrules

namespace qrules {
namespace {

using namespace qrules::testing;

// x [N,3] -> MatMul(W [3,2]) -> Add(b [2]) -> Relu -> y; the executor fuses the three ops.
// A hook on an intermediate must see the same values as without fusion.
TEST_CASE("fused MatMul+Add+Relu and hooks on the fused chain", "[exec][executor]") {
  ModelBuilder b;
  TensorSpec x;
  x.name = "x";
  x.shape = Shape::Of(std::vector<int64_t>{-1, 3});
  b.AddInput(x);
  b.AddState(State("w", F({3, 2}, {1, -1, 2, 0, 0, 1})));
  b.AddState(State("bias", F({2}, {0.5f, -4})));
  b.AddOp(MakeOp("mm", "MatMul", {"x", "w"}, {Act("t")}));
  b.AddOp(MakeOp("add", "Add", {"t", "bias"}, {Act("u")}));
  b.AddOp(MakeOp("relu", "Relu", {"u"}, {Act("y")}));
  b.AddOutput("y");
  ModelResult m = std::move(b).Build();
  REQUIRE(m.ok());
  ExecutorResult e = Executor::Create(m.model);
  REQUIRE(e.ok());
  Executor& ex = *e.executor;
  // rows: [1,2,3] -> t = [5, 2], u = [5.5, -2]; [-1,0,2] -> t = [-1, 3], u = [-0.5, -1]
  Tensor in = F({2, 3}, {1, 2, 3, -1, 0, 2});
  CheckClose(ex.Run({in}).outputs[0], {2, 2}, {5.5f, 0, 0, 0});

  std::vector<std::pair<std::string, std::vector<float>>> seen;
  auto record = [&](const TensorEvent& ev, Tensor& t) {
    seen.push_back({ev.op->name + ":" + m.model->tensor(ev.tensor).name, t.f32});
  };
  SECTION("a hook on the last output keeps the fusion and reports the last op") {
    ex.SetHook(record, [](const Model& mm, OpId op, TensorSlot s) {
      return mm.op(op).name == "relu" && s.kind == TensorSlot::Kind::kOutput ? HookMode::kObserve
                                                                             : HookMode::kNone;
    });
    CheckClose(ex.Run({in}).outputs[0], {2, 2}, {5.5f, 0, 0, 0});
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].first == "relu:y");
    CHECK(seen[0].second == std::vector<float>{5.5f, 0, 0, 0});
  }
  SECTION("a hook on an intermediate unfuses") {
    ex.SetHook(record, [](const Model& mm, OpId op, TensorSlot s) {
      return mm.op(op).name == "add" && s.kind == TensorSlot::Kind::kInput && s.index == 0
                 ? HookMode::kObserve
                 : HookMode::kNone;
    });
    CheckClose(ex.Run({in}).outputs[0], {2, 2}, {5.5f, 0, 0, 0});
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].first == "add:t");
    CHECK(seen[0].second == std::vector<float>{5, 2, -1, 3});
    ex.ClearHook();
    CheckClose(ex.Run({in}).outputs[0], {2, 2}, {5.5f, 0, 0, 0});
  }
}

}  // namespace
}  // namespace qrules

namespace qrules {
namespace {

using namespace qrules::testing;

// PyTorch's GELU export below opset 20; the executor runs it as one Gelu kernel.
TEST_CASE("the exported erf GELU chain gives GELU, fused or not", "[exec][executor]") {
  ModelBuilder b;
  TensorSpec x;
  x.name = "x";
  x.shape = Shape::Of(std::vector<int64_t>{-1, 4});
  b.AddInput(x);
  b.AddState(State("sqrt2", F({}, {1.4142135f})));
  b.AddState(State("one", F({}, {1.0f})));
  b.AddState(State("half", F({}, {0.5f})));
  b.AddOp(MakeOp("div", "Div", {"x", "sqrt2"}, {Act("a")}));
  b.AddOp(MakeOp("erf", "Erf", {"a"}, {Act("e")}));
  b.AddOp(MakeOp("add", "Add", {"e", "one"}, {Act("p")}));
  b.AddOp(MakeOp("mul", "Mul", {"x", "p"}, {Act("q")}));
  b.AddOp(MakeOp("mul2", "Mul", {"q", "half"}, {Act("y")}));
  b.AddOutput("y");
  ModelResult m = std::move(b).Build();
  REQUIRE(m.ok());
  ExecutorResult e = Executor::Create(m.model);
  REQUIRE(e.ok());
  Tensor in = F({1, 4}, {-1, 0, 0.5f, 2});
  const std::vector<float> want = {-0.1586553f, 0, 0.3457312f, 1.9544997f};
  CheckClose(e.executor->Run({in}).outputs[0], {1, 4}, want);
  int calls = 0;
  e.executor->SetHook([&](const TensorEvent&, Tensor&) { ++calls; },
                      [](const Model& mm, OpId op, TensorSlot s) {
                        return mm.op(op).name == "erf" && s.kind == TensorSlot::Kind::kOutput
                                   ? HookMode::kObserve
                                   : HookMode::kNone;
                      });
  CheckClose(e.executor->Run({in}).outputs[0], {1, 4}, want);
  CHECK(calls == 1);
}

}  // namespace
}  // namespace qrules
