# End-to-end CLI cases: exit codes and output, with expectations from the spec or a hand computation.
function(qrules_cli_test name code)
  # FILE_SIZE PATH BYTES: the command must also leave PATH behind with exactly BYTES bytes.
  cmake_parse_arguments(T "" "" "ARGS;REGEX;FILE_SIZE" ${ARGN})
  # Lists cross the command line joined with "@@" (add_test would escape the ';').
  string(REPLACE ";" "@@" args "${T_ARGS}")
  string(REPLACE ";" "@@" regex "${T_REGEX}")
  string(REPLACE ";" "@@" file_size "${T_FILE_SIZE}")
  add_test(NAME cli_${name}
           COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:qrules_cli>@@${args}" -DEXPECT_CODE=${code}
                   "-DEXPECT_REGEX=${regex}" -DWORKDIR=${PROJECT_SOURCE_DIR} "-DEXPECT_FILE_SIZE=${file_size}"
                   -P ${CMAKE_CURRENT_SOURCE_DIR}/cli/expect_run.cmake)
endfunction()

set(D tests/data/cli)
set(OUT ${CMAKE_CURRENT_BINARY_DIR})
# int8 symmetric per-tensor on [-1, -0.5, 0, 0.25, 1]: scale = float32(1/127.5) = 0.0078431377,
# which rounds up, so +-1/scale = +-127.49999 (float32) round to +-127, not to a tie: both ends
# come back as +-127 * scale = +-0.99607849, max error 1 - 0.99607849 = 0.0039215 (float32).
qrules_cli_test(quantize_per_tensor 0 ARGS quantize ${D}/x5.npy --rules ${D}/specs.qrules --spec a8 --out ${OUT}/q5.npy
  REGEX "max abs error: 0\\.0039215" "scale: .0\\.00784313" "zero_point: .0.")
# Explicit scale 0.5: 0.25/0.5 = 0.5 rounds half to even -> 0; -1, -0.5, 0, 1 are exact: max error 0.25.
qrules_cli_test(quantize_explicit_scale 0 ARGS quantize ${D}/x5.npy --rules ${D}/specs.qrules --spec a8 --scale 0.5
  --out ${OUT}/q5e.npy REGEX "max abs error: 0\\.25\n")
# per_channel with the axis left open needs --axis.
qrules_cli_test(quantize_needs_axis 1 ARGS quantize ${D}/w2x4.npy --rules ${D}/specs.qrules --spec w8 --out ${OUT}/w.npy
  REGEX "give --axis")
# axis 0: rows [0.5,-0.25,0.125,1] and [-2,1,0.5,0]: scales 1/127.5 and 2/127.5.
qrules_cli_test(quantize_per_channel_json 0 ARGS quantize ${D}/w2x4.npy --rules ${D}/specs.qrules --spec w8 --axis 0
  --out ${OUT}/w.npy --format json REGEX "\"scale\": .\n *0\\.00784313[0-9]*,\n *0\\.0156862")
qrules_cli_test(quantize_unknown_spec 1 ARGS quantize ${D}/x5.npy --rules ${D}/specs.qrules --spec a9 --out ${OUT}/x.npy
  REGEX "did you mean 'a8'")
qrules_cli_test(quantize_rejects_int_npy 1 ARGS quantize ${D}/labels_i64.npy --rules ${D}/specs.qrules --spec a8
  --out ${OUT}/x.npy REGEX "int64 data; quantize takes float32")
qrules_cli_test(quantize_missing_input 2 ARGS quantize ${D}/nope.npy --rules ${D}/specs.qrules --spec a8 --out ${OUT}/x.npy)
qrules_cli_test(unknown_option 2 ARGS lint --wrror rules/w8a8.qrules REGEX "did you mean '--werror'")
qrules_cli_test(plan_json 0 ARGS plan rules/w8a8.qrules --model tests/data/models/fmnist_mlp.onnx
  --modules tests/data/models/fmnist_mlp.modules.json --format json
  REGEX "\"name\": \"/fc1/Gemm\"" "\"pattern\": \"linear_act\"" "\"source\": \"rules/w8a8.qrules:[0-9]+\"")
qrules_cli_test(lint_model_unmatched 0 ARGS lint examples/cnn_mixed.qrules --model tests/data/models/fmnist_mlp.onnx
  --modules tests/data/models/fmnist_mlp.modules.json REGEX "unmatched-rule")
qrules_cli_test(explain_op 0 ARGS explain rules/w8a8.qrules --model tests/data/models/fmnist_cnn.onnx
  --modules tests/data/models/fmnist_cnn.modules.json --op /conv1/Conv REGEX "pattern: conv_act" "state weight 'onnx::Conv_32'")
qrules_cli_test(explain_unknown_op 1 ARGS explain rules/w8a8.qrules --model tests/data/models/fmnist_cnn.onnx
  --op /conv1/Cnv REGEX "did you mean '/conv1/Conv'")
qrules_cli_test(inspect 0 ARGS inspect tests/data/models/fmnist_cnn.onnx --modules tests/data/models/fmnist_cnn.modules.json
  REGEX "conv1" "torch.nn.modules.conv.Conv2d")
qrules_cli_test(plan_bad_model 2 ARGS plan rules/w8a8.qrules --model tests/data/models/cycle.onnx REGEX "model-invalid")
# §d: schedule (1, 2, 5): s=0 off/off; 1 on/off; 2-4 on/on; >=5 off/on.
qrules_cli_test(explain_schedule 0 ARGS explain ${D}/schedule.qrules --schedule
  REGEX "steps 0-0 +observer off, fake quant off" "steps 1-1 +observer on, fake quant off"
        "steps 2-4 +observer on, fake quant on" "steps 5- +observer off, fake quant on")
qrules_cli_test(explain_no_schedule 0 ARGS explain rules/w8a8.qrules --schedule REGEX "no scope has a qat_schedule")

# --- run: exit codes and figures from independent references ------------------------------------
set(M tests/data/models)
# Float top-1 on the 1,000 test images: PyTorch's own logits (fmnist_mlp.test1000_logits.npy) give
# 893 of 1000 right (argmax against fmnist_test1000_labels.npy, computed with NumPy).
qrules_cli_test(run_float_only_accuracy 0 ARGS run --float-only --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_test1000_input.npy --labels ${M}/fmnist_test1000_labels.npy
  REGEX "accuracy: 89\\.30% \\(893 of 1000\\)")
# The CNN: 926 of 1000 in PyTorch; W8A8 calibrated on the 8 images of fmnist_cnn.input0.npy.
qrules_cli_test(run_w8a8_accuracy 0 ARGS run rules/w8a8.qrules --model ${M}/fmnist_cnn.onnx
  --modules ${M}/fmnist_cnn.modules.json --input ${M}/fmnist_test1000_input.npy
  --calibrate ${M}/fmnist_cnn.input0.npy --labels ${M}/fmnist_test1000_labels.npy
  REGEX "accuracy: float 92\\.60%, fake-quantized (9[0-9])\\.[0-9][0-9]%")
qrules_cli_test(run_json 0 ARGS run rules/w8a8.qrules --model ${M}/fmnist_cnn.onnx
  --modules ${M}/fmnist_cnn.modules.json --input ${M}/fmnist_test1000_input.npy
  --calibrate ${M}/fmnist_cnn.input0.npy --labels ${M}/fmnist_test1000_labels.npy --format json
  REGEX "\"float_accuracy\": 0\\.926[,\n]")
# --output writes the [8, 10] float32 logits: a 128-byte .npy header and 320 bytes of data.
qrules_cli_test(run_output 0 ARGS run --float-only --model ${M}/fmnist_mlp.onnx --input ${M}/fmnist_mlp.input0.npy
  --output ${OUT}/run_logits.npy FILE_SIZE ${OUT}/run_logits.npy 448)
qrules_cli_test(run_quantized_output 0 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy --calibrate ${M}/fmnist_mlp.input0.npy --output ${OUT}/run_q.npy
  FILE_SIZE ${OUT}/run_q.npy 448)
# Exit 1: errors in the rules, or a model the executor cannot run.
qrules_cli_test(run_rules_error 1 ARGS run tests/golden/lint/unknown_dtype.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy REGEX "unknown dtype 'int7'")
# Exit 2: usage and I/O.
qrules_cli_test(run_no_input 2 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx REGEX "usage")
qrules_cli_test(run_missing_input 2 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/nope.npy REGEX "nope\\.npy")
qrules_cli_test(run_missing_model 2 ARGS run rules/w8a8.qrules --model ${M}/nope.onnx
  --input ${M}/fmnist_mlp.input0.npy REGEX "nope\\.onnx")
qrules_cli_test(run_bad_format 2 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy --format xml REGEX "--format")
qrules_cli_test(run_zero_batch 2 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy --batch-size 0 REGEX "--batch-size")
qrules_cli_test(run_float_labels 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy --labels ${M}/fmnist_mlp.input0.npy REGEX "labels")

# --- exit codes of the other commands -----------------------------------------------------------
qrules_cli_test(inspect_missing_model 2 ARGS inspect ${M}/nope.onnx REGEX "nope\\.onnx")
qrules_cli_test(inspect_no_model 2 ARGS inspect REGEX "usage")
qrules_cli_test(plan_rules_error 1 ARGS plan tests/golden/lint/unknown_dtype.qrules --model ${M}/fmnist_mlp.onnx
  REGEX "unknown dtype 'int7'")
qrules_cli_test(plan_missing_rules 2 ARGS plan nope.qrules --model ${M}/fmnist_mlp.onnx REGEX "nope\\.qrules")
qrules_cli_test(plan_no_model 2 ARGS plan rules/w8a8.qrules REGEX "usage")
qrules_cli_test(explain_missing_model 2 ARGS explain rules/w8a8.qrules --model ${M}/nope.onnx --op x REGEX "nope\\.onnx")
qrules_cli_test(explain_no_question 2 ARGS explain rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx REGEX "usage")
qrules_cli_test(export_yaml 0 ARGS export rules/w8a8.qrules --to coreai-yaml REGEX "quantization_config")
qrules_cli_test(export_rules_error 1 ARGS export tests/golden/lint/unknown_dtype.qrules --to coreai-yaml
  REGEX "unknown dtype 'int7'")
qrules_cli_test(export_unknown_target 2 ARGS export rules/w8a8.qrules --to tflite REGEX "tflite")
qrules_cli_test(export_missing_rules 2 ARGS export nope.qrules --to coreai-yaml REGEX "nope\\.qrules")
qrules_cli_test(import_missing 2 ARGS import nope.yaml REGEX "nope\\.yaml")
qrules_cli_test(quantize_bad_spec_file 1 ARGS quantize ${D}/x5.npy --rules tests/golden/lint/unknown_dtype.qrules
  --spec a8 --out ${OUT}/x.npy REGEX "unknown dtype 'int7'")
# diff: hand-written plans; identical -> 0, a weight's dtype changed -> 1, not a plan -> 2.
qrules_cli_test(diff_same 0 ARGS diff ${D}/plan_old.json ${D}/plan_old.json)
qrules_cli_test(diff_changed 1 ARGS diff ${D}/plan_old.json ${D}/plan_int4.json REGEX "/fc1/Gemm" "int8" "int4")
qrules_cli_test(diff_not_a_plan 2 ARGS diff ${D}/plan_old.json ${D}/specs.qrules REGEX "plan-invalid")
qrules_cli_test(diff_missing 2 ARGS diff ${D}/plan_old.json nope.json REGEX "nope\\.json")

# --- rules against real exports -----------------------------------------------------------------
# examples/transformer_boundary.qrules on the encoder it is written for (make_encoder.py): lint
# is clean, and the q/k/v projection weights (sliced from in_proj_weight by the exporter, read by
# MatMul linears) get int8 weights from the attention entry's op_state { weight }.
qrules_cli_test(lint_transformer_example_on_encoder 0 ARGS lint examples/transformer_boundary.qrules
  --model ${M}/zoo_encoder.onnx --modules ${M}/zoo_encoder.modules.json REGEX "^$")
qrules_cli_test(plan_transformer_example_qkv_weights 0 ARGS plan examples/transformer_boundary.qrules
  --model ${M}/zoo_encoder.onnx --modules ${M}/zoo_encoder.modules.json
  REGEX "op /encoder/layers\\.0/self_attn/MatMul \\(linear\\)[^\n]*\n[^\n]*\n[^\n]*\n  state  weight +[^ ]+ +int8 symmetric per_channel\\(axis=1\\)")
# A misspelled op_state key on a real export: a warning with the key, and a suggestion.
qrules_cli_test(lint_misspelled_state_key 0 ARGS lint ${D}/wieght.qrules --model ${M}/fmnist_cnn.onnx
  REGEX "op_state key 'wieght' matches no tensor" "\\[unmatched-key\\]" "did you mean 'weight'\\?")
qrules_cli_test(lint_misspelled_state_key_werror 1 ARGS lint --werror ${D}/wieght.qrules --model ${M}/fmnist_cnn.onnx
  REGEX "error: op_state key 'wieght'")
