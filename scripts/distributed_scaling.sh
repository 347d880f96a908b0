#!/usr/bin/env bash
# Strong and weak scaling of the distributed runs at P = 1, 2, 4 on this machine, then the model
# that predicts P = 16 … 1 024 for N = 10⁶ … 10⁸ from them (scripts/scaling_model.py;
# docs/distributed.md, "Scaling: measured and modelled").
#   W6 strong: N = 10 000 on P = 1, 2, 4 ranks (three runs each);  W6 weak: N = 2 500·P.
#   W4 strong: MNIST training, 8 000 images, batch 128, 4 parts per batch, 1 epoch, P = 1, 2, 4;
#   W4 weak: batch 64·P, P parts. MNIST data: --mnist DIR (IDX files), else Fashion-MNIST from
#   /usr/share/datasets/fashion-mnist when installed (README command 2 installs it), else skipped.
# More ranks than cores are oversubscribed (mpirun --oversubscribe), and the model accounts for it.
# Needs a Release build with SNODE_MPI (README command 2). Output: results/distributed/<UTC time>/.
set -euo pipefail
cd "$(dirname "$0")/.."
MNIST=""
REPEATS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --mnist) MNIST="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    *) echo "usage: $0 [--mnist DIR] [--repeats R]" >&2; exit 2 ;;
  esac
done
RD=build/apps/reaction_diffusion
MC=build/apps/mnist_classifier
for app in "$RD" "$MC"; do
  [ -x "$app" ] || { echo "error: $app is not built; run scripts/build.sh first" >&2; exit 1; }
done
command -v mpirun >/dev/null || { echo "error: mpirun not found (apt install openmpi-bin)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
OUT=results/distributed/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
{
  echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/machine.txt"

w6() {  # P N tag
  mpirun --oversubscribe -np "$1" "$RD" --points "$2" --quiet --out "$OUT/$3" >"$OUT/$3.log" 2>&1 ||
    { cat "$OUT/$3.log" >&2; exit 1; }
  printf '  W6 %-16s P=%s N=%-6s %s\n' "$3" "$1" "$2" "$(grep -m1 'time (wall' "$OUT/$3.log" | tr -s ' ')"
}
echo "W6 strong scaling (N = 10 000) and weak scaling (N = 2 500 per rank):"
for r in $(seq 1 "$REPEATS"); do
  for P in 1 2 4; do w6 "$P" 10000 "strong_p${P}_r$r"; done
done
for P in 1 2 4; do w6 "$P" $((2500 * P)) "weak_p$P"; done

if [ -z "$MNIST" ] && [ -r /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  MNIST=/usr/share/datasets/fashion-mnist
fi
if [ -n "$MNIST" ]; then
  mnist() {  # P tag batch parts
    mpirun --oversubscribe -np "$1" "$MC" --data "$MNIST" --split 8000 --epochs 1 --batch "$3" \
      --batch-parts "$4" --quiet --out "$OUT/$2" >"$OUT/$2.log" 2>&1 || { cat "$OUT/$2.log" >&2; exit 1; }
    printf '  W4 %-16s P=%s batch %-4s epoch %s s\n' "$2" "$1" "$3" \
      "$(awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i=="epoch_seconds") c=i} NR==2{print $c}' "$OUT/$2/mnist_epochs.csv")"
  }
  echo "W4 MNIST training, strong (batch 128, 4 parts) and weak (batch 64·P, P parts), data $MNIST:"
  for P in 1 2 4; do mnist "$P" "mnist_strong_p$P" 128 4; done
  for P in 1 2 4; do mnist "$P" "mnist_weak_p$P" $((64 * P)) "$P"; done
else
  echo "W4: no MNIST data (give --mnist DIR); skipped"
fi
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/machine.txt"
python3 scripts/scaling_model.py "$OUT" | tee "$OUT/model.txt"
