// qrules/simulate.h — running a model with the fake quantization a plan calls for, and measuring
// the damage.
//
//   qrules::PlanResult plan = qrules::Resolve(rules, model);
//   qrules::SimulatorResult s = qrules::Simulator::Create(plan.plan);
//   if (!s.ok()) { std::cerr << qrules::RenderText(s.diagnostics); return 2; }
//   s.simulator->Calibrate({calibration_images}, /*batch_size=*/64);   // observers on, FQ off
//   qrules::SimReport report = s.simulator->Evaluate({test_images}, &labels, 64);
//   std::cout << qrules::RenderReportText(report);
//
// Lifecycle (coreai_opt, grammar/SEMANTICS.md §d): every fake-quant point of the plan becomes one
// FakeQuantizer (shared points share it).  Weights are fake-quantized once, when the simulator is
// created, with their own (static) observer.  `Calibrate` runs the model with activation
// observers on and every fake quantization off, the weights' too, so that activation ranges are
// those of the float model (what onnxruntime's and TensorRT's calibrators see); `Evaluate`
// runs it with observers off and fake quantization on, and also runs the float model on the same
// inputs to compare.  `SetQatStep`
// applies the QAT schedule state of a given step (observer/fake-quant flags per point, from the
// schedule of the module that owns the point; points without a schedule are on/on).
//
// Edges.  A fake-quant on a producer's output changes what every consumer reads, except for a
// consumer whose plan says it reads the float value (`module_input { k: none }`): on such an edge
// the producer's point only observes, and the consumers that inherit it quantize their own copy
// (the observer still sees each run once).  An edge that is also a graph output stays quantized
// for every reader.
//
// The report: output agreement with the float run (SQNR in dB, max abs error, top-1 agreement for
// [N, classes] outputs, accuracy when labels are given), and for every fake-quant point the SQNR
// it introduces locally (its input against its output, accumulated over the evaluation), sorted
// most damaging first, each with the rule (file:line) that put it there.
//
// Not thread-safe (it owns an executor); one per thread.  Errors (a model with an unsupported op,
// inputs of the wrong shape) are diagnostics in the results.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/executor.h"
#include "qrules/fake_quant.h"
#include "qrules/plan.h"
#include "qrules/tensor.h"

namespace qrules {

// The sums behind a signal-to-quantization-noise ratio of y (quantized) against x (reference):
// sum of x^2, sum of (x - y)^2, max |x - y|, over the elements where both x and x - y are finite.
// Blocks of 256 elements are summed in float lanes (vectorizable) and added in double; a block
// holding a non-finite value is summed element by element so that exactly those are skipped.
struct ErrorStats {
  double signal = 0;
  double noise = 0;
  double max_abs = 0;
  int64_t elements = 0;
  int64_t skipped = 0;  // elements where x or x - y was NaN or infinite
  void Add(std::span<const float> x, std::span<const float> y);
  // +inf when noise is 0, -inf when signal is 0, NaN when no element was finite (or none seen):
  // reports print "not a number" rather than a perfect score.
  double SqnrDb() const;
};

struct PointReport {
  int point = -1;
  std::string tensor;        // tensor name (ONNX)
  std::string name;          // the name PyTorch users know it by (Model::KnownName)
  std::vector<std::string> consumers;  // the ops that read the fake-quantized value
  bool is_state = false;
  std::string spec;          // SpecSummary
  std::string source;        // file:line of the deciding entry ("" when none)
  std::string rule;          // the deciding rule, as text
  double sqnr_db = 0;        // +inf when the fake-quant changed nothing
  double max_abs_error = 0;
  int64_t elements = 0;      // elements seen (summed over the evaluation)
  bool disabled = false;     // turned off at run time (block size mismatch)
};

struct OutputReport {
  std::string name;
  double sqnr_db = 0;
  double max_abs_error = 0;
  std::optional<double> top1_agreement;  // fraction of samples whose argmax matches the float run
};

struct SimReport {
  int64_t samples = 0;
  int64_t calibration_samples = 0;
  std::vector<OutputReport> outputs;
  std::optional<double> float_accuracy;      // with labels
  std::optional<double> quantized_accuracy;  // with labels
  std::vector<PointReport> points;           // most damaging (lowest SQNR) first
  std::vector<Tensor> quantized_outputs;     // the fake-quantized run's outputs
  std::vector<Tensor> float_outputs;
};

struct [[nodiscard]] SimReportResult {
  std::optional<SimReport> report;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return report.has_value() && !HasErrors(diagnostics); }
};

// Called after each batch with (batches done, batches total), e.g. for a progress bar.
using ProgressFn = std::function<void(int64_t done, int64_t total)>;

class Simulator;
struct [[nodiscard]] SimulatorResult {
  std::unique_ptr<Simulator> simulator;
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return simulator != nullptr; }
};

class Simulator {
 public:
  static SimulatorResult Create(std::shared_ptr<const Plan> plan);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Observers on, fake quantization off, over `inputs` (one tensor per graph input, batch on
  // axis 0) in batches of `batch_size`; at most `max_batches` batches when > 0.
  std::vector<Diagnostic> Calibrate(std::span<const Tensor> inputs, int64_t batch_size, int64_t max_batches = 0,
                                    const ProgressFn& progress = {});
  // Observers off, fake quantization on; compares against the float model.  `labels` (integer
  // class ids, one per sample) adds accuracies.
  SimReportResult Evaluate(std::span<const Tensor> inputs, const Tensor* labels, int64_t batch_size,
                           const ProgressFn& progress = {});
  // The float model alone.
  RunResult RunFloat(std::span<const Tensor> inputs, int64_t batch_size);
  // The fake-quantized model alone (observers off, fake quantization on), without the float
  // comparison and per-point statistics of Evaluate: the cost of a W8A8 forward.
  RunResult RunQuantized(std::span<const Tensor> inputs, int64_t batch_size);
  // The QAT schedule state at `step` (§d): per point, observer = ObserverOn(step) and fake quant
  // = FakeQuantOn(step) of its schedule; points without a schedule: both on.
  void SetQatStep(int64_t step);
  // Observer / fake-quant flags of one point (for tests and embedders).
  bool observer_enabled(int point) const;
  bool fake_quant_enabled(int point) const;
  // The qparams a point uses now (after calibration: the frozen ones; empty before its first
  // observation).  For exporters and tests.
  const QParams& qparams(int point) const;
  const Plan& plan() const { return *plan_; }

 private:
  struct Impl;
  explicit Simulator(std::shared_ptr<const Plan> plan);
  std::shared_ptr<const Plan> plan_;
  std::unique_ptr<Impl> impl_;
};

// Top-1 accuracy: the fraction of the rows of [N, C] float `logits` whose first largest value
// is at the index `labels` (N integer class ids) gives; a row holding a NaN is never right.
// nullopt when the shapes do not fit.
std::optional<double> Top1Accuracy(const Tensor& logits, const Tensor& labels);

std::string RenderReportText(const SimReport& report, size_t max_points = 20);
std::string RenderReportJson(const SimReport& report);

}  // namespace qrules
