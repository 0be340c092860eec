# SPDX-License-Identifier: MIT
# ctml.pc. Everything but the prefix is fixed at configure time; the prefix is written at
# install time, so `cmake --install build --prefix P` yields a .pc that points into P.
include_guard(GLOBAL)

function(ctml_install_pkg_config destination)
  # Prefer pkg-config names for the dependencies (Debian ships xtensor.pc, xsimd.pc,
  # simdjson.pc, zlib.pc, openblas.pc); fall back to the libraries CMake found.
  find_package(PkgConfig QUIET)
  set(_requires xtensor xsimd simdjson)
  set(_libs "")
  set(_cflags "")
  macro(_ctml_pc_module module fallback_libs)
    set(_have FALSE)
    if(PKG_CONFIG_FOUND)
      pkg_check_modules(_ctml_pc_${module} QUIET ${module})
      set(_have ${_ctml_pc_${module}_FOUND})
    endif()
    if(_have)
      list(APPEND _requires ${module})
    else()
      list(APPEND _libs ${fallback_libs})
    endif()
  endmacro()
  _ctml_pc_module(zlib "${ZLIB_LIBRARIES}")
  if(CTML_BLAS_VENDOR STREQUAL "OpenBLAS")
    _ctml_pc_module(openblas "${BLAS_LIBRARIES}")
  else()
    list(APPEND _libs ${BLAS_LIBRARIES})
    string(APPEND _cflags " -DCTML_BLAS_OPENBLAS=0")
  endif()

  list(JOIN _requires " " CTML_PC_REQUIRES)
  list(JOIN _libs " " CTML_PC_LIBS)
  set(CTML_PC_CFLAGS "${_cflags}")
  if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
    set(CTML_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
  else()
    set(CTML_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
  endif()
  set(CTML_PC_PREFIX "@CTML_PC_PREFIX@") # kept for the install-time pass
  set(_template "${PROJECT_BINARY_DIR}/ctml.pc.in")
  configure_file("${PROJECT_SOURCE_DIR}/cmake/ctml.pc.in" "${_template}" @ONLY)

  if(IS_ABSOLUTE "${destination}")
    set(_dest "${destination}")
  else()
    set(_dest "\${CMAKE_INSTALL_PREFIX}/${destination}")
  endif()
  install(CODE "
    set(CTML_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${_template}\" \"${PROJECT_BINARY_DIR}/ctml.pc\" @ONLY)
    file(INSTALL DESTINATION \"${_dest}\"
         TYPE FILE FILES \"${PROJECT_BINARY_DIR}/ctml.pc\")")
endfunction()
