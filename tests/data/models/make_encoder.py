#!/usr/bin/python3
"""Exports a two-layer torch.nn.TransformerEncoder (d_model 16, 2 heads, batch_first) with a
final LayerNorm and a Linear head, as PyTorch's exporter writes it, with its module map: the model
examples/transformer_boundary.qrules is written for.  MultiheadAttention's packed in_proj_weight
does not survive the export (it becomes three sliced, transposed MatMul weights), and its
out_proj runs functionally inside the attention module's scope.

Needs Debian's python3-torch and python3-onnx.  Run from the repository root:
    /usr/bin/python3 tests/data/models/make_encoder.py
→ tests/data/models/zoo_encoder.onnx, .modules.json, .input0.npy, .output0.npy
"""
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "tools"))
from export_torch import export  # noqa: E402


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2, norm=nn.LayerNorm(16),
                                             enable_nested_tensor=False)
        self.head = nn.Linear(16, 4)

    def forward(self, x):
        return self.head(self.encoder(x))


def main():
    torch.manual_seed(0)
    model = Encoder().eval()
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zoo_encoder")
    x = torch.randn(2, 5, 16)
    export(model, x[:1], out)
    with torch.no_grad():
        y = model(x)
    np.save(out + ".input0.npy", x.numpy())
    np.save(out + ".output0.npy", y.numpy())


if __name__ == "__main__":
    main()
