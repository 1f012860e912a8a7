#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "qrules/diagnostic.h"

namespace qrules {
namespace {

std::string LocationPrefix(const DiagLocation& loc) {
  if (loc.file.empty()) return "qrules: ";
  if (loc.line == 0) return loc.file + ": ";
  return fmt::format("{}:{}:{}: ", loc.file, loc.line, loc.column);
}

// The source line and a caret/underline under [column, column + length), gutter as in clang 14+.
void AppendSnippet(std::string& out, const DiagLocation& loc) {
  if (loc.line == 0) return;
  std::string gutter = fmt::format("{:>5}", loc.line);
  out += fmt::format("{} | {}\n", gutter, loc.line_text);
  std::string marker;
  // Keep tabs from the source line so that the caret lines up in any tab width.
  for (uint32_t i = 1; i < loc.column; ++i) {
    marker += (i - 1 < loc.line_text.size() && loc.line_text[i - 1] == '\t') ? '\t' : ' ';
  }
  marker += '^';
  for (uint32_t i = 1; i < loc.length; ++i) marker += '~';
  out += fmt::format("{} | {}\n", std::string(gutter.size(), ' '), marker);
}

}  // namespace

std::string RenderText(std::span<const Diagnostic> diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    out += fmt::format("{}{}: {} [{}]\n", LocationPrefix(d.location), SeverityName(d.severity),
                       d.message, d.id());
    AppendSnippet(out, d.location);
    for (const std::string& s : d.suggestions) {
      out += fmt::format("{}note: did you mean '{}'?\n", LocationPrefix(d.location), s);
    }
    for (const DiagNote& n : d.notes) {
      out += fmt::format("{}note: {}\n", LocationPrefix(n.location), n.message);
      AppendSnippet(out, n.location);
    }
  }
  return out;
}

std::string RenderJson(std::span<const Diagnostic> diagnostics) {
  nlohmann::ordered_json arr = nlohmann::ordered_json::array();
  for (const Diagnostic& d : diagnostics) {
    nlohmann::ordered_json j;
    j["file"] = d.location.file;
    j["line"] = d.location.line;
    j["column"] = d.location.column;
    j["end_column"] = d.location.column + d.location.length;
    j["severity"] = std::string(SeverityName(d.severity));
    j["code"] = std::string(d.id());
    j["message"] = d.message;
    nlohmann::ordered_json notes = nlohmann::ordered_json::array();
    for (const DiagNote& n : d.notes) {
      notes.push_back({{"file", n.location.file},
                       {"line", n.location.line},
                       {"column", n.location.column},
                       {"message", n.message}});
    }
    j["notes"] = notes;
    j["suggestions"] = d.suggestions;
    arr.push_back(std::move(j));
  }
  // Invalid UTF-8 in a message (an echoed byte from a binary file) is replaced, not thrown.
  return arr.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string RenderSarif(std::span<const Diagnostic> diagnostics, std::string_view tool_version) {
  using J = nlohmann::ordered_json;
  J rules = J::array();
  for (const DiagnosticKind& k : AllDiagnosticKinds()) {
    rules.push_back({{"id", std::string(k.id)},
                     {"shortDescription", {{"text", std::string(k.summary)}}},
                     {"defaultConfiguration",
                      {{"level", k.default_severity == Severity::kError ? "error" : "warning"}}}});
  }
  J results = J::array();
  for (const Diagnostic& d : diagnostics) {
    J r;
    r["ruleId"] = std::string(d.id());
    r["level"] = d.severity == Severity::kError     ? "error"
                 : d.severity == Severity::kWarning ? "warning"
                                                    : "note";
    std::string text = d.message;
    for (const std::string& s : d.suggestions) text += fmt::format(" (did you mean '{}'?)", s);
    r["message"] = {{"text", text}};
    J physical = {{"artifactLocation", {{"uri", d.location.file.empty() ? "qrules" : d.location.file}}}};
    if (d.location.line > 0) {
      physical["region"] = {{"startLine", d.location.line},
                            {"startColumn", d.location.column},
                            {"endColumn", d.location.column + d.location.length}};
    } else {
      physical["region"] = {{"startLine", 1}, {"startColumn", 1}};
    }
    r["locations"] = J::array({{{"physicalLocation", physical}}});
    results.push_back(std::move(r));
  }
  J log = {{"version", "2.1.0"},
           {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
           {"runs", J::array({{{"tool",
                                {{"driver",
                                  {{"name", "qrules"},
                                   {"version", std::string(tool_version)},
                                   {"informationUri", "https://github.com/qrules/qrules"},
                                   {"rules", rules}}}}},
                               {"results", results}}})}};
  return log.dump(2, ' ', false, J::error_handler_t::replace) + "\n";
}

}  // namespace qrules
