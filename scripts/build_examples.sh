#!/usr/bin/env bash
# Builds every examples/*/ CMake project against an installed snode, as a user would: nothing but
# find_package(snode) through CMAKE_PREFIX_PATH=PREFIX. Each project builds in BUILD_DIR/<name>/;
# the libraries and programs all land in BUILD_DIR itself (so the bs32 plug-in is
# BUILD_DIR/libbs32.so, the problem plug-in BUILD_DIR/libmichaelis_menten.so). A project that
# defines tests has them run (ctest).
# Usage: scripts/build_examples.sh PREFIX BUILD_DIR [--no-test]
#   e.g. cmake --install build --prefix /tmp/snode-prefix
#        bash scripts/build_examples.sh /tmp/snode-prefix build-examples
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 PREFIX BUILD_DIR [--no-test]" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
run_tests=1
[ "${3:-}" = "--no-test" ] && run_tests=0

built=0
for project in "$root"/examples/*/; do
  [ -f "$project/CMakeLists.txt" ] || continue
  name=$(basename "$project")
  echo "build_examples: $name"
  cmake -S "$project" -B "$out/$name" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$out" -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$out" >/dev/null
  cmake --build "$out/$name" -j2
  if [ "$run_tests" = 1 ] && [ -f "$out/$name/CTestTestfile.cmake" ]; then
    (cd "$out/$name" && ctest --output-on-failure --timeout 900)
  fi
  built=$((built + 1))
done
echo "build_examples: $built project(s) built in $out"
