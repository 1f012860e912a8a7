qrules_add_test(sim_tests unit/sim_test.cc)
target_link_libraries(sim_tests PRIVATE qrules_sim qrules_plan qrules_ir qrules_sema)
