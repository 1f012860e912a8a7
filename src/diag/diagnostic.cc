#include <algorithm>
#include <array>

#include "qrules/diagnostic.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace qrules {
namespace {

constexpr DiagnosticKind kKinds[] = {
#define QRULES_DIAG(name, code, severity, summary) {DiagCode::name, code, Severity::severity, summary},
#include "qrules/diagnostic_kinds.def"
#undef QRULES_DIAG
};

}  // namespace

std::span<const DiagnosticKind> AllDiagnosticKinds() { return kKinds; }

const DiagnosticKind& KindOf(DiagCode code) { return kKinds[static_cast<size_t>(code)]; }

const DiagnosticKind* FindDiagnosticKind(std::string_view id) {
  for (const auto& k : kKinds) {
    if (k.id == id) return &k;
  }
  return nullptr;
}

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kNote: return "note";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "error";
}

DiagLocation DiagLocation::From(const Source& source, uint32_t begin, uint32_t end) {
  DiagLocation loc;
  loc.file = source.name();
  LineColumn lc = source.Locate(begin);
  loc.line = lc.line;
  loc.column = lc.column;
  loc.line_text = std::string(source.LineText(lc.line));
  uint32_t max_len = loc.line_text.size() + 1 >= loc.column
                         ? static_cast<uint32_t>(loc.line_text.size() + 1 - loc.column)
                         : 1;
  uint32_t len = end > begin ? end - begin : 1;
  loc.length = std::max<uint32_t>(1, std::min(len, max_len));
  return loc;
}

DiagLocation DiagLocation::From(const SourceRange& range) {
  if (!range.source) return {};
  return From(*range.source, range.begin, range.end);
}

Diagnostic MakeDiagnostic(DiagCode code, DiagLocation location, std::string message) {
  Diagnostic d;
  d.code = code;
  d.severity = KindOf(code).default_severity;
  d.location = std::move(location);
  d.message = std::move(message);
  return d;
}

bool HasErrors(std::span<const Diagnostic> diagnostics) {
  return CountSeverity(diagnostics, Severity::kError) > 0;
}

size_t CountSeverity(std::span<const Diagnostic> diagnostics, Severity severity) {
  return static_cast<size_t>(std::count_if(diagnostics.begin(), diagnostics.end(),
                                           [&](const Diagnostic& d) { return d.severity == severity; }));
}

std::vector<Diagnostic> ApplySeverityOptions(std::vector<Diagnostic> diagnostics,
                                             const SeverityOptions& options) {
  for (auto& d : diagnostics) {
    auto it = options.overrides.find(d.id());
    if (it != options.overrides.end()) {
      d.severity = it->second;
    } else if (options.warnings_as_errors && d.severity == Severity::kWarning) {
      d.severity = Severity::kError;
    }
  }
  return diagnostics;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance (a transposition counts as one edit): typos such as
  // 'int7' or 'symetric' or 'op_inptu' are one or two edits away.
  const size_t n = a.size(), m = b.size();
  std::vector<size_t> prev2(m + 1), prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    prev2.swap(prev);
    prev.swap(cur);
  }
  return prev[m];
}

std::vector<std::string> SuggestSimilar(std::string_view word,
                                        std::span<const std::string_view> candidates,
                                        size_t max_results) {
  // A suggestion must be within a third of the word's length (at least 1, at most 3 edits), so
  // that short unrelated words are not offered.
  size_t limit = std::clamp<size_t>(word.size() / 3, 1, 3);
  std::vector<std::pair<size_t, std::string_view>> scored;
  for (std::string_view c : candidates) {
    if (c == word) continue;
    size_t d = EditDistance(word, c);
    if (d <= limit) scored.push_back({d, c});
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string> out;
  for (const auto& [d, c] : scored) {
    if (out.size() >= max_results) break;
    if (std::find(out.begin(), out.end(), c) == out.end()) out.emplace_back(c);
  }
  return out;
}

}  // namespace qrules

namespace qrules {

std::optional<Diagnostic> ReadFileBounded(const std::string& path, size_t max_bytes, std::string& out) {
  auto fail = [&](std::string why) {
    DiagLocation loc;
    loc.file = path;
    return MakeDiagnostic(DiagCode::kIoError, loc, "cannot read file: " + why);
  };
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return fail(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return fail("is a directory");
  if (!S_ISREG(st.st_mode)) return fail("not a regular file (a device, pipe or socket)");
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    return fail("the file has " + std::to_string(st.st_size) + " bytes, more than the limit of " +
                std::to_string(max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::strerror(errno));
  // The size may change between stat and read: read at most max_bytes + 1 and check again.
  out.assign(static_cast<size_t>(st.st_size), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  char extra;
  while (in.read(&extra, 1)) {
    if (out.size() >= max_bytes) return fail("the file grew past the limit of " + std::to_string(max_bytes) + " bytes");
    out.push_back(extra);
  }
  if (in.bad()) return fail("read error");
  return std::nullopt;
}

}  // namespace qrules

namespace qrules {

std::optional<Diagnostic> WriteFileAtomically(const std::string& path, std::string_view bytes) {
  auto fail = [&](std::string why) {
    DiagLocation loc;
    loc.file = path;
    return MakeDiagnostic(DiagCode::kIoError, loc, "cannot write file: " + why);
  };
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  if (exists && S_ISDIR(st.st_mode)) return fail("is a directory");
  const bool direct = exists && !S_ISREG(st.st_mode);
  const std::string target = direct ? path : path + ".qrules-partial";
  {
    std::ofstream out(target, std::ios::binary | std::ios::trunc);
    if (!out) return fail(std::strerror(errno));
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) {
      const int err = errno;
      out.close();
      if (!direct) std::remove(target.c_str());
      return fail(err ? std::strerror(err) : "write error");
    }
    out.close();
    if (out.fail()) {
      if (!direct) std::remove(target.c_str());
      return fail("write error on close");
    }
  }
  if (!direct && std::rename(target.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(target.c_str());
    return fail(std::strerror(err));
  }
  return std::nullopt;
}

}  // namespace qrules
