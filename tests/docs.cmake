# Documentation and shipped rule files: the language reference's examples, rules/ and examples/
# (docs_tests), and the qrules CLI's contract (exit codes, output formats) as ctest cases.
qrules_add_test(docs_tests ${CMAKE_CURRENT_LIST_DIR}/unit/docs_test.cc)
target_link_libraries(docs_tests PRIVATE qrules_sema qrules_format qrules_ops)
# The test reads these; rebuild nothing when they change, just rerun.
set(_qrules_root ${PROJECT_SOURCE_DIR})

file(GLOB _qrules_rule_files ${_qrules_root}/rules/*.qrules)
file(GLOB _qrules_example_files ${_qrules_root}/examples/*.qrules)

# The CLI's contract, with the one harness of tests/cli.cmake (qrules_cli_test).
# Every preset and example lints clean (exit 0, not one warning) and is in canonical form.
qrules_cli_test(lint_rules 0 ARGS lint ${_qrules_rule_files} ${_qrules_example_files} REGEX "^$")
qrules_cli_test(lint_rules_werror 0 ARGS lint --werror ${_qrules_rule_files} ${_qrules_example_files})
qrules_cli_test(fmt_check_rules 0 ARGS fmt --check ${_qrules_rule_files} ${_qrules_example_files} REGEX "^$")
# A file with an error: exit 1, clang-style text with the code.
qrules_cli_test(lint_error_exit_1 1 ARGS lint tests/golden/lint/unknown_dtype.qrules
  REGEX "unknown_dtype.qrules:4:10: error: unknown dtype 'int7' \\[unknown-dtype\\]")
# Warnings alone keep exit 0; --werror turns them into exit 1.
qrules_cli_test(lint_warning_exit_0 0 ARGS lint tests/golden/lint/unescaped_dot.qrules REGEX "warning: .*\\[unescaped-dot\\]")
qrules_cli_test(lint_werror_exit_1 1 ARGS lint --werror tests/golden/lint/unescaped_dot.qrules
  REGEX "error: .*\\[unescaped-dot\\]")
# fmt --check names an unformatted file and exits 1.
qrules_cli_test(fmt_check_unformatted 1 ARGS fmt --check tests/golden/lint/duplicate_entry.qrules REGEX "not formatted")
# I/O and usage problems: exit 2.
qrules_cli_test(lint_missing_file_exit_2 2 ARGS lint does/not/exist.qrules REGEX "cannot read file.*\\[io-error\\]")
qrules_cli_test(fmt_missing_file_exit_2 2 ARGS fmt does/not/exist.qrules REGEX "cannot read file")
qrules_cli_test(unknown_command 2 ARGS lnt REGEX "unknown command 'lnt', did you mean 'lint'\\?")
qrules_cli_test(lint_no_files 2 ARGS lint)
qrules_cli_test(lint_bad_format 2 ARGS lint --format xml rules/w8.qrules REGEX "unknown format 'xml'")
qrules_cli_test(version 0 ARGS --version REGEX "^qrules ${PROJECT_VERSION}\n$")
qrules_cli_test(help 0 ARGS --help REGEX "usage: qrules <command>")
qrules_cli_test(list_diagnostics 0 ARGS lint --list-diagnostics REGEX "unknown-dtype +error +a dtype outside")
# Machine-readable output.
qrules_cli_test(lint_json 1 ARGS lint --format json tests/golden/lint/unknown_dtype.qrules
  REGEX "^\\[[ \n]+{[ \n]+\"file\": \"[^\"]*unknown_dtype\\.qrules\",[ \n]+\"line\": 4,[ \n]+\"column\": 10,.*\"severity\": \"error\",[ \n]+\"code\": \"unknown-dtype\",[ \n]+\"message\": \"unknown dtype 'int7'\",.*[ \n]+\\]\n$")
qrules_cli_test(lint_json_clean 0 ARGS lint --format json rules/w8a8.qrules REGEX "^\\[\\]\n$")
qrules_cli_test(lint_sarif 1 ARGS lint --format sarif tests/golden/lint/unknown_dtype.qrules
  REGEX "\"version\": \"2\\.1\\.0\".*\"ruleId\": \"unknown-dtype\"")
foreach(t lint_rules lint_rules_werror fmt_check_rules lint_error_exit_1 lint_warning_exit_0 lint_werror_exit_1
          fmt_check_unformatted lint_missing_file_exit_2 fmt_missing_file_exit_2 unknown_command lint_no_files
          lint_bad_format version help list_diagnostics lint_json lint_json_clean lint_sarif)
  set_tests_properties(cli_${t} PROPERTIES LABELS "cli;docs" TIMEOUT 120)
endforeach()
