# ir stage tests: IR builder and registry, text format, ONNX import, .npy.
qrules_add_test(ir_tests
  unit/ir_model_test.cc
  unit/ir_text_test.cc
  unit/ir_onnx_test.cc
  unit/ir_npy_test.cc)
target_link_libraries(ir_tests PRIVATE qrules_ir qrules_diag)
