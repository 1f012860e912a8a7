// Times float inference of ONNX files with onnxruntime-node, single thread, for comparison with
// exec_bench.  Run through bench/onnxruntime_bench.sh, which installs the package.
//
//   node onnxruntime_bench.mjs [--batch B] [--min-seconds S] MODEL.onnx...
//
// For each model: one session with intraOpNumThreads 1, interOpNumThreads 1, sequential
// execution, all graph optimisations; a float32 input of the model's input shape with the
// dynamic (symbolic) dims set to the batch size, filled with a fixed pseudo-random pattern;
// warm-up runs, then timed runs until at least S seconds and 20 runs have passed.  Prints one
// line per model with the median and the 10th/90th percentile latency in microseconds.
import ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { basename } from 'node:path';

const args = process.argv.slice(2);
let batch = 1;
let minSeconds = 2.0;
const models = [];
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--batch') batch = parseInt(args[++i], 10);
  else if (args[i] === '--min-seconds') minSeconds = parseFloat(args[++i]);
  else models.push(args[i]);
}
if (models.length === 0) {
  console.error('usage: node onnxruntime_bench.mjs [--batch B] [--min-seconds S] MODEL.onnx...');
  process.exit(2);
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

for (const path of models) {
  const session = await ort.InferenceSession.create(path, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0];
  // Input shape from the model metadata when this onnxruntime version exposes it.
  let dims = null;
  const meta = session.inputMetadata?.[0] ?? session.inputMetadata?.[inputName];
  if (meta && Array.isArray(meta.shape)) dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : batch));
  if (!dims) {
    const guess = { 'resnet18': [batch, 3, 224, 224], 'transformer_block': [batch, 128, 256] };
    dims = guess[basename(path, '.onnx')] ?? [batch, 1, 28, 28];
  }
  dims[0] = batch;
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let seed = 12345;
  for (let i = 0; i < n; ++i) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    data[i] = ((seed >>> 8) % 2001) / 1000 - 1;
  }
  const feeds = { [inputName]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 5; ++i) await session.run(feeds);
  const times = [];
  const start = performance.now();
  while (times.length < 20 || performance.now() - start < minSeconds * 1000) {
    const t0 = performance.now();
    await session.run(feeds);
    times.push((performance.now() - t0) * 1000);
  }
  times.sort((a, b) => a - b);
  console.log(`${basename(path)}\tbatch ${batch}\tmedian ${percentile(times, 0.5).toFixed(1)} us` +
              `\tp10 ${percentile(times, 0.1).toFixed(1)}\tp90 ${percentile(times, 0.9).toFixed(1)}` +
              `\truns ${times.length}\tinput [${dims.join(',')}]`);
}
