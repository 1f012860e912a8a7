// The shared Fashion-MNIST models end to end: import, run in float, compare with PyTorch's
// reference outputs and the README's accuracy.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "qrules/executor.h"
#include "qrules/npy.h"
#include "qrules/onnx_import.h"

namespace qrules {
namespace {

const std::string kDir = std::string(QRULES_TEST_DATA_DIR) + "/models/";

Tensor LoadNpy(const std::string& name) {
  NpyResult r = ReadNpyFile(kDir + name);
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  return *r.tensor;
}

std::unique_ptr<Executor> LoadModel(const std::string& name) {
  ImportOptions opt;
  opt.module_map_path = kDir + name + ".modules.json";
  ImportResult m = ImportOnnxFile(kDir + name + ".onnx", opt);
  INFO(RenderText(m.diagnostics));
  REQUIRE(m.ok());
  ExecutorResult e = Executor::Create(m.model);
  INFO(RenderText(e.diagnostics));
  REQUIRE(e.ok());
  return std::move(e.executor);
}

// max |a - b| / (max(b) - min(b))
double RelativeMaxError(const Tensor& got, const Tensor& want) {
  REQUIRE(got.shape == want.shape);
  auto [lo, hi] = std::minmax_element(want.f32.begin(), want.f32.end());
  double err = 0;
  for (size_t i = 0; i < want.f32.size(); ++i)
    err = std::max(err, std::abs(static_cast<double>(got.f32[i]) - want.f32[i]));
  return err / std::max(1e-12, static_cast<double>(*hi - *lo));
}

// Runs `name`.input0.npy through the model and checks the output against `name`.output0.npy
// (PyTorch's) within 1e-4 of its range; returns the input and the reference output.
std::pair<Tensor, Tensor> CheckReferenceOutput(Executor& ex, const std::string& name) {
  Tensor in = LoadNpy(name + ".input0.npy");
  Tensor want = LoadNpy(name + ".output0.npy");
  RunResult r = ex.Run({in});
  INFO(RenderText(r.diagnostics));
  REQUIRE(r.ok());
  CHECK(RelativeMaxError(r.outputs[0], want) <= 1e-4);
  return {std::move(in), std::move(want)};
}

int Correct(const Tensor& logits, const Tensor& labels) {
  const int64_t n = logits.shape[0], k = logits.shape[1];
  int correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* row = logits.f32.data() + i * k;
    const int64_t best = std::max_element(row, row + k) - row;
    correct += best == labels.i64[i];
  }
  return correct;
}

TEST_CASE("shared models match PyTorch in float", "[exec][models]") {
  struct Case {
    const char* name;
    int correct;  // of 1000, from the README
    bool has_logits;
  };
  const Case cases[] = {{"fmnist_mlp", 893, true}, {"fmnist_cnn", 926, true}, {"fmnist_cnn_bn", 926, false}};
  const Tensor images = LoadNpy("fmnist_test1000_input.npy");
  const Tensor labels = LoadNpy("fmnist_test1000_labels.npy");
  for (const Case& c : cases) {
    INFO(c.name);
    auto ex = LoadModel(c.name);
    CheckReferenceOutput(*ex, c.name);

    std::vector<Tensor> batch = {images};
    RunResult all = ex->RunBatched(batch, 64);
    INFO(RenderText(all.diagnostics));
    REQUIRE(all.ok());
    REQUIRE(all.outputs[0].shape == std::vector<int64_t>{1000, 10});
    CHECK(Correct(all.outputs[0], labels) == c.correct);
    if (c.has_logits) {
      CHECK(RelativeMaxError(all.outputs[0], LoadNpy(std::string(c.name) + ".test1000_logits.npy")) <= 1e-4);
    }
    // One batch of 1000 gives the same logits as batches of 64.
    RunResult one = ex->Run({images});
    REQUIRE(one.ok());
    CHECK(RelativeMaxError(one.outputs[0], all.outputs[0]) <= 1e-5);
  }
}

// Two PyTorch models exported by tests/data/models/make_torch_zoo.py (random weights) that
// together use most of the op set: BatchNormalization kept as a node, depthwise, dilated and
// transposed convs, nearest and bilinear Resize with scales and sizes computed by shape chains,
// Pad, pools with pads, reductions, a written-out attention block with a dynamic batch, LayerNorm,
// erf-GELU, Pow/Sqrt/Exp/Log/Min/Max.  Expected: PyTorch's own outputs, within the issue's
// 1e-4 of the output range.
TEST_CASE("PyTorch zoo models match PyTorch in float", "[exec][models]") {
  for (const char* name : {"zoo_vision", "zoo_sequence"}) {
    INFO(name);
    auto ex = LoadModel(name);
    const auto [in, want] = CheckReferenceOutput(*ex, name);
    // The dynamic batch: each sample alone gives its row of the batched output.
    std::vector<Tensor> batch = {in};
    RunResult one_by_one = ex->RunBatched(batch, 1);
    INFO(RenderText(one_by_one.diagnostics));
    REQUIRE(one_by_one.ok());
    CHECK(RelativeMaxError(one_by_one.outputs[0], want) <= 1e-4);
  }
}

}  // namespace
}  // namespace qrules
