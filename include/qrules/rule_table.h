// qrules/rule_table.h — the compiled name-matching table of a rule file.
//
//   auto table = qrules::RuleTable::Build(rules->config);       // once per rule file
//   std::vector<int> hits;  qrules::RuleTable::Scratch scratch;
//   table->MatchModuleName("model.layers.3.mlp", hits, scratch); // module_name entries, file order
//   table->MatchOpName("linear_23", hits, scratch);              // op_name entries of every scope
//   auto [scope, entry] = table->op_name_entry(hits.back());
//
// Every selector of one level is matched against a name in one pass: exact names through a hash
// map, regexes (full match) through one RE2::Set; the indices come back sorted by file order, so
// the last one is the entry that wins (later entry wins, grammar/SEMANTICS.md §b.1, §b.3).  Scopes are
// numbered 0 = global, 1.. = module_type entries, then module_name entries.  Immutable after
// Build and safe to share between threads (the caller passes its own scratch buffers).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <re2/set.h>

#include "qrules/config.h"

namespace qrules {

class RuleTable {
 public:
  struct Scratch {
    std::vector<int> regex_hits;
  };

  // Builds the table; `ok()` is false when RE2 could not build a set (its memory budget).
  static std::shared_ptr<const RuleTable> Build(const QuantizerConfig& config);

  bool ok() const { return module_names_.ok && op_names_.ok; }
  // module_name entry indices whose selector matches `name`, ascending.
  void MatchModuleName(std::string_view name, std::vector<int>& out, Scratch& scratch) const;
  // op_name ids (see op_name_entry) whose selector matches `name`, ascending.
  void MatchOpName(std::string_view name, std::vector<int>& out, Scratch& scratch) const;
  // (scope, index into that scope's op_name list) of an op_name id.
  std::pair<int, int> op_name_entry(int id) const { return op_name_ids_[static_cast<size_t>(id)]; }
  size_t op_name_count() const { return op_name_ids_.size(); }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Index {
    std::unordered_map<std::string, std::vector<int>, StringHash, std::equal_to<>> exact;
    std::unique_ptr<RE2::Set> regexes;
    std::vector<int> regex_ids;
    bool ok = true;
    void Add(const NameSelector& s, int id);
    void Compile();
    void Match(std::string_view name, std::vector<int>& out, Scratch& scratch) const;
  };
  Index module_names_;
  Index op_names_;
  std::vector<std::pair<int, int>> op_name_ids_;
};

}  // namespace qrules
