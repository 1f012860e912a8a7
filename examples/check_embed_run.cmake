# Runs the embed_run example and checks it against figures that do not come from qrules: exit code
# 0, the float top-1 equal to the one PyTorch recorded when the model was trained
# (float_accuracy.txt, a fraction of the 300 test images; one image of slack for float summation
# order), and W8A8 within 2 points of float.
# cmake -DEXE=embed_run -DARGS=a@@b@@... -DFLOAT_ACCURACY_FILE=... -P check_embed_run.cmake
string(REPLACE "@@" ";" ARGS "${ARGS}")
execute_process(COMMAND ${EXE} ${ARGS} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc STREQUAL "0")
  message(FATAL_ERROR "embed_run exited ${rc}, expected 0\n${out}${err}")
endif()
if(NOT out MATCHES "accuracy: float ([0-9.]+)%, fake-quantized ([0-9.]+)%")
  message(FATAL_ERROR "no accuracy line in the output:\n${out}${err}")
endif()
set(float_pct ${CMAKE_MATCH_1})
set(quant_pct ${CMAKE_MATCH_2})
file(READ ${FLOAT_ACCURACY_FILE} recorded)
string(STRIP "${recorded}" recorded)
if(NOT recorded MATCHES "^0\\.([0-9][0-9][0-9][0-9])$")
  message(FATAL_ERROR "float_accuracy.txt holds '${recorded}', expected a fraction such as 0.8400")
endif()
# All three in hundredths of a percent, as integers (leading zeros stripped): 0.8400 -> 8400.
function(to_bp out text)
  string(REPLACE "." "" digits "${text}")
  string(REGEX REPLACE "^0+([0-9])" "\\1" digits "${digits}")
  set(${out} ${digits} PARENT_SCOPE)
endfunction()
to_bp(recorded_bp "${CMAKE_MATCH_1}")
to_bp(float_bp "${float_pct}")
to_bp(quant_bp "${quant_pct}")
math(EXPR float_diff "${float_bp} - ${recorded_bp}")
math(EXPR drop "${float_bp} - ${quant_bp}")
# One image of 300 is 33.3 hundredths of a point.
if(float_diff GREATER 34 OR float_diff LESS -34)
  message(FATAL_ERROR "float accuracy ${float_pct}% differs from the recorded ${recorded} by more than one image")
endif()
if(drop GREATER 200)
  message(FATAL_ERROR "W8A8 accuracy ${quant_pct}% is more than 2 points below float ${float_pct}%")
endif()
message(STATUS "float ${float_pct}% (recorded ${recorded}), W8A8 ${quant_pct}%")
