// The fake-quant simulator: plan + executor + numerics.  See include/qrules/simulate.h.
#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "qrules/observer.h"
#include "qrules/simulate.h"

namespace qrules {
namespace {

struct PointState {
  std::unique_ptr<FakeQuantizer> fq;
  ErrorStats stats;
};

void AddScalar(ErrorStats& s, const float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    double a = x[i], d = a - static_cast<double>(y[i]);
    if (!std::isfinite(a) || !std::isfinite(d)) {
      ++s.skipped;
      continue;
    }
    s.signal += a * a;
    s.noise += d * d;
    s.max_abs = std::max(s.max_abs, std::fabs(d));
  }
}

}  // namespace

void ErrorStats::Add(std::span<const float> xs, std::span<const float> ys) {
  const float* x = xs.data();
  const float* y = ys.data();
  const size_t n = std::min(xs.size(), ys.size());
  constexpr size_t kLanes = 16, kBlock = 256;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) {
    float sig[kLanes] = {}, noi[kLanes] = {}, mx[kLanes] = {};
    for (size_t j = i; j < i + kBlock; j += kLanes) {
      for (size_t l = 0; l < kLanes; ++l) {
        const float a = x[j + l], d = a - y[j + l];
        sig[l] += a * a;
        noi[l] += d * d;
        const float ad = std::fabs(d);
        mx[l] = mx[l] < ad ? ad : mx[l];
      }
    }
    double bs = 0, bn = 0;
    float bm = 0;
    for (size_t l = 0; l < kLanes; ++l) {
      bs += sig[l];
      bn += noi[l];
      bm = std::max(bm, mx[l]);
    }
    if (!std::isfinite(bs) || !std::isfinite(bn) || !std::isfinite(bm)) {
      AddScalar(*this, x + i, y + i, kBlock);  // a non-finite element (or an overflow): exact path
      continue;
    }
    signal += bs;
    noise += bn;
    max_abs = std::max(max_abs, static_cast<double>(bm));
  }
  AddScalar(*this, x + i, y + i, n - i);
  elements += static_cast<int64_t>(n);
}

double ErrorStats::SqnrDb() const {
  // Nothing finite was compared (every value NaN or infinite, or nothing at all): no figure, and
  // certainly not a perfect one.
  if (skipped >= elements) return std::numeric_limits<double>::quiet_NaN();
  if (noise == 0) return std::numeric_limits<double>::infinity();
  if (signal == 0) return -std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(signal / noise);
}

namespace {

// Rows [begin, begin + count) of a tensor along axis 0.
Tensor SliceBatch(const Tensor& t, int64_t begin, int64_t count) {
  Tensor out;
  out.type = t.type;
  out.shape = t.shape;
  out.shape[0] = count;
  int64_t row = t.shape.empty() || t.shape[0] == 0 ? 0 : t.numel() / t.shape[0];
  if (t.is_float()) {
    out.f32.assign(t.f32.begin() + begin * row, t.f32.begin() + (begin + count) * row);
  } else {
    out.i64.assign(t.i64.begin() + begin * row, t.i64.begin() + (begin + count) * row);
  }
  return out;
}

void AppendBatch(Tensor& acc, Tensor&& part) {
  if (acc.shape.empty()) {
    acc = std::move(part);
    return;
  }
  acc.shape[0] += part.shape.empty() ? 1 : part.shape[0];
  acc.f32.insert(acc.f32.end(), part.f32.begin(), part.f32.end());
  acc.i64.insert(acc.i64.end(), part.i64.begin(), part.i64.end());
}

// The number of samples (axis 0) all inputs agree on, or a diagnostic.
std::optional<int64_t> BatchCount(std::span<const Tensor> inputs, std::vector<Diagnostic>& diags) {
  if (inputs.empty()) return 0;
  int64_t n = -1;
  for (const Tensor& t : inputs) {
    if (t.shape.empty()) {
      diags.push_back(MakeDiagnostic(DiagCode::kExecutionError, {}, "inputs need a batch axis (axis 0); got a scalar"));
      return std::nullopt;
    }
    if (t.shape[0] == 0) {
      diags.push_back(MakeDiagnostic(DiagCode::kExecutionError, {}, "an input has no samples (axis 0 is 0)"));
      return std::nullopt;
    }
    if (n >= 0 && t.shape[0] != n) {
      diags.push_back(MakeDiagnostic(DiagCode::kExecutionError, {},
                                     fmt::format("inputs disagree on the batch size: {} and {}", n, t.shape[0])));
      return std::nullopt;
    }
    n = t.shape[0];
  }
  return n;
}

}  // namespace

namespace {
// The ops that read point `id`'s value: those whose plan has it on an input or state.
std::vector<std::string> PointConsumers(const Plan& plan, int id) {
  std::vector<std::string> out;
  for (const OpPlan& op : plan.ops) {
    for (const TensorPlan& tp : op.tensors) {
      if (tp.point == id && tp.role != TensorRole::kOutput) {
        out.push_back(plan.model->op(op.op).name);
        break;
      }
    }
  }
  return out;
}
}  // namespace

struct Simulator::Impl {
  std::unique_ptr<Executor> quant;  // with hooks and fake-quantized weights
  std::unique_ptr<Executor> fp;     // the float model
  std::vector<PointState> points;
  std::vector<Diagnostic> diagnostics;  // runtime problems (block size mismatch at run time)
  int64_t calibration_samples = 0;
  std::vector<float> scratch;  // a hooked tensor's value before fake quantization
  std::vector<float> scratch_out;  // the discarded pass-through of an observe-only hook
  bool measuring = true;       // gather per-point error statistics (Evaluate)
  // The fake-quantized weights, by tensor id, computed once at Create.  Calibration runs the
  // float weights (§d: calibration mode turns every fake quant off, the weights' too), then these
  // go back in.
  std::vector<std::pair<TensorId, Tensor>> quantized_weights;

  void RestoreQuantizedWeights() {
    if (quantized_weights.empty()) return;
    size_t next = 0;  // both in tensor id order
    quant->TransformStates([&](TensorId id, const TensorInfo&, Tensor& value) {
      if (next < quantized_weights.size() && quantized_weights[next].first == id) value = quantized_weights[next++].second;
    });
  }

  // The point applied at each slot and how: kModify (observe as enabled and quantize), or on
  // split edges kObserve at the producer and kModify with the observer off at inheriting
  // consumers.  Decided once per plan (PlanSlots); the hook filter and the hook read it.
  struct SlotPoint {
    int point = -1;
    HookMode mode = HookMode::kNone;
    bool observe = true;  // the point's observer may run here
  };
  std::vector<std::vector<SlotPoint>> input_slots, output_slots;  // [op][index]

  // Split edges: tensors whose producer quantizes them (an output point) while some consumer
  // reads the float value (a `module_input { k: none }` override).  An output hook would change
  // what every consumer reads, so on these edges the producer's hook only observes, and every
  // consumer that inherits the producer's point quantizes its own copy with the observer off:
  // one observation per run, as on any other edge.  (A graph output keeps the output hook: what
  // the model returns is the quantized value, and its float readers see that value too.)
  void PlanSlots(const Plan& plan) {
    const Model& m = *plan.model;
    std::vector<int> split_point(m.tensors().size(), -1);  // the producer's point on split edges
    for (OpId o = 0; o < static_cast<OpId>(m.ops().size()); ++o) {
      const Op& op = m.op(o);
      for (size_t r = 0; r < op.outputs.size(); ++r) {
        const TensorId t = op.outputs[r];
        const int pt = plan.output_points[static_cast<size_t>(o)][r];
        if (t == kNoTensor || pt < 0) continue;
        if (std::find(m.outputs().begin(), m.outputs().end(), t) != m.outputs().end()) continue;
        for (OpId c : m.tensor(t).consumers) {
          const Op& cop = m.op(c);
          for (size_t k = 0; k < cop.inputs.size(); ++k) {
            if (cop.inputs[k] == t && plan.input_points[static_cast<size_t>(c)][k] == -1) {
              split_point[static_cast<size_t>(t)] = pt;
            }
          }
        }
      }
    }
    input_slots.assign(m.ops().size(), {});
    output_slots.assign(m.ops().size(), {});
    for (OpId o = 0; o < static_cast<OpId>(m.ops().size()); ++o) {
      const Op& op = m.op(o);
      const auto i = static_cast<size_t>(o);
      for (size_t r = 0; r < op.outputs.size(); ++r) {
        const TensorId t = op.outputs[r];
        const int pt = plan.output_points[i][r];
        SlotPoint at;
        if (t != kNoTensor && pt >= 0) {
          at = {pt, split_point[static_cast<size_t>(t)] >= 0 ? HookMode::kObserve : HookMode::kModify, true};
        }
        output_slots[i].push_back(at);
      }
      for (size_t k = 0; k < op.inputs.size(); ++k) {
        const TensorId t = op.inputs[k];
        const int pt = plan.input_points[i][k];
        SlotPoint at;
        if (t != kNoTensor && !m.tensor(t).is_state()) {  // states: quantized once
          if (pt == Plan::kInheritPoint && split_point[static_cast<size_t>(t)] >= 0) {
            at = {split_point[static_cast<size_t>(t)], HookMode::kModify, false};  // own copy
          } else if (pt >= 0) {
            at = {pt, HookMode::kModify, true};
          }
        }
        input_slots[i].push_back(at);
      }
    }
  }

  const SlotPoint& At(OpId op, TensorSlot slot) const {
    static const SlotPoint kNone;
    const auto& v = slot.kind == TensorSlot::Kind::kOutput ? output_slots[static_cast<size_t>(op)]
                                                           : input_slots[static_cast<size_t>(op)];
    return slot.index < 0 || static_cast<size_t>(slot.index) >= v.size() ? kNone : v[static_cast<size_t>(slot.index)];
  }

  // Runs `exec` over the inputs in batches, calling `progress`; concatenates outputs.
  RunResult RunInBatches(Executor& exec, std::span<const Tensor> inputs, int64_t batch_size, int64_t max_batches,
                         const ProgressFn& progress) {
    RunResult all;
    auto n = BatchCount(inputs, all.diagnostics);
    if (!n) return all;
    if (batch_size <= 0) batch_size = std::max<int64_t>(*n, 1);
    int64_t batches = *n / batch_size + (*n % batch_size != 0);  // no overflow near INT64_MAX
    if (max_batches > 0) batches = std::min(batches, max_batches);
    std::vector<Tensor> outs;
    for (int64_t b = 0; b < batches; ++b) {
      int64_t begin = b * batch_size, count = std::min(batch_size, *n - begin);
      std::vector<Tensor> batch;
      for (const Tensor& t : inputs) batch.push_back(SliceBatch(t, begin, count));
      RunResult r = exec.Run(batch);
      if (!r.ok()) {
        all.diagnostics.insert(all.diagnostics.end(), r.diagnostics.begin(), r.diagnostics.end());
        all.outputs.clear();
        return all;
      }
      if (outs.empty()) outs.resize(r.outputs.size());
      for (size_t i = 0; i < r.outputs.size(); ++i) AppendBatch(outs[i], std::move(r.outputs[i]));
      if (progress) progress(b + 1, batches);
    }
    all.outputs = std::move(outs);
    return all;
  }
};

Simulator::Simulator(std::shared_ptr<const Plan> plan) : plan_(std::move(plan)), impl_(std::make_unique<Impl>()) {}
Simulator::~Simulator() = default;

SimulatorResult Simulator::Create(std::shared_ptr<const Plan> plan) {
  SimulatorResult r;
  ExecutorResult q = Executor::Create(plan->model);
  if (!q.ok()) {
    r.diagnostics = std::move(q.diagnostics);
    return r;
  }
  ExecutorResult f = Executor::Create(plan->model);
  if (!f.ok()) {
    r.diagnostics = std::move(f.diagnostics);
    return r;
  }
  std::unique_ptr<Simulator> sim(new Simulator(plan));
  Impl* impl = sim->impl_.get();
  impl->quant = std::move(q.executor);
  impl->fp = std::move(f.executor);
  for (const FakeQuantPoint& p : plan->points) {
    PointState s;
    s.fq = std::make_unique<FakeQuantizer>(p.spec, p.is_state);
    impl->points.push_back(std::move(s));
  }
  // Weights are fake-quantized once, each with its own (static) observer.
  impl->quant->TransformStates([&](TensorId id, const TensorInfo& info, Tensor& value) {
    int pt = plan->state_points[static_cast<size_t>(id)];
    if (pt < 0 || !value.is_float()) return;
    PointState& s = impl->points[static_cast<size_t>(pt)];
    std::vector<float> y(value.f32.size());
    NumericsStatus st = s.fq->Forward(value.shape, value.f32, y);
    if (!st.ok()) {
      r.diagnostics.push_back(MakeDiagnostic(
          st.code == NumericsError::kBlockSizeMismatch ? DiagCode::kBlockSizeMismatch : DiagCode::kExecutionError,
          DiagLocation::From(plan->points[static_cast<size_t>(pt)].origin.where),
          fmt::format("weight '{}' stays float: {}", info.name, st.message)));
      return;
    }
    s.stats.Add(value.f32, y);
    value.f32 = std::move(y);
    s.fq->set_observer_enabled(false);
    impl->quantized_weights.emplace_back(id, value);
  });
  // Activations: one hook at every point of the plan.
  const Plan* p = plan.get();
  impl->PlanSlots(*p);
  impl->quant->SetHook(
      [impl, p](const TensorEvent& ev, Tensor& t) {
        if (!t.is_float()) return;
        const Impl::SlotPoint& at = impl->At(ev.op_id, ev.slot);
        if (at.point < 0) return;
        const int pt = at.point;
        PointState& s = impl->points[static_cast<size_t>(pt)];
        if (at.mode == HookMode::kObserve) {  // split edge, producer side: observe only
          if (!s.fq->observer_enabled() || s.fq->disabled()) return;
          const bool fake_quant = s.fq->fake_quant_enabled();
          s.fq->set_fake_quant_enabled(false);
          impl->scratch_out.resize(t.f32.size());
          (void)s.fq->Forward(t.shape, t.f32, impl->scratch_out);
          s.fq->set_fake_quant_enabled(fake_quant);
          return;
        }
        // Split edge, consumer side: quantize with the observer off (the producer observed).
        const bool observer = s.fq->observer_enabled();
        if (!at.observe) s.fq->set_observer_enabled(false);
        struct Restore {
          FakeQuantizer* fq;
          bool on;
          ~Restore() { fq->set_observer_enabled(on); }
        } restore{s.fq.get(), observer};
        bool measure = impl->measuring && s.fq->fake_quant_enabled() && !s.fq->disabled();
        // The input is kept in one reused buffer to measure the error this point adds.
        std::vector<float>& x = impl->scratch;
        if (measure) x.assign(t.f32.begin(), t.f32.end());
        NumericsStatus st = s.fq->Forward(t.shape, t.f32, t.f32);
        if (!st.ok() && st.code == NumericsError::kBlockSizeMismatch) {
          impl->diagnostics.push_back(MakeDiagnostic(DiagCode::kBlockSizeMismatch,
                                                     DiagLocation::From(p->points[static_cast<size_t>(pt)].origin.where),
                                                     fmt::format("'{}' stays float: {}",
                                                                 p->model->tensor(ev.tensor).name, st.message)));
        }
        if (measure && st.ok()) s.stats.Add(x, t.f32);
      },
      [impl](const Model&, OpId op, TensorSlot slot) { return impl->At(op, slot).mode; });
  r.simulator = std::move(sim);
  return r;
}

std::vector<Diagnostic> Simulator::Calibrate(std::span<const Tensor> inputs, int64_t batch_size, int64_t max_batches,
                                             const ProgressFn& progress) {
  for (size_t i = 0; i < impl_->points.size(); ++i) {
    if (plan_->points[i].is_state) continue;
    impl_->points[i].fq->set_observer_enabled(true);
    impl_->points[i].fq->set_fake_quant_enabled(false);
  }
  // Activation ranges come from the float model (§d): the weights are float while observing.
  impl_->quant->ResetStates();
  RunResult r = impl_->RunInBatches(*impl_->quant, inputs, batch_size, max_batches, progress);
  impl_->RestoreQuantizedWeights();
  if (r.ok() && !r.outputs.empty() && !r.outputs[0].shape.empty()) impl_->calibration_samples += r.outputs[0].shape[0];
  for (size_t i = 0; i < impl_->points.size(); ++i) {
    if (plan_->points[i].is_state) continue;
    impl_->points[i].fq->set_observer_enabled(false);
    impl_->points[i].fq->set_fake_quant_enabled(true);
  }
  return r.diagnostics;
}

RunResult Simulator::RunFloat(std::span<const Tensor> inputs, int64_t batch_size) {
  return impl_->RunInBatches(*impl_->fp, inputs, batch_size, 0, {});
}

RunResult Simulator::RunQuantized(std::span<const Tensor> inputs, int64_t batch_size) {
  impl_->measuring = false;
  RunResult r = impl_->RunInBatches(*impl_->quant, inputs, batch_size, 0, {});
  impl_->measuring = true;
  return r;
}

SimReportResult Simulator::Evaluate(std::span<const Tensor> inputs, const Tensor* labels, int64_t batch_size,
                                    const ProgressFn& progress) {
  SimReportResult result;
  for (size_t i = 0; i < impl_->points.size(); ++i) {
    if (plan_->points[i].is_state) continue;
    impl_->points[i].stats = ErrorStats{};
  }
  impl_->diagnostics.clear();
  ProgressFn half;
  if (progress) half = [&](int64_t d, int64_t t) { progress(d, 2 * t); };
  RunResult q = impl_->RunInBatches(*impl_->quant, inputs, batch_size, 0, half);
  if (!q.ok()) {
    result.diagnostics = std::move(q.diagnostics);
    return result;
  }
  ProgressFn second;
  if (progress) second = [&](int64_t d, int64_t t) { progress(t + d, 2 * t); };
  RunResult f = impl_->RunInBatches(*impl_->fp, inputs, batch_size, 0, second);
  if (!f.ok()) {
    result.diagnostics = std::move(f.diagnostics);
    return result;
  }
  result.diagnostics = impl_->diagnostics;
  SimReport rep;
  rep.calibration_samples = impl_->calibration_samples;
  rep.samples = q.outputs.empty() || q.outputs[0].shape.empty() ? 0 : q.outputs[0].shape[0];
  const Model& model = *plan_->model;
  for (size_t o = 0; o < q.outputs.size(); ++o) {
    const Tensor& a = f.outputs[o];
    const Tensor& b = q.outputs[o];
    OutputReport out;
    out.name = model.tensor(model.outputs()[o]).name;
    out.sqnr_db = std::numeric_limits<double>::quiet_NaN();  // integer outputs: no SQNR
    if (a.is_float() && b.is_float()) {
      ErrorStats acc;
      acc.Add(a.f32, b.f32);
      out.sqnr_db = acc.SqnrDb();
      out.max_abs_error = acc.max_abs;
      if (a.shape.size() == 2 && a.shape[0] > 0 && a.shape[1] > 0) {
        const int64_t n = a.shape[0];
        // Agreement: the float run's argmax as the labels of the quantized run.
        Tensor float_top1 = Tensor::Int64({n}, std::vector<int64_t>(static_cast<size_t>(n)));
        for (int64_t i = 0; i < n; ++i) {
          auto row = a.f32.begin() + i * a.shape[1];
          const bool finite = std::all_of(row, row + a.shape[1], [](float v) { return std::isfinite(v); });
          // A float row with NaN has no top-1: no quantized row agrees with it.
          float_top1.i64[static_cast<size_t>(i)] = finite ? std::max_element(row, row + a.shape[1]) - row : -1;
        }
        out.top1_agreement = Top1Accuracy(b, float_top1);
        const std::optional<double> float_accuracy = labels ? Top1Accuracy(a, *labels) : std::nullopt;
        if (float_accuracy && o == 0) {
          rep.float_accuracy = float_accuracy;
          rep.quantized_accuracy = Top1Accuracy(b, *labels);
        } else if (labels && o == 0) {
          result.diagnostics.push_back(MakeDiagnostic(
              DiagCode::kDataInvalid, {},
              fmt::format("labels must be {} integer class ids (one per sample); got {} {} values", n,
                          labels->is_float() ? labels->f32.size() : labels->i64.size(), ElementTypeName(labels->type))));
        }
      }
    }
    rep.outputs.push_back(std::move(out));
  }
  if (labels && !rep.float_accuracy && !HasErrors(result.diagnostics)) {
    const Tensor& first = f.outputs.empty() ? Tensor() : f.outputs[0];
    result.diagnostics.push_back(MakeDiagnostic(
        DiagCode::kDataInvalid, {},
        fmt::format("labels need output 0 to be [N, classes] float logits; it is {} [{}]", ElementTypeName(first.type),
                    fmt::join(first.shape, ", "))));
  }
  for (size_t i = 0; i < impl_->points.size(); ++i) {
    const FakeQuantPoint& fp = plan_->points[i];
    const PointState& s = impl_->points[i];
    PointReport pr;
    pr.point = fp.id;
    pr.tensor = model.tensor(fp.tensor).name;
    pr.name = model.KnownName(fp.tensor);
    pr.consumers = PointConsumers(*plan_, fp.id);
    pr.is_state = fp.is_state;
    pr.spec = SpecSummary(fp.spec, fp.is_state);
    pr.source = fp.origin.where.FileLine();
    pr.rule = fp.origin.description;
    pr.sqnr_db = s.stats.SqnrDb();
    pr.max_abs_error = s.stats.max_abs;
    pr.elements = s.stats.elements;
    pr.disabled = s.fq->disabled();
    rep.points.push_back(std::move(pr));
  }
  // Most damaging first; points without a figure (NaN: nothing finite seen) before all, so that
  // the order is a strict weak one and the unmeasurable points are not hidden at the end.
  std::stable_sort(rep.points.begin(), rep.points.end(), [](const PointReport& a, const PointReport& b) {
    const bool an = std::isnan(a.sqnr_db), bn = std::isnan(b.sqnr_db);
    return an != bn ? an : !an && a.sqnr_db < b.sqnr_db;
  });
  rep.quantized_outputs = std::move(q.outputs);
  rep.float_outputs = std::move(f.outputs);
  result.report = std::move(rep);
  return result;
}

void Simulator::SetQatStep(int64_t step) {
  for (size_t i = 0; i < impl_->points.size(); ++i) {
    if (plan_->points[i].is_state) continue;
    const auto& sched = plan_->points[i].qat_schedule;
    impl_->points[i].fq->set_observer_enabled(!sched || sched->ObserverOn(step));
    impl_->points[i].fq->set_fake_quant_enabled(!sched || sched->FakeQuantOn(step));
  }
}

const QParams& Simulator::qparams(int point) const {
  return impl_->points.at(static_cast<size_t>(point)).fq->calculator().qparams();
}
bool Simulator::observer_enabled(int point) const { return impl_->points.at(static_cast<size_t>(point)).fq->observer_enabled(); }
bool Simulator::fake_quant_enabled(int point) const {
  return impl_->points.at(static_cast<size_t>(point)).fq->fake_quant_enabled();
}

namespace {
std::string Db(double v) {
  if (std::isnan(v)) return "not a number";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.2f}", v);
}
}  // namespace


std::optional<double> Top1Accuracy(const Tensor& logits, const Tensor& labels) {
  if (!logits.is_float() || logits.shape.size() != 2 || logits.shape[0] <= 0 || logits.shape[1] <= 0 ||
      labels.is_float() || static_cast<int64_t>(labels.i64.size()) != logits.shape[0]) {
    return std::nullopt;
  }
  const int64_t n = logits.shape[0], c = logits.shape[1];
  int64_t correct = 0;
  for (int64_t i = 0; i < n; ++i) {
    auto row = logits.f32.begin() + i * c;
    // A row with a NaN has no top-1: it is never right.
    if (std::any_of(row, row + c, [](float v) { return std::isnan(v); })) continue;
    correct += std::max_element(row, row + c) - row == labels.i64[static_cast<size_t>(i)];
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

std::string RenderReportText(const SimReport& r, size_t max_points) {
  std::string out = fmt::format("evaluated {} samples (calibrated on {})\n", r.samples, r.calibration_samples);
  for (const OutputReport& o : r.outputs) {
    out += fmt::format("output '{}': SQNR {}, max abs error {:.6g}", o.name,
                       std::isnan(o.sqnr_db) ? "not a number" : Db(o.sqnr_db) + " dB", o.max_abs_error);
    if (o.top1_agreement) out += fmt::format(", top-1 agreement {:.2f}%", 100.0 * *o.top1_agreement);
    out += "\n";
  }
  if (r.float_accuracy) {
    out += fmt::format("accuracy: float {:.2f}%, fake-quantized {:.2f}% ({:+.2f} points)\n", 100.0 * *r.float_accuracy,
                       100.0 * *r.quantized_accuracy, 100.0 * (*r.quantized_accuracy - *r.float_accuracy));
  }
  out += fmt::format("fake-quant points, most damaging first ({} in all):\n", r.points.size());
  out += fmt::format("  {:>8}  {:<6} {:<32} {:<44} {}\n", "SQNR dB", "kind", "tensor", "spec", "rule");
  for (size_t i = 0; i < r.points.size() && i < max_points; ++i) {
    const PointReport& p = r.points[i];
    const std::string tensor = p.name.empty() || p.name == p.tensor ? p.tensor : fmt::format("{} ({})", p.name, p.tensor);
    out += fmt::format("  {:>8}  {:<6} {:<32} {:<44} {}{}\n", p.disabled ? "off" : Db(p.sqnr_db),
                       p.is_state ? "weight" : "act", tensor, p.spec, p.source.empty() ? "(default)" : p.source,
                       p.disabled ? " (disabled at run time)" : "");
  }
  if (r.points.size() > max_points) out += fmt::format("  ... {} more\n", r.points.size() - max_points);
  return out;
}

std::string RenderReportJson(const SimReport& r) {
  using J = nlohmann::ordered_json;
  auto num = [](double v) { return std::isfinite(v) ? J(v) : J(nullptr); };
  J j;
  j["samples"] = r.samples;
  j["calibration_samples"] = r.calibration_samples;
  J outs = J::array();
  for (const OutputReport& o : r.outputs) {
    J x;
    x["name"] = o.name;
    x["sqnr_db"] = num(o.sqnr_db);
    x["max_abs_error"] = o.max_abs_error;
    x["top1_agreement"] = o.top1_agreement ? J(*o.top1_agreement) : J(nullptr);
    outs.push_back(x);
  }
  j["outputs"] = outs;
  j["float_accuracy"] = r.float_accuracy ? J(*r.float_accuracy) : J(nullptr);
  j["quantized_accuracy"] = r.quantized_accuracy ? J(*r.quantized_accuracy) : J(nullptr);
  J pts = J::array();
  for (const PointReport& p : r.points) {
    pts.push_back({{"point", p.point},
                   {"tensor", p.tensor},
                   {"name", p.name},
                   {"consumers", p.consumers},
                   {"kind", p.is_state ? "weight" : "activation"},
                   {"spec", p.spec},
                   {"sqnr_db", num(p.sqnr_db)},
                   {"max_abs_error", p.max_abs_error},
                   {"elements", p.elements},
                   {"disabled", p.disabled},
                   {"source", p.source.empty() ? J(nullptr) : J(p.source)},
                   {"rule", p.rule}});
  }
  j["points"] = pts;
  return j.dump(2, ' ', false, J::error_handler_t::replace) + "\n";
}

}  // namespace qrules
