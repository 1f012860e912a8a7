# numerics stage tests: golden vectors (both paths bit for bit), non-finite probes, reference vs
# fast path on random and adversarial data, layouts, calculators, FakeQuantizer, QAT schedule.
qrules_add_test(numerics_tests
  unit/numerics_golden_test.cc
  unit/numerics_kernel_test.cc
  unit/numerics_observer_test.cc
  unit/numerics_reciprocal_test.cc
  unit/numerics_checked_test.cc
  unit/numerics_golden_reader.cc)
target_link_libraries(numerics_tests PRIVATE qrules_numerics)
