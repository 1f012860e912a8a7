// The non-numeric members of the configuration model (include/qrules/config.h).
#include <fmt/format.h>

#include "qrules/config.h"

namespace qrules {

std::string TensorKey::ToString() const {
  switch (kind) {
    case Kind::kIndex: return std::to_string(index);
    case Kind::kName: return name;
    case Kind::kAll: return "*";
  }
  return "*";
}

TensorSpecMap TensorSpecMap::Of(std::vector<std::pair<TensorKey, std::optional<QuantizationSpec>>> kv) {
  TensorSpecMap m;
  for (auto& [k, v] : kv) m.entries.push_back({std::move(k), std::move(v), {}});
  return m;
}

const TensorSpecEntry* TensorSpecMap::Find(const TensorKey& key) const {
  for (const auto& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

namespace {
TensorSpecMap DefaultActivationMap() {
  return TensorSpecMap::Of({{TensorKey::All(), DefaultActivationSpec()}});
}
TensorSpecMap DefaultWeightMap() {
  return TensorSpecMap::Of({{TensorKey::Name("weight"), DefaultWeightSpec()}});
}
}  // namespace

OpQuantizerConfig OpQuantizerConfig::Disabled() {
  OpQuantizerConfig c;
  c.op_input = TensorSpecMap{};
  c.op_output = TensorSpecMap{};
  c.op_state = TensorSpecMap{};
  return c;
}
TensorSpecMap OpQuantizerConfig::Input() const { return op_input ? *op_input : DefaultActivationMap(); }
TensorSpecMap OpQuantizerConfig::Output() const { return op_output ? *op_output : DefaultActivationMap(); }
TensorSpecMap OpQuantizerConfig::State() const { return op_state ? *op_state : DefaultWeightMap(); }

std::string NameSelector::ToString() const {
  if (!is_regex) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '"' || c == '\\') out += '\\';
      if (c == '\n') { out += "\\n"; continue; }
      if (c == '\t') { out += "\\t"; continue; }
      out += c;
    }
    return out + "\"";
  }
  std::string out = "/";
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      out += text[i];
      out += text[++i];
    } else if (text[i] == '/') {
      out += "\\/";
    } else {
      out += text[i];
    }
  }
  return out + "/";
}

bool Expectation::Holds(int64_t actual) const {
  switch (op) {
    case Op::kEq: return actual == count;
    case Op::kGe: return actual >= count;
    case Op::kLe: return actual <= count;
    case Op::kGt: return actual > count;
    case Op::kLt: return actual < count;
  }
  return false;
}

std::string Expectation::ToString() const {
  static constexpr const char* kOps[] = {"==", ">=", "<=", ">", "<"};
  return fmt::format("{} {}", kOps[static_cast<int>(op)], count);
}

ModuleQuantizerConfig ModuleQuantizerConfig::Disabled() {
  ModuleQuantizerConfig c;
  c.op_input = TensorSpecMap{};
  c.op_output = TensorSpecMap{};
  c.op_state = TensorSpecMap{};
  return c;
}

OpQuantizerConfig ModuleQuantizerConfig::DefaultOpConfig() const {
  OpQuantizerConfig c;
  c.op_input = op_input ? *op_input : DefaultActivationMap();
  c.op_output = op_output ? *op_output : DefaultActivationMap();
  c.op_state = op_state ? *op_state : DefaultWeightMap();
  c.where = where;
  return c;
}

ModuleQuantizerConfig ModuleQuantizerConfig::ForChild() const {
  ModuleQuantizerConfig c = *this;
  c.module_input = {};
  c.module_output = {};
  c.module_state = {};
  return c;
}

}  // namespace qrules
