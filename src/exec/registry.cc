// The kernel table: which ONNX op types the executor runs, and the factory dispatch.
#include <algorithm>

#include "exec/kernel_registry.h"
#include "exec/kernels.h"

namespace qrules::internal {
namespace {

// Sorted, for binary search and for the unsupported-op message.
constexpr std::string_view kSupported[] = {
    "Abs", "Add", "And", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Concat",
    "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "Div", "Dropout", "Elu",
    "Equal", "Erf", "Exp", "Expand", "Flatten", "Floor", "Gather", "Gelu", "Gemm",
    "GlobalAveragePool", "GlobalMaxPool", "Greater", "HardSigmoid", "HardSwish", "Identity",
    "LayerNormalization", "LeakyRelu", "Less", "Log", "LogSoftmax", "MatMul", "Max", "MaxPool",
    "Mean", "Min", "Mod", "Mul", "Neg", "Not", "Or", "Pad", "Pow", "Range", "Reciprocal",
    "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum",
    "ReduceSumSquare", "Relu", "Reshape", "Resize", "Round", "ScatterND", "Shape", "Sigmoid",
    "Sin", "Size", "Slice", "Softmax",
    "Softplus", "Split", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh", "Tile", "Transpose",
    "Unsqueeze", "Upsample", "Where", "qrules.LinearT"};

}  // namespace

std::span<const std::string_view> SupportedOpTypes() {
  return std::span<const std::string_view>(kSupported);
}

bool IsSupportedOpType(std::string_view op_type) {
  auto ops = SupportedOpTypes();
  return !op_type.empty() && std::binary_search(ops.begin(), ops.end(), op_type);
}

std::unique_ptr<Kernel> CreateKernel(const KernelSpec& spec, std::string* error) {
  if (!IsSupportedOpType(spec.op_type)) {
    *error = "no kernel for op type '" + std::string(spec.op_type) + "'";
    return nullptr;
  }
  error->clear();
  for (auto* factory : {&CreateNnKernel, &CreateMathKernel, &CreateShapeKernel}) {
    std::unique_ptr<Kernel> k = factory(spec, error);
    if (k || !error->empty()) return k;
  }
  *error = "no kernel for op type '" + std::string(spec.op_type) + "'";
  return nullptr;
}

}  // namespace qrules::internal
