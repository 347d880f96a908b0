#!/usr/bin/env bash
# Valgrind memcheck on one solve of every built-in integrator and one gradient of every
# registered gradient method, each in its own valgrind process:
#   integrators:      the contract runner snode_integrator_contract with the arguments of the
#                     built-in's ctest IntegratorContract.<integrator> (tests/CMakeLists.txt:
#                     --integrator NAME and its --setting options) and
#                     --gtest_filter='*ContractSolve.SolvesLogisticToExpectedAccuracy*'
#                     (one solve of the logistic problem per linear solver, dense and gmres)
#   gradient methods: Registered/GradientContract.MatchesFiniteDifferencesOnLinearField/<case>,
#                     the first case listed per method (gradient_contract_test: one gradient,
#                     plus the finite-difference forward solves of its reference)
# The built-ins' ctests are those named IntegratorContract.<name> whose command is the runner
# with --integrator <name> and no --plugin or --tableau (not the runner_*, declared_*,
# plugin_declared_* and tableau_* tests).
# Builds ./build-valgrind (RelWithDebInfo, benchmarks off) when needed; installs valgrind via
# apt-get when missing (opt-in tool, not needed by the normal build). Needs python3 (to read
# ctest's JSON test list).
#   scripts/valgrind.sh
# Variables: VALGRIND_JOBS (build parallelism, default 2), VALGRIND_BUILD_DIR (default
# build-valgrind). Logs: <build dir>/valgrind-logs/<test>.log. Prints one line per run and a
# summary "N runs, E errors, L leaks"; exit status 1 when any run reported an error or a leak
# or its test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs="${VALGRIND_JOBS:-2}"
build="${VALGRIND_BUILD_DIR:-build-valgrind}"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "snode valgrind: installing valgrind"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends valgrind >/dev/null
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSNODE_BUILD_BENCHMARKS=OFF >/dev/null
fi
cmake --build "$build" --target snode_integrator_contract gradient_contract_test -j"$jobs"

gradient_test="$build/tests/gradient_contract_test"
logs="$build/valgrind-logs"
mkdir -p "$logs"
solve_filter='*ContractSolve.SolvesLogisticToExpectedAccuracy*'

# gtest prints "Suite/Prefix." lines, then "  name  # GetParam() = ..." lines.
list_tests() {
  "$1" --gtest_list_tests --gtest_filter="$2" |
    awk '/^[^ ]/ {suite = $1} /^  / {print suite $1}'
}

# The built-ins' contract ctests, one line each: name, then the command (runner and arguments),
# tab-separated.
list_builtin_contract_tests() {
  ctest --test-dir "$1" --show-only=json-v1 -R '^IntegratorContract\.[a-z0-9_]+$' |
    python3 -c '
import json, os, sys
for test in json.load(sys.stdin)["tests"]:
    name = test["name"][len("IntegratorContract."):]
    command = test.get("command") or []
    args = command[1:]
    if (command and os.path.basename(command[0]) == "snode_integrator_contract"
            and "--plugin" not in args and "--tableau" not in args
            and args[:2] == ["--integrator", name]):
        print("\t".join([test["name"]] + command))
'
}

# runs: "<log name>|<command and arguments, tab-separated>"
runs=()
integrators=()
while IFS= read -r line; do
  name="${line%%$'\t'*}"
  runs+=("$name|${line#*$'\t'}"$'\t'"--gtest_filter=$solve_filter")
  integrators+=("${name#IntegratorContract.}")
done < <(list_builtin_contract_tests "$build")
if [ "${#runs[@]}" -eq 0 ]; then
  echo "snode valgrind: no built-in contract tests IntegratorContract.<name> in $build" >&2
  exit 1
fi
# One case per gradient method. Case names are <method>_<integrator>; both are registry names
# (which contain underscores), so strip a known integrator name from the end and keep the first
# case per method.
declare -A seen=()
while IFS= read -r test; do
  case_name="${test##*/}"
  method=""
  for integrator in "${integrators[@]}"; do
    # The longest matching integrator wins ("bptt_backward_euler" is bptt, not bptt_backward).
    if [[ "$case_name" == *"_$integrator" ]]; then
      candidate="${case_name%_"$integrator"}"
      if [ -z "$method" ] || [ "${#candidate}" -lt "${#method}" ]; then method="$candidate"; fi
    fi
  done
  if [ -n "$method" ] && [ -z "${seen[$method]:-}" ]; then
    seen[$method]=1
    runs+=("$test|$gradient_test"$'\t'"--gtest_filter=$test")
  fi
done < <(list_tests "$gradient_test" 'Registered/GradientContract.MatchesFiniteDifferencesOnLinearField/*')

total=0
errors=0
leaks=0
failed=0
start=$(date +%s)
for entry in "${runs[@]}"; do
  test="${entry%%|*}"
  IFS=$'\t' read -r -a command <<<"${entry#*|}"
  log="$logs/$(echo "$test" | tr '/' '_').log"
  t0=$(date +%s)
  rc=0
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect,possible \
    --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
    --log-file="$log.vg" "${command[@]}" >"$log" 2>&1 || rc=$?
  # ERROR SUMMARY counts memory errors and (with --errors-for-leak-kinds) leak records.
  n_errors=$(grep -o 'ERROR SUMMARY: [0-9]*' "$log.vg" | grep -o '[0-9]*$' | tail -1)
  lost=0
  for kind in "definitely lost" "indirectly lost" "possibly lost"; do
    bytes=$(grep -o "$kind: [0-9,]* bytes" "$log.vg" | tail -1 | grep -o '[0-9,]* bytes' |
      tr -d ', bytes' || true)
    lost=$((lost + ${bytes:-0}))
  done
  passed=$(grep -c '^\[  PASSED  \] 1 test' "$log" || true)
  total=$((total + 1))
  errors=$((errors + ${n_errors:-1}))
  if [ "$lost" -gt 0 ]; then leaks=$((leaks + 1)); fi
  if [ "$rc" -ne 0 ] || [ "$passed" -ne 1 ]; then failed=$((failed + 1)); fi
  printf '%-90s %4s s  errors %s  leaked %s bytes  %s\n' "$test" "$(($(date +%s) - t0))" \
    "${n_errors:-?}" "$lost" "$([ "$rc" -eq 0 ] && [ "$passed" -eq 1 ] && echo ok || echo FAILED)"
done
echo "snode valgrind: $total runs, $errors errors, $leaks leaks ($failed failed, $(($(date +%s) - start)) s; logs in $logs)"
if [ "$errors" -ne 0 ] || [ "$leaks" -ne 0 ] || [ "$failed" -ne 0 ]; then exit 1; fi
