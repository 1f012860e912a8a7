#!/usr/bin/python3
"""Writes the executor benchmark's larger ONNX models (random weights, dynamic batch dim N):

  resnet18.onnx          ResNet-18 as PyTorch exports it in eval mode (BatchNorm folded into the
                         convs), input [N,3,224,224], 1000 classes.  ~1.8 GFLOP per image.
  transformer_block.onnx one pre-LN transformer encoder block as PyTorch (opset 17) exports it:
                         LayerNormalization, MatMul+Add, the Shape->Gather->Unsqueeze->Concat->
                         Reshape chains for heads, Softmax attention, erf-GELU MLP; input
                         [N,128,256], 4 heads, MLP 1024.

Needs only Debian's python3-onnx and python3-numpy.  Usage: make_bench_models.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(6)
inits = []
nodes = []
counter = [0]


def name(prefix):
    counter[0] += 1
    return f"{prefix}_{counter[0]}"


def const(arr, prefix="c"):
    n = name(prefix)
    inits.append(numpy_helper.from_array(np.asarray(arr), n))
    return n


def node(op, inputs, prefix=None, **attrs):
    out = name(prefix or op.lower())
    nodes.append(helper.make_node(op, inputs, [out], name="/" + out + "/" + op, **attrs))
    return out


def conv(x, cin, cout, k, stride, pad):
    w = const((rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32), "w")
    b = const((rng.standard_normal(cout) * 0.01).astype(np.float32), "b")
    return node("Conv", [x, w, b], kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)


def resnet18():
    x = "input"
    y = node("Relu", [conv(x, 3, 64, 7, 2, 3)])
    y = node("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for blk in range(2):
            s = stride if blk == 0 else 1
            h = node("Relu", [conv(y, cin, cout, 3, s, 1)])
            h = conv(h, cout, cout, 3, 1, 1)
            short = conv(y, cin, cout, 1, s, 0) if (s != 1 or cin != cout) else y
            y = node("Relu", [node("Add", [h, short])])
            cin = cout
    y = node("GlobalAveragePool", [y])
    y = node("Flatten", [y], axis=1)
    w = const((rng.standard_normal((1000, 512)) * 0.03).astype(np.float32), "fc_w")
    b = const(np.zeros(1000, np.float32), "fc_b")
    y = node("Gemm", [y, w, b], alpha=1.0, beta=1.0, transB=1)
    return y, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 224, 224])], ["N", 1000]


def linear(x, din, dout):
    w = const((rng.standard_normal((din, dout)) / np.sqrt(din)).astype(np.float32), "w")
    b = const((rng.standard_normal(dout) * 0.01).astype(np.float32), "b")
    return node("Add", [node("MatMul", [x, w]), b])


def layer_norm(x, d):
    g = const(np.ones(d, np.float32), "ln_g")
    b = const(np.zeros(d, np.float32), "ln_b")
    return node("LayerNormalization", [x, g, b], axis=-1, epsilon=1e-5)


def dim(x, i):
    """Shape(x)[i] as a 1-element int64 tensor, the way PyTorch exports x.size(i)."""
    s = node("Shape", [x])
    g = node("Gather", [s, const(np.array(i, np.int64), "idx")], axis=0)
    return node("Unsqueeze", [g, const(np.array([0], np.int64), "axes")])


def transformer_block(seq=128, d=256, heads=4, mlp=1024):
    x = "input"
    dh = d // heads
    h = layer_norm(x, d)
    n = dim(h, 0)
    t = dim(h, 1)
    split_shape = node("Concat", [n, t, const(np.array([heads], np.int64)), const(np.array([dh], np.int64))], axis=0)

    def heads_of(v, perm):
        return node("Transpose", [node("Reshape", [v, split_shape])], perm=perm)

    q = heads_of(linear(h, d, d), [0, 2, 1, 3])
    k = heads_of(linear(h, d, d), [0, 2, 3, 1])
    v = heads_of(linear(h, d, d), [0, 2, 1, 3])
    s = node("Div", [node("MatMul", [q, k]), const(np.array(np.sqrt(dh), np.float32))])
    p = node("Softmax", [s], axis=-1)
    o = node("Transpose", [node("MatMul", [p, v])], perm=[0, 2, 1, 3])
    merge_shape = node("Concat", [n, t, const(np.array([d], np.int64))], axis=0)
    o = node("Reshape", [o, merge_shape])
    x1 = node("Add", [x, linear(o, d, d)])
    h2 = linear(layer_norm(x1, d), d, mlp)
    # GELU as PyTorch exports it below opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))
    e = node("Erf", [node("Div", [h2, const(np.array(np.sqrt(2.0), np.float32))])])
    g = node("Mul", [node("Mul", [h2, node("Add", [e, const(np.array(1.0, np.float32))])]),
                     const(np.array(0.5, np.float32))])
    y = node("Add", [x1, linear(g, mlp, d)])
    return y, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", seq, d])], ["N", seq, d]


def save(path, build):
    inits.clear()
    nodes.clear()
    y, inputs, out_shape = build()
    nodes.append(helper.make_node("Identity", [y], ["output"], name="/output/Identity"))
    graph = helper.make_graph(nodes, os.path.basename(path), inputs,
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="qrules-bench")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(out, exist_ok=True)
    save(os.path.join(out, "resnet18.onnx"), resnet18)
    save(os.path.join(out, "transformer_block.onnx"), transformer_block)
    print("wrote", out)
