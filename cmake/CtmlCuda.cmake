# SPDX-License-Identifier: MIT
# CUDA detection for the CTML_WITH_CUDA default. Tests need nvcc; a consumer of ctml::cuda only
# needs the toolkit's libraries, so without tests the toolkit alone is enough.
include_guard(GLOBAL)

function(ctml_detect_cuda out_var)
  set(_found OFF)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND)
    if(CTML_BUILD_TESTS)
      # nvcc is often installed outside PATH (/usr/local/cuda/bin); check_language runs a child
      # CMake, which sees CUDACXX from our environment.
      if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND CUDAToolkit_NVCC_EXECUTABLE)
        set(ENV{CUDACXX} "${CUDAToolkit_NVCC_EXECUTABLE}")
      endif()
      include(CheckLanguage)
      check_language(CUDA)
      if(CMAKE_CUDA_COMPILER)
        set(_found ON)
      endif()
    else()
      set(_found ON)
    endif()
  endif()
  set(${out_var} ${_found} PARENT_SCOPE)
endfunction()

# Warnings as errors for nvcc and, through -Xcompiler, for the host compiler. C++20 is passed by
# hand: CMake 3.25 does not know the C++20 flag of nvcc 13 (CUDA_STANDARD 20 fails at configure).
function(ctml_cuda_warnings target)
  target_compile_options(${target} PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>
    "$<$<COMPILE_LANGUAGE:CUDA>:SHELL:-Werror all-warnings>"
    "$<$<COMPILE_LANGUAGE:CUDA>:SHELL:-Xcompiler -Wall,-Wextra,-Werror>"
    "$<$<COMPILE_LANGUAGE:CXX>:-Wall;-Wextra;-Wpedantic;-Werror>")
endfunction()
