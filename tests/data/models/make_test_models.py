#!/usr/bin/python3
"""Generates the small hand-made ONNX test models of tests/unit/ir_onnx_test.cc.

Needs only the `onnx` package (Debian: python3-onnx).  Run from this directory:
    /usr/bin/python3 make_test_models.py
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, name):
    onnx.save(model, name)


def init(name, shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(dtype), name)


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


# 1. A variety of mappings and scoped names.
nodes = [
    helper.make_node("Conv", ["x", "layer1.0.conv1.weight"], ["/layer1/layer1.0/conv1/Conv_output_0"],
                     name="/layer1/layer1.0/conv1/Conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
    helper.make_node("Relu", ["/layer1/layer1.0/conv1/Conv_output_0"], ["r"], name="/layer1/layer1.0/relu/Relu"),
    helper.make_node("ConvTranspose", ["r", "onnx::ConvTranspose_7"], ["ct"], name="/up/ConvTranspose",
                     kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node("GlobalAveragePool", ["ct"], ["gap"], name="/pool/GlobalAveragePool"),
    helper.make_node("Flatten", ["gap"], ["flat"], name="/flatten/Flatten", axis=1),
    helper.make_node("MatMul", ["flat", "onnx::MatMul_20"], ["mm"], name="/head/MatMul"),
    helper.make_node("Constant", [], ["/head/Constant_output_0"], name="/head/Constant",
                     value=numpy_helper.from_array(np.ones((5,), np.float32))),
    helper.make_node("Add", ["mm", "/head/Constant_output_0"], ["lin"], name="/head/Add"),
    helper.make_node("Gemm", ["lin", "fc.weight", "fc.bias"], ["g"], name="/fc/Gemm", transB=0),
    helper.make_node("MatMul", ["g", "g2"], ["act_mm"], name="/attn/MatMul"),
    helper.make_node("Softmax", ["act_mm"], ["sm"], name="/attn/Softmax", axis=-1),
    helper.make_node("Concat", ["sm", "sm"], ["cat"], name="/cat/Concat", axis=1),
    helper.make_node("NonZero", ["cat"], ["nz"], name="/misc/NonZero"),
    helper.make_node("Gather", ["emb.weight", "ids"], ["e"], name="/emb/Gather"),
]
graph = helper.make_graph(
    nodes, "variety",
    [vi("x", ["N", 3, 8, 8]), vi("g2", [4, 4]), vi("ids", ["N", 7], TensorProto.INT64)],
    [vi("cat", None), vi("nz", None), vi("e", None)],
    [init("layer1.0.conv1.weight", (4, 3, 3, 3)), init("onnx::ConvTranspose_7", (4, 2, 2, 2), 1),
     init("onnx::MatMul_20", (2, 5), 2), init("fc.weight", (5, 4), 3), init("fc.bias", (4,), 4),
     init("emb.weight", (10, 6), 5)])
save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), "variety.onnx")

# 2. Structurally broken models.
def tiny(nodes, inits, name, inputs=None):
    g = helper.make_graph(nodes, name, inputs or [vi("x", [1, 4])], [vi("y", [1, 4])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])

save(tiny([helper.make_node("Add", ["x", "missing"], ["y"], name="add")], [], "dangling"), "dangling.onnx")
save(tiny([helper.make_node("Add", ["x", "b"], ["a"], name="add1"),
           helper.make_node("Relu", ["a"], ["b"], name="relu1"),
           helper.make_node("Identity", ["b"], ["y"], name="id")], [], "cycle"), "cycle.onnx")
ext = init("w", (4, 4))
ext.ClearField("raw_data")
ext.data_location = TensorProto.EXTERNAL
ext.external_data.add(key="location", value="w.bin")
save(tiny([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [ext], "external"), "external_data.onnx")
bad = init("w", (4, 4))
bad.dims[:] = [4, 1 << 40]
save(tiny([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [bad], "absurd"), "absurd_dims.onnx")
short = init("w", (4, 4))
short.raw_data = short.raw_data[:10]
save(tiny([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], [short], "short"), "short_data.onnx")
# 3. Two nodes with one name (op_name rules and explain --op become ambiguous).
save(tiny([helper.make_node("Relu", ["x"], ["a"], name="act"),
           helper.make_node("Relu", ["a"], ["y"], name="act")], [], "duplicate_names"), "duplicate_names.onnx")
print("ok")
