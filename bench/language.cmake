# The .qrules front end: parse + compile + lint of a generated 10,000-rule file, against a
# streaming byte scan of the same text measured in the same run.  See BENCHMARKS.md.
add_executable(language_bench ${CMAKE_CURRENT_LIST_DIR}/parse_bench.cc)
target_link_libraries(language_bench PRIVATE qrules_sema qrules_syntax qrules_warnings)
# The parse-only line times the private syntax::Parse (src/syntax/syntax.h).
target_include_directories(language_bench PRIVATE ${PROJECT_SOURCE_DIR}/src)
