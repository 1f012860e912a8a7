// src/interchange: a YAML document as a tree that keeps what coreai_opt's loader (PyYAML
// safe_load) sees and what yaml-cpp's Node API drops: the position of every key and value, whether
// a scalar was quoted (a quoted "0" is a string, a plain 0 an integer), anchor names, which values
// were written as aliases, and `<<` merge keys (YAML 1.1; yaml-cpp 0.7 leaves `<<` as an ordinary
// key, so the merge is done here, with PyYAML's precedence).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/source.h"

namespace qrules::interchange {

struct YamlMark {
  int line = 0;    // 0-based, as yaml-cpp
  int column = 0;  // 0-based
  bool valid = false;
};

struct YamlNode;
using YamlNodePtr = std::shared_ptr<YamlNode>;

struct YamlEntry {
  YamlNodePtr key;
  YamlNodePtr value;
  bool value_is_alias = false;  // written `*name`
  bool from_merge = false;      // came in through `<<`
};

struct YamlNode {
  enum class Kind { kNull, kScalar, kMap, kSeq };
  Kind kind = Kind::kNull;
  std::string value;    // scalars
  bool quoted = false;  // scalars: single/double quoted or block scalar (never an int/null)
  YamlMark mark;
  std::string anchor;   // the anchor defined on this node, or ""
  std::vector<YamlEntry> entries;  // maps: after merging, in PyYAML dict order, keys unique
  std::vector<YamlNodePtr> items;  // sequences
  // Maps built with `<<`: the merged sources (aliases), and how many entries were written here.
  std::vector<YamlNodePtr> merge_sources;
  std::vector<std::string> duplicate_keys;  // keys written twice (the last value won)

  bool IsNull() const { return kind == Kind::kNull; }
  bool IsMap() const { return kind == Kind::kMap; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  // A plain scalar that YAML 1.1 (PyYAML) resolves to an integer.
  std::optional<long long> AsPlainInt() const;
  // The key identity PyYAML's dict would use: "i:<n>" for integers, "s:<text>" for strings,
  // "n:" for null, "x:" for a collection key.
  std::string KeyIdentity() const;
  const char* KindName() const;  // "null", "a mapping", "a sequence", "an integer", "a string"
};

// Parses exactly one YAML document.  Syntax errors are `yaml-syntax` diagnostics at the YAML
// line:column; an empty stream gives a null root.
struct YamlParseResult {
  YamlNodePtr root;  // null iff a diagnostic is an error
  std::vector<Diagnostic> diagnostics;
};
YamlParseResult ParseYaml(const std::shared_ptr<const Source>& source);

// The diagnostic location of a mark in `source` (1-based line/column, the line's text).
DiagLocation LocationOf(const Source& source, const YamlMark& mark, uint32_t length = 1);

// Every `#` comment of a YAML text: 0-based line, whether code precedes it on that line, its text
// (from the `#` on, trailing whitespace removed).
struct YamlComment {
  int line = 0;
  bool trailing = false;
  std::string text;
};
std::vector<YamlComment> ScanYamlComments(std::string_view text);

}  // namespace qrules::interchange
