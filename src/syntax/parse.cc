// Parsing: PEGTL with a selector that keeps the nodes the later stages need, and an error table
// that turns each must<> failure into a message saying what was expected there.
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "syntax/syntax.h"

namespace qrules::syntax {
namespace g = grammar;
namespace pegtl = tao::pegtl;

namespace {

// --- error messages, one per rule that appears in a must<> position -------------------------------
template <typename Rule>
inline constexpr const char* kMessage = nullptr;
// clang-format off
template <> inline constexpr const char* kMessage<g::header> = "expected the format header 'qrules 1' at the start of the file";
template <> inline constexpr const char* kMessage<g::version> = "expected a format version number after 'qrules'";
template <> inline constexpr const char* kMessage<g::end_of_file> = "expected 'import', 'spec', 'global', 'module_type' or 'module_name'";
template <> inline constexpr const char* kMessage<g::import_path> = "expected a quoted path after 'import'";
template <> inline constexpr const char* kMessage<g::spec_name> = "expected a spec name after 'spec'";
template <> inline constexpr const char* kMessage<g::parent_name> = "expected the name of the parent spec after ':'";
template <> inline constexpr const char* kMessage<g::spec_body> = "expected '{' to open the spec";
template <> inline constexpr const char* kMessage<g::spec_body_close> = "expected a field or '}'";
template <> inline constexpr const char* kMessage<g::field_value> = "expected a value";
template <> inline constexpr const char* kMessage<g::call_close> = "expected an argument or ')'";
template <> inline constexpr const char* kMessage<g::argument_value> = "expected a value";
template <> inline constexpr const char* kMessage<g::tuple_close> = "expected a value or ')'";
template <> inline constexpr const char* kMessage<g::list_close> = "expected a value or ']'";
template <> inline constexpr const char* kMessage<g::scope_tail> = "expected '{' or ': none'";
template <> inline constexpr const char* kMessage<g::type_name> = "expected the module type as a quoted string, such as \"torch.nn.modules.linear.Linear\"";
template <> inline constexpr const char* kMessage<g::selector> = "expected a quoted name or a /regex/";
template <> inline constexpr const char* kMessage<g::expect_count> = "expected a count after 'expect'";
template <> inline constexpr const char* kMessage<g::kw_none> = "expected 'none' after ':'";
template <> inline constexpr const char* kMessage<g::scope_body_close> = "expected 'op_input', 'op_output', 'op_state', 'module_input', 'module_output', 'module_state', 'op_type', 'op_name', 'qat_schedule' or '}'";
template <> inline constexpr const char* kMessage<g::group_tail> = "expected '{' or ': none'";
template <> inline constexpr const char* kMessage<g::tensor_map_close> = "expected a key (an index, a name or '*') or '}'";
template <> inline constexpr const char* kMessage<g::spec_ref> = "expected a spec name, an inline spec '{ ... }' or 'none'";
template <> inline constexpr const char* kMessage<g::op_type_name> = "expected an op type name after 'op_type'";
template <> inline constexpr const char* kMessage<g::op_tail> = "expected '{' or ': none'";
template <> inline constexpr const char* kMessage<g::op_body_close> = "expected 'op_input', 'op_output', 'op_state' or '}'";
template <> inline constexpr const char* kMessage<g::schedule_tail> = "expected '{' or ': none'";
template <> inline constexpr const char* kMessage<g::schedule_body_close> = "expected a field or '}'";
template <> inline constexpr const char* kMessage<g::string_close> = "expected '\"' to close the string (a string ends on its line; escapes are \\\" \\\\ \\n \\t)";
template <> inline constexpr const char* kMessage<g::regex_close> = "expected '/' to close the regex (a regex ends on its line; write '\\/' for a slash)";
template <> inline constexpr const char* kMessage<pegtl::one<':'>> = "expected ':'";
// clang-format on

struct ErrorTable {
  template <typename Rule>
  static constexpr const char* message = kMessage<Rule>;
  // Messages are used only when a must<> raises, never on an ordinary (backtracking) failure.
  template <typename Rule>
  static constexpr bool raise_on_failure = false;
};

template <typename Rule>
using Control = pegtl::must_if<ErrorTable, pegtl::normal, false>::control<Rule>;

// --- which rules keep a node in the tree ----------------------------------------------------------
#define QRULES_KEPT_RULES                                                                          \
  g::version, g::import_decl, g::import_path, g::spec_decl, g::spec_name, g::parent_name,          \
      g::spec_body, g::field, g::field_name, g::call, g::call_name, g::named_argument,             \
      g::argument_name, g::tuple, g::list, g::number, g::string, g::word, g::regex, g::global_decl, \
      g::module_type_decl, g::type_name, g::module_name_decl, g::expect_clause, g::comparison,     \
      g::expect_count, g::none_tail, g::scope_body, g::tensor_group, g::group_name, g::tensor_map, \
      g::map_entry, g::all_key, g::key_index, g::key_name, g::key_string, g::none_ref,             \
      g::named_ref, g::ref_name, g::op_type_entry, g::op_type_name, g::op_name_entry, g::op_body,  \
      g::qat_schedule, g::schedule_body
template <typename Rule>
using Selector = pegtl::parse_tree::selector<Rule, pegtl::parse_tree::store_content::on<QRULES_KEPT_RULES, g::comment>>;
template <typename Rule>
using SelectorWithoutComments = pegtl::parse_tree::selector<Rule, pegtl::parse_tree::store_content::on<QRULES_KEPT_RULES>>;
#undef QRULES_KEPT_RULES



// First byte offset at which `text` is not valid UTF-8, or npos.  NUL counts as invalid: it is
// never part of a text file.
size_t FirstInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  size_t n = text.size(), i = 0;
  while (i < n) {
    unsigned char c = s[i];
    if (c == 0) return i;
    if (c < 0x80) { ++i; continue; }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return i;
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are invalid too.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return i;
    }
    i += len;
  }
  return std::string_view::npos;
}

// How the text at `offset` reads, for "got ..." in a message.
std::string DescribeToken(std::string_view text, size_t offset) {
  if (offset >= text.size()) return "end of file";
  char c = text[offset];
  if (c == '\n' || c == '\r') return "end of line";
  auto is_ident = [](char ch) { return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_'; };
  if (is_ident(c)) {
    size_t e = offset;
    while (e < text.size() && is_ident(text[e]) && e - offset < 40) ++e;
    return fmt::format("'{}'", text.substr(offset, e - offset));
  }
  if (c == '\t') return "a tab";
  if (static_cast<unsigned char>(c) < 0x20) return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
  if (static_cast<unsigned char>(c) >= 0x80) return "a non-ASCII character";
  return fmt::format("'{}'", c);
}

std::string_view IdentifierAt(std::string_view text, size_t offset) {
  size_t e = offset;
  while (e < text.size() && (std::isalnum(static_cast<unsigned char>(text[e])) || text[e] == '_')) ++e;
  if (e == offset || std::isdigit(static_cast<unsigned char>(text[offset]))) return {};
  return text.substr(offset, e - offset);
}

}  // namespace

uint32_t BeginOffset(const Node& n, const Source& source) {
  return static_cast<uint32_t>(n.m_begin.data - source.text().data());
}
uint32_t EndOffset(const Node& n, const Source& source) {
  return static_cast<uint32_t>(n.m_end.data - source.text().data());
}
SourceRange RangeOf(const Node& n, const std::shared_ptr<const Source>& source) {
  return SourceRange{source, BeginOffset(n, *source), EndOffset(n, *source)};
}

namespace {
// Freed nodes kept for reuse, per thread; returned to the heap when the thread ends.
struct NodeFreeList {
  std::vector<void*> blocks;
  ~NodeFreeList() {
    for (void* p : blocks) ::operator delete(p);
  }
};
thread_local NodeFreeList node_free_list;
constexpr size_t kMaxFreeNodes = 1 << 16;
}  // namespace

void* Node::operator new(std::size_t size) {
  auto& free = node_free_list.blocks;
  if (size == sizeof(Node) && !free.empty()) {
    void* p = free.back();
    free.pop_back();
    return p;
  }
  return ::operator new(size);
}

void Node::operator delete(void* p, std::size_t size) noexcept {
  auto& free = node_free_list.blocks;
  if (size == sizeof(Node) && free.size() < kMaxFreeNodes) {
    try {
      free.push_back(p);
      return;
    } catch (...) {
    }
  }
  ::operator delete(p);
}

ParseOutput Parse(const std::shared_ptr<const Source>& source, bool keep_comments) {
  ParseOutput out;
  const std::string& text = source->text();
  if (size_t bad = FirstInvalidUtf8(text); bad != std::string_view::npos) {
    out.diagnostics.push_back(MakeDiagnostic(
        DiagCode::kInvalidEncoding, DiagLocation::From(*source, bad, bad + 1),
        text[bad] == '\0' ? "the file contains a NUL byte; .qrules files are UTF-8 text"
                          : fmt::format("invalid UTF-8 byte 0x{:02x}; .qrules files are UTF-8 text",
                                        static_cast<unsigned char>(text[bad]))));
    // The caret line would echo the bad bytes; keep only the printable ASCII.
    for (char& ch : out.diagnostics.back().location.line_text) {
      if (static_cast<unsigned char>(ch) >= 0x80 || (static_cast<unsigned char>(ch) < 0x20 && ch != '\t')) ch = '?';
    }
    return out;
  }
  pegtl::memory_input<pegtl::tracking_mode::lazy> in(text.data(), text.size(), source->name());
  try {
    out.root = keep_comments ? pegtl::parse_tree::parse<g::file, Node, Selector, pegtl::nothing, Control>(in)
                             : pegtl::parse_tree::parse<g::file, Node, SelectorWithoutComments, pegtl::nothing, Control>(in);
    if (!out.root) {
      out.diagnostics.push_back(MakeDiagnostic(DiagCode::kSyntax, DiagLocation::From(*source, 0, 1),
                                               "expected the format header 'qrules 1'"));
    }
  } catch (const pegtl::parse_error& e) {
    size_t offset = e.positions().empty() ? 0 : e.positions().front().byte;
    std::string message(e.message());
    std::string got = DescribeToken(text, offset);
    message += ", got " + got;
    Diagnostic d = MakeDiagnostic(DiagCode::kSyntax, DiagLocation::From(*source, offset, offset + 1),
                                  message);
    std::string_view ident = IdentifierAt(text, offset);
    if (offset < text.size() && text[offset] == '=' && message.find("':'") != std::string::npos) {
      d.notes.push_back({d.location, "qrules separates a name and its value with ':', not '='"});
    }
    if (!ident.empty()) {
      d.location.length = static_cast<uint32_t>(std::min(ident.size(), d.location.line_text.size()));
      d.location = DiagLocation::From(*source, offset, offset + ident.size());
      static constexpr std::string_view kScopeWords[] = {
          "op_input", "op_output", "op_state", "module_input", "module_output", "module_state",
          "op_type", "op_name", "qat_schedule"};
      static constexpr std::string_view kTopWords[] = {"import", "spec", "global", "module_type",
                                                       "module_name"};
      std::span<const std::string_view> words;
      if (message.rfind(kMessage<g::scope_body_close>, 0) == 0 ||
          message.rfind(kMessage<g::op_body_close>, 0) == 0) {
        words = kScopeWords;
      } else if (message.rfind(kMessage<g::end_of_file>, 0) == 0) {
        words = kTopWords;
      } else if (message.rfind(kMessage<g::header>, 0) == 0) {
        static constexpr std::string_view kHeader[] = {"qrules"};
        words = kHeader;
      }
      if (!words.empty()) d.suggestions = SuggestSimilar(ident, words);
    }
    out.diagnostics.push_back(std::move(d));
    out.root.reset();
  }
  return out;
}

std::string StringValue(std::string_view literal) {
  std::string out;
  if (literal.size() < 2) return out;
  literal = literal.substr(1, literal.size() - 2);
  for (size_t i = 0; i < literal.size(); ++i) {
    char c = literal[i];
    if (c == '\\' && i + 1 < literal.size()) {
      char e = literal[++i];
      out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
    } else {
      out += c;
    }
  }
  return out;
}

std::string RegexValue(std::string_view literal) {
  std::string out;
  if (literal.size() < 2) return out;
  literal = literal.substr(1, literal.size() - 2);
  for (size_t i = 0; i < literal.size(); ++i) {
    if (literal[i] == '\\' && i + 1 < literal.size()) {
      if (literal[i + 1] == '/') {
        out += '/';
      } else {
        out += literal[i];
        out += literal[i + 1];
      }
      ++i;
    } else {
      out += literal[i];
    }
  }
  return out;
}

size_t RegexSourceOffset(std::string_view literal, size_t pattern_index) {
  // Walk the literal (after the opening slash) counting pattern bytes.
  size_t produced = 0;
  size_t i = 1;
  while (i + 1 < literal.size() && produced < pattern_index) {
    if (literal[i] == '\\' && i + 2 < literal.size()) {
      if (literal[i + 1] == '/') {
        produced += 1;
      } else {
        produced += 2;
      }
      i += 2;
    } else {
      produced += 1;
      i += 1;
    }
  }
  return i;
}

void CollectComments(const Node& n, std::vector<const Node*>& out) {
  for (const auto& c : n.children) {
    if (c->is_type<g::comment>()) {
      out.push_back(c.get());
    } else {
      CollectComments(*c, out);
    }
  }
}

}  // namespace qrules::syntax
