#!/usr/bin/env python3
"""Export a PyTorch model to ONNX plus the qrules module map JSON.

    python3 tools/export_torch.py MODULE:FACTORY --input-shape 1,3,224,224 -o out/net
        → out/net.onnx and out/net.modules.json

MODULE:FACTORY names a Python callable returning an nn.Module (e.g. `torchvision.models:resnet18`
or `mypkg.nets:build`); it is called with no arguments and put in eval mode.  The module map is
`{"modules": {fqn: "fully.qualified.Type"}, "nodes": {onnx node name: module fqn}}` with modules in
`named_modules()` order (root ""), which `qrules --modules FILE` reads.  Node attribution comes from
the scoped node names the exporter writes ("/layer1/layer1.0/conv1/Conv" → "layer1.0.conv1"),
checked against the real module names.  torch (and onnx, for reading the exported names) are only
imported when the script runs.
"""
import argparse
import importlib
import json
import sys


def module_of(node_name, modules):
    """The innermost real module named by the scope of an ONNX node name, or "" (the root)."""
    if not node_name.startswith("/"):
        return ""
    parts = [p for p in node_name.split("/")[1:-1] if p]
    fqn = ""
    for p in parts:
        fqn = p if (fqn and p.startswith(fqn + ".")) or not fqn else fqn + "." + p
    while fqn and fqn not in modules:
        fqn = fqn.rsplit(".", 1)[0] if "." in fqn else ""
    return fqn


def export(model, example, output, opset=13, dynamic_batch=True, no_fold=False):
    """Writes OUTPUT.onnx and OUTPUT.modules.json for an nn.Module in eval mode."""
    import torch
    import onnx

    onnx_path = output + ".onnx"
    kwargs = dict(opset_version=opset, input_names=["input"], output_names=["output"])
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "N"}, "output": {0: "N"}}
    if no_fold:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
        kwargs["do_constant_folding"] = False
    torch.onnx.export(model, example, onnx_path, **kwargs)

    modules = {}
    for name, m in model.named_modules():
        t = type(m)
        modules[name] = f"{t.__module__}.{t.__qualname__}"
    graph = onnx.load(onnx_path).graph
    nodes = {}
    for node in graph.node:
        if node.name and node.op_type != "Constant":
            nodes[node.name] = module_of(node.name, modules)
    with open(output + ".modules.json", "w") as f:
        json.dump({"modules": modules, "nodes": nodes}, f, indent=1)
        f.write("\n")
    print(f"wrote {onnx_path} and {output}.modules.json ({len(modules)} modules, {len(nodes)} nodes)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("factory", help="MODULE:CALLABLE returning an nn.Module")
    ap.add_argument("--input-shape", required=True, help="comma-separated input shape, e.g. 1,3,224,224")
    ap.add_argument("-o", "--output", required=True, help="output path without extension")
    ap.add_argument("--opset", type=int, default=13)
    ap.add_argument("--dynamic-batch", action="store_true", help="make dim 0 dynamic ('N')")
    ap.add_argument("--no-fold", action="store_true", help="keep BatchNorm etc. as nodes (training mode export)")
    args = ap.parse_args(argv)

    import torch  # only needed when run
    import onnx

    mod_name, _, fn_name = args.factory.partition(":")
    if not fn_name:
        ap.error("factory must be MODULE:CALLABLE")
    model = getattr(importlib.import_module(mod_name), fn_name)()
    model.eval()
    shape = [int(d) for d in args.input_shape.split(",")]
    example = torch.randn(*shape)

    export(model, example, args.output, opset=args.opset, dynamic_batch=args.dynamic_batch, no_fold=args.no_fold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
