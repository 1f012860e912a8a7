// qrules run: the model in float and with the plan's fake quantization, and the damage report.
#include <cstdio>
#include <ostream>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/common.h"
#include "qrules/compile.h"
#include "qrules/npy.h"
#include "qrules/plan.h"
#include "qrules/simulate.h"

namespace qrules::cli {

ModelResult LoadModel(const std::string& path, const std::optional<std::string>& modules);
std::optional<int> PrepareRulesAndModel(const std::string& rules_path, const std::string& model_path,
                                        const std::optional<std::string>& modules, Io& io,
                                        std::shared_ptr<const CompiledRules>& rules,
                                        std::shared_ptr<const Model>& model, std::vector<Diagnostic>& warnings);

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

std::optional<Tensor> LoadNpy(const std::string& path, Io& io) {
  NpyResult r = ReadNpyFile(path);
  if (!r.ok()) {
    io.err << RenderText(r.diagnostics);
    return std::nullopt;
  }
  return std::move(r.tensor);
}

}  // namespace

int CmdRun(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--model", "--modules", "--input", "--calibrate", "--calibration-batches",
                                  "--batch-size", "--labels", "--output", "--format"},
                           {"--float-only"});
  if (!a.error.empty()) return UsageError(io, "run", a.error);
  bool float_only = a.Flag("--float-only");
  if (!a.Value("--model") || !a.Value("--input") || (a.positional.size() != 1 && !float_only) ||
      a.positional.size() > 1) {
    return UsageError(io, "run", "expected RULES --model MODEL --input X.npy (or --float-only --model MODEL --input X.npy)");
  }
  std::string format = a.Value("--format").value_or("text");
  if (format != "text" && format != "json") return UsageError(io, "run", "--format is text or json");
  bool bad = false;
  auto batch_size = PositiveInt(a.Value("--batch-size"), 64, bad);
  auto calib_batches = PositiveInt(a.Value("--calibration-batches"), 8, bad);
  if (bad) return UsageError(io, "run", "--batch-size and --calibration-batches take positive integers");

  auto input = LoadNpy(*a.Value("--input"), io);
  if (!input) return 2;
  std::optional<Tensor> labels;
  if (auto l = a.Value("--labels")) {
    labels = LoadNpy(*l, io);
    if (!labels) return 2;
    if (labels->is_float()) {
      io.err << fmt::format("qrules run: error: {} holds float32 values; labels are integer class ids\n", *l);
      return 2;
    }
  }
  std::vector<Tensor> inputs{*input};

  if (float_only) {
    ModelResult m = LoadModel(*a.Value("--model"), a.Value("--modules"));
    if (!m.ok()) {
      io.err << RenderText(m.diagnostics);
      return 2;
    }
    ExecutorResult e = Executor::Create(m.model);
    if (!e.ok()) {
      io.err << RenderText(e.diagnostics);
      return 1;
    }
    RunResult r = e.executor->RunBatched(inputs, *batch_size);
    if (!r.ok()) {
      io.err << RenderText(r.diagnostics);
      return 1;
    }
    if (auto out = a.Value("--output")) {
      if (auto d = WriteNpyFile(*out, r.outputs.at(0))) {
        io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
        return 2;
      }
    }
    for (size_t i = 0; i < r.outputs.size(); ++i) {
      const Tensor& t = r.outputs[i];
      io.out << fmt::format("output '{}': shape [{}]\n", m.model->tensor(m.model->outputs()[i]).name, fmt::join(t.shape, ", "));
    }
    if (labels && !r.outputs.empty() && r.outputs[0].shape.size() == 2) {
      const Tensor& t = r.outputs[0];
      int64_t n = t.shape[0], c = t.shape[1], correct = 0;
      if (static_cast<int64_t>(labels->i64.size()) != n) {
        io.err << fmt::format("qrules run: error: {} labels for {} samples\n", labels->i64.size(), n);
        return 2;
      }
      for (int64_t i = 0; i < n; ++i) {
        auto b = t.f32.begin() + i * c;
        correct += (std::max_element(b, b + c) - b) == labels->i64[static_cast<size_t>(i)];
      }
      io.out << fmt::format("accuracy: {:.2f}% ({} of {})\n", 100.0 * static_cast<double>(correct) / static_cast<double>(n),
                            correct, n);
    }
    return 0;
  }

  std::shared_ptr<const CompiledRules> rules;
  std::shared_ptr<const Model> model;
  std::vector<Diagnostic> diags;
  if (auto rc = PrepareRulesAndModel(a.positional[0], *a.Value("--model"), a.Value("--modules"), io, rules, model, diags)) {
    return *rc;
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
  std::optional<Tensor> calib;
  if (auto c = a.Value("--calibrate")) {
    calib = LoadNpy(*c, io);
    if (!calib) return 2;
  }
  std::vector<Tensor> calib_inputs{calib ? *calib : *input};
  auto cd = s.simulator->Calibrate(calib_inputs, *batch_size, *calib_batches, Progress(io, "calibrating"));
  diags.insert(diags.end(), cd.begin(), cd.end());
  if (HasErrors(cd)) {
    io.err << RenderText(diags);
    return 1;
  }
  SimReportResult rep = s.simulator->Evaluate(inputs, labels ? &*labels : nullptr, *batch_size, Progress(io, "evaluating"));
  diags.insert(diags.end(), rep.diagnostics.begin(), rep.diagnostics.end());
  io.err << RenderText(diags);
  if (!rep.ok()) return 1;
  if (auto out = a.Value("--output")) {
    if (auto d = WriteNpyFile(*out, rep.report->quantized_outputs.at(0))) {
      io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
      return 2;
    }
  }
  if (format == "json") {
    io.out << RenderReportJson(*rep.report);
  } else {
    size_t quantized_ops = 0;
    for (const OpPlan& op : p.plan->ops) {
      quantized_ops += std::any_of(op.tensors.begin(), op.tensors.end(), [](const TensorPlan& t) { return t.point >= 0; });
    }
    io.out << fmt::format("plan: {} on {}: {} ops, {} with fake quantization, {} fake-quant points\n", a.positional[0],
                          model->name(), p.plan->ops.size(), quantized_ops, p.plan->points.size());
    io.out << RenderReportText(*rep.report);
  }
  return 0;
}

}  // namespace qrules::cli
