// qrules/format.h — the canonical form of a .qrules file (what `qrules fmt` prints).
//
//   auto src = std::make_shared<const qrules::Source>("a.qrules", text);
//   qrules::FormatResult f = qrules::Format(src);
//   if (f.ok) std::cout << f.text;
//
// The canonical form: two-space indents; spec and scope bodies one entry per line; tensor maps,
// op entries, inline specs and schedules on one line when they hold no comment and fit in 100
// columns; one blank line between top-level items (none between imports).  Every comment is kept.
// Formatting is idempotent (Format of the output returns it unchanged) and keeps the meaning.
// A file that does not parse gives ok == false and its syntax diagnostics.  Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "qrules/diagnostic.h"
#include "qrules/source.h"

namespace qrules {

struct [[nodiscard]] FormatResult {
  bool ok = false;
  std::string text;
  std::vector<Diagnostic> diagnostics;
};

FormatResult Format(const std::shared_ptr<const Source>& source);

}  // namespace qrules
