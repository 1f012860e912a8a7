// Export idioms (include/qrules/ir.h, ExportIdioms): the torch program behind an ONNX export.
#include <algorithm>
#include <iterator>
#include <string_view>

#include "ir/ir_internal.h"
#include "qrules/ir.h"

namespace qrules {

bool Model::IsGraphOutput(TensorId t) const {
  return std::find(outputs_.begin(), outputs_.end(), t) != outputs_.end();
}

OpId Model::SoleConsumer(const Op& op) const {
  if (op.outputs.empty()) return kNoOp;
  const TensorInfo& t = tensor(op.outputs[0]);
  if (t.consumers.size() != 1 || IsGraphOutput(op.outputs[0])) return kNoOp;
  return t.consumers[0];
}

namespace internal {
namespace {

class IdiomFinder {
 public:
  explicit IdiomFinder(const Model& m) : m_(m) {}

  ExportIdioms Run() {
    ExportIdioms out;
    FindValueDependentTensors(out.value_dependent);
    dependent_ = &out.value_dependent;
    const size_t n = m_.ops().size();
    out.bias_add.assign(n, kNoOp);
    out.activation_chains.resize(n);
    out.inside_single_op_module.assign(n, false);
    for (size_t i = 0; i < n; ++i) {
      const Op& op = m_.op(static_cast<OpId>(i));
      out.bias_add[i] = BiasAddAfter(op);
      for (std::vector<OpId> chain : {GeluChainAfter(op), SiluChainAfter(op)}) {
        if (!chain.empty()) out.activation_chains[i].push_back(std::move(chain));
      }
      out.inside_single_op_module[i] = InsideSingleOpModule(op);
    }
    return out;
  }

 private:
  bool Dependent(TensorId t) const { return (*dependent_)[static_cast<size_t>(t)]; }

  void FindValueDependentTensors(std::vector<bool>& dependent) const {
    dependent.assign(m_.tensors().size(), false);
    for (TensorId t : m_.inputs()) dependent[static_cast<size_t>(t)] = true;
    for (const Op& op : m_.ops()) {  // in topological order
      // Outputs that depend on the input's shape, not its values.
      if (op.type == "Shape" || op.type == "Size" || op.type == "ConstantOfShape") continue;
      bool any = false;
      for (TensorId t : op.inputs) any = any || (t != kNoTensor && dependent[static_cast<size_t>(t)]);
      if (!any) continue;
      for (TensorId t : op.outputs) {
        if (t != kNoTensor) dependent[static_cast<size_t>(t)] = true;
      }
    }
  }

  // LayerNorm and friends are one unregistered op in the torch program (F.layer_norm, ...), but
  // ONNX exports below opset 17 decompose them into ReduceMean, Sub, Pow, Sqrt, Div, Mul, Add.
  bool InsideSingleOpModule(const Op& op) const {
    static constexpr std::string_view kSingleOpModules[] = {
        "torch.nn.modules.normalization.LayerNorm", "torch.nn.modules.normalization.GroupNorm",
        "torch.nn.modules.instancenorm.InstanceNorm1d", "torch.nn.modules.instancenorm.InstanceNorm2d",
        "torch.nn.modules.instancenorm.InstanceNorm3d"};
    const std::string& type = m_.module(op.module).type;
    return std::find(std::begin(kSingleOpModules), std::end(kSingleOpModules), type) != std::end(kSingleOpModules);
  }

  // The first output of `producer` when exactly two ops read it and the model does not return it
  // (the shape of x * f(x) activations), else kNoTensor.
  TensorId ReadByTwo(const Op& producer) const {
    if (producer.outputs.empty()) return kNoTensor;
    const TensorId x = producer.outputs[0];
    return m_.tensor(x).consumers.size() == 2 && !m_.IsGraphOutput(x) ? x : kNoTensor;
  }

  // `op` is a binary op reading exactly `a` and `b` (either order).
  static bool ReadsBoth(const Op& op, TensorId a, TensorId b) {
    return op.inputs.size() == 2 &&
           ((op.inputs[0] == a && op.inputs[1] == b) || (op.inputs[0] == b && op.inputs[1] == a));
  }

  // A linear exported as MatMul (3-D inputs) carries its bias in a separate Add of a rank-1
  // non-activation tensor in the same module: torch's F.linear has the bias built in, so the Add
  // belongs to the linear (its output, not the MatMul's, is the linear's output).
  OpId BiasAddAfter(const Op& op) const {
    if (op.onnx_type != "MatMul") return kNoOp;
    const OpId next = m_.SoleConsumer(op);
    if (next == kNoOp) return kNoOp;
    const Op& add = m_.op(next);
    if (add.type != "add" || add.inputs.size() != 2 || add.module != op.module) return kNoOp;
    const TensorId other = add.inputs[0] == op.outputs[0] ? add.inputs[1] : add.inputs[0];
    if (other == kNoTensor || other == op.outputs[0] || Dependent(other)) return kNoOp;
    const TensorInfo& b = m_.tensor(other);
    return b.is_float() && b.shape.known && b.shape.rank() == 1 ? next : kNoOp;
  }

  // x * sigmoid(x) and x * hardsigmoid(x), PyTorch's exports of SiLU and (below opset 14)
  // Hardswish: one activation in the torch program.  Its two ops when `x` (an output of
  // `producer`) is read by exactly those two.
  std::vector<OpId> SiluChainAfter(const Op& producer) const {
    const TensorId x = ReadByTwo(producer);
    if (x == kNoTensor) return {};
    for (OpId s : m_.tensor(x).consumers) {
      const Op& sig = m_.op(s);
      if ((sig.type != "sigmoid" && sig.type != "hardsigmoid") || sig.inputs.empty() || sig.inputs[0] != x) continue;
      const OpId mul = m_.SoleConsumer(sig);
      if (mul == kNoOp || m_.op(mul).type != "mul") return {};
      if (!ReadsBoth(m_.op(mul), x, sig.outputs[0])) return {};  // (then mul is x's other reader)
      return {s, mul};
    }
    return {};
  }

  // The erf-GELU chain PyTorch exports below opset 20 for one gelu:
  //   y = Mul(Mul(x, Add(Erf(Div(x, c1)), c2)), c3)
  // Its ops in order when `x` (an output of `producer`) is read by exactly the chain's Div and
  // first Mul, else empty.  In the torch program this is one activation.
  std::vector<OpId> GeluChainAfter(const Op& producer) const {
    const TensorId x = ReadByTwo(producer);
    if (x == kNoTensor) return {};
    auto constant_other = [&](const Op& op, TensorId mine) {
      if (op.inputs.size() != 2) return false;
      const TensorId other = op.inputs[0] == mine ? op.inputs[1] : op.inputs[0];
      return other != kNoTensor && other != mine && !Dependent(other);
    };
    for (OpId d : m_.tensor(x).consumers) {
      const Op& div = m_.op(d);
      if (div.type != "div" || div.inputs.empty() || div.inputs[0] != x || !constant_other(div, x)) continue;
      const OpId e = m_.SoleConsumer(div);
      if (e == kNoOp || m_.op(e).type != "erf") return {};
      const OpId a = m_.SoleConsumer(m_.op(e));
      if (a == kNoOp || m_.op(a).type != "add" || !constant_other(m_.op(a), m_.op(e).outputs[0])) return {};
      const OpId m1 = m_.SoleConsumer(m_.op(a));
      if (m1 == kNoOp || m_.op(m1).type != "mul") return {};
      const Op& mul1 = m_.op(m1);
      if (!ReadsBoth(mul1, x, m_.op(a).outputs[0])) return {};  // (then m1 is x's other reader)
      const OpId m2 = m_.SoleConsumer(mul1);
      if (m2 == kNoOp || m_.op(m2).type != "mul" || !constant_other(m_.op(m2), mul1.outputs[0])) return {};
      return {d, e, a, m1, m2};
    }
    return {};
  }

  const Model& m_;
  const std::vector<bool>* dependent_ = nullptr;
};

}  // namespace

ExportIdioms FindExportIdioms(const Model& model) { return IdiomFinder(model).Run(); }

}  // namespace internal
}  // namespace qrules
