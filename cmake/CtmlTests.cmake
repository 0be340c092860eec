# SPDX-License-Identifier: MIT
# ctml's test conventions (README.md, "Tests"). Included from the top-level CMakeLists.txt when
# CTML_BUILD_TESTS is ON; every test sees the same environment and may exit 77 to be skipped.
include_guard(GLOBAL)
include(CtmlCuda)
include(CtmlSelfContained)

set(CTML_WARNINGS -Wall -Wextra -Wpedantic -Werror)
set(CTML_PYTHON "/usr/bin/python3" CACHE FILEPATH
    "Python for tests/*/test_*.py (Debian's /usr/bin/python3 has numpy)")
if(EXISTS "${PROJECT_SOURCE_DIR}/../shared/data/mnist")
  get_filename_component(_ctml_mnist "${PROJECT_SOURCE_DIR}/../shared/data/mnist" ABSOLUTE)
else()
  set(_ctml_mnist "${PROJECT_SOURCE_DIR}/data/mnist")
endif()
set(CTML_MNIST_DIR "${_ctml_mnist}" CACHE PATH "MNIST folder the tests read (CTML_MNIST_DIR)")
find_program(CTML_BASH bash REQUIRED)

set(CTML_TEST_ENVIRONMENT
    "CTML_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
    "CTML_BUILD_DIR=${PROJECT_BINARY_DIR}"
    "CTML_PYTHON=${CTML_PYTHON}"
    "CTML_MNIST_DIR=${CTML_MNIST_DIR}")

# Areas with their own rules; everything else under tests/<area>/ follows the glob conventions.
set(_ctml_special_areas packaging compile_fail cuda self_contained)

function(_ctml_test_properties name)
  set_tests_properties(${name} PROPERTIES ENVIRONMENT "${CTML_TEST_ENVIRONMENT}"
                                          SKIP_RETURN_CODE 77 ${ARGN})
endfunction()

# Target names stay the file stem (test_random), as the provisional build had them; a stem that
# is already taken gets its area in front (io_test_model).
function(_ctml_target_name out_var stem group)
  if(TARGET ${stem})
    string(REPLACE "." "_" _prefix "${group}")
    set(${out_var} "${_prefix}_${stem}" PARENT_SCOPE)
  else()
    set(${out_var} "${stem}" PARENT_SCOPE)
  endif()
endfunction()

# tests/<area>[/<sub>]/test_<x>.<ext> -> group "<area>[.<sub>]", stem "test_<x>"; false for
# files directly in tests/ and for the special areas.
function(_ctml_split_test_path rel ok_var group_var stem_var)
  set(${ok_var} FALSE PARENT_SCOPE)
  if(NOT rel MATCHES "^([^/]+)/(.*/)?(test_[^/]+)\\.[^./]+$")
    return()
  endif()
  set(_area "${CMAKE_MATCH_1}")
  set(_sub "${CMAKE_MATCH_2}")
  set(_stem "${CMAKE_MATCH_3}")
  if(_area IN_LIST _ctml_special_areas)
    return()
  endif()
  string(REGEX REPLACE "/$" "" _sub "${_sub}")
  string(REPLACE "/" "." _sub "${_sub}")
  if(_sub)
    set(_area "${_area}.${_sub}")
  endif()
  set(${ok_var} TRUE PARENT_SCOPE)
  set(${group_var} "${_area}" PARENT_SCOPE)
  set(${stem_var} "${_stem}" PARENT_SCOPE)
endfunction()

# ---------------------------------------------------------------------------------------------
# 1. tests/<area>/test_*.cpp: one doctest executable each, CTest name <area>.<stem>.
find_package(doctest REQUIRED)
add_library(ctml_doctest_main OBJECT "${PROJECT_SOURCE_DIR}/tests/doctest_main.cpp")
target_link_libraries(ctml_doctest_main PUBLIC doctest::doctest)
target_compile_options(ctml_doctest_main PRIVATE ${CTML_WARNINGS})

file(GLOB_RECURSE _ctml_cpp_tests CONFIGURE_DEPENDS RELATIVE "${PROJECT_SOURCE_DIR}/tests"
     "${PROJECT_SOURCE_DIR}/tests/test_*.cpp")
list(SORT _ctml_cpp_tests)
foreach(_rel IN LISTS _ctml_cpp_tests)
  _ctml_split_test_path("${_rel}" _ok _group _stem)
  if(NOT _ok)
    continue()
  endif()
  # tests/run and tests/workspace exercise the store: they need ctml::workspace.
  set(_ctml_needs_workspace FALSE)
  if(_group MATCHES "^(run|workspace)(\\.|$)")
    set(_ctml_needs_workspace TRUE)
    if(NOT TARGET ctml::workspace)
      continue()
    endif()
  endif()
  _ctml_target_name(_target ${_stem} ${_group})
  add_executable(${_target} "${PROJECT_SOURCE_DIR}/tests/${_rel}")
  target_link_libraries(${_target} PRIVATE ctml::ctml ctml_doctest_main doctest::doctest)
  if(_ctml_needs_workspace)
    target_link_libraries(${_target} PRIVATE ctml::workspace)
  endif()
  target_compile_options(${_target} PRIVATE ${CTML_WARNINGS})
  add_test(NAME ${_group}.${_stem} COMMAND ${_target} WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
  _ctml_test_properties(${_group}.${_stem})
endforeach()

# The kernels with instruction-set-specific paths (AVX-512 masks and compression in the sparse
# first layer) are tested again as the examples build them, for this machine.
if(CTML_NATIVE)
  foreach(_rel kernels/test_sparse.cpp optim/test_fast_optimizers.cpp)
    _ctml_split_test_path("${_rel}" _ok _group _stem)
    add_executable(${_stem}_native "${PROJECT_SOURCE_DIR}/tests/${_rel}")
    target_link_libraries(${_stem}_native PRIVATE ctml::ctml ctml_doctest_main doctest::doctest)
    target_compile_options(${_stem}_native PRIVATE ${CTML_WARNINGS} -march=native)
    add_test(NAME ${_group}.${_stem}.native COMMAND ${_stem}_native
             WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
    _ctml_test_properties(${_group}.${_stem}.native)
  endforeach()
endif()

# ---------------------------------------------------------------------------------------------
# 2. tests/<area>/test_*.sh (bash) and test_*.py (CTML_PYTHON). A name already used by a .cpp
#    test gets the extension appended: <area>.<stem>.sh
file(GLOB_RECURSE _ctml_script_tests CONFIGURE_DEPENDS RELATIVE "${PROJECT_SOURCE_DIR}/tests"
     "${PROJECT_SOURCE_DIR}/tests/test_*.sh" "${PROJECT_SOURCE_DIR}/tests/test_*.py")
list(SORT _ctml_script_tests)
foreach(_rel IN LISTS _ctml_script_tests)
  _ctml_split_test_path("${_rel}" _ok _group _stem)
  if(NOT _ok)
    continue()
  endif()
  get_filename_component(_ext "${_rel}" LAST_EXT)
  string(SUBSTRING "${_ext}" 1 -1 _ext)
  set(_name ${_group}.${_stem})
  if(TEST ${_name})
    set(_name ${_name}.${_ext})
  endif()
  if(_ext STREQUAL "sh")
    set(_runner "${CTML_BASH}")
  else()
    set(_runner "${CTML_PYTHON}")
  endif()
  add_test(NAME ${_name} COMMAND "${_runner}" "${PROJECT_SOURCE_DIR}/tests/${_rel}"
           WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
  _ctml_test_properties(${_name})
endforeach()

# ---------------------------------------------------------------------------------------------
# 3. tests/compile_fail/<x>.cpp: compiled twice by CTest, with the flags of a real ctml target:
#    compile_fail.<x>.compiles (as is, must compile) and compile_fail.<x>.fails (with
#    -DCTML_COMPILE_FAIL: must fail, and the output must contain every `// expect: <text>`).
file(GLOB _ctml_cf_sources CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/tests/compile_fail/*.cpp")
list(SORT _ctml_cf_sources)
if(_ctml_cf_sources)
  set(_cf_dir "${PROJECT_BINARY_DIR}/compile_fail")
  file(CONFIGURE OUTPUT "${_cf_dir}/flags_carrier.cpp"
       CONTENT "// never built: its target carries ctml's usage requirements\n")
  add_library(ctml_compile_fail_flags OBJECT EXCLUDE_FROM_ALL "${_cf_dir}/flags_carrier.cpp")
  target_link_libraries(ctml_compile_fail_flags PRIVATE ctml::ctml)
  set(_tp "$<TARGET_PROPERTY:ctml_compile_fail_flags")
  file(GENERATE OUTPUT "${_cf_dir}/flags.cmake" CONTENT
"set(CTML_CF_LAUNCHER [==[${CMAKE_CXX_COMPILER_LAUNCHER}]==])
set(CTML_CF_COMPILER [==[${CMAKE_CXX_COMPILER}]==])
set(CTML_CF_FLAGS [==[${CMAKE_CXX20_STANDARD_COMPILE_OPTION};${CTML_WARNINGS}]==])
set(CTML_CF_OWN_INCLUDE [==[${PROJECT_SOURCE_DIR}/include]==])
set(CTML_CF_INCLUDES [==[${_tp},INCLUDE_DIRECTORIES>]==])
set(CTML_CF_IMPLICIT_INCLUDES [==[${CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES}]==])
set(CTML_CF_DEFINES [==[${_tp},COMPILE_DEFINITIONS>]==])
set(CTML_CF_OPTIONS [==[${_tp},COMPILE_OPTIONS>]==])
")
  foreach(_src IN LISTS _ctml_cf_sources)
    get_filename_component(_stem "${_src}" NAME_WE)
    foreach(_mode compiles fails)
      set(_name compile_fail.${_stem}.${_mode})
      add_test(NAME ${_name}
               COMMAND "${CMAKE_COMMAND}" "-DCTML_CF_SETTINGS=${_cf_dir}/flags.cmake"
                       "-DCTML_CF_SOURCE=${_src}" "-DCTML_CF_MODE=${_mode}"
                       "-DCTML_CF_OBJECT=${_cf_dir}/${_stem}.${_mode}.o"
                       -P "${PROJECT_SOURCE_DIR}/cmake/CtmlCompileFail.cmake"
               WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
      # LC_ALL=C: ASCII quotes in diagnostics, so `// expect:` texts can be plain ASCII.
      _ctml_test_properties(${_name} LABELS compile_fail)
      set_property(TEST ${_name} APPEND PROPERTY ENVIRONMENT "LC_ALL=C")
    endforeach()
  endforeach()
endif()

# ---------------------------------------------------------------------------------------------
# 4. Self-containment: every public header compiles alone. The tests self_contained.cxx (this
#    build's compiler) and self_contained.clang (clang++) each configure and build
#    tests/self_contained in a sub-build, so one bad header fails one test, not the whole build.
#    The same check is the target ctml_self_contained here (not built by default).
ctml_add_self_contained_check(ctml_self_contained "${PROJECT_SOURCE_DIR}" EXCLUDE_FROM_ALL)
# clang 18 is the first to accept the floating-point template parameters of the optimizers
# (rmsprop<0.01>); Debian 12 ships clang-19 beside its default clang 14.
find_program(CTML_CLANGXX NAMES clang++-19 clang++-18 clang++)
foreach(_pair "cxx;${CMAKE_CXX_COMPILER}" "clang;${CTML_CLANGXX}")
  list(GET _pair 0 _which)
  list(GET _pair 1 _compiler)
  add_test(NAME self_contained.${_which}
           COMMAND "${CTML_BASH}" "${PROJECT_SOURCE_DIR}/tests/self_contained/run.sh"
                   "${_compiler}" "${PROJECT_BINARY_DIR}/self_contained_${_which}")
  _ctml_test_properties(self_contained.${_which})
  set_property(TEST self_contained.${_which} APPEND PROPERTY ENVIRONMENT
               "CTML_CCACHE=${CTML_CCACHE_PROGRAM}")
endforeach()

# ---------------------------------------------------------------------------------------------
# 5. CUDA: tests/cuda/test_*.cu, built with nvcc for every CMAKE_CUDA_ARCHITECTURES entry,
#    warnings as errors (no GPU needed to build), doctest with the main of tests/cuda/gpu_main.cu:
#    without a device only their "host" suite runs and they exit 77 (skipped); label gpu. Plus
#    every .cuh compiled alone by nvcc. (tests/cuda_host/ holds g++-built tests of the CUDA
#    code's host side; they follow the ordinary conventions of part 1.)
file(GLOB _ctml_cu_tests CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/tests/cuda/test_*.cu")
list(SORT _ctml_cu_tests)
if(CTML_WITH_CUDA)
  ctml_enable_cuda_language()
  list(LENGTH _ctml_cu_tests _count)
  message(STATUS "CUDA: nvcc found (${CMAKE_CUDA_COMPILER}, ${CMAKE_CUDA_COMPILER_VERSION}), "
                 "CTML_WITH_CUDA=ON, architectures ${CMAKE_CUDA_ARCHITECTURES}, "
                 "${_count} CUDA test(s)")
  add_library(ctml_cuda_test_main OBJECT "${PROJECT_SOURCE_DIR}/tests/cuda/gpu_main.cu")
  target_link_libraries(ctml_cuda_test_main PUBLIC ctml::cuda doctest::doctest)
  ctml_cuda_warnings(ctml_cuda_test_main)
  foreach(_src IN LISTS _ctml_cu_tests)
    get_filename_component(_stem "${_src}" NAME_WE)
    _ctml_target_name(_target ${_stem} cuda)
    add_executable(${_target} "${_src}")
    target_link_libraries(${_target} PRIVATE ctml_cuda_test_main ctml::cuda doctest::doctest)
    ctml_cuda_warnings(${_target})
    add_test(NAME cuda.${_stem} COMMAND ${_target} WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
    _ctml_test_properties(cuda.${_stem} LABELS gpu)
  endforeach()
  ctml_add_self_contained_check(ctml_self_contained_cuda "${PROJECT_SOURCE_DIR}" CUDA)
  # The CUDA MNIST benchmark (benchmarks/cuda/gpu_check.sh runs it): built on request only.
  add_executable(bench_cuda_mnist EXCLUDE_FROM_ALL
                 "${PROJECT_SOURCE_DIR}/benchmarks/cuda/bench_cuda_mnist.cu")
  target_link_libraries(bench_cuda_mnist PRIVATE ctml::cuda)
  ctml_cuda_warnings(bench_cuda_mnist)
else()
  message(STATUS "CUDA: CTML_WITH_CUDA=OFF, tests/cuda not built")
endif()

# ---------------------------------------------------------------------------------------------
# 6. Packaging: install into a temporary prefix, then consume it from separate projects.
if(CTML_INSTALL)
  set(_pkg_env ${CTML_TEST_ENVIRONMENT}
      "CTML_CMAKE=${CMAKE_COMMAND}"
      "CTML_CXX=${CMAKE_CXX_COMPILER}"
      "CTML_CCACHE=${CTML_CCACHE_PROGRAM}"
      "CTML_WITH_CUDA=${CTML_WITH_CUDA}"
      "CTML_VERSION=${PROJECT_VERSION}")
  set(_pkg_script "${PROJECT_SOURCE_DIR}/tests/packaging/run.sh")
  foreach(_mode install find_package pkg_config meson add_subdirectory fetchcontent
                meson_subproject meson_install)
    add_test(NAME packaging.${_mode} COMMAND "${CTML_BASH}" "${_pkg_script}" ${_mode}
             WORKING_DIRECTORY "${PROJECT_BINARY_DIR}")
    set_tests_properties(packaging.${_mode} PROPERTIES ENVIRONMENT "${_pkg_env}"
                         SKIP_RETURN_CODE 77 LABELS packaging)
  endforeach()
  set_tests_properties(packaging.install PROPERTIES FIXTURES_SETUP ctml_prefix)
  set_tests_properties(packaging.find_package packaging.pkg_config packaging.meson
                       PROPERTIES FIXTURES_REQUIRED ctml_prefix)
endif()
