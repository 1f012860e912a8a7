// SARIF output (RenderSarif, `qrules lint --format sarif`): what GitHub code scanning requires.
#include <catch2/catch.hpp>

#include <set>

#include <nlohmann/json.hpp>

#include "qrules/compile.h"
#include "qrules/diagnostic.h"

using namespace qrules;

TEST_CASE("SARIF 2.1.0 carries what GitHub code scanning requires", "[interchange][sarif]") {
  CompileResult r = Compile(std::make_shared<const Source>(
      "rules/bad.qrules", "qrules 1\n\nspec a {\n  dtype: int7\n}\n\nmodule_name /model.lm_head/: none\n"));
  REQUIRE(r.diagnostics.size() >= 2);
  nlohmann::json s = nlohmann::json::parse(RenderSarif(r.diagnostics, "9.8.7"));
  CHECK(s["version"] == "2.1.0");
  REQUIRE(s["$schema"].is_string());
  CHECK(s["$schema"].get<std::string>().find("sarif") != std::string::npos);
  REQUIRE(s["runs"].is_array());
  REQUIRE(s["runs"].size() == 1);
  const auto& run = s["runs"][0];
  const auto& driver = run["tool"]["driver"];
  CHECK(driver["name"] == "qrules");
  // rules: one per diagnostic code, with its summary.
  REQUIRE(driver["rules"].is_array());
  CHECK(driver["rules"].size() == AllDiagnosticKinds().size());
  std::set<std::string> rule_ids;
  for (const auto& rule : driver["rules"]) {
    std::string id = rule["id"];
    rule_ids.insert(id);
    const DiagnosticKind* kind = FindDiagnosticKind(id);
    REQUIRE(kind != nullptr);
    CHECK(rule["shortDescription"]["text"] == std::string(kind->summary));
  }
  // results: ruleId, level, message.text, a physical location with line and column.
  const auto& results = run["results"];
  REQUIRE(results.is_array());
  REQUIRE(results.size() == r.diagnostics.size());
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& res = results[i];
    const Diagnostic& d = r.diagnostics[i];
    CHECK(res["ruleId"] == std::string(d.id()));
    CHECK(rule_ids.count(res["ruleId"]) == 1);
    CHECK(res["level"] == (d.severity == Severity::kError ? "error" : "warning"));
    CHECK(res["message"]["text"].get<std::string>().find(d.message) != std::string::npos);
    const auto& loc = res["locations"][0]["physicalLocation"];
    CHECK(loc["artifactLocation"]["uri"] == "rules/bad.qrules");
    CHECK(loc["region"]["startLine"] == d.location.line);
    CHECK(loc["region"]["startColumn"] == d.location.column);
  }
  bool found = false;
  for (const auto& res : results) {
    if (res["ruleId"] != "unknown-dtype") continue;
    found = true;
    CHECK(res["level"] == "error");
    CHECK(res["locations"][0]["physicalLocation"]["region"]["startLine"] == 4);
    CHECK(res["locations"][0]["physicalLocation"]["region"]["startColumn"] == 10);
  }
  CHECK(found);
}

TEST_CASE("SARIF with no diagnostics is still a valid log", "[interchange][sarif]") {
  nlohmann::json s = nlohmann::json::parse(RenderSarif({}, "1.0"));
  CHECK(s["version"] == "2.1.0");
  CHECK(s["runs"][0]["results"].is_array());
  CHECK(s["runs"][0]["results"].empty());
}
