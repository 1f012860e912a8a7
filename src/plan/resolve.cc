// Resolution: rule table x model -> plan.  The steps are those of plan.h (grammar/SEMANTICS.md §b), in
// order; each function below is one step.
#include <optional>
#include <algorithm>
#include <map>
#include <numeric>
#include <tuple>
#include <set>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <re2/re2.h>
#include <re2/set.h>

#include "plan/plan_internal.h"
#include "qrules/plan.h"
#include "qrules/rule_table.h"

namespace qrules {
namespace {

// One scope of the rule file: global, a module_type entry or a module_name entry.
struct Scope {
  ModuleLevel level;
  int entry;  // index in its list; -1 for global
  const ModuleQuantizerConfig* config;
  Origin origin;
};

struct PatternMatch {
  std::vector<OpId> ops;  // key op first
  ModuleLevel module_level;
  OpLevel op_level;
  OpId key;
};

std::string ScopeText(const QuantizerConfig& cfg, ModuleLevel level, int entry) {
  if (level == ModuleLevel::kGlobal) return "global";
  if (level == ModuleLevel::kType) return fmt::format("module_type \"{}\"", cfg.module_type[static_cast<size_t>(entry)].type_name);
  return fmt::format("module_name {}", cfg.module_name[static_cast<size_t>(entry)].selector.ToString());
}

std::string At(const SourceRange& r) {
  std::string fl = r.FileLine();
  return fl.empty() ? "" : " (" + fl + ")";
}

class Resolver {
 public:
  Resolver(std::shared_ptr<const CompiledRules> rules, std::shared_ptr<const Model> model,
           const ResolveOptions& options)
      : rules_(std::move(rules)), model_(std::move(model)), cfg_(rules_->config), options_(options) {
    plan_ = std::make_shared<Plan>();
    plan_->model = model_;
    plan_->rules = rules_;
    global_ = cfg_.EffectiveGlobal();
  }

  PlanResult Run() {
    BuildScopes();
    AssignModules();     // §b.1
    SelectOpConfigs();   // §b.2, §b.3
    InitTensorPlans();
    AnnotatePatterns();  // §b.4 - b.6
    ApplyModuleSpecs();  // §b.7
    ResolveAxes();       // §b.10, Part 1 #6
    CompactPoints();
    AssignSchedules();   // §d
    if (options_.lint) {
      LintAgainstModel();
      LintKeys();
    }
    CheckExpectations();
    PlanResult r;
    r.diagnostics = std::move(diags_);
    if (!HasErrors(r.diagnostics)) r.plan = std::move(plan_);
    return r;
  }

 private:
  const Model& M() const { return *model_; }

  Diagnostic& Report(DiagCode code, const SourceRange& where, std::string message) {
    DiagLocation loc = DiagLocation::From(where);
    if (loc.file.empty()) loc.file = M().name();
    diags_.push_back(MakeDiagnostic(code, std::move(loc), std::move(message)));
    return diags_.back();
  }

  // --- scopes and their op-name index ------------------------------------------------------------
  void BuildScopes() {
    scopes_.push_back({ModuleLevel::kGlobal, -1, &global_,
                       {cfg_.global ? cfg_.global->where : SourceRange{},
                        cfg_.global ? "global" : "global (absent: the default W8A8 config)"}});
    for (size_t i = 0; i < cfg_.module_type.size(); ++i) {
      scopes_.push_back({ModuleLevel::kType, static_cast<int>(i), &cfg_.module_type[i].config,
                         {cfg_.module_type[i].where, ScopeText(cfg_, ModuleLevel::kType, static_cast<int>(i))}});
    }
    for (size_t i = 0; i < cfg_.module_name.size(); ++i) {
      scopes_.push_back({ModuleLevel::kName, static_cast<int>(i), &cfg_.module_name[i].config,
                         {cfg_.module_name[i].where, ScopeText(cfg_, ModuleLevel::kName, static_cast<int>(i))}});
    }
    for (const Scope& sc : scopes_) scope_default_ops_.push_back(sc.config->DefaultOpConfig());
    table_ = RuleTable::Build(cfg_);
    if (!table_->ok()) {
      Report(DiagCode::kRegexSyntax, {}, "the name regexes are too large for RE2 to match together");
    }
  }

  int ScopeIndex(ModuleLevel level, int entry) const {
    if (level == ModuleLevel::kGlobal) return 0;
    if (level == ModuleLevel::kType) return 1 + entry;
    return 1 + static_cast<int>(cfg_.module_type.size()) + entry;
  }

  // --- §b.1: one config per module -----------------------------------------------------------------
  void AssignModules() {
    const size_t n = M().modules().size();
    plan_->modules.resize(n);
    assigned_.assign(n, false);
    // named_modules() order: preorder from the root.
    std::vector<ModuleId> stack{0};
    while (!stack.empty()) {
      ModuleId m = stack.back();
      stack.pop_back();
      preorder_.push_back(m);
      const auto& ch = M().module(m).children;
      for (auto it = ch.rbegin(); it != ch.rend(); ++it) stack.push_back(*it);
    }
    // Which module_name entries match which modules (one pass per module name).
    name_matches_.assign(cfg_.module_name.size(), {});
    type_matches_.assign(cfg_.module_type.size(), {});
    module_name_hits_.assign(n, {});
    module_type_hits_.assign(n, {});
    std::vector<int> hits;
    std::unordered_map<std::string, std::vector<int>> types;
    for (size_t e = 0; e < cfg_.module_type.size(); ++e) types[cfg_.module_type[e].type_name].push_back(static_cast<int>(e));
    for (auto it = preorder_.rbegin(); it != preorder_.rend(); ++it) {  // reversed(named_modules())
      const Module& mod = M().module(*it);
      table_->MatchModuleName(mod.name, hits, scratch_);
      for (int e : hits) name_matches_[static_cast<size_t>(e)].push_back(*it);
      module_name_hits_[static_cast<size_t>(*it)] = hits;
      if (auto t = types.find(mod.type); t != types.end() && !mod.type.empty()) {
        for (int e : t->second) type_matches_[static_cast<size_t>(e)].push_back(*it);
        module_type_hits_[static_cast<size_t>(*it)] = t->second;
      }
    }
    for (int e = static_cast<int>(cfg_.module_name.size()) - 1; e >= 0; --e) {
      for (ModuleId m : name_matches_[static_cast<size_t>(e)]) Assign(m, m, ModuleLevel::kName, e);
    }
    for (int e = static_cast<int>(cfg_.module_type.size()) - 1; e >= 0; --e) {
      for (ModuleId m : type_matches_[static_cast<size_t>(e)]) Assign(m, m, ModuleLevel::kType, e);
    }
    for (auto it = preorder_.rbegin(); it != preorder_.rend(); ++it) Assign(*it, *it, ModuleLevel::kGlobal, -1);
    // Entries that matched a module and lost.
    for (size_t m = 0; m < n; ++m) {
      ModulePlan& mp = plan_->modules[m];
      for (int e : module_name_hits_[m]) {
        if (mp.level == ModuleLevel::kName && mp.entry == e) continue;
        mp.also_matched.push_back({cfg_.module_name[static_cast<size_t>(e)].where, LossReason(mp, ModuleLevel::kName, e)});
      }
      for (int e : module_type_hits_[m]) {
        if (mp.level == ModuleLevel::kType && mp.entry == e) continue;
        mp.also_matched.push_back({cfg_.module_type[static_cast<size_t>(e)].where, LossReason(mp, ModuleLevel::kType, e)});
      }
    }
  }

  std::string LossReason(const ModulePlan& winner, ModuleLevel level, int entry) const {
    std::string who = ScopeText(cfg_, level, entry) + At(level == ModuleLevel::kName
                                                             ? cfg_.module_name[static_cast<size_t>(entry)].where
                                                             : cfg_.module_type[static_cast<size_t>(entry)].where);
    std::string by = winner.origin.description;
    if (winner.level == ModuleLevel::kName && level == ModuleLevel::kType) {
      return fmt::format("{} lost: module_name beats module_type ({} decided)", who, by);
    }
    if (winner.matched_at != winner.module) {
      return fmt::format("{} lost: {} matched ancestor '{}' and its config propagates down first (later entries win)",
                         who, by, M().module(winner.matched_at).name);
    }
    return fmt::format("{} lost: the later entry {} wins", who, by);
  }

  void Assign(ModuleId m, ModuleId matched_at, ModuleLevel level, int entry) {
    if (assigned_[static_cast<size_t>(m)]) return;
    assigned_[static_cast<size_t>(m)] = true;
    ModulePlan& mp = plan_->modules[static_cast<size_t>(m)];
    mp.module = m;
    mp.level = level;
    mp.entry = entry;
    mp.matched_at = matched_at;
    const Scope& s = scopes_[static_cast<size_t>(ScopeIndex(level, entry))];
    mp.origin = s.origin;
    if (matched_at != m) {
      mp.origin.description += fmt::format(", inherited from '{}'", M().module(matched_at).name);
    }
    for (ModuleId c : M().module(m).children) Assign(c, matched_at, level, entry);
  }

  const Scope& ScopeOf(ModuleId m) const {
    const ModulePlan& mp = plan_->modules[static_cast<size_t>(m)];
    return scopes_[static_cast<size_t>(ScopeIndex(mp.level, mp.entry))];
  }

  // --- §b.2, §b.3: the op config of each op ----------------------------------------------------------
  void SelectOpConfigs() {
    const size_t n = M().ops().size();
    plan_->ops.resize(n);
    op_configs_.resize(n);
    op_name_matches_.resize(n);
    std::vector<int> hits;
    for (size_t i = 0; i < n; ++i) {
      const Op& op = M().op(static_cast<OpId>(i));
      OpPlan& p = plan_->ops[i];
      p.op = static_cast<OpId>(i);
      p.governing_module = op.module;
      const ModulePlan& mp = plan_->modules[static_cast<size_t>(op.module)];
      p.module_level = mp.level;
      const Scope& scope = ScopeOf(op.module);
      int scope_index = ScopeIndex(mp.level, mp.entry);
      table_->MatchOpName(op.name, hits, scratch_);
      op_name_matches_[i] = hits;
      // The last matching op_name entry of the governing scope (reverse order, first match).
      int chosen = -1;
      for (int h : hits) {
        auto [s, k] = table_->op_name_entry(h);
        if (s != scope_index) continue;
        if (chosen >= 0) {
          const OpNameEntry& lost = scope.config->op_name[static_cast<size_t>(chosen)];
          p.also_matched.push_back({lost.where, fmt::format("op_name {}{} lost: a later op_name entry also matches",
                                                            lost.selector.ToString(), At(lost.where))});
        }
        chosen = k;
      }
      const OpTypeEntry* type_entry = nullptr;
      for (auto it = scope.config->op_type.rbegin(); it != scope.config->op_type.rend(); ++it) {
        if (it->op_type == op.type) {
          type_entry = &*it;
          break;
        }
      }
      if (chosen >= 0) {
        const OpNameEntry& e = scope.config->op_name[static_cast<size_t>(chosen)];
        p.op_level = OpLevel::kOpName;
        op_configs_[i] = e.config ? &*e.config : &disabled_op_;
        p.config_origin = CachedOrigin(&mp, &e, [&] {
          return Origin{e.where, fmt::format("{} > op_name {}", mp.origin.description, e.selector.ToString())};
        });
        if (type_entry) {
          p.also_matched.push_back({type_entry->where, fmt::format("op_type {}{} lost: op_name beats op_type",
                                                                   type_entry->op_type, At(type_entry->where))});
        }
      } else if (type_entry) {
        p.op_level = OpLevel::kOpType;
        op_configs_[i] = type_entry->config ? &*type_entry->config : &disabled_op_;
        p.config_origin = CachedOrigin(&mp, type_entry, [&] {
          return Origin{type_entry->where, fmt::format("{} > op_type {}", mp.origin.description, type_entry->op_type)};
        });
      } else {
        p.op_level = OpLevel::kDefault;
        op_configs_[i] = &scope_default_ops_[static_cast<size_t>(scope_index)];
        p.config_origin = mp.origin;
      }
      for (const auto& lost : mp.also_matched) p.also_matched.push_back(lost);
    }
  }

  // --- tensor plans ------------------------------------------------------------------------------
  // Distinct input tensors of an op, in argument order (duplicates collapse, §b.4), with the raw
  // index of the first occurrence.
  // The op_state key of the state at input `slot` of `op`: the parameter role that slot has in the
  // op table (Conv/Gemm/MatMul input 1 `weight`, BatchNormalization's `running_mean`, ...),
  // whatever the initializer is called, so that `op_state { weight: ... }` reaches every
  // exporter's weights.  A data slot (a constant `other` of an add) or an op outside the table
  // falls back to the tensor's local name.
  std::string StateKey(const Op& op, size_t slot) const {
    std::string_view role = M().StateRole(op, slot);
    if (!role.empty()) return std::string(role);
    const TensorInfo& ti = M().tensor(op.inputs[slot]);
    return ti.local_name.empty() ? ti.name : ti.local_name;
  }

  std::vector<std::pair<TensorId, size_t>> DistinctInputs(const Op& op) const {
    std::vector<std::pair<TensorId, size_t>> out;
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      TensorId t = op.inputs[i];
      if (t == kNoTensor) continue;
      if (std::none_of(out.begin(), out.end(), [&](const auto& p) { return p.first == t; })) out.push_back({t, i});
    }
    return out;
  }

  // Activations are the float tensors whose values depend on the model's inputs.  ONNX exports
  // also carry float tensors computed from constants and shapes only (a Resize's scales built by
  // Shape -> ... -> Concat, a Pad value): in the PyTorch program those are Python numbers, never
  // observed or fake-quantized, and quantizing a resize scale would change the output's shape.
  void FindValueDependentTensors() { value_dependent_ = M().idioms().value_dependent; }

  // A piece of a decomposed LayerNorm / GroupNorm / InstanceNorm module (ExportIdioms).
  bool InsideUnregisteredModuleOp(const Op& op) const {
    return M().idioms().inside_single_op_module[static_cast<size_t>(IdOf(op))];
  }
  OpId IdOf(const Op& op) const { return static_cast<OpId>(&op - M().ops().data()); }

  bool IsActivation(TensorId t) const { return M().tensor(t).is_float() && value_dependent_[static_cast<size_t>(t)]; }

  static bool IsNeverQuantizedReason(Reason r) { return r == Reason::kNotFloat || r == Reason::kConstant; }

  // Why a non-state tensor can never carry a fake-quant, or nullopt.
  std::optional<Reason> NeverQuantized(TensorId t) const {
    if (!M().tensor(t).is_float()) return Reason::kNotFloat;
    if (!value_dependent_[static_cast<size_t>(t)]) return Reason::kConstant;
    return std::nullopt;
  }

  void InitTensorPlans() {
    FindValueDependentTensors();
    const size_t n = M().ops().size();
    plan_->input_points.resize(n);
    plan_->output_points.resize(n);
    plan_->state_points.assign(M().tensors().size(), -1);
    out_point_.assign(M().tensors().size(), -1);
    state_decided_.assign(M().tensors().size(), false);
    registered_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const Op& op = M().op(static_cast<OpId>(i));
      plan_->input_points[i].assign(op.inputs.size(), Plan::kInheritPoint);
      plan_->output_points[i].assign(op.outputs.size(), -1);
      const OpTypeInfo* info = FindOpTypeCached(op.type);
      registered_[i] = info && info->is_pattern_key() && !InsideUnregisteredModuleOp(op);
      OpPlan& p = plan_->ops[i];
      auto inputs = DistinctInputs(op);
      for (size_t k = 0; k < inputs.size(); ++k) {
        TensorId t = inputs[k].first;
        const TensorInfo& ti = M().tensor(t);
        TensorPlan tp;
        tp.tensor = t;
        const Reason open = registered_[i] ? Reason::kNoRule : Reason::kNotRegistered;
        if (ti.is_state()) {
          tp.role = TensorRole::kState;
          tp.key = TensorKey::Name(StateKey(op, inputs[k].second));
          tp.reason = !ti.is_float() ? Reason::kNotFloat : open;
        } else {
          tp.role = TensorRole::kInput;
          tp.key = TensorKey::Index(static_cast<int64_t>(k));
          tp.reason = NeverQuantized(t).value_or(open);
        }
        p.tensors.push_back(std::move(tp));
      }
      for (size_t k = 0; k < op.outputs.size(); ++k) {
        TensorPlan tp;
        tp.role = TensorRole::kOutput;
        tp.key = TensorKey::Index(static_cast<int64_t>(k));
        tp.tensor = op.outputs[k];
        tp.reason = NeverQuantized(tp.tensor).value_or(registered_[i] ? Reason::kNoRule : Reason::kNotRegistered);
        p.tensors.push_back(std::move(tp));
      }
    }
  }

  const OpTypeInfo* FindOpTypeCached(const std::string& type) {
    auto [it, inserted] = type_cache_.emplace(type, nullptr);
    if (inserted) it->second = FindOpType(type);
    return it->second;
  }

  TensorPlan* FindTensorPlan(OpId op, TensorRole role, TensorId t) {
    for (auto& tp : plan_->ops[static_cast<size_t>(op)].tensors) {
      if (tp.role == role && tp.tensor == t) return &tp;
    }
    return nullptr;
  }

  int NewPoint(TensorId t, bool is_state, const QuantizationSpec& spec, Origin origin) {
    FakeQuantPoint p;
    p.id = static_cast<int>(plan_->points.size());
    p.tensor = t;
    p.is_state = is_state;
    p.spec = spec;
    p.origin = std::move(origin);
    plan_->points.push_back(std::move(p));
    return plan_->points.back().id;
  }

  // Looks a tensor up in a map: explicit keys first (index, then name), then `*` (§b.4).
  static const TensorSpecEntry* Lookup(const TensorSpecMap& map, std::initializer_list<TensorKey> ids) {
    for (const TensorKey& k : ids) {
      if (k.kind == TensorKey::Kind::kName && k.name.empty()) continue;
      if (const TensorSpecEntry* e = map.Find(k)) return e;
    }
    return map.Find(TensorKey::All());
  }

  template <typename Make>
  const Origin& CachedOrigin(const void* a, const void* b, Make make, const void* c = nullptr, std::string_view d = {}) {
    auto key = std::make_tuple(a, b, c, d);
    auto it = origin_cache_.find(key);
    if (it == origin_cache_.end()) it = origin_cache_.emplace(key, make()).first;
    return it->second;
  }

  const Origin& EntryOrigin(const OpPlan& p, std::string_view group, const TensorSpecEntry& e) {
    return CachedOrigin(&plan_->modules[static_cast<size_t>(p.governing_module)], &e, [&] {
      return Origin{e.where.valid() ? e.where : p.config_origin.where,
                    fmt::format("{} > {}[{}]", p.config_origin.description, group, e.key.ToString())};
    }, op_configs_[static_cast<size_t>(p.op)], group);
  }

  // --- §b.5, §b.6: patterns, fusion, annotation order, edge sharing ----------------------------------
  bool IsGraphOutput(TensorId t) const { return M().IsGraphOutput(t); }
  OpId SoleConsumer(const Op& op) const { return M().SoleConsumer(op); }
  // The export idioms the importer recognised (ExportIdioms): a MatMul linear's bias Add, and the
  // one-activation chains (erf-GELU, SiLU, Hardswish) reading an op's output.
  OpId BiasAddAfter(const Op& op) const { return M().idioms().bias_add[static_cast<size_t>(IdOf(op))]; }
  const std::vector<std::vector<OpId>>& ChainsAfter(const Op& op) const {
    return M().idioms().activation_chains[static_cast<size_t>(IdOf(op))];
  }

  void AnnotatePatterns() {
    std::vector<PatternMatch> matches;
    std::vector<size_t> topo(M().ops().size());
    for (size_t i = 0; i < M().ops().size(); ++i) {
      if (!registered_[i]) continue;
      const Op& op = M().op(static_cast<OpId>(i));
      const OpTypeInfo* info = FindOpTypeCached(op.type);
      std::string_view fam = info->pattern;
      const OpPlan& p = plan_->ops[i];
      auto add = [&](std::vector<OpId> ops) {
        matches.push_back({std::move(ops), p.module_level, p.op_level, static_cast<OpId>(i)});
      };
      bool weighted = fam == "conv" || fam == "conv_transpose" || fam == "linear";
      bool act_tail = weighted || fam == "matmul" || fam == "add" || fam == "mul";
      // The op itself, with a MatMul linear's bias Add.
      std::vector<OpId> head = {static_cast<OpId>(i)};
      if (fam == "linear") {
        if (const OpId bias = BiasAddAfter(op); bias != kNoOp) head.push_back(bias);
      }
      auto with = [&](std::initializer_list<std::vector<OpId>> tails) {
        std::vector<OpId> ops = head;
        for (const auto& t : tails) ops.insert(ops.end(), t.begin(), t.end());
        return ops;
      };
      const Op& last = M().op(head.back());
      OpId next = SoleConsumer(last);
      const OpTypeInfo* next_info = next != kNoOp ? FindOpTypeCached(M().op(next).type) : nullptr;
      if (weighted && next_info && next_info->batch_norm) {
        OpId after = SoleConsumer(M().op(next));
        const OpTypeInfo* after_info = after != kNoOp ? FindOpTypeCached(M().op(after).type) : nullptr;
        if (after_info && after_info->activation) add(with({{next, after}}));
        for (const std::vector<OpId>& chain : ChainsAfter(M().op(next))) add(with({{next}, chain}));
        add(with({{next}}));
      }
      if (act_tail && next_info && next_info->activation) add(with({{next}}));
      if (act_tail) {
        for (const std::vector<OpId>& chain : ChainsAfter(last)) add(with({chain}));
      }
      add(head);
    }
    std::stable_sort(matches.begin(), matches.end(), [](const PatternMatch& a, const PatternMatch& b) {
      return std::make_tuple(static_cast<int>(a.module_level), static_cast<int>(a.op_level), -static_cast<int>(a.ops.size()), a.key) <
             std::make_tuple(static_cast<int>(b.module_level), static_cast<int>(b.op_level), -static_cast<int>(b.ops.size()), b.key);
    });
    annotated_.assign(M().ops().size(), false);
    for (const PatternMatch& m : matches) {
      if (std::any_of(m.ops.begin(), m.ops.end(), [&](OpId o) { return annotated_[static_cast<size_t>(o)]; })) continue;
      for (OpId o : m.ops) annotated_[static_cast<size_t>(o)] = true;
      AnnotateMatch(m);
    }
  }

  static std::string PatternName(std::string_view fam, const std::vector<OpId>& ops, const Model& model) {
    // Inner ops come from AnnotatePatterns: batch_norm, an activation, a MatMul linear's bias Add
    // (part of the linear: no suffix), an erf-GELU chain (one activation, named by its Div) or a
    // SiLU / Hardswish chain (named by its Sigmoid / HardSigmoid).
    std::string name(fam);
    for (size_t i = 1; i < ops.size(); ++i) {
      const Op& op = model.op(ops[i]);
      const OpTypeInfo* info = FindOpType(op.type);
      if (info && info->batch_norm) {
        name += "_bn";
      } else if ((info && info->activation) || op.type == "div") {
        name += "_act";
      }
    }
    return name;
  }

  void AnnotateMatch(const PatternMatch& m) {
    const OpId key = m.key;
    const Op& op = M().op(key);
    OpPlan& p = plan_->ops[static_cast<size_t>(key)];
    const OpTypeInfo* info = FindOpTypeCached(op.type);
    p.pattern = PatternName(info->pattern, m.ops, M());
    const OpQuantizerConfig& c = *op_configs_[static_cast<size_t>(key)];
    const TensorSpecMap& in_map = c.op_input ? *c.op_input : default_activation_map_;
    const TensorSpecMap& out_map = c.op_output ? *c.op_output : default_activation_map_;
    const TensorSpecMap& state_map = c.op_state ? *c.op_state : default_weight_map_;
    for (size_t i = 1; i < m.ops.size(); ++i) {
      p.fused.push_back(m.ops[i]);
      OpPlan& inner = plan_->ops[static_cast<size_t>(m.ops[i])];
      inner.fused_into = key;
      inner.pattern = p.pattern;
      for (auto& tp : inner.tensors) {
        if (IsNeverQuantizedReason(tp.reason)) continue;
        tp.reason = Reason::kInsidePattern;
        tp.note = fmt::format("inside pattern {} of '{}'", p.pattern, op.name);
      }
    }
    // The tensors between fused ops are never quantized.
    for (size_t i = 0; i + 1 < m.ops.size(); ++i) {
      for (auto& tp : plan_->ops[static_cast<size_t>(m.ops[i])].tensors) {
        if (tp.role == TensorRole::kOutput && !IsNeverQuantizedReason(tp.reason)) {
          tp.reason = Reason::kInsidePattern;
          tp.note = fmt::format("inside pattern {}", p.pattern);
        }
      }
    }
    // Inputs and states of the key op.
    auto inputs = DistinctInputs(op);
    int shared_point = -1;
    bool first_activation = true;
    for (size_t k = 0; k < inputs.size(); ++k) {
      auto [t, raw] = inputs[k];
      const TensorInfo& ti = M().tensor(t);
      TensorPlan* tp = FindTensorPlan(key, ti.is_state() ? TensorRole::kState : TensorRole::kInput, t);
      if (ti.is_state()) {
        const TensorSpecEntry* explicit_index = in_map.Find(TensorKey::Index(static_cast<int64_t>(k)));
        if (explicit_index) {
          Report(DiagCode::kStateInputIndex, explicit_index->where,
                 fmt::format("op_input index {} of op '{}' is the state tensor '{}'; configure it with op_state [{}]",
                             k, op.name, ti.name, ti.local_name));
        }
        AnnotateState(key, t, *tp, Lookup(state_map, {TensorKey::Name(StateKey(op, raw)), TensorKey::Name(ti.local_name)}),
                      p, state_map.empty());
        continue;
      }
      if (!IsActivation(t)) continue;
      const TensorSpecEntry* e =
          Lookup(in_map, {TensorKey::Index(static_cast<int64_t>(k)), TensorKey::Name(std::string(M().InputName(op, raw)))});
      if (info->shared_observer && !first_activation) {
        // Later inputs of a shared-observer op (cat) share the first input's fake-quant.
        if (shared_point >= 0) {
          SetInputPoint(key, t, shared_point);
          tp->point = shared_point;
          tp->reason = Reason::kSharedObserver;
          tp->note = "shares the fake-quant of the first input";
        }
        continue;
      }
      first_activation = false;
      int producer_point = out_point_[static_cast<size_t>(t)];
      if (producer_point >= 0) {
        tp->point = producer_point;
        tp->reason = Reason::kSharedEdge;
        tp->note = "the producer's output fake-quant is on this edge";
        shared_point = producer_point;
      } else if (e && e->spec) {
        int pt = NewPoint(t, false, *e->spec, EntryOrigin(p, "op_input", *e));
        SetInputPoint(key, t, pt);
        tp->point = pt;
        tp->reason = Reason::kQuantized;
        tp->origin = plan_->points[static_cast<size_t>(pt)].origin;
        shared_point = pt;
      } else {
        tp->reason = e || in_map.empty() ? Reason::kDisabled : Reason::kNoRule;
        tp->origin = e ? EntryOrigin(p, "op_input", *e) : Origin{p.config_origin.where, p.config_origin.description + " > op_input: none"};
      }
    }
    // A MatMul linear's absorbed bias Add: its rank-1 state is the linear's `bias` (op_state),
    // as the third input of a Gemm linear is.
    if (m.ops.size() > 1 && info->pattern == "linear" && BiasAddAfter(op) == m.ops[1]) {
      const OpId bias_add = m.ops[1];
      for (TensorId t : M().op(bias_add).inputs) {
        if (t == kNoTensor || !M().tensor(t).is_state()) continue;
        TensorPlan* tp = FindTensorPlan(bias_add, TensorRole::kState, t);
        if (!tp) continue;
        tp->note = fmt::format("the bias of linear '{}'", op.name);
        AnnotateState(bias_add, t, *tp, Lookup(state_map, {TensorKey::Name("bias")}), p, state_map.empty());
      }
    }
    // Output of the last op of the pattern.
    const OpId last = m.ops.back();
    const Op& last_op = M().op(last);
    if (last_op.outputs.empty()) return;
    TensorId out = last_op.outputs[0];
    TensorPlan* otp = FindTensorPlan(last, TensorRole::kOutput, out);
    if (!IsActivation(out)) return;
    if (info->shared_observer && shared_point >= 0) {
      if (int adopted = ConsumerPointOn(out); adopted >= 0 && adopted != shared_point) {
        // A consumer annotated earlier already put its fake-quant on this edge (§b.6).
        SetOutputPoint(last, out, adopted, /*adopt=*/true);
        otp->point = adopted;
        otp->reason = Reason::kSharedEdge;
        otp->note = "adopts the fake-quant a consumer already put on this edge";
        return;
      }
      SetOutputPoint(last, out, shared_point, /*adopt=*/false);
      otp->point = shared_point;
      otp->reason = Reason::kSharedObserver;
      otp->note = "shares the input's fake-quant (shared observer)";
      if (info->channel_altering) ForcePerTensor(shared_point);
      PushThroughSharedObservers(last, out, shared_point);
      return;
    }
    const TensorSpecEntry* e = Lookup(out_map, {TensorKey::Index(0), TensorKey::Name("output")});
    if (!e || !e->spec) {
      otp->reason = e || out_map.empty() ? Reason::kDisabled : Reason::kNoRule;
      otp->origin = e ? EntryOrigin(p, "op_output", *e) : Origin{p.config_origin.where, p.config_origin.description + " > op_output: none"};
      return;
    }
    // Adopt a fake-quant that a consumer already put on this edge (§b.6).
    int adopted = ConsumerPointOn(out);
    if (adopted >= 0) {
      SetOutputPoint(last, out, adopted, /*adopt=*/true);
      otp->point = adopted;
      otp->reason = Reason::kSharedEdge;
      otp->note = "adopts the fake-quant a consumer already put on this edge";
    } else {
      int pt = NewPoint(out, false, *e->spec, EntryOrigin(p, "op_output", *e));
      SetOutputPoint(last, out, pt, false);
      otp->point = pt;
      otp->reason = Reason::kQuantized;
      otp->origin = plan_->points[static_cast<size_t>(pt)].origin;
      PushThroughSharedObservers(last, out, pt);
    }
  }

  // The first fake-quant a consumer put on its end of the edge from `t`, or -1.
  int ConsumerPointOn(TensorId t) const {
    for (OpId consumer : M().tensor(t).consumers) {
      for (size_t r = 0; r < M().op(consumer).inputs.size(); ++r) {
        int pt = plan_->input_points[static_cast<size_t>(consumer)][r];
        if (M().op(consumer).inputs[r] == t && pt >= 0) return pt;
      }
    }
    return -1;
  }

  // §b.6: an annotated producer pushes its output fake-quant forward through chains of
  // not-yet-annotated shared-observer ops (maxpool, flatten, ...), whose outputs then share it.
  void PushThroughSharedObservers(OpId producer, TensorId t, int point) {
    (void)producer;
    for (OpId c : M().tensor(t).consumers) {
      if (annotated_[static_cast<size_t>(c)] || !registered_[static_cast<size_t>(c)]) continue;
      const Op& op = M().op(c);
      const OpTypeInfo* info = FindOpTypeCached(op.type);
      if (!info->shared_observer || op.outputs.empty() || op.inputs.empty() || op.inputs[0] != t) continue;
      TensorId out = op.outputs[0];
      if (!IsActivation(out) || out_point_[static_cast<size_t>(out)] >= 0 || ConsumerPointOn(out) >= 0) continue;
      SetOutputPoint(c, out, point, /*adopt=*/false);
      if (info->channel_altering) ForcePerTensor(point);
      PushThroughSharedObservers(c, out, point);
    }
  }

  void AnnotateState(OpId consumer, TensorId t, TensorPlan& tp, const TensorSpecEntry* e, const OpPlan& p,
                     bool state_map_empty) {
    const TensorInfo& ti = M().tensor(t);
    if (!ti.is_float()) return;
    if (state_decided_[static_cast<size_t>(t)]) {
      int pt = plan_->state_points[static_cast<size_t>(t)];
      tp.point = pt;
      tp.reason = pt >= 0 ? Reason::kSharedEdge : Reason::kDisabled;
      tp.note = "a state has one fake-quant; an earlier consumer decided it";
      return;
    }
    state_decided_[static_cast<size_t>(t)] = true;
    (void)consumer;
    if (e && e->spec) {
      int pt = NewPoint(t, true, *e->spec, EntryOrigin(p, "op_state", *e));
      plan_->state_points[static_cast<size_t>(t)] = pt;
      tp.point = pt;
      tp.reason = Reason::kQuantized;
      tp.origin = plan_->points[static_cast<size_t>(pt)].origin;
    } else {
      tp.reason = e || state_map_empty ? Reason::kDisabled : Reason::kNoRule;
      tp.origin = e ? EntryOrigin(p, "op_state", *e) : Origin{p.config_origin.where, p.config_origin.description + " > op_state: none"};
    }
  }

  void SetInputPoint(OpId op, TensorId t, int point) {
    const Op& o = M().op(op);
    for (size_t r = 0; r < o.inputs.size(); ++r) {
      if (o.inputs[r] == t) plan_->input_points[static_cast<size_t>(op)][r] = point;
    }
  }

  void SetOutputPoint(OpId op, TensorId t, int point, bool adopt) {
    const Op& o = M().op(op);
    for (size_t r = 0; r < o.outputs.size(); ++r) {
      if (o.outputs[r] == t) plan_->output_points[static_cast<size_t>(op)][r] = point;
    }
    out_point_[static_cast<size_t>(t)] = point;
    if (adopt) {
      // Consumers that carried the adopted point now read the producer's quantized value.
      for (OpId c : M().tensor(t).consumers) {
        auto& slots = plan_->input_points[static_cast<size_t>(c)];
        for (size_t r = 0; r < slots.size(); ++r) {
          if (M().op(c).inputs[r] == t && slots[r] == point) slots[r] = Plan::kInheritPoint;
        }
      }
    }
    // Reporting: consumers that inherit now see a shared edge.
    for (OpId c : M().tensor(t).consumers) {
      TensorPlan* ctp = FindTensorPlan(c, TensorRole::kInput, t);
      if (ctp && ctp->point < 0 && !IsNeverQuantizedReason(ctp->reason)) {
        ctp->point = point;
        if (ctp->reason != Reason::kInsidePattern) {
          ctp->reason = Reason::kSharedEdge;
          ctp->note = fmt::format("the producer '{}' quantizes this edge", M().op(op).name);
        }
      }
    }
  }

  void ForcePerTensor(int point) {
    QuantizationSpec& s = plan_->points[static_cast<size_t>(point)].spec;
    if (s.granularity.kind != GranularityKind::kPerTensor) {
      s.granularity = Granularity{};
      plan_->points[static_cast<size_t>(point)].origin.description += " (per_tensor: shared across a channel-altering op)";
    }
  }

  // --- §b.7: module-level specs ------------------------------------------------------------------
  bool InSubtree(const Op& op, ModuleId m) const {
    return std::find(op.module_stack.begin(), op.module_stack.end(), m) != op.module_stack.end();
  }

  void ApplyModuleSpecs() {
    for (ModuleId m : preorder_) {  // outer first, so inner modules overwrite (Part 1 #4)
      const ModulePlan& mp = plan_->modules[static_cast<size_t>(m)];
      if (mp.matched_at != m || mp.level == ModuleLevel::kGlobal) continue;
      const ModuleQuantizerConfig& c = *ScopeOf(m).config;
      if (c.module_input.empty() && c.module_output.empty() && c.module_state.empty()) continue;
      std::string scope = mp.origin.description;
      std::vector<OpId> ops;
      for (OpId o = 0; o < static_cast<OpId>(M().ops().size()); ++o) {
        if (InSubtree(M().op(o), m)) ops.push_back(o);
      }
      std::vector<bool> inside(M().ops().size(), false);
      for (OpId o : ops) inside[static_cast<size_t>(o)] = true;
      if (!c.module_input.empty()) {
        int64_t index = 0;
        for (OpId o : ops) {
          for (auto [t, raw] : DistinctInputs(M().op(o))) {
            const TensorInfo& ti = M().tensor(t);
            if (ti.is_state() || (ti.producer != kNoOp && inside[static_cast<size_t>(ti.producer)])) continue;
            const TensorSpecEntry* e = Lookup(c.module_input, {TensorKey::Index(index++)});
            if (!e || !IsActivation(t)) continue;
            Origin origin{e->where, fmt::format("{} > module_input[{}]", scope, e->key.ToString())};
            TensorPlan* tp = FindTensorPlan(o, TensorRole::kInput, t);
            int pt = e->spec ? NewPoint(t, false, *e->spec, origin) : -1;
            SetInputPoint(o, t, pt);
            tp->point = pt;
            tp->reason = e->spec ? Reason::kQuantized : Reason::kDisabled;
            tp->origin = origin;
            tp->note = "module-level spec overrides the op-level decision";
          }
        }
      }
      if (!c.module_output.empty()) {
        int64_t index = 0;
        for (OpId o : ops) {
          const Op& op = M().op(o);
          for (TensorId t : op.outputs) {
            const TensorInfo& ti = M().tensor(t);
            bool leaves = IsGraphOutput(t);
            for (OpId c2 : ti.consumers) leaves = leaves || !inside[static_cast<size_t>(c2)];
            if (!leaves) continue;
            const TensorSpecEntry* e = Lookup(c.module_output, {TensorKey::Index(index++)});
            if (!e || !IsActivation(t)) continue;
            Origin origin{e->where, fmt::format("{} > module_output[{}]", scope, e->key.ToString())};
            int pt = e->spec ? NewPoint(t, false, *e->spec, origin) : -1;
            for (size_t r = 0; r < op.outputs.size(); ++r) {
              if (op.outputs[r] == t) plan_->output_points[static_cast<size_t>(o)][r] = pt;
            }
            out_point_[static_cast<size_t>(t)] = pt;
            TensorPlan* tp = FindTensorPlan(o, TensorRole::kOutput, t);
            tp->point = pt;
            tp->reason = e->spec ? Reason::kQuantized : Reason::kDisabled;
            tp->origin = origin;
            tp->note = "module-level spec overrides the op-level decision";
            for (OpId c2 : ti.consumers) {
              TensorPlan* ctp = FindTensorPlan(c2, TensorRole::kInput, t);
              bool inherits = false;
              for (size_t r = 0; r < M().op(c2).inputs.size(); ++r) {
                if (M().op(c2).inputs[r] == t && plan_->input_points[static_cast<size_t>(c2)][r] == Plan::kInheritPoint) inherits = true;
              }
              if (ctp && inherits) {
                ctp->point = pt;
                ctp->reason = pt >= 0 ? Reason::kSharedEdge : ctp->reason;
              }
            }
          }
        }
      }
      if (!c.module_state.empty()) {
        for (TensorId t : M().module(m).states) {
          const TensorInfo& ti = M().tensor(t);
          const TensorSpecEntry* e = Lookup(c.module_state, {TensorKey::Name(ti.local_name)});
          if (!e || !ti.is_float()) continue;
          Origin origin{e->where, fmt::format("{} > module_state[{}]", scope, e->key.ToString())};
          int pt = e->spec ? NewPoint(t, true, *e->spec, origin) : -1;
          plan_->state_points[static_cast<size_t>(t)] = pt;
          state_decided_[static_cast<size_t>(t)] = true;
          for (OpId c2 : ti.consumers) {
            if (TensorPlan* tp = FindTensorPlan(c2, TensorRole::kState, t)) {
              tp->point = pt;
              tp->reason = e->spec ? Reason::kQuantized : Reason::kDisabled;
              tp->origin = origin;
              tp->note = "module_state overrides op_state";
            }
          }
        }
      }
    }
  }

  // --- §b.10 and Part 1 #6: axes and block sizes ---------------------------------------------------
  void DropPoint(int id, Reason reason, const std::string& note) {
    dropped_.insert(id);
    for (auto& p : plan_->ops) {
      for (auto& tp : p.tensors) {
        if (tp.point == id) {
          tp.point = -1;
          tp.reason = reason;
          tp.note = note;
        }
      }
    }
    for (auto& v : plan_->input_points) for (int& x : v) if (x == id) x = -1;
    for (auto& v : plan_->output_points) for (int& x : v) if (x == id) x = -1;
    for (int& x : plan_->state_points) if (x == id) x = -1;
    for (int& x : out_point_) if (x == id) x = -1;
  }

  void ResolveAxes() {
    for (auto& pt : plan_->points) {
      if (dropped_.count(pt.id)) continue;
      Granularity& g = pt.spec.granularity;
      const TensorInfo& ti = M().tensor(pt.tensor);
      bool needs_axis = (g.kind == GranularityKind::kPerChannel && !g.axis) ||
                        (g.kind == GranularityKind::kPerBlock && !g.block_is_tuple && !g.axis);
      if (needs_axis) {
        if (!pt.is_state) {
          Report(DiagCode::kUnresolvedAxis, pt.spec.where.valid() ? pt.spec.where : pt.origin.where,
                 fmt::format("activation '{}' uses {} with no axis; only weights get a default axis",
                             ti.name, GranularityName(g.kind)));
          DropPoint(pt.id, Reason::kAxisError, "axis unresolved");
          continue;
        }
        std::set<int> axes;
        std::vector<std::string> users;
        for (OpId c : ti.consumers) {
          auto a = DefaultWeightAxis(M().op(c), g.kind == GranularityKind::kPerChannel ? WeightAxisUse::kPerChannel
                                                                                       : WeightAxisUse::kPerBlock);
          if (a) {
            axes.insert(*a);
            users.push_back(fmt::format("'{}' ({}) axis {}", M().op(c).name, M().op(c).type, *a));
          }
        }
        if (axes.empty()) {
          Report(DiagCode::kUnresolvedAxis, pt.origin.where,
                 fmt::format("weight '{}' uses {} with no axis, and none of its consumers has a default axis",
                             ti.name, GranularityName(g.kind)));
          DropPoint(pt.id, Reason::kAxisError, "axis unresolved");
          continue;
        }
        if (axes.size() > 1) {
          Diagnostic& d = Report(DiagCode::kConflictingAxis, pt.origin.where,
                                 fmt::format("consumers of shared weight '{}' imply different default axes", ti.name));
          for (const auto& u : users) d.notes.push_back({DiagLocation::From(pt.origin.where), u});
          DropPoint(pt.id, Reason::kAxisError, "conflicting default axes");
          continue;
        }
        g.axis = *axes.begin();
      }
      if (pt.is_state && !needs_axis && g.axis && !g.block_is_tuple) MapTorchAxis(pt);
      if (!ti.shape.known || g.kind == GranularityKind::kPerTensor) continue;
      const int64_t rank = static_cast<int64_t>(ti.shape.rank());
      if (g.kind == GranularityKind::kPerChannel) {
        if (*g.axis < -rank || *g.axis >= rank) {
          Report(DiagCode::kUnresolvedAxis, pt.origin.where,
                 fmt::format("axis {} is out of bounds for '{}' of rank {}; allowed axis range is [{}, {})", *g.axis,
                             ti.name, rank, -rank, rank));
          DropPoint(pt.id, Reason::kAxisError, "axis out of range");
        }
        continue;
      }
      // per_block
      std::vector<int64_t> block(static_cast<size_t>(rank), -1);
      if (g.block_is_tuple) {
        if (static_cast<int64_t>(g.block_size.size()) != rank) {
          Report(DiagCode::kUnresolvedAxis, pt.origin.where,
                 fmt::format("block_size has {} entries but '{}' has rank {}", g.block_size.size(), ti.name, rank));
          DropPoint(pt.id, Reason::kAxisError, "block tuple rank mismatch");
          continue;
        }
        block = g.block_size;
      } else {
        if (*g.axis >= rank || rank < 2) {
          Report(DiagCode::kUnresolvedAxis, pt.origin.where,
                 fmt::format("per_block axis {} needs a tensor of rank >= 2 with that axis; '{}' has rank {}", *g.axis,
                             ti.name, rank));
          DropPoint(pt.id, Reason::kAxisError, "per_block axis out of range");
          continue;
        }
        block[static_cast<size_t>(*g.axis)] = g.block_size[0];
      }
      for (int64_t d = 0; d < rank; ++d) {
        int64_t b = block[static_cast<size_t>(d)];
        int64_t size = ti.shape.dims[static_cast<size_t>(d)].size;
        if (b <= 0 || size < 0) continue;
        if (size % b != 0) {
          Report(DiagCode::kBlockSizeMismatch, pt.origin.where,
                 fmt::format("block size {} does not divide dimension {} (size {}) of '{}'; it stays float", b, d,
                             size, ti.name));
          DropPoint(pt.id, Reason::kBlockSizeMismatch,
                    fmt::format("block size {} does not divide dim {} of size {}", b, d, size));
          break;
        }
      }
    }
  }

  // Rules name weight axes in the torch layout ([out, in, ...]).  Where an export stores a weight
  // transposed (MatMul with an [in, out] initializer), an explicit axis is moved to the axis that
  // holds the same channels as stored.
  void MapTorchAxis(FakeQuantPoint& pt) {
    const TensorInfo& ti = M().tensor(pt.tensor);
    for (OpId c : ti.consumers) {
      const Op& op = M().op(c);
      if (op.weight_input < 0 || op.input(static_cast<size_t>(op.weight_input)) != pt.tensor) continue;
      if (op.weight_output_axis < 0 && op.weight_input_axis < 0) continue;
      // The torch layout's output/input channel axes are the §b.10 defaults of the op type
      // (linear, conv: 0/1; conv_transpose: 1/0); the IR says where they are as stored.
      const OpTypeInfo* info = FindOpTypeCached(op.type);
      if (!info) return;
      int64_t a = *pt.spec.granularity.axis;
      if (a < 0 && ti.shape.known) a += static_cast<int64_t>(ti.shape.rank());
      int64_t stored = a == info->per_channel_axis && op.weight_output_axis >= 0 ? op.weight_output_axis
                       : a == info->per_block_axis && op.weight_input_axis >= 0  ? op.weight_input_axis
                                                                                  : a;
      if (stored != *pt.spec.granularity.axis) {
        pt.origin.description += fmt::format(" (torch axis {} is axis {} as stored)", a, stored);
        pt.spec.granularity.axis = stored;
      }
      return;
    }
  }

  // Removes the points dropped by ResolveAxes and renumbers the others.
  void CompactPoints() {
    if (dropped_.empty()) return;
    std::vector<int> remap(plan_->points.size(), -1);
    std::vector<FakeQuantPoint> kept;
    for (auto& p : plan_->points) {
      if (dropped_.count(p.id)) continue;
      remap[static_cast<size_t>(p.id)] = static_cast<int>(kept.size());
      p.id = static_cast<int>(kept.size());
      kept.push_back(std::move(p));
    }
    plan_->points = std::move(kept);
    auto fix = [&](int& x) { if (x >= 0) x = remap[static_cast<size_t>(x)]; };
    for (auto& op : plan_->ops) for (auto& tp : op.tensors) fix(tp.point);
    for (auto& v : plan_->input_points) for (int& x : v) fix(x);
    for (auto& v : plan_->output_points) for (int& x : v) fix(x);
    for (int& x : plan_->state_points) fix(x);
    dropped_.clear();
  }

  // --- §d: the schedule of each fake-quant ----------------------------------------------------------
  void AssignSchedules() {
    for (auto& pt : plan_->points) {
      const TensorInfo& ti = M().tensor(pt.tensor);
      ModuleId m = !ti.consumers.empty() ? M().op(ti.consumers[0]).module
                   : ti.producer != kNoOp ? M().op(ti.producer).module
                                          : 0;
      pt.schedule_module = m;
      pt.qat_schedule = ScopeOf(m).config->qat_schedule;
    }
  }

  // --- model-aware lints and expectations -------------------------------------------------------------
  // Ops governed by scope s (by scope index).
  bool Governs(int scope_index, OpId o) const {
    const ModulePlan& mp = plan_->modules[static_cast<size_t>(M().op(o).module)];
    return ScopeIndex(mp.level, mp.entry) == scope_index;
  }

  bool DecidesSomething(OpId o) const {
    return registered_[static_cast<size_t>(o)] && plan_->ops[static_cast<size_t>(o)].fused_into == kNoOp;
  }

  void LintAgainstModel() {
    std::vector<std::string_view> module_names, op_names;
    for (const Module& m : M().modules()) module_names.push_back(m.name);
    for (const Op& o : M().ops()) op_names.push_back(o.name);
    for (size_t e = 0; e < cfg_.module_name.size(); ++e) {
      const ModuleNameEntry& entry = cfg_.module_name[e];
      if (name_matches_[e].empty()) {
        Diagnostic& d = Report(DiagCode::kUnmatchedRule, entry.selector.where,
                               fmt::format("module_name {} matches no module of model '{}'", entry.selector.ToString(), M().name()));
        if (!entry.selector.is_regex) d.suggestions = SuggestSimilar(entry.selector.text, module_names);
        continue;
      }
      bool decides = std::any_of(plan_->modules.begin(), plan_->modules.end(), [&](const ModulePlan& mp) {
        return mp.level == ModuleLevel::kName && mp.entry == static_cast<int>(e);
      });
      if (!decides) {
        Report(DiagCode::kShadowedEntry, entry.selector.where,
               fmt::format("module_name {} matches {} module(s) but decides none: later entries claim them first",
                           entry.selector.ToString(), name_matches_[e].size()));
      }
    }
    for (size_t e = 0; e < cfg_.module_type.size(); ++e) {
      const ModuleTypeEntry& entry = cfg_.module_type[e];
      if (type_matches_[e].empty()) {
        Diagnostic& d = Report(DiagCode::kUnmatchedRule, entry.where,
                               fmt::format("module_type \"{}\" matches no module of model '{}'", entry.type_name, M().name()));
        if (!M().has_module_types()) {
          d.notes.push_back({d.location, "the model has no module types; give a module map with --modules"});
        } else {
          std::vector<std::string_view> types;
          for (const Module& m : M().modules()) if (!m.type.empty()) types.push_back(m.type);
          d.suggestions = SuggestSimilar(entry.type_name, types);
        }
        continue;
      }
      bool decides = std::any_of(plan_->modules.begin(), plan_->modules.end(), [&](const ModulePlan& mp) {
        return mp.level == ModuleLevel::kType && mp.entry == static_cast<int>(e);
      });
      if (!decides) {
        Report(DiagCode::kShadowedEntry, entry.where,
               fmt::format("module_type \"{}\" matches {} module(s) but decides none: module_name entries or later "
                           "entries claim them first",
                           entry.type_name, type_matches_[e].size()));
      }
    }
    // op_name entries
    std::vector<std::vector<OpId>> name_hits(table_->op_name_count());
    for (size_t o = 0; o < op_name_matches_.size(); ++o) {
      for (int h : op_name_matches_[o]) name_hits[static_cast<size_t>(h)].push_back(static_cast<OpId>(o));
    }
    for (size_t h = 0; h < table_->op_name_count(); ++h) {
      // Not a structured binding: the lambda below captures the scope, which clang < 16 refuses.
      const auto where = table_->op_name_entry(static_cast<int>(h));
      const int s = where.first, k = where.second;
      const OpNameEntry& entry = scopes_[static_cast<size_t>(s)].config->op_name[static_cast<size_t>(k)];
      if (name_hits[h].empty()) {
        Diagnostic& d = Report(DiagCode::kUnmatchedRule, entry.selector.where,
                               fmt::format("op_name {} matches no op of model '{}'", entry.selector.ToString(), M().name()));
        if (!entry.selector.is_regex) d.suggestions = SuggestSimilar(entry.selector.text, op_names);
        continue;
      }
      size_t effective = std::count_if(name_hits[h].begin(), name_hits[h].end(), [&](OpId o) {
        return Governs(s, o) && DecidesSomething(o);
      });
      if (effective == 0) {
        Report(DiagCode::kInertRule, entry.selector.where,
               fmt::format("op_name {} matches {} op(s), but none is a registered key op governed by {}",
                           entry.selector.ToString(), name_hits[h].size(), scopes_[static_cast<size_t>(s)].origin.description));
      }
    }
    // op_type entries
    std::map<std::string, size_t> type_count;
    for (const Op& o : M().ops()) type_count[o.type]++;
    std::vector<std::string_view> present_types;
    for (const auto& [t, n] : type_count) present_types.push_back(t);
    for (size_t s = 0; s < scopes_.size(); ++s) {
      for (const OpTypeEntry& entry : scopes_[s].config->op_type) {
        if (!type_count.count(entry.op_type)) {
          Diagnostic& d = Report(DiagCode::kUnmatchedRule, entry.where,
                                 fmt::format("op_type {} matches no op of model '{}'", entry.op_type, M().name()));
          d.location.length = 7;
          d.suggestions = SuggestSimilar(entry.op_type, present_types);
          continue;
        }
        bool effective = false;
        for (OpId o = 0; o < static_cast<OpId>(M().ops().size()) && !effective; ++o) {
          effective = M().op(o).type == entry.op_type && Governs(static_cast<int>(s), o) && DecidesSomething(o);
        }
        if (!effective) {
          Diagnostic& d = Report(DiagCode::kInertRule, entry.where,
                                 fmt::format("op_type {} matches ops that it cannot affect (not registered, fused, or "
                                             "governed by another scope than {})",
                                             entry.op_type, scopes_[s].origin.description));
          d.location.length = 7;
        }
      }
    }
  }

  // Named keys that reach nothing: an op_state / op_input / op_output key that no tensor of the
  // ops its entry applies to has (in the role the group names), a module_state key that no state
  // of the modules its scope governs has, and any name in module_input / module_output (module
  // boundary tensors are matched by index).  A misspelled `wieght` or a foreign `kernel` is
  // otherwise silently inert.  Entries whose selector matches nothing are unmatched-rule instead.
  void LintKeys() {
    struct Keys {
      std::set<std::string> input, output, state;
    };
    auto keys_of = [&](const std::vector<OpId>& ops) {
      Keys k;
      for (OpId o : ops) {
        const Op& op = M().op(o);
        for (auto [t, slot] : DistinctInputs(op)) {
          const TensorInfo& ti = M().tensor(t);
          if (ti.is_state()) {
            if (!ti.is_float()) continue;  // shapes and indices are no quantization targets
            k.state.insert(StateKey(op, slot));
            if (!ti.local_name.empty()) k.state.insert(ti.local_name);
          } else if (std::string_view n = M().InputName(op, slot); !n.empty()) {
            k.input.insert(std::string(n));
          }
        }
        if (const OpTypeInfo* info = FindOpTypeCached(op.type); info && info->pattern == "linear") {
          k.state.insert("bias");  // a MatMul linear's bias sits on its absorbed Add
        }
        for (size_t i = 0; i < op.outputs.size(); ++i) {
          if (std::string_view n = M().OutputName(op, i); !n.empty()) k.output.insert(std::string(n));
        }
      }
      return k;
    };
    auto check = [&](const std::optional<TensorSpecMap>& group, const std::set<std::string>& have,
                     std::string_view group_name, const std::string& applies_to) {
      if (!group) return;
      for (const TensorSpecEntry& e : group->entries) {
        if (e.key.kind != TensorKey::Kind::kName || have.count(e.key.name)) continue;
        constexpr size_t kShown = 8;
        std::vector<std::string_view> shown(have.begin(), std::next(have.begin(), std::min(have.size(), kShown)));
        std::string known = have.empty() ? "none" : fmt::format("{}", fmt::join(shown, ", "));
        if (have.size() > kShown) known += fmt::format(", ... {} more", have.size() - kShown);
        Diagnostic& d = Report(DiagCode::kUnmatchedKey, e.where,
                               fmt::format("{} key '{}' matches no tensor of {} (their keys: {})", group_name,
                                           e.key.name, applies_to, known));
        d.location.length = static_cast<uint32_t>(e.key.name.size());  // the key, not its spec
        std::vector<std::string_view> candidates(have.begin(), have.end());
        d.suggestions = SuggestSimilar(e.key.name, candidates);
      }
    };
    auto ops_phrase = [](size_t n, std::string_view what) {
      return fmt::format("the {} {} {}", n, n == 1 ? "op" : "ops", what);
    };
    for (size_t s = 0; s < scopes_.size(); ++s) {
      const ModuleQuantizerConfig& c = *scopes_[s].config;
      const std::string& scope = scopes_[s].origin.description;
      std::vector<OpId> governed;
      for (OpId o = 0; o < static_cast<OpId>(M().ops().size()); ++o) {
        if (Governs(static_cast<int>(s), o) && DecidesSomething(o)) governed.push_back(o);
      }
      if (!governed.empty()) {
        Keys k = keys_of(governed);
        std::string who = ops_phrase(governed.size(), "governed by " + scope);
        check(c.op_input, k.input, "op_input", who);
        check(c.op_output, k.output, "op_output", who);
        check(c.op_state, k.state, "op_state", who);
      }
      for (const OpTypeEntry& e : c.op_type) {
        if (!e.config) continue;
        std::vector<OpId> ops;
        for (OpId o : governed) if (M().op(o).type == e.op_type) ops.push_back(o);
        if (ops.empty()) continue;
        Keys k = keys_of(ops);
        std::string who = ops_phrase(ops.size(), fmt::format("op_type {} applies to", e.op_type));
        check(e.config->op_input, k.input, "op_input", who);
        check(e.config->op_output, k.output, "op_output", who);
        check(e.config->op_state, k.state, "op_state", who);
      }
      for (size_t h = 0; h < table_->op_name_count(); ++h) {
        auto [hs, hk] = table_->op_name_entry(static_cast<int>(h));
        if (hs != static_cast<int>(s)) continue;
        const OpNameEntry& e = c.op_name[static_cast<size_t>(hk)];
        if (!e.config) continue;
        std::vector<OpId> ops;
        for (OpId o : governed) {
          const auto& m = op_name_matches_[static_cast<size_t>(o)];
          if (std::binary_search(m.begin(), m.end(), static_cast<int>(h))) ops.push_back(o);
        }
        if (ops.empty()) continue;
        Keys k = keys_of(ops);
        std::string who = ops_phrase(ops.size(), fmt::format("op_name {} applies to", e.selector.ToString()));
        check(e.config->op_input, k.input, "op_input", who);
        check(e.config->op_output, k.output, "op_output", who);
        check(e.config->op_state, k.state, "op_state", who);
      }
      // Module groups: the modules this scope decided.
      std::set<std::string> module_states;
      size_t modules = 0;
      for (ModuleId m = 0; m < static_cast<ModuleId>(M().modules().size()); ++m) {
        const ModulePlan& mp = plan_->modules[static_cast<size_t>(m)];
        if (ScopeIndex(mp.level, mp.entry) != static_cast<int>(s)) continue;
        ++modules;
        for (TensorId t : M().module(m).states) {
          if (M().tensor(t).is_float()) module_states.insert(M().tensor(t).local_name);
        }
      }
      if (modules == 0) continue;
      std::string who = fmt::format("the {} module(s) {} decides", modules, scope);
      check(c.module_state, module_states, "module_state", who);
      for (const TensorSpecMap* g : {&c.module_input, &c.module_output}) {
        for (const TensorSpecEntry& e : g->entries) {
          if (e.key.kind != TensorKey::Kind::kName) continue;
          Diagnostic& d = Report(
              DiagCode::kUnmatchedKey, e.where,
              fmt::format("{} key '{}' is a name, but a module's boundary tensors are matched by index (0, 1, ...) "
                          "or '*'", g == &c.module_input ? "module_input" : "module_output", e.key.name));
          d.location.length = static_cast<uint32_t>(e.key.name.size());
        }
      }
    }
  }

  void CheckExpectations() {
    auto check = [&](const std::optional<Expectation>& ex, int64_t actual, const std::string& what) {
      if (!ex || ex->Holds(actual)) return;
      Report(DiagCode::kExpectationFailed, ex->where,
             fmt::format("{} matches {} {}, expected {}", what, actual, actual == 1 ? "time" : "times", ex->ToString()));
    };
    for (size_t e = 0; e < cfg_.module_name.size(); ++e) {
      check(cfg_.module_name[e].expect, static_cast<int64_t>(name_matches_[e].size()),
            fmt::format("module_name {}", cfg_.module_name[e].selector.ToString()));
    }
    for (size_t e = 0; e < cfg_.module_type.size(); ++e) {
      check(cfg_.module_type[e].expect, static_cast<int64_t>(type_matches_[e].size()),
            fmt::format("module_type \"{}\"", cfg_.module_type[e].type_name));
    }
    for (size_t s = 0; s < scopes_.size(); ++s) {
      const ModuleQuantizerConfig& c = *scopes_[s].config;
      for (const OpTypeEntry& e : c.op_type) {
        if (!e.expect) continue;
        int64_t n = 0;
        for (OpId o = 0; o < static_cast<OpId>(M().ops().size()); ++o) {
          n += M().op(o).type == e.op_type && Governs(static_cast<int>(s), o);
        }
        check(e.expect, n, fmt::format("op_type {} (in {})", e.op_type, scopes_[s].origin.description));
      }
      for (const OpNameEntry& e : c.op_name) {
        if (!e.expect) continue;
        // The op_name id of this entry, then the ops whose matches include it.
        int id = -1;
        for (size_t h = 0; h < table_->op_name_count(); ++h) {
          auto [hs, hk] = table_->op_name_entry(static_cast<int>(h));
          if (hs == static_cast<int>(s) && &c.op_name[static_cast<size_t>(hk)] == &e) id = static_cast<int>(h);
        }
        int64_t n = 0;
        for (OpId o = 0; o < static_cast<OpId>(M().ops().size()); ++o) {
          const auto& m = op_name_matches_[static_cast<size_t>(o)];
          n += std::binary_search(m.begin(), m.end(), id) && Governs(static_cast<int>(s), o);
        }
        check(e.expect, n, fmt::format("op_name {} (in {})", e.selector.ToString(), scopes_[s].origin.description));
      }
    }
  }

  std::shared_ptr<const CompiledRules> rules_;
  std::shared_ptr<const Model> model_;
  const QuantizerConfig& cfg_;
  ResolveOptions options_;
  ModuleQuantizerConfig global_;
  std::shared_ptr<Plan> plan_;
  std::vector<Diagnostic> diags_;
  std::vector<Scope> scopes_;
  std::shared_ptr<const RuleTable> table_;
  RuleTable::Scratch scratch_;
  std::vector<ModuleId> preorder_;
  std::vector<bool> assigned_;
  std::vector<std::vector<ModuleId>> name_matches_, type_matches_;
  std::vector<std::vector<int>> module_name_hits_, module_type_hits_;
  std::vector<const OpQuantizerConfig*> op_configs_;   // into the rules, or the members below
  std::vector<OpQuantizerConfig> scope_default_ops_;  // per scope: its op_* groups as an op config
  OpQuantizerConfig disabled_op_ = OpQuantizerConfig::Disabled();
  TensorSpecMap default_activation_map_ = OpQuantizerConfig().Input();
  TensorSpecMap default_weight_map_ = OpQuantizerConfig().State();
  // Origins are the same text for every op decided by the same entry in the same module scope.
  std::map<std::tuple<const void*, const void*, const void*, std::string_view>, Origin> origin_cache_;
  std::vector<std::vector<int>> op_name_matches_;
  std::vector<bool> registered_, annotated_, state_decided_;
  std::vector<bool> value_dependent_;  // by tensor: its values depend on a graph input's values
  std::vector<int> out_point_;
  std::set<int> dropped_;
  std::unordered_map<std::string, const OpTypeInfo*> type_cache_;
};

}  // namespace

std::string_view ModuleLevelName(ModuleLevel l) {
  switch (l) {
    case ModuleLevel::kName: return "module_name";
    case ModuleLevel::kType: return "module_type";
    case ModuleLevel::kGlobal: return "global";
  }
  return "global";
}

std::string_view OpLevelName(OpLevel l) {
  switch (l) {
    case OpLevel::kOpName: return "op_name";
    case OpLevel::kOpType: return "op_type";
    case OpLevel::kDefault: return "default";
  }
  return "default";
}

std::string_view TensorRoleName(TensorRole r) {
  switch (r) {
    case TensorRole::kInput: return "input";
    case TensorRole::kOutput: return "output";
    case TensorRole::kState: return "state";
  }
  return "input";
}

std::string_view ReasonName(Reason r) {
  switch (r) {
    case Reason::kQuantized: return "quantized";
    case Reason::kSharedEdge: return "shared-edge";
    case Reason::kSharedObserver: return "shared-observer";
    case Reason::kNoRule: return "no-rule";
    case Reason::kDisabled: return "disabled";
    case Reason::kNotRegistered: return "not-registered";
    case Reason::kInsidePattern: return "inside-pattern";
    case Reason::kNotFloat: return "not-float";
    case Reason::kConstant: return "constant";
    case Reason::kBlockSizeMismatch: return "block-size-mismatch";
    case Reason::kAxisError: return "axis-error";
  }
  return "no-rule";
}

const OpPlan* Plan::FindOp(std::string_view name) const {
  auto id = model->OpIdOf(name);
  return id ? &ops[static_cast<size_t>(*id)] : nullptr;
}

PlanResult Resolve(std::shared_ptr<const CompiledRules> rules, std::shared_ptr<const Model> model,
                   const ResolveOptions& options) {
  return Resolver(std::move(rules), std::move(model), options).Run();
}

}  // namespace qrules
