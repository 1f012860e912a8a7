qrules_add_test(plan_tests unit/plan_test.cc unit/plan_models_test.cc)
target_link_libraries(plan_tests PRIVATE qrules_plan qrules_ir qrules_sema)
