// IR text → ModelBuilder: PEGTL parse tree of grammar/ir.peg, then a walk that builds the model.
#include <charconv>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <tao/pegtl/contrib/parse_tree.hpp>
#include <unordered_set>

#include "ir/ir_internal.h"
#include "ir/text_grammar.h"
#include "qrules/ir.h"

namespace qrules {
namespace {

namespace g = ir_grammar;
namespace pegtl = tao::pegtl;
using Node = pegtl::parse_tree::node;

template <typename Rule>
using Selector = pegtl::parse_tree::selector<
    Rule, pegtl::parse_tree::store_content::on<
              g::version, g::module_decl, g::module_name, g::module_type, g::input_decl, g::state_decl,
              g::owner_clause, g::local_name, g::data_list, g::number, g::output_decl, g::tensor_name, g::dtype,
              g::shape, g::dim, g::op_decl, g::op_type, g::op_name, g::op_module_clause, g::onnx_type,
              g::weight_axes_clause, g::integer, g::op_inputs, g::omitted_input, g::op_output, g::attributes,
              g::attribute, g::attribute_name, g::attribute_value, g::tensor_value, g::list_value,
              g::list_element, g::tensor_type>>;

// Reads the double-quoted string at the start of `s` (escapes resolved); a bare word is returned
// as is.  Trailing text (whitespace kept in the node) is ignored.
std::string Unquote(std::string_view s) {
  if (s.empty() || s[0] != '"') {
    size_t end = 0;
    while (end < s.size() && s[end] != ' ' && s[end] != '\t' && s[end] != '\n' && s[end] != '\r' && s[end] != '#') {
      ++end;
    }
    return std::string(s.substr(0, end));
  }
  std::string out;
  for (size_t i = 1; i < s.size(); ++i) {
    char c = s[i];
    if (c == '"') break;
    if (c == '\\' && i + 1 < s.size()) {
      char e = s[++i];
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
    } else {
      out += c;
    }
  }
  return out;
}

bool LooksFloat(std::string_view s) {
  return s.find_first_of(".eEin") != std::string_view::npos;  // '.', exponent, inf, nan
}

class Walker {
 public:
  explicit Walker(std::shared_ptr<const Source> source) : source_(std::move(source)) {
    builder_.SetName(source_->name());
  }

  ModelResult Run(const Node& root) {
    for (const auto& child : root.children) Item(*child);
    if (HasErrors(diagnostics_)) return {nullptr, std::move(diagnostics_)};
    ModelResult r = std::move(builder_).Build();
    diagnostics_.insert(diagnostics_.end(), r.diagnostics.begin(), r.diagnostics.end());
    r.diagnostics = std::move(diagnostics_);
    if (HasErrors(r.diagnostics)) r.model = nullptr;
    return r;
  }

 private:
  SourceRange Range(const Node& n) const {
    return SourceRange{source_, static_cast<uint32_t>(n.m_begin.byte), static_cast<uint32_t>(n.m_end.byte)};
  }
  void Error(const Node& n, std::string message, DiagCode code = DiagCode::kModelInvalid) {
    diagnostics_.push_back(MakeDiagnostic(code, DiagLocation::From(Range(n)), std::move(message)));
  }
  static const Node* Child(const Node& n, auto rule) {
    for (const auto& c : n.children) {
      if (c->is_type<decltype(rule)>()) return c.get();
    }
    return nullptr;
  }

  void Item(const Node& n) {
    if (n.is_type<g::version>()) {
      if (n.string_view() != "1") {
        Error(n, fmt::format("IR text format version {} is not supported (this qrules reads version 1)",
                             n.string_view()),
              DiagCode::kUnsupportedVersion);
      }
    } else if (n.is_type<g::module_decl>()) {
      const Node* name = Child(n, g::module_name{});
      const Node* type = Child(n, g::module_type{});
      std::string fqn = Unquote(name->string_view());
      if (!internal::IsModuleName(fqn)) {
        Error(*name, fmt::format("'{}' is not a module name: names are dot-separated and non-empty", fqn));
        return;
      }
      builder_.AddModule(fqn, type ? Unquote(type->string_view()) : "", Range(n));
    } else if (n.is_type<g::input_decl>()) {
      TensorSpec spec;
      spec.name = Unquote(Child(n, g::tensor_name{})->string_view());
      spec.where = Range(*Child(n, g::tensor_name{}));
      if (!Type(*Child(n, g::tensor_type{}), &spec)) return;
      builder_.AddInput(std::move(spec));
    } else if (n.is_type<g::state_decl>()) {
      State(n);
    } else if (n.is_type<g::op_decl>()) {
      OpDecl(n);
    } else if (n.is_type<g::output_decl>()) {
      const Node* name = Child(n, g::tensor_name{});
      builder_.AddOutput(Unquote(name->string_view()), Range(*name));
    }
  }

  bool Type(const Node& type_node, TensorSpec* spec) {
    const Node* dtype = Child(type_node, g::dtype{});
    std::string name(dtype->string_view());
    if (!internal::ParseDtypeName(name, &spec->dtype)) {
      std::vector<std::string_view> candidates(internal::KnownDtypeNames().begin(), internal::KnownDtypeNames().end());
      Diagnostic d = MakeDiagnostic(DiagCode::kModelInvalid, DiagLocation::From(Range(*dtype)),
                                    fmt::format("unknown dtype '{}'", name));
      d.suggestions = SuggestSimilar(name, candidates);
      diagnostics_.push_back(std::move(d));
      return false;
    }
    spec->dtype_name = name;
    spec->shape = Shape();
    if (const Node* shape = Child(type_node, g::shape{})) {
      spec->shape.known = true;
      for (const auto& dim : shape->children) {
        std::string_view text = dim->string_view();
        Dim d;
        if (text == "?") {
          d.size = -1;
        } else if (text[0] == '-' || (text[0] >= '0' && text[0] <= '9')) {
          int64_t v = 0;
          auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
          if (ec != std::errc() || p != text.data() + text.size() || v < 0) {
            Error(*dim, fmt::format("dimension '{}' is not a size >= 0 (write '?' for a dynamic dimension)", text));
            return false;
          }
          d.size = v;
        } else {
          d.symbol = std::string(text);
        }
        spec->shape.dims.push_back(std::move(d));
      }
    }
    return true;
  }

  // Data of a state or tensor attribute: a flat list in C order.
  std::optional<Tensor> Data(const Node& list, const TensorSpec& spec, const Node& at) {
    if (!spec.dtype) {
      Error(at, fmt::format("data can only be given for float32, integer and bool tensors, not {}", spec.dtype_name));
      return std::nullopt;
    }
    Tensor t;
    t.type = *spec.dtype;
    if (spec.shape.known) {
      if (!spec.shape.is_static()) {
        Error(at, "a tensor with data needs a static shape");
        return std::nullopt;
      }
      t.shape = spec.shape.sizes();
    } else {
      t.shape = {static_cast<int64_t>(list.children.size())};
    }
    for (const auto& num : list.children) {
      std::string text(num->string_view());
      if (t.is_float()) {
        float v = 0;
        if (text == "inf" || text == "-inf") {
          v = text[0] == '-' ? -INFINITY : INFINITY;
        } else if (text == "nan" || text == "-nan") {
          v = NAN;
        } else {
          v = std::strtof(text.c_str(), nullptr);
        }
        t.f32.push_back(v);
      } else {
        int64_t v = 0;
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (LooksFloat(text) || ec != std::errc() || p != text.data() + text.size()) {
          Error(*num, fmt::format("'{}' is not an integer value of a {} tensor", text, spec.dtype_name));
          return std::nullopt;
        }
        if (t.type == ElementType::kBool && v != 0 && v != 1) {
          Error(*num, fmt::format("'{}' is not a bool value (0 or 1)", text));
          return std::nullopt;
        }
        t.i64.push_back(v);
      }
    }
    return t;
  }

  void State(const Node& n) {
    TensorSpec spec;
    const Node* name = Child(n, g::tensor_name{});
    spec.name = Unquote(name->string_view());
    spec.where = Range(*name);
    spec.dtype = ElementType::kFloat32;
    spec.dtype_name = "float32";
    if (const Node* type = Child(n, g::tensor_type{})) {
      if (!Type(*type, &spec)) return;
    }
    if (const Node* owner = Child(n, g::owner_clause{})) spec.owner = Unquote(owner->children.front()->string_view());
    if (const Node* local = Child(n, g::local_name{})) spec.local_name = Unquote(local->string_view());
    if (!spec.owner) {
      size_t dot = spec.name.rfind('.');
      if (dot != std::string::npos && dot > 0 && dot + 1 < spec.name.size()) {
        spec.owner = spec.name.substr(0, dot);
        if (!spec.local_name) spec.local_name = spec.name.substr(dot + 1);
      }
    }
    if (const Node* data = Child(n, g::data_list{})) {
      auto t = Data(*data, spec, *data);
      if (!t) return;
      spec.data = std::move(*t);
    }
    builder_.AddState(std::move(spec));
  }

  std::optional<Attribute> AttributeValue(const Node& value) {
    static const Node kNone;
    const Node& v = value.children.empty() ? kNone : *value.children.front();
    if (!value.children.empty() && v.is_type<g::tensor_value>()) {
      TensorSpec spec;
      if (!Type(*Child(v, g::tensor_type{}), &spec)) return std::nullopt;
      auto t = Data(*Child(v, g::data_list{}), spec, v);
      if (!t) return std::nullopt;
      size_t count = t->is_float() ? t->f32.size() : t->i64.size();
      if (static_cast<int64_t>(count) != t->numel()) {
        Error(v, fmt::format("tensor attribute has {} values but its shape needs {}", count, t->numel()));
        return std::nullopt;
      }
      return Attribute::OfTensor(std::move(*t));
    }
    auto scalar_kind = [](std::string_view text) {
      return text[0] == '"' ? Attribute::Kind::kString : LooksFloat(text) ? Attribute::Kind::kFloat : Attribute::Kind::kInt;
    };
    auto parse_int = [&](const Node& at, std::string_view text) -> std::optional<int64_t> {
      int64_t i = 0;
      auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
      if (ec != std::errc() || p != text.data() + text.size()) {
        Error(at, fmt::format("integer '{}' is out of range", text));
        return std::nullopt;
      }
      return i;
    };
    auto parse_float = [](std::string_view text) {
      std::string s(text);
      if (s == "inf") return INFINITY;
      if (s == "-inf") return -INFINITY;
      if (s == "nan" || s == "-nan") return NAN;
      return std::strtof(s.c_str(), nullptr);
    };
    if (!value.children.empty() && v.is_type<g::list_value>()) {
      Attribute::Kind kind = Attribute::Kind::kInt;
      for (const auto& e : v.children) {
        Attribute::Kind k = scalar_kind(e->string_view());
        if (k == Attribute::Kind::kString && kind != Attribute::Kind::kString && &e != &v.children.front()) {
          Error(*e, "a list attribute mixes strings and numbers");
          return std::nullopt;
        }
        if (k != Attribute::Kind::kString && kind == Attribute::Kind::kString) {
          Error(*e, "a list attribute mixes strings and numbers");
          return std::nullopt;
        }
        if (k == Attribute::Kind::kString || k == Attribute::Kind::kFloat) kind = k;
      }
      Attribute a;
      a.kind = kind == Attribute::Kind::kString ? Attribute::Kind::kStrings
               : kind == Attribute::Kind::kFloat ? Attribute::Kind::kFloats
                                                 : Attribute::Kind::kInts;
      for (const auto& e : v.children) {
        std::string_view text = e->string_view();
        if (a.kind == Attribute::Kind::kStrings) {
          a.strings.push_back(Unquote(text));
        } else if (a.kind == Attribute::Kind::kFloats) {
          a.floats.push_back(parse_float(text));
        } else {
          auto i = parse_int(*e, text);
          if (!i) return std::nullopt;
          a.ints.push_back(*i);
        }
      }
      return a;
    }
    std::string_view text = value.string_view();
    switch (scalar_kind(text)) {
      case Attribute::Kind::kString: return Attribute::String(Unquote(text));
      case Attribute::Kind::kFloat: return Attribute::Float(parse_float(text));
      default: {
        auto i = parse_int(value, text);
        if (!i) return std::nullopt;
        return Attribute::Int(*i);
      }
    }
  }

  void OpDecl(const Node& n) {
    OpSpec op;
    op.where = Range(*Child(n, g::op_type{}));
    op.type = Unquote(Child(n, g::op_type{})->string_view());
    if (const Node* name = Child(n, g::op_name{})) {
      op.name = Unquote(name->string_view());
      if (op.name.empty()) {
        Error(*name, "an op name must not be empty");
        return;
      }
      op.where = Range(*name);
      op.where.end = op.where.begin + static_cast<uint32_t>(name->string_view().find_last_of('"') + 1);
    }
    if (const Node* module = Child(n, g::op_module_clause{})) {
      op.module = Unquote(module->children.front()->string_view());
      // The same rule as a module declaration: the printer writes this name as one, and found
      // by the qir fuzzer, an op `in ".x"` printed a module the parser then refused.
      if (!internal::IsModuleName(op.module)) {
        Error(*module, fmt::format("'{}' is not a module name: names are dot-separated and non-empty", op.module));
        return;
      }
    }
    if (const Node* onnx = Child(n, g::onnx_type{})) op.onnx_type = Unquote(onnx->string_view());
    if (const Node* axes = Child(n, g::weight_axes_clause{})) {
      int values[2] = {0, 0};
      for (size_t i = 0; i < 2 && i < axes->children.size(); ++i) {
        std::string_view text = axes->children[i]->string_view();
        auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), values[i]);
        if (ec != std::errc() || values[i] < 0 || values[i] > 7) {
          Error(*axes->children[i], fmt::format("weight axis '{}' is out of range", text));
          return;
        }
      }
      const OpTypeInfo* info = FindOpType(op.type);
      if (info == nullptr || info->weight_input < 0) {
        Error(*axes, fmt::format("'weight_axes' given for op type '{}', which has no weight input", op.type));
        return;
      }
      op.weight_output_axis = values[0];
      op.weight_input_axis = values[1];
    }
    for (const auto& in : Child(n, g::op_inputs{})->children) {
      op.inputs.push_back(in->is_type<g::omitted_input>() ? std::string() : Unquote(in->string_view()));
    }
    for (const auto& c : n.children) {
      if (!c->is_type<g::op_output>()) continue;
      TensorSpec out;
      out.name = Unquote(Child(*c, g::tensor_name{})->string_view());
      out.where = Range(*Child(*c, g::tensor_name{}));
      out.dtype = ElementType::kFloat32;
      out.dtype_name = "float32";
      if (const Node* type = Child(*c, g::tensor_type{})) {
        if (!Type(*type, &out)) return;
      }
      op.outputs.push_back(std::move(out));
    }
    if (const Node* attrs = Child(n, g::attributes{})) {
      for (const auto& a : attrs->children) {
        const Node* name = Child(*a, g::attribute_name{});
        std::string key(name->string_view());
        auto value = AttributeValue(*Child(*a, g::attribute_value{}));
        if (!value) return;
        if (!op.attributes.emplace(key, std::move(*value)).second) {
          Error(*name, fmt::format("attribute '{}' is given twice", key), DiagCode::kDuplicateEntry);
          return;
        }
      }
    }
    builder_.AddOp(std::move(op));
  }

  std::shared_ptr<const Source> source_;
  ModelBuilder builder_;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace

ModelResult ParseModelText(std::shared_ptr<const Source> source) {
  pegtl::memory_input in(source->text().data(), source->text().size(), source->name());
  std::unique_ptr<Node> root;
  try {
    root = pegtl::parse_tree::parse<g::file, Selector, pegtl::nothing, g::control>(in);
  } catch (const pegtl::parse_error& e) {
    size_t byte = e.positions().empty() ? 0 : e.positions().front().byte;
    // An error after a line break points just past the last token instead ("expected ']'" at the
    // end of the unfinished line, not at the start of the next one).
    const std::string& text = source->text();
    size_t back = std::min(byte, text.size());
    bool crossed_line = false;
    while (back > 0 && (text[back - 1] == ' ' || text[back - 1] == '\t' || text[back - 1] == '\r' ||
                        text[back - 1] == '\n')) {
      crossed_line |= text[back - 1] == '\n';
      --back;
    }
    if (crossed_line && back > 0 && (byte >= text.size() || text[byte] == ' ' || text[byte] == '\n')) byte = back;
    auto begin = static_cast<uint32_t>(byte);
    return {nullptr, {MakeDiagnostic(DiagCode::kSyntax, DiagLocation::From(*source, begin, begin + 1),
                                     std::string(e.message()))}};
  }
  if (!root) {
    return {nullptr, {MakeDiagnostic(DiagCode::kSyntax, DiagLocation::From(*source, 0, 1),
                                     "expected the header 'qrules-ir 1' at the start of the file")}};
  }
  return Walker(source).Run(*root);
}

ModelResult LoadModelTextFile(const std::string& path) {
  std::string text;
  if (auto d = ReadFileBounded(path, size_t{256} << 20, text)) return {nullptr, {std::move(*d)}};
  return ParseModelText(std::make_shared<const Source>(path, std::move(text)));
}

}  // namespace qrules
