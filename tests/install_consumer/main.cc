// Compiles a rule text, prints one of its specs, and imports a coreai_opt YAML config: enough to
// need every installed stage library and their dependencies.
#include <iostream>
#include <memory>

#include "qrules/compile.h"
#include "qrules/coreai_yaml.h"
#include "qrules/plan.h"
#include "qrules/version.h"

int main() {
  auto src = std::make_shared<const qrules::Source>("consumer.qrules",
                                                    "qrules 1\n\n"
                                                    "spec w4 {\n  dtype: int4\n  granularity: per_block(block_size: 32)\n}\n\n"
                                                    "global {\n  op_state { weight: w4 }\n}\n");
  qrules::CompileResult r = qrules::Compile(src);
  if (!r.ok()) {
    std::cerr << qrules::RenderText(r.diagnostics);
    return 1;
  }
  const qrules::QuantizationSpec* w4 = r.rules->FindSpec("w4");
  if (!w4) return 1;
  std::cout << "spec w4: " << qrules::SpecSummary(*w4, /*is_state=*/true) << "\n";
  qrules::YamlImportResult y = qrules::ImportCoreaiYaml(
      std::make_shared<const qrules::Source>("c.yaml", "quantization_config:\n  global_config: null\n"));
  if (!y.ok()) return 1;
  std::cout << "import: " << (y.text.find("global: none") != std::string::npos ? "ok" : "wrong") << "\n";
  std::cout << "header version: " << qrules::kVersionString << "\n";
  std::cout << "package version: " << QRULES_PACKAGE_VERSION << "\n";
  return 0;
}
