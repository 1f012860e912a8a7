#!/usr/bin/python3
"""An independent PyTorch reference for qrules' fake-quantized simulator (src/sim, `qrules run`).

    /usr/bin/python3 tools/make_sim_reference.py        # from the repository root
    → tests/data/sim_reference/{model.onnx, rules.qrules, calib.npy, input.npy, expected.npy,
      float.npy, points.json, README.md}

Needs Debian's python3-torch (1.13) and python3-onnx (1.12) and numpy; no qrules code is used.
Everything is seeded, so a re-run writes the same files (model.onnx too: the exporter's output is
deterministic, and its doc strings are cleared).

What it builds
--------------
A tiny CNN exported with torch.onnx.export (opset 13, do_constant_folding=True, dynamic batch):

    input [N,2,8,16] → /conv/Conv (Conv2d 2→4, 3x3, stride 2, pad 1) → /Relu      [N,4,4,8]
      → /fc_t/MatMul + /fc_t/Add (nn.Linear 8→12 on the last axis of a 4-D tensor: the
        exporter writes MatMul with the weight folded to a TRANSPOSED [in, out] = [8, 12]
        initializer `onnx::MatMul_19`, and the bias as a separate Add) → /Relu_1  [N,4,4,12]
      → /Flatten                                                                   [N,192]
      → /fc_pt/Gemm (nn.Linear 192→32, transB=1, weight stored [out, in]) → /Relu_2 [N,32]
      → /fc_pb/Gemm (nn.Linear 32→10, transB=1) → output                           [N,10]

and rules.qrules, which gives each layer its weight spec with an `op_name` entry (REFERENCE.md
"Op entries"; op names are the ONNX node names, grammar/SEMANTICS.md Part 1 #1):

    /conv/Conv    int8 symmetric per_channel(axis: 0)         (one scale per output channel)
    /fc_t/MatMul  int8 symmetric per_channel, axis left open  (REFERENCE.md "Spec fields",
                  granularity: resolved from the consuming op, grammar/SEMANTICS.md §b.10: torch
                  axis 0, the output features = axis 1 of the stored [in, out] weight)
    /fc_pt/Gemm   int8 symmetric per_tensor
    /fc_pb/Gemm   int4 symmetric per_block(block_size: 16), axis left open (§b.10: the
                  input features, axis 1 of the stored [10, 32] → 10 x 2 scales)

Weights are `qparams: static` (from the weight itself).  Activations are int8 with
`qparams: global_minmax` (REFERENCE.md "Spec fields", qparams: a running min/max that never
shrinks, i.e. min-max over all calibration batches whatever the batch size; `static` is "from
the current tensor only", for activations the LAST calibration batch, so it is not used).  They
are asymmetric (the model input: a non-zero zero point; after each ReLU: min 0, zero point
-128), except the logits, which are symmetric.

Where the activation fake-quants go (REFERENCE.md "Op entries", "Tensor maps"; grammar/SEMANTICS.md
§b.4-§b.6): only key ops of registered patterns get op-level specs; conv→relu and linear→relu
are fused patterns (conv_act, linear_act), no fake-quant inside, the output one after the relu;
a MatMul linear's bias Add belongs to the linear (the repository README: "The plan reads an
ONNX export as the torch program it came from"), so /fc_t/MatMul + /fc_t/Add + /Relu_1 is one
linear_act; one fake-quant per edge (§b.6), and both ends of every edge ask for the same spec,
so the annotation order cannot matter; /Flatten is a shared-observer op whose output shares its
input's fake-quant (§b.5, §b.6); states other than `weight` (the biases) stay float (§b.4).
So there are five activation points:

    input             input 0 of /conv/Conv                             int8 asymmetric
    /Relu_output_0    output of conv_act = input 0 of /fc_t/MatMul       int8 asymmetric
    /Relu_1_output_0  output of linear_act (fc_t), shared by /Flatten_output_0 = input 0 of
                      /fc_pt/Gemm                                       int8 asymmetric
    /Relu_2_output_0  output of linear_act (fc_pt) = input 0 of /fc_pb/Gemm
                                                                        int8 asymmetric
    output            output of /fc_pb/Gemm (a graph output)            int8 symmetric

Numerics (grammar/SEMANTICS.md §c, computed here in float32 with numpy):
  * range (§c.3): min = min(observed, 0), max = max(observed, 0), per block;
  * symmetric (§c.4): scale = max(max(-min, max) / ((qmax - qmin) / 2), 2^-23), i.e. / 127.5
    for int8 and / 7.5 for int4; zero point 0;
  * asymmetric (§c.4): scale = max((max - min) / (qmax - qmin), 2^-23),
    zero_point = clamp(qmin - round_half_even(min / scale), qmin, qmax);
  * int8 [-128, 127], int4 [-8, 7] (§c.1); per_block(block_size 16, axis 1) on [10, 32] →
    blocks of 1 x 16 (§c.5);
  * fake quantization (§c.8, ZP): x' = (clamp(round_half_even(x / scale) + zp, qmin, qmax)
    - zp) * scale, in float32;
  * calibration (§c.7, §d): observers on and fake quantization off (every fake-quant, the
    weights' included), so activation ranges are those of the FLOAT model on calib.npy; then
    evaluation with observers off and fake quantization on.

expected.npy is computed with PyTorch's own fake-quant ops: torch.fake_quantize_per_tensor_affine
for the activations and the per-tensor weight, torch.fake_quantize_per_channel_affine for the
per-channel weights and the int4 per-block weight (blocks as rows, quant range [-8, 7]).  Those
multiply by 1/scale instead of dividing, which can round differently when x/scale lies at (or
within an ulp of) a .5 tie.  To keep the reference unambiguous the generator
  * flips the sign of every weight quantization group (conv/fc_t channel, fc_pt tensor, fc_pb
    block) whose largest magnitude is negative, so that the max-magnitude weight maps to +127.5
    (+7.5), which clamps to 127 (7) either way, instead of -127.5, a true tie;
  * keeps only input samples whose values lie at least MARGIN steps away from every rounding
    boundary at every activation point, so that neither the reciprocal nor the float32
    summation order (a C++ conv/gemm need not add in PyTorch's order) can move a value across;
  * checks that PyTorch's fake-quant ops and an explicit true-division QDQ agree bit for bit at
    every point, and that a plain numpy interpreter of the ONNX graph, fake-quantizing exactly
    the tensors named in points.json with the qparams written there, reproduces expected.npy.
"""
import io
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
import onnx
from onnx import numpy_helper

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(REPO, "tests", "data", "sim_reference")

SEED = 20240607
N_CALIB = 64
N_INPUT = 16
MARGIN = 2e-3  # minimum distance (in quantization steps) from a rounding boundary, see above
EPS = np.float32(2.0 ** -23)
INT8 = (-128, 127)
INT4 = (-8, 7)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, stride=2, padding=1)
        self.fc_t = nn.Linear(8, 12)      # applied to a 4-D tensor: exported as MatMul + Add
        self.fc_pt = nn.Linear(192, 32)   # 2-D: exported as Gemm
        self.fc_pb = nn.Linear(32, 10)    # 2-D: exported as Gemm

    def forward(self, x):
        return run(self, x, weights=None, act=lambda name, t: t)


def run(net, x, weights, act):
    """The model, with the weights `weights` (torch layout; None: the float ones) and `act(name,
    tensor)` applied at each activation point (named by its ONNX tensor)."""
    if weights is None:  # the modules themselves (so that the export names nodes by module)
        conv, fc_t, fc_pt, fc_pb = net.conv, net.fc_t, net.fc_pt, net.fc_pb
    else:
        def conv(t):
            return F.conv2d(t, weights["conv"], net.conv.bias, stride=2, padding=1)

        def linear(k):
            return lambda t: F.linear(t, weights[k], getattr(net, k).bias)

        fc_t, fc_pt, fc_pb = linear("fc_t"), linear("fc_pt"), linear("fc_pb")
    x = act("input", x)
    x = act("/Relu_output_0", F.relu(conv(x)))
    x = act("/Relu_1_output_0", F.relu(fc_t(x)))
    x = torch.flatten(x, 1)  # shares the fake-quant of its input (shared observer)
    x = act("/Relu_2_output_0", F.relu(fc_pt(x)))
    return act("output", fc_pb(x))


# --- weight quantization groups, in torch layout --------------------------------------------------
def groups_of(name, w):
    """The torch-layout weight of layer `name` viewed as [quantization groups, elements]."""
    if name == "conv":
        return w.reshape(w.shape[0], -1)                # per_channel axis 0
    if name == "fc_t":
        return w.reshape(w.shape[0], -1)                # per_channel torch axis 0 (output features)
    if name == "fc_pt":
        return w.reshape(1, -1)                         # per_tensor
    if name == "fc_pb":
        return w.reshape(w.shape[0] * (w.shape[1] // 16), 16)  # per_block 16 along axis 1
    raise KeyError(name)


WEIGHT_DTYPE = {"conv": INT8, "fc_t": INT8, "fc_pt": INT8, "fc_pb": INT4}


def make_net():
    torch.manual_seed(SEED)
    net = Net().eval()
    with torch.no_grad():
        # Different magnitudes per channel / block, so per-channel and per-block scales differ.
        net.conv.weight.mul_(torch.tensor([0.3, 0.7, 1.2, 2.0]).view(4, 1, 1, 1))
        net.fc_t.weight.mul_(torch.linspace(0.4, 2.0, 12).view(12, 1))
        net.fc_pb.weight.mul_(torch.tensor([0.5, 1.5]).repeat_interleave(16).repeat(10, 1))
        net.conv.bias.mul_(0.5)
        # Every group's largest magnitude positive (see the module docstring).
        for name in WEIGHT_DTYPE:
            g = groups_of(name, getattr(net, name).weight.data)  # a view
            hi, lo = g.max(dim=1).values, g.min(dim=1).values
            assert bool((hi != -lo).all())
            g.mul_(torch.where(-lo > hi, -torch.ones_like(hi), torch.ones_like(hi)).view(-1, 1))
    return net


# --- §c numerics in numpy float32 ----------------------------------------------------------------
def qparams(lo, hi, q, symmetric):
    """scale (float32) and zero point (int32) from observed per-block min/max (§c.3, §c.4)."""
    qmin, qmax = q
    lo = np.minimum(np.asarray(lo, np.float32), np.float32(0))
    hi = np.maximum(np.asarray(hi, np.float32), np.float32(0))
    if symmetric:
        m = np.maximum(-lo, hi)
        scale = np.maximum(m / np.float32((qmax - qmin) / 2), EPS).astype(np.float32)
        zp = np.full(scale.shape, int((qmax + qmin + 1) / 2), np.int32)  # trunc (§c.4): 0
    else:
        scale = np.maximum((hi - lo) / np.float32(qmax - qmin), EPS).astype(np.float32)
        zp = np.clip(np.float32(qmin) - np.rint(lo / scale), qmin, qmax).astype(np.int32)
    return lo, hi, scale, zp


def qdq_div(x, scale, zp, q):
    """§c.8 ZP fake quantization with a true float32 division (broadcasting scale/zp)."""
    x = np.asarray(x, np.float32)
    r = np.rint(x / scale) + zp.astype(np.float32)
    return ((np.clip(r, q[0], q[1]) - zp.astype(np.float32)) * scale).astype(np.float32)


def margin_steps(x, scale, zp, q):
    """Smallest distance, in steps, from x/scale + zp to a rounding boundary k + 0.5 that matters
    (qmin <= k < qmax; beyond the range both sides clamp alike)."""
    t = np.asarray(x, np.float64) / np.float64(scale) + np.float64(zp)
    k = np.clip(np.floor(t), q[0], q[1] - 1)
    return np.abs(t - (k + 0.5))


# --- torch fake quantization ---------------------------------------------------------------------
def torch_fq_tensor(x, scale, zp, q):
    s, z = float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])
    return torch.fake_quantize_per_tensor_affine(x, s, z, q[0], q[1])


def torch_fq_rows(x2d, scale, zp, q):
    """One scale per row of a 2-D tensor (per channel, or per block with the blocks as rows)."""
    s = torch.from_numpy(scale.reshape(-1).copy())
    z = torch.from_numpy(zp.reshape(-1).copy())
    return torch.fake_quantize_per_channel_affine(x2d, s, z, 0, q[0], q[1])


# --- the activation points (rules.qrules) ---------------------------------------------------------
ACT_POINTS = [  # tensor, symmetric?, where, rule
    ("input", False,
     "input 0 of /conv/Conv (the graph input)",
     'op_name "/conv/Conv" > op_input[*] (act8_asym)'),
    ("/Relu_output_0", False,
     "output of pattern conv_act (/conv/Conv, /Relu) = input 0 of /fc_t/MatMul",
     'op_name "/conv/Conv" > op_output[*] and op_name "/fc_t/MatMul" > op_input[*] (act8_asym)'),
    ("/Relu_1_output_0", False,
     "output of pattern linear_act (/fc_t/MatMul, /fc_t/Add, /Relu_1); shared by /Flatten's "
     "output (/Flatten_output_0) = input 0 of /fc_pt/Gemm",
     'op_name "/fc_t/MatMul" > op_output[*] and op_name "/fc_pt/Gemm" > op_input[*] (act8_asym)'),
    ("/Relu_2_output_0", False,
     "output of pattern linear_act (/fc_pt/Gemm, /Relu_2) = input 0 of /fc_pb/Gemm",
     'op_name "/fc_pt/Gemm" > op_output[*] and op_name "/fc_pb/Gemm" > op_input[*] (act8_asym)'),
    ("output", True,
     "output of /fc_pb/Gemm (the graph output)",
     'op_name "/fc_pb/Gemm" > op_output[*] (act8)'),
]

RULES = """qrules 1

# tests/data/sim_reference/rules.qrules — written by tools/make_sim_reference.py (see there).
# Each layer of model.onnx gets its weight spec from an op_name entry (ONNX node names).  An op
# entry is used as a whole, so every entry writes all three groups.  The two ends of each edge
# ask for the same activation spec.

# Activations: int8, one scale per tensor, min/max over all calibration batches.
spec act8 {
  dtype: int8
  qscheme: symmetric
  granularity: per_tensor
  qparams: global_minmax
}

# The model input and the outputs of the conv/linear -> relu patterns.
spec act8_asym : act8 {
  qscheme: asymmetric
}

# Conv weight [C_out, C_in, KH, KW]: one scale per output channel.
spec w8_axis0 {
  dtype: int8
  qscheme: symmetric
  granularity: per_channel(axis: 0)
  qparams: static
}

# Axis left open: resolved from the consuming op (the output features; axis 1 of the [in, out]
# weight of /fc_t/MatMul).
spec w8_channel {
  dtype: int8
  qscheme: symmetric
  granularity: per_channel
  qparams: static
}

spec w8_tensor {
  dtype: int8
  qscheme: symmetric
  granularity: per_tensor
  qparams: static
}

# Blocks of 16 along the input features (axis resolved from the consuming op).
spec w4_block16 {
  dtype: int4
  qscheme: symmetric
  granularity: per_block(block_size: 16)
  qparams: static
}

global {
  # /Flatten (a shared-observer op) gets these; it shares its input's fake-quant.
  op_input { *: act8_asym }
  op_output { *: act8_asym }
  op_state: none

  op_name "/conv/Conv" expect 1 {
    op_input { *: act8_asym }
    op_output { *: act8_asym }
    op_state { weight: w8_axis0 }
  }
  op_name "/fc_t/MatMul" expect 1 {
    op_input { *: act8_asym }
    op_output { *: act8_asym }
    op_state { weight: w8_channel }
  }
  op_name "/fc_pt/Gemm" expect 1 {
    op_input { *: act8_asym }
    op_output { *: act8_asym }
    op_state { weight: w8_tensor }
  }
  op_name "/fc_pb/Gemm" expect 1 {
    op_input { *: act8_asym }
    op_output { *: act8 }
    op_state { weight: w4_block16 }
  }
}
"""


def weight_qparams(net):
    """Per weight: min, max, scale and zero point per group (torch layout) and the weight
    fake-quantized by torch, checked against the true-division QDQ."""
    out = {}
    for name, q in WEIGHT_DTYPE.items():
        w = getattr(net, name).weight.detach()
        g = groups_of(name, w).numpy()
        lo, hi, scale, zp = qparams(g.min(axis=1), g.max(axis=1), q, symmetric=True)
        if name == "fc_pt":
            wq = torch_fq_tensor(w, scale, zp, q)
        else:
            wq = torch_fq_rows(groups_of(name, w).contiguous(), scale, zp, q).reshape(w.shape)
        wq_div = qdq_div(g, scale[:, None], zp[:, None], q).reshape(tuple(w.shape))
        if not np.array_equal(wq.numpy().view(np.uint32), wq_div.view(np.uint32)):
            sys.exit(f"weight {name}: torch's fake-quant and the true-division QDQ differ")
        out[name] = dict(lo=lo, hi=hi, scale=scale, zp=zp, wq=wq)
    return out


def calibrate(net, calib, weights):
    """global_minmax over the calibration data, with fake quantization off (§d)."""
    seen = {}

    def observe(name, t):
        a = t.detach().numpy()
        lo, hi = np.float32(a.min()), np.float32(a.max())
        if name in seen:
            lo, hi = min(lo, seen[name][0]), max(hi, seen[name][1])
        seen[name] = (lo, hi)
        return t

    with torch.no_grad():
        for b in range(0, len(calib), 16):  # batches; global_minmax makes the batch size irrelevant
            run(net, torch.from_numpy(calib[b:b + 16]), weights, observe)
    qp = {}
    for name, sym, _, _ in ACT_POINTS:
        lo, hi, scale, zp = qparams(*seen[name], INT8, sym)
        qp[name] = dict(lo=lo, hi=hi, scale=scale, zp=zp)
    return qp


def evaluate(net, x, weights, qp, margins=None, check=True):
    """Fake-quantized run; checks torch's fake-quant against the true-division QDQ at each point."""
    def fq(name, t):
        p = qp[name]
        y = torch_fq_tensor(t, p["scale"], p["zp"], INT8)
        y_div = qdq_div(t.numpy(), p["scale"], p["zp"], INT8)
        if check and not np.array_equal(y.numpy().view(np.uint32), y_div.view(np.uint32)):
            sys.exit(f"activation {name}: torch's fake-quant and the true-division QDQ differ")
        if margins is not None:
            m = margin_steps(t.numpy(), p["scale"], p["zp"], INT8)
            margins[name] = np.minimum(margins.get(name, np.inf), m.reshape(len(m), -1).min(axis=1))
        return y

    with torch.no_grad():
        return run(net, x, weights, fq)


def pick_inputs(net, wq, qps, rng):
    """N_INPUT samples, each at least MARGIN steps from every rounding boundary at every point under
    every calibration in `qps`."""
    kept = []
    while len(kept) < N_INPUT:
        cand = (rng.standard_normal((64, 2, 8, 16)) * 1.3).astype(np.float32)  # wider than calib
        ok = np.ones(len(cand), bool)
        for qp in qps:
            margins = {}
            evaluate(net, torch.from_numpy(cand), wq, qp, margins, check=False)
            for m in margins.values():
                ok &= m >= MARGIN
        kept.extend(cand[ok])
    return np.stack(kept[:N_INPUT])


# --- ONNX -----------------------------------------------------------------------------------------
def export(net):
    f = io.BytesIO()
    torch.onnx.export(net, torch.zeros(3, 2, 8, 16), f, opset_version=13, do_constant_folding=True,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    model = onnx.load_from_string(f.getvalue())
    model.doc_string = ""
    for n in model.graph.node:
        n.doc_string = ""
    onnx.checker.check_model(model)
    got = [(n.name, n.op_type) for n in model.graph.node]
    want = [("/conv/Conv", "Conv"), ("/Relu", "Relu"), ("/fc_t/MatMul", "MatMul"),
            ("/fc_t/Add", "Add"), ("/Relu_1", "Relu"), ("/Flatten", "Flatten"),
            ("/fc_pt/Gemm", "Gemm"), ("/Relu_2", "Relu"), ("/fc_pb/Gemm", "Gemm")]
    if got != want:
        sys.exit(f"unexpected export: {got}")
    return model


def weight_initializers(model, net):
    """torch module name → (ONNX initializer name, stored array, stored layout is transposed)."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    nodes = {n.name: n for n in model.graph.node}
    out = {}
    for name, node in (("conv", "/conv/Conv"), ("fc_t", "/fc_t/MatMul"), ("fc_pt", "/fc_pt/Gemm"),
                       ("fc_pb", "/fc_pb/Gemm")):
        init = nodes[node].input[1]
        w = getattr(net, name).weight.detach().numpy()
        transposed = name == "fc_t"
        stored = inits[init]
        if not np.array_equal(stored, w.T if transposed else w):
            sys.exit(f"initializer {init} is not the weight of {name}")
        out[name] = (init, stored, transposed)
    return out


def onnx_eval(model, x, fq=None):
    """A plain numpy (float32) interpreter for this graph.  `fq` maps tensor names to functions
    applied to the tensor (initializers included) before use."""
    fq = fq or {}
    env = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    env["input"] = x
    for k in list(env):
        if k in fq:
            env[k] = fq[k](env[k])
    for n in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        i = [env[t] for t in n.input]
        if n.op_type == "Conv":
            pads = a["pads"]
            xp = np.pad(i[0], [(0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])])
            w = i[1]
            kh, kw = w.shape[2:]
            sh, sw = a["strides"]
            oh = (xp.shape[2] - kh) // sh + 1
            ow = (xp.shape[3] - kw) // sw + 1
            y = np.zeros((x.shape[0], w.shape[0], oh, ow), np.float64)
            for r in range(kh):
                for c in range(kw):
                    patch = xp[:, :, r:r + sh * oh:sh, c:c + sw * ow:sw].astype(np.float64)
                    y += np.einsum("nchw,oc->nohw", patch, w[:, :, r, c].astype(np.float64))
            y = (y + i[2].reshape(1, -1, 1, 1)).astype(np.float32)
        elif n.op_type == "Relu":
            y = np.maximum(i[0], np.float32(0))
        elif n.op_type == "MatMul":
            y = np.matmul(i[0].astype(np.float64), i[1].astype(np.float64)).astype(np.float32)
        elif n.op_type == "Add":
            y = (i[0] + i[1]).astype(np.float32)
        elif n.op_type == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif n.op_type == "Gemm":
            assert a.get("transB") == 1 and a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
            y = (i[0].astype(np.float64) @ i[1].T.astype(np.float64) + i[2]).astype(np.float32)
        else:
            raise NotImplementedError(n.op_type)
        if n.output[0] in fq:
            y = fq[n.output[0]](y)
        env[n.output[0]] = y
    return env["output"]


# --- points.json ----------------------------------------------------------------------------------
def floats(a):
    return [float(v) for v in np.asarray(a, np.float32).reshape(-1)]


def bits(a):
    return ["0x%08x" % v for v in np.asarray(a, np.float32).reshape(-1).view(np.uint32)]


def weight_point(name, init, stored, transposed, p):
    q = WEIGHT_DTYPE[name]
    shape = list(stored.shape)
    if name == "conv":
        gran, grid = {"type": "per_channel", "axis": 0}, [shape[0], 1, 1, 1]
    elif name == "fc_t":
        gran, grid = {"type": "per_channel", "axis": 1}, [1, shape[1]]
    elif name == "fc_pt":
        gran, grid = {"type": "per_tensor"}, [1, 1]
    else:
        gran, grid = {"type": "per_block", "axis": 1, "block_size": 16}, [shape[0], shape[1] // 16]
    node = {"conv": "/conv/Conv", "fc_t": "/fc_t/MatMul", "fc_pt": "/fc_pt/Gemm",
            "fc_pb": "/fc_pb/Gemm"}[name]
    spec = {"conv": "w8_axis0", "fc_t": "w8_channel", "fc_pt": "w8_tensor",
            "fc_pb": "w4_block16"}[name]
    return {
        "tensor": init,
        "kind": "weight",
        "where": f"weight (input 1) of {node}",
        "rule": f'op_name "{node}" > op_state[weight] ({spec})',
        "stored_shape": shape,
        "stored_layout": "[in, out] (transposed)" if transposed else "torch layout",
        "dtype": "int4" if q == INT4 else "int8",
        "qscheme": "symmetric",
        "qmin": q[0],
        "qmax": q[1],
        "granularity": gran,
        "scale_shape": grid,  # §c.3: the block-count shape, in the stored layout, C order
        "min": floats(p["lo"]),
        "max": floats(p["hi"]),
        "scale": floats(p["scale"]),
        "scale_bits": bits(p["scale"]),
        "zero_point": [int(v) for v in p["zp"].reshape(-1)],
    }


def act_point(name, sym, where, rule, p, margin):
    return {
        "tensor": name,
        "kind": "activation",
        "where": where,
        "rule": rule,
        "dtype": "int8",
        "qscheme": "symmetric" if sym else "asymmetric",
        "qmin": INT8[0],
        "qmax": INT8[1],
        "granularity": {"type": "per_tensor"},
        "qparams": "global_minmax",
        "min": floats(p["lo"]),
        "max": floats(p["hi"]),
        "scale": floats(p["scale"]),
        "scale_bits": bits(p["scale"]),
        "zero_point": [int(v) for v in p["zp"].reshape(-1)],
        "min_margin_steps": float(margin),
    }


README = """# sim_reference — an independent PyTorch reference for the fake-quant simulator

Written by `tools/make_sim_reference.py` (from the repository root:
`/usr/bin/python3 tools/make_sim_reference.py`; needs Debian's python3-torch 1.13 and
python3-onnx 1.12; seeded, so a re-run writes the same files).  No qrules code is involved: the
scales, zero points and fake-quantized output come from PyTorch and numpy, following
`grammar/REFERENCE.md` and grammar/SEMANTICS.md §b-§d.  The generator's docstring has the details.

* `model.onnx` — torch.onnx.export (opset 13, constant folding, dynamic batch) of a tiny CNN:
  `/conv/Conv` → `/Relu` → `/fc_t/MatMul` + `/fc_t/Add` (nn.Linear on a 4-D tensor, its weight
  `onnx::MatMul_19` stored transposed, [in, out] = [8, 12]) → `/Relu_1` → `/Flatten` →
  `/fc_pt/Gemm` → `/Relu_2` → `/fc_pb/Gemm`.
* `rules.qrules` — one `op_name` entry per layer: conv int8 `per_channel(axis: 0)`; fc_t int8
  `per_channel` with the axis open (the output features: stored axis 1); fc_pt int8 `per_tensor`;
  fc_pb int4 `per_block(block_size: 16)` with the axis open (the input features: stored axis 1);
  int8 activations with `qparams: global_minmax`, asymmetric at the input and after each relu,
  symmetric at the logits; biases float.
* `calib.npy` — float32 [{n_calib}, 2, 8, 16], calibration data.
* `input.npy` — float32 [{n_input}, 2, 8, 16], evaluation input (wider than the calibration
  data, so some values clamp).
* `expected.npy` — float32 [{n_input}, 10], the fake-quantized output (PyTorch).
* `float.npy` — float32 [{n_input}, 10], the float output (PyTorch).
* `points.json` — every fake-quant point applied: ONNX tensor, kind, dtype, qscheme, granularity
  (axes in the stored layout), observed min/max, scales (also as float32 bits), zero points.

What it checks: that calibrating on `calib.npy` (observers on, fake quantization off — every
fake-quant, the weights' too, grammar/SEMANTICS.md §d; `global_minmax` makes the batch size irrelevant)
and then running `input.npy` with `rules.qrules` gives `expected.npy`, with the qparams of
`points.json`.  On the way: where the fake-quants go (conv/linear → relu fused, the MatMul
linear's bias Add inside its pattern, /Flatten sharing its input's fake-quant, biases float), the
stored-layout axes of a transposed MatMul weight and of per-block blocks, the int4 range,
symmetric (/127.5, /7.5) and asymmetric (zero point, round half to even) qparams, clamping.

Exactness.  PyTorch's `fake_quantize_*` ops multiply by 1/scale where grammar/SEMANTICS.md §c.8 divides;
the two can round differently at a .5 tie.  The generator removes that ambiguity: every weight
group's largest magnitude is positive (the max-magnitude weight lands on +127.5 / +7.5, which
clamps to 127 / 7 either way, not on the -127.5 tie), and every input sample keeps its values at
least {margin} steps from every rounding boundary at every activation point, so neither the
reciprocal nor a different float32 summation order can change a rounding.  It checks that
PyTorch's ops and a true-division QDQ agree bit for bit at every point, and that a numpy
interpreter of `model.onnx` that fake-quantizes exactly the tensors of `points.json` with the
qparams written there reproduces `expected.npy`.  An implementation of these semantics should
match: weight scales bit for bit; activation min/max and scales to ~1e-6 relative (float32
sums); outputs to ~1e-5 absolute, with no element a whole output step ({out_step:.6g}) off.
"""


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(SEED)
    net = make_net()
    model = export(net)
    inits = weight_initializers(model, net)

    calib = rng.standard_normal((N_CALIB, 2, 8, 16)).astype(np.float32)
    wp = weight_qparams(net)
    wq = {k: v["wq"] for k, v in wp.items()}
    qp = calibrate(net, calib, None)    # §d: float weights during calibration
    x = pick_inputs(net, wq, [qp], rng)

    xt = torch.from_numpy(x)
    with torch.no_grad():
        y_float = net(xt).numpy()
    margins = {}
    y_q = evaluate(net, xt, wq, qp, margins).numpy()

    # Cross-check on the ONNX graph: the float output, then the fake-quantized one with the points
    # applied by ONNX tensor name, in the stored layouts.
    if not np.allclose(onnx_eval(model, x), y_float, rtol=1e-5, atol=1e-5):
        sys.exit("the ONNX graph does not compute what the torch model computes")
    fq = {}
    for name, (init, stored, transposed) in inits.items():
        p = wp[name]
        if name == "fc_pb":  # [10, 2] block scales over the stored [10, 32]
            s = np.repeat(p["scale"].reshape(10, 2), 16, axis=1)
            z = np.repeat(p["zp"].reshape(10, 2), 16, axis=1)
        elif name == "fc_t":  # stored [in, out]: the output channels are axis 1
            s, z = p["scale"].reshape(1, -1), p["zp"].reshape(1, -1)
        elif name == "conv":
            s, z = p["scale"].reshape(-1, 1, 1, 1), p["zp"].reshape(-1, 1, 1, 1)
        else:
            s, z = p["scale"].reshape(1, 1), p["zp"].reshape(1, 1)
        fq[init] = (lambda s, z, q: lambda a: qdq_div(a, s, z, q))(s, z, WEIGHT_DTYPE[name])
    for name, _, _, _ in ACT_POINTS:
        fq[name] = (lambda p: lambda a: qdq_div(a, p["scale"], p["zp"], INT8))(qp[name])
    fq["/Flatten_output_0"] = fq["/Relu_1_output_0"]  # shared (and idempotent)
    y_onnx = onnx_eval(model, x, fq)
    if np.abs(y_onnx - y_q).max() > 1e-5:
        sys.exit(f"ONNX-graph QDQ differs from the torch reference: {np.abs(y_onnx - y_q).max()}")

    onnx.save(model, os.path.join(OUT, "model.onnx"))
    with open(os.path.join(OUT, "rules.qrules"), "w", encoding="utf-8") as f:
        f.write(RULES)
    np.save(os.path.join(OUT, "calib.npy"), calib)
    np.save(os.path.join(OUT, "input.npy"), x)
    np.save(os.path.join(OUT, "expected.npy"), y_q)
    np.save(os.path.join(OUT, "float.npy"), y_float)
    points = [act_point(n, s, w, r, qp[n], margins[n].min())
              for n, s, w, r in ACT_POINTS]
    points += [weight_point(k, *inits[k], wp[k]) for k in ("conv", "fc_t", "fc_pt", "fc_pb")]
    doc = {
        "generator": "tools/make_sim_reference.py",
        "model": "model.onnx",
        "rules": "rules.qrules",
        "calibration": {"data": "calib.npy", "observers": "on",
                        "fake_quant": "off, weights included (grammar/SEMANTICS.md §d)"},
        "input": "input.npy",
        "expected": "expected.npy",
        "float": "float.npy",
        "margin_steps": MARGIN,
        "not_quantized": ["conv.bias", "fc_t.bias", "fc_pt.bias", "fc_pb.bias",
                          "/conv/Conv_output_0", "/fc_t/MatMul_output_0", "/fc_t/Add_output_0",
                          "/fc_pt/Gemm_output_0"],
        "shared": {"/Flatten_output_0": "/Relu_1_output_0"},
        "points": points,
    }
    with open(os.path.join(OUT, "points.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    out_step = float(qp["output"]["scale"][()])
    with open(os.path.join(OUT, "README.md"), "w", encoding="utf-8") as f:
        f.write(README.format(margin=MARGIN, out_step=out_step, n_calib=N_CALIB, n_input=N_INPUT))
    sqnr = 10 * np.log10((y_float ** 2).sum() / ((y_float - y_q) ** 2).sum())
    print(f"wrote {OUT}: {len(points)} points, output SQNR {sqnr:.1f} dB, "
          f"model {os.path.getsize(os.path.join(OUT, 'model.onnx'))} bytes")


if __name__ == "__main__":
    main()
