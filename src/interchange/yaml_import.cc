// coreai_opt YAML -> .qrules (include/qrules/coreai_yaml.h).
//
// The YAML tree (yaml_tree.h) is walked once.  Everything coreai_opt would reject is reported at
// its YAML position; what passes is written as .qrules text, one construct per line, each line
// remembering the YAML position it came from.  That text is then compiled: the few rules this
// walk does not check itself (a spec's cross-field rules, mixed index and name keys) come back as
// diagnostics on generated lines and are moved to the YAML positions of those lines.  Finally the
// YAML comments are attached to the nearest following line and the text goes through Format.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include <fmt/format.h>
#include <re2/re2.h>

#include "interchange/yaml_tree.h"
#include "qrules/coreai_yaml.h"
#include "qrules/format.h"
#include "qrules/op_table.h"

namespace qrules {
namespace {

using interchange::YamlEntry;
using interchange::YamlMark;
using interchange::YamlNode;
using interchange::YamlNodePtr;
using SourcePtr = std::shared_ptr<const Source>;

constexpr std::string_view kTopKeys[] = {"quantization_config", "quantization_spec"};
constexpr std::string_view kQuantizerConfigFields[] = {"global_config", "module_type_configs", "module_name_configs",
                                                       "preserved_attributes", "execution_mode"};
constexpr std::string_view kModuleFields[] = {"op_input_spec",     "op_output_spec",     "op_state_spec",
                                              "op_type_config",    "op_name_config",     "module_input_spec",
                                              "module_output_spec", "module_state_spec", "qat_schedule"};
constexpr std::string_view kOpFields[] = {"op_input_spec", "op_output_spec", "op_state_spec"};
constexpr std::string_view kSpecFields[] = {"dtype",      "qscheme",     "qformulation",         "granularity",
                                            "fake_quantize_cls", "qparam_calculator_cls", "range_calculator_cls",
                                            "float_range", "scale_dtype"};
// Computed fields that coreai_opt's model_dump() writes and its constructor strips again.
constexpr std::string_view kComputedSpecFields[] = {"n_bits", "target_dtype", "quant_min", "quant_max"};
constexpr std::string_view kScheduleFields[] = {"enable_observer", "enable_fake_quant", "disable_observer"};
constexpr std::string_view kGranularities[] = {"per_tensor", "per_channel", "per_block"};
constexpr std::string_view kQSchemes[] = {"symmetric", "symmetric_with_clipping", "asymmetric"};
constexpr std::string_view kQFormulations[] = {"zp", "minval"};
constexpr std::string_view kQParams[] = {"default", "static", "moving_average", "global_minmax"};
constexpr std::string_view kKeywords[] = {"qrules",  "import",  "spec",         "global", "module_type",
                                          "module_name", "op_type", "op_name", "qat_schedule", "expect", "none"};

bool IsIdentifier(std::string_view s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  for (char c : s) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

bool Contains(std::span<const std::string_view> list, std::string_view s) {
  return std::find(list.begin(), list.end(), s) != list.end();
}

std::string QuoteString(std::string_view s) {
  NameSelector sel;
  sel.text = std::string(s);
  return sel.ToString();
}

std::string NumberText(double v) {
  std::string s = fmt::format("{}", v);
  return s;
}

struct OutLine {
  int indent = 0;
  std::string text;
  YamlMark mark;
  bool attach = false;  // comments may attach here
};

class Importer {
 public:
  Importer(SourcePtr source, const YamlImportOptions& options) : src_(std::move(source)), options_(options) {}

  YamlImportResult Run() {
    YamlImportResult result;
    interchange::YamlParseResult parsed = interchange::ParseYaml(src_);
    diags_ = std::move(parsed.diagnostics);
    if (parsed.root) Top(*parsed.root);
    if (!HasErrors(diags_)) CompileBack();
    if (!HasErrors(diags_)) {
      std::string text = Assemble(options_.keep_comments);
      FormatResult f = Format(std::make_shared<const Source>(OutputName(), text));
      if (!f.ok) {
        // Cannot happen for text this importer wrote; report rather than hide it.
        for (auto& d : f.diagnostics) diags_.push_back(d);
      } else {
        result.text = std::move(f.text);
      }
    }
    // Stable order: by position.
    std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
      return std::tie(a.location.line, a.location.column) < std::tie(b.location.line, b.location.column);
    });
    result.diagnostics = std::move(diags_);
    if (HasErrors(result.diagnostics)) result.text.clear();
    return result;
  }

 private:
  // --- diagnostics --------------------------------------------------------------------------------
  Diagnostic* Report(DiagCode code, const YamlNode& at, std::string message) {
    uint32_t len = at.IsScalar() && !at.quoted ? static_cast<uint32_t>(at.value.size()) : 1;
    return Report(code, at.mark, std::move(message), len);
  }
  Diagnostic* Report(DiagCode code, const YamlMark& at, std::string message, uint32_t len = 1) {
    if (mute_ > 0) return &scratch_;
    Diagnostic d = MakeDiagnostic(code, interchange::LocationOf(*src_, at, len), std::move(message));
    for (const auto& e : diags_) {
      if (e.code == d.code && e.location.line == d.location.line && e.location.column == d.location.column &&
          e.message == d.message) {
        return &scratch_;
      }
    }
    diags_.push_back(std::move(d));
    return &diags_.back();
  }
  Diagnostic* Warn(DiagCode code, const YamlNode& at, std::string message) {
    Diagnostic* d = Report(code, at, std::move(message));
    d->severity = Severity::kWarning;
    return d;
  }
  void UnknownField(const YamlNode& key, std::string_view where, std::span<const std::string_view> fields) {
    Diagnostic* d = Report(DiagCode::kUnknownField, key,
                           fmt::format("unknown field '{}' in {}", key.value, where));
    d->suggestions = SuggestSimilar(key.value, fields);
  }
  // A key must be a string (not an integer, null or collection).
  bool StringKey(const YamlNode& key, std::string_view where) {
    if (key.IsScalar() && !key.AsPlainInt()) return true;
    Report(DiagCode::kYamlInvalid, key.IsNull() ? key.mark : key.mark,
           fmt::format("{} keys are strings, got {}", where, key.KindName()));
    return false;
  }
  void WarnDuplicates(const YamlNode& map) {
    for (const auto& k : map.duplicate_keys) {
      for (const auto& e : map.entries) {
        if (e.key->value == k) {
          Warn(DiagCode::kDuplicateEntry, *e.key,
               fmt::format("key '{}' is given twice in this mapping; the last value is used", k));
          break;
        }
      }
    }
  }

  // --- output lines -------------------------------------------------------------------------------
  void Emit(int indent, std::string text, const YamlMark& mark) {
    out_->push_back({indent, std::move(text), mark, attach_depth_ == 0 && mark.valid});
  }
  void Close(int indent, std::string text = "}") { out_->push_back({indent, std::move(text), {}, false}); }

  // --- top level ------------------------------------------------------------------------------------
  void Top(const YamlNode& root) {
    if (root.IsNull()) {
      Report(DiagCode::kYamlInvalid, YamlMark{0, 0, true},
             "the YAML document is empty; expected a mapping with 'quantization_config'");
      return;
    }
    if (!root.IsMap()) {
      Report(DiagCode::kYamlInvalid, root, fmt::format("expected a mapping at the top level, got {}", root.KindName()));
      return;
    }
    WarnDuplicates(root);
    const YamlEntry* qc = nullptr;
    for (const auto& e : root.entries) {
      std::string k = e.key->IsScalar() ? e.key->value : "";
      if (e.key->IsScalar() && k == "quantization_config") {
        qc = &e;
      } else if (e.key->IsScalar() && k == "quantization_spec") {
        CollectNamedSpecs(*e.value);
      } else {
        Diagnostic* d = Report(DiagCode::kYamlInvalid, *e.key,
                               fmt::format("unexpected top-level key '{}'; the supported keys are "
                                           "'quantization_config' and 'quantization_spec'",
                                           e.key->IsScalar() ? e.key->value : e.key->KindName()));
        d->suggestions = SuggestSimilar(k, kTopKeys);
      }
    }
    if (!qc) {
      Report(DiagCode::kYamlInvalid, root.mark, "missing 'quantization_config' at the top level");
      return;
    }
    const YamlNode& cfg = *qc->value;
    if (!cfg.IsMap()) {
      Report(DiagCode::kYamlInvalid, cfg.IsNull() ? qc->key->mark : cfg.mark,
             fmt::format("'quantization_config' must be a mapping, got {}", cfg.KindName()));
      return;
    }
    WarnDuplicates(cfg);
    out_ = &body_;
    for (const auto& e : cfg.entries) {
      if (!StringKey(*e.key, "quantization_config")) continue;
      const std::string& k = e.key->value;
      const YamlNode& v = *e.value;
      if (k == "global_config") {
        Blank();
        if (v.IsNull()) {
          Emit(0, "global: none", e.key->mark);
        } else if (v.IsMap()) {
          Emit(0, "global {", e.key->mark);
          ModuleBody(v, /*is_global=*/true, 1);
          Close(0);
        } else {
          Report(DiagCode::kInvalidValue, v, fmt::format("'global_config' must be a mapping or null, got {}", v.KindName()));
        }
      } else if (k == "module_type_configs" || k == "module_name_configs") {
        bool by_type = k == "module_type_configs";
        if (v.IsNull()) continue;  // None => {}
        if (!v.IsMap()) {
          Report(DiagCode::kInvalidValue, v, fmt::format("'{}' must be a mapping, got {}", k, v.KindName()));
          continue;
        }
        WarnDuplicates(v);
        for (const auto& me : v.entries) ModuleScope(me, by_type);
      } else if (k == "execution_mode") {
        std::string mode = v.IsScalar() ? v.value : "";
        std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) { return std::tolower(c); });
        if (mode == "eager") {
          Warn(DiagCode::kYamlInvalid, v,
               "qrules resolves configurations in graph mode; eager-mode op names and input indices differ");
        } else if (mode != "graph" && mode != "pt2e") {
          Report(DiagCode::kInvalidValue, v, fmt::format("'{}' is not a valid ExecutionMode; expected graph or eager",
                                                         v.IsScalar() ? v.value : v.KindName()));
        }
      } else if (k == "preserved_attributes") {
        bool ok = v.IsNull() || v.kind == YamlNode::Kind::kSeq;
        if (ok && !v.IsNull()) {
          for (const auto& item : v.items) ok = ok && item->IsScalar();
        }
        if (!ok) Report(DiagCode::kInvalidValue, v, "'preserved_attributes' must be a list of attribute names or null");
        // No effect on quantization: nothing to write.
      } else {
        UnknownField(*e.key, "quantization_config", kQuantizerConfigFields);
      }
    }
  }

  void Blank() {
    if (!out_->empty()) out_->push_back({0, "", {}, false});
  }

  void ModuleScope(const YamlEntry& e, bool by_type) {
    const YamlNode& key = *e.key;
    std::string where = by_type ? "module_type_configs" : "module_name_configs";
    if (!StringKey(key, where)) return;
    std::string head;
    if (by_type) {
      if (key.value.find('.') == std::string::npos) {
        Report(DiagCode::kYamlInvalid, key,
               fmt::format("module type '{}' is not a fully-qualified class name (expected, for example, "
                           "torch.nn.modules.linear.Linear)",
                           key.value));
        return;
      }
      if (!CheckStringLiteral(key)) return;
      head = "module_type " + QuoteString(key.value);
    } else {
      auto sel = RegexSelector(key);
      if (!sel) return;
      head = "module_name " + *sel;
    }
    const YamlNode& v = *e.value;
    Blank();
    if (v.IsNull()) {
      Emit(0, head + ": none", key.mark);
    } else if (v.IsMap()) {
      Emit(0, head + " {", key.mark);
      ModuleBody(v, /*is_global=*/false, 1);
      Close(0);
    } else {
      Report(DiagCode::kInvalidValue, v, fmt::format("a module config must be a mapping or null, got {}", v.KindName()));
    }
  }

  bool CheckStringLiteral(const YamlNode& key) {
    for (unsigned char c : key.value) {
      if (c < 0x20 && c != '\t' && c != '\n') {
        Report(DiagCode::kYamlInvalid, key, "control characters are not supported in names");
        return false;
      }
    }
    return true;
  }

  // A module-name or op-name key: a Python regex matched against the whole name.
  std::optional<std::string> RegexSelector(const YamlNode& key) {
    if (key.value.find_first_of("\n\r") != std::string::npos) {
      Report(DiagCode::kRegexSyntax, key, "a name regex cannot contain a line break");
      return std::nullopt;
    }
    RE2 re(key.value, RE2::Quiet);
    if (!re.ok()) {
      Report(DiagCode::kRegexSyntax, key, fmt::format("invalid regex '{}': {}", key.value, re.error()));
      return std::nullopt;
    }
    NameSelector sel;
    sel.text = key.value;
    sel.is_regex = true;
    return sel.ToString();
  }

  // --- module and op configs ------------------------------------------------------------------------
  void ModuleBody(const YamlNode& m, bool is_global, int indent) {
    WarnDuplicates(m);
    for (const auto& e : m.entries) {
      if (!StringKey(*e.key, "config")) continue;
      const std::string& k = e.key->value;
      AttachScope attach(*this, e);
      if (k == "op_input_spec" || k == "op_output_spec") {
        Group(e, k.substr(0, k.size() - 5), /*int_keys=*/true, indent);
      } else if (k == "op_state_spec") {
        Group(e, "op_state", false, indent);
      } else if (k == "module_input_spec" || k == "module_output_spec" || k == "module_state_spec") {
        if (is_global) {
          bool empty = e.value->IsNull() || (e.value->IsMap() && e.value->entries.empty());
          if (!empty) {
            Report(DiagCode::kGlobalModuleSpec, *e.key,
                   fmt::format("global_config cannot have module_input_spec, module_output_spec, or "
                               "module_state_spec ('{}'); these are only allowed in module_type_configs and "
                               "module_name_configs",
                               k));
          }
          continue;
        }
        Group(e, k.substr(0, k.size() - 5), k != "module_state_spec", indent);
      } else if (k == "op_type_config" || k == "op_name_config") {
        const YamlNode& v = *e.value;
        if (v.IsNull()) continue;
        if (!v.IsMap()) {
          Report(DiagCode::kInvalidValue, v, fmt::format("'{}' must be a mapping, got {}", k, v.KindName()));
          continue;
        }
        WarnDuplicates(v);
        for (const auto& oe : v.entries) OpEntry(oe, k == "op_type_config", indent);
      } else if (k == "qat_schedule") {
        Schedule(e, indent);
      } else {
        UnknownField(*e.key, is_global ? "global_config" : "a module config", kModuleFields);
      }
    }
  }

  // Entries reached through `<<` or an alias are not places to attach comments.
  struct AttachScope {
    Importer& imp;
    bool active;
    AttachScope(Importer& i, const YamlEntry& e) : imp(i), active(e.from_merge || e.value_is_alias) {
      if (active) imp.attach_depth_++;
    }
    ~AttachScope() {
      if (active) imp.attach_depth_--;
    }
  };

  void OpEntry(const YamlEntry& e, bool by_type, int indent) {
    const YamlNode& key = *e.key;
    if (!StringKey(key, by_type ? "op_type_config" : "op_name_config")) return;
    AttachScope attach(*this, e);
    std::string head;
    if (by_type) {
      if (!IsIdentifier(key.value)) {
        Warn(DiagCode::kYamlInvalid, key,
             fmt::format("op type '{}' is not a torch function name, so it never matches an op; the entry is "
                         "dropped",
                         key.value));
        return;
      }
      head = "op_type " + key.value;
      if (!IsRegisteredOp(key.value)) {
        // coreai_opt gives op-level specs to registered patterns only, so this entry never
        // applies: keep it as a comment (an entry would only draw the unregistered-op-type lint).
        Emit(indent, fmt::format("# {}{}: not a registered op type, so coreai_opt never applies this entry",
                                 head, e.value->IsNull() ? ": none" : " {...}"),
             key.mark);
        return;
      }
    } else {
      auto sel = RegexSelector(key);
      if (!sel) return;
      head = "op_name " + *sel;
    }
    const YamlNode& v = *e.value;
    if (v.IsNull()) {
      Emit(indent, head + ": none", key.mark);
      return;
    }
    if (!v.IsMap()) {
      Report(DiagCode::kInvalidValue, v, fmt::format("an op config must be a mapping or null, got {}", v.KindName()));
      return;
    }
    WarnDuplicates(v);
    Emit(indent, head + " {", key.mark);
    for (const auto& ge : v.entries) {
      if (!StringKey(*ge.key, "op config")) continue;
      const std::string& k = ge.key->value;
      AttachScope ga(*this, ge);
      if (k == "op_input_spec" || k == "op_output_spec") {
        Group(ge, k.substr(0, k.size() - 5), true, indent + 1);
      } else if (k == "op_state_spec") {
        Group(ge, "op_state", false, indent + 1);
      } else {
        UnknownField(*ge.key, "an op config (OpQuantizerConfig has op_input_spec, op_output_spec and op_state_spec)",
                     kOpFields);
      }
    }
    Close(indent);
  }

  std::optional<long long> IntValue(const YamlNode& n) {
    if (auto i = n.AsPlainInt()) return i;
    if (!n.IsScalar()) return std::nullopt;
    // pydantic's lax mode: "3" -> 3, 1.0 -> 1, true -> 1.
    std::string_view s = n.value;
    if (!n.quoted && (s == "true" || s == "True" || s == "TRUE")) return 1;
    if (!n.quoted && (s == "false" || s == "False" || s == "FALSE")) return 0;
    if (auto d = NumberValue(n)) {
      if (std::floor(*d) == *d && std::fabs(*d) < 9e15) return static_cast<long long>(*d);
    }
    return std::nullopt;
  }

  std::optional<double> NumberValue(const YamlNode& n) {
    if (auto i = n.AsPlainInt()) return static_cast<double>(*i);
    if (!n.IsScalar() || n.value.empty()) return std::nullopt;
    std::string s = n.value;
    s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() || !std::isfinite(d)) return std::nullopt;
    return d;
  }

  void Schedule(const YamlEntry& e, int indent) {
    const YamlNode& v = *e.value;
    if (v.IsNull()) return;  // None: no schedule, the same as omitting it
    if (!v.IsMap()) {
      Report(DiagCode::kInvalidValue, v, fmt::format("'qat_schedule' must be a mapping or null, got {}", v.KindName()));
      return;
    }
    WarnDuplicates(v);
    long long enable_observer = 0, enable_fake_quant = 0;
    std::optional<long long> disable_observer;
    std::vector<std::string> fields;
    bool ok = true;
    for (const auto& se : v.entries) {
      const std::string& k = se.key->value;
      if (!se.key->IsScalar() || !Contains(kScheduleFields, k)) {
        Diagnostic* d = Warn(DiagCode::kUnknownField, *se.key,
                             fmt::format("unknown field '{}' in qat_schedule; coreai_opt ignores it",
                                         se.key->IsScalar() ? se.key->value : se.key->KindName()));
        d->suggestions = SuggestSimilar(k, kScheduleFields);
        continue;
      }
      const YamlNode& val = *se.value;
      if (k == "disable_observer" && val.IsNull()) {
        fields.push_back("disable_observer: none");
        continue;
      }
      auto i = IntValue(val);
      if (!i) {
        Report(DiagCode::kInvalidValue, val, fmt::format("'{}' must be an integer step, got {}", k, val.KindName()));
        ok = false;
        continue;
      }
      bool bad = k == "disable_observer" ? *i <= 0 : *i < 0;
      if (bad) {
        Report(DiagCode::kInvalidSchedule, val,
               fmt::format("'{}' must be {} 0, got {}", k, k == "disable_observer" ? ">" : ">=", *i));
        ok = false;
        continue;
      }
      if (k == "enable_observer") enable_observer = *i;
      if (k == "enable_fake_quant") enable_fake_quant = *i;
      if (k == "disable_observer") disable_observer = *i;
      fields.push_back(fmt::format("{}: {}", k, *i));
    }
    if (!ok) return;
    if (enable_fake_quant < enable_observer) {
      Report(DiagCode::kInvalidSchedule, v,
             fmt::format("enable_fake_quant ({}) must be >= enable_observer ({})", enable_fake_quant, enable_observer));
      return;
    }
    if (disable_observer && *disable_observer <= enable_observer) {
      Report(DiagCode::kInvalidSchedule, v,
             fmt::format("disable_observer ({}) must be > enable_observer ({})", *disable_observer, enable_observer));
      return;
    }
    if (disable_observer && *disable_observer < enable_fake_quant) {
      Report(DiagCode::kInvalidSchedule, v,
             fmt::format("disable_observer ({}) must be >= enable_fake_quant ({})", *disable_observer, enable_fake_quant));
      return;
    }
    Emit(indent, "qat_schedule {", e.key->mark);
    for (auto& f : fields) Emit(indent + 1, f, e.key->mark);
    Close(indent);
  }

  // --- tensor maps ---------------------------------------------------------------------------------
  void Group(const YamlEntry& e, const std::string& name, bool int_keys, int indent) {
    const YamlNode& v = *e.value;
    std::string yaml_name = e.key->value;
    if (v.IsNull()) {
      Emit(indent, name + ": none", e.key->mark);
      return;
    }
    if (!v.IsMap()) {
      Report(DiagCode::kInvalidValue, v.IsNull() ? *e.key : v,
             fmt::format("'{}' must be a mapping of tensor keys to specs, or null, got {}", yaml_name, v.KindName()));
      return;
    }
    WarnDuplicates(v);
    if (v.entries.empty()) {
      Emit(indent, name + " {}", e.key->mark);
      return;
    }
    Emit(indent, name + " {", e.key->mark);
    std::map<std::string, const YamlNode*> seen;  // converted key -> the YAML key
    for (const auto& te : v.entries) {
      AttachScope attach(*this, te);
      const YamlNode& key = *te.key;
      std::string qkey;
      bool converted = false;
      if (key.IsNull() || !key.IsScalar()) {
        Report(DiagCode::kInvalidKey, key.mark, fmt::format("'{}' keys are tensor indices, names or '*', got {}",
                                                             yaml_name, key.KindName()));
        continue;
      }
      if (auto i = key.AsPlainInt()) {
        if (!int_keys) {
          Report(DiagCode::kInvalidKey, key,
                 fmt::format("'{}' takes state names (such as weight) or '*', not the integer {}; write '\"{}\"' "
                             "for a state named {}",
                             yaml_name, *i, key.value, key.value));
          continue;
        }
        if (*i < 0) {
          Report(DiagCode::kInvalidKey, key, fmt::format("tensor index {} is negative", *i));
          continue;
        }
        qkey = std::to_string(*i);
      } else if (key.value == "*") {
        qkey = "*";
      } else if (int_keys && !key.value.empty() &&
                 std::all_of(key.value.begin(), key.value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        // coreai_opt: an ASCII digit string becomes an int ("01" -> 1).
        std::string digits = key.value;
        digits.erase(0, std::min(digits.find_first_not_of('0'), digits.size() - 1));
        if (digits.size() > 18) {
          Report(DiagCode::kInvalidKey, key, "index is too large");
          continue;
        }
        qkey = digits;
        converted = true;
      } else {
        if (!CheckStringLiteral(key)) continue;
        qkey = IsIdentifier(key.value) && !Contains(kKeywords, key.value) ? key.value : QuoteString(key.value);
      }
      auto [it, inserted] = seen.emplace(qkey, &key);
      if (!inserted) {
        const YamlNode& other = *it->second;
        bool other_converted = other.IsScalar() && other.quoted;
        Diagnostic* d = Report(DiagCode::kDuplicateEntry, key,
                               fmt::format("key collision in '{}': keys {} and {} both convert to {}", yaml_name,
                                           other_converted ? "'" + other.value + "'" : other.value,
                                           converted ? "'" + key.value + "'" : key.value, qkey));
        d->notes.push_back({interchange::LocationOf(*src_, other.mark), "the other key is here"});
        continue;
      }
      const YamlNode& val = *te.value;
      if (val.IsNull()) {
        Emit(indent + 1, qkey + ": none", key.mark);
      } else {
        SpecValue(indent + 1, qkey + ": ", val, key.mark, te.value_is_alias);
      }
    }
    Close(indent);
  }

  // --- specs -----------------------------------------------------------------------------------------
  struct NamedSpec {
    std::string name;
    bool declared = false;
    bool valid = true;
    std::vector<OutLine> lines;
  };

  void CollectNamedSpecs(const YamlNode& section) {
    if (!options_.named_specs) return;
    std::vector<const YamlNode*> todo = {&section};
    std::set<std::string> used;
    while (!todo.empty()) {
      const YamlNode* n = todo.back();
      todo.pop_back();
      if (!n->IsMap() && n->kind != YamlNode::Kind::kSeq) continue;
      if (n->IsMap() && !n->anchor.empty() && n != &section && !named_.count(n)) {
        std::string base = n->anchor;
        std::replace_if(base.begin(), base.end(), [](char c) { return !(std::isalnum(static_cast<unsigned char>(c)) || c == '_'); }, '_');
        if (base.empty() || std::isdigit(static_cast<unsigned char>(base[0])) || Contains(kKeywords, base)) base = "spec_" + base;
        std::string name = base;
        for (int i = 2; taken_names_.count(name); ++i) name = fmt::format("{}_{}", base, i);
        taken_names_.insert(name);
        named_[n].name = name;
      }
      if (n->IsMap()) {
        for (auto it = n->entries.rbegin(); it != n->entries.rend(); ++it) {
          if (!it->value_is_alias) todo.push_back(it->value.get());
        }
      } else {
        for (const auto& i : n->items) todo.push_back(i.get());
      }
    }
  }

  // The named spec for `n`, declared on first use; null if `n` is not a (valid) named spec.
  const NamedSpec* UseNamed(const YamlNode& n) {
    auto it = named_.find(&n);
    if (it == named_.end()) return nullptr;
    NamedSpec& ns = it->second;
    if (!ns.declared) {
      ns.declared = true;
      std::vector<OutLine>* saved = out_;
      int saved_attach = attach_depth_;
      attach_depth_ = 0;
      std::vector<OutLine> lines;
      out_ = &lines;
      std::string head = "spec " + ns.name;
      const NamedSpec* parent = n.merge_sources.size() == 1 ? UseNamed(*n.merge_sources[0]) : nullptr;
      out_ = &lines;
      size_t errors = CountSeverity(diags_, Severity::kError);
      Emit(0, parent ? fmt::format("{} : {} {{", head, parent->name) : head + " {", n.mark);
      SpecFields(n, /*own_only=*/parent != nullptr, 1);
      Close(0);
      ns.valid = CountSeverity(diags_, Severity::kError) == errors;
      ns.lines = std::move(lines);
      out_ = saved;
      attach_depth_ = saved_attach;
    }
    return ns.valid ? &ns : nullptr;
  }

  void SpecValue(int indent, const std::string& prefix, const YamlNode& v, const YamlMark& key_mark, bool alias) {
    if (!v.IsMap()) {
      Report(DiagCode::kInvalidValue, v, fmt::format("a spec must be a mapping (a QuantizationSpec) or null, got {}",
                                                     v.KindName()));
      return;
    }
    if (const NamedSpec* ns = UseNamed(v)) {
      Emit(indent, prefix + ns->name, key_mark);
      return;
    }
    if (named_.count(&v)) return;  // an invalid named spec: already reported
    // One report per YAML spec, however many aliases use it.
    bool seen = !validated_.insert(&v).second;
    if (seen) mute_++;
    if (alias) attach_depth_++;
    const NamedSpec* parent = v.merge_sources.size() == 1 ? UseNamed(*v.merge_sources[0]) : nullptr;
    Emit(indent, prefix + (parent ? parent->name + " {" : "{"), key_mark);
    SpecFields(v, parent != nullptr, indent + 1);
    Close(indent);
    if (alias) attach_depth_--;
    if (seen) mute_--;
  }

  void SpecFields(const YamlNode& m, bool own_only, int indent) {
    WarnDuplicates(m);
    const YamlNode* averaging = nullptr;
    std::string qparams_value;
    for (const auto& e : m.entries) {
      if (e.key->IsScalar() && e.key->value == "averaging_constant") averaging = e.value.get();
      if (e.key->IsScalar() && e.key->value == "qparam_calculator_cls" && e.value->IsScalar()) qparams_value = e.value->value;
    }
    for (const auto& e : m.entries) {
      if (own_only && e.from_merge) continue;
      AttachScope attach(*this, e);
      const YamlNode& key = *e.key;
      const YamlNode& v = *e.value;
      if (!key.IsScalar() || key.AsPlainInt()) {
        Report(DiagCode::kUnknownField, key.mark, fmt::format("unknown field {} in a spec", key.KindName()));
        continue;
      }
      const std::string& k = key.value;
      if (Contains(kComputedSpecFields, k)) continue;
      auto word = [&]() -> std::optional<std::string> {
        if (v.IsScalar() && !v.value.empty()) return v.value;
        Report(DiagCode::kInvalidValue, v.IsNull() ? key : v, fmt::format("'{}' must be a string, got {}", k, v.KindName()));
        return std::nullopt;
      };
      if (k == "dtype") {
        auto w = word();
        if (!w) continue;
        std::string s = *w;
        if (s.rfind("torch.", 0) == 0) s = s.substr(6);
        auto d = ParseDtype(s);
        if (!d) {
          Diagnostic* diag = Report(DiagCode::kUnknownDtype, v, fmt::format("unknown dtype '{}'", *w));
          diag->suggestions = SuggestSimilar(s, AllDtypeNames());
          continue;
        }
        Emit(indent, fmt::format("dtype: {}", DtypeName(*d)), key.mark);
      } else if (k == "qscheme") {
        auto w = word();
        if (!w) continue;
        auto q = ParseQScheme(*w);
        if (!q) {
          Diagnostic* diag = Report(DiagCode::kUnknownQscheme, v, fmt::format("unknown qscheme '{}'", *w));
          diag->suggestions = SuggestSimilar(*w, kQSchemes);
          continue;
        }
        Emit(indent, fmt::format("qscheme: {}", QSchemeName(*q)), key.mark);
      } else if (k == "qformulation") {
        auto w = word();
        if (!w) continue;
        auto q = ParseQFormulation(*w);
        if (!q) {
          Diagnostic* diag = Report(DiagCode::kUnknownQformulation, v, fmt::format("unknown qformulation '{}'", *w));
          diag->suggestions = SuggestSimilar(*w, kQFormulations);
          continue;
        }
        Emit(indent, fmt::format("qformulation: {}", QFormulationName(*q)), key.mark);
      } else if (k == "granularity") {
        if (auto g = GranularityText(v, key)) Emit(indent, "granularity: " + *g, key.mark);
      } else if (k == "fake_quantize_cls") {
        auto w = word();
        if (!w) continue;
        if (*w != "default") {
          Report(DiagCode::kInvalidValue, v,
                 fmt::format("no fake quantize class is registered with key '{}'; available: default", *w));
          continue;
        }
        Emit(indent, "fake_quantize: default", key.mark);
      } else if (k == "qparam_calculator_cls") {
        auto w = word();
        if (!w) continue;
        auto q = ParseQParams(*w);
        if (!q) {
          Diagnostic* diag = Report(DiagCode::kUnknownQparams, v,
                                    fmt::format("no qparams calculator is registered with key '{}'", *w));
          diag->suggestions = SuggestSimilar(*w, kQParams);
          continue;
        }
        std::string text = fmt::format("qparams: {}", QParamsName(*q));
        if (averaging && *q == QParamsKind::kMovingAverage) {
          auto c = NumberValue(*averaging);
          if (!c) {
            Report(DiagCode::kInvalidValue, *averaging, "'averaging_constant' must be a number");
            continue;
          }
          text = fmt::format("qparams: moving_average(averaging_constant: {})", NumberText(*c));
        }
        Emit(indent, text, key.mark);
      } else if (k == "averaging_constant") {
        // A qrules extension (coreai_opt needs a spec subclass for it): only with moving_average.
        if (qparams_value != "moving_average") {
          Report(DiagCode::kUnknownField, key,
                 "unknown field 'averaging_constant' in a spec (qrules accepts it only next to "
                 "qparam_calculator_cls: moving_average)");
        }
      } else if (k == "range_calculator_cls") {
        auto w = word();
        if (!w) continue;
        if (*w != "minmax") {
          Report(DiagCode::kInvalidValue, v,
                 fmt::format("no range calculator is registered with key '{}'; available: minmax", *w));
          continue;
        }
        Emit(indent, "range: minmax", key.mark);
      } else if (k == "float_range") {
        if (v.kind != YamlNode::Kind::kSeq || v.items.size() != 2) {
          Report(DiagCode::kInvalidValue, v.IsNull() ? key : v,
                 fmt::format("'float_range' must be a list of 2 numbers or nulls, got {}", v.KindName()));
          continue;
        }
        std::string parts[2];
        bool ok = true;
        for (int i = 0; i < 2; ++i) {
          const YamlNode& item = *v.items[static_cast<size_t>(i)];
          if (item.IsNull()) {
            parts[i] = "none";
            continue;
          }
          auto d = item.quoted ? std::nullopt : NumberValue(item);
          if (!d) {
            Report(DiagCode::kInvalidValue, item, fmt::format("float_range entries must be numbers or null, got {}",
                                                              item.KindName()));
            ok = false;
            continue;
          }
          parts[i] = NumberText(*d);
        }
        if (ok) Emit(indent, fmt::format("float_range: [{}, {}]", parts[0], parts[1]), key.mark);
      } else if (k == "scale_dtype") {
        if (v.IsNull()) {
          Emit(indent, "scale_dtype: none", key.mark);
          continue;
        }
        auto w = word();
        if (!w) continue;
        auto s = ParseScaleDtype(*w);
        if (!s) {
          Report(DiagCode::kInvalidValue, v,
                 fmt::format("unsupported scale_dtype '{}'; expected null or float8_e8m0fnu", *w));
          continue;
        }
        Emit(indent, fmt::format("scale_dtype: {}", ScaleDtypeName(*s)), key.mark);
      } else {
        UnknownField(key, "a spec (QuantizationSpec)", kSpecFields);
      }
    }
  }

  std::optional<std::string> GranularityText(const YamlNode& v, const YamlNode& key) {
    if (!v.IsMap()) {
      Report(DiagCode::kInvalidValue, v.IsNull() ? key : v,
             fmt::format("'granularity' must be a mapping with a 'type' key, such as {{type: per_channel, axis: 0}}; "
                         "got {}",
                         v.IsScalar() ? "'" + v.value + "'" : v.KindName()));
      return std::nullopt;
    }
    const YamlEntry* type = nullptr;
    for (const auto& e : v.entries) {
      if (e.key->IsScalar() && e.key->value == "type") type = &e;
    }
    if (!type) {
      Report(DiagCode::kInvalidValue, v, "missing 'type' key in granularity (per_tensor, per_channel or per_block)");
      return std::nullopt;
    }
    const YamlNode& tv = *type->value;
    auto kind = tv.IsScalar() ? ParseGranularity(tv.value) : std::nullopt;
    if (!kind) {
      Diagnostic* d = Report(DiagCode::kUnknownGranularity, tv,
                             fmt::format("unknown granularity type '{}'", tv.IsScalar() ? tv.value : tv.KindName()));
      if (tv.IsScalar()) d->suggestions = SuggestSimilar(tv.value, kGranularities);
      return std::nullopt;
    }
    std::optional<long long> axis;
    const YamlNode* block = nullptr;
    bool ok = true;
    for (const auto& e : v.entries) {
      const std::string& k = e.key->value;
      if (&e == type) continue;
      if (k == "axis" && e.key->IsScalar()) {
        if (e.value->IsNull()) continue;
        auto i = IntValue(*e.value);
        if (!i) {
          Report(DiagCode::kInvalidValue, *e.value, fmt::format("'axis' must be an integer or null, got {}", e.value->KindName()));
          ok = false;
        } else if (*kind == GranularityKind::kPerTensor) {
          Report(DiagCode::kInvalidValue, *e.value, "per_tensor granularity takes no axis");
          ok = false;
        } else if (*kind == GranularityKind::kPerBlock && *i != 0 && *i != 1) {
          Report(DiagCode::kInvalidValue, *e.value, fmt::format("per_block axis must be 0, 1 or null, got {}", *i));
          ok = false;
        } else {
          axis = *i;
        }
      } else if (k == "block_size" && e.key->IsScalar() && *kind == GranularityKind::kPerBlock) {
        block = e.value.get();
      } else {
        std::vector<std::string_view> allowed = {"type"};
        if (*kind != GranularityKind::kPerTensor) allowed.push_back("axis");
        if (*kind == GranularityKind::kPerBlock) allowed.push_back("block_size");
        Diagnostic* d = Report(DiagCode::kUnknownField, *e.key,
                               fmt::format("unknown field '{}' in {} granularity", e.key->IsScalar() ? k : e.key->KindName(),
                                           GranularityName(*kind)));
        d->suggestions = SuggestSimilar(k, allowed);
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    switch (*kind) {
      case GranularityKind::kPerTensor: return "per_tensor";
      case GranularityKind::kPerChannel:
        return axis ? fmt::format("per_channel(axis: {})", *axis) : std::string("per_channel");
      case GranularityKind::kPerBlock: break;
    }
    if (!block || block->IsNull()) {
      Report(DiagCode::kInvalidValue, block ? *block : v, "per_block granularity needs a 'block_size'");
      return std::nullopt;
    }
    std::string size;
    if (block->kind == YamlNode::Kind::kSeq) {
      std::vector<std::string> parts;
      for (const auto& item : block->items) {
        auto i = IntValue(*item);
        if (!i || (*i <= 0 && *i != -1)) {
          Report(DiagCode::kInvalidValue, *item, "block_size entries must be positive integers or -1");
          return std::nullopt;
        }
        parts.push_back(std::to_string(*i));
      }
      if (parts.empty()) {
        Report(DiagCode::kInvalidValue, *block, "block_size must not be an empty list");
        return std::nullopt;
      }
      size = fmt::format("({})", fmt::join(parts, ", "));
    } else {
      auto i = IntValue(*block);
      if (!i || *i <= 0) {
        Report(DiagCode::kInvalidValue, *block, "block_size must be a positive integer or a list");
        return std::nullopt;
      }
      size = std::to_string(*i);
    }
    return axis ? fmt::format("per_block(axis: {}, block_size: {})", *axis, size)
                : fmt::format("per_block(block_size: {})", size);
  }

  // --- assembly ---------------------------------------------------------------------------------------
  std::string OutputName() const {
    return options_.output_name.empty() ? src_->name() + ".qrules" : options_.output_name;
  }

  std::vector<OutLine> AllLines() const {
    std::vector<OutLine> all;
    all.push_back({0, "qrules 1", {}, false});
    std::vector<const NamedSpec*> specs;
    for (const auto& [node, ns] : named_) {
      if (ns.declared && ns.valid) specs.push_back(&ns);
    }
    std::stable_sort(specs.begin(), specs.end(), [](const NamedSpec* a, const NamedSpec* b) {
      return a->lines.front().mark.line < b->lines.front().mark.line;
    });
    for (const NamedSpec* ns : specs) {
      all.push_back({0, "", {}, false});
      for (const auto& l : ns->lines) all.push_back(l);
    }
    all.push_back({0, "", {}, false});
    for (const auto& l : body_) all.push_back(l);
    return all;
  }

  static std::string Join(const std::vector<OutLine>& lines) {
    std::string out;
    for (const auto& l : lines) {
      if (!l.text.empty()) out += std::string(static_cast<size_t>(l.indent) * 2, ' ') + l.text;
      out += '\n';
    }
    return out;
  }

  // Compiles the generated text and moves its errors to the YAML lines they came from.
  void CompileBack() {
    std::vector<OutLine> lines = AllLines();
    CompileOptions co;
    co.lint = false;
    CompileResult r = Compile(std::make_shared<const Source>(OutputName(), Join(lines)), co);
    for (const Diagnostic& d : r.diagnostics) {
      if (d.severity != Severity::kError) continue;
      YamlMark mark;
      for (size_t i = d.location.line; i-- > 0;) {
        if (i < lines.size() && lines[i].mark.valid) {
          mark = lines[i].mark;
          break;
        }
      }
      Diagnostic* nd = Report(d.code, mark, d.message);
      nd->suggestions = d.suggestions;
    }
  }

  std::string Assemble(bool with_comments) const {
    std::vector<OutLine> lines = AllLines();
    if (!with_comments) return Join(lines);
    std::vector<interchange::YamlComment> comments = interchange::ScanYamlComments(src_->text());
    std::vector<std::vector<std::string>> before(lines.size() + 1);
    std::vector<std::string> trailing(lines.size());
    for (const auto& c : comments) {
      if (c.trailing) {
        bool placed = false;
        for (size_t i = 0; i < lines.size() && !placed; ++i) {
          if (lines[i].attach && lines[i].mark.line == c.line && trailing[i].empty()) {
            trailing[i] = c.text;
            placed = true;
          }
        }
        if (placed) continue;
      }
      size_t best = lines.size();
      for (size_t i = 0; i < lines.size(); ++i) {
        if (!lines[i].attach || lines[i].mark.line <= c.line) continue;
        if (best == lines.size() || lines[i].mark.line < lines[best].mark.line) best = i;
      }
      before[best].push_back(c.text);
    }
    std::string out;
    for (size_t i = 0; i <= lines.size(); ++i) {
      int indent = i < lines.size() ? lines[i].indent : 0;
      if (i == lines.size() && !before[i].empty()) out += '\n';
      for (const auto& c : before[i]) out += std::string(static_cast<size_t>(indent) * 2, ' ') + c + '\n';
      if (i == lines.size()) break;
      if (!lines[i].text.empty()) out += std::string(static_cast<size_t>(indent) * 2, ' ') + lines[i].text;
      if (!trailing[i].empty()) out += "  " + trailing[i];
      out += '\n';
    }
    return out;
  }

  SourcePtr src_;
  YamlImportOptions options_;
  std::vector<Diagnostic> diags_;
  Diagnostic scratch_;
  int mute_ = 0;
  int attach_depth_ = 0;
  std::vector<OutLine> body_;
  std::vector<OutLine>* out_ = &body_;
  std::map<const YamlNode*, NamedSpec> named_;
  std::set<std::string> taken_names_;
  std::set<const YamlNode*> validated_;
};

}  // namespace

YamlImportResult ImportCoreaiYaml(const std::shared_ptr<const Source>& yaml, const YamlImportOptions& options) {
  return Importer(yaml, options).Run();
}

YamlImportResult ImportCoreaiYamlFile(const std::string& path, const YamlImportOptions& options) {
  std::string text;
  if (auto d = ReadFileBounded(path, size_t{64} << 20, text)) {
    YamlImportResult r;
    r.diagnostics.push_back(std::move(*d));
    return r;
  }
  return ImportCoreaiYaml(std::make_shared<const Source>(path, std::move(text)), options);
}

}  // namespace qrules
