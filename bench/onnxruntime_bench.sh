#!/bin/sh
# Installs onnxruntime-node into a temporary directory and times float inference there, single
# thread, batch 1 (and any extra batch sizes given), on the shared models and the executor
# benchmark's generated models.
#
#   bench/onnxruntime_bench.sh [BUILD_DIR] [BATCH...]
#
# BUILD_DIR (default: build) is where the exec_bench target generated bench/models/*.onnx (with
# bench/make_bench_models.py; they are generated here too when missing and python3-onnx exists).
# Set QRULES_ORT_DIR to reuse an installation.  Output: one line per model and batch size.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-build}
[ $# -gt 0 ] && shift
batches=${*:-1}

ort_dir=${QRULES_ORT_DIR:-$(mktemp -d -t qrules-ort-XXXXXX)}
if [ ! -d "$ort_dir/node_modules/onnxruntime-node" ]; then
  (cd "$ort_dir" && npm init -y >/dev/null && ONNXRUNTIME_NODE_INSTALL=skip npm install --no-audit --no-fund --ignore-scripts onnxruntime-node >/dev/null)
fi
cp "$here/onnxruntime_bench.mjs" "$ort_dir/"

models_dir="$build/bench/models"
if [ ! -f "$models_dir/resnet18.onnx" ] && /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  /usr/bin/python3 "$here/make_bench_models.py" "$models_dir" >/dev/null
fi
models=""
for m in fmnist_mlp fmnist_cnn fmnist_cnn_bn; do
  models="$models $root/tests/data/models/$m.onnx"
done
for m in transformer_block resnet18; do
  [ -f "$models_dir/$m.onnx" ] && models="$models $(cd "$models_dir" && pwd)/$m.onnx"
done
node --version
echo "onnxruntime-node $(node -p "require('$ort_dir/node_modules/onnxruntime-node/package.json').version")"
for b in $batches; do
  # shellcheck disable=SC2086
  (cd "$ort_dir" && node onnxruntime_bench.mjs --batch "$b" $models)
done
