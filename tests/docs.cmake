# Documentation and shipped rule files: the language reference's examples, rules/ and examples/
# (docs_tests), and the qrules CLI's contract (exit codes, output formats) as ctest cases.
#
# This file is also a `cmake -P` script: run with -DQRULES_CHECK_EXE=... it executes one CLI
# command and checks its exit code and output (see the script-mode branch at the end).

if(NOT CMAKE_SCRIPT_MODE_FILE)
  qrules_add_test(docs_tests ${CMAKE_CURRENT_LIST_DIR}/unit/docs_test.cc)
  target_link_libraries(docs_tests PRIVATE qrules_sema qrules_format qrules_ops)
  # The test reads these; rebuild nothing when they change, just rerun.
  set(_qrules_root ${PROJECT_SOURCE_DIR})

  file(GLOB _qrules_rule_files ${_qrules_root}/rules/*.qrules)
  file(GLOB _qrules_example_files ${_qrules_root}/examples/*.qrules)

  # qrules_cli_test(NAME RC REGEX ARGS...): run `qrules ARGS...` in the source tree; pass when the
  # exit code is RC and the combined stdout+stderr, with each line break turned into one space and
  # trailing space removed, matches REGEX ("" = any output).  Arguments are joined with "@@" into
  # one -D value and split again by the script.
  function(qrules_cli_test name rc regex)
    string(REPLACE ";" "@@" _args "${ARGN}")
    add_test(NAME cli_${name}
      COMMAND ${CMAKE_COMMAND}
        -DQRULES_CHECK_EXE=$<TARGET_FILE:qrules_cli>
        "-DQRULES_CHECK_ARGS=${_args}"
        -DQRULES_CHECK_RC=${rc}
        "-DQRULES_CHECK_REGEX=${regex}"
        -P ${CMAKE_CURRENT_LIST_FILE}
      WORKING_DIRECTORY ${_qrules_root})
    set_tests_properties(cli_${name} PROPERTIES LABELS "cli;docs" TIMEOUT 120)
  endfunction()

  # Every preset and example lints clean (exit 0, not one warning) and is in canonical form.
  qrules_cli_test(lint_rules 0 "^$" lint ${_qrules_rule_files} ${_qrules_example_files})
  qrules_cli_test(lint_rules_werror 0 "" lint --werror ${_qrules_rule_files} ${_qrules_example_files})
  qrules_cli_test(fmt_check_rules 0 "^$" fmt --check ${_qrules_rule_files} ${_qrules_example_files})
  # A file with an error: exit 1, clang-style text with the code.
  qrules_cli_test(lint_error_exit_1 1 "unknown_dtype.qrules:4:10: error: unknown dtype 'int7' \\[unknown-dtype\\]"
    lint tests/golden/lint/unknown_dtype.qrules)
  # Warnings alone keep exit 0; --werror turns them into exit 1.
  qrules_cli_test(lint_warning_exit_0 0 "warning: .*\\[unescaped-dot\\]" lint tests/golden/lint/unescaped_dot.qrules)
  qrules_cli_test(lint_werror_exit_1 1 "error: .*\\[unescaped-dot\\]" lint --werror tests/golden/lint/unescaped_dot.qrules)
  # fmt --check names an unformatted file and exits 1.
  qrules_cli_test(fmt_check_unformatted 1 "not formatted" fmt --check tests/golden/lint/duplicate_entry.qrules)
  # I/O and usage problems: exit 2.
  qrules_cli_test(lint_missing_file_exit_2 2 "cannot read file.*\\[io-error\\]" lint does/not/exist.qrules)
  qrules_cli_test(fmt_missing_file_exit_2 2 "cannot read file" fmt does/not/exist.qrules)
  qrules_cli_test(unknown_command 2 "unknown command 'lnt', did you mean 'lint'\\?" lnt)
  qrules_cli_test(lint_no_files 2 "" lint)
  qrules_cli_test(lint_bad_format 2 "unknown format 'xml'" lint --format xml rules/w8.qrules)
  qrules_cli_test(version 0 "^qrules ${PROJECT_VERSION}$" --version)
  qrules_cli_test(help 0 "usage: qrules <command>" --help)
  qrules_cli_test(list_diagnostics 0 "unknown-dtype +error +a dtype outside" lint --list-diagnostics)
  # Machine-readable output.
  qrules_cli_test(lint_json 1
    "^\\[ +{ +\"file\": \"[^\"]*unknown_dtype\\.qrules\", +\"line\": 4, +\"column\": 10, .*\"severity\": \"error\", +\"code\": \"unknown-dtype\", +\"message\": \"unknown dtype 'int7'\",.* +\\]$"
    lint --format json tests/golden/lint/unknown_dtype.qrules)
  qrules_cli_test(lint_json_clean 0 "^\\[\\]$" lint --format json rules/w8a8.qrules)
  qrules_cli_test(lint_sarif 1 "\"version\": \"2\\.1\\.0\".*\"ruleId\": \"unknown-dtype\""
    lint --format sarif tests/golden/lint/unknown_dtype.qrules)
  return()
endif()

# --- script mode: one CLI check ------------------------------------------------------------------
string(REPLACE "@@" ";" _args "${QRULES_CHECK_ARGS}")
execute_process(COMMAND ${QRULES_CHECK_EXE} ${_args}
  RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _err)
set(_all "${_out}${_err}")
string(REPLACE "\r\n" " " _all "${_all}")
string(REPLACE "\n" " " _all "${_all}")
string(REGEX REPLACE " +$" "" _all "${_all}")
set(_failed FALSE)
if(NOT "${_rc}" STREQUAL "${QRULES_CHECK_RC}")
  message(SEND_ERROR "exit code ${_rc}, expected ${QRULES_CHECK_RC}")
  set(_failed TRUE)
endif()
if(NOT "${QRULES_CHECK_REGEX}" STREQUAL "" AND NOT _all MATCHES "${QRULES_CHECK_REGEX}")
  message(SEND_ERROR "output does not match: ${QRULES_CHECK_REGEX}")
  set(_failed TRUE)
endif()
if(_failed)
  message(FATAL_ERROR "command: ${QRULES_CHECK_EXE} ${_args}\n--- stdout ---\n${_out}\n--- stderr ---\n${_err}")
endif()
