// Embedding qrules: compile a rule file, load a model, resolve the plan, calibrate, run the
// fake-quantized model and print the damage report — the same steps as `qrules run`, through
// the library.
//
//   embed_run RULES.qrules MODEL.onnx MODULES.json IMAGES.npy LABELS.npy
#include <iostream>

#include "qrules/compile.h"
#include "qrules/npy.h"
#include "qrules/onnx_import.h"
#include "qrules/plan.h"
#include "qrules/simulate.h"

int main(int argc, char** argv) {
  if (argc != 6) {
    std::cerr << "usage: embed_run RULES.qrules MODEL.onnx MODULES.json IMAGES.npy LABELS.npy\n";
    return 2;
  }
  // 1. Rules: compiled once into an immutable object.
  qrules::CompileResult rules = qrules::CompileFile(argv[1]);
  std::cerr << qrules::RenderText(rules.diagnostics);
  if (!rules.ok()) return 1;

  // 2. The model, with its module map (module types and exact node attribution).
  qrules::ImportOptions options;
  options.module_map_path = argv[3];
  qrules::ModelResult model = qrules::ImportOnnxFile(argv[2], options);
  std::cerr << qrules::RenderText(model.diagnostics);
  if (!model.ok()) return 1;

  // 3. The plan: every tensor's spec and the rule that decided it.
  qrules::PlanResult plan = qrules::Resolve(rules.rules, model.model);
  std::cerr << qrules::RenderText(plan.diagnostics);
  if (!plan.ok()) return 1;
  std::cout << "fake-quant points: " << plan.plan->points.size() << "\n";

  // 4. Data.
  qrules::NpyResult images = qrules::ReadNpyFile(argv[4]);
  qrules::NpyResult labels = qrules::ReadNpyFile(argv[5]);
  if (!images.ok() || !labels.ok()) {
    std::cerr << qrules::RenderText(images.diagnostics) << qrules::RenderText(labels.diagnostics);
    return 1;
  }
  std::vector<qrules::Tensor> inputs{*images.tensor};

  // 5. Calibrate on two batches, then evaluate against the float model.
  qrules::SimulatorResult sim = qrules::Simulator::Create(plan.plan);
  if (!sim.ok()) {
    std::cerr << qrules::RenderText(sim.diagnostics);
    return 1;
  }
  auto calibration = sim.simulator->Calibrate(inputs, /*batch_size=*/64, /*max_batches=*/2);
  if (qrules::HasErrors(calibration)) return 1;
  qrules::SimReportResult report = sim.simulator->Evaluate(inputs, &*labels.tensor, 64);
  if (!report.ok()) {
    std::cerr << qrules::RenderText(report.diagnostics);
    return 1;
  }
  std::cout << qrules::RenderReportText(*report.report, 5);
  return 0;
}
