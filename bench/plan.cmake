add_executable(plan_bench plan_bench.cc)
target_link_libraries(plan_bench PRIVATE qrules_plan qrules_ir qrules_sema re2::re2)
