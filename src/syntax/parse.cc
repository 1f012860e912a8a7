// Parsing: PEGTL with a control that builds a tree of the nodes the later stages need (KeptRules
// in syntax.h), and an error table that turns each must<> failure into a message saying what was
// expected there.
#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>

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

using ErrorControl = pegtl::must_if<ErrorTable, pegtl::normal, false>;

// --- building the tree ------------------------------------------------------------------------
// Whether a rule keeps a node (see KeptRules in syntax.h).
template <bool KeepComments, typename Rule>
inline constexpr bool kKeeps = kNodeType<Rule> != 0 && (KeepComments || !std::is_same_v<Rule, g::comment>);

// Whether a match of a rule with these sub-rules may produce kept nodes, looking `Level` rules deep
// (past that: assume it may).  As parse_tree's is_leaf, negated.
template <bool KeepComments, unsigned Level, typename Subs>
inline constexpr bool kMayKeep = true;
template <bool KeepComments, typename... Rules>
inline constexpr bool kMayKeep<KeepComments, 0, pegtl::type_list<Rules...>> = sizeof...(Rules) != 0;
template <bool KeepComments, unsigned Level, typename... Rules>
inline constexpr bool kMayKeep<KeepComments, Level, pegtl::type_list<Rules...>> =
    ((kKeeps<KeepComments, Rules> || kMayKeep<KeepComments, Level - 1, typename Rules::subs_t>) || ...);

}  // namespace

// The nodes of the current parse: `pending` holds the finished nodes that have no parent yet, in
// text order.  A kept rule that succeeds takes the pending nodes made since it started as its
// children; a rule that fails drops the nodes made since it started.  Nodes and child arrays are
// bump-allocated in blocks owned by the tree (the first one 4x the text size, which holds the
// tree of a hand-written file, 2-4x; dense generated files take more blocks), so a failed attempt
// costs no allocation at all, where PEGTL's parse_tree allocates a node for every attempt of every
// rule that may hold a kept node.
class TreeBuilder {
 public:
  TreeBuilder(Tree& tree, size_t text_size) : tree_(tree), next_block_(std::max<size_t>(4096, 4 * text_size)) {
    pending.reserve(256);
  }

  void Reduce(uint16_t type, size_t mark, const char* begin, const char* end) {
    const size_t n = pending.size() - mark;
    NodeRef* children = nullptr;
    if (n != 0) {
      children = static_cast<NodeRef*>(Allocate(n * sizeof(NodeRef)));
      std::uninitialized_copy(pending.begin() + static_cast<std::ptrdiff_t>(mark), pending.end(), children);
      Drop(mark);
    }
    pending.emplace_back(new (Allocate(sizeof(Node))) Node(type, begin, end, NodeList(children, static_cast<uint32_t>(n))));
  }
  void Drop(size_t mark) {
    if (pending.size() > mark) pending.erase(pending.begin() + static_cast<std::ptrdiff_t>(mark), pending.end());
  }

  // Makes the pending nodes the children of the root.
  void Finish() {
    if (pending.empty()) return;
    auto* children = static_cast<NodeRef*>(Allocate(pending.size() * sizeof(NodeRef)));
    std::uninitialized_copy(pending.begin(), pending.end(), children);
    tree_.children = NodeList(children, static_cast<uint32_t>(pending.size()));
    pending.clear();
  }

  std::vector<NodeRef> pending;

 private:
  static_assert(alignof(Node) <= 8 && alignof(NodeRef) <= 8);

  void* Allocate(size_t bytes) {
    bytes = (bytes + 7) & ~size_t{7};
    if (static_cast<size_t>(end_ - next_) < bytes) [[unlikely]] NewBlock(bytes);
    void* p = next_;
    next_ += bytes;
    return p;
  }
  [[gnu::noinline]] void NewBlock(size_t bytes) {
    const size_t size = std::max(bytes, next_block_);
    next_block_ = 2 * size;
    tree_.blocks_.push_back(std::make_unique_for_overwrite<std::byte[]>(size));
    next_ = tree_.blocks_.back().get();
    end_ = next_ + size;
  }

  Tree& tree_;
  std::byte* next_ = nullptr;
  std::byte* end_ = nullptr;
  size_t next_block_;
};

namespace {

// The PEGTL control: must_if's error messages, plus the tree building above.  Only kept rules and
// rules that may contain them do any work; the rest match as with the plain control.
template <bool KeepComments>
struct BuildTree {
  template <typename Rule>
  struct control : ErrorControl::control<Rule> {
    using Base = ErrorControl::control<Rule>;

    template <pegtl::apply_mode A, pegtl::rewind_mode M, template <typename...> class Action,
              template <typename...> class Control, typename ParseInput>
    [[nodiscard]] static bool match(ParseInput& in, TreeBuilder& b) {
      if constexpr (kKeeps<KeepComments, Rule>) {
        const char* begin = in.current();
        const size_t mark = b.pending.size();
        if (Base::template match<A, M, Action, Control>(in, b)) {
          b.Reduce(kNodeType<Rule>, mark, begin, in.current());
          return true;
        }
        b.Drop(mark);
        return false;
      } else if constexpr (kMayKeep<KeepComments, 8, typename Rule::subs_t>) {
        const size_t mark = b.pending.size();
        if (Base::template match<A, M, Action, Control>(in, b)) return true;
        b.Drop(mark);
        return false;
      } else {
        return Base::template match<A, M, Action, Control>(in, b);
      }
    }
  };
};



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

SourceRange RangeOf(const Node& n, const std::shared_ptr<const Source>& source) {
  return SourceRange{source, BeginOffset(n, *source), EndOffset(n, *source)};
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
    auto tree = std::make_unique<Tree>(text);
    TreeBuilder builder(*tree, text.size());
    const bool ok = keep_comments ? pegtl::parse<g::file, pegtl::nothing, BuildTree<true>::control>(in, builder)
                                  : pegtl::parse<g::file, pegtl::nothing, BuildTree<false>::control>(in, builder);
    if (ok) {
      builder.Finish();
      out.root = std::move(tree);
    } else {
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
