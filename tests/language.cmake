# The .qrules language: grammar sync, model construction, golden diagnostics, fmt, CLI.
qrules_add_test(language_tests
  unit/grammar_sync_test.cc
  unit/language_test.cc
  unit/golden_lint_test.cc
  unit/format_test.cc)
target_link_libraries(language_tests PRIVATE qrules_sema qrules_format qrules_syntax qrules_plan qrules_ir)
