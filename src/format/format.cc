// The canonical printer behind `qrules fmt`.
//
// Layout: two-space indents; spec and scope bodies one entry per line; tensor maps, op entries,
// inline specs and schedules on one line when they hold no comment and fit in kMaxWidth columns,
// otherwise one entry per line.  Comments are attached by position: each is printed before the
// first construct that starts after it (as its own line), or after a one-line construct that ends
// on the comment's line (as a trailing comment).  Blank lines inside blocks survive (collapsed to
// one); top-level items are separated by one blank line, consecutive imports by none.  The output
// parses to the same configuration and is a fixed point: Format(Format(x)) == Format(x).
#include <fmt/format.h>

#include "qrules/format.h"
#include "syntax/syntax.h"

namespace qrules {
namespace g = syntax::grammar;
using syntax::Child;
using syntax::Is;
using syntax::Node;

namespace {

constexpr size_t kMaxWidth = 100;

class Printer {
 public:
  Printer(const Source& source, const Node& root) : source_(source), root_(root) {
    syntax::CollectComments(root, comments_);
  }

  std::string Run() {
    // Comments above the header stay above it.
    EmitCommentsBefore(Begin(*Child<g::version>(root_)), 0, false);
    out_ += fmt::format("qrules {}\n", Child<g::version>(root_)->string_view());
    last_end_ = syntax::EndOffset(*Child<g::version>(root_), source_);
    bool previous_was_import = false;
    bool first = true;
    for (const auto& item : root_.children) {
      if (Is<g::comment>(*item) || Is<g::version>(*item)) continue;
      bool is_import = Is<g::import_decl>(*item);
      // One blank line between items, none between consecutive imports.
      if (first || !(is_import && previous_was_import)) out_ += "\n";
      EmitCommentsBefore(Begin(*item), 0, /*allow_blank=*/!first && is_import && previous_was_import);
      PrintItem(*item);
      previous_was_import = is_import;
      first = false;
    }
    // Comments after the last item.
    if (next_comment_ < comments_.size()) {
      out_ += "\n";
      EmitCommentsBefore(static_cast<uint32_t>(source_.text().size()) + 1, 0, false);
    }
    return out_;
  }

 private:
  uint32_t Begin(const Node& n) const { return syntax::BeginOffset(n, source_); }
  uint32_t End(const Node& n) const { return syntax::EndOffset(n, source_); }
  uint32_t LineOf(uint32_t offset) const { return source_.Locate(offset).line; }

  bool HasCommentIn(const Node& n) const {
    uint32_t b = Begin(n), e = End(n);
    for (size_t i = next_comment_; i < comments_.size(); ++i) {
      uint32_t c = Begin(*comments_[i]);
      if (c >= e) break;
      if (c >= b) return true;
    }
    return false;
  }

  bool BlankLineBetween(uint32_t from, uint32_t to) const {
    int newlines = 0;
    for (uint32_t i = from; i < to && i < source_.text().size(); ++i) {
      char c = source_.text()[i];
      if (c == '\n') {
        if (++newlines >= 2) return true;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        newlines = 0;
      }
    }
    return false;
  }

  void Indent(int indent) { out_.append(static_cast<size_t>(indent) * 2, ' '); }

  // Prints, each on its own line, the comments that start before `offset`.
  void EmitCommentsBefore(uint32_t offset, int indent, bool allow_blank) {
    while (next_comment_ < comments_.size() && Begin(*comments_[next_comment_]) < offset) {
      const Node& c = *comments_[next_comment_++];
      if (allow_blank && BlankLineBetween(last_end_, Begin(c))) out_ += "\n";
      Indent(indent);
      out_ += TrimRight(c.string_view());
      out_ += "\n";
      last_end_ = End(c);
      allow_blank = true;
    }
  }

  // After a construct that ended at `end` and was printed on one line: a comment on the same
  // source line becomes a trailing comment.
  void EndLine(uint32_t end) {
    last_end_ = end;
    if (next_comment_ < comments_.size()) {
      const Node& c = *comments_[next_comment_];
      // Only blanks and commas may stand between the construct and its trailing comment;
      // otherwise the comment belongs to a later construct on the same line.
      std::string_view gap(source_.text().data() + std::min<size_t>(end, Begin(c)),
                           Begin(c) > end ? Begin(c) - end : 0);
      bool only_blanks = gap.find_first_not_of(" \t,") == std::string_view::npos;
      if (only_blanks && LineOf(Begin(c)) == LineOf(end > 0 ? end - 1 : 0) && Begin(c) >= end) {
        out_ += "  ";
        out_ += TrimRight(c.string_view());
        ++next_comment_;
        last_end_ = End(c);
      }
    }
    out_ += "\n";
  }

  static std::string_view TrimRight(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
  }

  // Starts a line for a child construct inside a block: comments before it, a preserved blank line.
  void StartEntry(const Node& n, int indent, bool first_in_block) {
    if (!first_in_block && BlankLineBetween(last_end_, Begin(n))) {
      bool comment_first = next_comment_ < comments_.size() && Begin(*comments_[next_comment_]) < Begin(n);
      if (!comment_first) out_ += "\n";
    }
    EmitCommentsBefore(Begin(n), indent, !first_in_block);
    Indent(indent);
  }

  // Prints "{" and a newline; blank lines inside the block are measured from its opening brace.
  void OpenBlock(const Node& block) {
    out_ += "{\n";
    last_end_ = Begin(block) + 1;
  }

  void CloseBlock(const Node& block, int indent) {
    EmitCommentsBefore(End(block), indent + 1, true);
    Indent(indent);
    out_ += "}";
  }

  // --- values -----------------------------------------------------------------------------------
  std::string ValueText(const Node& v) const {
    if (Is<g::call>(v)) {
      std::string s(Child<g::call_name>(v)->string_view());
      s += "(";
      bool first = true;
      for (const auto& a : v.children) {
        if (Is<g::call_name>(*a) || Is<g::comment>(*a)) continue;
        if (!first) s += ", ";
        first = false;
        s += ValueText(*a);
      }
      return s + ")";
    }
    if (Is<g::named_argument>(v)) {
      return fmt::format("{}: {}", Child<g::argument_name>(v)->string_view(), ValueText(*v.children.back()));
    }
    if (Is<g::tuple>(v) || Is<g::list>(v)) {
      std::string s = Is<g::tuple>(v) ? "(" : "[";
      bool first = true;
      for (const auto& a : v.children) {
        if (Is<g::comment>(*a)) continue;
        if (!first) s += ", ";
        first = false;
        s += ValueText(*a);
      }
      return s + (Is<g::tuple>(v) ? ")" : "]");
    }
    return std::string(v.string_view());
  }

  std::string FieldText(const Node& f) const {
    return fmt::format("{}: {}", Child<g::field_name>(f)->string_view(), ValueText(*f.children.back()));
  }

  // "{ a: x, b: y }" for a block whose entries are rendered by `entry`.
  template <typename EntryFn>
  std::string InlineBlock(const Node& block, EntryFn entry) const {
    std::vector<std::string> parts;
    for (const auto& c : block.children) {
      if (Is<g::comment>(*c)) continue;
      parts.push_back(entry(*c));
    }
    if (parts.empty()) return "{}";
    return "{ " + fmt::format("{}", fmt::join(parts, ", ")) + " }";
  }

  std::string InlineSpecBody(const Node& body) const {
    return InlineBlock(body, [&](const Node& f) { return FieldText(f); });
  }

  std::string SpecRefText(const Node& ref) const {
    if (Is<g::none_ref>(ref)) return "none";
    if (Is<g::spec_body>(ref)) return InlineSpecBody(ref);
    std::string s(Child<g::ref_name>(ref)->string_view());
    if (const Node* body = Child<g::spec_body>(ref)) s += " " + InlineSpecBody(*body);
    return s;
  }

  std::string KeyText(const Node& k) const { return std::string(k.string_view()); }

  std::string MapEntryText(const Node& e) const {
    return KeyText(*e.children.front()) + ": " + SpecRefText(*e.children.back());
  }

  std::string GroupText(const Node& group) const {
    std::string s(Child<g::group_name>(group)->string_view());
    if (Child<g::none_tail>(group)) return s + ": none";
    return s + " " + InlineBlock(*Child<g::tensor_map>(group), [&](const Node& e) { return MapEntryText(e); });
  }

  std::string ExpectText(const Node& item) const {
    const Node* ec = Child<g::expect_clause>(item);
    if (!ec) return "";
    const Node* cmp = Child<g::comparison>(*ec);
    std::string op = cmp && cmp->string_view() != "==" ? std::string(cmp->string_view()) + " " : "";
    return fmt::format(" expect {}{}", op, Child<g::expect_count>(*ec)->string_view());
  }

  bool Fits(int indent, size_t len) const { return static_cast<size_t>(indent) * 2 + len <= kMaxWidth; }

  // --- blocks -----------------------------------------------------------------------------------
  // A spec body at the end of a line that has already been started: multi-line.
  void PrintSpecBodyMultiline(const Node& body, int indent) {
    if (!HasEntries(body) && !HasCommentIn(body)) {
      out_ += "{}";
      return;
    }
    OpenBlock(body);
    bool first = true;
    for (const auto& f : body.children) {
      if (!Is<g::field>(*f)) continue;
      StartEntry(*f, indent + 1, first);
      out_ += FieldText(*f);
      EndLine(End(*f));
      first = false;
    }
    CloseBlock(body, indent);
  }

  static bool HasEntries(const Node& block) {
    for (const auto& c : block.children) {
      if (!Is<g::comment>(*c)) return true;
    }
    return false;
  }

  // Prints a spec reference (value of a map entry) at the current position.
  void PrintSpecRef(const Node& ref, int indent, size_t column) {
    std::string text = SpecRefText(ref);
    if (!HasCommentIn(ref) && Fits(indent, column + text.size())) {
      out_ += text;
      return;
    }
    if (Is<g::spec_body>(ref)) {
      PrintSpecBodyMultiline(ref, indent);
    } else if (Is<g::named_ref>(ref)) {
      out_ += Child<g::ref_name>(ref)->string_view();
      if (const Node* body = Child<g::spec_body>(ref)) {
        out_ += " ";
        PrintSpecBodyMultiline(*body, indent);
      }
    } else {
      out_ += text;
    }
  }

  void PrintTensorGroup(const Node& group, int indent) {
    std::string text = GroupText(group);
    if (!HasCommentIn(group) && Fits(indent, text.size())) {
      out_ += text;
      return;
    }
    out_ += Child<g::group_name>(group)->string_view();
    if (Child<g::none_tail>(group)) {
      out_ += ": none";
      return;
    }
    const Node& map = *Child<g::tensor_map>(group);
    out_ += " ";
    OpenBlock(map);
    bool first = true;
    for (const auto& e : map.children) {
      if (!Is<g::map_entry>(*e)) continue;
      StartEntry(*e, indent + 1, first);
      std::string key = KeyText(*e->children.front()) + ": ";
      out_ += key;
      PrintSpecRef(*e->children.back(), indent + 1, key.size());
      EndLine(End(*e));
      first = false;
    }
    CloseBlock(map, indent);
  }

  void PrintOpEntry(const Node& entry, int indent) {
    std::string head;
    if (Is<g::op_type_entry>(entry)) {
      head = fmt::format("op_type {}", Child<g::op_type_name>(entry)->string_view());
    } else {
      const Node* sel = Child<g::string>(entry);
      if (!sel) sel = Child<g::regex>(entry);
      head = fmt::format("op_name {}", sel->string_view());
    }
    head += ExpectText(entry);
    if (Child<g::none_tail>(entry)) {
      out_ += head + ": none";
      return;
    }
    const Node& body = *Child<g::op_body>(entry);
    std::string inline_text = head + " " + InlineBlock(body, [&](const Node& gr) { return GroupText(gr); });
    if (!HasCommentIn(body) && Fits(indent, inline_text.size())) {
      out_ += inline_text;
      return;
    }
    out_ += head + " ";
    OpenBlock(body);
    bool first = true;
    for (const auto& gr : body.children) {
      if (!Is<g::tensor_group>(*gr)) continue;
      StartEntry(*gr, indent + 1, first);
      PrintTensorGroup(*gr, indent + 1);
      EndLine(End(*gr));
      first = false;
    }
    CloseBlock(body, indent);
  }

  void PrintSchedule(const Node& item, int indent) {
    if (!Child<g::schedule_body>(item)) {
      out_ += "qat_schedule: none";
      return;
    }
    const Node& body = *Child<g::schedule_body>(item);
    std::string text = "qat_schedule " + InlineBlock(body, [&](const Node& f) { return FieldText(f); });
    if (!HasCommentIn(body) && Fits(indent, text.size())) {
      out_ += text;
      return;
    }
    out_ += "qat_schedule ";
    PrintSpecBodyMultiline(body, indent);
  }

  void PrintScopeBody(const Node& body, int indent) {
    if (!HasEntries(body) && !HasCommentIn(body)) {
      out_ += "{}";
      return;
    }
    OpenBlock(body);
    bool first = true;
    for (const auto& item : body.children) {
      if (Is<g::comment>(*item)) continue;
      StartEntry(*item, indent + 1, first);
      if (Is<g::tensor_group>(*item)) {
        PrintTensorGroup(*item, indent + 1);
      } else if (Is<g::qat_schedule>(*item)) {
        PrintSchedule(*item, indent + 1);
      } else {
        PrintOpEntry(*item, indent + 1);
      }
      EndLine(End(*item));
      first = false;
    }
    CloseBlock(body, indent);
  }

  void PrintItem(const Node& item) {
    if (Is<g::import_decl>(item)) {
      out_ += fmt::format("import {}", Child<g::import_path>(item)->string_view());
    } else if (Is<g::spec_decl>(item)) {
      out_ += fmt::format("spec {}", Child<g::spec_name>(item)->string_view());
      if (const Node* p = Child<g::parent_name>(item)) out_ += fmt::format(" : {}", p->string_view());
      out_ += " ";
      PrintSpecBodyMultiline(*Child<g::spec_body>(item), 0);
    } else {
      if (Is<g::global_decl>(item)) {
        out_ += "global";
      } else if (Is<g::module_type_decl>(item)) {
        out_ += fmt::format("module_type {}", Child<g::type_name>(item)->string_view());
      } else {
        const Node* sel = Child<g::string>(item);
        if (!sel) sel = Child<g::regex>(item);
        out_ += fmt::format("module_name {}", sel->string_view());
      }
      out_ += ExpectText(item);
      if (Child<g::none_tail>(item)) {
        out_ += ": none";
      } else {
        out_ += " ";
        PrintScopeBody(*Child<g::scope_body>(item), 0);
      }
    }
    EndLine(End(item));
  }

  const Source& source_;
  const Node& root_;
  std::vector<const Node*> comments_;
  size_t next_comment_ = 0;
  uint32_t last_end_ = 0;
  std::string out_;
};

}  // namespace

FormatResult Format(const std::shared_ptr<const Source>& source) {
  FormatResult result;
  syntax::ParseOutput parsed = syntax::Parse(source);
  result.diagnostics = std::move(parsed.diagnostics);
  if (!parsed.root) return result;
  result.text = Printer(*source, *parsed.root).Run();
  result.ok = true;
  return result;
}

}  // namespace qrules
