# End-to-end CLI cases: exit codes and output, with expectations from the spec or a hand computation.
function(qrules_cli_test name code)
  cmake_parse_arguments(T "" "" "ARGS;REGEX" ${ARGN})
  # Lists cross the command line joined with "@@" (add_test would escape the ';').
  string(REPLACE ";" "@@" args "${T_ARGS}")
  string(REPLACE ";" "@@" regex "${T_REGEX}")
  add_test(NAME cli_${name}
           COMMAND ${CMAKE_COMMAND} "-DCMD=$<TARGET_FILE:qrules_cli>@@${args}" -DEXPECT_CODE=${code}
                   "-DEXPECT_REGEX=${regex}" -DWORKDIR=${PROJECT_SOURCE_DIR}
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
