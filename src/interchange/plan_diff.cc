// Plan lockfile diffs (include/qrules/plan_diff.h).
#include "qrules/plan_diff.h"

#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>


namespace qrules {
namespace {

using J = nlohmann::json;

struct TensorRow {
  std::string role, key, tensor, source;
  const J* spec = nullptr;  // null: float
};
struct OpRow {
  std::string name, type;
  std::vector<TensorRow> tensors;
};
struct LoadedPlan {
  J root;
  std::vector<OpRow> ops;
};

std::string KeyText(const J& k) {
  if (k.is_number_integer()) return std::to_string(k.get<long long>());
  if (k.is_string()) return k.get<std::string>();
  return k.dump(-1, ' ', false, J::error_handler_t::replace);
}

// "int8 symmetric per_channel(axis=0) static", like SpecSummary, from the plan JSON.
std::string Summary(const J* spec) {
  if (!spec || spec->is_null()) return "float";
  auto str = [&](const char* k) { return spec->contains(k) && (*spec)[k].is_string() ? (*spec)[k].get<std::string>() : "?"; };
  std::string g = "?";
  if (spec->contains("granularity") && (*spec)["granularity"].is_object()) {
    const J& gr = (*spec)["granularity"];
    g = gr.value("type", std::string("?"));
    auto num = [&](const char* k) { return gr.contains(k) && !gr[k].is_null() ? gr[k].dump() : std::string("?"); };
    if (g == "per_channel") g += fmt::format("(axis={})", num("axis"));
    if (g == "per_block") {
      std::string b = gr.contains("block_size") && gr["block_size"].is_array() ? gr["block_size"].dump() : num("block_size");
      g += fmt::format("(axis={},block={})", num("axis"), b);
    }
  }
  std::string out = fmt::format("{} {} {} {}", str("dtype"), str("qscheme"), g, str("qparams"));
  if (str("qformulation") == "minval") out += " minval";
  if (spec->contains("averaging_constant") && (*spec)["averaging_constant"].is_number()) {
    double c = (*spec)["averaging_constant"].get<double>();
    if (std::abs(c - 0.01) > 1e-9) out += fmt::format("(c={})", static_cast<float>(c));
  }
  if (spec->contains("float_range") && (*spec)["float_range"].is_array() && (*spec)["float_range"].size() == 2) {
    const J& r = (*spec)["float_range"];
    if (!r[0].is_null() || !r[1].is_null()) {
      out += fmt::format(" range[{},{}]", r[0].is_null() ? "none" : r[0].dump(), r[1].is_null() ? "none" : r[1].dump());
    }
  }
  if (str("scale_dtype") != "none" && str("scale_dtype") != "?") out += " e8m0-scale";
  return out;
}

class Loader {
 public:
  Loader(const Source& src, std::vector<Diagnostic>& diags) : src_(src), diags_(diags) {}

  bool Load(LoadedPlan& plan) {
    try {
      plan.root = J::parse(src_.text());
    } catch (const J::parse_error& e) {
      size_t byte = e.byte > 0 ? e.byte - 1 : 0;
      std::string msg = e.what();
      if (auto p = msg.find("]: "); p != std::string::npos) msg = msg.substr(p + 3);
      Error(DiagLocation::From(src_, static_cast<uint32_t>(std::min(byte, src_.text().size())),
                               static_cast<uint32_t>(std::min(byte + 1, src_.text().size()))),
            fmt::format("not a plan: invalid JSON: {}", msg));
      return false;
    } catch (const J::exception& e) {
      // A number out of range (1e999) is not a parse_error; nothing else may escape either.
      std::string msg = e.what();
      if (auto p = msg.find("] "); p != std::string::npos) msg = msg.substr(p + 2);
      Error(DiagLocation::From(src_, 0, 1), fmt::format("not a plan: {}", msg));
      return false;
    }
    const J& root = plan.root;
    if (!root.is_object()) return Shape("", "expected a JSON object (the output of 'qrules plan --format json')");
    if (!root.contains("ops") || !root["ops"].is_array()) return Shape("/ops", "missing the 'ops' array");
    std::set<std::string> names;
    for (size_t i = 0; i < root["ops"].size(); ++i) {
      const J& op = root["ops"][i];
      std::string at = fmt::format("/ops/{}", i);
      if (!op.is_object() || !op.contains("name") || !op["name"].is_string()) return Shape(at, "an op needs a string 'name'");
      OpRow row;
      row.name = op["name"].get<std::string>();
      row.type = op.contains("type") && op["type"].is_string() ? op["type"].get<std::string>() : "";
      if (!names.insert(row.name).second) return Shape(at, fmt::format("op '{}' appears twice", row.name));
      if (!op.contains("tensors") || !op["tensors"].is_array()) return Shape(at + "/tensors", "an op needs a 'tensors' array");
      std::set<std::pair<std::string, std::string>> keys;
      for (size_t t = 0; t < op["tensors"].size(); ++t) {
        const J& tj = op["tensors"][t];
        std::string tat = fmt::format("{}/tensors/{}", at, t);
        if (!tj.is_object() || !tj.contains("role") || !tj["role"].is_string()) return Shape(tat, "a tensor needs a string 'role'");
        if (!tj.contains("key") || !(tj["key"].is_string() || tj["key"].is_number_integer())) {
          return Shape(tat, "a tensor needs a 'key' (an index or a name)");
        }
        if (!tj.contains("spec") || !(tj["spec"].is_null() || tj["spec"].is_object())) {
          return Shape(tat, "a tensor needs a 'spec' (an object, or null for float)");
        }
        if (tj.contains("source") && !(tj["source"].is_null() || tj["source"].is_string())) {
          return Shape(tat + "/source", "'source' must be a string or null");
        }
        TensorRow tr;
        tr.role = tj["role"].get<std::string>();
        tr.key = KeyText(tj["key"]);
        tr.tensor = tj.contains("tensor") && tj["tensor"].is_string() ? tj["tensor"].get<std::string>() : "";
        tr.source = tj.contains("source") && tj["source"].is_string() ? tj["source"].get<std::string>() : "";
        tr.spec = tj["spec"].is_null() ? nullptr : &tj["spec"];
        if (!keys.insert({tr.role, tr.key}).second) {
          return Shape(tat, fmt::format("op '{}' lists {} '{}' twice", row.name, tr.role, tr.key));
        }
        row.tensors.push_back(std::move(tr));
      }
      plan.ops.push_back(std::move(row));
    }
    return true;
  }

 private:
  bool Shape(const std::string& pointer, const std::string& message) {
    DiagLocation loc;
    loc.file = src_.name();
    Error(loc, fmt::format("not a plan: {}{}", message, pointer.empty() ? "" : fmt::format(" (at {})", pointer)));
    return false;
  }
  void Error(DiagLocation loc, std::string message) {
    diags_.push_back(MakeDiagnostic(DiagCode::kPlanInvalid, std::move(loc), std::move(message)));
  }
  const Source& src_;
  std::vector<Diagnostic>& diags_;
};

PlanChange TensorChange(PlanChange::Kind kind, const OpRow& op, const TensorRow* before, const TensorRow* after) {
  PlanChange c;
  c.kind = kind;
  c.op = op.name;
  c.op_type = op.type;
  const TensorRow& any = after ? *after : *before;
  c.role = any.role;
  c.key = any.key;
  c.tensor = any.tensor;
  if (before) {
    c.old_spec = Summary(before->spec);
    c.old_source = before->source;
  }
  if (after) {
    c.new_spec = Summary(after->spec);
    c.new_source = after->source;
  }
  return c;
}

}  // namespace

PlanDiffResult DiffPlanJson(const Source& old_plan, const Source& new_plan) {
  PlanDiffResult r;
  r.diff.old_name = old_plan.name();
  r.diff.new_name = new_plan.name();
  LoadedPlan a, b;
  bool ok_a = Loader(old_plan, r.diagnostics).Load(a);
  bool ok_b = Loader(new_plan, r.diagnostics).Load(b);
  if (!ok_a || !ok_b) return r;
  std::map<std::string, const OpRow*> old_ops, new_ops;
  for (const auto& op : a.ops) old_ops[op.name] = &op;
  for (const auto& op : b.ops) new_ops[op.name] = &op;
  for (const auto& op : b.ops) {
    auto it = old_ops.find(op.name);
    if (it == old_ops.end()) {
      PlanChange c;
      c.kind = PlanChange::Kind::kOpAdded;
      c.op = op.name;
      c.op_type = op.type;
      r.diff.changes.push_back(std::move(c));
      continue;
    }
    const OpRow& prev = *it->second;
    for (const auto& t : op.tensors) {
      const TensorRow* before = nullptr;
      for (const auto& pt : prev.tensors) {
        if (pt.role == t.role && pt.key == t.key) before = &pt;
      }
      if (!before) {
        r.diff.changes.push_back(TensorChange(PlanChange::Kind::kTensorAdded, op, nullptr, &t));
        continue;
      }
      bool spec_changed = (before->spec == nullptr) != (t.spec == nullptr) ||
                          (before->spec && t.spec && *before->spec != *t.spec);
      bool source_changed = before->source != t.source;
      if (!spec_changed && !source_changed) continue;
      PlanChange c = TensorChange(PlanChange::Kind::kTensorChanged, op, before, &t);
      c.spec_changed = spec_changed;
      c.source_changed = source_changed;
      r.diff.changes.push_back(std::move(c));
    }
    for (const auto& pt : prev.tensors) {
      bool kept = false;
      for (const auto& t : op.tensors) kept = kept || (pt.role == t.role && pt.key == t.key);
      if (!kept) r.diff.changes.push_back(TensorChange(PlanChange::Kind::kTensorRemoved, op, &pt, nullptr));
    }
  }
  for (const auto& op : a.ops) {
    if (new_ops.count(op.name)) continue;
    PlanChange c;
    c.kind = PlanChange::Kind::kOpRemoved;
    c.op = op.name;
    c.op_type = op.type;
    r.diff.changes.push_back(std::move(c));
  }
  return r;
}

PlanDiffResult DiffPlanJsonFiles(const std::string& old_path, const std::string& new_path) {
  PlanDiffResult r;
  std::string texts[2];
  const std::string* paths[2] = {&old_path, &new_path};
  for (int i = 0; i < 2; ++i) {
    if (auto d = ReadFileBounded(*paths[i], size_t{1} << 30, texts[i])) r.diagnostics.push_back(std::move(*d));
  }
  if (!r.diagnostics.empty()) return r;
  return DiffPlanJson(Source(old_path, std::move(texts[0])), Source(new_path, std::move(texts[1])));
}

std::string RenderPlanDiff(const PlanDiff& diff) {
  if (diff.empty()) return "no changes\n";
  std::string out;
  size_t changed = 0, added = 0, removed = 0, ops_added = 0, ops_removed = 0;
  auto source = [](const std::string& s) { return s.empty() ? std::string("(none)") : s; };
  for (const PlanChange& c : diff.changes) {
    std::string tensor = c.tensor.empty() ? "" : fmt::format(" '{}'", c.tensor);
    switch (c.kind) {
      case PlanChange::Kind::kOpAdded:
        ++ops_added;
        out += fmt::format("+ op {} ({}): added\n", c.op, c.op_type);
        break;
      case PlanChange::Kind::kOpRemoved:
        ++ops_removed;
        out += fmt::format("- op {} ({}): removed\n", c.op, c.op_type);
        break;
      case PlanChange::Kind::kTensorAdded:
        ++added;
        out += fmt::format("+ {} {} {}{}: {} [{}]\n", c.op, c.role, c.key, tensor, c.new_spec, source(c.new_source));
        break;
      case PlanChange::Kind::kTensorRemoved:
        ++removed;
        out += fmt::format("- {} {} {}{}: {} [{}]\n", c.op, c.role, c.key, tensor, c.old_spec, source(c.old_source));
        break;
      case PlanChange::Kind::kTensorChanged: {
        ++changed;
        std::string what;
        if (c.spec_changed) what = fmt::format("{} -> {}", c.old_spec, c.new_spec);
        else what = c.new_spec;
        std::string src = c.source_changed ? fmt::format("{} -> {}", source(c.old_source), source(c.new_source))
                                           : source(c.new_source);
        out += fmt::format("~ {} {} {}{}: {} [{}]\n", c.op, c.role, c.key, tensor, what, src);
        break;
      }
    }
  }
  std::vector<std::string> parts;
  if (changed) parts.push_back(fmt::format("{} tensor{} changed", changed, changed == 1 ? "" : "s"));
  if (added) parts.push_back(fmt::format("{} tensor{} added", added, added == 1 ? "" : "s"));
  if (removed) parts.push_back(fmt::format("{} tensor{} removed", removed, removed == 1 ? "" : "s"));
  if (ops_added) parts.push_back(fmt::format("{} op{} added", ops_added, ops_added == 1 ? "" : "s"));
  if (ops_removed) parts.push_back(fmt::format("{} op{} removed", ops_removed, ops_removed == 1 ? "" : "s"));
  out += fmt::format("{}\n", fmt::join(parts, ", "));
  return out;
}

}  // namespace qrules
