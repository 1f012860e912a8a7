# Runs CMD (a ;-list) and checks its exit code (EXPECT_CODE) and that its combined output matches
# every regex in EXPECT_REGEX (a ;-list).  Used by the CLI cases in tests/cli.cmake.
string(REPLACE "@@" ";" CMD "${CMD}")
string(REPLACE "@@" ";" EXPECT_REGEX "${EXPECT_REGEX}")
execute_process(COMMAND ${CMD} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err
                WORKING_DIRECTORY ${WORKDIR})
set(all "${out}${err}")
if(NOT code STREQUAL EXPECT_CODE)
  message(FATAL_ERROR "exit code ${code}, expected ${EXPECT_CODE}\n${all}")
endif()
foreach(re IN LISTS EXPECT_REGEX)
  if(NOT all MATCHES "${re}")
    message(FATAL_ERROR "output does not match '${re}':\n${all}")
  endif()
endforeach()
