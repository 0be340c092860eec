# SPDX-License-Identifier: MIT
# Submission and distributed training (include/ctml/compute, include/ctml/dist):
#   ctml::compute  the submitter (header-only on top of ctml::workspace; Slurm and OpenMPI are
#                  programs it runs, not libraries it links)
#   ctml::dist     the MPI communicator for data-parallel trainers (MPI::MPI_CXX), on when an
#                  MPI is found (Debian: libopenmpi-dev)
# Included from the top-level CMakeLists.txt after the tests are declared, so that it can give
# tests/compute and tests/dist what they link.
include_guard(GLOBAL)

if(TARGET ctml::workspace AND NOT TARGET ctml_compute)
  add_library(ctml_compute INTERFACE)
  add_library(ctml::compute ALIAS ctml_compute)
  set_target_properties(ctml_compute PROPERTIES EXPORT_NAME compute)
  target_link_libraries(ctml_compute INTERFACE ctml_workspace)
endif()

find_package(MPI QUIET COMPONENTS CXX)
if(MPI_CXX_FOUND AND NOT TARGET ctml_dist)
  add_library(ctml_dist INTERFACE)
  add_library(ctml::dist ALIAS ctml_dist)
  set_target_properties(ctml_dist PROPERTIES EXPORT_NAME dist)
  target_link_libraries(ctml_dist INTERFACE ctml MPI::MPI_CXX)
  target_compile_definitions(ctml_dist INTERFACE CTML_WITH_MPI=1)
elseif(NOT MPI_CXX_FOUND)
  message(STATUS "ctml: no MPI found: ctml::dist off (Debian: libopenmpi-dev)")
endif()

if(CTML_BUILD_TESTS)
  # tests/compute/test_*.cpp submit runs: they need the workspace.
  file(GLOB _ctml_compute_tests CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/tests/compute/test_*.cpp")
  foreach(_src IN LISTS _ctml_compute_tests)
    get_filename_component(_stem "${_src}" NAME_WE)
    foreach(_t ${_stem} compute_${_stem})
      if(TARGET ${_t})
        if(TARGET ctml::compute)
          target_link_libraries(${_t} PRIVATE ctml::compute)
        else()
          set_target_properties(${_t} PROPERTIES EXCLUDE_FROM_ALL ON)
        endif()
      endif()
    endforeach()
  endforeach()
  # tests/dist/test_*.cpp: the communicator; with MPI they link ctml::dist.
  file(GLOB _ctml_dist_tests CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/tests/dist/test_*.cpp")
  foreach(_src IN LISTS _ctml_dist_tests)
    get_filename_component(_stem "${_src}" NAME_WE)
    foreach(_t ${_stem} dist_${_stem})
      if(TARGET ${_t} AND TARGET ctml::dist)
        target_link_libraries(${_t} PRIVATE ctml::dist)
      endif()
    endforeach()
  endforeach()
  # Helper programs of the compute and dist tests (tests/compute/*.cpp, tests/dist/*.cpp that are
  # not test_*.cpp): built into <build>/tests/<area>/ where the tests find them.
  foreach(_area compute dist)
    file(GLOB _ctml_helpers CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/tests/${_area}/*.cpp")
    foreach(_src IN LISTS _ctml_helpers)
      get_filename_component(_stem "${_src}" NAME_WE)
      if(_stem MATCHES "^test_")
        continue()
      endif()
      if((_area STREQUAL "dist" AND NOT TARGET ctml::dist) OR
         (_area STREQUAL "compute" AND NOT TARGET ctml::compute))
        continue()
      endif()
      set(_t ctml_${_area}_${_stem})
      add_executable(${_t} "${_src}")
      target_link_libraries(${_t} PRIVATE ctml::ctml)
      if(_area STREQUAL "compute")
        target_link_libraries(${_t} PRIVATE ctml::compute)
        add_dependencies(${_t} ctml_supervise)
      endif()
      if(_area STREQUAL "dist")
        target_link_libraries(${_t} PRIVATE ctml::dist)
      endif()
      target_compile_options(${_t} PRIVATE ${CTML_WARNINGS})
      set_target_properties(${_t} PROPERTIES OUTPUT_NAME ${_stem}
                            RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/tests/${_area}")
    endforeach()
  endforeach()
endif()

# examples/keras_mnist.cpp trains data-parallel under mpirun when it links ctml::dist (whose
# CTML_WITH_MPI=1 it tests); without MPI it is the one-process trainer.
if(TARGET keras_mnist AND TARGET ctml::dist)
  target_link_libraries(keras_mnist PRIVATE ctml::dist)
endif()

# examples/submit_keras_mnist.cpp submits through the workspace.
if(TARGET submit_keras_mnist)
  if(TARGET ctml::compute)
    target_link_libraries(submit_keras_mnist PRIVATE ctml::compute)
  else()
    set_target_properties(submit_keras_mnist PROPERTIES EXCLUDE_FROM_ALL ON)
  endif()
endif()

# The supervisor program of submitted runs (tools/ctml_supervise.cpp). The submitter finds it
# through CTML_SUPERVISOR_PROGRAM (this build's path; the installed one after install), then
# CTML_SUPERVISOR, then PATH.
if(TARGET ctml::compute AND (CTML_BUILD_TOOLS OR CTML_BUILD_TESTS OR CTML_BUILD_EXAMPLES))
  add_executable(ctml_supervise "${PROJECT_SOURCE_DIR}/tools/ctml_supervise.cpp")
  target_link_libraries(ctml_supervise PRIVATE ctml::compute)
  target_compile_options(ctml_supervise PRIVATE -Wall -Wextra -Wpedantic -Werror)
  set_target_properties(ctml_supervise PROPERTIES OUTPUT_NAME ctml-supervise
                        RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/tools")
  target_compile_definitions(ctml_compute INTERFACE
    "$<BUILD_INTERFACE:CTML_SUPERVISOR_PROGRAM=\"$<TARGET_FILE:ctml_supervise>\">"
    "$<INSTALL_INTERFACE:CTML_SUPERVISOR_PROGRAM=\"${CMAKE_INSTALL_FULL_BINDIR}/ctml-supervise\">")
  if(CTML_INSTALL)
    install(TARGETS ctml_supervise RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  endif()
  # Everything that submits needs the program built first.
  foreach(_t test_submit_local test_submit_slurm test_submit_mpi submit_keras_mnist ctml_cli)
    if(TARGET ${_t})
      add_dependencies(${_t} ctml_supervise)
    endif()
  endforeach()
endif()
