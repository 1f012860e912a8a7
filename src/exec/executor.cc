// The graph interpreter: plans the model once (kernels, order, buffer lifetimes, hook points),
// then runs it with a flat loop over preplanned steps.
#include "qrules/executor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>
#include <set>
#include <string>

#include "exec/kernel_util.h"
#include "exec/kernels.h"

namespace qrules {

std::span<const std::string_view> SupportedOpTypes() { return internal::SupportedOpTypes(); }

namespace {

using internal::AttrMap;
using internal::AttrValue;

AttrMap ToAttrMap(const AttributeMap& attrs) {
  AttrMap m;
  for (const auto& [name, a] : attrs) {
    AttrValue v;
    switch (a.kind) {
      case Attribute::Kind::kInt: v.kind = AttrValue::Kind::kInt; break;
      case Attribute::Kind::kFloat: v.kind = AttrValue::Kind::kFloat; break;
      case Attribute::Kind::kString: v.kind = AttrValue::Kind::kString; break;
      case Attribute::Kind::kTensor: v.kind = AttrValue::Kind::kTensor; break;
      case Attribute::Kind::kInts: v.kind = AttrValue::Kind::kInts; break;
      case Attribute::Kind::kFloats: v.kind = AttrValue::Kind::kFloats; break;
      case Attribute::Kind::kStrings: v.kind = AttrValue::Kind::kStrings; break;
    }
    v.i = a.i;
    v.f = a.f;
    v.s = a.s;
    v.t = a.t;
    v.ints = a.ints;
    v.floats = a.floats;
    v.strings = a.strings;
    m.Set(name, std::move(v));
  }
  return m;
}

// The ONNX op type that runs `op`.  Ops from the IR text format or ModelBuilder carry only a
// torch type: the op table gives its ONNX op.
std::string KernelTypeOf(const Op& op) {
  if (!op.onnx_type.empty()) return op.onnx_type;
  if (op.type == "linear") return op.weight_output_axis == 1 ? "MatMul" : "qrules.LinearT";
  const OpTypeInfo* row = FindOpType(op.type);
  return row != nullptr && !row->onnx_type.empty() ? std::string(row->onnx_type) : op.type;
}

DiagLocation ModelLocation(const Model& model) {
  DiagLocation loc;
  loc.file = model.name();
  return loc;
}

}  // namespace

struct Executor::Impl {
  struct Step {
    OpId op = kNoOp;
    std::unique_ptr<internal::Kernel> kernel;
    std::vector<TensorId> inputs, outputs;
    std::vector<TensorId> release;  // activations whose last reader is this step
    std::vector<const Tensor*> in_ptrs;
    std::vector<Tensor*> out_ptrs;
    // Hooks (empty when none at this step).
    std::vector<HookMode> in_hook, out_hook;
    std::vector<bool> in_exclusive;  // kModify may work in place
    std::vector<Tensor> in_copy;
    std::string kernel_type;
    bool skip = false;      // absorbed into a fused head step
    bool inplace = false;   // input 0's buffer becomes output 0 (it dies here)
    bool inplace_ok = false;  // the plan allows it (hooks may turn `inplace` off)
    // The op and slot reported for hooks on output 0 (differs for a fused head).
    OpId out0_event_op = kNoOp;
  };

  // Conv/Gemm/MatMul followed by a bias Add (MatMul) or an inference BatchNormalization (Conv,
  // folded into the weights) and/or a Relu that nobody else reads: the head computes it all and
  // writes the last op's output.  Turned off where a hook needs an intermediate tensor or one of
  // the absorbed ops' inputs.
  struct Fusion {
    size_t head = 0;
    std::vector<size_t> absorbed;
    TensorId head_out = kNoTensor;  // the head's own output (not materialised when active)
    TensorId final_out = kNoTensor;
    // Appended to the head's inputs while active: a MatMul's bias; a Conv's (possibly absent)
    // bias slot and the BatchNormalization's four parameters.
    std::vector<TensorId> extra_inputs;
    bool batch_norm = false;  // the head's own weight inputs must not be hooked either
    bool relu = false;
    bool active = false;
    // When set, the head runs this kernel instead of its own while active (swapped in and out).
    std::unique_ptr<internal::Kernel> replacement;
  };
  std::vector<Fusion> fusions;

  static void Plan(const Model& m, Impl& im, const std::vector<int>& last_use);

  void SetFusion(Fusion& f, bool on) {
    if (f.active == on) return;
    Step& head = steps[f.head];
    if (on) {
      head.outputs[0] = f.final_out;
      head.out_ptrs[0] = &act[f.final_out];
      for (TensorId id : f.extra_inputs) {
        head.inputs.push_back(id);
        head.in_ptrs.push_back(nullptr);
      }
      if (f.replacement) std::swap(head.kernel, f.replacement);
      head.kernel->SetFusedRelu(f.relu);
      head.out0_event_op = steps[f.absorbed.back()].op;
    } else {
      head.outputs[0] = f.head_out;
      head.out_ptrs[0] = &act[f.head_out];
      head.inputs.resize(head.inputs.size() - f.extra_inputs.size());
      head.in_ptrs.resize(head.in_ptrs.size() - f.extra_inputs.size());
      head.kernel->SetFusedRelu(false);
      if (f.replacement) std::swap(head.kernel, f.replacement);
      head.out0_event_op = head.op;
    }
    for (size_t j : f.absorbed) steps[j].skip = on;
    f.active = on;
  }

  std::vector<Step> steps;
  std::vector<const Tensor*> value;  // by tensor id, during a run
  std::vector<Tensor> act;           // owned activation storage, by tensor id
  std::vector<int64_t> last_numel;   // float size of each activation when last produced: pool sizing
  std::vector<bool> is_activation, is_graph_output;
  std::vector<std::shared_ptr<const Tensor>> states;  // by tensor id; null when not a state
  std::vector<std::vector<float>> pool;
  TensorHook hook;
  bool any_hook = false;

  void Acquire(TensorId id) {
    Tensor& t = act[id];
    const int64_t want = last_numel[id];
    if (want <= 0 || pool.empty() || t.f32.capacity() >= static_cast<size_t>(want)) return;
    // Best fit: the smallest pooled buffer that holds `want`.
    size_t best = pool.size();
    for (size_t i = 0; i < pool.size(); ++i) {
      if (pool[i].capacity() >= static_cast<size_t>(want) &&
          (best == pool.size() || pool[i].capacity() < pool[best].capacity()))
        best = i;
    }
    if (best == pool.size()) return;
    if (t.f32.capacity() > 0) pool.push_back(std::move(t.f32));
    t.f32 = std::move(pool[best]);
    pool[best] = std::move(pool.back());
    pool.pop_back();
  }

  // Kernels that cache values derived from states (folded weights) drop them.
  void StatesChanged() {
    for (Step& step : steps) step.kernel->StatesChanged();
    for (Fusion& f : fusions)
      if (f.replacement) f.replacement->StatesChanged();
  }

  void Release(TensorId id) {
    Tensor& t = act[id];
    if (t.f32.capacity() > 0) {
      // The buffer keeps its size (stale contents): a kernel that OverwritesOutputs() reuses it
      // without zeroing it again; the others get it cleared (see Run).
      pool.push_back(std::move(t.f32));
      t.f32 = {};
    }
    t.i64.clear();
    value[id] = nullptr;
  }
};

Executor::Executor(std::shared_ptr<const Model> model)
    : model_(std::move(model)), impl_(std::make_unique<Impl>()) {}
Executor::~Executor() = default;

ExecutorResult Executor::Create(std::shared_ptr<const Model> model) {
  ExecutorResult result;
  if (!model) {
    result.diagnostics.push_back(
        MakeDiagnostic(DiagCode::kExecutionError, {}, "no model to execute"));
    return result;
  }
  const Model& m = *model;
  const DiagLocation where = ModelLocation(m);
  // A model that returns nothing would "run" and report on zero outputs.
  if (m.outputs().empty()) {
    result.diagnostics.push_back(MakeDiagnostic(DiagCode::kExecutionError, where,
                                                "the model has no graph outputs: there is nothing to run it for"));
    return result;
  }

  // 1. Every op type must have a kernel: one diagnostic for all missing types.
  std::map<std::string, std::vector<std::string>> missing;
  for (const Op& op : m.ops()) {
    const std::string type = KernelTypeOf(op);
    const bool default_domain = op.domain.empty() || op.domain == "ai.onnx";
    if (!default_domain || !internal::IsSupportedOpType(type)) {
      missing[default_domain ? type : op.domain + "." + type].push_back(op.name);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& [type, ops] : missing) list += (list.empty() ? "'" : ", '") + type + "'";
    Diagnostic d = MakeDiagnostic(
        DiagCode::kUnsupportedOp, where,
        "model uses " + std::to_string(missing.size()) + " op type" +
            (missing.size() == 1 ? "" : "s") + " the executor has no kernel for: " + list);
    for (const auto& [type, ops] : missing) {
      std::string names;
      for (size_t i = 0; i < ops.size() && i < 5; ++i) names += (i ? ", '" : "'") + ops[i] + "'";
      if (ops.size() > 5) names += ", ... (" + std::to_string(ops.size()) + " ops)";
      d.notes.push_back({{}, "'" + type + "' is used by " + names});
    }
    result.diagnostics.push_back(std::move(d));
    return result;
  }

  std::unique_ptr<Executor> ex(new Executor(model));
  Impl& im = *ex->impl_;
  const size_t nt = m.tensors().size();
  im.value.assign(nt, nullptr);
  im.act.resize(nt);
  im.last_numel.assign(nt, 0);
  im.is_activation.assign(nt, false);
  im.is_graph_output.assign(nt, false);
  im.states.resize(nt);
  for (TensorId id : m.outputs()) im.is_graph_output[id] = true;
  for (size_t i = 0; i < nt; ++i) {
    const TensorInfo& t = m.tensors()[i];
    if (t.kind == TensorKind::kActivation) {
      im.is_activation[i] = true;
    } else if (t.kind == TensorKind::kState) {
      if (!t.data || !internal::DataConsistent(*t.data)) {
        result.diagnostics.push_back(MakeDiagnostic(
            DiagCode::kExecutionError, where,
            "state tensor '" + t.name + "' has no value or its data does not match its shape"));
        continue;
      }
      im.states[i] = t.data;
      im.value[i] = t.data.get();
    }
  }

  // 2. Kernels, in topological order.
  std::vector<int> last_use(nt, -1);
  for (size_t si = 0; si < m.ops().size(); ++si) {
    const Op& op = m.ops()[si];
    Impl::Step step;
    step.op = static_cast<OpId>(si);
    step.inputs = op.inputs;
    step.outputs = op.outputs;
    AttrMap attrs = ToAttrMap(op.attributes);
    const std::string type = KernelTypeOf(op);
    internal::KernelSpec spec{type, &attrs, 13, op.inputs.size(), op.outputs.size()};
    std::string error;
    step.kernel = internal::CreateKernel(spec, &error);
    if (!step.kernel) {
      const bool unsupported = error.find("not supported") != std::string::npos;
      result.diagnostics.push_back(MakeDiagnostic(
          unsupported ? DiagCode::kUnsupportedOp : DiagCode::kExecutionError, where,
          "op '" + op.name + "' (" + type + "): " + error));
      continue;
    }
    if (type != "Constant" && (op.inputs.empty() || op.inputs[0] == kNoTensor)) {
      result.diagnostics.push_back(MakeDiagnostic(DiagCode::kExecutionError, where,
                                                  "op '" + op.name + "' has no first input"));
      continue;
    }
    if (op.outputs.empty() || op.outputs[0] == kNoTensor) {
      result.diagnostics.push_back(MakeDiagnostic(DiagCode::kExecutionError, where,
                                                  "op '" + op.name + "' has no output"));
      continue;
    }
    for (TensorId in : op.inputs) {
      if (in == kNoTensor) continue;
      if (in < 0 || static_cast<size_t>(in) >= nt) {
        result.diagnostics.push_back(MakeDiagnostic(DiagCode::kExecutionError, where,
                                                    "op '" + op.name + "' reads an unknown tensor"));
        continue;
      }
      last_use[in] = static_cast<int>(si);
    }
    step.in_ptrs.resize(op.inputs.size(), nullptr);
    step.out_ptrs.resize(op.outputs.size(), nullptr);
    step.kernel_type = type;
    step.out0_event_op = step.op;
    im.steps.push_back(std::move(step));
  }
  if (HasErrors(result.diagnostics)) return result;

  // 3. Lifetimes: release each activation after its last reader (or right after it is produced
  // when nobody reads it); graph outputs live to the end.
  for (size_t si = 0; si < im.steps.size(); ++si) {
    Impl::Step& step = im.steps[si];
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      const TensorId id = step.outputs[o];
      if (id == kNoTensor) continue;
      if (last_use[id] < 0 && !im.is_graph_output[id]) {
        if (o > 0) continue;  // unused optional output: not computed (null pointer)
        step.release.push_back(id);
      }
      step.out_ptrs[o] = &im.act[id];
    }
  }
  for (size_t id = 0; id < nt; ++id) {
    if (im.is_activation[id] && last_use[id] >= 0 && !im.is_graph_output[id]) {
      im.steps[last_use[id]].release.push_back(static_cast<TensorId>(id));
    }
  }
  Impl::Plan(m, im, last_use);
  result.executor = std::move(ex);
  return result;
}

namespace {

// The single op reading `t`, or -1 (several readers, none, or t is a graph output).
int SoleReader(const Model& m, const std::vector<bool>& is_graph_output, TensorId t) {
  const TensorInfo& info = m.tensor(t);
  if (is_graph_output[t] || info.consumers.size() != 1) return -1;
  const Op& op = m.op(info.consumers[0]);
  if (std::count(op.inputs.begin(), op.inputs.end(), t) != 1) return -1;
  return info.consumers[0];
}

}  // namespace

void Executor::Impl::Plan(const Model& m, Impl& im, const std::vector<int>& last_use) {
  // Steps are one per op, in op order, so step index == OpId.
  for (size_t i = 0; i < im.steps.size(); ++i) {
    Impl::Step& head = im.steps[i];
    const std::string& t = head.kernel_type;
    if (t != "Conv" && t != "Gemm" && t != "MatMul" && t != "qrules.LinearT") continue;
    if (head.outputs.size() != 1 || head.outputs[0] == kNoTensor) continue;
    Impl::Fusion f;
    f.head = i;
    f.head_out = head.outputs[0];
    TensorId cur = head.outputs[0];
    int next = SoleReader(m, im.is_graph_output, cur);
    // (A malformed Add with one input is no bias: its own kernel reports it.)
    if ((t == "MatMul" || t == "qrules.LinearT") && next >= 0 && head.inputs.size() == 2 &&
        im.steps[next].kernel_type == "Add" && im.steps[next].inputs.size() == 2) {
      // Bias: a rank-1 state of the weight's output width, the weight a rank-2 state.
      const Impl::Step& add = im.steps[next];
      const TensorId other = add.inputs[0] == cur ? add.inputs[1] : add.inputs[0];
      const TensorId w = head.inputs[1];
      const TensorInfo& wi = m.tensor(w);
      if (other != kNoTensor && add.inputs.size() == 2 && im.states[other] && im.states[w] &&
          wi.data->shape.size() == 2 && im.states[other]->shape.size() == 1 &&
          im.states[other]->shape[0] == wi.data->shape[t == "MatMul" ? 1 : 0] &&
          im.states[other]->is_float()) {
        f.extra_inputs = {other};
        f.absorbed.push_back(static_cast<size_t>(next));
        cur = add.outputs[0];
        next = SoleReader(m, im.is_graph_output, cur);
      }
    }
    if (t == "MatMul" && f.absorbed.empty() && next >= 0 && im.steps[next].kernel_type == "Div") {
      // Division by a constant scalar (attention scores / sqrt(d)): the GEMM's alpha, read from
      // the state at every run (TransformStates may change it).  x * (1/c) may differ from x / c
      // in the last bit.  Rank 0 only: dividing by a [1,1,1] would also broadcast the shape.
      const Impl::Step& div = im.steps[next];
      const Tensor* c = div.inputs.size() == 2 && div.inputs[0] == cur && div.inputs[1] != cur &&
                                div.inputs[1] != kNoTensor
                            ? im.states[div.inputs[1]].get()
                            : nullptr;
      if (c && c->is_float() && c->shape.empty() && c->f32.size() == 1 &&
          div.outputs.size() == 1) {
        f.replacement = internal::CreateScaledMatMulKernel();
        f.extra_inputs = {div.inputs[1]};
        f.absorbed.push_back(static_cast<size_t>(next));
        cur = div.outputs[0];
        next = SoleReader(m, im.is_graph_output, cur);
      }
    }
    if (t == "Conv" && next >= 0 && im.steps[next].kernel_type == "BatchNormalization" &&
        head.inputs.size() <= 3) {
      // Inference BatchNormalization of the conv output, every parameter (and the conv's
      // weight and bias) a state: fold it into the conv's weights.
      const Impl::Step& bn = im.steps[next];
      const Op& bn_op = m.op(bn.op);
      bool states = bn.inputs.size() == 5 && bn.outputs.size() == 1 && bn.inputs[0] == cur &&
                    head.inputs[1] != kNoTensor && im.states[head.inputs[1]] != nullptr &&
                    (head.inputs.size() < 3 || head.inputs[2] == kNoTensor ||
                     im.states[head.inputs[2]] != nullptr) &&
                    (bn_op.attributes.count("training_mode") == 0 ||
                     bn_op.attributes.at("training_mode").i == 0);
      for (size_t k = 1; states && k < 5; ++k) {
        states = bn.inputs[k] != kNoTensor && im.states[bn.inputs[k]] != nullptr;
      }
      auto eps_it = bn_op.attributes.find("epsilon");
      const float eps = eps_it == bn_op.attributes.end() ? 1e-5f : eps_it->second.f;
      std::string error;
      std::unique_ptr<internal::Kernel> folded;
      if (states) {
        const AttrMap conv_attrs = ToAttrMap(m.op(head.op).attributes);
        folded = internal::CreateConvBatchNormKernel(conv_attrs, eps, &error);
      }
      if (folded) {
        f.batch_norm = true;
        f.replacement = std::move(folded);
        if (head.inputs.size() < 3) f.extra_inputs.push_back(kNoTensor);
        f.extra_inputs.insert(f.extra_inputs.end(), bn.inputs.begin() + 1, bn.inputs.end());
        f.absorbed.push_back(static_cast<size_t>(next));
        cur = bn.outputs[0];
        next = SoleReader(m, im.is_graph_output, cur);
      }
    }
    if (next >= 0 && im.steps[next].kernel_type == "Relu" && head.kernel->SetFusedRelu(false)) {
      f.relu = true;
      f.absorbed.push_back(static_cast<size_t>(next));
      cur = im.steps[next].outputs[0];
    }
    if (f.absorbed.empty()) continue;
    f.final_out = cur;
    im.fusions.push_back(std::move(f));
    im.SetFusion(im.fusions.back(), true);
  }
  // GELU as exported below opset 20: Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5).
  auto scalar_state = [&](TensorId id, float want) {
    const Tensor* t = id == kNoTensor ? nullptr : im.states[id].get();
    return t && t->is_float() && t->f32.size() == 1 && std::abs(t->f32[0] - want) <= 1e-6f * want;
  };
  auto other_input = [](const Impl::Step& st, TensorId known) {
    if (st.inputs.size() != 2) return kNoTensor;
    if (st.inputs[0] == known) return st.inputs[1];
    if (st.inputs[1] == known) return st.inputs[0];
    return kNoTensor;
  };
  for (size_t i = 0; i < im.steps.size(); ++i) {
    Impl::Step& div = im.steps[i];
    if (div.skip || div.kernel_type != "Div" || div.inputs.size() != 2 ||
        !scalar_state(div.inputs[1], 1.41421356f) || div.outputs.size() != 1) {
      continue;
    }
    const TensorId x = div.inputs[0];
    const int erf = SoleReader(m, im.is_graph_output, div.outputs[0]);
    if (erf < 0 || im.steps[erf].kernel_type != "Erf") continue;
    const int add = SoleReader(m, im.is_graph_output, im.steps[erf].outputs[0]);
    if (add < 0 || im.steps[add].kernel_type != "Add" ||
        !scalar_state(other_input(im.steps[add], im.steps[erf].outputs[0]), 1.0f)) {
      continue;
    }
    const int mul1 = SoleReader(m, im.is_graph_output, im.steps[add].outputs[0]);
    if (mul1 < 0 || im.steps[mul1].kernel_type != "Mul" ||
        other_input(im.steps[mul1], im.steps[add].outputs[0]) != x) {
      continue;
    }
    const int mul2 = SoleReader(m, im.is_graph_output, im.steps[mul1].outputs[0]);
    if (mul2 < 0 || im.steps[mul2].kernel_type != "Mul" ||
        !scalar_state(other_input(im.steps[mul2], im.steps[mul1].outputs[0]), 0.5f)) {
      continue;
    }
    internal::AttrMap no_attrs;
    std::string error;
    auto gelu = internal::CreateKernel({"Gelu", &no_attrs, 20, 1, 1}, &error);
    if (!gelu) continue;
    Impl::Fusion f;
    f.head = i;
    f.head_out = div.outputs[0];
    f.absorbed = {static_cast<size_t>(erf), static_cast<size_t>(add), static_cast<size_t>(mul1),
                  static_cast<size_t>(mul2)};
    f.final_out = im.steps[mul2].outputs[0];
    f.replacement = std::move(gelu);
    im.fusions.push_back(std::move(f));
    im.SetFusion(im.fusions.back(), true);
  }
  // In place: the step's input 0 is an activation that dies here.
  for (size_t i = 0; i < im.steps.size(); ++i) {
    Impl::Step& step = im.steps[i];
    if (step.inputs.empty() || step.outputs.empty() || step.kernel->InPlaceInput() != 0) continue;
    const TensorId in = step.inputs[0];
    if (in == kNoTensor || step.outputs[0] == kNoTensor || !im.is_activation[in] ||
        im.is_graph_output[in] || last_use[in] != static_cast<int>(i) ||
        std::count(step.inputs.begin(), step.inputs.end(), in) != 1) {
      continue;
    }
    step.inplace_ok = step.inplace = true;
  }
}

RunResult Executor::Run(std::span<const Tensor> inputs) {
  RunResult r;
  const Model& m = *model_;
  Impl& im = *impl_;
  const DiagLocation where = ModelLocation(m);
  auto fail = [&](std::string msg) {
    r.diagnostics.push_back(MakeDiagnostic(DiagCode::kExecutionError, where, std::move(msg)));
  };
  if (inputs.size() != m.inputs().size()) {
    fail("the model takes " + std::to_string(m.inputs().size()) + " input(s), got " +
         std::to_string(inputs.size()));
    return r;
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const TensorInfo& info = m.tensor(m.inputs()[i]);
    const Tensor& x = inputs[i];
    if (!internal::DataConsistent(x)) {
      fail("input '" + info.name + "': data size does not match shape " +
           internal::ShapeString(x.shape));
      return r;
    }
    if (info.dtype && IsFloat(*info.dtype) != x.is_float()) {
      fail("input '" + info.name + "': expected " + (IsFloat(*info.dtype) ? "float" : "integer") +
           " data");
      return r;
    }
    if (info.shape.known) {
      bool fits = info.shape.rank() == x.shape.size();
      for (size_t d = 1; fits && d < x.shape.size(); ++d) {
        if (info.shape.dims[d].is_static() && info.shape.dims[d].size != x.shape[d]) fits = false;
      }
      if (!fits) {
        fail("input '" + info.name + "': expected shape " + info.shape.ToString() + ", got " +
             internal::ShapeString(x.shape));
        return r;
      }
    }
    im.value[m.inputs()[i]] = &x;
  }

  bool ok = true;
  for (Impl::Step& step : im.steps) {
    if (step.skip) {
      for (TensorId id : step.release) im.Release(id);
      continue;
    }
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      const TensorId id = step.inputs[i];
      step.in_ptrs[i] = id == kNoTensor ? nullptr : im.value[id];
      if (id != kNoTensor && step.in_ptrs[i] == nullptr) {
        fail("op '" + m.op(step.op).name + "' reads tensor '" + m.tensor(id).name +
             "' which has no value");
        ok = false;
        break;
      }
      if (id != kNoTensor && !step.in_hook.empty() && step.in_hook[i] != HookMode::kNone) {
        TensorEvent ev{step.op, &m.op(step.op), {TensorSlot::Kind::kInput, static_cast<int>(i)},
                       id, step.in_hook[i]};
        if (step.in_hook[i] == HookMode::kObserve) {
          im.hook(ev, const_cast<Tensor&>(*step.in_ptrs[i]));
        } else if (step.in_exclusive[i]) {
          im.hook(ev, im.act[id]);
        } else {
          step.in_copy[i] = *step.in_ptrs[i];
          im.hook(ev, step.in_copy[i]);
          step.in_ptrs[i] = &step.in_copy[i];
        }
      }
    }
    if (!ok) break;
    if (step.inplace) {
      const TensorId in0 = step.inputs[0], out0 = step.outputs[0];
      std::swap(im.act[out0], im.act[in0]);
      step.in_ptrs[0] = &im.act[out0];
      im.value[in0] = nullptr;
    } else {
      const bool overwrites = step.kernel->OverwritesOutputs();
      for (size_t o = 0; o < step.outputs.size(); ++o) {
        if (!step.out_ptrs[o]) continue;
        im.Acquire(step.outputs[o]);
        if (!overwrites) step.out_ptrs[o]->f32.clear();  // AllocFloat zero-fills it
      }
    }
    internal::KStatus st;
    try {
      st = step.kernel->Run(step.in_ptrs, step.out_ptrs);
    } catch (const std::bad_alloc&) {
      st = "out of memory";
    } catch (const std::length_error&) {
      st = "out of memory";
    }
    if (!st.empty()) {
      const Op& op = m.op(step.op);
      fail("op '" + op.name + "' (" + KernelTypeOf(op) + "): " + st);
      ok = false;
      break;
    }
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      if (!step.out_ptrs[o]) continue;
      const TensorId id = step.outputs[o];
      im.value[id] = step.out_ptrs[o];
      im.last_numel[id] = static_cast<int64_t>(step.out_ptrs[o]->f32.size());
      if (!step.out_hook.empty() && step.out_hook[o] != HookMode::kNone) {
        const OpId ev_op = o == 0 ? step.out0_event_op : step.op;
        TensorEvent ev{ev_op, &m.op(ev_op), {TensorSlot::Kind::kOutput, static_cast<int>(o)},
                       id, step.out_hook[o]};
        im.hook(ev, im.act[id]);
      }
    }
    for (TensorId id : step.release) im.Release(id);
  }

  if (ok) {
    std::vector<bool> taken(im.act.size(), false);
    r.outputs.reserve(m.outputs().size());
    for (TensorId id : m.outputs()) {
      if (im.is_activation[id] && !taken[id] && im.value[id] == &im.act[id]) {
        im.last_numel[id] = im.act[id].numel();
        r.outputs.push_back(std::move(im.act[id]));
        im.act[id] = Tensor();
        taken[id] = true;
      } else if (im.value[id]) {
        r.outputs.push_back(*im.value[id]);
      } else {
        fail("graph output '" + m.tensor(id).name + "' has no value");
        r.outputs.clear();
        break;
      }
    }
  }
  // Back to a clean state: every live activation goes to the pool, inputs are forgotten.
  for (size_t id = 0; id < im.act.size(); ++id) {
    if (im.is_activation[id]) {
      if (im.value[id]) im.Release(static_cast<TensorId>(id));
    } else if (!im.states[id]) {
      im.value[id] = nullptr;
    }
  }
  return r;
}

RunResult Executor::RunBatched(std::span<const Tensor> inputs, int64_t batch_size) {
  int64_t n = -1;
  for (const Tensor& t : inputs) {
    if (t.shape.empty() || (n >= 0 && t.shape[0] != n) || !internal::DataConsistent(t)) {
      RunResult r;
      r.diagnostics.push_back(MakeDiagnostic(
          DiagCode::kExecutionError, ModelLocation(*model_),
          "batched inputs must have rank >= 1 and agree on the size of axis 0"));
      return r;
    }
    n = t.shape[0];
  }
  if (batch_size <= 0 || n <= batch_size) return Run(inputs);
  RunResult all;
  std::vector<Tensor> part(inputs.size());
  for (int64_t b0 = 0; b0 < n; b0 += batch_size) {
    const int64_t nb = std::min(batch_size, n - b0);
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& t = inputs[i];
      const int64_t row = n ? t.numel() / n : 0;
      part[i].type = t.type;
      part[i].shape = t.shape;
      part[i].shape[0] = nb;
      if (t.is_float()) part[i].f32.assign(t.f32.begin() + b0 * row, t.f32.begin() + (b0 + nb) * row);
      else part[i].i64.assign(t.i64.begin() + b0 * row, t.i64.begin() + (b0 + nb) * row);
    }
    RunResult r = Run(part);
    if (!r.ok()) return r;
    if (all.outputs.empty()) {
      all.outputs = std::move(r.outputs);
      continue;
    }
    for (size_t o = 0; o < r.outputs.size(); ++o) {
      Tensor& acc = all.outputs[o];
      Tensor& cur = r.outputs[o];
      if (acc.shape.empty() || cur.shape.size() != acc.shape.size() ||
          !std::equal(acc.shape.begin() + 1, acc.shape.end(), cur.shape.begin() + 1)) {
        RunResult e;
        e.diagnostics.push_back(MakeDiagnostic(
            DiagCode::kExecutionError, ModelLocation(*model_),
            "output " + std::to_string(o) + " cannot be concatenated along axis 0 across batches"));
        return e;
      }
      acc.shape[0] += cur.shape[0];
      acc.f32.insert(acc.f32.end(), cur.f32.begin(), cur.f32.end());
      acc.i64.insert(acc.i64.end(), cur.i64.begin(), cur.i64.end());
    }
  }
  return all;
}

void Executor::TransformStates(const StateFn& fn) {
  Impl& im = *impl_;
  for (size_t id = 0; id < im.states.size(); ++id) {
    if (!im.states[id]) continue;
    auto copy = std::make_shared<Tensor>(*im.states[id]);
    fn(static_cast<TensorId>(id), model_->tensor(static_cast<TensorId>(id)), *copy);
    im.states[id] = std::move(copy);
    im.value[id] = im.states[id].get();
  }
  im.StatesChanged();
}

void Executor::ResetStates() {
  Impl& im = *impl_;
  for (size_t id = 0; id < im.states.size(); ++id) {
    if (!im.states[id]) continue;
    im.states[id] = model_->tensor(static_cast<TensorId>(id)).data;
    im.value[id] = im.states[id].get();
  }
  im.StatesChanged();
}

const Tensor* Executor::state(TensorId id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->states.size()) return nullptr;
  return impl_->states[id].get();
}

void Executor::SetHook(TensorHook hook, const HookFilter& filter) {
  ClearHook();
  Impl& im = *impl_;
  const Model& m = *model_;
  im.hook = std::move(hook);
  // Decide hook points on the unfused plan, then re-fuse where no hook needs an intermediate.
  for (Impl::Fusion& f : im.fusions) im.SetFusion(f, false);
  for (Impl::Step& step : im.steps) {
    step.in_hook.assign(step.inputs.size(), HookMode::kNone);
    step.out_hook.assign(step.outputs.size(), HookMode::kNone);
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      if (step.inputs[i] == kNoTensor) continue;
      step.in_hook[i] = filter(m, step.op, {TensorSlot::Kind::kInput, static_cast<int>(i)});
    }
    for (size_t o = 0; o < step.outputs.size(); ++o) {
      if (!step.out_ptrs[o]) continue;
      step.out_hook[o] = filter(m, step.op, {TensorSlot::Kind::kOutput, static_cast<int>(o)});
    }
  }
  auto none = [](const std::vector<HookMode>& v) {
    return std::all_of(v.begin(), v.end(), [](HookMode h) { return h == HookMode::kNone; });
  };
  for (Impl::Fusion& f : im.fusions) {
    bool ok = im.steps[f.head].out_hook[0] == HookMode::kNone;
    // Folded weights are cached across runs: a hook that modifies a weight input each run
    // would go stale, so the conv's weight and bias inputs must be hook-free as well.  A hook
    // on the activation (input 0, what a W8A8 plan quantizes) changes nothing cached.
    if (f.batch_norm) {
      const std::vector<HookMode>& in = im.steps[f.head].in_hook;
      ok = ok && std::all_of(in.begin() + std::min<size_t>(1, in.size()), in.end(),
                             [](HookMode h) { return h == HookMode::kNone; });
    }
    for (size_t k = 0; k < f.absorbed.size(); ++k) {
      const Impl::Step& st = im.steps[f.absorbed[k]];
      ok = ok && none(st.in_hook);
      if (k + 1 < f.absorbed.size()) ok = ok && none(st.out_hook);
    }
    if (!ok) continue;
    const HookMode last = im.steps[f.absorbed.back()].out_hook[0];
    im.SetFusion(f, true);
    Impl::Step& head = im.steps[f.head];
    head.in_hook.resize(head.inputs.size(), HookMode::kNone);
    head.out_hook[0] = last;
  }
  for (Impl::Step& step : im.steps) {
    const bool any = !none(step.in_hook) || !none(step.out_hook);
    if (!any) {
      step.in_hook.clear();
      step.out_hook.clear();
    } else {
      im.any_hook = true;
      step.in_exclusive.assign(step.inputs.size(), false);
      step.in_copy.resize(step.inputs.size());
      const Op& op = m.op(step.op);
      for (size_t i = 0; i < step.inputs.size(); ++i) {
        const TensorId id = step.inputs[i];
        if (id == kNoTensor || !im.is_activation[id] || im.is_graph_output[id]) continue;
        const TensorInfo& info = m.tensor(id);
        step.in_exclusive[i] = info.consumers.size() == 1 &&
                               std::count(op.inputs.begin(), op.inputs.end(), id) == 1;
      }
    }
    step.inplace = step.inplace_ok && (step.in_hook.empty() || step.in_hook[0] == HookMode::kNone);
  }
}

void Executor::ClearHook() {
  Impl& im = *impl_;
  im.hook = nullptr;
  im.any_hook = false;
  for (Impl::Step& step : im.steps) {
    step.in_hook.clear();
    step.out_hook.clear();
    step.in_exclusive.clear();
    step.in_copy.clear();
    step.inplace = step.inplace_ok;
  }
  for (Impl::Fusion& f : im.fusions) im.SetFusion(f, true);
}

}  // namespace qrules
