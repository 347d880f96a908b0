#!/usr/bin/env bash
# README command 2: install what is missing, build, and run the whole test suite; then build it
# again with AddressSanitizer + UndefinedBehaviorSanitizer (preset "asan", ./build-asan, -O1 with
# assertions on) and run the whole suite under the sanitizers. SNODE_ASAN=0 skips the second part.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" --timeout 900)

if [ "${SNODE_ASAN:-1}" != "0" ]; then
  echo "snode: ASan + UBSan build (build-asan) and the full test suite under it"
  start=$(date +%s)
  cmake --preset asan >/dev/null
  cmake --build build-asan -j"$(nproc)"
  built=$(date +%s)
  ctest --preset asan -j"$(nproc)" --timeout 1800
  echo "snode: ASan + UBSan suite passed (build $((built - start)) s, tests $(( $(date +%s) - built )) s)"
fi
