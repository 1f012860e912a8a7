#!/usr/bin/python3
"""Writes the small crafted bad inputs of tests/hostile.cmake (the large ones are made at test
time by tests/hostile/make_inputs.sh).  Needs python3-onnx and numpy.  Run from this directory:
    /usr/bin/python3 make_hostile.py
"""
import json

import numpy as np
import onnx
from onnx import TensorProto, helper


def model(nodes, inputs, outputs, name):
    g = helper.make_graph(nodes, name, inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    return m


x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
# A graph that returns nothing.
onnx.save(model([helper.make_node("Relu", ["x"], ["y"], name="r")], [x], [], "no_outputs"), "no_outputs.onnx")
# An int64 output, where --labels expects logits.
onnx.save(model([helper.make_node("Cast", ["x"], ["y"], name="c", to=TensorProto.INT64)], [x],
                [helper.make_tensor_value_info("y", TensorProto.INT64, ["N", 4])], "int_output"), "int_output.onnx")
# Node and tensor names that are not UTF-8 (protobuf strings are bytes on the wire).
m = model([helper.make_node("Relu", ["x"], ["yZZ"], name="rZZ"), helper.make_node("Relu", ["yZZ"], ["y"], name="s")],
          [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], "bad_utf8")
open("bad_utf8_names.onnx", "wb").write(m.SerializeToString().replace(b"ZZ", b"\xff\xfe"))
np.save("x4.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
np.save("nan4.npy", np.full((3, 4), np.nan, np.float32))
np.save("zero_samples.npy", np.zeros((0, 4), np.float32))
np.save("labels3.npy", np.array([0, 1, 2], np.int64))
# A plan whose JSON has a number past double.
open("big_number_plan.json", "w").write('{"ops": [{"name": "a", "tensors": [{"role": "input", "key": 1e999}]}]}\n')
# A module map for another model: nodes this one does not have.
json.dump({"modules": {"": "a.Net", "fc9": "torch.nn.Linear"}, "nodes": {"/fc9/Gemm": "fc9", "/fc10/Gemm": "fc9"}},
          open("foreign.modules.json", "w"))
# Billion laughs: nine levels of ten aliases.
with open("laughs.yaml", "w") as f:
    f.write("x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
    for i in range(1, 9):
        f.write("x%d: &x%d [%s]\n" % (i, i, ", ".join(["*x%d" % (i - 1)] * 10)))
    f.write("quantization_config: {}\n")
# Imports of files the user did not mean as rule sources.
open("import_passwd.qrules", "w").write('qrules 1\n\nimport "/etc/passwd"\n')
open("import_environ.qrules", "w").write('qrules 1\n\nimport "../../../../../../../../../../proc/self/environ"\n')
open("import_environ_qrules.qrules", "w").write('qrules 1\n\nimport "/proc/self/environ.qrules"\n')
# qparams with a zero and a negative scale.
json.dump({"scale": [0.0], "zero_point": [0]}, open("qparams_zero_scale.json", "w"))
json.dump({"scale": [-1.0], "zero_point": [0]}, open("qparams_negative_scale.json", "w"))
# .npy headers that declare more than the file holds, and a shape whose element count overflows.
def npy(header, data=b""):
    h = header
    while (10 + len(h) + 1) % 64:
        h += " "
    h += "\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h.encode() + data
open("npy_declares_huge.npy", "wb").write(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000,), }", b"\0" * 16))
open("npy_overflow_shape.npy", "wb").write(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }"))
print("ok")
