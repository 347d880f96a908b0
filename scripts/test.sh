#!/usr/bin/env bash
# README command 2: install what is missing (the study's packages and the test packages: GoogleTest,
# Google Benchmark, Fashion-MNIST, chromium), build everything in ./build (reusing what command 1
# built there), and run the whole test suite; then build it again with AddressSanitizer +
# UndefinedBehaviorSanitizer (preset "asan", ./build-asan, -O1 with assertions on, no benchmarks)
# and run the suite under the sanitizers, less the long studies that only re-run code the unit
# tests already cover (the asan test preset's filter; docs/decisions.md). SNODE_ASAN=0 skips the
# second part. The Release phase includes the Python module's pytest suite, and as root the module
# is then installed for python3 (scripts/install_python.sh). Each phase prints its wall time. The
# MPI tests (label "mpi") start mpirun, which refuses to run as root unless told: the two OpenMPI
# variables below allow it (CI runs as root); the sanitized run leaves them out (OpenMPI's own
# allocations show as leaks; docs/decisions.md).
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$(dirname "$0")/.."
phase_start=$(date +%s)
phase() {  # phase NAME: the time since the previous phase
  local now
  now=$(date +%s)
  echo "snode: $1 took $((now - phase_start)) s"
  phase_start=$now
}

bash scripts/build.sh
phase "setup + Release build"
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900)
phase "Release tests"
# The Python module (pytest ran above as the ctest "python_tests"): importable from any directory
# afterwards when run as root; otherwise PYTHONPATH=build/python (docs/python.md).
if [ "$(id -u)" -eq 0 ] && ls build/python/snode/_snode*.so >/dev/null 2>&1; then
  bash scripts/install_python.sh
fi

if [ "${SNODE_ASAN:-1}" != "0" ]; then
  echo "snode: ASan + UBSan build (build-asan) and the test suite under it"
  cmake --preset asan >/dev/null
  cmake --build build-asan -j"$(nproc)"
  phase "ASan + UBSan build"
  ctest --preset asan -j"$(nproc)" --timeout 1800
  phase "ASan + UBSan tests"
  echo "snode: ASan + UBSan suite passed"
fi
