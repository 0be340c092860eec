# SPDX-License-Identifier: MIT
# cmake -P script behind the compile_fail.* tests.
#   -DCTML_CF_SETTINGS=<flags.cmake written at generate time> -DCTML_CF_SOURCE=<file.cpp>
#   -DCTML_CF_MODE=compiles|fails -DCTML_CF_OBJECT=<output .o>
# `compiles`: the file as is must compile. `fails`: with -DCTML_COMPILE_FAIL it must not compile,
# and the diagnostics must contain the text of every `// expect: <text>` line of the file.
cmake_minimum_required(VERSION 3.21)
include("${CTML_CF_SETTINGS}")

set(_cmd ${CTML_CF_LAUNCHER} "${CTML_CF_COMPILER}" ${CTML_CF_FLAGS} ${CTML_CF_OPTIONS})
list(REMOVE_DUPLICATES CTML_CF_INCLUDES)
foreach(_dir IN LISTS CTML_CF_INCLUDES)
  if(_dir STREQUAL "")
    continue()
  elseif(_dir STREQUAL CTML_CF_OWN_INCLUDE)
    list(APPEND _cmd "-I${_dir}")
  elseif(NOT _dir IN_LIST CTML_CF_IMPLICIT_INCLUDES)
    # Dependencies as system headers, as CMake does for imported targets.
    list(APPEND _cmd -isystem "${_dir}")
  endif()
endforeach()
foreach(_def IN LISTS CTML_CF_DEFINES)
  list(APPEND _cmd "-D${_def}")
endforeach()
if(CTML_CF_MODE STREQUAL "fails")
  list(APPEND _cmd -DCTML_COMPILE_FAIL)
elseif(NOT CTML_CF_MODE STREQUAL "compiles")
  message(FATAL_ERROR "CTML_CF_MODE must be compiles or fails, not '${CTML_CF_MODE}'")
endif()
list(APPEND _cmd -c "${CTML_CF_SOURCE}" -o "${CTML_CF_OBJECT}")

file(STRINGS "${CTML_CF_SOURCE}" _expect_lines REGEX "^[ \t]*// expect: ")
set(_expected "")
foreach(_line IN LISTS _expect_lines)
  string(REGEX REPLACE "^[ \t]*// expect: " "" _text "${_line}")
  string(STRIP "${_text}" _text)
  if(_text)
    list(APPEND _expected "${_text}")
  endif()
endforeach()

list(JOIN _cmd " " _shown)
message(STATUS "${_shown}")
execute_process(COMMAND ${_cmd} RESULT_VARIABLE _rc OUTPUT_VARIABLE _out ERROR_VARIABLE _out)
file(REMOVE "${CTML_CF_OBJECT}")

if(CTML_CF_MODE STREQUAL "compiles")
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${CTML_CF_SOURCE} must compile without CTML_COMPILE_FAIL, but:\n${_out}")
  endif()
  message(STATUS "compiles, as it must")
  return()
endif()

if(NOT _expected)
  message(FATAL_ERROR "${CTML_CF_SOURCE} has no `// expect: <text>` line naming the diagnostic")
endif()
if(_rc EQUAL 0)
  message(FATAL_ERROR "${CTML_CF_SOURCE} compiled with -DCTML_COMPILE_FAIL; it must fail")
endif()
foreach(_text IN LISTS _expected)
  string(FIND "${_out}" "${_text}" _pos)
  if(_pos EQUAL -1)
    message(FATAL_ERROR "${CTML_CF_SOURCE} failed to compile, but the diagnostics lack the "
                        "expected text '${_text}':\n${_out}")
  endif()
  message(STATUS "fails as it must, with: ${_text}")
endforeach()
