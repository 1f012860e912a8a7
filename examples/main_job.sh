#!/usr/bin/env bash
# The main job on the bundled example: lint and format-check every rule file, then resolve the
# W8A8 preset on a real CNN (trained on Fashion-MNIST) and show how one op was decided.
# Usage: bash examples/main_job.sh [path/to/qrules]
set -euo pipefail
cd "$(dirname "$0")/.."
QRULES="${1:-build/qrules}"
MODEL=tests/data/models/fmnist_cnn.onnx
MAP=tests/data/models/fmnist_cnn.modules.json

echo "== lint: rules/ and examples/"
"$QRULES" lint rules/*.qrules examples/*.qrules
echo "== fmt --check: rules/ and examples/"
"$QRULES" fmt --check rules/*.qrules examples/*.qrules
echo "== lint against the model"
"$QRULES" lint rules/w8a8.qrules --model "$MODEL" --modules "$MAP"
echo "== plan: rules/w8a8.qrules on $MODEL"
"$QRULES" plan rules/w8a8.qrules --model "$MODEL" --modules "$MAP"
echo "== explain one op"
"$QRULES" explain rules/w8a8.qrules --model "$MODEL" --modules "$MAP" --op /conv2/Conv
