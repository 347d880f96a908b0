#!/usr/bin/env bash
# Deterministic resume under SIGKILL (docs/reliability.md, "Deterministic resume (kill test)").
#
#   scripts/kill_resume.sh [COUNT] [--app mnist|lv] [--seed N] [--tiny] [--keep]
#
# 1. Trains mnist_classifier once without interruption (checkpoint after every batch).
# 2. Starts the same run COUNT times (default 20) and kills it with SIGKILL after a random delay
#    (seeded RNG; the seed is printed), each time resuming from <out>/checkpoint.snode when it
#    exists. After every kill the checkpoint must load: `checkpoint_tool check` (magic, version,
#    checksum, sizes, finite values) and `mnist_classifier --evaluate` on it.
# 3. Resumes once more until the run completes, then compares the final model of the killed run
#    with the uninterrupted one bit for bit (`checkpoint_tool compare`: parameter and Adam blocks,
#    optimiser step, RNG state, position; the file's metadata holds wall times and is ignored).
# Prints one line per kill and a verdict; exit status 0 only when every checkpoint loaded and the
# parameters are identical (1: mismatch or unloadable checkpoint, 2: usage or setup error).
#
# Data: --tiny generates 300 + 100 8x8 images (the ctest, about 15 s); otherwise the t10k files
# of $KILL_SHARED_DATA (default ../shared/data/mnist) when present (--split 5000, 500 test
# images, 2 epochs), else 8000 + 500 generated 16x16 images (3 epochs). Binaries from
# $BUILD_DIR (default build/): mnist_classifier, checkpoint_tool.
# Work files in $KILL_WORK_DIR (default: a new /tmp directory, removed unless --keep).
# --app lv is refused: apps/lotka_volterra.cpp writes no checkpoints and has no --resume.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

count=20
app=mnist
seed=""
tiny=0
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --app) app="${2:-}"; shift 2 ;;
    --app=*) app="${1#--app=}"; shift ;;
    --seed) seed="${2:-}"; shift 2 ;;
    --seed=*) seed="${1#--seed=}"; shift ;;
    --tiny) tiny=1; shift ;;
    --keep) keep=1; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *)
      if [[ "$1" =~ ^[0-9]+$ ]]; then count="$1"; shift
      else echo "kill_resume: unknown argument '$1' (see --help)" >&2; exit 2; fi ;;
  esac
done
case "$app" in
  mnist) ;;
  lv)
    echo "kill_resume: --app lv is not supported: lotka_volterra writes no checkpoints and has" \
      "no --resume; use --app mnist" >&2
    exit 2 ;;
  *) echo "kill_resume: --app must be mnist or lv, got '$app'" >&2; exit 2 ;;
esac
if [ "$count" -lt 1 ]; then echo "kill_resume: COUNT must be at least 1" >&2; exit 2; fi
if [ -z "$seed" ]; then seed=$(( $(date +%s%N) % 1000000007 )); fi

build="${BUILD_DIR:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
app_bin="$build/apps/mnist_classifier"
tool_bin="$build/apps/tools/checkpoint_tool"
for b in "$app_bin" "$tool_bin"; do
  if [ ! -x "$b" ]; then
    echo "kill_resume: $b is missing; build it: cmake --build $build --target" \
      "mnist_classifier checkpoint_tool" >&2
    exit 2
  fi
done

work="${KILL_WORK_DIR:-}"
if [ -z "$work" ]; then work=$(mktemp -d /tmp/kill_resume.XXXXXX); fi
mkdir -p "$work"
cleanup() {
  local pids
  pids=$(jobs -p)
  if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; fi
  if [ "$keep" -eq 0 ] && [ -z "${KILL_WORK_DIR:-}" ]; then rm -rf "$work"; fi
}
trap cleanup EXIT

# Synthetic IDX data: class k is a bright stripe at a class-dependent place plus noise (the same
# kind of data as tests/apps/mnist_classifier_fixture.hpp), so training learns something.
make_data() {  # dir side train_count test_count
  python3 - "$@" <<'EOF'
import os, random, struct, sys
out, side, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)
def write(prefix, count, seed):
    rng = random.Random(seed)
    stripe = side * side // 10
    images = bytearray(struct.pack(">IIII", 0x803, count, side, side))
    labels = bytearray(struct.pack(">II", 0x801, count))
    for _ in range(count):
        label = rng.randrange(10)
        labels.append(label)
        for p in range(side * side):
            on = label * stripe <= p < (label + 1) * stripe
            images.append(200 + rng.randrange(56) if on else rng.randrange(60))
    open(os.path.join(out, prefix + "-images-idx3-ubyte"), "wb").write(images)
    open(os.path.join(out, prefix + "-labels-idx1-ubyte"), "wb").write(labels)
write("train", n_train, 1)
write("t10k", n_test, 2)
EOF
}

shared="${KILL_SHARED_DATA:-$root/../shared/data/mnist}"
if [ "$tiny" -eq 1 ]; then
  make_data "$work/data" 8 300 100
  data_flags=(--data "$work/data" --batch 32)
  epochs=2
  data_note="generated 8x8 images, 300 train / 100 test, batch 32, 2 epochs"
elif [ -f "$shared/t10k-images-idx3-ubyte.gz" ] || [ -f "$shared/t10k-images-idx3-ubyte" ]; then
  data_flags=(--data "$shared" --split 5000 --limit-test 500 --batch 50 --hidden 32)
  epochs=2
  data_note="$shared t10k, --split 5000 (5000 train), 500 test, batch 50, width 32, 2 epochs"
else
  make_data "$work/data" 16 8000 500
  data_flags=(--data "$work/data" --batch 50 --hidden 32)
  epochs=3
  data_note="generated 16x16 images, 8000 train / 500 test, batch 50, width 32, 3 epochs"
fi
# Fixed-step rk4 + bptt, one thread, a fixed seed: the run is a deterministic function of the
# flags. --checkpoint-batches 1 saves <out>/checkpoint.snode after every batch.
# --evaluate takes the data flags but no training flag (--epochs, --lr, ... are errors there).
train_flags=("${data_flags[@]}" --epochs "$epochs" --lr 0.01 --integrator rk4 --step 0.5
  --gradient bptt --threads 1 --seed 3 --quiet --checkpoint-batches 1)
eval_flags=("${data_flags[@]}" --integrator rk4 --step 0.5 --threads 1 --quiet)

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }

echo "kill_resume: app mnist_classifier ($app_bin), $count kills, RNG seed $seed"
echo "kill_resume: data: $data_note"
echo "kill_resume: flags: ${train_flags[*]}"

t0=$(now)
if ! "$app_bin" "${train_flags[@]}" --out "$work/straight" >"$work/straight.log" 2>&1; then
  echo "kill_resume: the uninterrupted run failed:" >&2
  tail -5 "$work/straight.log" >&2
  exit 2
fi
t1=$(now)
straight_seconds=$(elapsed "$t0" "$t1")
echo "kill_resume: uninterrupted run: $straight_seconds s"

# Start-up time S: data loading plus the first batch and its checkpoint (--stop-after-batches 1
# exits right after it). Kill delays are uniform in [0.8·S, S + 1.5·(T − S)/(COUNT + 1)] (T: the
# uninterrupted run's wall time): a few kills land before the first checkpoint, most inside the
# training, and on average the COUNT killed runs cover about 3/4 of it, so the last resume
# finishes the run.
t2=$(now)
"$app_bin" "${train_flags[@]}" --stop-after-batches 1 --out "$work/startup" >/dev/null 2>&1 || true
startup_seconds=$(elapsed "$t2" "$(now)")
mapfile -t delays < <(python3 - "$seed" "$count" "$straight_seconds" "$startup_seconds" <<'EOF'
import random, sys
rng = random.Random(int(sys.argv[1]))
count, total, startup = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
training = max(total - startup, 0.1)
for _ in range(count):
    print("%.3f" % rng.uniform(0.8 * startup, startup + 1.5 * training / (count + 1)))
EOF
)
echo "kill_resume: start-up to the first checkpoint: $startup_seconds s"

out="$work/killed"
checkpoint="$out/checkpoint.snode"
status=0
kills=0
completed_early=0
checkpoints_checked=0
for ((i = 1; i <= count; i++)); do
  args=("${train_flags[@]}" --out "$out")
  resumed_from="fresh start"
  if [ -f "$checkpoint" ]; then
    args+=(--resume "$checkpoint")
    resumed_from="resumed"
  fi
  "$app_bin" "${args[@]}" >"$work/run-$i.log" 2>&1 &
  pid=$!
  sleep "${delays[$((i - 1))]}"
  kill -KILL "$pid" 2>/dev/null || true
  rc=0
  # (stderr of wait: the shell's "Killed" job notice)
  { wait "$pid"; } 2>/dev/null || rc=$?
  if [ "$rc" -eq 0 ]; then
    # The run finished before the kill; later rounds have nothing to kill.
    completed_early=1
    printf 'kill %2d/%d: %s, delay %s s: the run completed before the kill\n' "$i" "$count" \
      "$resumed_from" "${delays[$((i - 1))]}"
    break
  fi
  if [ "$rc" -ne 137 ]; then
    echo "kill $i/$count: the run exited with status $rc before the kill:" >&2
    tail -3 "$work/run-$i.log" >&2
    status=1
    break
  fi
  kills=$((kills + 1))
  stale=0
  if [ -d "$out" ]; then stale=$(find "$out" -maxdepth 1 -name 'checkpoint.snode.tmp.*' | wc -l); fi
  if [ ! -f "$checkpoint" ]; then
    printf 'kill %2d/%d: %s, SIGKILL after %s s: no checkpoint yet (killed before the first batch ended)\n' \
      "$i" "$count" "$resumed_from" "${delays[$((i - 1))]}"
    continue
  fi
  if ! info=$("$tool_bin" check "$checkpoint" 2>&1); then
    echo "kill $i/$count: checkpoint does not load: $info" >&2
    status=1
    break
  fi
  if ! evaluation=$("$app_bin" "${eval_flags[@]}" --evaluate "$checkpoint" --out "$work/eval" 2>&1); then
    echo "kill $i/$count: mnist_classifier --evaluate rejects the checkpoint: $evaluation" >&2
    status=1
    break
  fi
  checkpoints_checked=$((checkpoints_checked + 1))
  position=$(echo "$info" | sed -n 's/.*: \(epoch [0-9]*, iteration [0-9]*\),.*/\1/p')
  accuracy=$(echo "$evaluation" | grep -o 'test accuracy [0-9.]*%' | head -1)
  printf 'kill %2d/%d: %s, SIGKILL after %s s: checkpoint loads (%s, %s)%s\n' "$i" "$count" \
    "$resumed_from" "${delays[$((i - 1))]}" "$position" "${accuracy:-no accuracy printed}" \
    "$([ "$stale" -gt 0 ] && echo ", $stale stale temporary file(s) left by a kill mid-write" || true)"
done

if [ "$status" -eq 0 ] && [ "$completed_early" -eq 0 ]; then
  args=("${train_flags[@]}" --out "$out")
  if [ -f "$checkpoint" ]; then args+=(--resume "$checkpoint"); fi
  if ! "$app_bin" "${args[@]}" >"$work/final.log" 2>&1; then
    echo "kill_resume: the final resume failed:" >&2
    tail -3 "$work/final.log" >&2
    status=1
  fi
fi

verdict="FAIL"
if [ "$status" -eq 0 ]; then
  if comparison=$("$tool_bin" compare "$work/straight/model.snode" "$out/model.snode" 2>&1); then
    verdict="PASS"
  else
    status=1
  fi
  echo "kill_resume: final model vs uninterrupted: $comparison"
fi
echo "kill_resume: $verdict: $kills of $count SIGKILLs landed before the run completed," \
  "$checkpoints_checked checkpoints checked (all loaded), final parameters" \
  "$([ "$verdict" = PASS ] && echo "identical bit for bit" || echo "NOT verified identical")" \
  "(seed $seed, uninterrupted run $straight_seconds s, total $(elapsed "$t0" "$(now)") s)"
if [ "$status" -eq 0 ] && [ "$kills" -lt "$count" ]; then
  echo "kill_resume: note: only $kills of $count kills landed before the run completed" \
    "(raise the work or lower COUNT for more)"
fi
exit "$status"
