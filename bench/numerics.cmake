# numerics: fake-quant kernels against a streaming y = a*x baseline measured in the same run.
add_executable(numerics_bench fake_quant_bench.cc)
target_link_libraries(numerics_bench PRIVATE qrules_numerics qrules_warnings)
target_compile_options(numerics_bench PRIVATE -O3 -march=x86-64-v2)
target_include_directories(numerics_bench PRIVATE ${PROJECT_SOURCE_DIR}/src)  # the divps rows
