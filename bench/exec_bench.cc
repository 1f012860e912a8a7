// exec_bench — the float executor's benchmark, single thread.
//
//   build/bench/exec_bench [--quick] [--models DIR] [--kernels-only|--models-only] [--float-only]
//   build/bench/exec_bench --w8a8-breakdown [--quick]
//   build/bench/exec_bench --profile MODEL.onnx BATCH
//   build/bench/exec_bench --run MODEL.onnx BATCH REPS     (plain runs, for perf / callgrind)
//
// (a) GEMM-heavy kernels (Gemm, Conv, run through the executor's kernel objects, im2col and bias
//     included) against a bare Eigen product `C = A * B` of the same M×N×K, compiled for the same
//     instruction set, measured in the same run: GFLOP/s and the ratio (target >= 0.70).
// (b) Float latency of whole models at batch 1 and 64: the shared Fashion-MNIST models, a
//     ResNet-18-sized CNN and a transformer block (bench/make_bench_models.py), and a chain of
//     100 tiny Relu ops that exposes the per-node overhead.
//     W8A8 columns: the same model and batch with rules/w8a8.qrules fake quantization through
//     qrules::Simulator (compile, resolve, create, calibrate on 4 batches of 8 samples).  The
//     W8A8 ratio is median(Simulator::RunQuantized) / median(Simulator::RunFloat) on the same
//     batch (the same batching path on both sides); the "report" column is the fake-quantized
//     part of Evaluate, median(Evaluate) - median(RunFloat), which adds each point's error
//     statistics (an input copy and the sums of ErrorStats).
// (c) --w8a8-breakdown: where the W8A8 overhead goes, on an executor carrying the simulator's
//     hook logic replicated here: fake-quant Forward only, vs Forward plus the per-point input
//     copy and error statistics the simulator gathers during Evaluate.
// Every figure is the median of repeated calls.
#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "exec/kernels.h"
#include "qrules/compile.h"
#include "qrules/executor.h"
#include "qrules/ir.h"
#include "qrules/observer.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "qrules/simulate.h"

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

std::shared_ptr<const qrules::Model> Import(const std::string& path, const std::string& modules = "") {
  qrules::ImportOptions o;
  if (!modules.empty() && std::filesystem::exists(modules)) o.module_map_path = modules;
  qrules::ImportResult r = qrules::ImportOnnxFile(path, o);
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

std::shared_ptr<const qrules::CompiledRules> W8A8Rules() {
  static const std::shared_ptr<const qrules::CompiledRules> rules = [] {
    qrules::CompileResult c = qrules::CompileFile(std::string(QRULES_RULES_DIR) + "/w8a8.qrules");
    if (!c.ok()) std::fprintf(stderr, "%s", qrules::RenderText(c.diagnostics).c_str());
    return c.rules;
  }();
  return rules;
}

std::vector<int64_t> WithBatch(std::vector<int64_t> shape, int64_t batch) {
  shape[0] = batch;
  return shape;
}
Tensor PseudoInput(const std::vector<int64_t>& shape, uint32_t seed) {
  int64_t numel = 1;
  for (int64_t d : shape) numel *= d;
  return Tensor::Float(shape, Pseudo(static_cast<size_t>(numel), seed));
}

// The W8A8 plan of a model (rules/w8a8.qrules), or null.
std::shared_ptr<const qrules::Plan> W8A8Plan(const std::shared_ptr<const qrules::Model>& model) {
  if (!W8A8Rules()) return nullptr;
  qrules::PlanResult p = qrules::Resolve(W8A8Rules(), model, qrules::ResolveOptions{.lint = false});
  if (!p.ok()) std::fprintf(stderr, "%s", qrules::RenderText(p.diagnostics).c_str());
  return p.plan;
}

// A simulator on the W8A8 plan, calibrated on 4 batches of 8 pseudo-random samples.
std::unique_ptr<qrules::Simulator> W8A8Simulator(const std::shared_ptr<const qrules::Model>& model,
                                                 const std::vector<int64_t>& in_shape) {
  auto plan = W8A8Plan(model);
  if (!plan) return nullptr;
  qrules::SimulatorResult s = qrules::Simulator::Create(plan);
  if (!s.ok()) {
    std::fprintf(stderr, "%s", qrules::RenderText(s.diagnostics).c_str());
    return nullptr;
  }
  std::vector<Tensor> cal = {PseudoInput(WithBatch(in_shape, 32), 777)};
  (void)s.simulator->Calibrate(cal, 8, 4);
  return std::move(s.simulator);
}

struct BenchModel {
  std::string name;
  std::shared_ptr<const qrules::Model> model;
  std::vector<int64_t> in_shape;  // batch dim first (overwritten)
  bool batch64;
  bool w8a8_batch64 = true;  // W8A8 at batch 64 (ResNet-18: ~10 s per Evaluate, skipped)
};

std::vector<BenchModel> BenchModels(const std::string& models_dir) {
  const std::string shared = std::string(QRULES_TEST_DATA_DIR) + "/models/";
  std::vector<BenchModel> models;
  for (const char* n : {"fmnist_mlp", "fmnist_cnn", "fmnist_cnn_bn"})
    models.push_back({n, Import(shared + n + ".onnx", shared + n + ".modules.json"), {1, 1, 28, 28}, true});
  models.push_back({"relu_chain (100 × Relu [1,16])", ReluChain(100), {1, 16}, true});
  if (std::filesystem::exists(models_dir + "/transformer_block.onnx"))
    models.push_back({"transformer_block (seq 128, d 256)", Import(models_dir + "/transformer_block.onnx"), {1, 128, 256}, true});
  if (std::filesystem::exists(models_dir + "/resnet18.onnx"))
    models.push_back({"resnet18 (224², 1.8 GFLOP)", Import(models_dir + "/resnet18.onnx"), {1, 3, 224, 224}, !g_quick, false});
  return models;
}

std::string Micros(double t, int64_t batch) {
  char buf[96];
  if (batch == 1) std::snprintf(buf, sizeof buf, "%.1f µs", t * 1e6);
  else std::snprintf(buf, sizeof buf, "%.0f µs (%.1f)", t * 1e6, t * 1e6 / static_cast<double>(batch));
  return buf;
}

void ModelSection(const std::string& models_dir, bool w8a8) {
  std::printf("## (b) Model latency, float and W8A8 (median per call; per image in parentheses)\n\n");
  std::printf("W8A8 / float = median(Simulator::RunQuantized) / median(Simulator::RunFloat), rules/w8a8.qrules;\n"
              "report / float = (median(Evaluate) - median(RunFloat)) / median(RunFloat): the fake-quantized run with\n"
              "per-point error statistics.\n\n");
  std::printf("| model | ops | batch 1 | W8A8 batch 1 | W8A8 / float | batch 64 | W8A8 batch 64 | W8A8 / float |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (BenchModel& m : BenchModels(models_dir)) {
    if (!m.model) {
      std::printf("| %s | (failed to load) | | | | | | |\n", m.name.c_str());
      continue;
    }
    qrules::ExecutorResult e = qrules::Executor::Create(m.model);
    if (!e.ok()) {
      std::printf("| %s | %s | | | | | | |\n", m.name.c_str(), qrules::RenderText(e.diagnostics).c_str());
      continue;
    }
    std::unique_ptr<qrules::Simulator> sim = w8a8 ? W8A8Simulator(m.model, m.in_shape) : nullptr;
    std::string cells[2][3];
    for (int bi = 0; bi < 2; ++bi) {
      const int64_t batch = bi == 0 ? 1 : 64;
      for (auto& c : cells[bi]) c = "—";
      if (bi == 1 && !m.batch64) continue;
      std::vector<Tensor> in = {PseudoInput(WithBatch(m.in_shape, batch), 12345)};
      qrules::RunResult probe = e.executor->Run(in);
      if (!probe.ok()) {
        cells[bi][0] = "error: " + probe.diagnostics[0].message;
        continue;
      }
      const double min_s = batch == 1 ? 1.0 : 2.0;
      const double t = Median([&] { (void)e.executor->Run(in); }, min_s, 5);
      cells[bi][0] = Micros(t, batch);
      if (!sim || (bi == 1 && !m.w8a8_batch64)) continue;
      qrules::SimReportResult rep = sim->Evaluate(in, nullptr, batch);
      if (!rep.ok()) {
        cells[bi][1] = "error";
        continue;
      }
      const double tq = Median([&] { (void)sim->RunQuantized(in, batch); }, min_s, 5);
      const double te = Median([&] { (void)sim->Evaluate(in, nullptr, batch); }, min_s, 5);
      const double tf = Median([&] { (void)sim->RunFloat(in, batch); }, min_s, 5);
      cells[bi][1] = Micros(tq, batch);
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.2f (report %.2f)", tq / tf, (te - tf) / tf);
      cells[bi][2] = buf;
    }
    std::printf("| %s | %zu | %s | %s | %s | %s | %s | %s |\n", m.name.c_str(), m.model->ops().size(),
                cells[0][0].c_str(), cells[0][1].c_str(), cells[0][2].c_str(), cells[1][0].c_str(),
                cells[1][1].c_str(), cells[1][2].c_str());
    std::fflush(stdout);
  }
  std::printf("\n");
}

// The SQNR statistics of one fake-quant application (x -> y), as Simulator's Accumulate computes
// them, in two versions: the simulator's scalar loop (double, one dependent chain: ~1-3 ns per
// element), and a proposed replacement that keeps 16 independent float partial sums per block of
// 256 (vectorizable without -ffast-math, ~0.25 ns per element), adds the block sums in double,
// and redoes a block with the scalar loop when its sums are not finite (so non-finite elements
// are skipped exactly as before).  They agree to ~1e-6 relative (summation order, float squares).
struct SqnrStats {
  double signal = 0, noise = 0, max_abs = 0;
};
void AccumulateScalar(SqnrStats& s, const float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    const double a = x[i], d = a - static_cast<double>(y[i]);
    if (!std::isfinite(a) || !std::isfinite(d)) continue;
    s.signal += a * a;
    s.noise += d * d;
    s.max_abs = std::max(s.max_abs, std::fabs(d));
  }
}
// The simulator's statistics (qrules::ErrorStats: float lanes per 256-element block).
void AccumulateLanes(SqnrStats& s, const float* x, const float* y, size_t n) {
  qrules::ErrorStats e;
  e.Add({x, n}, {y, n});
  s.signal += e.signal;
  s.noise += e.noise;
  s.max_abs = std::max(s.max_abs, e.max_abs);
}

// Where the W8A8 overhead goes: an executor with the plan's fake-quantized weights and a hook at
// the simulator's points (same point selection as src/sim/simulate.cc), timed with
//   fq:    FakeQuantizer::Forward in place only;
//   stats: Forward plus what Simulator::Evaluate adds per point (a fresh copy of the input, the
//          scalar SQNR sums);
//   lean:  the same statistics with a reused scratch copy and AccumulateLanes.
void W8A8Breakdown(const std::string& models_dir) {
  {  // AccumulateLanes agrees with the scalar loop (up to summation order), inf/nan included
    std::vector<float> x = Pseudo(10000, 3), y = Pseudo(10000, 4);
    x[5000] = std::numeric_limits<float>::infinity();
    y[7000] = std::numeric_limits<float>::quiet_NaN();
    SqnrStats a, b;
    AccumulateScalar(a, x.data(), y.data(), x.size());
    AccumulateLanes(b, x.data(), y.data(), x.size());
    if (std::fabs(a.signal - b.signal) > 1e-5 * a.signal || std::fabs(a.noise - b.noise) > 1e-5 * a.noise ||
        std::fabs(a.max_abs - b.max_abs) > 1e-6 * a.max_abs) {
      std::fprintf(stderr, "AccumulateLanes disagrees with the scalar loop\n");
      return;
    }
  }
  std::printf("## (c) W8A8 overhead breakdown (Executor::Run with the simulator's hook, replicated)\n\n");
  std::printf("| model | batch | float | points hit | FQ Forward only | + copy & statistics (as simulate.cc) | + lean copy & statistics |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  for (BenchModel& m : BenchModels(models_dir)) {
    if (!m.model) continue;
    auto plan = W8A8Plan(m.model);
    if (!plan) continue;
    qrules::ExecutorResult e = qrules::Executor::Create(m.model);
    if (!e.ok()) continue;
    qrules::Executor& ex = *e.executor;
    std::vector<std::unique_ptr<qrules::FakeQuantizer>> fqs;
    for (const qrules::FakeQuantPoint& p : plan->points)
      fqs.push_back(std::make_unique<qrules::FakeQuantizer>(p.spec, p.is_state));
    ex.TransformStates([&](qrules::TensorId id, const qrules::TensorInfo&, Tensor& v) {
      const int pt = plan->state_points[static_cast<size_t>(id)];
      if (pt < 0 || !v.is_float()) return;
      std::vector<float> y(v.f32.size());
      if (fqs[static_cast<size_t>(pt)]->Forward(v.shape, v.f32, y).ok()) v.f32 = std::move(y);
    });
    auto point_at = [plan](qrules::OpId op, qrules::TensorSlot slot) {
      const auto& v = slot.kind == qrules::TensorSlot::Kind::kOutput ? plan->output_points[static_cast<size_t>(op)]
                                                                      : plan->input_points[static_cast<size_t>(op)];
      if (slot.index < 0 || static_cast<size_t>(slot.index) >= v.size()) return -1;
      const int p = v[static_cast<size_t>(slot.index)];
      if (p < 0) return -1;
      if (slot.kind == qrules::TensorSlot::Kind::kInput) {
        const qrules::TensorId t = plan->model->op(op).inputs[static_cast<size_t>(slot.index)];
        if (t == qrules::kNoTensor || plan->model->tensor(t).is_state()) return -1;
      }
      return p;
    };
    int stats = 0;  // 0 fq, 1 stats, 2 lean
    int64_t hits = 0;
    double sink = 0;
    std::vector<float> scratch;
    ex.SetHook(
        [&](const qrules::TensorEvent& ev, Tensor& t) {
          if (!t.is_float()) return;
          const int pt = point_at(ev.op_id, ev.slot);
          if (pt < 0) return;
          ++hits;
          SqnrStats st;
          if (stats == 1) {
            std::vector<float> x = t.f32;
            (void)fqs[static_cast<size_t>(pt)]->Forward(t.shape, t.f32, t.f32);
            AccumulateScalar(st, x.data(), t.f32.data(), x.size());
          } else if (stats == 2) {
            scratch.assign(t.f32.begin(), t.f32.end());
            (void)fqs[static_cast<size_t>(pt)]->Forward(t.shape, t.f32, t.f32);
            AccumulateLanes(st, scratch.data(), t.f32.data(), scratch.size());
          } else {
            (void)fqs[static_cast<size_t>(pt)]->Forward(t.shape, t.f32, t.f32);
          }
          sink += st.signal + st.noise + st.max_abs;
        },
        [&](const qrules::Model&, qrules::OpId op, qrules::TensorSlot slot) {
          return point_at(op, slot) >= 0 ? qrules::HookMode::kModify : qrules::HookMode::kNone;
        });
    // Calibrate: observers on, fake quant off.
    for (size_t i = 0; i < fqs.size(); ++i) {
      if (plan->points[i].is_state) continue;
      fqs[i]->set_observer_enabled(true);
      fqs[i]->set_fake_quant_enabled(false);
    }
    std::vector<Tensor> cal = {PseudoInput(WithBatch(m.in_shape, 8), 777)};
    for (int b = 0; b < 4; ++b) (void)ex.Run(cal);
    for (size_t i = 0; i < fqs.size(); ++i) {
      if (plan->points[i].is_state) continue;
      fqs[i]->set_observer_enabled(false);
      fqs[i]->set_fake_quant_enabled(true);
    }
    qrules::ExecutorResult fe = qrules::Executor::Create(m.model);
    for (int64_t batch : {int64_t{1}, int64_t{64}}) {
      if (batch == 64 && (!m.batch64 || !m.w8a8_batch64)) continue;
      std::vector<Tensor> in = {PseudoInput(WithBatch(m.in_shape, batch), 12345)};
      const double min_s = batch == 1 ? 1.0 : 2.0;
      const double tf = Median([&] { (void)fe.executor->Run(in); }, min_s, 5);
      stats = 0;
      hits = 0;
      (void)ex.Run(in);
      const int64_t per_run = hits;
      const double tq = Median([&] { (void)ex.Run(in); }, min_s, 5);
      stats = 1;
      const double ts = Median([&] { (void)ex.Run(in); }, min_s, 5);
      stats = 2;
      const double tl = Median([&] { (void)ex.Run(in); }, min_s, 5);
      std::printf("| %s | %lld | %s | %lld | %s (%.2f×) | %s (%.2f×) | %s (%.2f×) |\n", m.name.c_str(),
                  static_cast<long long>(batch), Micros(tf, batch).c_str(), static_cast<long long>(per_run),
                  Micros(tq, batch).c_str(), tq / tf, Micros(ts, batch).c_str(), ts / tf,
                  Micros(tl, batch).c_str(), tl / tf);
      std::fflush(stdout);
    }
    if (sink == 42.4242) std::printf(" ");
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
  bool kernels = true, models = true, w8a8 = true, breakdown = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) g_quick = true;
    else if (std::strcmp(argv[i], "--models") == 0 && i + 1 < argc) models_dir = argv[++i];
    else if (std::strcmp(argv[i], "--kernels-only") == 0) models = false;
    else if (std::strcmp(argv[i], "--models-only") == 0) kernels = false;
    else if (std::strcmp(argv[i], "--float-only") == 0) w8a8 = false;
    else if (std::strcmp(argv[i], "--w8a8-breakdown") == 0) breakdown = true, kernels = models = false;
    else if (std::strcmp(argv[i], "--run") == 0 && i + 3 < argc) {  // for perf / callgrind
      auto model = Import(argv[i + 1]);
      if (!model) return 1;
      qrules::ExecutorResult e = qrules::Executor::Create(model);
      if (!e.ok()) return 1;
      std::vector<int64_t> shape = model->tensor(model->inputs()[0]).shape.sizes();
      std::vector<Tensor> in = {PseudoInput(WithBatch(shape, std::atoll(argv[i + 2])), 1)};
      for (long r = std::atol(argv[i + 3]); r > 0; --r) (void)e.executor->Run(in);
      return 0;
    }
    else if (std::strcmp(argv[i], "--profile") == 0 && i + 2 < argc) {
      Profile(argv[i + 1], std::atoll(argv[i + 2]));
      return 0;
    }
    else {
      std::fprintf(stderr, "usage: exec_bench [--quick] [--models DIR] [--kernels-only|--models-only] [--float-only] | --w8a8-breakdown | --profile MODEL.onnx BATCH | --run MODEL.onnx BATCH REPS\n");
      return 2;
    }
  }
  if (kernels) KernelSection();
  if (models) ModelSection(models_dir, w8a8);
  if (breakdown) W8A8Breakdown(models_dir);
  return 0;
}
