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

# CUDA as a language of this build (the CUDA tests, the examples built as CUDA sources, the CUDA
# benchmark). A macro: enable_language must run in the directory scope of the targets. The
# architectures default to the data-centre GPUs the engine is tuned for: 80 (A100) and 90
# (H100/H200); each entry adds an nvcc pass per CUDA source.
macro(ctml_enable_cuda_language)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING
        "CUDA architectures the CUDA sources are built for (80: A100, 90: H100/H200)")
  endif()
  enable_language(CUDA)
endmacro()
