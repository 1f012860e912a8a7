# exec stage tests: kernels against hand-computed cases and naive loops, the interpreter, and the
# shared Fashion-MNIST models end to end.
qrules_add_test(exec_tests
  unit/exec_kernels_test.cc
  unit/exec_conv_test.cc
  unit/exec_executor_test.cc
  unit/exec_models_test.cc
  unit/exec_robustness_test.cc
  unit/exec_fast_paths_test.cc)
target_link_libraries(exec_tests PRIVATE qrules_exec qrules_ir)
qrules_add_test(fuzz_regression_tests unit/fuzz_regressions_test.cc)
target_link_libraries(fuzz_regression_tests PRIVATE qrules_exec qrules_ir)
