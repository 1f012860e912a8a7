// Compiled .qrules configuration -> coreai_opt YAML (include/qrules/coreai_yaml.h).
//
// Written by hand rather than with YAML::Emitter: quoting must be exact, because PyYAML reads a
// plain `0` as an integer but `'0'` as a string, and `*` or `null` as something else entirely.
// Specs are flow mappings, everything else block mappings with two-space indents.
#include <fmt/format.h>

#include "qrules/coreai_yaml.h"

namespace qrules {
namespace {

bool NeedsQuotes(std::string_view s) {
  if (s.empty()) return true;
  static constexpr std::string_view kSpecial[] = {"null", "Null", "NULL", "~",    "true", "True", "TRUE", "false",
                                                  "False", "FALSE", "yes", "Yes", "YES", "no",   "No",   "NO",
                                                  "on",   "On",   "ON",   "off",  "Off", "OFF", "y",    "Y", "n", "N"};
  for (auto k : kSpecial) {
    if (s == k) return true;
  }
  if (!(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return true;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) return true;
  }
  return false;
}

// A YAML string scalar that PyYAML reads back as exactly `s`, as a string.
std::string YamlString(std::string_view s) {
  if (!NeedsQuotes(s)) return std::string(s);
  bool plain_ok = true;
  for (unsigned char c : s) plain_ok = plain_ok && c >= 0x20 && c != 0x7f;
  if (plain_ok) {
    std::string out = "'";
    for (char c : s) {
      if (c == '\'') out += '\'';
      out += c;
    }
    return out + "'";
  }
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Number(float v) {
  std::string s = fmt::format("{}", v);
  // PyYAML's YAML 1.1 float needs a '.': 6 -> 6.0, 1e-05 -> 1.0e-05.
  if (s.find_first_of(".eEn") == std::string::npos) return s + ".0";
  if (s.find('.') == std::string::npos) {
    auto e = s.find_first_of("eE");
    if (e != std::string::npos) s.insert(e, ".0");
  }
  if (auto e = s.find_first_of("eE"); e != std::string::npos && e + 1 < s.size() && s[e + 1] != '-' && s[e + 1] != '+') {
    s.insert(e + 1, "+");
  }
  return s;
}

class Exporter {
 public:
  explicit Exporter(const CompiledRules& rules) : rules_(rules) {}

  YamlExportResult Run() {
    const QuantizerConfig& c = rules_.config;
    Line(0, "quantization_config:");
    bool any = false;
    if (c.global_disabled) {
      Line(1, "global_config: null");
      any = true;
    } else if (c.global) {
      ModuleConfig(1, "global_config", *c.global, false);
      any = true;
    }
    if (!c.module_type.empty()) {
      Line(1, "module_type_configs:");
      for (const auto& e : c.module_type) {
        DropExpect(e.expect, "module_type");
        if (e.disabled) {
          Line(2, YamlString(e.type_name) + ": null");
        } else {
          ModuleConfig(2, YamlString(e.type_name), e.config, false);
        }
      }
      any = true;
    }
    if (!c.module_name.empty()) {
      Line(1, "module_name_configs:");
      for (const auto& e : c.module_name) {
        DropExpect(e.expect, "module_name");
        std::string key = YamlString(Pattern(e.selector));
        if (e.disabled) {
          Line(2, key + ": null");
        } else {
          ModuleConfig(2, key, e.config, false);
        }
      }
      any = true;
    }
    if (!any) out_ = "quantization_config: {}\n";
    YamlExportResult r;
    r.text = std::move(out_);
    r.diagnostics = std::move(diags_);
    return r;
  }

 private:
  void Line(int indent, const std::string& text) {
    out_ += std::string(static_cast<size_t>(indent) * 2, ' ');
    out_ += text;
    out_ += '\n';
  }

  void Warn(const SourceRange& where, std::string message) {
    Diagnostic d = MakeDiagnostic(DiagCode::kYamlInvalid, DiagLocation::From(where), std::move(message));
    d.severity = Severity::kWarning;
    diags_.push_back(std::move(d));
  }

  void DropExpect(const std::optional<Expectation>& e, std::string_view what) {
    if (!e) return;
    Warn(e->where, fmt::format("coreai_opt has no expect clauses; the 'expect {}' of this {} entry is not exported",
                               e->ToString(), what));
  }

  static std::string Pattern(const NameSelector& s) { return s.is_regex ? s.text : EscapeRegex(s.text); }

  bool Empty(const ModuleQuantizerConfig& m) {
    return !m.op_input && !m.op_output && !m.op_state && m.op_type.empty() && m.op_name.empty() &&
           m.module_input.empty() && m.module_output.empty() && m.module_state.empty() && !m.qat_schedule;
  }

  void ModuleConfig(int indent, const std::string& key, const ModuleQuantizerConfig& m, bool) {
    if (Empty(m)) {
      Line(indent, key + ": {}");
      return;
    }
    Line(indent, key + ":");
    Group(indent + 1, "op_input_spec", m.op_input, false);
    Group(indent + 1, "op_output_spec", m.op_output, false);
    Group(indent + 1, "op_state_spec", m.op_state, true);
    if (!m.op_type.empty()) {
      Line(indent + 1, "op_type_config:");
      for (const auto& e : m.op_type) {
        DropExpect(e.expect, "op_type");
        OpConfig(indent + 2, YamlString(e.op_type), e.config);
      }
    }
    if (!m.op_name.empty()) {
      Line(indent + 1, "op_name_config:");
      for (const auto& e : m.op_name) {
        DropExpect(e.expect, "op_name");
        OpConfig(indent + 2, YamlString(Pattern(e.selector)), e.config);
      }
    }
    if (!m.module_input.empty()) Group(indent + 1, "module_input_spec", m.module_input, false);
    if (!m.module_output.empty()) Group(indent + 1, "module_output_spec", m.module_output, false);
    if (!m.module_state.empty()) Group(indent + 1, "module_state_spec", m.module_state, true);
    if (m.qat_schedule) {
      const QATSchedule& s = *m.qat_schedule;
      Line(indent + 1, fmt::format("qat_schedule: {{enable_observer: {}, enable_fake_quant: {}, disable_observer: {}}}",
                                   s.enable_observer, s.enable_fake_quant,
                                   s.disable_observer ? std::to_string(*s.disable_observer) : "null"));
    }
  }

  void OpConfig(int indent, const std::string& key, const std::optional<OpQuantizerConfig>& c) {
    if (!c) {
      Line(indent, key + ": null");
      return;
    }
    if (!c->op_input && !c->op_output && !c->op_state) {
      Line(indent, key + ": {}");
      return;
    }
    Line(indent, key + ":");
    Group(indent + 1, "op_input_spec", c->op_input, false);
    Group(indent + 1, "op_output_spec", c->op_output, false);
    Group(indent + 1, "op_state_spec", c->op_state, true);
  }

  void Group(int indent, const std::string& name, const TensorGroup& g, bool state) {
    if (!g) return;  // omitted: the class default
    Group(indent, name, *g, state);
  }
  void Group(int indent, const std::string& name, const TensorSpecMap& m, bool state) {
    if (m.empty()) {
      Line(indent, name + ": null");
      return;
    }
    Line(indent, name + ":");
    for (const auto& e : m.entries) {
      std::string key;
      switch (e.key.kind) {
        case TensorKey::Kind::kIndex: key = std::to_string(e.key.index); break;
        case TensorKey::Kind::kAll: key = "'*'"; break;
        case TensorKey::Kind::kName: key = YamlString(e.key.name); break;
      }
      (void)state;
      Line(indent + 1, key + ": " + (e.spec ? Spec(*e.spec) : std::string("null")));
    }
  }

  std::string Spec(const QuantizationSpec& s) {
    std::vector<std::string> f;
    f.push_back(fmt::format("dtype: {}", DtypeName(s.dtype)));
    f.push_back(fmt::format("qscheme: {}", QSchemeName(s.qscheme)));
    f.push_back(fmt::format("qformulation: {}", QFormulationName(s.qformulation)));
    const Granularity& g = s.granularity;
    std::string gran = fmt::format("{{type: {}", GranularityName(g.kind));
    if (g.axis) gran += fmt::format(", axis: {}", *g.axis);
    if (g.kind == GranularityKind::kPerBlock) {
      if (g.block_is_tuple) {
        gran += fmt::format(", block_size: [{}]", fmt::join(g.block_size, ", "));
      } else if (!g.block_size.empty()) {
        gran += fmt::format(", block_size: {}", g.block_size[0]);
      }
    }
    gran += "}";
    f.push_back("granularity: " + gran);
    f.push_back("fake_quantize_cls: default");
    f.push_back(fmt::format("qparam_calculator_cls: {}", QParamsName(s.qparams)));
    if (s.qparams == QParamsKind::kMovingAverage && s.averaging_constant != 0.01f) {
      Warn(s.where, fmt::format("coreai_opt's QuantizationSpec has no averaging_constant; it is exported as a "
                                "qrules extension field that coreai_opt rejects (averaging_constant {})",
                                s.averaging_constant));
      f.push_back(fmt::format("averaging_constant: {}", Number(s.averaging_constant)));
    }
    f.push_back("range_calculator_cls: minmax");
    f.push_back(fmt::format("float_range: [{}, {}]", s.float_range_min ? Number(*s.float_range_min) : "null",
                            s.float_range_max ? Number(*s.float_range_max) : "null"));
    f.push_back(fmt::format("scale_dtype: {}", s.scale_dtype == ScaleDtype::kNone ? "null" : ScaleDtypeName(s.scale_dtype)));
    return fmt::format("{{{}}}", fmt::join(f, ", "));
  }

  const CompiledRules& rules_;
  std::string out_;
  std::vector<Diagnostic> diags_;
};

}  // namespace

std::string EscapeRegex(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\.^$*+?()[]{}|").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

YamlExportResult ExportCoreaiYaml(const CompiledRules& rules) { return Exporter(rules).Run(); }

}  // namespace qrules
