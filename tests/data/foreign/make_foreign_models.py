#!/usr/bin/python3
"""Writes small ONNX models that look like exports from toolchains other than PyTorch, with
inputs, numpy reference outputs and the facts a test checks (expected.json).

Needs only Debian's python3-onnx (1.12) and numpy.  Run from the repository root:
    /usr/bin/python3 tests/data/foreign/make_foreign_models.py
→ tests/data/foreign/{paddle_like,tf_like,constants,multi_input}.onnx, their .npy inputs and
  reference outputs, expected.json and README.md.  The output is byte-for-byte deterministic.

Why: every other test model comes from torch.onnx.export, whose conventions (weights are
initializers named `<module>.weight`, node names `/<module>/<Op>`, Gemm with transB=1, NCHW input)
qrules could silently depend on.  These models break those conventions the way other exporters do:

  paddle_like  Paddle2ONNX.  Parameters named `conv2d_0.w_0` / `conv2d_0.b_0`,
               `batch_norm2d_0.w_0|b_0|w_1|w_2` (scale, bias, mean, variance), `linear_0.w_0`
               stored [in, out] and applied by MatMul with the bias in a separate Add; a conv bias
               applied as Reshape + Add; a depthwise conv (group = channels); node names in the
               `conv2d_0.tmp_0` / `p2o.*` style, several of them EMPTY.
  tf_like      tf2onnx from a Keras Sequential.  NHWC input `input_1:0` followed by a Transpose to
               NCHW; parameters named `StatefulPartitionedCall/sequential/<layer>/<Op>/
               ReadVariableOp:0`; one conv weight reaching its Conv through an Identity; an
               asymmetric stride-2 "same" padding (pads [0,0,1,1]); a Transpose back to NHWC
               before Keras' Flatten (Reshape); one dense kernel stored [out, in] that reaches
               its MatMul through a Transpose(perm [1,0]); node names with slashes; a Softmax head.
  constants    Weights that are not plain initializers: a conv weight that is the output of an
               unnamed Constant node, a Gemm (transB=1) weight that is DequantizeLinear(int8
               initializer, float scale, int8 zero point) per tensor, and a MatMul weight that
               is Cast(to float) of a flat float initializer followed by a Reshape whose shape is
               an int64 initializer.  Clip (opset-13 min/max inputs) as ReLU6.
  multi_input  A tiny text classifier with three graph inputs of different dtypes:
               input_ids int64 [N,6], attention_mask int64 [N,6], features float [N,4];
               Gather embedding, mask via Cast + Unsqueeze (axes as an input, opset 13) + Mul,
               ReduceMean over the sequence, Concat with a MatMul + Add projection of features,
               Gemm to 3 logits.  Extra .npy files hold the same inputs in other dtypes (bool,
               uint8, int32, float16, float64) for the npy loader; the feature values are
               multiples of 1/16 in [-4, 4], exact in float16, so every variant gives the same
               output.

All models: opset 13, ir_version 7, symbolic batch dimension "N", batch 4 in the .npy inputs.
The reference outputs come from the small numpy interpreter below (float64 arithmetic, saved as
float32), not from qrules.  expected.json is derived from the graphs built here.
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
OPSET = 13
IR_VERSION = 7
BATCH = 4


# ---------------------------------------------------------------------------------------------
# Building helpers
# ---------------------------------------------------------------------------------------------

class Builder:
    """Collects initializers with seeded random values."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.inits = []

    def weight(self, name, shape, fan_in=None):
        fan_in = fan_in or int(np.prod(shape[1:]))
        a = self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        return self.add(name, a.astype(np.float32))

    def uniform(self, name, shape, lo, hi):
        return self.add(name, self.rng.uniform(lo, hi, shape).astype(np.float32))

    def add(self, name, array):
        self.inits.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name


def vi(name, elem_type, shape):
    return helper.make_tensor_value_info(name, elem_type, shape)


def node(op, inputs, outputs, name="", **attrs):
    return helper.make_node(op, inputs, outputs, name=name, **attrs)


def make_model(nodes, graph_name, inputs, outputs, inits, producer, producer_version):
    graph = helper.make_graph(nodes, graph_name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name=producer, producer_version=producer_version)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


# ---------------------------------------------------------------------------------------------
# 1. Paddle2ONNX-like CNN
# ---------------------------------------------------------------------------------------------

def build_paddle_like():
    b = Builder(101)
    b.weight("conv2d_0.w_0", (8, 3, 3, 3))
    b.uniform("conv2d_0.b_0", (8,), -0.1, 0.1)
    b.uniform("batch_norm2d_0.w_0", (8,), 0.5, 1.5)    # scale
    b.uniform("batch_norm2d_0.b_0", (8,), -0.2, 0.2)   # bias
    b.uniform("batch_norm2d_0.w_1", (8,), -0.3, 0.3)   # running mean
    b.uniform("batch_norm2d_0.w_2", (8,), 0.5, 2.0)    # running variance
    b.weight("conv2d_1.w_0", (8, 1, 3, 3))              # depthwise
    b.weight("conv2d_2.w_0", (16, 8, 1, 1))
    b.uniform("conv2d_2.b_0", (16,), -0.1, 0.1)
    b.add("p2o.helper.constant.0", np.array([1, 16, 1, 1], np.int64))
    b.weight("linear_0.w_0", (256, 24), fan_in=256)     # [in, out]
    b.uniform("linear_0.b_0", (24,), -0.1, 0.1)
    b.weight("linear_1.w_0", (24, 5), fan_in=24)        # [in, out]
    b.uniform("linear_1.b_0", (5,), -0.1, 0.1)
    nodes = [
        node("Conv", ["x", "conv2d_0.w_0", "conv2d_0.b_0"], ["conv2d_0.tmp_1"], "",
             dilations=[1, 1], group=1, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        node("BatchNormalization", ["conv2d_0.tmp_1", "batch_norm2d_0.w_0", "batch_norm2d_0.b_0",
                                    "batch_norm2d_0.w_1", "batch_norm2d_0.w_2"],
             ["batch_norm2d_0.tmp_2"], "p2o.BatchNormalization.0", epsilon=1e-5, momentum=0.9),
        node("Relu", ["batch_norm2d_0.tmp_2"], ["relu_0.tmp_0"], ""),
        node("MaxPool", ["relu_0.tmp_0"], ["pool2d_0.tmp_0"], "pool2d_0.tmp_0",
             kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
        node("Conv", ["pool2d_0.tmp_0", "conv2d_1.w_0"], ["conv2d_1.tmp_0"], "conv2d_1.tmp_0",
             dilations=[1, 1], group=8, kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]),
        node("Relu", ["conv2d_1.tmp_0"], ["relu_1.tmp_0"], "relu_1.tmp_0"),
        node("Conv", ["relu_1.tmp_0", "conv2d_2.w_0"], ["conv2d_2.tmp_0"], "",
             dilations=[1, 1], group=1, kernel_shape=[1, 1], pads=[0, 0, 0, 0], strides=[1, 1]),
        node("Reshape", ["conv2d_2.b_0", "p2o.helper.constant.0"], ["p2o.helper.reshape.0"], ""),
        node("Add", ["conv2d_2.tmp_0", "p2o.helper.reshape.0"], ["conv2d_2.tmp_1"], "p2o.Add.0"),
        node("Relu", ["conv2d_2.tmp_1"], ["relu_2.tmp_0"], ""),
        node("AveragePool", ["relu_2.tmp_0"], ["pool2d_1.tmp_0"], "p2o.AveragePool.0",
             kernel_shape=[2, 2], strides=[2, 2], pads=[0, 0, 0, 0]),
        node("Flatten", ["pool2d_1.tmp_0"], ["flatten_0.tmp_0"], "p2o.Flatten.0", axis=1),
        node("MatMul", ["flatten_0.tmp_0", "linear_0.w_0"], ["linear_0.tmp_0"], ""),
        node("Add", ["linear_0.tmp_0", "linear_0.b_0"], ["linear_0.tmp_1"], "linear_0.tmp_1"),
        node("Relu", ["linear_0.tmp_1"], ["relu_3.tmp_0"], "relu_3.tmp_0"),
        node("MatMul", ["relu_3.tmp_0", "linear_1.w_0"], ["linear_1.tmp_0"], "p2o.MatMul.1"),
        node("Add", ["linear_1.tmp_0", "linear_1.b_0"], ["save_infer_model/scale_0.tmp_0"], ""),
    ]
    model = make_model(nodes, "Model from PaddlePaddle.",
                       [vi("x", TensorProto.FLOAT, ["N", 3, 16, 16])],
                       [vi("save_infer_model/scale_0.tmp_0", TensorProto.FLOAT, ["N", 5])],
                       b.inits, "PaddlePaddle", "0.0.0")
    x = np.random.default_rng(1001).standard_normal((BATCH, 3, 16, 16)).astype(np.float32)
    return model, {"x": x}, {"x": "paddle_like.input0.npy"}


# ---------------------------------------------------------------------------------------------
# 2. tf2onnx-like Keras Sequential CNN
# ---------------------------------------------------------------------------------------------

def build_tf_like():
    p = "StatefulPartitionedCall/sequential/"
    b = Builder(202)
    b.weight(p + "conv2d/Conv2D/ReadVariableOp:0", (8, 3, 3, 3))
    b.uniform(p + "conv2d/BiasAdd/ReadVariableOp:0", (8,), -0.1, 0.1)
    b.weight(p + "conv2d_1/Conv2D/ReadVariableOp:0", (12, 8, 3, 3))
    b.uniform(p + "conv2d_1/BiasAdd/ReadVariableOp:0", (12,), -0.1, 0.1)
    b.add(p + "flatten/Const:0", np.array([-1, 192], np.int64))
    b.weight(p + "dense/MatMul/ReadVariableOp:0", (192, 32), fan_in=192)  # [in, out]
    b.uniform(p + "dense/BiasAdd/ReadVariableOp:0", (32,), -0.1, 0.1)
    b.weight(p + "dense_1/MatMul/ReadVariableOp:0", (5, 32), fan_in=32)   # stored [out, in]
    b.uniform(p + "dense_1/BiasAdd/ReadVariableOp:0", (5,), -0.1, 0.1)
    nodes = [
        node("Transpose", ["input_1:0"], [p + "conv2d/BiasAdd__6:0"], p + "conv2d/BiasAdd__6",
             perm=[0, 3, 1, 2]),
        node("Conv", [p + "conv2d/BiasAdd__6:0", p + "conv2d/Conv2D/ReadVariableOp:0",
                      p + "conv2d/BiasAdd/ReadVariableOp:0"],
             [p + "conv2d/BiasAdd:0"], p + "conv2d/BiasAdd",
             dilations=[1, 1], strides=[1, 1], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=1),
        node("Relu", [p + "conv2d/BiasAdd:0"], [p + "conv2d/Relu:0"], p + "conv2d/Relu"),
        node("Identity", [p + "conv2d_1/Conv2D/ReadVariableOp:0"],
             [p + "conv2d_1/Conv2D/ReadVariableOp/Identity:0"],
             p + "conv2d_1/Conv2D/ReadVariableOp/Identity"),
        # Keras padding="same", stride 2 on 16x16: TF pads 0 before, 1 after.
        node("Conv", [p + "conv2d/Relu:0", p + "conv2d_1/Conv2D/ReadVariableOp/Identity:0",
                      p + "conv2d_1/BiasAdd/ReadVariableOp:0"],
             [p + "conv2d_1/BiasAdd:0"], p + "conv2d_1/BiasAdd",
             dilations=[1, 1], strides=[2, 2], kernel_shape=[3, 3], pads=[0, 0, 1, 1], group=1),
        node("Relu", [p + "conv2d_1/BiasAdd:0"], [p + "conv2d_1/Relu:0"], p + "conv2d_1/Relu"),
        node("MaxPool", [p + "conv2d_1/Relu:0"], [p + "max_pooling2d/MaxPool:0"],
             p + "max_pooling2d/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        node("Transpose", [p + "max_pooling2d/MaxPool:0"], [p + "max_pooling2d/MaxPool__20:0"],
             p + "max_pooling2d/MaxPool__20", perm=[0, 2, 3, 1]),
        node("Reshape", [p + "max_pooling2d/MaxPool__20:0", p + "flatten/Const:0"],
             [p + "flatten/Reshape:0"], p + "flatten/Reshape"),
        node("MatMul", [p + "flatten/Reshape:0", p + "dense/MatMul/ReadVariableOp:0"],
             [p + "dense/MatMul:0"], p + "dense/MatMul"),
        node("Add", [p + "dense/MatMul:0", p + "dense/BiasAdd/ReadVariableOp:0"],
             [p + "dense/BiasAdd:0"], p + "dense/BiasAdd"),
        node("Relu", [p + "dense/BiasAdd:0"], [p + "dense/Relu:0"], p + "dense/Relu"),
        node("Transpose", [p + "dense_1/MatMul/ReadVariableOp:0"],
             [p + "dense_1/MatMul/ReadVariableOp__transpose:0"],
             p + "dense_1/MatMul/ReadVariableOp__transpose", perm=[1, 0]),
        node("MatMul", [p + "dense/Relu:0", p + "dense_1/MatMul/ReadVariableOp__transpose:0"],
             [p + "dense_1/MatMul:0"], p + "dense_1/MatMul"),
        node("Add", [p + "dense_1/MatMul:0", p + "dense_1/BiasAdd/ReadVariableOp:0"],
             [p + "dense_1/BiasAdd:0"], p + "dense_1/BiasAdd"),
        node("Softmax", [p + "dense_1/BiasAdd:0"], ["dense_1"], p + "dense_1/Softmax", axis=-1),
    ]
    model = make_model(nodes, "tf2onnx",
                       [vi("input_1:0", TensorProto.FLOAT, ["N", 16, 16, 3])],
                       [vi("dense_1", TensorProto.FLOAT, ["N", 5])],
                       b.inits, "tf2onnx", "1.9.3 1190aa")
    x = np.random.default_rng(2002).standard_normal((BATCH, 16, 16, 3)).astype(np.float32)
    return model, {"input_1:0": x}, {"input_1:0": "tf_like.input0.npy"}


# ---------------------------------------------------------------------------------------------
# 3. Weights that are not plain initializers
# ---------------------------------------------------------------------------------------------

def build_constants():
    b = Builder(303)
    conv_w = (b.rng.standard_normal((6, 3, 3, 3)) * np.sqrt(2.0 / 27)).astype(np.float32)
    b.uniform("conv.bias", (6,), -0.1, 0.1)
    b.add("clip.min", np.array(0.0, np.float32))
    b.add("clip.max", np.array(6.0, np.float32))
    # Per-tensor int8 weight [out=10, in=6] with a non-zero zero point.
    b.add("fc.weight_quantized", b.rng.integers(-100, 101, (10, 6)).astype(np.int8))
    b.add("fc.weight_scale", np.array(0.0078125, np.float32))
    b.add("fc.weight_zero_point", np.array(3, np.int8))
    b.uniform("fc.bias", (10,), -0.1, 0.1)
    b.add("proj.weight_flat", (b.rng.standard_normal(40) * np.sqrt(2.0 / 10)).astype(np.float32))
    b.add("proj.weight_shape", np.array([10, 4], np.int64))
    b.uniform("proj.bias", (4,), -0.1, 0.1)
    nodes = [
        node("Constant", [], ["const_0"], "", value=numpy_helper.from_array(conv_w, "const_0")),
        node("Conv", ["x", "const_0", "conv.bias"], ["conv_out"], "conv",
             kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1], group=1),
        node("Clip", ["conv_out", "clip.min", "clip.max"], ["relu6_out"], "relu6"),
        node("GlobalAveragePool", ["relu6_out"], ["gap_out"], "gap"),
        node("Flatten", ["gap_out"], ["flat"], "flatten", axis=1),
        node("DequantizeLinear", ["fc.weight_quantized", "fc.weight_scale", "fc.weight_zero_point"],
             ["fc.weight_dequantized"], "fc.weight_dequantize"),
        node("Gemm", ["flat", "fc.weight_dequantized", "fc.bias"], ["fc_out"], "fc",
             alpha=1.0, beta=1.0, transB=1),
        node("Tanh", ["fc_out"], ["fc_act"], "fc_tanh"),
        node("Cast", ["proj.weight_flat"], ["proj.weight_cast"], "proj.weight_cast",
             to=TensorProto.FLOAT),
        node("Reshape", ["proj.weight_cast", "proj.weight_shape"], ["proj.weight"],
             "proj.weight_reshape"),
        node("MatMul", ["fc_act", "proj.weight"], ["proj_mm"], "proj"),
        node("Add", ["proj_mm", "proj.bias"], ["y"], "proj_bias"),
    ]
    model = make_model(nodes, "constants",
                       [vi("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                       [vi("y", TensorProto.FLOAT, ["N", 4])],
                       b.inits, "qrules-tests", "1")
    x = np.random.default_rng(3003).standard_normal((BATCH, 3, 8, 8)).astype(np.float32)
    return model, {"x": x}, {"x": "constants.input0.npy"}


# ---------------------------------------------------------------------------------------------
# 4. Three inputs of three dtypes
# ---------------------------------------------------------------------------------------------

def build_multi_input():
    b = Builder(404)
    b.add("embeddings.word_embeddings.weight",
          (b.rng.standard_normal((20, 8)) * 0.5).astype(np.float32))
    b.add("mask_unsqueeze_axes", np.array([2], np.int64))
    b.weight("features_proj.weight", (4, 8), fan_in=4)   # [in, out]
    b.uniform("features_proj.bias", (8,), -0.1, 0.1)
    b.weight("classifier.weight", (3, 16), fan_in=16)    # [out, in], Gemm transB=1
    b.uniform("classifier.bias", (3,), -0.1, 0.1)
    nodes = [
        node("Gather", ["embeddings.word_embeddings.weight", "input_ids"], ["token_embeddings"],
             "embeddings/Gather", axis=0),
        node("Cast", ["attention_mask"], ["mask_float"], "mask/Cast", to=TensorProto.FLOAT),
        node("Unsqueeze", ["mask_float", "mask_unsqueeze_axes"], ["mask_3d"], "mask/Unsqueeze"),
        node("Mul", ["token_embeddings", "mask_3d"], ["masked_embeddings"], "mask/Mul"),
        node("ReduceMean", ["masked_embeddings"], ["pooled"], "pool/ReduceMean",
             axes=[1], keepdims=0),
        node("MatMul", ["features", "features_proj.weight"], ["features_mm"],
             "features_proj/MatMul"),
        node("Add", ["features_mm", "features_proj.bias"], ["features_lin"], "features_proj/Add"),
        node("Relu", ["features_lin"], ["features_act"], "features_proj/Relu"),
        node("Concat", ["pooled", "features_act"], ["joined"], "concat/Concat", axis=1),
        node("Gemm", ["joined", "classifier.weight", "classifier.bias"], ["logits"],
             "classifier/Gemm", alpha=1.0, beta=1.0, transB=1),
    ]
    model = make_model(nodes, "multi_input",
                       [vi("input_ids", TensorProto.INT64, ["N", 6]),
                        vi("attention_mask", TensorProto.INT64, ["N", 6]),
                        vi("features", TensorProto.FLOAT, ["N", 4])],
                       [vi("logits", TensorProto.FLOAT, ["N", 3])],
                       b.inits, "qrules-tests", "1")
    rng = np.random.default_rng(4004)
    lengths = np.array([6, 4, 2, 5])
    mask = (np.arange(6)[None, :] < lengths[:, None]).astype(np.int64)
    ids = rng.integers(1, 20, (BATCH, 6)).astype(np.int64) * mask   # padding id 0
    features = (rng.integers(-64, 65, (BATCH, 4)) / 16.0).astype(np.float32)
    feeds = {"input_ids": ids, "attention_mask": mask, "features": features}
    files = {"input_ids": "multi_input.input_ids.npy",
             "attention_mask": "multi_input.attention_mask.npy",
             "features": "multi_input.features.npy"}
    variants = {
        "multi_input.attention_mask.bool.npy": mask.astype(np.bool_),
        "multi_input.attention_mask.uint8.npy": mask.astype(np.uint8),
        "multi_input.input_ids.int32.npy": ids.astype(np.int32),
        "multi_input.features.float16.npy": features.astype(np.float16),
        "multi_input.features.float64.npy": features.astype(np.float64),
    }
    for arr in variants.values():   # every variant holds exactly the same values
        same = feeds_value_for(arr, feeds).astype(np.float64)
        assert np.array_equal(arr.astype(np.float64), same)
    return model, feeds, files, variants


def feeds_value_for(arr, feeds):
    if arr.dtype in (np.bool_, np.uint8):
        return feeds["attention_mask"]
    if arr.dtype == np.int32:
        return feeds["input_ids"]
    return feeds["features"]


# ---------------------------------------------------------------------------------------------
# Reference interpreter (numpy, float64), for exactly the ops used above and a few more
# ---------------------------------------------------------------------------------------------

ONNX_TO_NP = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64,
              TensorProto.FLOAT16: np.float16, TensorProto.INT64: np.int64,
              TensorProto.INT32: np.int32, TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8,
              TensorProto.BOOL: np.bool_}


def attrs_of(n):
    return {a.name: helper.get_attribute_value(a) for a in n.attribute}


def as_compute(a):
    """Floats are carried in float64; integers stay integers."""
    return a.astype(np.float64) if np.issubdtype(a.dtype, np.floating) else a


def spatial_pads(at, in_spatial, kernel, strides, dilations):
    k = len(kernel)
    auto_pad = at.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for i in range(k):
            out = -(-in_spatial[i] // strides[i])
            span = (out - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1
            total = max(span - in_spatial[i], 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto_pad == "SAME_UPPER" else big)
            end.append(big if auto_pad == "SAME_UPPER" else small)
        return begin, end
    if auto_pad == "VALID":
        return [0] * k, [0] * k
    pads = list(at.get("pads", [0] * (2 * k)))
    return pads[:k], pads[k:]


def conv2d(x, w, bias, at):
    n, c, h, wd = x.shape
    oc, icg, kh, kw = w.shape
    group = at.get("group", 1)
    strides = list(at.get("strides", [1, 1]))
    dil = list(at.get("dilations", [1, 1]))
    begin, end = spatial_pads(at, (h, wd), (kh, kw), strides, dil)
    xp = np.pad(x, ((0, 0), (0, 0), (begin[0], end[0]), (begin[1], end[1])))
    oh = (xp.shape[2] - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (xp.shape[3] - dil[1] * (kw - 1) - 1) // strides[1] + 1
    assert c == icg * group and oc % group == 0
    ocg = oc // group
    y = np.zeros((n, oc, oh, ow))
    for g in range(group):
        xs = xp[:, g * icg:(g + 1) * icg]
        ws = w[g * ocg:(g + 1) * ocg]
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dil[0], j * dil[1]
                patch = xs[:, :, r0:r0 + strides[0] * (oh - 1) + 1:strides[0],
                           c0:c0 + strides[1] * (ow - 1) + 1:strides[1]]
                y[:, g * ocg:(g + 1) * ocg] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if bias is not None:
        y += bias[None, :, None, None]
    return y


def pool2d(x, at, kind):
    kh, kw = at["kernel_shape"]
    strides = list(at.get("strides", [1, 1]))
    begin, end = spatial_pads(at, x.shape[2:], (kh, kw), strides, [1, 1])
    assert at.get("ceil_mode", 0) == 0
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (begin[0], end[0]), (begin[1], end[1])), constant_values=fill)
    ones = np.pad(np.ones(x.shape[2:]), ((begin[0], end[0]), (begin[1], end[1])))
    oh = (xp.shape[2] - kh) // strides[0] + 1
    ow = (xp.shape[3] - kw) // strides[1] + 1
    y = np.empty(x.shape[:2] + (oh, ow))
    for r in range(oh):
        for c in range(ow):
            rs, cs = r * strides[0], c * strides[1]
            win = xp[:, :, rs:rs + kh, cs:cs + kw]
            if kind == "max":
                y[:, :, r, c] = win.max(axis=(2, 3))
            else:
                count = kh * kw if at.get("count_include_pad", 0) else \
                    ones[rs:rs + kh, cs:cs + kw].sum()
                y[:, :, r, c] = win.sum(axis=(2, 3)) / count
    return y


def run_node(n, ins):
    at = attrs_of(n)
    op = n.op_type
    x = ins[0] if ins else None
    if op == "Constant":
        return as_compute(numpy_helper.to_array(at["value"]))
    if op == "Identity":
        return x
    if op == "Cast":
        return as_compute(x.astype(ONNX_TO_NP[at["to"]]))
    if op == "DequantizeLinear":
        zp = ins[2] if len(ins) > 2 else np.zeros((), x.dtype)
        assert ins[1].ndim == 0 and zp.ndim == 0, "per-tensor only"
        return (x.astype(np.float64) - zp.astype(np.float64)) * ins[1]
    if op == "Reshape":
        shape = [x.shape[i] if s == 0 else int(s) for i, s in enumerate(ins[1])]
        return x.reshape(shape)
    if op == "Transpose":
        return np.transpose(x, at.get("perm", list(range(x.ndim))[::-1]))
    if op == "Unsqueeze":
        y = x
        for a in sorted(int(a) % (x.ndim + len(ins[1])) for a in ins[1]):
            y = np.expand_dims(y, a)
        return y
    if op == "Squeeze":
        if len(ins) > 1:
            return np.squeeze(x, axis=tuple(int(a) for a in ins[1]))
        return np.squeeze(x)
    if op == "Flatten":
        axis = at.get("axis", 1) % x.ndim if x.ndim else 0
        return x.reshape(int(np.prod(x.shape[:axis])), -1)
    if op == "Concat":
        return np.concatenate(ins, axis=at["axis"])
    if op == "Gather":
        return np.take(x, ins[1], axis=at.get("axis", 0))
    if op in ("Add", "Mul", "Sub", "Div"):
        fn = {"Add": np.add, "Mul": np.multiply, "Sub": np.subtract, "Div": np.divide}[op]
        return fn(ins[0], ins[1])
    if op == "Relu":
        return np.maximum(x, 0)
    if op == "Sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if op == "Tanh":
        return np.tanh(x)
    if op == "Clip":
        lo = ins[1] if len(ins) > 1 and ins[1] is not None else -np.inf
        hi = ins[2] if len(ins) > 2 and ins[2] is not None else np.inf
        return np.minimum(np.maximum(x, lo), hi)
    if op == "Softmax":
        e = np.exp(x - x.max(axis=at.get("axis", -1), keepdims=True))
        return e / e.sum(axis=at.get("axis", -1), keepdims=True)
    if op == "ReduceMean":
        axes = tuple(at["axes"]) if "axes" in at else tuple(range(x.ndim))
        return x.mean(axis=axes, keepdims=bool(at.get("keepdims", 1)))
    if op == "MatMul":
        return np.matmul(ins[0], ins[1])
    if op == "Gemm":
        a = ins[0].T if at.get("transA", 0) else ins[0]
        bm = ins[1].T if at.get("transB", 0) else ins[1]
        y = at.get("alpha", 1.0) * (a @ bm)
        if len(ins) > 2:
            y = y + at.get("beta", 1.0) * ins[2]
        return y
    if op == "Conv":
        return conv2d(x, ins[1], ins[2] if len(ins) > 2 else None, at)
    if op == "BatchNormalization":
        scale, bias, mean, var = (t[None, :, None, None] for t in ins[1:5])
        return (x - mean) / np.sqrt(var + at.get("epsilon", 1e-5)) * scale + bias
    if op == "MaxPool":
        return pool2d(x, at, "max")
    if op == "AveragePool":
        return pool2d(x, at, "avg")
    if op == "GlobalAveragePool":
        return x.mean(axis=(2, 3), keepdims=True)
    raise NotImplementedError(op)


def evaluate(model, feeds):
    """Runs the (topologically sorted) graph; returns every value by name."""
    g = model.graph
    env = {i.name: as_compute(numpy_helper.to_array(i)) for i in g.initializer}
    for name, arr in feeds.items():
        env[name] = as_compute(arr)
    for n in g.node:
        ins = [env[i] if i else None for i in n.input]
        env[n.output[0]] = run_node(n, ins)
    return env


# ---------------------------------------------------------------------------------------------
# Facts for expected.json, read off the graph
# ---------------------------------------------------------------------------------------------

CHAIN_OPS = {"Identity", "Cast", "Reshape", "Transpose", "DequantizeLinear", "Squeeze", "Unsqueeze"}
WEIGHT_OPS = {"Conv", "Gemm", "MatMul"}
DTYPE_NAMES = {TensorProto.FLOAT: "float32", TensorProto.INT64: "int64",
               TensorProto.INT32: "int32", TensorProto.FLOAT16: "float16"}


def trace_constant(model, value):
    """Follows `value` back through CHAIN_OPS to an initializer or a Constant output.
    Returns (source, source_kind, chain op types source-first, chain node names) or None."""
    inits = {i.name for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    chain = []
    while True:
        if value in inits:
            return value, "initializer", [n.op_type for n in reversed(chain)], \
                [n.name for n in reversed(chain)]
        n = producer.get(value)
        if n is None:
            return None   # a graph input
        if n.op_type == "Constant":
            return value, "Constant", [c.op_type for c in reversed(chain)], \
                [c.name for c in reversed(chain)]
        if n.op_type not in CHAIN_OPS:
            return None
        # The other inputs (shape, scale, zero point, axes) must be constant too.
        if any(trace_constant(model, i) is None for i in n.input[1:] if i):
            return None
        chain.append(n)
        value = n.input[0]


def weight_facts(model, env):
    weights = []
    for n in model.graph.node:
        if n.op_type not in WEIGHT_OPS or len(n.input) < 2:
            continue
        traced = trace_constant(model, n.input[1])
        if traced is None:
            continue
        source, kind, chain, chain_nodes = traced
        at = attrs_of(n)
        if n.op_type == "Conv":
            out_axis = 0
        elif n.op_type == "Gemm":
            out_axis = 0 if at.get("transB", 0) else 1
        else:
            out_axis = 1
        entry = {
            "node": n.name,
            "op_type": n.op_type,
            "weight_input": n.input[1],
            "weight_source": source,
            "source_kind": kind,
            "chain": chain,
            "chain_nodes": chain_nodes,
            "stored_shape": list(env[source].shape),
            "stored_shape_at_op": list(env[n.input[1]].shape),
            "out_features_axis": out_axis,
            "bias": n.input[2] if n.op_type in ("Conv", "Gemm") and len(n.input) > 2 else None,
        }
        if n.op_type == "Conv":
            entry["group"] = at.get("group", 1)
        if n.op_type == "Gemm":
            entry["transB"] = at.get("transB", 0)
        weights.append(entry)
    return weights


def embedding_facts(model):
    out = []
    for n in model.graph.node:
        if n.op_type == "Gather" and trace_constant(model, n.input[0]) is not None:
            out.append({"node": n.name, "table": n.input[0], "indices": n.input[1]})
    return out


def value_info_facts(values):
    return [{"name": v.name, "dtype": DTYPE_NAMES[v.type.tensor_type.elem_type],
             "shape": [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]}
            for v in values]


# ---------------------------------------------------------------------------------------------

README = """\
# Foreign-exporter test models

Generated by `make_foreign_models.py` (run `/usr/bin/python3 tests/data/foreign/make_foreign_models.py`
from the repository root; the output is deterministic).  Every other test model comes from
`torch.onnx.export`; these imitate other toolchains so that qrules is not tested only on PyTorch's
conventions.  All are opset 13, ir_version 7, batch dimension `N`; the `.npy` inputs have batch 4 and
`NAME.output0.npy` is a float32 reference computed by the generator's own numpy interpreter (float64
arithmetic), not by qrules.  `expected.json` lists, per model, the graph inputs/outputs, the input and
reference files, and every Conv/Gemm/MatMul whose input 1 is constant (an initializer, a `Constant`,
or a chain of Identity/Cast/Reshape/Transpose/DequantizeLinear over constants): node name (`""` when
empty), op type, the source constant, the chain (source first), the weight's shape as stored and as
the op receives it, and which axis of the latter holds the output features.

For every model a test should check that, under `rules/w8a8.qrules` and **without a module map**,
each weight listed in `expected.json` (`weight_count` of them) gets `op_state { weight: ... }` while
biases stay float, and that the float executor reproduces `NAME.output0.npy`.  Gather tables are
listed apart, under `embeddings`; they are not Conv/Gemm/MatMul weights.

- **paddle_like.onnx** imitates Paddle2ONNX: parameters `conv2d_0.w_0`/`conv2d_0.b_0`,
  `batch_norm2d_0.w_0|b_0|w_1|w_2` (scale, bias, mean, variance), `linear_N.w_0` stored `[in, out]`
  for MatMul with the bias `linear_N.b_0` in a separate Add, a conv bias applied as Reshape + Add, a
  depthwise conv (group 8), and node names in the `conv2d_0.tmp_0` / `p2o.*` style with several left
  empty.  A test checks that weights of unnamed nodes (three of the five) are still found, and
  that MatMul weights use axis 1 as the output axis.
- **tf_like.onnx** imitates tf2onnx from a Keras Sequential: NHWC input `input_1:0` transposed to
  NCHW, `StatefulPartitionedCall/sequential/.../ReadVariableOp:0` parameter names, a conv weight that
  reaches its Conv through an Identity, asymmetric "same" padding on a stride-2 conv (`pads [0,0,1,1]`),
  a Transpose back to NHWC before the Flatten-as-Reshape, and a dense kernel stored `[out, in]` that
  reaches MatMul through `Transpose(perm [1,0])`, so as the MatMul receives it the output axis is 1 but
  in the stored initializer it is 0.  A test checks names with `/` and `:` survive, and the chains.
- **constants.onnx** holds weights that are not plain initializers: a conv weight from an unnamed
  `Constant` node, a Gemm (`transB=1`) weight from `DequantizeLinear(int8, scale, zero point)` per
  tensor, and a MatMul weight from `Cast` + `Reshape` (int64 shape initializer) of a flat float
  initializer.  A test checks all three are recognised as weights.
- **multi_input.onnx** is a tiny text classifier with three inputs: `input_ids` int64 `[N,6]`,
  `attention_mask` int64 `[N,6]`, `features` float `[N,4]` (files `multi_input.<input>.npy`).  A test
  checks feeding several inputs by name, that the Gather table is an embedding and not a linear
  weight, and npy dtype conversion: `multi_input.attention_mask.bool.npy`, `.uint8.npy`,
  `multi_input.input_ids.int32.npy`, `multi_input.features.float16.npy` and `.float64.npy` hold the
  same values (the features are multiples of 1/16, exact in float16), so feeding any of them must
  give the same `multi_input.output0.npy`.
"""


def main():
    expected = {"generator": "make_foreign_models.py", "opset": OPSET, "ir_version": IR_VERSION,
                "models": {}}
    builds = [("paddle_like", build_paddle_like), ("tf_like", build_tf_like),
              ("constants", build_constants), ("multi_input", build_multi_input)]
    for name, build in builds:
        result = build()
        model, feeds, files = result[:3]
        variants = result[3] if len(result) > 3 else {}
        env = evaluate(model, feeds)
        out_name = model.graph.output[0].name
        out = env[out_name].astype(np.float32)
        assert np.all(np.isfinite(out)) and np.ptp(out) > 0, name
        assert out.shape[0] == BATCH

        path = os.path.join(OUT_DIR, name + ".onnx")
        onnx.save(model, path)
        size = os.path.getsize(path)
        assert size < 60 * 1024, (name, size)
        for value, fname in files.items():
            np.save(os.path.join(OUT_DIR, fname), feeds[value])
        for fname, arr in variants.items():
            np.save(os.path.join(OUT_DIR, fname), arr)
        np.save(os.path.join(OUT_DIR, name + ".output0.npy"), out)

        weights = weight_facts(model, env)
        expected["models"][name] = {
            "file": name + ".onnx",
            "producer_name": model.producer_name,
            "graph_inputs": value_info_facts(model.graph.input),
            "graph_outputs": value_info_facts(model.graph.output),
            "input_files": files,
            "input_variant_files": {f: str(a.dtype) for f, a in variants.items()},
            "output_file": name + ".output0.npy",
            "output_shape": list(out.shape),
            "node_count": len(model.graph.node),
            "unnamed_node_count": sum(1 for n in model.graph.node if not n.name),
            "weight_count": len(weights),
            "weights": weights,
            "embeddings": embedding_facts(model),
        }
        print(f"{name}.onnx: {size} bytes, {len(weights)} weights, output {list(out.shape)}")

    with open(os.path.join(OUT_DIR, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    with open(os.path.join(OUT_DIR, "README.md"), "w") as f:
        f.write(README)


if __name__ == "__main__":
    main()
