// exec_bench — the float executor's benchmark, single thread.
//
//   build/bench/exec_bench [--quick] [--models DIR]
//
// (a) GEMM-heavy kernels (Gemm, Conv, run through the executor's kernel objects, im2col and bias
//     included) against a bare Eigen product `C = A * B` of the same M×N×K, compiled for the same
//     instruction set, measured in the same run: GFLOP/s and the ratio (target >= 0.70).
// (b) Float latency of whole models at batch 1 and 64: the shared Fashion-MNIST models, a
//     ResNet-18-sized CNN and a transformer block (bench/make_bench_models.py), and a chain of
//     100 tiny Relu ops that exposes the per-node overhead.
// Every figure is the median of repeated calls.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "exec/kernels.h"
#include "qrules/executor.h"
#include "qrules/ir.h"
#include "qrules/onnx_import.h"

namespace qrules::bench {
void BareEigenGeneric(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);
#if defined(QRULES_EXEC_X86_VARIANTS)
void BareEigenAvx2(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);
void BareEigenAvx512(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);
#endif
}  // namespace qrules::bench

namespace {

using qrules::Tensor;
using Clock = std::chrono::steady_clock;

bool g_quick = false;

// Median seconds per call over at least `min_reps` calls and `min_seconds`.
double Median(const std::function<void()>& fn, double min_seconds, int min_reps = 7) {
  if (g_quick) min_seconds /= 5;
  fn();  // warm-up
  std::vector<double> t;
  const auto start = Clock::now();
  while (static_cast<int>(t.size()) < min_reps ||
         std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    const auto t0 = Clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (t.size() > 200000) break;
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

std::vector<float> Pseudo(size_t n, uint32_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[i] = static_cast<float>((seed >> 8) % 2001) / 1000.0f - 1.0f;
  }
  return v;
}

using BareFn = void (*)(int64_t, int64_t, int64_t, const float*, const float*, float*);

BareFn BareForPath() {
#if defined(QRULES_EXEC_X86_VARIANTS)
  const std::string_view path = qrules::internal::SgemmPath();
  if (path == "avx512") return &qrules::bench::BareEigenAvx512;
  if (path == "avx2-fma") return &qrules::bench::BareEigenAvx2;
#endif
  return &qrules::bench::BareEigenGeneric;
}

qrules::internal::AttrValue Ints(std::vector<int64_t> v) {
  qrules::internal::AttrValue a;
  a.kind = qrules::internal::AttrValue::Kind::kInts;
  a.ints = std::move(v);
  return a;
}
qrules::internal::AttrValue Int(int64_t v) {
  qrules::internal::AttrValue a;
  a.kind = qrules::internal::AttrValue::Kind::kInt;
  a.i = v;
  return a;
}

struct KernelCase {
  std::string label;
  std::string op;
  std::vector<Tensor> inputs;
  qrules::internal::AttrMap attrs;
  int64_t m, n, k;  // the GEMM it amounts to
};

void KernelSection() {
  std::printf("## (a) GEMM-heavy kernels vs a bare Eigen product (GEMM path: %s)\n\n",
              std::string(qrules::internal::SgemmPath()).c_str());
  std::printf("| kernel | M×N×K | kernel GFLOP/s | bare Eigen GFLOP/s | ratio |\n");
  std::printf("|---|---|---:|---:|---:|\n");
  std::vector<KernelCase> cases;
  auto gemm = [&](std::string label, int64_t m, int64_t n, int64_t k) {
    KernelCase c{label, "Gemm", {}, {}, m, n, k};
    c.inputs = {Tensor::Float({m, k}, Pseudo(m * k, 1)), Tensor::Float({n, k}, Pseudo(n * k, 2)),
                Tensor::Float({n}, Pseudo(n, 3))};
    c.attrs.Set("transB", Int(1));
    cases.push_back(std::move(c));
  };
  auto conv = [&](std::string label, int64_t cin, int64_t cout, int64_t hw, int64_t kk,
                  int64_t stride, int64_t pad) {
    const int64_t o = (hw + 2 * pad - kk) / stride + 1;
    KernelCase c{label, "Conv", {}, {}, cout, o * o, cin * kk * kk};
    c.inputs = {Tensor::Float({1, cin, hw, hw}, Pseudo(cin * hw * hw, 4)),
                Tensor::Float({cout, cin, kk, kk}, Pseudo(cout * cin * kk * kk, 5)),
                Tensor::Float({cout}, Pseudo(cout, 6))};
    c.attrs.Set("strides", Ints({stride, stride}));
    c.attrs.Set("pads", Ints({pad, pad, pad, pad}));
    cases.push_back(std::move(c));
  };
  gemm("Gemm fc1 (batch 64, 784→256)", 64, 256, 784);
  gemm("Gemm 512² (transB)", 512, 512, 512);
  gemm("Gemm fc (batch 64, 512→1000)", 64, 1000, 512);
  conv("Conv 3×3 16→32 @14² (fmnist_cnn conv2)", 16, 32, 14, 3, 1, 1);
  conv("Conv 3×3 64→64 @56²", 64, 64, 56, 3, 1, 1);
  conv("Conv 3×3 128→128 @28²", 128, 128, 28, 3, 1, 1);
  conv("Conv 3×3 256→256 @14²", 256, 256, 14, 3, 1, 1);
  conv("Conv 3×3 512→512 @7²", 512, 512, 7, 3, 1, 1);
  conv("Conv 7×7/2 3→64 @224²", 3, 64, 224, 7, 2, 3);
  conv("Conv 1×1 256→256 @14²", 256, 256, 14, 1, 1, 0);

  const BareFn bare = BareForPath();
  std::vector<double> ratios;
  for (KernelCase& c : cases) {
    qrules::internal::KernelSpec spec{c.op, &c.attrs, 13, c.inputs.size(), 1};
    std::string err;
    auto kernel = qrules::internal::CreateKernel(spec, &err);
    std::vector<const Tensor*> in;
    for (const Tensor& t : c.inputs) in.push_back(&t);
    Tensor out;
    std::vector<Tensor*> outs = {&out};
    const double flop = 2.0 * static_cast<double>(c.m) * static_cast<double>(c.n) * static_cast<double>(c.k);
    const double tk = Median([&] { (void)kernel->Run(in, outs); }, 0.4);
    std::vector<float> a = Pseudo(c.m * c.k, 7), b = Pseudo(c.k * c.n, 8), y(c.m * c.n);
    const double tb = Median([&] { bare(c.m, c.n, c.k, a.data(), b.data(), y.data()); }, 0.4);
    ratios.push_back(tb / tk);
    std::printf("| %s | %lld×%lld×%lld | %.1f | %.1f | %.2f |\n", c.label.c_str(),
                static_cast<long long>(c.m), static_cast<long long>(c.n),
                static_cast<long long>(c.k), flop / tk * 1e-9, flop / tb * 1e-9, tb / tk);
  }
  std::sort(ratios.begin(), ratios.end());
  std::printf("\nratio kernel/bare Eigen: min %.2f, median %.2f\n\n", ratios.front(),
              ratios[ratios.size() / 2]);
}

std::shared_ptr<const qrules::Model> Import(const std::string& path) {
  qrules::ImportResult r = qrules::ImportOnnxFile(path);
  if (!r.ok()) {
    std::fprintf(stderr, "%s", qrules::RenderText(r.diagnostics).c_str());
    return nullptr;
  }
  return r.model;
}

// 100 Relu ops on a [1,16] tensor: the executor's per-node cost.
std::shared_ptr<const qrules::Model> ReluChain(int n) {
  qrules::ModelBuilder b;
  b.SetName("relu_chain");
  qrules::TensorSpec x;
  x.name = "t0";
  x.shape = qrules::Shape::Of(std::vector<int64_t>{-1, 16});
  b.AddInput(x);
  for (int i = 0; i < n; ++i) {
    qrules::OpSpec op;
    op.name = "relu" + std::to_string(i);
    op.type = "relu";
    op.onnx_type = "Relu";
    op.inputs = {"t" + std::to_string(i)};
    qrules::TensorSpec out;
    out.name = "t" + std::to_string(i + 1);
    op.outputs = {out};
    b.AddOp(std::move(op));
  }
  b.AddOutput("t" + std::to_string(n));
  qrules::ModelResult r = std::move(b).Build();
  return r.ok() ? r.model : nullptr;
}

void ModelSection(const std::string& models_dir) {
  std::printf("## (b) Float model latency (median per call; per image in parentheses)\n\n");
  std::printf("| model | ops | batch 1 | batch 64 | W8A8 batch 1 | W8A8 / float |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  struct M {
    std::string name;
    std::shared_ptr<const qrules::Model> model;
    std::vector<int64_t> in_shape;  // batch dim first (overwritten)
    bool batch64;
  };
  const std::string shared = std::string(QRULES_TEST_DATA_DIR) + "/models/";
  std::vector<M> models;
  for (const char* n : {"fmnist_mlp", "fmnist_cnn", "fmnist_cnn_bn"})
    models.push_back({n, Import(shared + n + ".onnx"), {1, 1, 28, 28}, true});
  models.push_back({"relu_chain (100 × Relu [1,16])", ReluChain(100), {1, 16}, true});
  if (std::filesystem::exists(models_dir + "/transformer_block.onnx"))
    models.push_back({"transformer_block (seq 128, d 256)", Import(models_dir + "/transformer_block.onnx"), {1, 128, 256}, true});
  if (std::filesystem::exists(models_dir + "/resnet18.onnx"))
    models.push_back({"resnet18 (224², 1.8 GFLOP)", Import(models_dir + "/resnet18.onnx"), {1, 3, 224, 224}, !g_quick});
  for (M& m : models) {
    if (!m.model) {
      std::printf("| %s | (failed to load) | | | | |\n", m.name.c_str());
      continue;
    }
    qrules::ExecutorResult e = qrules::Executor::Create(m.model);
    if (!e.ok()) {
      std::printf("| %s | %s | | | | |\n", m.name.c_str(), qrules::RenderText(e.diagnostics).c_str());
      continue;
    }
    std::string cells[2];
    for (int bi = 0; bi < 2; ++bi) {
      const int64_t batch = bi == 0 ? 1 : 64;
      if (bi == 1 && !m.batch64) {
        cells[bi] = "—";
        continue;
      }
      std::vector<int64_t> shape = m.in_shape;
      shape[0] = batch;
      int64_t numel = 1;
      for (int64_t d : shape) numel *= d;
      std::vector<Tensor> in = {Tensor::Float(shape, Pseudo(numel, 12345))};
      qrules::RunResult probe = e.executor->Run(in);
      if (!probe.ok()) {
        cells[bi] = "error: " + probe.diagnostics[0].message;
        continue;
      }
      const double t = Median([&] { (void)e.executor->Run(in); }, batch == 1 ? 1.0 : 2.0, 5);
      char buf[96];
      if (batch == 1) std::snprintf(buf, sizeof buf, "%.1f µs", t * 1e6);
      else std::snprintf(buf, sizeof buf, "%.0f µs (%.1f)", t * 1e6, t * 1e6 / batch);
      cells[bi] = buf;
    }
    // W8A8: filled in by the fake-quant stage (same model, plan from rules/, hooks on).
    std::printf("| %s | %zu | %s | %s | — | — |\n", m.name.c_str(), m.model->ops().size(),
                cells[0].c_str(), cells[1].c_str());
  }
  std::printf("\n");
}

// Per-op time of one model (median over runs), through an observe hook on every op's first
// output: the time between consecutive hooks is the op's kernel plus its bookkeeping.
void Profile(const std::string& path, int64_t batch) {
  auto model = Import(path);
  if (!model) return;
  qrules::ExecutorResult e = qrules::Executor::Create(model);
  if (!e.ok()) return;
  const qrules::TensorInfo& in_info = model->tensor(model->inputs()[0]);
  std::vector<int64_t> shape = in_info.shape.sizes();
  shape[0] = batch;
  int64_t numel = 1;
  for (int64_t& d : shape) numel *= d;
  std::vector<Tensor> in = {Tensor::Float(shape, Pseudo(numel, 1))};
  const size_t nops = model->ops().size();
  std::vector<std::vector<double>> samples(nops);
  Clock::time_point last;
  e.executor->SetHook(
      [&](const qrules::TensorEvent& ev, Tensor&) {
        const auto now = Clock::now();
        samples[ev.op_id].push_back(std::chrono::duration<double>(now - last).count());
        last = now;
      },
      [](const qrules::Model&, qrules::OpId, qrules::TensorSlot s) {
        return s.kind == qrules::TensorSlot::Kind::kOutput && s.index == 0 ? qrules::HookMode::kObserve
                                                                           : qrules::HookMode::kNone;
      });
  for (int r = 0; r < 20; ++r) {
    last = Clock::now();
    (void)e.executor->Run(in);
  }
  std::vector<std::pair<double, size_t>> rows;
  double total = 0;
  for (size_t i = 0; i < nops; ++i) {
    auto& v = samples[i];
    if (v.empty()) continue;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    rows.push_back({v[v.size() / 2], i});
    total += v[v.size() / 2];
  }
  std::sort(rows.rbegin(), rows.rend());
  std::printf("profile of %s at batch %lld: %.1f us total\n", path.c_str(), static_cast<long long>(batch), total * 1e6);
  for (auto& [t, i] : rows) {
    const qrules::Op& op = model->op(static_cast<qrules::OpId>(i));
    const auto& out = model->tensor(op.outputs[0]);
    std::printf("%10.1f us  %-20s %-40s %s\n", t * 1e6, op.onnx_type.c_str(), op.name.c_str(), out.shape.ToString().c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string models_dir = QRULES_BENCH_MODELS_DIR;
  bool kernels = true, models = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
    else if (std::strcmp(argv[i], "--models") == 0 && i + 1 < argc) models_dir = argv[++i];
    else if (std::strcmp(argv[i], "--kernels-only") == 0) models = false;
    else if (std::strcmp(argv[i], "--models-only") == 0) kernels = false;
    else if (std::strcmp(argv[i], "--profile") == 0 && i + 2 < argc) {
      Profile(argv[i + 1], std::atoll(argv[i + 2]));
      return 0;
    }
    else {
      std::fprintf(stderr, "usage: exec_bench [--quick] [--models DIR] [--kernels-only|--models-only] | --profile MODEL.onnx BATCH\n");
      return 2;
    }
  }
  if (kernels) KernelSection();
  if (models) ModelSection(models_dir);
  return 0;
}
