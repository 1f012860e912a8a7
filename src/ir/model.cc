// The IR: shapes, attributes, Model lookups, ModelBuilder (validation, topological order, state
// ownership) and the op registry.
#include <algorithm>
#include <fmt/format.h>
#include <functional>
#include <queue>
#include <set>
#include <unordered_set>

#include "ir/ir_internal.h"
#include "qrules/ir.h"

namespace qrules {

// ---------------------------------------------------------------------------------------------
// Shape

Shape Shape::Of(std::span<const int64_t> sizes) {
  Shape s;
  s.known = true;
  for (int64_t d : sizes) s.dims.push_back(Dim(d));
  return s;
}

bool Shape::is_static() const {
  if (!known) return false;
  return std::all_of(dims.begin(), dims.end(), [](const Dim& d) { return d.is_static(); });
}

std::vector<int64_t> Shape::sizes() const {
  std::vector<int64_t> out;
  out.reserve(dims.size());
  for (const Dim& d : dims) out.push_back(d.size);
  return out;
}

std::string Shape::ToString() const {
  if (!known) return "?";
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    if (dims[i].is_static()) {
      s += std::to_string(dims[i].size);
    } else {
      s += dims[i].symbol.empty() ? "?" : dims[i].symbol;
    }
  }
  return s + "]";
}

// ---------------------------------------------------------------------------------------------
// Attribute

Attribute Attribute::Int(int64_t v) {
  Attribute a;
  a.kind = Kind::kInt;
  a.i = v;
  return a;
}
Attribute Attribute::Float(float v) {
  Attribute a;
  a.kind = Kind::kFloat;
  a.f = v;
  return a;
}
Attribute Attribute::String(std::string v) {
  Attribute a;
  a.kind = Kind::kString;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::Ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::Floats(std::vector<float> v) {
  Attribute a;
  a.kind = Kind::kFloats;
  a.floats = std::move(v);
  return a;
}
Attribute Attribute::Strings(std::vector<std::string> v) {
  Attribute a;
  a.kind = Kind::kStrings;
  a.strings = std::move(v);
  return a;
}
Attribute Attribute::OfTensor(Tensor v) {
  Attribute a;
  a.kind = Kind::kTensor;
  a.t = std::move(v);
  return a;
}

// ---------------------------------------------------------------------------------------------
// TensorInfo, Model

bool TensorInfo::is_float() const {
  if (dtype) return IsFloat(*dtype);
  return dtype_name == "float16" || dtype_name == "bfloat16" || dtype_name == "float64" ||
         dtype_name == "float32";
}

const Module* Model::FindModule(std::string_view fqn) const {
  auto id = ModuleIdOf(fqn);
  return id ? &modules_[static_cast<size_t>(*id)] : nullptr;
}
const Op* Model::FindOp(std::string_view name) const {
  auto id = OpIdOf(name);
  return id ? &ops_[static_cast<size_t>(*id)] : nullptr;
}
const TensorInfo* Model::FindTensor(std::string_view name) const {
  auto id = TensorIdOf(name);
  return id ? &tensors_[static_cast<size_t>(*id)] : nullptr;
}
std::optional<ModuleId> Model::ModuleIdOf(std::string_view fqn) const {
  auto it = module_index_.find(std::string(fqn));
  if (it == module_index_.end()) return std::nullopt;
  return it->second;
}
std::optional<OpId> Model::OpIdOf(std::string_view name) const {
  auto it = op_index_.find(std::string(name));
  if (it == op_index_.end()) return std::nullopt;
  return it->second;
}
std::optional<TensorId> Model::TensorIdOf(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  if (it == tensor_index_.end()) return std::nullopt;
  return it->second;
}

static std::string_view SlotName(const OpTypeInfo* info, size_t index) {
  if (info == nullptr || info->input_names.empty()) return {};
  if (info->variadic) return info->input_names[0];
  if (index < info->input_names.size()) return info->input_names[index];
  return {};
}

std::string_view Model::InputName(const Op& op, size_t index) const {
  return SlotName(FindOpType(op.type), index);
}

std::string_view Model::StateRole(const Op& op, size_t index) const {
  std::string_view name = InputName(op, index);
  return IsParameterRole(name) ? name : std::string_view();
}

std::string_view Model::OutputName(const Op& op, size_t index) const {
  if (FindOpType(op.type) == nullptr || index >= op.outputs.size()) return {};
  return "output";
}

std::string Model::KnownName(TensorId id) const {
  const TensorInfo& t = tensor(id);
  if (!t.is_state() || t.owner <= 0 || t.local_name.empty()) return t.name;
  // A parameter of a leaf module (a Conv2d's weight after the exporter folded a BatchNorm into it)
  // is that module's parameter.  Inside a module with children, or under a made-up local name
  // (weight_1), the ONNX name is the honest one: MultiheadAttention's sliced q/k/v weights are
  // not `self_attn.weight`.
  const Module& owner = module(t.owner);
  if (t.name != owner.name + "." + t.local_name && (!owner.children.empty() || !IsParameterRole(t.local_name))) {
    return t.name;
  }
  return owner.name + "." + t.local_name;
}

std::string Model::NameForMessages(TensorId id) const {
  std::string known = KnownName(id);
  const std::string& onnx = tensor(id).name;
  return known == onnx ? known : fmt::format("{} ({})", known, onnx);
}

bool Model::has_module_types() const {
  return std::any_of(modules_.begin(), modules_.end(), [](const Module& m) { return !m.type.empty(); });
}

std::optional<int> DefaultWeightAxis(const Op& op, WeightAxisUse use) {
  const OpTypeInfo* info = FindOpType(op.type);
  if (info == nullptr || info->weight_input < 0) return std::nullopt;
  if (use == WeightAxisUse::kPerChannel) {
    return op.weight_output_axis >= 0 ? op.weight_output_axis : info->per_channel_axis;
  }
  return op.weight_input_axis >= 0 ? op.weight_input_axis : info->per_block_axis;
}

// ---------------------------------------------------------------------------------------------
// ModelBuilder

struct ModelBuilder::Impl {
  std::string name = "<model>";
  DiagCode code = DiagCode::kModelInvalid;
  struct ModuleDecl {
    std::string fqn;
    std::string type;
    SourceRange where;
  };
  std::vector<ModuleDecl> modules;
  std::unordered_map<std::string, size_t> module_index;
  std::vector<TensorSpec> inputs;
  std::vector<TensorSpec> states;
  std::vector<OpSpec> ops;
  std::vector<std::pair<std::string, SourceRange>> outputs;
  std::vector<Diagnostic> diagnostics;

  DiagLocation Where(const SourceRange& where) const {
    if (where.valid()) return DiagLocation::From(where);
    DiagLocation loc;
    loc.file = name;
    return loc;
  }
  void Error(const SourceRange& where, std::string message) {
    diagnostics.push_back(MakeDiagnostic(code, Where(where), std::move(message)));
  }

  // A module path nests at most this deep and is at most this long: every module brings its
  // ancestors, so a 30,000-level path would cost quadratic memory (and recursion here).
  static constexpr size_t kMaxModuleDepth = 128;
  static constexpr size_t kMaxModuleNameBytes = 4096;

  size_t EnsureModule(const std::string& fqn, const SourceRange& where) {
    auto it = module_index.find(fqn);
    if (it != module_index.end()) return it->second;
    const size_t depth = fqn.empty() ? 0 : 1 + static_cast<size_t>(std::count(fqn.begin(), fqn.end(), '.'));
    if (depth > kMaxModuleDepth || fqn.size() > kMaxModuleNameBytes) {
      diagnostics.push_back(MakeDiagnostic(
          DiagCode::kLimitExceeded, Where(where),
          fmt::format("module path '{}...' is {} levels and {} bytes long; qrules takes at most {} levels and {} bytes",
                      fqn.substr(0, 40), depth, fqn.size(), kMaxModuleDepth, kMaxModuleNameBytes)));
      return 0;  // the root; the model is refused for the error above
    }
    if (!fqn.empty()) {
      size_t dot = fqn.rfind('.');
      EnsureModule(dot == std::string::npos ? std::string() : fqn.substr(0, dot), where);
    }
    modules.push_back({fqn, "", where});
    module_index.emplace(fqn, modules.size() - 1);
    return modules.size() - 1;
  }
};

ModelBuilder::ModelBuilder() : impl_(std::make_shared<Impl>()) { impl_->EnsureModule("", {}); }

void ModelBuilder::SetName(std::string name) { impl_->name = std::move(name); }
void ModelBuilder::SetDiagCode(DiagCode code) { impl_->code = code; }

void ModelBuilder::AddModule(std::string fqn, std::string type, SourceRange where) {
  size_t id = impl_->EnsureModule(fqn, where);
  auto& decl = impl_->modules[id];
  if (!type.empty()) {
    if (!decl.type.empty() && decl.type != type) {
      impl_->Error(where, fmt::format("module '{}' declared with type '{}' and '{}'", fqn, decl.type, type));
      return;
    }
    decl.type = std::move(type);
  }
  if (where.valid()) decl.where = where;
}

void ModelBuilder::AddInput(TensorSpec spec) { impl_->inputs.push_back(std::move(spec)); }
void ModelBuilder::AddState(TensorSpec spec) { impl_->states.push_back(std::move(spec)); }
void ModelBuilder::AddOp(OpSpec spec) { impl_->ops.push_back(std::move(spec)); }
void ModelBuilder::AddOutput(std::string tensor_name, SourceRange where) {
  impl_->outputs.emplace_back(std::move(tensor_name), where);
}

namespace {

TensorInfo InfoFrom(const TensorSpec& spec, TensorKind kind) {
  TensorInfo t;
  t.name = spec.name;
  t.kind = kind;
  t.dtype = spec.dtype;
  t.dtype_name = !spec.dtype_name.empty() ? spec.dtype_name
                 : spec.dtype             ? std::string(internal::DtypeName(*spec.dtype))
                                          : "unknown";
  t.shape = spec.shape;
  return t;
}

// Whether the product of `dims` fits and equals `n`.
bool NumelMatches(const std::vector<int64_t>& dims, size_t n) {
  unsigned __int128 p = 1;
  for (int64_t d : dims) {
    if (d < 0) return false;
    p *= static_cast<unsigned __int128>(d);
    if (p > (static_cast<unsigned __int128>(1) << 62)) return false;
  }
  return p == n;
}

}  // namespace

ModelResult ModelBuilder::Build() && {
  Impl& b = *impl_;
  auto model = std::shared_ptr<Model>(new Model());
  Model& m = *model;
  m.name_ = b.name;

  // Modules (ops may still add some, below).
  auto add_module_to_model = [&](size_t decl_index) {
    // Declarations are created parents-first, so the parent already exists.
    const auto& d = b.modules[decl_index];
    Module mod;
    mod.name = d.fqn;
    mod.type = d.type;
    if (!d.fqn.empty()) {
      size_t dot = d.fqn.rfind('.');
      std::string parent = dot == std::string::npos ? std::string() : d.fqn.substr(0, dot);
      mod.parent = m.module_index_.at(parent);
    }
    ModuleId id = static_cast<ModuleId>(m.modules_.size());
    if (mod.parent >= 0) m.modules_[static_cast<size_t>(mod.parent)].children.push_back(id);
    m.module_index_.emplace(mod.name, id);
    m.modules_.push_back(std::move(mod));
  };
  // Ops' modules first declared implicitly.
  for (const OpSpec& op : b.ops) b.EnsureModule(op.module, op.where);
  // Explicit owners of states.
  for (const TensorSpec& s : b.states) {
    if (s.owner) b.EnsureModule(*s.owner, s.where);
  }
  for (size_t i = 0; i < b.modules.size(); ++i) add_module_to_model(i);

  // Tensor names: inputs, states, then op outputs (checked for uniqueness).
  std::unordered_map<std::string, SourceRange> defined;
  auto define = [&](const std::string& name, const SourceRange& where, std::string_view what) {
    if (name.empty()) {
      b.Error(where, fmt::format("{} with an empty name", what));
      return false;
    }
    auto [it, inserted] = defined.emplace(name, where);
    if (!inserted) {
      Diagnostic d = MakeDiagnostic(b.code, b.Where(where), fmt::format("tensor '{}' is defined twice", name));
      if (it->second.valid()) d.notes.push_back({DiagLocation::From(it->second), "first defined here"});
      b.diagnostics.push_back(std::move(d));
      return false;
    }
    return true;
  };
  for (const TensorSpec& s : b.inputs) define(s.name, s.where, "graph input");
  for (const TensorSpec& s : b.states) define(s.name, s.where, "state tensor");

  // Op names.
  std::unordered_map<std::string, size_t> op_names;
  std::vector<std::string> names(b.ops.size());
  {
    std::unordered_set<std::string> given;
    for (const OpSpec& op : b.ops) {
      if (!op.name.empty()) given.insert(op.name);
    }
    std::unordered_map<std::string, int> counters;
    for (size_t i = 0; i < b.ops.size(); ++i) {
      const OpSpec& op = b.ops[i];
      std::string name = op.name;
      if (name.empty()) {
        do {
          name = fmt::format("{}_{}", op.type, counters[op.type]++);
        } while (given.count(name) || op_names.count(name));
      }
      auto [it, inserted] = op_names.emplace(name, i);
      if (!inserted) {
        Diagnostic d = MakeDiagnostic(b.code, b.Where(op.where), fmt::format("op '{}' is defined twice", name));
        if (b.ops[it->second].where.valid()) {
          d.notes.push_back({DiagLocation::From(b.ops[it->second].where), "first defined here"});
        }
        b.diagnostics.push_back(std::move(d));
      }
      names[i] = name;
      if (op.type.empty()) b.Error(op.where, fmt::format("op '{}' has no type", name));
    }
  }
  // Producers of op outputs.
  std::unordered_map<std::string, size_t> producer_of;
  for (size_t i = 0; i < b.ops.size(); ++i) {
    for (const TensorSpec& out : b.ops[i].outputs) {
      if (define(out.name, out.where.valid() ? out.where : b.ops[i].where, "op output")) {
        producer_of.emplace(out.name, i);
      }
    }
  }
  // Inputs defined?
  for (size_t i = 0; i < b.ops.size(); ++i) {
    for (const std::string& in : b.ops[i].inputs) {
      if (!in.empty() && !defined.count(in)) {
        b.Error(b.ops[i].where, fmt::format("op '{}' reads undefined tensor '{}'", names[i], in));
      }
    }
  }
  for (const auto& [name, where] : b.outputs) {
    if (!defined.count(name)) b.Error(where, fmt::format("graph output '{}' is not defined", name));
  }
  if (HasErrors(b.diagnostics)) return {nullptr, std::move(b.diagnostics)};

  // Topological order: Kahn's algorithm, smallest declaration index first (stable).
  size_t n = b.ops.size();
  std::vector<std::vector<size_t>> users(n);
  std::vector<size_t> indegree(n, 0);
  for (size_t i = 0; i < n; ++i) {
    std::set<size_t> preds;
    for (const std::string& in : b.ops[i].inputs) {
      auto it = producer_of.find(in);
      if (it != producer_of.end()) preds.insert(it->second);
    }
    for (size_t p : preds) {
      users[p].push_back(i);
      ++indegree[i];
    }
  }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < n; ++i) {
    if (indegree[i] == 0) ready.push(i);
  }
  std::vector<size_t> order;
  order.reserve(n);
  while (!ready.empty()) {
    size_t i = ready.top();
    ready.pop();
    order.push_back(i);
    for (size_t u : users[i]) {
      if (--indegree[u] == 0) ready.push(u);
    }
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i) {
      if (indegree[i] != 0) {
        b.Error(b.ops[i].where, fmt::format("op '{}' is part of a cycle: it depends on its own output", names[i]));
        break;
      }
    }
    return {nullptr, std::move(b.diagnostics)};
  }

  // Tensors.
  auto add_tensor = [&](TensorInfo t) {
    TensorId id = static_cast<TensorId>(m.tensors_.size());
    m.tensor_index_.emplace(t.name, id);
    m.tensors_.push_back(std::move(t));
    return id;
  };
  for (const TensorSpec& s : b.inputs) m.inputs_.push_back(add_tensor(InfoFrom(s, TensorKind::kInput)));
  for (const TensorSpec& s : b.states) {
    TensorInfo t = InfoFrom(s, TensorKind::kState);
    if (s.data) {
      const Tensor& d = *s.data;
      size_t count = d.is_float() ? d.f32.size() : d.i64.size();
      if (!NumelMatches(d.shape, count)) {
        b.Error(s.where, fmt::format("state '{}': data has {} values but its shape {} needs {}", s.name, count,
                                     Shape::Of(d.shape).ToString(), d.numel()));
        continue;
      }
      if (!t.shape.known) {
        t.shape = Shape::Of(d.shape);
      } else if (t.shape.sizes() != d.shape) {
        b.Error(s.where, fmt::format("state '{}' is declared {} but its data has shape {}", s.name,
                                     t.shape.ToString(), Shape::Of(d.shape).ToString()));
        continue;
      }
      if (t.dtype && *t.dtype != d.type && (IsFloat(*t.dtype) || d.is_float())) {
        b.Error(s.where, fmt::format("state '{}' is declared {} but its data is {}", s.name,
                                     internal::DtypeName(*t.dtype), internal::DtypeName(d.type)));
        continue;
      }
      t.data = std::make_shared<const Tensor>(d);
    }
    add_tensor(std::move(t));
  }
  if (HasErrors(b.diagnostics)) return {nullptr, std::move(b.diagnostics)};

  // Ops in topological order.
  for (size_t i : order) {
    OpSpec& spec = b.ops[i];
    Op op;
    op.name = names[i];
    op.type = spec.type;
    op.onnx_type = spec.onnx_type;
    op.domain = spec.domain;
    op.module = m.module_index_.at(spec.module);
    for (ModuleId id = op.module; id >= 0; id = m.modules_[static_cast<size_t>(id)].parent) {
      op.module_stack.push_back(id);
    }
    std::reverse(op.module_stack.begin(), op.module_stack.end());
    op.attributes = std::move(spec.attributes);
    OpId op_id = static_cast<OpId>(m.ops_.size());
    for (const std::string& in : spec.inputs) {
      op.inputs.push_back(in.empty() ? kNoTensor : m.tensor_index_.at(in));
    }
    for (const TensorSpec& out : spec.outputs) {
      TensorInfo t = InfoFrom(out, TensorKind::kActivation);
      t.producer = op_id;
      op.outputs.push_back(add_tensor(std::move(t)));
    }
    for (TensorId in : op.inputs) {
      if (in == kNoTensor) continue;
      auto& consumers = m.tensors_[static_cast<size_t>(in)].consumers;
      if (consumers.empty() || consumers.back() != op_id) consumers.push_back(op_id);
    }
    if (const OpTypeInfo* info = FindOpType(op.type); info && info->weight_input >= 0) {
      op.weight_input = info->weight_input;
      op.weight_output_axis = spec.weight_output_axis >= 0 ? spec.weight_output_axis : info->per_channel_axis;
      op.weight_input_axis = spec.weight_input_axis >= 0 ? spec.weight_input_axis : info->per_block_axis;
    }
    m.op_index_.emplace(op.name, op_id);
    m.modules_[static_cast<size_t>(op.module)].ops.push_back(op_id);
    m.ops_.push_back(std::move(op));
  }
  for (const auto& [name, where] : b.outputs) m.outputs_.push_back(m.tensor_index_.at(name));

  // State ownership.
  std::unordered_map<ModuleId, std::unordered_set<std::string>> taken;
  std::vector<std::pair<TensorId, size_t>> deferred;  // states owned by a consumer
  for (size_t si = 0; si < b.states.size(); ++si) {
    const TensorSpec& s = b.states[si];
    TensorId id = m.tensor_index_.at(s.name);
    TensorInfo& t = m.tensors_[static_cast<size_t>(id)];
    if (s.owner) {
      t.owner = m.module_index_.at(*s.owner);
      t.local_name = s.local_name ? *s.local_name : s.name.substr(s.name.rfind('.') + 1);
    } else if (size_t dot = s.name.rfind('.'); dot != std::string::npos && dot + 1 < s.name.size() &&
                                                m.module_index_.count(s.name.substr(0, dot))) {
      t.owner = m.module_index_.at(s.name.substr(0, dot));
      t.local_name = s.local_name ? *s.local_name : s.name.substr(dot + 1);
    } else {
      deferred.emplace_back(id, si);
      continue;
    }
    taken[t.owner].insert(t.local_name);
  }
  for (auto [id, si] : deferred) {
    TensorInfo& t = m.tensors_[static_cast<size_t>(id)];
    std::string local;
    if (t.consumers.empty()) {
      t.owner = 0;
      local = b.states[si].local_name ? *b.states[si].local_name : t.name;
    } else {
      const Op& op = m.ops_[static_cast<size_t>(t.consumers.front())];
      t.owner = op.module;
      size_t slot = static_cast<size_t>(std::find(op.inputs.begin(), op.inputs.end(), id) - op.inputs.begin());
      if (b.states[si].local_name) {
        local = *b.states[si].local_name;
      } else {
        std::string_view name = m.InputName(op, slot);
        local = name.empty() ? fmt::format("input{}", slot) : std::string(name);
      }
    }
    std::string unique = local;
    for (int k = 1; taken[t.owner].count(unique); ++k) unique = fmt::format("{}_{}", local, k);
    taken[t.owner].insert(unique);
    t.local_name = unique;
  }
  for (const TensorInfo& t : m.tensors_) {
    if (t.is_state()) {
      m.modules_[static_cast<size_t>(t.owner)].states.push_back(m.tensor_index_.at(t.name));
    }
  }
  m.idioms_ = internal::FindExportIdioms(m);
  return {std::move(model), std::move(b.diagnostics)};
}

}  // namespace qrules
