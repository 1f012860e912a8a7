#!/usr/bin/python3
"""Exports small PyTorch models that together use most of the executor's op set, with their
PyTorch outputs as the reference: tests/unit/exec_torch_zoo_test.cc runs them and compares.

Needs Debian's python3-torch and python3-onnx.  Run from the repository root:
    /usr/bin/python3 tests/data/models/make_torch_zoo.py
→ tests/data/models/zoo_<name>.onnx, .modules.json, .input0.npy, .output0.npy

The weights are random (seeded) and the models untrained: the point is the ops and the shape
chains PyTorch's exporter writes (dynamic batch), not accuracy.  BatchNorm running statistics are
randomised too, so that folding or skipping BatchNormalization would show.
"""
import os
import sys

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools"))
from export_torch import export  # noqa: E402


class Vision(nn.Module):
    """Conv/BN/activations (SiLU as Sigmoid + Mul, Hardswish as HardSigmoid + Mul at opset 13),
    depthwise and transposed conv, resizes, pools, concat, pad."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.dilated = nn.Conv2d(8, 8, 3, padding=2, dilation=2, bias=False)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.mix = nn.Conv2d(12, 6, 1)
        self.head = nn.Linear(6 * 2, 5)

    def forward(self, x):
        y = F.relu6(self.bn(self.stem(x)))                       # Conv, BatchNormalization, Clip
        d = F.leaky_relu(self.dw(y), 0.1)                        # depthwise, LeakyRelu
        d = torch.sigmoid(self.dilated(d)) * d                   # dilation, Sigmoid, Mul
        u = F.hardswish(self.up(d))                              # ConvTranspose, Hardswish
        n = F.interpolate(d, scale_factor=2.0, mode="nearest")  # Resize nearest
        z = torch.cat([u, n[:, :4], y[:, 4:]], dim=1)            # Slice, Concat
        z = F.pad(z, (1, 0, 0, 1))                               # Pad
        z = F.silu(self.mix(z))                                  # SiLU: Sigmoid, Mul
        z = F.interpolate(z, size=(6, 6), mode="bilinear", align_corners=False)  # Resize linear
        a = F.avg_pool2d(z, 2)                                   # AveragePool
        m = F.max_pool2d(z, 3, stride=2, padding=1)              # MaxPool with pads
        g = torch.stack([a.mean(dim=(2, 3)), m.amax(dim=(2, 3))], dim=2)  # ReduceMean/Max
        out = self.head(torch.flatten(g, 1))                     # Flatten, Gemm
        return torch.tanh(out) + F.hardsigmoid(out)              # Tanh, HardSigmoid, Add


class Sequence(nn.Module):
    """A 1-D conv front end and a self-attention block written out (MatMul, Softmax, Transpose,
    Reshape chains with a dynamic batch), LayerNorm, erf-GELU, and element-wise maths."""

    def __init__(self, d=16, heads=2):
        super().__init__()
        self.heads = heads
        self.conv = nn.Conv1d(4, d, 3, padding=1)
        self.norm1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d)
        self.ff1 = nn.Linear(d, 2 * d)
        self.ff2 = nn.Linear(2 * d, d)
        self.out = nn.Linear(d, 3)

    def forward(self, x):                      # x: [N, 4, T]
        h = self.conv(x).transpose(1, 2)      # [N, T, d]
        n, t, d = h.shape
        q, k, v = self.qkv(self.norm1(h)).chunk(3, dim=-1)

        def split(z):
            return z.reshape(n, t, self.heads, d // self.heads).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        att = torch.softmax(q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5, dim=-1)
        o = (att @ v).transpose(1, 2).reshape(n, t, d)
        h = h + self.proj(o)
        h = h + self.ff2(F.gelu(self.ff1(self.norm2(h))))            # erf GELU
        s = torch.sqrt(h.pow(2).mean(dim=1) + 1e-3)                    # Pow, ReduceMean, Sqrt
        e = torch.log(torch.exp(-h.abs().amax(dim=1)) + 1.0)           # Exp, Log, ReduceMax
        w = torch.minimum(s, e * 3.0) - torch.maximum(s, e).sum(dim=1, keepdim=True) / 7.0
        return self.out(w).unsqueeze(1).squeeze(1)                     # Unsqueeze, Squeeze


def randomise_batchnorm(model, rng):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.from_numpy(rng.normal(0, 0.5, m.num_features).astype(np.float32)))
            m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 2.0, m.num_features).astype(np.float32)))
            m.weight.data.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, m.num_features).astype(np.float32)))
            m.bias.data.copy_(torch.from_numpy(rng.normal(0, 0.2, m.num_features).astype(np.float32)))


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    # vision keeps its BatchNormalization node (no constant folding), sequence is exported as usual.
    cases = [("vision", Vision(), (2, 3, 12, 12), True), ("sequence", Sequence(), (2, 4, 10), False)]
    for name, model, shape, no_fold in cases:
        with torch.no_grad():
            randomise_batchnorm(model, rng)
        model.eval()
        x = torch.from_numpy(rng.standard_normal(shape).astype(np.float32))
        base = os.path.join(out_dir, "zoo_" + name)
        export(model, x, base, opset=13, no_fold=no_fold)
        with torch.no_grad():
            y = model(x).numpy()
        np.save(base + ".input0.npy", x.numpy())
        np.save(base + ".output0.npy", y)
        print(base, tuple(y.shape))


if __name__ == "__main__":
    main()
