// qrules/onnx_import.h — ONNX models into the IR, with an optional PyTorch module map.
//
//   qrules::ImportResult r = qrules::ImportOnnxFile("net.onnx", {.module_map_path = "net.modules.json"});
//   if (!r.ok()) { std::cerr << qrules::RenderText(r.diagnostics); return 2; }
//   std::cout << qrules::RenderModelSummary(*r.model);
//
// What the importer does:
//  * initializers and Constant nodes become state tensors with data (float32 data stays float32;
//    integer/bool data is widened to int64, see tensor.h); Constant nodes do not become ops;
//  * ONNX op types map onto torch functional names (Conv → conv1d/2d/3d by kernel rank,
//    ConvTranspose → conv_transpose{1,2,3}d, Gemm / MatMul with a state weight → linear, MatMul of
//    two activations → matmul, Add/Mul/Sub/Div → add/mul/sub/div, MaxPool → max_pool{n}d, ...;
//    see grammar/IR-REFERENCE.md for the table); unknown ops keep their ONNX type;
//  * a linear whose weight is stored [in, out] (Gemm transB=0, MatMul) gets
//    Op::weight_output_axis == 1;
//  * modules come from the module map (`{"modules": {fqn: type}, "nodes": {node name: fqn}}`,
//    both optional) and else from scoped node names ("/layer1/layer1.0/conv1/Conv" → module
//    "layer1.0.conv1");
//  * state tensors named "<module fqn>.<local>" belong to that module; others ("onnx::Conv_32",
//    Constant outputs) to the module of their first consumer, named by its input slot;
//  * shapes come from ONNX shape inference, graph inputs, value_info and initializers.
// Malformed, truncated or hostile files give `model-invalid` diagnostics (never a crash or throw);
// a malformed module map gives `module-map-invalid`; an unreadable file `io-error`.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "qrules/ir.h"

namespace qrules {

using ImportResult = ModelResult;

struct ImportOptions {
  // Path of the module map JSON; empty = none.
  std::string module_map_path;
  // Or the module map JSON text itself (used when module_map_path is empty).
  std::optional<std::string> module_map_json;
  // Run ONNX shape inference to fill in intermediate shapes.
  bool infer_shapes = true;
  // Refuse models whose total initializer data exceeds this many bytes.
  size_t max_data_bytes = size_t{4} << 30;
};

// Imports the ONNX file at `path`.
[[nodiscard]] ImportResult ImportOnnxFile(const std::string& path, const ImportOptions& options = {});
// Imports serialized ONNX bytes; `name` is used in diagnostics.
[[nodiscard]] ImportResult ImportOnnxBytes(std::string_view bytes, std::string_view name,
                                           const ImportOptions& options = {});

}  // namespace qrules
