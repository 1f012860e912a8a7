// Renderings of a plan: JSON (the lockfile format of `qrules plan --format json`), text, explain.
#include <algorithm>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "qrules/plan.h"

namespace qrules {
namespace {

using J = nlohmann::ordered_json;

std::string FileLine(const SourceRange& r) { return r.FileLine(); }

J SpecJson(const QuantizationSpec& s, bool is_state) {
  J g;
  g["type"] = std::string(GranularityName(s.granularity.kind));
  g["axis"] = s.granularity.axis ? J(*s.granularity.axis) : J(nullptr);
  if (s.granularity.kind != GranularityKind::kPerBlock) {
    g["block_size"] = nullptr;
  } else if (s.granularity.block_is_tuple) {
    g["block_size"] = s.granularity.block_size;
  } else {
    g["block_size"] = s.granularity.block_size.empty() ? J(nullptr) : J(s.granularity.block_size[0]);
  }
  J j;
  j["dtype"] = std::string(DtypeName(s.dtype));
  j["qscheme"] = std::string(QSchemeName(s.qscheme));
  j["qformulation"] = std::string(QFormulationName(s.qformulation));
  j["granularity"] = g;
  QParamsKind q = s.EffectiveQParams(is_state);
  j["qparams"] = std::string(QParamsName(q));
  if (q == QParamsKind::kMovingAverage) j["averaging_constant"] = s.averaging_constant;
  j["float_range"] = J::array({s.float_range_min ? J(*s.float_range_min) : J(nullptr),
                               s.float_range_max ? J(*s.float_range_max) : J(nullptr)});
  j["scale_dtype"] = std::string(ScaleDtypeName(s.EffectiveScaleDtype()));
  return j;
}

const Origin* DecidingOrigin(const Plan& plan, const TensorPlan& tp) {
  if (tp.point >= 0) return &plan.points[static_cast<size_t>(tp.point)].origin;
  if (tp.reason == Reason::kDisabled) return &tp.origin;
  return nullptr;
}

}  // namespace

std::string SpecSummary(const QuantizationSpec& s, bool is_state) {
  std::string g(GranularityName(s.granularity.kind));
  if (s.granularity.kind == GranularityKind::kPerChannel) {
    g += s.granularity.axis ? fmt::format("(axis={})", *s.granularity.axis) : "(axis=?)";
  } else if (s.granularity.kind == GranularityKind::kPerBlock) {
    std::string b = s.granularity.block_is_tuple ? fmt::format("({})", fmt::join(s.granularity.block_size, ","))
                                                 : std::to_string(s.granularity.block_size.empty() ? 0 : s.granularity.block_size[0]);
    g += s.granularity.block_is_tuple ? fmt::format("(block={})", b)
                                      : fmt::format("(axis={},block={})", s.granularity.axis ? std::to_string(*s.granularity.axis) : "?", b);
  }
  std::string out = fmt::format("{} {} {} {}", DtypeName(s.dtype), QSchemeName(s.qscheme), g,
                                QParamsName(s.EffectiveQParams(is_state)));
  if (s.qformulation == QFormulation::kMinval) out += " minval";
  if (s.float_range_min || s.float_range_max) {
    out += fmt::format(" range[{},{}]", s.float_range_min ? fmt::format("{}", *s.float_range_min) : "none",
                       s.float_range_max ? fmt::format("{}", *s.float_range_max) : "none");
  }
  if (s.EffectiveScaleDtype() != ScaleDtype::kNone) out += " e8m0-scale";
  return out;
}

PlanSummary Summarize(const Plan& plan) {
  const Model& m = *plan.model;
  PlanSummary s;
  s.ops = plan.ops.size();
  for (const FakeQuantPoint& p : plan.points) (p.is_state ? s.weight_points : s.activation_points) += 1;
  std::vector<bool> weight(m.tensors().size(), false), quantized_weight(m.tensors().size(), false);
  for (const OpPlan& p : plan.ops) {
    const Op& op = m.op(p.op);
    bool quantizes = false;
    for (const TensorPlan& tp : p.tensors) {
      if (tp.point < 0) continue;
      quantizes |= tp.role == TensorRole::kState || tp.reason == Reason::kQuantized ||
                   tp.reason == Reason::kSharedObserver;
    }
    const bool reads_values = op.onnx_type != "Shape" && op.onnx_type != "Size";
    s.quantized_ops += quantizes && reads_values;
    const TensorId t = op.weight_input >= 0 ? op.input(static_cast<size_t>(op.weight_input)) : kNoTensor;
    if (t != kNoTensor && m.tensor(t).is_state() && m.tensor(t).is_float()) {
      weight[static_cast<size_t>(t)] = true;
      quantized_weight[static_cast<size_t>(t)] =
          quantized_weight[static_cast<size_t>(t)] || plan.state_points[static_cast<size_t>(t)] >= 0;
    }
  }
  s.weights = static_cast<size_t>(std::count(weight.begin(), weight.end(), true));
  s.quantized_weights = static_cast<size_t>(std::count(quantized_weight.begin(), quantized_weight.end(), true));
  return s;
}

std::string RenderPlanSummary(const PlanSummary& s) {
  return fmt::format("{} of {} ops quantized: {} of {} weights and {} activation point{} fake-quantized",
                     s.quantized_ops, s.ops, s.quantized_weights, s.weights, s.activation_points,
                     s.activation_points == 1 ? "" : "s");
}

std::string RenderPlanJson(const Plan& plan) {
  const Model& m = *plan.model;
  J ops = J::array();
  for (const OpPlan& p : plan.ops) {
    const Op& op = m.op(p.op);
    J j;
    j["name"] = op.name;
    j["type"] = op.type;
    j["module"] = m.module(op.module).name;
    j["pattern"] = p.pattern.empty() ? J(nullptr) : J(p.pattern);
    if (p.fused_into != kNoOp) j["fused_into"] = m.op(p.fused_into).name;
    j["config"] = {{"module_level", std::string(ModuleLevelName(p.module_level))},
                   {"op_level", std::string(OpLevelName(p.op_level))},
                   {"source", FileLine(p.config_origin.where).empty() ? J(nullptr) : J(FileLine(p.config_origin.where))},
                   {"rule", p.config_origin.description}};
    J tensors = J::array();
    for (const TensorPlan& tp : p.tensors) {
      J t;
      t["role"] = std::string(TensorRoleName(tp.role));
      t["key"] = tp.key.kind == TensorKey::Kind::kIndex ? J(tp.key.index) : J(tp.key.ToString());
      t["tensor"] = m.tensor(tp.tensor).name;
      t["name"] = m.KnownName(tp.tensor);
      if (tp.point >= 0) {
        const FakeQuantPoint& pt = plan.points[static_cast<size_t>(tp.point)];
        t["spec"] = SpecJson(pt.spec, pt.is_state);
      } else {
        t["spec"] = nullptr;
      }
      const Origin* o = DecidingOrigin(plan, tp);
      t["source"] = o && !FileLine(o->where).empty() ? J(FileLine(o->where)) : J(nullptr);
      t["reason"] = std::string(ReasonName(tp.reason));
      t["point"] = tp.point >= 0 ? J(tp.point) : J(nullptr);
      tensors.push_back(std::move(t));
    }
    j["tensors"] = std::move(tensors);
    ops.push_back(std::move(j));
  }
  J root;
  root["qrules_plan"] = 1;
  root["model"] = m.name();
  root["rules"] = plan.rules && !plan.rules->sources.empty() ? plan.rules->sources.front()->name() : "";
  const PlanSummary sum = Summarize(plan);
  root["summary"] = {{"ops", sum.ops},
                     {"quantized_ops", sum.quantized_ops},
                     {"fake_quant_points", plan.points.size()},
                     {"weight_points", sum.weight_points},
                     {"activation_points", sum.activation_points},
                     {"weights", sum.weights},
                     {"quantized_weights", sum.quantized_weights}};
  root["ops"] = std::move(ops);
  // Names come from the model file and need not be UTF-8: replace what is not, never throw.
  return root.dump(2, ' ', false, J::error_handler_t::replace) + "\n";
}

std::string RenderPlanText(const Plan& plan) {
  const Model& m = *plan.model;
  std::string out;
  for (const OpPlan& p : plan.ops) {
    const Op& op = m.op(p.op);
    out += fmt::format("op {} ({}) in '{}'", op.name, op.type, m.module(op.module).name);
    if (!p.pattern.empty()) out += fmt::format(" pattern {}", p.pattern);
    if (p.fused_into != kNoOp) out += fmt::format(" fused into {}", m.op(p.fused_into).name);
    out += fmt::format("\n  config: {}\n", p.config_origin.description);
    for (const TensorPlan& tp : p.tensors) {
      std::string spec = "float";
      if (tp.point >= 0) {
        const FakeQuantPoint& pt = plan.points[static_cast<size_t>(tp.point)];
        spec = SpecSummary(pt.spec, pt.is_state);
      }
      const Origin* o = DecidingOrigin(plan, tp);
      std::string src = o && !FileLine(o->where).empty() ? FileLine(o->where) : "-";
      out += fmt::format("  {:<6} {:<8} {:<28} {:<50} {} [{}]\n", TensorRoleName(tp.role), tp.key.ToString(),
                         m.NameForMessages(tp.tensor), spec, src, ReasonName(tp.reason));
    }
  }
  out += fmt::format("summary: {}; {} fake-quant points\n", RenderPlanSummary(Summarize(plan)), plan.points.size());
  return out;
}

std::string RenderScheduleTimeline(const QuantizerConfig& config) {
  std::vector<std::pair<std::string, const ModuleQuantizerConfig*>> scopes;
  if (config.global) scopes.push_back({"global", &*config.global});
  for (const auto& e : config.module_type) scopes.push_back({fmt::format("module_type \"{}\"", e.type_name), &e.config});
  for (const auto& e : config.module_name) scopes.push_back({fmt::format("module_name {}", e.selector.ToString()), &e.config});
  std::string out;
  for (const auto& [name, cfg] : scopes) {
    if (!cfg->qat_schedule) continue;
    const QATSchedule& q = *cfg->qat_schedule;
    out += fmt::format("{}: qat_schedule {{ enable_observer: {}, enable_fake_quant: {}, disable_observer: {} }}{}\n",
                       name, q.enable_observer, q.enable_fake_quant,
                       q.disable_observer ? std::to_string(*q.disable_observer) : "none",
                       q.where.valid() ? " at " + q.where.FileLine() : "");
    // The state only changes at these steps; merge neighbouring ranges in the same state.
    std::vector<int64_t> cuts{0, q.enable_observer, q.enable_fake_quant};
    if (q.disable_observer) cuts.push_back(*q.disable_observer);
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    auto state = [&](int64_t step) { return std::make_pair(q.ObserverOn(step), q.FakeQuantOn(step)); };
    for (size_t i = 0; i < cuts.size(); ++i) {
      size_t j = i;
      while (j + 1 < cuts.size() && state(cuts[j + 1]) == state(cuts[i])) ++j;
      auto [obs, fq] = state(cuts[i]);
      std::string range = j + 1 < cuts.size() ? fmt::format("steps {}-{}", cuts[i], cuts[j + 1] - 1)
                                              : fmt::format("steps {}-", cuts[i]);
      out += fmt::format("  {:<14} observer {}, fake quant {}\n", range, obs ? "on" : "off", fq ? "on" : "off");
      i = j;
    }
  }
  if (out.empty()) {
    out = "no scope has a qat_schedule: observers and fake quantization are on from the first training step\n";
  }
  out += "(outside training: calibration runs with observers on and fake quant off; evaluation with "
         "observers off and fake quant on)\n";
  return out;
}

std::string ExplainOp(const Plan& plan, OpId id) {
  const Model& m = *plan.model;
  const OpPlan& p = plan.ops[static_cast<size_t>(id)];
  const Op& op = m.op(id);
  const ModulePlan& mp = plan.modules[static_cast<size_t>(op.module)];
  std::string out = fmt::format("op '{}' ({}), innermost module '{}'\n", op.name, op.type, m.module(op.module).name);
  out += fmt::format("  module config: {} [{}]{}\n", mp.origin.description, ModuleLevelName(mp.level),
                     FileLine(mp.origin.where).empty() ? "" : " at " + FileLine(mp.origin.where));
  out += fmt::format("  op config: {} [{}]{}\n", p.config_origin.description, OpLevelName(p.op_level),
                     FileLine(p.config_origin.where).empty() ? "" : " at " + FileLine(p.config_origin.where));
  if (!p.pattern.empty()) {
    out += fmt::format("  pattern: {}", p.pattern);
    if (p.fused_into != kNoOp) out += fmt::format(" (fused into '{}')", m.op(p.fused_into).name);
    out += "\n";
  } else {
    out += "  pattern: none (not the key op of a registered pattern: op-level specs do not apply)\n";
  }
  if (!p.also_matched.empty()) {
    out += "  also matched:\n";
    for (const auto& l : p.also_matched) out += fmt::format("    {}\n", l.description);
  }
  for (const TensorPlan& tp : p.tensors) {
    out += fmt::format("  {} {} '{}': ", TensorRoleName(tp.role), tp.key.ToString(), m.tensor(tp.tensor).name);
    if (tp.point >= 0) {
      const FakeQuantPoint& pt = plan.points[static_cast<size_t>(tp.point)];
      out += fmt::format("{} (fake-quant #{})\n      decided by {}{}\n", SpecSummary(pt.spec, pt.is_state), pt.id,
                         pt.origin.description, FileLine(pt.origin.where).empty() ? "" : " at " + FileLine(pt.origin.where));
    } else {
      out += fmt::format("float [{}]", ReasonName(tp.reason));
      if (tp.reason == Reason::kDisabled) {
        out += fmt::format("\n      disabled by {}{}", tp.origin.description,
                           FileLine(tp.origin.where).empty() ? "" : " at " + FileLine(tp.origin.where));
      }
      out += "\n";
    }
    if (!tp.note.empty()) out += fmt::format("      {}\n", tp.note);
  }
  return out;
}

std::string ExplainTensor(const Plan& plan, TensorId id) {
  const Model& m = *plan.model;
  const TensorInfo& t = m.tensor(id);
  std::string out = fmt::format("tensor '{}' {} {}{}\n", t.name, t.dtype_name, t.shape.ToString(),
                                t.is_state() ? fmt::format(", state '{}' of module '{}'", t.local_name,
                                                           t.owner >= 0 ? m.module(t.owner).name : "")
                                             : "");
  if (t.producer != kNoOp) {
    for (const TensorPlan& tp : plan.ops[static_cast<size_t>(t.producer)].tensors) {
      if (tp.tensor != id) continue;
      out += fmt::format("  produced by '{}': ", m.op(t.producer).name);
      out += tp.point >= 0 ? SpecSummary(plan.points[static_cast<size_t>(tp.point)].spec, false) : "float";
      out += fmt::format(" [{}]\n", ReasonName(tp.reason));
    }
  }
  for (OpId c : t.consumers) {
    for (const TensorPlan& tp : plan.ops[static_cast<size_t>(c)].tensors) {
      if (tp.tensor != id) continue;
      out += fmt::format("  read by '{}' as {} {}: ", m.op(c).name, TensorRoleName(tp.role), tp.key.ToString());
      if (tp.point >= 0) {
        const FakeQuantPoint& pt = plan.points[static_cast<size_t>(tp.point)];
        out += fmt::format("{} (fake-quant #{}) decided by {}{}\n", SpecSummary(pt.spec, pt.is_state), pt.id,
                           pt.origin.description, FileLine(pt.origin.where).empty() ? "" : " at " + FileLine(pt.origin.where));
      } else {
        out += fmt::format("float [{}]\n", ReasonName(tp.reason));
      }
      if (!tp.note.empty()) out += fmt::format("      {}\n", tp.note);
    }
  }
  return out;
}

std::string ExplainModule(const Plan& plan, ModuleId id) {
  const Model& m = *plan.model;
  const ModulePlan& mp = plan.modules[static_cast<size_t>(id)];
  const Module& mod = m.module(id);
  std::string out = fmt::format("module '{}'{}\n", mod.name, mod.type.empty() ? "" : " (" + mod.type + ")");
  out += fmt::format("  config: {} [{}]{}\n", mp.origin.description, ModuleLevelName(mp.level),
                     FileLine(mp.origin.where).empty() ? "" : " at " + FileLine(mp.origin.where));
  if (mp.matched_at != id) out += fmt::format("  inherited from ancestor '{}'\n", m.module(mp.matched_at).name);
  for (const auto& l : mp.also_matched) out += fmt::format("  also matched: {}\n", l.description);
  out += fmt::format("  ops governed directly: {}\n", mod.ops.size());
  return out;
}

}  // namespace qrules
