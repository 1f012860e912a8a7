// qrules/op_table.h — the one table of op knowledge.
//
//   const qrules::OpTypeInfo* conv = qrules::FindOpType("conv2d");
//   // conv->onnx_type == "Conv", conv->input_names[1] == "weight", conv->pattern == "conv"
//   const qrules::OpTypeInfo* bn = qrules::FindOnnxOp("BatchNormalization");
//   // bn->type == "batch_norm", bn->input_names[3] == "running_mean"
//
// Every op type qrules knows, once: its torch functional name (what rules say: `op_type conv2d`),
// the ONNX op that carries it, the role of each input by schema position (which names the
// op_input keys and, for parameter slots, the op_state keys), the registered pattern it is the
// key op of (grammar/SEMANTICS.md §b.5), whether it shares observers, and the default weight axes (§b.10).
// The importer maps ONNX ops through it, the executor maps ops of IR text back to their ONNX
// kernel through it, sema's list of registered op types comes from it, and grammar/REFERENCE.md
// documents it ("The op table").  Several torch spellings may share an ONNX op (add, add_); the
// first row of an ONNX op is the one the importer gives, except where the importer must look at
// the model (Conv -> conv1d/2d/3d by rank, Gemm/MatMul with a constant weight -> linear, Gather of
// a constant table -> embedding).
#pragma once

#include <span>
#include <string_view>
#include <vector>

namespace qrules {

struct OpTypeInfo {
  std::string_view type;                       // "conv2d"
  std::string_view onnx_type;                  // "Conv"; "" when no ONNX op carries it alone
  std::vector<std::string_view> input_names;   // by index: {"input", "weight", "bias"}
  bool variadic = false;                       // every input is named input_names[0] (cat: "tensors")
  std::string_view pattern;                    // registered pattern family of a key op: "conv",
                                               // "conv_transpose", "linear", "embedding", "matmul",
                                               // "add", "mul", "sub", "flatten", "maxpool",
                                               // "avgpool", "concat"; "" when not a key op
  bool shared_observer = false;                // flatten, pools, mean, cat: inputs and output share an FQ
  bool activation = false;                     // may end a *_act pattern
  bool batch_norm = false;                     // may sit in the middle of a *_bn* pattern
  bool channel_altering = false;               // flatten, reshape, view, permute, transpose, t, unsqueeze
  // §b.10 default weight axes (in torch layout); -1 = no default.
  int per_channel_axis = -1;
  int per_block_axis = -1;
  int weight_input = -1;                       // index of the weight input, -1 if none

  bool is_pattern_key() const { return !pattern.empty(); }
};

// The row of a torch op type, nullptr when unknown.  Also knows in-place / alias spellings
// (add_, mul_, sub_, isub, concat, relu_, ...).
const OpTypeInfo* FindOpType(std::string_view type);
// The first row whose ONNX op is `onnx_type` (the importer's default mapping), nullptr when none.
const OpTypeInfo* FindOnnxOp(std::string_view onnx_type);
std::span<const OpTypeInfo> AllOpTypes();
// A registered op in the sense of §b.5: the key op of some registered pattern.
bool IsRegisteredOp(std::string_view type);
// Whether an input name is a parameter role: the name torch gives a module parameter or buffer
// (weight, bias, running_mean, running_var, weight_ih, weight_hh, ...), as opposed to a data
// input (input, other, tensors, indices, ...).
bool IsParameterRole(std::string_view name);

}  // namespace qrules
