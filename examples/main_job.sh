#!/usr/bin/env bash
# The main job on the bundled example: lint and format-check every rule file, then run the
# bundled model (examples/fmnist_resnet, trained and exported by tools/train_fmnist.py) with the
# W8A8 preset: the plan summary and the damage report, tensor by tensor.
# Usage: bash examples/main_job.sh [path/to/qrules]
set -euo pipefail
cd "$(dirname "$0")/.."
QRULES="${1:-build/qrules}"
EX=examples/fmnist_resnet

echo "== lint and fmt --check: rules/ and examples/"
"$QRULES" lint rules/*.qrules examples/*.qrules
"$QRULES" fmt --check rules/*.qrules examples/*.qrules
echo "== lint rules/w8a8.qrules against the model"
"$QRULES" lint rules/w8a8.qrules --model "$EX/model.onnx" --modules "$EX/model.modules.json"
echo "== how the first conv of the residual block is quantized"
"$QRULES" explain rules/w8a8.qrules --model "$EX/model.onnx" --modules "$EX/model.modules.json" --op /block/conv1/Conv
echo "== run: float vs W8A8 fake quantization on 300 test images"
"$QRULES" run rules/w8a8.qrules --model "$EX/model.onnx" --modules "$EX/model.modules.json" \
  --input "$EX/test_images.npy" --labels "$EX/test_labels.npy" --calibrate "$EX/calib_images.npy"
