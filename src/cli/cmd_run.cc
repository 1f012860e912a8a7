// qrules run: the model in float and with the plan's fake quantization, and the damage report.
#include <cstdio>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cli/args.h"
#include "cli/common.h"
#include "cli/data.h"
#include "qrules/compile.h"
#include "qrules/npy.h"
#include "qrules/plan.h"
#include "qrules/simulate.h"

namespace qrules::cli {

namespace {

std::optional<int64_t> PositiveInt(const std::optional<std::string>& s, int64_t fallback, bool& bad) {
  if (!s) return fallback;
  try {
    size_t used = 0;
    long long v = std::stoll(*s, &used);
    if (used == s->size() && v > 0) return v;
  } catch (...) {
  }
  bad = true;
  return std::nullopt;
}

// A progress bar on stderr, only when stderr is a terminal.
ProgressFn Progress(Io& io, std::string label) {
  if (!io.err_is_terminal) return {};
  return [&io, label](int64_t done, int64_t total) {
    int width = 30;
    int filled = total > 0 ? static_cast<int>(width * done / total) : width;
    io.err << fmt::format("\r{:<12} [{}{}] {}/{}", label, std::string(static_cast<size_t>(filled), '#'),
                          std::string(static_cast<size_t>(width - filled), ' '), done, total);
    if (done == total) io.err << "\r" << std::string(60 + label.size(), ' ') << "\r";
    io.err.flush();
  };
}

// The number of classes of output 0 when it is a [N, C] tensor with C known, else 0.
int64_t Classes(const Model& model) {
  if (model.outputs().empty()) return 0;
  const Shape& s = model.tensor(model.outputs()[0]).shape;
  return s.known && s.rank() == 2 && s.dims[1].size > 0 ? s.dims[1].size : 0;
}

int64_t Samples(const std::vector<Tensor>& inputs) {
  return inputs.empty() || inputs[0].shape.empty() ? 1 : inputs[0].shape[0];
}

int WriteOutput(const std::string& path, const Tensor& t, Io& io) {
  if (auto d = WriteNpyFile(path, t)) {
    io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
    return 2;
  }
  return 0;
}

int RunFloatOnly(const ParsedArgs& a, int64_t batch_size, Io& io) {
  ModelResult m = LoadModel(*a.Value("--model"), a.Value("--modules"));
  io.err << RenderText(m.diagnostics);
  if (!m.ok()) return 2;
  auto inputs = LoadModelInputs(*m.model, "--input", a.All("--input"), io);
  if (!inputs) return 2;
  std::optional<Tensor> labels;
  if (auto l = a.Value("--labels")) {
    labels = LoadLabels(*l, Samples(*inputs), Classes(*m.model), io);
    if (!labels) return 2;
  }
  ExecutorResult e = Executor::Create(m.model);
  if (!e.ok()) {
    io.err << RenderText(e.diagnostics);
    return 1;
  }
  RunResult r = e.executor->RunBatched(*inputs, batch_size);
  if (!r.ok()) {
    io.err << RenderText(r.diagnostics);
    return 1;
  }
  if (auto out = a.Value("--output"); out && !r.outputs.empty()) {
    if (int rc = WriteOutput(*out, r.outputs[0], io)) return rc;
  }
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    const Tensor& t = r.outputs[i];
    io.out << fmt::format("output '{}': shape [{}]\n", m.model->tensor(m.model->outputs()[i]).name, fmt::join(t.shape, ", "));
  }
  if (labels && !r.outputs.empty()) {
    std::optional<double> acc = Top1Accuracy(r.outputs[0], *labels);
    if (!acc) {
      io.err << fmt::format("qrules run: error: --labels needs a [N, classes] float output 0; it is [{}]\n",
                            fmt::join(r.outputs[0].shape, ", "));
      return 2;
    }
    const int64_t n = r.outputs[0].shape[0];
    io.out << fmt::format("accuracy: {:.2f}% ({} of {})\n", 100.0 * *acc,
                          static_cast<int64_t>(std::llround(*acc * static_cast<double>(n))), n);
  }
  return 0;
}

}  // namespace

int CmdRun(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--model", "--modules", "--input", "--calibrate", "--calibration-batches",
                                  "--batch-size", "--labels", "--output", "--format"},
                           {"--float-only", "--calibrate-on-input"});
  if (!a.error.empty()) return UsageError(io, "run", a.error);
  bool float_only = a.Flag("--float-only");
  if (!a.Value("--model") || a.All("--input").empty() || (a.positional.size() != 1 && !float_only) ||
      a.positional.size() > 1) {
    return UsageError(io, "run", "expected RULES --model MODEL --input [NAME=]X.npy (or --float-only --model MODEL "
                                 "--input [NAME=]X.npy)");
  }
  std::string format = a.Value("--format").value_or("text");
  if (format != "text" && format != "json") return UsageError(io, "run", "--format is text or json");
  bool bad = false;
  auto batch_size = PositiveInt(a.Value("--batch-size"), 64, bad);
  auto calib_batches = PositiveInt(a.Value("--calibration-batches"), 8, bad);
  if (bad) return UsageError(io, "run", "--batch-size and --calibration-batches take positive integers");
  if (float_only) return RunFloatOnly(a, *batch_size, io);
  // No silent data choices: calibrating on the data being evaluated flatters the result, so it
  // takes a flag of its own.
  const bool calibrate_on_input = a.Flag("--calibrate-on-input");
  if (a.All("--calibrate").empty() && !calibrate_on_input) {
    return UsageError(io, "run", "give calibration data with --calibrate [NAME=]C.npy, or --calibrate-on-input to "
                                 "calibrate on the evaluation input");
  }
  if (!a.All("--calibrate").empty() && calibrate_on_input) {
    return UsageError(io, "run", "--calibrate and --calibrate-on-input exclude each other");
  }

  std::shared_ptr<const CompiledRules> rules;
  std::shared_ptr<const Model> model;
  std::vector<Diagnostic> diags;
  if (auto rc = PrepareRulesAndModel(a.positional[0], *a.Value("--model"), a.Value("--modules"), io, rules, model, diags)) {
    return *rc;
  }
  auto inputs = LoadModelInputs(*model, "--input", a.All("--input"), io);
  if (!inputs) return 2;
  std::optional<std::vector<Tensor>> calibration =
      calibrate_on_input ? inputs : LoadModelInputs(*model, "--calibrate", a.All("--calibrate"), io);
  if (!calibration) return 2;
  std::optional<Tensor> labels;
  if (auto l = a.Value("--labels")) {
    labels = LoadLabels(*l, Samples(*inputs), Classes(*model), io);
    if (!labels) return 2;
  }
  PlanResult p = Resolve(rules, model);
  diags.insert(diags.end(), p.diagnostics.begin(), p.diagnostics.end());
  if (!p.ok()) {
    io.err << RenderText(diags);
    return 1;
  }
  SimulatorResult s = Simulator::Create(p.plan);
  diags.insert(diags.end(), s.diagnostics.begin(), s.diagnostics.end());
  if (!s.ok()) {
    io.err << RenderText(diags);
    return 1;
  }
  auto cd = s.simulator->Calibrate(*calibration, *batch_size, *calib_batches, Progress(io, "calibrating"));
  diags.insert(diags.end(), cd.begin(), cd.end());
  if (HasErrors(cd)) {
    io.err << RenderText(diags);
    return 1;
  }
  SimReportResult rep = s.simulator->Evaluate(*inputs, labels ? &*labels : nullptr, *batch_size, Progress(io, "evaluating"));
  diags.insert(diags.end(), rep.diagnostics.begin(), rep.diagnostics.end());
  io.err << RenderText(diags);
  if (!rep.ok()) return 1;
  if (auto out = a.Value("--output"); out && !rep.report->quantized_outputs.empty()) {
    if (int rc = WriteOutput(*out, rep.report->quantized_outputs[0], io)) return rc;
  }
  if (format == "json") {
    io.out << RenderReportJson(*rep.report);
  } else {
    io.out << fmt::format("plan: {} on {}: {}\n", a.positional[0], model->name(), RenderPlanSummary(Summarize(*p.plan)));
    if (calibrate_on_input) io.out << "calibrated on the evaluation input (--calibrate-on-input)\n";
    io.out << RenderReportText(*rep.report);
  }
  return 0;
}

}  // namespace qrules::cli
