// src/syntax: .qrules text -> parse tree, with syntax errors as diagnostics.
// The next stages (src/sema, src/format) walk the tree through the helpers below.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/source.h"
#include "syntax/grammar.h"

namespace qrules::syntax {

// The grammar rules that keep a node in the tree: exactly what the later stages look at.  Every
// other rule only passes its kept descendants on to the nearest kept ancestor.  `comment` is kept
// only when Parse is asked to keep comments (the formatter).
template <typename... Rules>
struct RuleList {};
using KeptRules = RuleList<
    grammar::version, grammar::import_decl, grammar::import_path, grammar::spec_decl,
    grammar::spec_name, grammar::parent_name, grammar::spec_body, grammar::field,
    grammar::field_name, grammar::call, grammar::call_name, grammar::named_argument,
    grammar::argument_name, grammar::tuple, grammar::list, grammar::number, grammar::string,
    grammar::word, grammar::regex, grammar::global_decl, grammar::module_type_decl,
    grammar::type_name, grammar::module_name_decl, grammar::expect_clause, grammar::comparison,
    grammar::expect_count, grammar::none_tail, grammar::scope_body, grammar::tensor_group,
    grammar::group_name, grammar::tensor_map, grammar::map_entry, grammar::all_key,
    grammar::key_index, grammar::key_name, grammar::key_string, grammar::none_ref,
    grammar::named_ref, grammar::ref_name, grammar::op_type_entry, grammar::op_type_name,
    grammar::op_name_entry, grammar::op_body, grammar::qat_schedule, grammar::schedule_body,
    grammar::comment>;

namespace detail {
template <typename Rule, typename... Rules>
constexpr uint16_t IdOf(RuleList<Rules...>) {
  uint16_t id = 0, next = 1;
  ((id = (id == 0 && std::is_same_v<Rule, Rules>) ? next : id, ++next), ...);
  return id;
}
}  // namespace detail

// The node type of a kept rule: 1, 2, ... in KeptRules order; 0 for every other rule (and the root).
template <typename Rule>
inline constexpr uint16_t kNodeType = detail::IdOf<Rule>(KeptRules{});

class Node;

// A reference to a child node; pointer-like (`->`, `*`, `get()`), as the children of a PEGTL
// parse tree are.
class NodeRef {
 public:
  explicit NodeRef(const Node* p) noexcept : p_(p) {}
  const Node* get() const noexcept { return p_; }
  const Node& operator*() const noexcept { return *p_; }
  const Node* operator->() const noexcept { return p_; }

 private:
  const Node* p_;
};

// The children of a node, in text order.
class NodeList {
 public:
  NodeList() = default;
  NodeList(const NodeRef* data, uint32_t size) noexcept : data_(data), size_(size) {}
  const NodeRef* begin() const noexcept { return data_; }
  const NodeRef* end() const noexcept { return data_ + size_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  const NodeRef& front() const noexcept { return data_[0]; }
  const NodeRef& back() const noexcept { return data_[size_ - 1]; }
  const NodeRef& operator[](size_t i) const noexcept { return data_[i]; }

 private:
  const NodeRef* data_ = nullptr;
  uint32_t size_ = 0;
};

// A parse tree node: the text a kept rule matched and the kept nodes inside it.  Nodes live in
// the arena of their Tree and are never freed one by one.
class Node {
 public:
  Node(uint16_t type, const char* begin, const char* end, NodeList kids) noexcept
      : children(kids), text_begin(begin), text_end(end), type_(type) {}
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  template <typename Rule>
  bool is_type() const noexcept {
    static_assert(kNodeType<Rule> != 0, "not a kept rule: the tree has no nodes of this type");
    return type_ == kNodeType<Rule>;
  }
  bool is_root() const noexcept { return type_ == 0; }
  std::string_view string_view() const noexcept {
    return std::string_view(text_begin, static_cast<size_t>(text_end - text_begin));
  }

  NodeList children;
  const char* text_begin;  // into Source::text()
  const char* text_end;

 protected:
  // Nodes are never destroyed one by one (their Tree frees the memory), and a Tree is never
  // deleted through a Node pointer: hold it as std::unique_ptr<Tree>.
  ~Node() = default;

 private:
  uint16_t type_;
};

// The root of a parse tree (its children are the top-level items), owning every node.
class Tree final : public Node {
 public:
  explicit Tree(std::string_view text) : Node(0, text.data(), text.data() + text.size(), {}) {}

 private:
  friend class TreeBuilder;
  std::vector<std::unique_ptr<std::byte[]>> blocks_;  // the nodes and child arrays, bump-allocated
};

struct ParseOutput {
  std::unique_ptr<Tree> root;  // null when the text does not parse
  std::vector<Diagnostic> diagnostics;
};

// Parses a whole file.  Never throws: syntax errors, invalid UTF-8 and NUL bytes become
// diagnostics.  The tree points into source->text(), so `source` must outlive it.
// `keep_comments`: comment nodes are kept in the tree (for the formatter); compilation does not
// need them and parses faster without.
ParseOutput Parse(const std::shared_ptr<const Source>& source, bool keep_comments = true);

// The supported format version (the `qrules N` header).
inline constexpr int kFormatVersion = 1;

template <typename Rule>
bool Is(const Node& n) {
  return n.is_type<Rule>();
}

// Byte offsets of a node within its source text.
inline uint32_t BeginOffset(const Node& n, const Source& source) {
  return static_cast<uint32_t>(n.text_begin - source.text().data());
}
inline uint32_t EndOffset(const Node& n, const Source& source) {
  return static_cast<uint32_t>(n.text_end - source.text().data());
}
SourceRange RangeOf(const Node& n, const std::shared_ptr<const Source>& source);

// The first direct child of type Rule, or nullptr.
template <typename Rule>
const Node* Child(const Node& n) {
  for (const NodeRef& c : n.children) {
    if (c->is_type<Rule>()) return c.get();
  }
  return nullptr;
}

// The value of a string literal (quotes removed, escapes applied).
std::string StringValue(std::string_view literal);
// The pattern of a regex literal (slashes removed, `\/` -> `/`; other escapes kept for RE2).
std::string RegexValue(std::string_view literal);
// Offset within the literal's text of pattern byte `i` (undoing the `\/` unescaping), so that a
// diagnostic can point inside the regex.
size_t RegexSourceOffset(std::string_view literal, size_t i);

// Every comment node in the tree, in text order.
void CollectComments(const Node& n, std::vector<const Node*>& out);

}  // namespace qrules::syntax
