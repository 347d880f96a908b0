#!/usr/bin/env bash
# The installed package, end to end (ctest label "package"): installs BUILD_DIR (default ./build,
# already built) into a temporary prefix, then builds and runs against that prefix only
#   1. tests/package/consumer: find_package(snode 0.2) + snode::adjoint, one gradient checked
#      against its closed form;
#   2. find_package(snode 0.3) must fail (the version file);
#   3. the same program compiled with `pkg-config --cflags --libs snode` (snode.pc);
#   4. every examples/*/ project (scripts/build_examples.sh, which also runs their tests: the
#      integrator contract on the bs32 plug-in and on the example tableaus, the gradient check
#      of the problem plug-in);
#   5. the installed stiffness_study with the bs32 plug-in (--plugin) under bptt,
#      backsolve_adjoint and as cvodes_adjoint's backward integrator, and with a tableau file
#      (--tableau); a tableau with a wrong coefficient must be refused;
#   6. the installed stiffness_study on the problem plug-in's problem (--plugin, --problems).
# Usage: scripts/check_package.sh [BUILD_DIR]. Exit 0 when all pass; the temporary prefix is removed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/snode_package.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in include/snode/core/errors.hpp include/snode/plugins/plugin.hpp bin/stiffness_study; do
  [ -e "$prefix/$f" ] || { echo "check_package: $f is not installed" >&2; exit 1; }
done
# The installed app runs from the prefix (shared libraries: found through its RPATH).
"$prefix/bin/stiffness_study" --list-integrators | grep -qx dopri5

echo "check_package: CMake consumer"
cmake -S "$root/tests/package/consumer" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" -j2 >/dev/null
"$work/consumer/snode_consumer"

echo "check_package: version 0.3 is refused (snodeConfigVersion.cmake, SameMinorVersion)"
mkdir -p "$work/version"
cat >"$work/version/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(snode_version_check LANGUAGES CXX)
find_package(snode 0.3 QUIET)
if(snode_FOUND)
  message(FATAL_ERROR "find_package(snode 0.3) accepted snode ${snode_VERSION}")
endif()
CMAKE
cmake -S "$work/version" -B "$work/version/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null

echo "check_package: pkg-config consumer"
pc_dir=$(dirname "$(find "$prefix" -name snode.pc | head -n 1)")
export PKG_CONFIG_PATH="$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# shellcheck disable=SC2046  # pkg-config prints several flags
"${CXX:-c++}" -O1 "$root/tests/package/consumer/main.cpp" -o "$work/pc_consumer" \
  $(pkg-config --cflags --libs snode)
# pkg-config sets no run-time path: a shared snode is found through LD_LIBRARY_PATH.
LD_LIBRARY_PATH="$(pkg-config --variable=libdir snode)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$work/pc_consumer"

if compgen -G "$root/examples/*/CMakeLists.txt" >/dev/null; then
  echo "check_package: examples"
  bash "$root/scripts/build_examples.sh" "$prefix" "$work/examples"
fi

if [ -f "$work/examples/libbs32.so" ]; then
  echo "check_package: installed stiffness_study with the bs32 plug-in and a tableau file"
  study() {
    "$prefix/bin/stiffness_study" --problems w1 --lambdas 1,100 --no-plots --quiet \
      --out "$work/study" "$@" >"$work/study.log" 2>&1 ||
      { cat "$work/study.log" >&2; echo "check_package: stiffness_study $* failed" >&2; exit 1; }
    grep -q "bs32\|bogacki_shampine" "$work/study.log" ||
      { echo "check_package: stiffness_study $* ran no plug-in method" >&2; exit 1; }
  }
  plugin=(--plugin "$work/examples/libbs32.so")
  study "${plugin[@]}" --integrator bs32 --gradient bptt
  study "${plugin[@]}" --integrator bs32 --gradient backsolve_adjoint
  study "${plugin[@]}" --integrator cvodes_bdf --gradient cvodes_adjoint --backward-integrator bs32
  study --tableau "$root/examples/tableau/bogacki_shampine.json" --integrator bogacki_shampine \
    --gradient bptt
  if "$prefix/bin/stiffness_study" --tableau "$root/examples/tableau/wrong_coefficient.json" \
    --list-integrators >"$work/wrong.log" 2>&1 || ! grep -q "fail order condition" "$work/wrong.log"; then
    echo "check_package: the wrong tableau was not refused with its failed condition" >&2
    exit 1
  fi
fi
if [ -f "$work/examples/libmichaelis_menten.so" ]; then
  echo "check_package: installed stiffness_study with the problem plug-in"
  "$prefix/bin/stiffness_study" --plugin "$work/examples/libmichaelis_menten.so" \
    --problems michaelis_menten --lambdas 10,1000 --no-plots --quiet --out "$work/problem_study" \
    >"$work/problem_study.log" 2>&1 ||
    { cat "$work/problem_study.log" >&2; echo "check_package: stiffness_study with the problem plug-in failed" >&2; exit 1; }
  grep -rq michaelis_menten "$work/problem_study" "$work/problem_study.log" ||
    { echo "check_package: stiffness_study ran no plug-in problem" >&2; exit 1; }
fi
echo "check_package: passed"
