# SPDX-License-Identifier: MIT
# One generated translation unit per public header that includes only that header, compiled as
# one object library with warnings as errors: a header that forgets an include fails here.
# Used by the main build (CMAKE_CXX_COMPILER) and by tests/self_contained (another compiler).
include_guard(GLOBAL)

# ctml_add_self_contained_check(<target> <ctml source dir> [CUDA] [EXCLUDE_FROM_ALL])
#   C++: include/ctml/**/*.hpp except detail/ folders (internals need not stand alone).
#   CUDA: include/ctml/**/*.cuh, compiled by nvcc against ctml::cuda.
function(ctml_add_self_contained_check target source_dir)
  cmake_parse_arguments(PARSE_ARGV 2 _arg "CUDA;EXCLUDE_FROM_ALL" "" "")
  if(_arg_CUDA)
    set(_pattern "*.cuh")
    set(_ext "cu")
  else()
    set(_pattern "*.hpp")
    set(_ext "cpp")
  endif()
  file(GLOB_RECURSE _headers CONFIGURE_DEPENDS RELATIVE "${source_dir}/include"
       "${source_dir}/include/ctml/${_pattern}")
  list(FILTER _headers EXCLUDE REGEX "(^|/)detail/")
  list(SORT _headers)
  set(_sources "")
  foreach(_header IN LISTS _headers)
    set(_tu "${CMAKE_CURRENT_BINARY_DIR}/${target}/${_header}.${_ext}")
    # file(CONFIGURE) rewrites only on change, so an unchanged header is not recompiled.
    file(CONFIGURE OUTPUT "${_tu}" CONTENT "// generated: ${_header} must compile on its own\n#include <${_header}>\n" @ONLY)
    list(APPEND _sources "${_tu}")
  endforeach()
  if(NOT _sources)
    return()
  endif()
  if(_arg_EXCLUDE_FROM_ALL)
    add_library(${target} OBJECT EXCLUDE_FROM_ALL ${_sources})
  else()
    add_library(${target} OBJECT ${_sources})
  endif()
  if(_arg_CUDA)
    target_link_libraries(${target} PRIVATE ctml::cuda)
    ctml_cuda_warnings(${target})
  else()
    target_link_libraries(${target} PRIVATE ctml::ctml)
    # Headers of optional components find their dependencies' headers (dist/mpi.hpp: mpi.h).
    if(TARGET ctml::dist)
      target_link_libraries(${target} PRIVATE ctml::dist)
    endif()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Werror)
  endif()
  list(LENGTH _sources _count)
  message(STATUS "ctml: ${target}: ${_count} headers")
endfunction()
