// Folding the constant chains that carry weights in exports from other toolchains.
//
// tf2onnx, Paddle2ONNX and quantized exports often hand a Conv or MatMul its weight through a
// short chain of constant ops: an Identity of the variable, a Transpose of a kernel stored
// [out, in], a Cast, a Reshape, or the DequantizeLinear of an int8 initializer.  The PyTorch
// program such a model stands for has a plain parameter there.  The importer folds those chains
// (every input a constant, the op one of IsWeightChainOp) into one state tensor named after the
// chain's last output, so that the weight is a state of the op that reads it and rules reach it
// by role (`op_state { weight: ... }`).  Folding is exact: every op here only moves values, except
// DequantizeLinear, which computes float(x - zero_point) * scale in float32 as runtimes do.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "qrules/ir.h"

namespace qrules::internal {

// The ONNX op types FoldConstantOp folds.
bool IsWeightChainOp(std::string_view op_type);

// The value of `op_type` applied to constant `inputs` (nullptr for an omitted optional input), or
// nullopt when an attribute or input is not one this folder handles exactly (the op then stays in
// the graph, as it was).
std::optional<Tensor> FoldConstantOp(std::string_view op_type, const AttributeMap& attrs,
                                     std::span<const Tensor* const> inputs);

}  // namespace qrules::internal
