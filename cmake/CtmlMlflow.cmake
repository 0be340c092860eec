# SPDX-License-Identifier: MIT
# tests/mlflow/ and benchmarks/mlflow_logging.py: the stand-in trainer they drive
# (tests/mlflow/mlflow_driver.cpp), built as <build>/tests/mlflow/ctml_mlflow_driver. It uses the
# trainer half only (ctml::ctml); the tests need the `ctml` command (tools/) for the rest.
include_guard(GLOBAL)
if(CTML_BUILD_TESTS AND TARGET ctml::workspace)
  add_executable(ctml_mlflow_driver "${PROJECT_SOURCE_DIR}/tests/mlflow/mlflow_driver.cpp")
  target_link_libraries(ctml_mlflow_driver PRIVATE ctml::ctml)
  target_compile_options(ctml_mlflow_driver PRIVATE -Wall -Wextra -Wpedantic -Werror)
  set_target_properties(ctml_mlflow_driver PROPERTIES
                        RUNTIME_OUTPUT_DIRECTORY "${PROJECT_BINARY_DIR}/tests/mlflow")
endif()
