// src/syntax: .qrules text -> PEGTL parse tree, with syntax errors as diagnostics.
// The next stages (src/sema, src/format) walk the tree through the helpers below.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <tao/pegtl/contrib/parse_tree.hpp>

#include "qrules/diagnostic.h"
#include "qrules/source.h"
#include "syntax/grammar.h"

namespace qrules::syntax {

// A parse tree node.  PEGTL allocates one for every attempt of a rule that may hold kept nodes
// and frees it when the attempt fails, so nodes come from a per-thread free list instead of
// malloc (parsing is allocation-bound otherwise).
struct Node : tao::pegtl::parse_tree::basic_node<Node> {
  static void* operator new(std::size_t size);
  static void operator delete(void* p, std::size_t size) noexcept;
};

struct ParseOutput {
  std::unique_ptr<Node> root;  // null when the text does not parse
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
uint32_t BeginOffset(const Node& n, const Source& source);
uint32_t EndOffset(const Node& n, const Source& source);
SourceRange RangeOf(const Node& n, const std::shared_ptr<const Source>& source);

// The first direct child of type Rule, or nullptr.
template <typename Rule>
const Node* Child(const Node& n) {
  for (const auto& c : n.children) {
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
