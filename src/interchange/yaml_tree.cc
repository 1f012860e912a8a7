#include "interchange/yaml_tree.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <limits>
#include <set>
#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

namespace qrules::interchange {
namespace {

YamlMark ToMark(const YAML::Mark& m) {
  YamlMark out;
  out.line = m.line;
  out.column = m.column;
  out.valid = m.line >= 0 && m.column >= 0;
  return out;
}

bool AllDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c == '_') continue;
    int v = std::isdigit(static_cast<unsigned char>(c)) ? c - '0'
            : std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(c) - 'a' + 10
                                                           : 99;
    if (v >= base) return false;
  }
  return true;
}

// Builds YamlNodes from yaml-cpp's parse events.
class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const Source& source, std::vector<Diagnostic>& diags) : source_(source), diags_(diags) {}

  YamlNodePtr root;

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto n = NewNode(YamlNode::Kind::kNull, mark, anchor);
    Add(n, false);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) return;  // yaml-cpp throws first
    if (unfinished_.count(it->second.get())) {
      Error(ToMark(mark), "a recursive alias (an alias inside the node it refers to) is not supported");
      Add(std::make_shared<YamlNode>(), true);
      return;
    }
    Add(it->second, true);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    auto n = NewNode(YamlNode::Kind::kScalar, mark, anchor);
    n->value = value;
    n->quoted = tag != "?";
    Add(n, false);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    auto n = NewNode(YamlNode::Kind::kSeq, mark, anchor);
    Add(n, false);
    stack_.push_back({n, {}, {}});
    unfinished_.insert(n.get());
  }
  void OnSequenceEnd() override { Pop(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    auto n = NewNode(YamlNode::Kind::kMap, mark, anchor);
    Add(n, false);
    stack_.push_back({n, {}, {}});
    unfinished_.insert(n.get());
  }
  void OnMapEnd() override {
    Frame& f = stack_.back();
    FinishMap(f);
    Pop();
  }
  void OnAnchor(const YAML::Mark&, const std::string& name) override { pending_anchor_ = name; }

 private:
  struct Frame {
    YamlNodePtr node;
    std::optional<YamlNodePtr> pending_key;
    std::vector<YamlEntry> raw;
  };

  YamlNodePtr NewNode(YamlNode::Kind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    auto n = std::make_shared<YamlNode>();
    n->kind = kind;
    n->mark = ToMark(mark);
    if (anchor != 0) {
      anchors_[anchor] = n;
      n->anchor = pending_anchor_;
    }
    pending_anchor_.clear();
    return n;
  }

  void Add(const YamlNodePtr& n, bool alias) {
    if (stack_.empty()) {
      if (!root) root = n;
      return;
    }
    Frame& f = stack_.back();
    if (f.node->kind == YamlNode::Kind::kSeq) {
      f.node->items.push_back(n);
    } else if (!f.pending_key) {
      f.pending_key = n;
    } else {
      f.raw.push_back({*f.pending_key, n, alias, false});
      f.pending_key.reset();
    }
  }

  void Pop() {
    unfinished_.erase(stack_.back().node.get());
    stack_.pop_back();
  }

  void Error(const YamlMark& m, std::string message) {
    diags_.push_back(MakeDiagnostic(DiagCode::kYamlSyntax, LocationOf(source_, m), std::move(message)));
  }

  // YAML 1.1 merge keys, as PyYAML's flatten_mapping: the merged mappings come first (for a list,
  // earlier mappings take precedence), then the explicit entries; building the dict keeps each
  // key's first position and its last value.
  void FinishMap(Frame& f) {
    std::vector<YamlEntry> merged;
    std::vector<YamlEntry> explicit_entries;
    for (auto& e : f.raw) {
      if (e.key->IsScalar() && !e.key->quoted && e.key->value == "<<") {
        std::vector<YamlNodePtr> sources;
        if (e.value->IsMap()) {
          sources.push_back(e.value);
        } else if (e.value->kind == YamlNode::Kind::kSeq) {
          for (const auto& item : e.value->items) {
            if (!item->IsMap()) {
              Error(item->mark, "a merge key '<<' takes a mapping or a list of mappings");
              continue;
            }
            sources.push_back(item);
          }
          std::reverse(sources.begin(), sources.end());
        } else {
          Error(e.value->mark, "a merge key '<<' takes a mapping or a list of mappings");
        }
        for (const auto& s : sources) {
          for (const auto& se : s->entries) {
            YamlEntry m = se;
            m.from_merge = true;
            merged.push_back(m);
          }
        }
        // Earlier-listed sources win: they were pushed last after the reverse above.
        for (auto it = sources.rbegin(); it != sources.rend(); ++it) f.node->merge_sources.push_back(*it);
        continue;
      }
      explicit_entries.push_back(e);
    }
    std::vector<YamlEntry> all = std::move(merged);
    std::map<std::string, size_t> seen_explicit;
    for (auto& e : explicit_entries) all.push_back(e);
    std::map<std::string, size_t> position;
    for (auto& e : all) {
      std::string id = e.key->KeyIdentity();
      auto it = position.find(id);
      if (it == position.end()) {
        position.emplace(id, f.node->entries.size());
        f.node->entries.push_back(e);
      } else {
        f.node->entries[it->second] = e;
      }
      if (!e.from_merge) {
        if (seen_explicit.count(id)) f.node->duplicate_keys.push_back(e.key->value);
        seen_explicit[id]++;
      }
    }
  }

  const Source& source_;
  std::vector<Diagnostic>& diags_;
  std::vector<Frame> stack_;
  std::map<YAML::anchor_t, YamlNodePtr> anchors_;
  std::set<const YamlNode*> unfinished_;
  std::string pending_anchor_;
};

}  // namespace

std::optional<long long> YamlNode::AsPlainInt() const {
  if (kind != Kind::kScalar || quoted) return std::nullopt;
  std::string_view s = value;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    s.remove_prefix(2);
  } else if (s.size() > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    s.remove_prefix(2);
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;  // YAML 1.1: 017 is octal
    s.remove_prefix(1);
  }
  if (!AllDigits(s, base) || s.front() == '_') return std::nullopt;
  long long v = 0;
  for (char c : s) {
    if (c == '_') continue;
    int d = std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : std::tolower(c) - 'a' + 10;
    if (v > (std::numeric_limits<long long>::max() - d) / base) return std::nullopt;
    v = v * base + d;
  }
  return neg ? -v : v;
}

std::string YamlNode::KeyIdentity() const {
  switch (kind) {
    case Kind::kNull: return "n:";
    case Kind::kScalar:
      if (auto i = AsPlainInt()) return fmt::format("i:{}", *i);
      return "s:" + value;
    default: return fmt::format("x:{}", static_cast<const void*>(this));
  }
}

const char* YamlNode::KindName() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kMap: return "a mapping";
    case Kind::kSeq: return "a list";
    case Kind::kScalar: return AsPlainInt() ? "an integer" : "a string";
  }
  return "a value";
}

DiagLocation LocationOf(const Source& source, const YamlMark& mark, uint32_t length) {
  DiagLocation loc;
  loc.file = source.name();
  if (!mark.valid) return loc;
  loc.line = static_cast<uint32_t>(mark.line) + 1;
  loc.column = static_cast<uint32_t>(mark.column) + 1;
  loc.length = std::max<uint32_t>(1, length);
  loc.line_text = std::string(source.LineText(loc.line));
  return loc;
}

namespace {

// Limits that keep hostile YAML bounded.  yaml-cpp parses nesting recursively, so flow nesting
// ([[[[...) deeper than kMaxFlowDepth is refused before it reaches yaml-cpp; aliases share nodes
// here, but every walk of the configuration visits an alias's node again, so a document whose
// aliases expand to more than kMaxExpandedNodes nodes ("billion laughs") is refused too.
constexpr int kMaxFlowDepth = 256;
constexpr uint64_t kMaxExpandedNodes = 1'000'000;

// The deepest nesting of flow collections, outside quoted scalars and comments.
int FlowDepth(std::string_view text) {
  int depth = 0, deepest = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') comment = false;
    if (comment) continue;
    if (quote) {
      if (c == quote && !(quote == '"' && i > 0 && text[i - 1] == '\\')) quote = 0;
      continue;
    }
    if (c == '#' && (i == 0 || text[i - 1] == ' ' || text[i - 1] == '\t' || text[i - 1] == '\n')) comment = true;
    else if (c == '"' || c == '\'') quote = c;
    else if (c == '[' || c == '{') deepest = std::max(deepest, ++depth);
    else if ((c == ']' || c == '}') && depth > 0) --depth;
  }
  return deepest;
}

// The number of nodes the tree has with every alias expanded, counting up to `limit` (memoized
// per shared node, so the count itself is linear in the written nodes).
uint64_t ExpandedSize(const YamlNode* n, std::unordered_map<const YamlNode*, uint64_t>& memo, uint64_t limit) {
  if (!n) return 0;
  if (auto it = memo.find(n); it != memo.end()) return it->second;
  memo.emplace(n, limit);  // a cycle (reported elsewhere) counts as too large
  uint64_t total = 1;
  for (const YamlEntry& e : n->entries) {
    total += ExpandedSize(e.key.get(), memo, limit) + ExpandedSize(e.value.get(), memo, limit);
    if (total >= limit) break;
  }
  for (const YamlNodePtr& item : n->items) {
    if (total >= limit) break;
    total += ExpandedSize(item.get(), memo, limit);
  }
  total = std::min(total, limit);
  memo[n] = total;
  return total;
}

}  // namespace

YamlParseResult ParseYaml(const std::shared_ptr<const Source>& source) {
  YamlParseResult out;
  if (FlowDepth(source->text()) > kMaxFlowDepth) {
    out.diagnostics.push_back(MakeDiagnostic(DiagCode::kLimitExceeded, LocationOf(*source, YamlMark{}),
                                             fmt::format("the YAML nests [ ] and {{ }} more than {} deep", kMaxFlowDepth)));
    return out;
  }
  std::istringstream in(source->text());
  TreeBuilder builder(*source, out.diagnostics);
  try {
    YAML::Parser parser(in);
    if (parser.HandleNextDocument(builder)) {
      TreeBuilder second(*source, out.diagnostics);
      if (parser.HandleNextDocument(second)) {
        out.diagnostics.push_back(MakeDiagnostic(DiagCode::kYamlSyntax, LocationOf(*source, second.root ? second.root->mark : YamlMark{}),
                                                 "expected a single YAML document, found more than one"));
      }
    }
  } catch (const YAML::Exception& e) {
    YamlMark m;
    m.line = e.mark.line;
    m.column = e.mark.column;
    m.valid = e.mark.line >= 0 && e.mark.column >= 0;
    out.diagnostics.push_back(MakeDiagnostic(DiagCode::kYamlSyntax, LocationOf(*source, m),
                                             fmt::format("invalid YAML: {}", e.msg)));
    return out;
  }
  if (HasErrors(out.diagnostics)) return out;
  out.root = builder.root ? builder.root : std::make_shared<YamlNode>();
  std::unordered_map<const YamlNode*, uint64_t> memo;
  if (ExpandedSize(out.root.get(), memo, kMaxExpandedNodes) >= kMaxExpandedNodes) {
    out.diagnostics.push_back(MakeDiagnostic(
        DiagCode::kLimitExceeded, LocationOf(*source, YamlMark{}),
        fmt::format("the YAML's aliases expand to more than {} nodes; qrules refuses it (\"billion laughs\")",
                    kMaxExpandedNodes)));
    out.root = nullptr;
  }
  return out;
}

std::vector<YamlComment> ScanYamlComments(std::string_view text) {
  std::vector<YamlComment> out;
  int line = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    bool in_single = false, in_double = false, code = false;
    for (size_t i = 0; i < l.size(); ++i) {
      char c = l[i];
      if (in_double) {
        if (c == '\\') ++i;
        else if (c == '"') in_double = false;
        continue;
      }
      if (in_single) {
        if (c == '\'') in_single = false;
        continue;
      }
      if (c == '#' && (i == 0 || l[i - 1] == ' ' || l[i - 1] == '\t')) {
        std::string t(l.substr(i));
        while (!t.empty() && (t.back() == ' ' || t.back() == '\t' || t.back() == '\r')) t.pop_back();
        out.push_back({line, code, t});
        break;
      }
      if (c == '"' && (i == 0 || !std::isalnum(static_cast<unsigned char>(l[i - 1])))) in_double = true;
      if (c == '\'' && (i == 0 || !std::isalnum(static_cast<unsigned char>(l[i - 1])))) in_single = true;
      if (c != ' ' && c != '\t' && c != '\r') code = true;
    }
    if (end == text.size()) break;
    pos = end + 1;
    ++line;
  }
  return out;
}

}  // namespace qrules::interchange
