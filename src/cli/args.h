// Command-line option parsing shared by the subcommands: `--name value`, `--name=value`, flags,
// positional arguments, and "unknown option, did you mean" errors.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/commands.h"

namespace qrules::cli {

struct ParsedArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>, std::less<>> values;
  std::set<std::string, std::less<>> flags;
  std::string error;  // non-empty: a usage error to print

  bool Flag(std::string_view name) const { return flags.count(name) > 0; }
  std::optional<std::string> Value(std::string_view name) const {
    auto it = values.find(name);
    if (it == values.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
  }
  std::vector<std::string> All(std::string_view name) const {
    auto it = values.find(name);
    return it == values.end() ? std::vector<std::string>{} : it->second;
  }
};

// `value_options` take a value, `flag_options` do not (both spelled with their dashes).
ParsedArgs ParseArgs(const Args& args, std::initializer_list<std::string_view> value_options,
                     std::initializer_list<std::string_view> flag_options);

// Prints "qrules CMD: MESSAGE" and the usage line; returns 2.
int UsageError(Io& io, std::string_view command, std::string_view message);

}  // namespace qrules::cli
