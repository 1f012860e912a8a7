#include "qrules/rule_table.h"

#include <algorithm>

namespace qrules {

void RuleTable::Index::Add(const NameSelector& s, int id) {
  if (!s.is_regex) {
    exact[s.text].push_back(id);
    return;
  }
  if (!regexes) regexes = std::make_unique<RE2::Set>(RE2::Quiet, RE2::ANCHOR_BOTH);
  if (regexes->Add(s.text, nullptr) >= 0) regex_ids.push_back(id);
}

void RuleTable::Index::Compile() {
  if (regexes && !regexes->Compile()) {
    ok = false;
    regexes.reset();
  }
}

void RuleTable::Index::Match(std::string_view name, std::vector<int>& out, Scratch& scratch) const {
  out.clear();
  if (auto it = exact.find(name); it != exact.end()) out = it->second;
  if (regexes) {
    scratch.regex_hits.clear();
    regexes->Match(re2::StringPiece(name.data(), name.size()), &scratch.regex_hits);
    for (int h : scratch.regex_hits) out.push_back(regex_ids[static_cast<size_t>(h)]);
  }
  // RE2::Set::Match returns indices unordered; precedence is file order.
  if (out.size() > 1) std::sort(out.begin(), out.end());
}

std::shared_ptr<const RuleTable> RuleTable::Build(const QuantizerConfig& config) {
  auto t = std::make_shared<RuleTable>();
  for (size_t e = 0; e < config.module_name.size(); ++e) t->module_names_.Add(config.module_name[e].selector, static_cast<int>(e));
  t->module_names_.Compile();
  // Scopes: 0 = global, then module_type entries, then module_name entries.
  std::vector<const ModuleQuantizerConfig*> scopes;
  ModuleQuantizerConfig absent_global;
  scopes.push_back(config.global ? &*config.global : &absent_global);
  for (const auto& e : config.module_type) scopes.push_back(&e.config);
  for (const auto& e : config.module_name) scopes.push_back(&e.config);
  for (size_t s = 0; s < scopes.size(); ++s) {
    for (size_t k = 0; k < scopes[s]->op_name.size(); ++k) {
      t->op_name_ids_.push_back({static_cast<int>(s), static_cast<int>(k)});
      t->op_names_.Add(scopes[s]->op_name[k].selector, static_cast<int>(t->op_name_ids_.size() - 1));
    }
  }
  t->op_names_.Compile();
  return t;
}

void RuleTable::MatchModuleName(std::string_view name, std::vector<int>& out, Scratch& scratch) const {
  module_names_.Match(name, out, scratch);
}

void RuleTable::MatchOpName(std::string_view name, std::vector<int>& out, Scratch& scratch) const {
  op_names_.Match(name, out, scratch);
}

}  // namespace qrules
