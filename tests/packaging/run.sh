#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Packaging tests, one mode per CTest test (packaging.<mode>):
#   install           cmake --install the build into $CTML_BUILD_DIR/packaging/prefix
#   find_package      CMake consumer, find_package(ctml) from that prefix (+ the cuda component)
#   pkg_config        c++ main.cpp $(pkg-config --cflags --libs ctml) against that prefix
#   meson             meson consumer, dependency('ctml') through the installed ctml.pc
#   add_subdirectory  CMake consumer, add_subdirectory(<ctml source>)
#   fetchcontent      CMake consumer, FetchContent_MakeAvailable(ctml)
#   meson_subproject  meson consumer with ctml as subprojects/ctml
#   meson_install     ctml's own meson.build installs into a second prefix; meson consumer uses it
# Environment (CTest sets it): CTML_SOURCE_DIR CTML_BUILD_DIR CTML_CMAKE CTML_CXX CTML_VERSION
# CTML_WITH_CUDA, optionally CTML_CCACHE.
set -euo pipefail
mode="${1:?usage: run.sh <mode>}"
src="${CTML_SOURCE_DIR:?}"
build="${CTML_BUILD_DIR:?}"
cmake="${CTML_CMAKE:-cmake}"
cxx="${CTML_CXX:-c++}"
version="${CTML_VERSION:?}"
consumer="$src/tests/packaging/consumer"
work="$build/packaging"
prefix="$work/prefix"
tmp="$work/$mode"
rm -rf "$tmp"
mkdir -p "$tmp"

run() { printf '+ %s\n' "$*"; "$@"; }

cmake_consumer() { # <build dir> <cmake args...>
  local dir="$1"; shift
  local args=(-S "$consumer" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER="$cxx"
              -DCTML_EXPECTED_VERSION="$version" -DCTML_SOURCE_DIR="$src")
  if command -v ninja >/dev/null; then args+=(-G Ninja); fi
  if [[ -n "${CTML_CCACHE:-}" ]]; then args+=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CTML_CCACHE"); fi
  run "$cmake" "${args[@]}" "$@"
  run "$cmake" --build "$dir"
  run "$dir/consumer"
}

meson_consumer() { # <source dir> <build dir> <meson args...>
  command -v meson >/dev/null || { echo "SKIP: meson not installed"; exit 77; }
  local source="$1" dir="$2"; shift 2
  run env CXX="$cxx" meson setup "$dir" "$source" -Dexpected_version="$version" "$@"
  run meson compile -C "$dir"
  run "$dir/consumer"
}

case "$mode" in
  install)
    rm -rf "$prefix"
    run "$cmake" --install "$build" --prefix "$prefix"
    for f in include/ctml/config.hpp share/cmake/ctml/ctmlConfig.cmake \
             share/cmake/ctml/ctmlConfigVersion.cmake share/cmake/ctml/ctmlTargets.cmake \
             share/pkgconfig/ctml.pc; do
      [[ -f "$prefix/$f" ]] || { echo "FAIL: $f not installed"; exit 1; }
    done
    if [[ "${CTML_WITH_CUDA:-OFF}" == "ON" && ! -f "$prefix/share/cmake/ctml/ctmlCudaTargets.cmake" ]]; then
      echo "FAIL: CTML_WITH_CUDA=ON but ctmlCudaTargets.cmake not installed"; exit 1
    fi
    echo "installed into $prefix:"
    (cd "$prefix" && find . -type f | sort | sed 's/^/  /')
    ;;
  find_package)
    cuda=OFF
    [[ "${CTML_WITH_CUDA:-OFF}" == "ON" ]] && cuda=ON
    cmake_consumer "$tmp/build" -DCTML_CONSUME=find_package -DCMAKE_PREFIX_PATH="$prefix" \
                   -DCTML_EXPECT_CUDA="$cuda"
    if [[ "$cuda" == "ON" ]]; then
      run "$tmp/build/consumer_cuda"
    fi
    # A prefix without the CUDA targets file must still serve consumers that do not ask for it,
    # and refuse (with a reason) those that do.
    cp -r "$prefix" "$tmp/prefix-nocuda"
    rm -f "$tmp/prefix-nocuda/share/cmake/ctml/ctmlCuda"*
    cmake_consumer "$tmp/build-nocuda" -DCTML_CONSUME=find_package \
                   -DCMAKE_PREFIX_PATH="$tmp/prefix-nocuda" -DCTML_EXPECT_CUDA=OFF
    if "$cmake" -S "$consumer" -B "$tmp/build-nocuda-ask" -DCTML_CONSUME=find_package \
         -DCMAKE_PREFIX_PATH="$tmp/prefix-nocuda" -DCTML_EXPECT_CUDA=ON \
         -DCTML_EXPECTED_VERSION="$version" >"$tmp/ask.log" 2>&1; then
      echo "FAIL: find_package(ctml COMPONENTS cuda) succeeded on a prefix without CUDA"; exit 1
    fi
    grep -q "installed without CUDA" "$tmp/ask.log" ||
      { cat "$tmp/ask.log"; echo "FAIL: no reason given for the missing cuda component"; exit 1; }
    echo "a prefix without CUDA: usable, and the cuda component is refused with a reason"
    ;;
  pkg_config)
    export PKG_CONFIG_PATH="$prefix/share/pkgconfig"
    got="$(pkg-config --modversion ctml)"
    [[ "$got" == "$version" ]] || { echo "FAIL: pkg-config says ctml $got, expected $version"; exit 1; }
    echo "pkg-config --cflags --libs ctml: $(pkg-config --cflags --libs ctml)"
    # shellcheck disable=SC2046 # word splitting of the flags is the point
    run "$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Werror \
        -DCTML_EXPECTED_VERSION="\"$version\"" "$consumer/main.cpp" -o "$tmp/consumer" \
        $(pkg-config --cflags --libs ctml)
    run "$tmp/consumer"
    ;;
  meson)
    meson_consumer "$consumer" "$tmp/build" --pkg-config-path="$prefix/share/pkgconfig" \
                   --wrap-mode=nofallback
    ;;
  add_subdirectory)
    cmake_consumer "$tmp/build" -DCTML_CONSUME=add_subdirectory
    ;;
  fetchcontent)
    cmake_consumer "$tmp/build" -DCTML_CONSUME=fetchcontent
    ;;
  meson_subproject)
    mkdir -p "$tmp/consumer/subprojects"
    cp "$consumer/meson.build" "$consumer/meson_options.txt" "$consumer/main.cpp" "$tmp/consumer/"
    ln -s "$src" "$tmp/consumer/subprojects/ctml"
    meson_consumer "$tmp/consumer" "$tmp/build" --force-fallback-for=ctml
    ;;
  meson_install)
    command -v meson >/dev/null || { echo "SKIP: meson not installed"; exit 77; }
    run env CXX="$cxx" meson setup "$tmp/ctml-build" "$src" --prefix="$tmp/prefix" \
        -Dtests=false -Dexamples=false
    run meson install -C "$tmp/ctml-build"
    [[ -f "$tmp/prefix/include/ctml/config.hpp" ]] || { echo "FAIL: headers not installed"; exit 1; }
    pc="$(find "$tmp/prefix" -name ctml.pc | head -n 1)"
    [[ -n "$pc" ]] || { echo "FAIL: meson installed no ctml.pc"; exit 1; }
    echo "meson's ctml.pc:"; sed 's/^/  /' "$pc"
    meson_consumer "$consumer" "$tmp/build" --pkg-config-path="$(dirname "$pc")" \
                   --wrap-mode=nofallback
    ;;
  *)
    echo "unknown mode '$mode'"; exit 2 ;;
esac
echo "packaging.$mode: OK"
