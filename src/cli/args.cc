#include "cli/args.h"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>

#include "qrules/diagnostic.h"

namespace qrules::cli {

ParsedArgs ParseArgs(const Args& args, std::initializer_list<std::string_view> value_options,
                     std::initializer_list<std::string_view> flag_options) {
  ParsedArgs out;
  auto is_value = [&](std::string_view n) {
    return std::find(value_options.begin(), value_options.end(), n) != value_options.end();
  };
  auto is_flag = [&](std::string_view n) {
    return std::find(flag_options.begin(), flag_options.end(), n) != flag_options.end();
  };
  bool only_positional = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (only_positional || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a, value;
    bool has_inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos && a.rfind("--", 0) == 0) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_inline_value = true;
    }
    if (is_flag(name) && !has_inline_value) {
      out.flags.insert(name);
    } else if (is_value(name)) {
      if (!has_inline_value) {
        if (i + 1 >= args.size()) {
          out.error = fmt::format("option '{}' needs a value", name);
          return out;
        }
        value = args[++i];
      }
      out.values[name].push_back(value);
    } else {
      std::vector<std::string_view> all(value_options);
      all.insert(all.end(), flag_options.begin(), flag_options.end());
      auto s = SuggestSimilar(name, all);
      out.error = fmt::format("unknown option '{}'{}", name,
                              s.empty() ? "" : fmt::format(", did you mean '{}'?", s.front()));
      return out;
    }
  }
  return out;
}

int UsageError(Io& io, std::string_view command, std::string_view message) {
  io.err << fmt::format("qrules {}: {}\nrun 'qrules --help' for usage\n", command, message);
  return 2;
}

}  // namespace qrules::cli
