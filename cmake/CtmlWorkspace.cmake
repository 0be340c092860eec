# SPDX-License-Identifier: MIT
# The workspace component: ctml::workspace, an INTERFACE target for the headers under
# include/ctml/workspace (SQLite for the store, libcurl for dataset URLs, OpenSSL's libcrypto for
# SHA-256). The trainer half (ctml::ctml, include/ctml/run) needs none of them.
include_guard(GLOBAL)

# ctml_find_workspace_deps(<found_var>): finds SQLite3, CURL and OpenSSL (Crypto) quietly.
function(ctml_find_workspace_deps found_var)
  find_package(SQLite3 QUIET)
  find_package(CURL QUIET)
  find_package(OpenSSL QUIET COMPONENTS Crypto)
  if(SQLite3_FOUND AND CURL_FOUND AND OpenSSL_FOUND)
    set(${found_var} ON PARENT_SCOPE)
  else()
    set(${found_var} OFF PARENT_SCOPE)
    message(STATUS "ctml: workspace component off (SQLite3=${SQLite3_FOUND} CURL=${CURL_FOUND} "
                   "OpenSSL=${OpenSSL_FOUND}; scripts/setup_deps.sh installs them)")
  endif()
endfunction()

# ctml_add_workspace_target(): ctml_workspace + alias ctml::workspace.
function(ctml_add_workspace_target)
  find_package(SQLite3 REQUIRED)
  find_package(CURL REQUIRED)
  find_package(OpenSSL REQUIRED COMPONENTS Crypto)
  find_package(Threads REQUIRED)
  add_library(ctml_workspace INTERFACE)
  add_library(ctml::workspace ALIAS ctml_workspace)
  set_target_properties(ctml_workspace PROPERTIES EXPORT_NAME workspace)
  target_link_libraries(ctml_workspace INTERFACE ctml SQLite::SQLite3 CURL::libcurl
                                                 OpenSSL::Crypto Threads::Threads)
  target_compile_definitions(ctml_workspace INTERFACE CTML_WITH_WORKSPACE=1)
endfunction()
