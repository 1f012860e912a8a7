// qrules inspect, plan, explain, and lint --model: everything that meets a model.
#include <ostream>

#include <fmt/format.h>

#include "cli/args.h"
#include "cli/common.h"
#include "qrules/compile.h"
#include "qrules/ir.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"

namespace qrules::cli {

ModelResult LoadModel(const std::string& path, const std::optional<std::string>& modules) {
  bool text = path.size() >= 4 && path.compare(path.size() - 4, 4, ".qir") == 0;
  if (text) {
    if (modules) {
      ModelResult r;
      r.diagnostics.push_back(MakeDiagnostic(DiagCode::kModuleMapInvalid, DiagLocation{*modules, 0, 0, 1, {}},
                                             "--modules applies to ONNX models; a .qir model declares its modules"));
      return r;
    }
    return LoadModelTextFile(path);
  }
  ImportOptions o;
  if (modules) o.module_map_path = *modules;
  return ImportOnnxFile(path, o);
}

// Compiles rules and loads the model; on failure prints diagnostics and returns the exit code.
std::optional<int> PrepareRulesAndModel(const std::string& rules_path, const std::string& model_path,
                                        const std::optional<std::string>& modules, Io& io,
                                        std::shared_ptr<const CompiledRules>& rules,
                                        std::shared_ptr<const Model>& model, std::vector<Diagnostic>& warnings) {
  CompileResult c = CompileFile(rules_path);
  for (auto& d : c.diagnostics) warnings.push_back(d);
  ModelResult m = LoadModel(model_path, modules);
  for (auto& d : m.diagnostics) warnings.push_back(d);
  if (!c.ok() || !m.ok()) {
    io.err << RenderText(warnings);
    bool io_problem = false;
    for (const auto& d : warnings) io_problem |= d.location.line == 0 && d.severity == Severity::kError;
    return io_problem || !m.ok() ? 2 : 1;
  }
  rules = c.rules;
  model = m.model;
  return std::nullopt;
}

int CmdInspect(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--modules", "--format"}, {});
  if (!a.error.empty()) return UsageError(io, "inspect", a.error);
  if (a.positional.size() != 1) return UsageError(io, "inspect", "expected one model file");
  std::string format = a.Value("--format").value_or("text");
  if (format != "text" && format != "qir") return UsageError(io, "inspect", "--format is text or qir");
  ModelResult m = LoadModel(a.positional[0], a.Value("--modules"));
  if (!m.ok()) {
    io.err << RenderText(m.diagnostics);
    return 2;
  }
  io.err << RenderText(m.diagnostics);
  PrintOptions po;
  po.include_data = false;
  io.out << (format == "qir" ? PrintModelText(*m.model, po) : RenderModelSummary(*m.model));
  return 0;
}

int CmdPlan(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--model", "--modules", "--format", "-o", "--output"}, {});
  if (!a.error.empty()) return UsageError(io, "plan", a.error);
  if (a.positional.size() != 1 || !a.Value("--model")) return UsageError(io, "plan", "expected RULES --model MODEL");
  std::string format = a.Value("--format").value_or("text");
  if (format != "text" && format != "json") return UsageError(io, "plan", "--format is text or json");
  std::shared_ptr<const CompiledRules> rules;
  std::shared_ptr<const Model> model;
  std::vector<Diagnostic> diags;
  if (auto rc = PrepareRulesAndModel(a.positional[0], *a.Value("--model"), a.Value("--modules"), io, rules, model, diags)) {
    return *rc;
  }
  PlanResult p = Resolve(rules, model);
  for (auto& d : p.diagnostics) diags.push_back(d);
  io.err << RenderText(diags);
  if (!p.ok()) return 1;
  const std::string text = format == "json" ? RenderPlanJson(*p.plan) : RenderPlanText(*p.plan);
  std::optional<std::string> out = a.Value("-o") ? a.Value("-o") : a.Value("--output");
  if (!out || *out == "-") {
    io.out << text;
  } else if (auto d = WriteFileAtomically(*out, text)) {
    io.err << RenderText(std::span<const Diagnostic>(&*d, 1));
    return 2;
  }
  return 0;
}

int CmdExplain(const Args& args, Io& io) {
  ParsedArgs a = ParseArgs(args, {"--model", "--modules", "--op", "--tensor", "--module"}, {"--schedule"});
  if (!a.error.empty()) return UsageError(io, "explain", a.error);
  if (a.Flag("--schedule")) {
    if (a.positional.size() != 1) return UsageError(io, "explain", "expected RULES --schedule");
    CompileResult c = CompileFile(a.positional[0]);
    io.err << RenderText(c.diagnostics);
    if (!c.ok()) return c.diagnostics.size() == 1 && c.diagnostics[0].location.line == 0 ? 2 : 1;
    io.out << RenderScheduleTimeline(c.rules->config);
    return 0;
  }
  int selectors = a.Value("--op").has_value() + a.Value("--tensor").has_value() + a.Value("--module").has_value();
  if (a.positional.size() != 1 || !a.Value("--model") || selectors != 1) {
    return UsageError(io, "explain", "expected RULES --model MODEL and one of --op, --tensor, --module");
  }
  std::shared_ptr<const CompiledRules> rules;
  std::shared_ptr<const Model> model;
  std::vector<Diagnostic> diags;
  if (auto rc = PrepareRulesAndModel(a.positional[0], *a.Value("--model"), a.Value("--modules"), io, rules, model, diags)) {
    return *rc;
  }
  PlanResult p = Resolve(rules, model, ResolveOptions{.lint = false});
  for (auto& d : p.diagnostics) diags.push_back(d);
  io.err << RenderText(diags);
  if (!p.ok()) return 1;
  auto not_found = [&](std::string_view what, const std::string& name, std::vector<std::string_view> all) {
    auto s = SuggestSimilar(name, all);
    io.err << fmt::format("qrules explain: no {} '{}' in the model{}\n", what, name,
                          s.empty() ? "" : fmt::format(", did you mean '{}'?", s.front()));
    return 1;
  };
  if (auto op = a.Value("--op")) {
    auto id = model->OpIdOf(*op);
    std::vector<std::string_view> names;
    for (const Op& o : model->ops()) names.push_back(o.name);
    if (!id) return not_found("op", *op, names);
    io.out << ExplainOp(*p.plan, *id);
  } else if (auto t = a.Value("--tensor")) {
    auto id = model->TensorIdOf(*t);
    std::vector<std::string_view> names;
    for (const TensorInfo& ti : model->tensors()) names.push_back(ti.name);
    if (!id) return not_found("tensor", *t, names);
    io.out << ExplainTensor(*p.plan, *id);
  } else {
    std::string mod = *a.Value("--module");
    auto id = model->ModuleIdOf(mod);
    std::vector<std::string_view> names;
    for (const Module& m : model->modules()) names.push_back(m.name);
    if (!id) return not_found("module", mod, names);
    io.out << ExplainModule(*p.plan, *id);
  }
  return 0;
}

int LintWithModel(const ParsedArgs& a, const SeverityOptions& sev, const std::string& format, Io& io) {
  ModelResult m = LoadModel(*a.Value("--model"), a.Value("--modules"));
  std::vector<Diagnostic> all = m.diagnostics;
  if (!m.ok()) {
    return ReportDiagnostics(std::move(all), sev, format, io, /*io_problem=*/true);
  }
  std::string summaries;
  for (const std::string& path : a.positional) {
    CompileResult c = CompileFile(path);
    bool io_problem = false;
    for (auto& d : c.diagnostics) {
      io_problem |= d.code == DiagCode::kIoError && d.location.line == 0;
      all.push_back(std::move(d));
    }
    if (io_problem) return ReportDiagnostics(std::move(all), sev, format, io, true);
    if (!c.ok()) continue;
    PlanResult p = Resolve(c.rules, m.model);
    for (auto& d : p.diagnostics) all.push_back(std::move(d));
    // What the rules do to this model, so that rules which quantize nothing cannot pass quietly.
    if (p.plan && format == "text") {
      summaries += fmt::format("{} on {}: {}\n", path, m.model->name(), RenderPlanSummary(Summarize(*p.plan)));
    }
  }
  int rc = ReportDiagnostics(std::move(all), sev, format, io, false);
  io.err << summaries;
  return rc;
}

}  // namespace qrules::cli
