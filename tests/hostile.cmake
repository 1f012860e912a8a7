# Bad input, crafted: every class of issue 16 ends in a clear diagnostic and exit 1 or 2 — no
# crash, hang, memory blow-up, quote of a file's content, or silent acceptance.  Small inputs are
# in tests/data/hostile (make_hostile.py); large ones are made at test time by
# tests/hostile/make_inputs.sh.  The suite runs again under ASan+UBSan in CI.
set(H tests/data/hostile)
set(HB ${CMAKE_CURRENT_BINARY_DIR}/hostile)
set(M tests/data/models)
add_test(NAME hostile_inputs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/hostile/make_inputs.sh ${HB})
set_tests_properties(hostile_inputs PROPERTIES FIXTURES_SETUP hostile_inputs)

function(qrules_hostile_test name code)
  qrules_cli_test(hostile_${name} ${code} ${ARGN})
  set_tests_properties(cli_hostile_${name} PROPERTIES FIXTURES_REQUIRED hostile_inputs TIMEOUT 60)
endfunction()

# --- crashes --------------------------------------------------------------------------------------
qrules_hostile_test(no_outputs_output 1 ARGS run --float-only --model ${H}/no_outputs.onnx --input ${H}/x4.npy
  --output ${HB}/o.npy REGEX "no_outputs\\.onnx: error: the model has no graph outputs")
qrules_hostile_test(int_output_labels 2 ARGS run --float-only --model ${H}/int_output.onnx --input ${H}/x4.npy
  --labels ${H}/labels3.npy REGEX "--labels needs a \\[N, classes\\] float output 0; it is \\[3, 4\\]")
qrules_hostile_test(int_output_labels_quantized 1 ARGS run rules/w8a8.qrules --model ${H}/int_output.onnx
  --input ${H}/x4.npy --labels ${H}/labels3.npy --calibrate-on-input
  REGEX "labels need output 0 to be \\[N, classes\\] float logits; it is int64 \\[3, 4\\]")
# Names that are not UTF-8 come out replaced (U+FFFD), not as a JSON library exception.
qrules_hostile_test(non_utf8_names_json 0 ARGS plan rules/w8a8.qrules --model ${H}/bad_utf8_names.onnx --format json
  REGEX "\"name\": \"r��\"")
qrules_hostile_test(json_number_overflow 2 ARGS diff ${H}/big_number_plan.json ${H}/big_number_plan.json
  REGEX "big_number_plan\\.json:1:1: error: not a plan: number overflow parsing '1e999' \\[plan-invalid\\]")
qrules_hostile_test(dev_zero_model 2 ARGS plan rules/w8a8.qrules --model /dev/zero
  REGEX "/dev/zero: error: cannot read file: not a regular file")
qrules_hostile_test(dev_zero_npy 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx --input /dev/zero
  REGEX "/dev/zero: error: cannot read file: not a regular file")
qrules_hostile_test(dev_zero_module_map 2 ARGS plan rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx --modules /dev/zero
  REGEX "/dev/zero: error: cannot read file: not a regular file")
qrules_hostile_test(deep_module_path 2 ARGS inspect ${HB}/deep_modules.qir
  REGEX "error: module path 'm0\\.m1\\.m2[^']*' is 30000 levels and [0-9]+ bytes long; qrules takes at most 128 levels")
qrules_hostile_test(deep_spec_chain 1 ARGS lint ${HB}/deep_specs.qrules
  REGEX "error: spec 's[0-9]+' is more than 64 levels of inheritance deep \\[limit-exceeded\\]")
# --- hangs ------------------------------------------------------------------------------------------
qrules_hostile_test(billion_laughs 1 ARGS import ${H}/laughs.yaml
  REGEX "aliases expand to more than 1000000 nodes")
qrules_hostile_test(deep_yaml 1 ARGS import ${HB}/deep_flow.yaml REGEX "nests \\[ \\] and { } more than 256 deep")
qrules_hostile_test(import_chain 1 ARGS lint ${HB}/imports/f0.qrules
  REGEX "cannot import 'f33\\.qrules': more than 256 files, or imports nested more than 32 deep \\[limit-exceeded\\]")
# --- leaks: the diagnostic names the import, never a line of the file ---------------------------------
qrules_hostile_test(import_passwd 1 ARGS lint ${H}/import_passwd.qrules
  REGEX "^[^\n]*import_passwd\\.qrules:3:8: error: cannot import '/etc/passwd': imports read \\.qrules files only \\[io-error\\]\n    3 \\| import \"/etc/passwd\"\n[^\n]*\n1 error and 0 warnings generated\\.\n$")
qrules_hostile_test(import_environ 1 ARGS lint ${H}/import_environ.qrules
  REGEX "imports read \\.qrules files only" )
qrules_hostile_test(import_environ_named_qrules 1 ARGS lint ${H}/import_environ_qrules.qrules
  REGEX "imported file '/proc/self/environ\\.qrules' not found")
# --- silent acceptance ------------------------------------------------------------------------------
qrules_hostile_test(nan_input_reported 0 ARGS run rules/w8a8.qrules --model ${H}/int_output.onnx
  --input ${H}/nan4.npy --calibrate ${H}/x4.npy
  REGEX "nan4\\.npy: warning: --input: 12 of 12 values are NaN or infinite" "SQNR not a number")
qrules_hostile_test(zero_samples 1 ARGS run rules/w8a8.qrules --model ${H}/int_output.onnx --input ${H}/zero_samples.npy
  --calibrate ${H}/x4.npy REGEX "an input has no samples")
qrules_hostile_test(huge_batch 0 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx --input ${M}/fmnist_mlp.input0.npy
  --calibrate-on-input --batch-size 9223372036854775807 REGEX "evaluated 8 samples")
qrules_hostile_test(output_dev_full 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx --input ${M}/fmnist_mlp.input0.npy
  --output /dev/full REGEX "/dev/full: error: cannot write file: No space left on device")
qrules_hostile_test(quantize_minval_nan 2 ARGS quantize tests/data/cli/x5.npy --rules tests/data/cli/specs.qrules
  --spec a8 --scale 0.5 --minval nan --out ${HB}/q.npy REGEX "--minval takes a finite number; got 'nan'")
qrules_hostile_test(qparams_zero_scale 1 ARGS quantize tests/data/cli/x5.npy --rules tests/data/cli/specs.qrules
  --spec a8 --qparams ${H}/qparams_zero_scale.json --out ${HB}/q.npy REGEX "scale\\[0\\] is 0; scales must be positive and finite")
qrules_hostile_test(qparams_negative_scale 1 ARGS quantize tests/data/cli/x5.npy --rules tests/data/cli/specs.qrules
  --spec a8 --qparams ${H}/qparams_negative_scale.json --out ${HB}/q.npy REGEX "scale\\[0\\] is -1; scales must be positive")
qrules_hostile_test(foreign_module_map 2 ARGS plan rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --modules ${H}/foreign.modules.json REGEX "the module map names 2 of its 2 nodes that model '[^']*fmnist_mlp\\.onnx' does not have \\('/fc10/Gemm', '/fc9/Gemm'\\)")
# --- misleading messages ---------------------------------------------------------------------------
qrules_hostile_test(axis_echoed 2 ARGS quantize tests/data/cli/w2x4.npy --rules tests/data/cli/specs.qrules --spec w8
  --axis 1e300 --out ${HB}/q.npy REGEX "--axis 1e300 is out of range")
qrules_hostile_test(npy_declares_more 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx --input ${H}/npy_declares_huge.npy
  REGEX "npy_declares_huge\\.npy: error: truncated data: shape \\(1000000000\\) of <f4 needs 4000000000 bytes, the file has 16")
qrules_hostile_test(npy_shape_overflow 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx --input ${H}/npy_overflow_shape.npy
  REGEX "npy_overflow_shape\\.npy: error: the array shape is too large")
