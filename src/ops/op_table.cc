// The op table (include/qrules/op_table.h): one row per torch op type, in the order that decides
// which row an ONNX op maps to when several share it.
#include "qrules/op_table.h"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace qrules {
namespace {

using Names = std::vector<std::string_view>;

OpTypeInfo Row(std::string_view type, std::string_view onnx, Names inputs, std::string_view pattern = {}) {
  OpTypeInfo i;
  i.type = type;
  i.onnx_type = onnx;
  i.input_names = std::move(inputs);
  i.pattern = pattern;
  return i;
}
OpTypeInfo Weighted(std::string_view type, std::string_view onnx, Names inputs, std::string_view pattern, int weight,
                    int channel_axis, int block_axis) {
  OpTypeInfo i = Row(type, onnx, std::move(inputs), pattern);
  i.weight_input = weight;
  i.per_channel_axis = channel_axis;
  i.per_block_axis = block_axis;
  return i;
}
OpTypeInfo Shared(std::string_view type, std::string_view onnx, Names inputs, std::string_view pattern) {
  OpTypeInfo i = Row(type, onnx, std::move(inputs), pattern);
  i.shared_observer = true;
  return i;
}
OpTypeInfo Activation(std::string_view type, std::string_view onnx, Names inputs = {"input"}) {
  OpTypeInfo i = Row(type, onnx, std::move(inputs));
  i.activation = true;
  return i;
}
OpTypeInfo Plain(std::string_view type, std::string_view onnx, Names inputs, bool channel_altering = false) {
  OpTypeInfo i = Row(type, onnx, std::move(inputs));
  i.channel_altering = channel_altering;
  return i;
}

std::vector<OpTypeInfo> MakeTable() {
  const Names kConv = {"input", "weight", "bias"};
  const Names kBinary = {"input", "other"};
  const Names kUnary = {"input"};
  std::vector<OpTypeInfo> r;
  // Registered key ops (§b.5) with their weights (§b.10 axes in torch layout).
  for (auto t : {"conv1d", "conv2d", "conv3d"}) r.push_back(Weighted(t, "Conv", kConv, "conv", 1, 0, 1));
  for (auto t : {"conv_transpose1d", "conv_transpose2d", "conv_transpose3d"}) {
    r.push_back(Weighted(t, "ConvTranspose", kConv, "conv_transpose", 1, 1, 0));
  }
  r.push_back(Weighted("linear", "Gemm", kConv, "linear", 1, 0, 1));
  r.push_back(Weighted("embedding", "Gather", {"weight", "indices"}, "embedding", 0, 0, 1));
  r.push_back(Row("matmul", "MatMul", kBinary, "matmul"));
  for (auto t : {"add", "add_"}) r.push_back(Row(t, "Add", kBinary, "add"));
  for (auto t : {"mul", "mul_"}) r.push_back(Row(t, "Mul", kBinary, "mul"));
  for (auto t : {"sub", "sub_", "isub"}) r.push_back(Row(t, "Sub", kBinary, "sub"));
  {
    OpTypeInfo flatten = Shared("flatten", "Flatten", kUnary, "flatten");
    flatten.channel_altering = true;
    r.push_back(flatten);
  }
  for (auto t : {"max_pool1d", "max_pool2d", "max_pool3d"}) r.push_back(Shared(t, "MaxPool", kUnary, "maxpool"));
  for (auto t : {"avg_pool1d", "avg_pool2d", "avg_pool3d"}) r.push_back(Shared(t, "AveragePool", kUnary, "avgpool"));
  for (auto t : {"adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d"}) {
    r.push_back(Shared(t, "GlobalAveragePool", kUnary, "avgpool"));
  }
  r.push_back(Shared("mean", "ReduceMean", kUnary, "avgpool"));
  for (auto t : {"cat", "concat"}) {
    OpTypeInfo i = Shared(t, "Concat", {"tensors"}, "concat");
    i.variadic = true;
    r.push_back(i);
  }
  {
    OpTypeInfo bn = Plain("batch_norm", "BatchNormalization", {"input", "weight", "bias", "running_mean", "running_var"});
    bn.batch_norm = true;
    r.push_back(bn);
  }
  // Activations that may end a pattern.
  const std::pair<const char*, const char*> kActivations[] = {
      {"relu", "Relu"},       {"relu_", "Relu"},       {"relu6", ""},           {"silu", ""},
      {"silu_", ""},          {"elu", "Elu"},          {"elu_", "Elu"},         {"celu", "Celu"},
      {"celu_", "Celu"},      {"selu", "Selu"},        {"selu_", "Selu"},       {"mish", "Mish"},
      {"mish_", "Mish"},      {"hardswish", "HardSwish"}, {"hardswish_", "HardSwish"},
      {"hardsigmoid", "HardSigmoid"}, {"hardsigmoid_", "HardSigmoid"}, {"gelu", "Gelu"},
      {"sigmoid", "Sigmoid"}, {"logsigmoid", ""},      {"tanh", "Tanh"}};
  for (auto [t, onnx] : kActivations) r.push_back(Activation(t, onnx));
  for (auto t : {"leaky_relu", "leaky_relu_"}) r.push_back(Activation(t, "LeakyRelu", {"input", "negative_slope"}));
  for (auto t : {"hardtanh", "hardtanh_"}) r.push_back(Activation(t, "Clip", {"input", "min_val", "max_val"}));
  // Known but unregistered (no op-level specs; §b.5).
  r.push_back(Plain("prelu", "PRelu", {"input", "weight"}));
  r.push_back(Plain("div", "Div", kBinary));
  r.push_back(Plain("pow", "Pow", {"input", "exponent"}));
  const std::pair<const char*, const char*> kUnaryOps[] = {
      {"softmax", "Softmax"}, {"log_softmax", "LogSoftmax"}, {"dropout", "Dropout"}, {"sqrt", "Sqrt"},
      {"exp", "Exp"},         {"log", "Log"},                {"neg", "Neg"},         {"abs", "Abs"},
      {"erf", "Erf"},         {"identity", "Identity"},      {"max_pool_indices", ""},
      {"adaptive_max_pool2d", "GlobalMaxPool"}, {"sum", "ReduceSum"}, {"amax", "ReduceMax"}, {"amin", "ReduceMin"}};
  for (auto [t, onnx] : kUnaryOps) r.push_back(Plain(t, onnx, kUnary));
  r.push_back(Plain("clamp", "Clip", {"input", "min", "max"}));
  r.push_back(Plain("layer_norm", "LayerNormalization", {"input", "weight", "bias"}));
  r.push_back(Plain("group_norm", "GroupNormalization", {"input", "weight", "bias"}));
  r.push_back(Plain("instance_norm", "InstanceNormalization", {"input", "weight", "bias"}));
  // Recurrent layers: ONNX's W, R, B are torch's weight_ih, weight_hh and (both) biases.
  r.push_back(Plain("lstm", "LSTM", {"input", "weight_ih", "weight_hh", "bias", "sequence_lens", "h0", "c0", "peephole"}));
  r.push_back(Plain("gru", "GRU", {"input", "weight_ih", "weight_hh", "bias", "sequence_lens", "h0"}));
  r.push_back(Plain("rnn", "RNN", {"input", "weight_ih", "weight_hh", "bias", "sequence_lens", "h0"}));
  r.push_back(Plain("bmm", "MatMul", {"input", "mat2"}));
  r.push_back(Plain("reshape", "Reshape", {"input", "shape"}, true));
  r.push_back(Plain("view", "", {"input", "shape"}, true));
  r.push_back(Plain("permute", "Transpose", kUnary, true));
  r.push_back(Plain("transpose", "Transpose", kUnary, true));
  r.push_back(Plain("t", "", kUnary, true));
  r.push_back(Plain("unsqueeze", "Unsqueeze", {"input", "dim"}, true));
  r.push_back(Plain("squeeze", "Squeeze", {"input", "dim"}, true));
  r.push_back(Plain("pad", "Pad", {"input", "pad", "value"}));
  r.push_back(Plain("gather", "Gather", {"input", "index"}));
  r.push_back(Plain("slice", "Slice", {"input", "starts", "ends", "axes", "steps"}));
  r.push_back(Plain("split", "Split", {"input", "split"}));
  r.push_back(Plain("expand", "Expand", {"input", "size"}));
  r.push_back(Plain("where", "Where", {"condition", "input", "other"}));
  r.push_back(Plain("upsample", "Resize", {"input", "roi", "scales", "sizes"}));
  return r;
}

const std::vector<OpTypeInfo>& Table() {
  static const std::vector<OpTypeInfo> table = MakeTable();
  return table;
}

}  // namespace

const OpTypeInfo* FindOpType(std::string_view type) {
  static const auto index = [] {
    std::unordered_map<std::string_view, const OpTypeInfo*> m;
    for (const OpTypeInfo& i : Table()) m.emplace(i.type, &i);
    return m;
  }();
  auto it = index.find(type);
  return it == index.end() ? nullptr : it->second;
}

const OpTypeInfo* FindOnnxOp(std::string_view onnx_type) {
  static const auto index = [] {
    std::unordered_map<std::string_view, const OpTypeInfo*> m;
    for (const OpTypeInfo& i : Table()) {
      if (!i.onnx_type.empty()) m.emplace(i.onnx_type, &i);  // the first row of an ONNX op wins
    }
    return m;
  }();
  auto it = index.find(onnx_type);
  return it == index.end() ? nullptr : it->second;
}

std::span<const OpTypeInfo> AllOpTypes() { return Table(); }

bool IsRegisteredOp(std::string_view type) {
  const OpTypeInfo* i = FindOpType(type);
  return i != nullptr && i->is_pattern_key();
}

bool IsParameterRole(std::string_view name) {
  static constexpr std::string_view kParameterRoles[] = {"weight",    "bias",      "running_mean", "running_var",
                                                         "weight_ih", "weight_hh", "bias_ih",      "bias_hh"};
  return std::find(std::begin(kParameterRoles), std::end(kParameterRoles), name) != std::end(kParameterRoles);
}

}  // namespace qrules
