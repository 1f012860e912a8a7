// qrules — the command-line tool.  Subcommands come from one table; see `qrules --help`.
#include <unistd.h>

#include <iostream>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include "cli/commands.h"
#include "qrules/diagnostic.h"
#include "qrules/version.h"

namespace qrules::cli {
namespace {

struct Subcommand {
  std::string_view name;
  std::string_view usage;
  std::string_view summary;
  int (*handler)(const Args&, Io&);
};

constexpr Subcommand kSubcommands[] = {
#define QRULES_SUBCOMMAND(name, usage, summary, handler) {name, usage, summary, handler},
#include "cli/subcommands.def"
#undef QRULES_SUBCOMMAND
};

void PrintHelp(std::ostream& out) {
  out << fmt::format("qrules {} — quantization rules: lint, explain, plan and run\n\n", kVersionString);
  out << "usage: qrules <command> [options]\n\ncommands:\n";
  for (const auto& c : kSubcommands) out << fmt::format("  {:<9} {}\n", c.name, c.summary);
  out << "\nusage of each command:\n";
  for (const auto& c : kSubcommands) out << fmt::format("  qrules {}\n", c.usage);
  out << "\nexit codes: 0 success (warnings allowed), 1 errors found or a check failed, "
         "2 usage or I/O problem\n";
}

}  // namespace

int Main(int argc, char** argv) {
  Io io{std::cout, std::cerr, static_cast<bool>(isatty(STDERR_FILENO))};
  if (argc < 2) {
    PrintHelp(io.err);
    return 2;
  }
  std::string_view cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    PrintHelp(io.out);
    return 0;
  }
  if (cmd == "--version") {
    io.out << fmt::format("qrules {}\n", kVersionString);
    return 0;
  }
  Args args(argv + 2, argv + argc);
  for (const auto& c : kSubcommands) {
    if (c.name == cmd) return c.handler(args, io);
  }
  std::vector<std::string_view> names;
  for (const auto& c : kSubcommands) names.push_back(c.name);
  std::string hint;
  auto s = SuggestSimilar(cmd, names);
  if (!s.empty()) hint = fmt::format(", did you mean '{}'?", s.front());
  io.err << fmt::format("qrules: unknown command '{}'{}\nrun 'qrules --help' for the list of commands\n",
                        cmd, hint);
  return 2;
}

}  // namespace qrules::cli

int main(int argc, char** argv) { return qrules::cli::Main(argc, argv); }
