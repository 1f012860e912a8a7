// numerics_bench: single-threaded fake-quantization kernels against a streaming y[i] = a * x[i]
// baseline measured in the same run, on float32 arrays of 256 KiB (cache) and 64 MiB (memory).
// Throughput counts bytes read + written (8 bytes per element); each number is the median of
// several timed repetitions, and each ratio the median of per-repetition ratios to the baseline
// timed just before.  Usage: numerics_bench [--quick] [--cache-only] [--only SUBSTRING] (rows whose
// name has it; the baselines always run)
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "numerics/kernels.h"  // (the divps table, for rows that compare against it)
#include "qrules/fake_quant.h"
#include "qrules/observer.h"

namespace {

using Clock = std::chrono::steady_clock;

// The baseline, auto-vectorized for the build target and, separately, for AVX2 and AVX-512 (the
// kernels pick the widest ISA at run time, so the fair baseline is the fastest of them).
__attribute__((noinline)) void ScaleBaseline(const float* x, float* y, int64_t n, float a) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * x[i];
}
__attribute__((noinline, target("avx2"))) void ScaleBaselineAvx2(const float* x, float* y,
                                                                 int64_t n, float a) {
  for (int64_t i = 0; i < n; ++i) y[i] = a * x[i];
}
// (GCC prefers 256-bit vectors even for AVX-512 targets, so this one is written with intrinsics.)
__attribute__((noinline, target("avx512f"))) void ScaleBaselineAvx512(const float* x, float* y,
                                                                     int64_t n, float a) {
  const __m512 va = _mm512_set1_ps(a);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(va, _mm512_loadu_ps(x + i)));
  for (; i < n; ++i) y[i] = a * x[i];
}
// What a plain float32 division costs.
__attribute__((noinline, target("avx2"))) void DivideBaseline(const float* x, float* y, int64_t n,
                                                              float s) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] / s;
}

// The divps table of the instruction set FakeQuantize runs on.
const qrules::internal::KernelTable& DivpsTable() {
  using qrules::internal::DivisionMethod;
  const std::string isa = qrules::internal::BestKernels().name;
  if (isa.rfind("avx512", 0) == 0) return qrules::internal::Avx512Kernels(DivisionMethod::kDivide);
  if (isa.rfind("avx2", 0) == 0) return qrules::internal::Avx2Kernels(DivisionMethod::kDivide);
  return qrules::internal::SseKernels(DivisionMethod::kDivide);
}

double Seconds(const std::function<void()>& fn, int inner) {
  const auto start = Clock::now();
  for (int i = 0; i < inner; ++i) fn();
  return std::chrono::duration<double>(Clock::now() - start).count() / inner;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Row {
  std::string name;
  double gbps;   // median throughput of the kernel
  double ratio;  // median over repetitions of (baseline time / kernel time) * bytes ratio
};

}  // namespace

int main(int argc, char** argv) {
  using namespace qrules;
  bool quick = false, cache_only = false;
  std::string only;
  for (int a = 1; a < argc; ++a) {
    if (std::strcmp(argv[a], "--quick") == 0) quick = true;
    if (std::strcmp(argv[a], "--cache-only") == 0) cache_only = true;
    if (std::strcmp(argv[a], "--only") == 0 && a + 1 < argc) only = argv[++a];
  }
  std::printf("numerics_bench: single thread, medians; GB/s = (read + write bytes) / time\n");
  std::printf("kernels: %s\n", internal::BestKernels().name);
  for (const int64_t bytes : {int64_t{256} << 10, int64_t{64} << 20}) {
    if (cache_only && bytes > (int64_t{1} << 20)) break;
    const int64_t n = bytes / 4;
    const bool big = bytes > (int64_t{1} << 24);
    const int reps = quick ? 3 : (big ? 21 : 31);  // (DRAM bandwidth drifts more)
    const int inner = big ? 1 : 200;
    // x and y 64-byte aligned, and y half a page away from x modulo 4 KiB: with std::vector's
    // arbitrary relative placement, loads of x[i] and stores to y[i] could alias in the low 12
    // address bits (4K aliasing), which halved the SSE baseline in some builds and not others.
    std::vector<float> storage(static_cast<size_t>(2 * n + 2048));
    const auto base_address = reinterpret_cast<uintptr_t>(storage.data());
    const size_t lead = ((64 - base_address % 64) % 64) / sizeof(float);
    const std::span<float> x(storage.data() + lead, static_cast<size_t>(n));
    const std::span<float> y(storage.data() + lead + n + 512, static_cast<size_t>(n));
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    std::fill(y.begin(), y.end(), 0.0f);
    auto gbps = [&](double s) { return 8.0 * static_cast<double>(n) / s / 1e9; };

    // The machine's two vCPUs often share one host core, so throughput drifts by tens of percent
    // within a run.  Each repetition therefore times the baselines and then the kernel, back to
    // back, and the ratio is the median of the per-repetition ratios (the kernel against the
    // fastest baseline of that repetition).
    std::vector<std::function<void()>> baselines = {
        [&] { ScaleBaseline(x.data(), y.data(), n, 0.37f); },
        [&] { ScaleBaselineAvx2(x.data(), y.data(), n, 0.37f); }};
    if (__builtin_cpu_supports("avx512f")) {
      baselines.push_back([&] { ScaleBaselineAvx512(x.data(), y.data(), n, 0.37f); });
    }
    std::vector<Row> rows;
    // bytes_per_element: what the kernel moves (8 = read + write a float; 4 = read only).
    auto bench = [&](const std::string& name, const std::function<void()>& fn,
                     double bytes_per_element = 8.0) {
      if (!only.empty() && name.find(only) == std::string::npos &&
          name.find("baseline") == std::string::npos) {
        return;
      }
      fn();  // warm up (page faults, caches)
      for (auto& b : baselines) b();
      std::vector<double> throughput, ratio;
      for (int r = 0; r < reps; ++r) {
        double base_seconds = 1e30;
        for (auto& b : baselines) base_seconds = std::min(base_seconds, Seconds(b, inner));
        const double seconds = Seconds(fn, inner);
        throughput.push_back(bytes_per_element / 8.0 * gbps(seconds));
        ratio.push_back(bytes_per_element / 8.0 * base_seconds / seconds);
      }
      rows.push_back({name, Median(throughput), Median(ratio)});
    };
    bench("baseline y=a*x (x86-64-v2)", baselines[0]);
    bench("baseline y=a*x (avx2)", baselines[1]);
    if (baselines.size() > 2) bench("baseline y=a*x (avx512)", baselines[2]);
    bench("plain divide y=x/s (avx2)", [&] { DivideBaseline(x.data(), y.data(), n, 0.37f); });

    // Integer kernels.
    const std::vector<int64_t> flat = {n};
    auto layout_of = [&](std::vector<int64_t> shape, const Granularity& g) {
      BlockLayout l;
      if (!MakeBlockLayout(shape, g, &l).ok()) std::abort();
      return l;
    };
    auto qparams_for = [&](const QuantizationSpec& spec, const BlockLayout& l) {
      return ComputeQParams(spec, ComputeRange(l, x), l.qparam_shape);
    };
    QuantizationSpec int8;
    int8.qscheme = QScheme::kAsymmetric;
    {
      const BlockLayout l = BlockLayout::PerTensor(flat);
      const QParams qp = qparams_for(int8, l);
      const QuantKernel zp = QuantKernel::ForSpec(int8);
      bench("int8 per-tensor ZP", [&] { FakeQuantize(zp, l, qp, x, y); });
      const PreparedQParams prepared(zp, qp);
      bench("int8 per-tensor ZP, prepared", [&] { FakeQuantize(zp, l, prepared, x, y); });
      const QuantKernel mv = QuantKernel::Integer(-128, 127, QFormulation::kMinval);
      bench("int8 per-tensor MINVAL", [&] { FakeQuantize(mv, l, qp, x, y); });
      std::vector<uint8_t> mask(n);
      bench("int8 per-tensor ZP + STE mask (+1 B/elem)",
            [&] { FakeQuantize(zp, l, qp, x, y, mask); });
      if (!big)
        bench("int8 per-tensor ZP, scalar reference",
              [&] { FakeQuantizeReference(zp, l, qp, x, y); });
    }
    Granularity pc;
    pc.kind = GranularityKind::kPerChannel;
    pc.axis = 0;
    for (int64_t channels : {int64_t{64}, int64_t{4096}}) {
      const BlockLayout l = layout_of({channels, n / channels}, pc);
      const QParams qp = qparams_for(int8, l);
      bench("int8 per-channel " + std::to_string(channels) + " (axis 0)",
            [&] { FakeQuantize(QuantKernel::ForSpec(int8), l, qp, x, y); });
      bench("int8 per-channel " + std::to_string(channels) + " (axis 0), divps", [&] {
        internal::FakeQuantizeWith(DivpsTable(), QuantKernel::ForSpec(int8), l, qp, x, y, {});
      });
      const PreparedQParams prepared(QuantKernel::ForSpec(int8), qp);
      bench("int8 per-channel " + std::to_string(channels) + " (axis 0), prepared",
            [&] { FakeQuantize(QuantKernel::ForSpec(int8), l, prepared, x, y); });
    }
    {
      Granularity last = pc;
      last.axis = -1;
      const BlockLayout l = layout_of({n / 64, 64}, last);
      const QParams qp = qparams_for(int8, l);
      bench("int8 per-channel 64 (axis -1)",
            [&] { FakeQuantize(QuantKernel::ForSpec(int8), l, qp, x, y); });
      bench("int8 per-channel 64 (axis -1), divps", [&] {
        internal::FakeQuantizeWith(DivpsTable(), QuantKernel::ForSpec(int8), l, qp, x, y, {});
      });
      const PreparedQParams prepared(QuantKernel::ForSpec(int8), qp);
      bench("int8 per-channel 64 (axis -1), prepared",
            [&] { FakeQuantize(QuantKernel::ForSpec(int8), l, prepared, x, y); });
    }
    Granularity pb;
    pb.kind = GranularityKind::kPerBlock;
    pb.axis = 1;
    pb.block_size = {32};
    const std::vector<int64_t> matrix = {n / 4096, 4096};
    {
      const BlockLayout l = layout_of(matrix, pb);
      const QParams qp = qparams_for(int8, l);
      bench("int8 per-block 32 (axis 1)",
            [&] { FakeQuantize(QuantKernel::ForSpec(int8), l, qp, x, y); });
      bench("int8 per-block 32 (axis 1), divps", [&] {
        internal::FakeQuantizeWith(DivpsTable(), QuantKernel::ForSpec(int8), l, qp, x, y, {});
      });
      const PreparedQParams prepared(QuantKernel::ForSpec(int8), qp);
      bench("int8 per-block 32 (axis 1), prepared",
            [&] { FakeQuantize(QuantKernel::ForSpec(int8), l, prepared, x, y); });
    }
    // FP kernels.
    {
      QuantizationSpec e4m3;
      e4m3.dtype = Dtype::kFloat8E4m3fn;
      const BlockLayout l = BlockLayout::PerTensor(flat);
      const QParams qp = qparams_for(e4m3, l);
      bench("fp8 e4m3 per-tensor", [&] { FakeQuantize(QuantKernel::ForSpec(e4m3), l, qp, x, y); });
      QuantizationSpec fp4;
      fp4.dtype = Dtype::kFloat4E2m1fnX2;
      const BlockLayout lb = layout_of(matrix, pb);
      const QParams qb = qparams_for(fp4, lb);
      bench("fp4 e2m1 per-block 32 (e8m0)",
            [&] { FakeQuantize(QuantKernel::ForSpec(fp4), lb, qb, x, y); });
    }
    // Observation, and observe + quantize.
    {
      const BlockLayout l = BlockLayout::PerTensor(flat);
      // Range only reads: count 4 bytes per element (reported as GB/s of input).
      bench("range only (min/max), per-tensor [read-only GB/s]",
            [&] { (void)ComputeRange(l, x); }, 4.0);
      QuantizationSpec s = int8;
      s.qparams = QParamsKind::kStatic;
      QParamsCalculator calc(s, QParamsKind::kStatic);
      bench("observe+quantize static per-tensor (2 passes)",
            [&] { (void)calc.ObserveAndFakeQuantize(flat, x, y); });
      QuantizationSpec w = s;
      w.granularity = pc;
      QParamsCalculator wc(w, QParamsKind::kStatic);
      const std::vector<int64_t> wshape = {4096, n / 4096};
      bench("observe+quantize static per-channel 4096 (fused)",
            [&] { (void)wc.ObserveAndFakeQuantize(wshape, x, y); });
      QParamsCalculator wc2(w, QParamsKind::kStatic);
      bench("observe then quantize per-channel 4096 (unfused)", [&] {
        (void)wc2.Observe(wshape, x);
        FakeQuantize(QuantKernel::ForSpec(w), wc2.layout(), wc2.qparams(), x, y);
      });
      QuantizationSpec pbs = s;
      pbs.granularity = pb;
      QParamsCalculator bc(pbs, QParamsKind::kStatic);
      bench("observe+quantize static per-block 32 (fused)",
            [&] { (void)bc.ObserveAndFakeQuantize(matrix, x, y); });
      FakeQuantizer act(DefaultActivationSpec());
      bench("FakeQuantizer moving_average per-tensor (observe+quantize)",
            [&] { (void)act.Forward(flat, x, y); });
    }

    std::printf("\n## %s (%lld floats)\n", big ? "64 MiB" : "256 KiB", static_cast<long long>(n));
    std::printf("%-62s %8s %7s\n", "kernel", "GB/s", "ratio");
    for (const Row& r : rows)
      std::printf("%-62s %8.2f %7.2f\n", r.name.c_str(), r.gbps, r.ratio);
  }
  return 0;
}
