#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang in ./build-fuzz and runs each one for
# SECONDS (default 60) from its seed corpus, then prints the executions each one made.
#   scripts/fuzz.sh            # 60 s per target
#   scripts/fuzz.sh 1800       # a long run: 30 min per target
#   FUZZ_RUNS=1000000 scripts/fuzz.sh 3600   # stop each target after 1e6 executions (or 1 h)
# Extra variables: FUZZ_JOBS (build parallelism, default 2), FUZZ_TARGETS (default: all four),
# FUZZ_RUNS (stop after this many executions; default: run for SECONDS).
# Findings (crash-*, leak-*, timeout-*) land in build-fuzz/fuzz-artifacts/<target>/; new inputs
# found during the run go to build-fuzz/fuzz-corpus/<target>/ (the committed seed corpus in
# tests/fuzz/corpus is only read). Exit status 1 when any target reported a problem.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
jobs="${FUZZ_JOBS:-2}"
targets=(${FUZZ_TARGETS:-idx_reader checkpoint options_file cli})
runs_flag=()
if [ -n "${FUZZ_RUNS:-}" ]; then runs_flag=(-runs="$FUZZ_RUNS"); fi

# Opt-in toolchain: clang and the libFuzzer/sanitizer runtime (not needed by the normal build).
fuzz_packages=(clang libclang-rt-14-dev)
missing=()
for p in "${fuzz_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "snode fuzz: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
bash scripts/setup.sh

cmake --preset fuzz >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=("${t}_fuzz"); done
cmake --build build-fuzz --target "${build_targets[@]}" -j"$jobs"

status=0
summary=()
for t in "${targets[@]}"; do
  corpus="build-fuzz/fuzz-corpus/$t"
  artifacts="build-fuzz/fuzz-artifacts/$t"
  log="build-fuzz/fuzz-$t.log"
  mkdir -p "$corpus" "$artifacts"
  echo "snode fuzz: $t for ${seconds} s${FUZZ_RUNS:+ or $FUZZ_RUNS executions}"
  # Long runs: a small ASan quarantine and no periodic purge of the allocator. With the defaults a
  # run that had grown to ~1 GB spent nearly all its time in the purge (madvise), ~60 inputs/s.
  # The command-line target: flag names as a dictionary, the apps' "error: …" lines silenced
  # (libFuzzer keeps its own reports), and a hang is a finding after 10 s.
  extra=()
  if [ "$t" = cli ]; then extra=(-dict=tests/fuzz/cli.dict -close_fd_mask=3 -timeout=10); fi
  rc=0
  ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:quarantine_size_mb=16}" \
    "build-fuzz/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" "${runs_flag[@]}" -print_final_stats=1 "${extra[@]}" \
    -rss_limit_mb=2048 -purge_allocator_interval=-1 -artifact_prefix="$artifacts/" "$corpus" "tests/fuzz/corpus/$t" \
    >"$log" 2>&1 || rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  if [ "$rc" -ne 0 ]; then
    status=1
    summary+=("$t: FAILED (exit $rc) after ${execs:-?} executions; see $log and $artifacts")
  else
    elapsed=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "$seconds")
    summary+=("$t: ${execs:-?} executions in ${elapsed} s, no crash, leak or sanitizer report")
  fi
done
echo
printf '%s\n' "${summary[@]}"
exit "$status"
