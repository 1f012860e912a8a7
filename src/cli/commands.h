// The qrules CLI: one table of subcommands (cli/main.cc) dispatching to these handlers.
// Each handler gets its arguments after the subcommand name and returns the process exit code:
// 0 success (clean, or warnings only), 1 diagnostics at error level or a failed check,
// 2 usage or I/O problem.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace qrules::cli {

struct Io {
  std::ostream& out;
  std::ostream& err;
  bool err_is_terminal = false;  // progress bars only when stderr is a terminal
};

using Args = std::vector<std::string>;

int CmdLint(const Args& args, Io& io);
int CmdFmt(const Args& args, Io& io);
int CmdInspect(const Args& args, Io& io);
int CmdPlan(const Args& args, Io& io);
int CmdExplain(const Args& args, Io& io);
int CmdQuantize(const Args& args, Io& io);
int CmdRun(const Args& args, Io& io);
int CmdImport(const Args& args, Io& io);
int CmdExport(const Args& args, Io& io);
int CmdDiff(const Args& args, Io& io);

}  // namespace qrules::cli
