// Model → IR text (PrintModelText) and the `inspect` summary (RenderModelSummary).
#include <algorithm>
#include <fmt/format.h>

#include "ir/ir_internal.h"
#include "qrules/ir.h"

namespace qrules {
namespace {

using internal::FormatFloat;
using internal::NameOrQuote;
using internal::Quote;

std::string DimText(const Dim& d) {
  if (d.is_static()) return std::to_string(d.size);
  if (!d.symbol.empty() && internal::IsIdentifier(d.symbol)) return d.symbol;
  return "?";
}

std::string TypeText(std::string_view dtype_name, const Shape& shape) {
  std::string s(dtype_name.empty() ? "unknown" : dtype_name);
  if (!shape.known) return s;
  s += "[";
  for (size_t i = 0; i < shape.dims.size(); ++i) {
    if (i) s += ", ";
    s += DimText(shape.dims[i]);
  }
  return s + "]";
}

std::string TypeText(const TensorInfo& t) { return TypeText(t.dtype_name, t.shape); }

std::string FloatAttr(float v) {
  std::string s = FormatFloat(v);
  if (s.find_first_of(".ein") == std::string::npos) s += ".0";
  return s;
}

std::string DataText(const Tensor& t) {
  std::string s = "[";
  size_t n = t.is_float() ? t.f32.size() : t.i64.size();
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ", ";
    s += t.is_float() ? FormatFloat(t.f32[i]) : std::to_string(t.i64[i]);
  }
  return s + "]";
}

std::string AttributeText(const Attribute& a) {
  std::vector<std::string> parts;
  switch (a.kind) {
    case Attribute::Kind::kInt: return std::to_string(a.i);
    case Attribute::Kind::kFloat: return FloatAttr(a.f);
    case Attribute::Kind::kString: return Quote(a.s);
    case Attribute::Kind::kTensor:
      return fmt::format("tensor {} = {}", TypeText(internal::DtypeName(a.t.type), Shape::Of(a.t.shape)),
                         DataText(a.t));
    case Attribute::Kind::kInts:
      for (int64_t v : a.ints) parts.push_back(std::to_string(v));
      break;
    case Attribute::Kind::kFloats:
      for (float v : a.floats) parts.push_back(FloatAttr(v));
      break;
    case Attribute::Kind::kStrings:
      for (const auto& v : a.strings) parts.push_back(Quote(v));
      break;
  }
  return fmt::format("[{}]", fmt::join(parts, ", "));
}

}  // namespace

std::string PrintModelText(const Model& model, const PrintOptions& options) {
  std::string out = "qrules-ir 1\n";
  for (const Module& m : model.modules()) {
    if (m.name.empty() && m.type.empty()) continue;
    out += fmt::format("module {}", Quote(m.name));
    if (!m.type.empty()) out += fmt::format(" : {}", Quote(m.type));
    out += "\n";
  }
  for (TensorId id : model.inputs()) {
    const TensorInfo& t = model.tensor(id);
    out += fmt::format("input {} : {}\n", NameOrQuote(t.name), TypeText(t));
  }
  for (const TensorInfo& t : model.tensors()) {
    if (!t.is_state()) continue;
    out += fmt::format("state {} : {}", NameOrQuote(t.name), TypeText(t));
    const std::string& owner = model.module(t.owner).name;
    size_t dot = t.name.rfind('.');
    bool derivable = dot != std::string::npos && dot > 0 && dot + 1 < t.name.size() &&
                     t.name.substr(0, dot) == owner && t.name.substr(dot + 1) == t.local_name;
    if (!derivable) out += fmt::format(" owner {} local {}", Quote(owner), NameOrQuote(t.local_name));
    if (t.data && options.include_data && static_cast<size_t>(t.data->numel()) <= options.max_data_elements) {
      out += " = " + DataText(*t.data);
    }
    out += "\n";
  }
  for (const Op& op : model.ops()) {
    out += fmt::format("op {} {}", NameOrQuote(op.type), Quote(op.name));
    if (op.module != 0) out += fmt::format(" in {}", Quote(model.module(op.module).name));
    if (!op.onnx_type.empty()) out += fmt::format(" onnx {}", NameOrQuote(op.onnx_type));
    if (const OpTypeInfo* info = FindOpType(op.type); info && info->weight_input >= 0 &&
        (op.weight_output_axis != info->per_channel_axis || op.weight_input_axis != info->per_block_axis)) {
      out += fmt::format(" weight_axes({}, {})", op.weight_output_axis, op.weight_input_axis);
    }
    std::vector<std::string> ins, outs;
    for (TensorId in : op.inputs) ins.push_back(in == kNoTensor ? "~" : NameOrQuote(model.tensor(in).name));
    for (TensorId o : op.outputs) {
      const TensorInfo& t = model.tensor(o);
      outs.push_back(fmt::format("{} : {}", NameOrQuote(t.name), TypeText(t)));
    }
    out += fmt::format(" ({}) -> {}", fmt::join(ins, ", "), fmt::join(outs, ", "));
    if (!op.attributes.empty()) {
      std::vector<std::string> attrs;
      for (const auto& [k, v] : op.attributes) attrs.push_back(fmt::format("{} = {}", k, AttributeText(v)));
      out += fmt::format(" {{ {} }}", fmt::join(attrs, ", "));
    }
    out += "\n";
  }
  for (TensorId id : model.outputs()) out += fmt::format("output {}\n", NameOrQuote(model.tensor(id).name));
  return out;
}

std::string RenderModelSummary(const Model& model) {
  std::string out = fmt::format("model {}\n", model.name());
  auto module_label = [&](ModuleId id) {
    const std::string& n = model.module(id).name;
    return n.empty() ? std::string("(root)") : n;
  };

  out += fmt::format("\nmodules ({}):\n", model.modules().size());
  size_t width = 6;
  for (const Module& m : model.modules()) width = std::max(width, m.name.size());
  for (const Module& m : model.modules()) {
    std::string label = m.name.empty() ? "(root)" : m.name;
    out += fmt::format("  {:<{}}  {}\n", label, width, m.type.empty() ? "-" : m.type);
  }

  out += fmt::format("\nops ({}), in topological order:\n", model.ops().size());
  size_t name_w = 4, type_w = 4;
  for (const Op& op : model.ops()) {
    name_w = std::max(name_w, op.name.size());
    type_w = std::max(type_w, op.type.size());
  }
  for (const Op& op : model.ops()) {
    const OpTypeInfo* info = FindOpType(op.type);
    std::string tag = IsRegisteredOp(op.type)            ? ""
                      : info && info->activation         ? "  [activation]"
                      : info && info->batch_norm         ? "  [batch_norm]"
                                                         : "  [unregistered]";
    out += fmt::format("  {:<{}}  {:<{}}  module {}{}{}\n", op.name, name_w, op.type, type_w, module_label(op.module),
                       op.onnx_type.empty() ? "" : fmt::format("  (onnx {})", op.onnx_type), tag);
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      if (op.inputs[i] == kNoTensor) continue;
      const TensorInfo& t = model.tensor(op.inputs[i]);
      std::string_view slot = model.InputName(op, i);
      std::string key = slot.empty() ? fmt::format("input {}", i) : fmt::format("input {} ({})", i, slot);
      if (t.is_state()) {
        out += fmt::format("      {:<20} state {}  [owner {}, local {}]  {}\n", key, t.name, module_label(t.owner),
                           t.local_name, TypeText(t));
      } else {
        out += fmt::format("      {:<20} {}  {}\n", key, t.name, TypeText(t));
      }
    }
    for (size_t i = 0; i < op.outputs.size(); ++i) {
      const TensorInfo& t = model.tensor(op.outputs[i]);
      out += fmt::format("      {:<20} {}  {}\n", fmt::format("output {}", i), t.name, TypeText(t));
    }
  }

  out += "\ngraph inputs:\n";
  for (TensorId id : model.inputs()) {
    out += fmt::format("  {}  {}\n", model.tensor(id).name, TypeText(model.tensor(id)));
  }
  out += "graph outputs:\n";
  for (TensorId id : model.outputs()) {
    out += fmt::format("  {}  {}\n", model.tensor(id).name, TypeText(model.tensor(id)));
  }
  out += "\nstate tensors (owner.local):\n";
  for (const TensorInfo& t : model.tensors()) {
    if (!t.is_state()) continue;
    const std::string& owner = model.module(t.owner).name;
    out += fmt::format("  {:<24} {:<28} {}{}\n", t.name,
                       owner.empty() ? t.local_name : owner + "." + t.local_name, TypeText(t),
                       t.data ? "" : "  (no data)");
  }
  return out;
}

}  // namespace qrules
