#!/usr/bin/env bash
# Installs the Debian packages snode needs (toolchain included). Idempotent and quick when all is
# present: it asks dpkg first and calls apt-get only for what is missing. Needs root (or sudo).
#   scripts/setup.sh           what the stiffness study needs to build and run, gnuplot for its
#                              report's figures included (README command 1)
#   scripts/setup.sh --tests   that, plus what the test suite, the benchmarks and the MNIST app
#                              need (README command 2): GoogleTest, Google Benchmark,
#                              Fashion-MNIST, and chromium for the headless-browser test of the
#                              study's report (ctest label "browser"; fonts-dejavu-core: the
#                              figures' "Sans" text, which chromium only recommends), the
#                              Python module's: pybind11, Python's headers, numpy, pytest and
#                              PyTorch (the snode.torch bridge and its tests), and OpenMPI for the
#                              data-parallel build and its tests (ctest label "mpi"; CMake finds it
#                              and turns SNODE_MPI on)
set -euo pipefail

packages=(
  g++ make cmake pkg-config git
  libsundials-dev libeigen3-dev libboost-program-options-dev nlohmann-json3-dev zlib1g-dev
  liblbfgs-dev gnuplot-nox
)
case "${1:-}" in
  --tests)
    packages+=(googletest libgtest-dev libbenchmark-dev dataset-fashion-mnist chromium
      fonts-dejavu-core pybind11-dev python3-dev python3-numpy python3-pytest python3-torch
      libopenmpi-dev openmpi-bin)
    ;;
  "") ;;
  *)
    echo "scripts/setup.sh: unknown argument '$1' (usage: scripts/setup.sh [--tests])" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "snode setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "snode setup: done"
