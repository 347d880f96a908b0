#!/usr/bin/env bash
# Configures and builds snode (Release) in ./build. Extra arguments go to the configure step.
#   scripts/build.sh           everything: libraries, apps, tests, benchmarks (README command 2);
#                              installs the test packages first (scripts/setup.sh --tests)
#   scripts/build.sh --study   only the stiffness study and what it links (target `study`, README
#                              command 1); installs only the study's packages. Tests and
#                              benchmarks stay as configured before (OFF on a fresh machine).
# Both use the same build directory and flags, so the full build reuses the study's objects.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--study" ]; then
  shift
  bash scripts/setup.sh
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build build -j"$(nproc)" --target study
else
  bash scripts/setup.sh --tests
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSNODE_BUILD_TESTS=ON -DSNODE_BUILD_BENCHMARKS=ON \
    "$@" >/dev/null
  cmake --build build -j"$(nproc)"
fi
