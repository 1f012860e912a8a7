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
  --input ${M}/fmnist_mlp.input0.npy --calibrate-on-input REGEX "unknown dtype 'int7'")
# Exit 2: usage and I/O.
qrules_cli_test(run_no_input 2 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx REGEX "usage")
qrules_cli_test(run_missing_input 2 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/nope.npy --calibrate-on-input REGEX "nope\\.npy")
qrules_cli_test(run_missing_model 2 ARGS run rules/w8a8.qrules --model ${M}/nope.onnx
  --input ${M}/fmnist_mlp.input0.npy --calibrate-on-input REGEX "nope\\.onnx")
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
# is clean but for its summary (9 weights: per layer the packed q/k/v MatMul, out_proj, linear1,
# linear2; and the head), and the q/k/v projection weights (sliced from in_proj_weight by the exporter, read by
# MatMul linears) get int8 weights from the attention entry's op_state { weight }.
qrules_cli_test(lint_transformer_example_on_encoder 0 ARGS lint examples/transformer_boundary.qrules
  --model ${M}/zoo_encoder.onnx --modules ${M}/zoo_encoder.modules.json
  REGEX "^examples/transformer_boundary\\.qrules on tests/data/models/zoo_encoder\\.onnx: [0-9]+ of [0-9]+ ops quantized: 9 of 9 weights and [0-9]+ activation points fake-quantized\n$")
qrules_cli_test(plan_transformer_example_qkv_weights 0 ARGS plan examples/transformer_boundary.qrules
  --model ${M}/zoo_encoder.onnx --modules ${M}/zoo_encoder.modules.json
  REGEX "op /encoder/layers\\.0/self_attn/MatMul \\(linear\\)[^\n]*\n[^\n]*\n[^\n]*\n  state  weight +[^ ]+ +int8 symmetric per_channel\\(axis=1\\)")
# A misspelled op_state key on a real export: a warning with the key, and a suggestion.
qrules_cli_test(lint_misspelled_state_key 0 ARGS lint ${D}/wieght.qrules --model ${M}/fmnist_cnn.onnx
  REGEX "op_state key 'wieght' matches no tensor" "\\[unmatched-key\\]" "did you mean 'weight'\\?")
qrules_cli_test(lint_misspelled_state_key_werror 1 ARGS lint --werror ${D}/wieght.qrules --model ${M}/fmnist_cnn.onnx
  REGEX "error: op_state key 'wieght'")

# --- feeding every input ------------------------------------------------------------------------
# multi_input.onnx (tests/data/foreign): input_ids int64, attention_mask int64, features float32;
# the reference logits come from the generator's numpy interpreter.
set(F tests/data/foreign)
qrules_cli_test(run_multi_input 0 ARGS run --float-only --model ${F}/multi_input.onnx
  --input input_ids=${F}/multi_input.input_ids.npy --input attention_mask=${F}/multi_input.attention_mask.npy
  --input features=${F}/multi_input.features.npy --output ${OUT}/multi.npy REGEX "output 'logits': shape \\[4, 3\\]")
# Other dtypes convert exactly: int32 ids, a bool or uint8 mask, float16 / float64 features
# (float64 with a note).
qrules_cli_test(run_multi_input_dtypes 0 ARGS run --float-only --model ${F}/multi_input.onnx
  --input input_ids=${F}/multi_input.input_ids.int32.npy --input attention_mask=${F}/multi_input.attention_mask.bool.npy
  --input features=${F}/multi_input.features.float64.npy REGEX "data-converted" "output 'logits'")
qrules_cli_test(run_multi_input_quantized 0 ARGS run rules/w8a8.qrules --model ${F}/multi_input.onnx
  --input input_ids=${F}/multi_input.input_ids.npy --input attention_mask=${F}/multi_input.attention_mask.uint8.npy
  --input features=${F}/multi_input.features.float16.npy
  --calibrate input_ids=${F}/multi_input.input_ids.npy --calibrate attention_mask=${F}/multi_input.attention_mask.npy
  --calibrate features=${F}/multi_input.features.npy REGEX "of [0-9]+ ops quantized: 3 of 3 weights")
qrules_cli_test(run_multi_input_bare_path 2 ARGS run --float-only --model ${F}/multi_input.onnx
  --input ${F}/multi_input.features.npy REGEX "the model has 3 inputs \\(input_ids, attention_mask, features\\)")
qrules_cli_test(run_multi_input_missing 2 ARGS run --float-only --model ${F}/multi_input.onnx
  --input input_ids=${F}/multi_input.input_ids.npy --input features=${F}/multi_input.features.npy
  REGEX "--input: no file for the model input 'attention_mask'")
# Float data for an int64 input: the file, the flag, expected and actual dtype and shape.
qrules_cli_test(run_input_wrong_dtype 2 ARGS run --float-only --model ${F}/multi_input.onnx
  --input input_ids=${F}/multi_input.features.npy --input attention_mask=${F}/multi_input.attention_mask.npy
  --input features=${F}/multi_input.features.npy
  REGEX "multi_input\\.features\\.npy: error: --input: the model input 'input_ids' is int64 \\[N, 6\\]; the file holds float32 \\[4, 4\\]")
qrules_cli_test(run_input_wrong_shape 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx --input ${F}/multi_input.features.npy
  REGEX "multi_input\\.features\\.npy: error: --input: the model input 'input' is float32 \\[N, 1, 28, 28\\]; the file holds float32 \\[4, 4\\]")
# No calibration data: refused, not silently taken from the evaluation input.
qrules_cli_test(run_needs_calibration 2 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy REGEX "--calibrate-on-input")
qrules_cli_test(run_calibrate_on_input 0 ARGS run rules/w8a8.qrules --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy --calibrate-on-input REGEX "calibrated on the evaluation input")
# Labels: wrong count, out of range.
qrules_cli_test(run_labels_wrong_count 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy --labels ${M}/fmnist_test1000_labels.npy
  REGEX "fmnist_test1000_labels\\.npy: error: --labels: expected 8 class ids, one per sample; the file holds uint8 \\[1000\\]")
# labels8_class12.npy: eight ids, the last 12; the model has 10 classes.
qrules_cli_test(run_labels_out_of_range 2 ARGS run --float-only --model ${M}/fmnist_mlp.onnx
  --input ${M}/fmnist_mlp.input0.npy --labels ${D}/labels8_class12.npy
  REGEX "labels8_class12\\.npy: error: --labels: class id 12 at index 7 is out of range: the model has 10 classes")

# --- names people know --------------------------------------------------------------------------
# fmnist_cnn's exporter folded BatchNorm into conv1, renaming its weight onnx::Conv_32; the module
# map says the op is conv1 (a leaf Conv2d), so plan and report show conv1.weight beside it.
qrules_cli_test(plan_known_names 0 ARGS plan rules/w8a8.qrules --model ${M}/fmnist_cnn.onnx
  --modules ${M}/fmnist_cnn.modules.json REGEX "state  weight   conv1\\.weight \\(onnx::Conv_32\\)")
qrules_cli_test(run_report_names_and_consumers 0 ARGS run rules/w8a8.qrules --model ${M}/fmnist_cnn.onnx
  --modules ${M}/fmnist_cnn.modules.json --input ${M}/fmnist_cnn.input0.npy --calibrate-on-input --format json
  REGEX "\"tensor\": \"onnx::Conv_32\",\n *\"name\": \"conv1\\.weight\",\n *\"consumers\": \\[\n *\"/conv1/Conv\"\n *\\]")
# The q/k/v weights of attention are slices, not a parameter of self_attn: the ONNX name stays.
qrules_cli_test(plan_sliced_weights_keep_onnx_name 0 ARGS plan examples/transformer_boundary.qrules
  --model ${M}/zoo_encoder.onnx --modules ${M}/zoo_encoder.modules.json
  REGEX "op /encoder/layers\\.0/self_attn/MatMul \\(linear\\)[^\n]*\n[^\n]*\n[^\n]*\n  state  weight   onnx::MatMul_[0-9]+ +int8")
# On a Paddle2ONNX-style export without a module map, lint --model says how many weights the
# preset reaches: all 5 (conv2d_0.w_0 ... linear_1.w_0).
qrules_cli_test(lint_model_summary_foreign 0 ARGS lint rules/w8a8.qrules --model ${F}/paddle_like.onnx
  REGEX "rules/w8a8\\.qrules on tests/data/foreign/paddle_like\\.onnx: [0-9]+ of [0-9]+ ops quantized: 5 of 5 weights")
