#!/usr/bin/env bash
# The benchmark command: builds snode (Release, the portable build users get), runs the Google
# Benchmark micro benchmarks in <build>/apps/bench and the apps' --bench modes for workloads W1–W6
# (described in docs/performance.md; W6, the reaction–diffusion scaling, in
# docs/performance-scaling.md),
# then prints one summary table (workload, configuration, median, target, met?), writes
# results/bench/summary.json and appends it to results/bench/history.jsonl (medians over
# repetitions; every JSON names the machine, its load, the commit, the build type, -march=native and
# the instruction set the dense kernels chose). Time rows show CPU time (all threads) beside wall
# time: on a loaded machine the wall time of a short run depends on the scheduler.
#
#   scripts/bench.sh                       # everything, 3 repetitions (tens of minutes)
#   scripts/bench.sh --only W2,W5          # some workloads (W1 also runs W1b; "micro" = the
#                                          # Google Benchmark binaries)
#   scripts/bench.sh --quick               # smoke run: fewer repetitions/iterations, < 2 min
#   scripts/bench.sh --build-dir build-x   # configure/build only the needed targets in build-x
#   scripts/bench.sh --no-build            # use the binaries already in the build directory
#   scripts/bench.sh --native              # measure build-native/ (-DSNODE_NATIVE=ON, -march=native)
#                                          # instead of the portable build/ (the default; --portable
#                                          # says so explicitly)
# Other options: --repetitions N (default 3), --out DIR (default results/bench),
# --mnist DIR (default ../shared/data/mnist, the W4 data).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

quick=0
only="micro,W1,W2,W3,W4,W5,W6"
# The build users get from the README is the one measured (docs/decisions.md, "Dense kernels chosen
# at run time"); --native measures a build for this machine only.
native=0
build_dir=""
do_build=1
reps=3
out=results/bench
mnist="$root/../shared/data/mnist"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --only) only="$2"; shift ;;
    --only=*) only="${1#*=}" ;;
    --build-dir) build_dir="$2"; shift ;;
    --no-build) do_build=0 ;;
    --portable) native=0 ;;
    --native) native=1 ;;
    --repetitions) reps="$2"; shift ;;
    --out) out="$2"; shift ;;
    --mnist) mnist="$2"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$build_dir" ]; then
  if [ "$native" -eq 1 ]; then build_dir=build-native; else build_dir=build; fi
fi
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac
case "$out" in /*) ;; *) out="$root/$out" ;; esac

wants() { [[ ",${only^^}," == *",${1^^},"* ]]; }
# W1b is part of the W1 run.
if wants W1B && ! wants W1; then only="$only,W1"; fi

targets=()
if wants micro; then  # every Google Benchmark binary declared in apps/bench
  while read -r name; do targets+=("$name"); done < <(
    sed -n 's/^add_executable(\([A-Za-z0-9_]*_bench\)[ )].*/\1/p' apps/bench/CMakeLists.txt)
fi
wants W1 && targets+=(exponential_decay)
{ wants W2 || wants W3; } && targets+=(lotka_volterra)
wants W4 && targets+=(mnist_classifier)
wants W5 && targets+=(stiffness_study)
wants W6 && targets+=(reaction_diffusion)

if [ "$do_build" -eq 1 ]; then
  if [ "$build_dir" = "$root/build" ] && [ "$native" -eq 0 ]; then
    bash scripts/build.sh
  else
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
      -DSNODE_NATIVE="$([ "$native" -eq 1 ] && echo ON || echo OFF)" >/dev/null
    cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]}"
  fi
fi

mkdir -p "$out"
apps="$build_dir/apps"
start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
log() { echo; echo "=== $* ==="; }

if [ "$quick" -eq 1 ]; then
  decay_args=(--bench "$reps")
  w2_args=(--bench 1 --iterations 20)
  w3_args=(--bench 1 --gradient bptt --integrator dopri5)
  w4_args=(--bench 1 --limit-train 1024 --limit-test 512)
  w5_args=(--bench "$reps" --robertson-horizons 40 --gradient cvodes_adjoint)
  w6_args=(--bench 1 --sizes 100,1000)
  micro_args=(--benchmark_repetitions=1 --benchmark_min_time=0.01)
else
  decay_args=(--bench "$reps")
  w2_args=(--bench "$reps")
  w3_args=(--bench "$reps")
  w4_args=(--bench "$reps")
  w5_args=(--bench "$reps")
  w6_args=(--bench "$reps")
  micro_args=(--benchmark_repetitions="$reps")
fi

if wants micro; then
  for binary in "$apps"/bench/*_bench; do
    [ -x "$binary" ] || continue
    name=$(basename "$binary")
    log "$name (Google Benchmark)"
    "$binary" "${micro_args[@]}" --benchmark_report_aggregates_only=true \
      --benchmark_out="$out/$name.json" --benchmark_out_format=json
  done
fi
if wants W1; then
  log "W1, W1b: exponential_decay ${decay_args[*]}"
  "$apps/exponential_decay" "${decay_args[@]}" --quiet --no-plots --out "$out/w1"
fi
if wants W2; then
  log "W2: lotka_volterra --mode neural ${w2_args[*]}"
  "$apps/lotka_volterra" --mode neural "${w2_args[@]}" --quiet --out "$out/w2" \
    --weights "$root/../shared/data/w2/w2_init_weights.json"
fi
if wants W3; then
  log "W3: lotka_volterra --mode discover ${w3_args[*]}"
  "$apps/lotka_volterra" --mode discover "${w3_args[@]}" --quiet --out "$out/w3"
fi
if wants W4; then
  log "W4: mnist_classifier ${w4_args[*]}"
  "$apps/mnist_classifier" --data "$mnist" --split 8000 "${w4_args[@]}" --quiet --out "$out/w4"
fi
if wants W5; then
  log "W5: stiffness_study ${w5_args[*]}"
  "$apps/stiffness_study" "${w5_args[@]}" --quiet --no-plots --out "$out/w5"
fi
if wants W6; then
  log "W6: reaction_diffusion ${w6_args[*]}"
  "$apps/reaction_diffusion" "${w6_args[@]}" --out "$out/w6"
fi

log "summary"
load_end=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
python3 - "$out" "$only" "$(( $(date +%s) - start ))" "$quick" "$load_start" "$load_end" <<'PY'
import json, os, sys

out, only, seconds, quick = sys.argv[1], sys.argv[2].upper().split(","), int(sys.argv[3]), sys.argv[4] == "1"
load = {"start": sys.argv[5], "end": sys.argv[6]}

def fmt(value, unit):
    if value is None:
        return "-"
    if unit == "s":
        for scale, name in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
            if abs(value) >= scale or scale == 1e-9:
                return "%.3g %s" % (value / scale, name)
    return "%.4g%s" % (value, "%" if unit == "%" else (" " + unit if unit else ""))

# The workloads run now, then any other report already in DIR (a partial re-run keeps the rest;
# those are listed with their own date).
rows, machine, apps, earlier = [], None, {}, []
for workload in ("w1", "w2", "w3", "w4", "w5", "w6"):
    path = os.path.join(out, workload, "bench.json")
    if not os.path.exists(path):
        continue
    with open(path) as f:
        report = json.load(f)
    current = workload.upper() in only
    if current:
        machine = machine or report["machine"]
    else:
        earlier.append("%s (%s)" % (workload.upper(), report["machine"]["date"]))
    apps[workload.upper()] = {"app": report["app"], "repetitions": report["repetitions"],
                              "file": path, "machine": report["machine"], "this_run": current}
    rows.extend(report["summary"])

micro = []
for name in sorted(os.listdir(out)):
    if not name.endswith("_bench.json"):
        continue
    with open(os.path.join(out, name)) as f:
        data = json.load(f)
    for b in data.get("benchmarks", []):
        if b.get("aggregate_name", "median") != "median" and b.get("run_type") == "aggregate":
            continue
        micro.append({"binary": name[:-5], "name": b.get("run_name", b["name"]),
                      "real_time": b.get("real_time"), "cpu_time": b.get("cpu_time"),
                      "time_unit": b.get("time_unit", "ns")})

header = ["workload", "configuration", "metric", "median", "min", "max", "cpu median", "target",
          "met?"]
table = []
for r in rows:
    met = r.get("met")
    table.append([r["workload"], r["configuration"], r["metric"], fmt(r["median"], r["unit"]),
                  fmt(r["min"], r["unit"]), fmt(r["max"], r["unit"]),
                  fmt(r.get("cpu_median"), "s") if r.get("cpu_median") is not None else "-",
                  r.get("target_text") or "-",
                  "-" if met is None else ("yes" if met else "NO")])
widths = [max(len(str(x)) for x in col) for col in zip(header, *table)] if table else []
if machine:
    print("machine: %s, nproc %s, commit %s, %s, native %s, dense kernels %s, %s" % (
        machine["cpu_model"], machine["nproc"], machine["commit"], machine["build_type"],
        "on" if machine["native"] else "off", machine.get("dense_kernels", "unknown"),
        machine["date"]))
    print("load average (1, 5, 15 min): %s at the start, %s at the end; wall times of short runs"
          " scale with it, CPU times much less" % (load["start"], load["end"]))
if earlier:
    print("also included, from earlier runs in %s: %s" % (out, ", ".join(earlier)))
if table:
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print("  ".join("-" * w for w in widths))
    for line in table:
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in
                        enumerate(zip(line, widths))))
if micro:
    print("\nmicro benchmarks (median of the repetitions): %d results in %s/*_bench.json" %
          (len(micro), out))
    for m in micro:
        print("  %-70s real %10.4g %s  cpu %10.4g %s" % (m["name"][:70], m["real_time"],
              m["time_unit"], m["cpu_time"], m["time_unit"]))
met = [r["met"] for r in rows if r.get("met") is not None]
print("\n%d of %d targets met; %d s in total%s" % (sum(met), len(met), seconds,
      " (--quick: not the workloads' full definitions)" if quick else ""))
summary = {"machine": machine, "load_average": load, "quick": quick, "seconds": seconds, "apps": apps, "rows": rows,
           "micro": micro}
tmp = os.path.join(out, "summary.json.tmp.%d" % os.getpid())
with open(tmp, "w") as f:
    json.dump(summary, f, indent=2)
os.replace(tmp, os.path.join(out, "summary.json"))
print("wrote %s" % os.path.join(out, "summary.json"))
# The history of runs: one JSON line per run (date, commit and machine of this run, its table),
# appended, so docs/performance.md can state the present while the past stays in results/.
history = {"date": machine and machine.get("date"), "commit": machine and machine.get("commit"),
           "machine": machine, "load_average": load, "quick": quick, "only": only, "seconds": seconds,
           "targets_met": sum(met), "targets": len(met), "rows": rows}
with open(os.path.join(out, "history.jsonl"), "a") as f:
    f.write(json.dumps(history) + "\n")
print("appended %s" % os.path.join(out, "history.jsonl"))
PY
