#!/usr/bin/env python3
"""The scaling model of the distributed reaction-diffusion gradient (W6) and of data-parallel
MNIST training (W4), fitted to the P <= 4 runs of scripts/distributed_scaling.sh, checked against
them, and used to predict P = 16 ... 1024 for N = 1e6 ... 1e8 (docs/distributed.md).

W6, time per gradient on P ranks (one core each) for N grid points:

  T(P, N) = L * (N/N0) / P                 the ranks' own work: network, stencil, SUNDIALS vector
                                           operations (measured at P = 1, N = N0; linear in N)
          + R * (N/N0)                     the replicated exact preconditioner: every rank
                                           factorises and solves the whole grid (does not shrink)
          + n_halo   * 2 (a + 16 s / b)    halo exchanges, s = 2 doubles per neighbour
          + n_reduce * log2(P) * a         sums of theta-products / loss terms / finiteness
          + n_vector * log2(P) * a         the MPI N_Vector's norms and dot products
          + n_gather * (log2(P) a + 16 N (P-1)/P / b)   the preconditioner's allgathers of 2N doubles

The counts n_k are those of the measured runs: they do not depend on P (every rank takes the same
steps) and, as the serial benchmark shows for N = 1e2 ... 1e5, not on N either. a and b are
the latency and bandwidth of one message: fitted to this machine's P = 2 run for the check against
P = 4, and for a cluster taken as a = 2 us, b = 10 GB/s (InfiniBand-class; an assumption, not a
measurement). On fewer cores than ranks the compute terms are multiplied by P / cores.

Memory per rank: the rank's part (M_local * N / (N0 P), measured) plus the replicated
preconditioner, 2 x (26 + 6) N doubles (forward and adjoint: 26 N for the factors, 3 gathered
vectors of 2N); a run that needs more than 4 GB per rank is marked as not fitting.
"""

import csv
import glob
import json
import math
import os
import statistics
import sys

CLUSTER_LATENCY = 2e-6  # s per message (assumed)
CLUSTER_BANDWIDTH = 10e9  # bytes per s (assumed)
MEMORY_PER_RANK = 4e9  # bytes
CORES = os.cpu_count() or 1


def load(path):
    with open(path) as f:
        return json.load(f)


def runs(directory, pattern):
    return [load(p) for p in sorted(glob.glob(os.path.join(directory, pattern, "gradient_run.json")))]


def median_run(directory, ranks):
    found = runs(directory, "strong_p%d_r*" % ranks)
    if not found:
        return None
    found.sort(key=lambda r: r["wall_seconds"])
    return found[len(found) // 2]


class W6Model:
    def __init__(self, base):
        self.n0 = base["points"]
        self.total = base["wall_seconds"]
        comm = base["communication"]
        prec = base["replicated_preconditioner"]
        self.counts = {k: comm[k]["calls"] for k in ("halo", "reduce", "gather", "vector_reductions")}
        self.comm_seconds = sum(comm[k]["seconds"] for k in comm)
        # The whole-grid arithmetic: the preconditioner's time without its gathers and its own JVPs.
        self.replicated = max(0.0, prec["seconds"] - prec["local_jvp_seconds"] - comm["gather"]["seconds"])
        # At P = 1 a "collective" is its local arithmetic (the norms' sums, the gathers' copies),
        # which divides by P like the rest: everything but the replicated part.
        self.local = self.total - self.replicated

    def communication(self, ranks, points, latency, bandwidth):
        if ranks == 1:
            return 0.0
        hops = math.ceil(math.log2(ranks))
        c = self.counts
        return (c["halo"] * 2 * (latency + 16 / bandwidth)
                + (c["reduce"] + c["vector_reductions"]) * hops * latency
                + c["gather"] * (hops * latency + 16.0 * points * (ranks - 1) / ranks / bandwidth))

    def time(self, ranks, points, latency, bandwidth, cores=None):
        scale = points / self.n0
        crowding = max(1.0, ranks / cores) if cores else 1.0
        compute = (self.local * scale / ranks + self.replicated * scale) * crowding
        return compute + self.communication(ranks, points, latency, bandwidth)

    @staticmethod
    def replicated_bytes(points):
        return 2 * (26 + 6) * points * 8.0


def fit_latency(model, run):
    """Per-message latency from a P = 2 run: its communication seconds over its message count."""
    comm = run["communication"]
    seconds = sum(comm[k]["seconds"] for k in comm)
    c = model.counts
    messages = 2 * c["halo"] + c["reduce"] + c["vector_reductions"] + c["gather"]
    return seconds / max(messages, 1)


def w6_report(directory):
    base = median_run(directory, 1)
    if base is None or "communication" not in base:
        print("W6: no P = 1 run under mpirun in %s" % directory)
        return
    model = W6Model(base)
    print("W6 (reaction-diffusion gradient), N0 = %d, P = 1 under mpirun: %.3f s" % (model.n0, model.total))
    print("  split at P = 1: own work L = %.3f s (of which %.3f s in the local parts of collectives), "
          "replicated preconditioner R = %.3f s" % (model.local, model.comm_seconds, model.replicated))
    print("  calls per gradient: halo %d, small sums %d, vector reductions %d, allgathers %d"
          % (model.counts["halo"], model.counts["reduce"], model.counts["vector_reductions"],
             model.counts["gather"]))
    p2 = median_run(directory, 2)
    latency = fit_latency(model, p2) if p2 else 5e-6
    bandwidth = 5e9  # shared memory; the gathers are small next to the latency terms at N0
    print("  this machine: latency per message %.1f us (from the P = 2 run), %d cores" % (latency * 1e6, CORES))
    print()
    print("  strong scaling, N = %d        measured      model    model/measured   speed-up  efficiency" % model.n0)
    for ranks in (1, 2, 4):
        run = median_run(directory, ranks)
        if run is None:
            continue
        predicted = model.time(ranks, model.n0, latency, bandwidth, CORES)
        speedup = model.total / run["wall_seconds"]
        print("    P = %d                       %7.3f s   %7.3f s   %8.2f        %6.2f    %6.2f"
              % (ranks, run["wall_seconds"], predicted, predicted / run["wall_seconds"], speedup,
                 speedup / ranks))
    weak = runs(directory, "weak_p*")
    if weak:
        print("  weak scaling, N = 2500 P        measured      model    steps fwd/bwd")
        for run in sorted(weak, key=lambda r: r["ranks"]):
            predicted = model.time(run["ranks"], run["points"], latency, bandwidth, CORES)
            print("    P = %d, N = %-6d             %7.3f s   %7.3f s   %d / %d"
                  % (run["ranks"], run["points"], run["wall_seconds"], predicted,
                     run["forward_steps"], run["backward_steps"]))
    print()
    print("  predicted time per gradient on a cluster (one core per rank, latency %.0f us, %.0f GB/s):"
          % (CLUSTER_LATENCY * 1e6, CLUSTER_BANDWIDTH / 1e9))
    header = "    N \\ P    " + "".join("%14d" % p for p in (16, 64, 256, 1024))
    print(header)
    for points in (10**6, 10**7, 10**8):
        cells = []
        for ranks in (16, 64, 256, 1024):
            if model.replicated_bytes(points) > MEMORY_PER_RANK:
                cells.append("%14s" % "no fit")
                continue
            cells.append("%12.2f s" % model.time(ranks, points, CLUSTER_LATENCY, CLUSTER_BANDWIDTH))
        print("    %-8.0e " % points + "".join(cells))
    limit = MEMORY_PER_RANK / (2 * (26 + 6) * 8.0)
    print("  'no fit': the replicated preconditioner alone needs %.1f GB per rank at N = 1e8; it "
          "fits up to N = %.1e in %.0f GB." % (model.replicated_bytes(1e8) / 1e9, limit, MEMORY_PER_RANK / 1e9))
    floor = {p: model.time(p, 10**6, CLUSTER_LATENCY, CLUSTER_BANDWIDTH) for p in (16, 1024)}
    print("  At N = 1e6 the replicated term R * N/N0 = %.2f s is the floor: P = 16 -> %.2f s, "
          "P = 1024 -> %.2f s." % (model.replicated * 1e6 / model.n0, floor[16], floor[1024]))
    print("  Without it (per-rank preconditioner blocks, not built; Krylov counts assumed unchanged): "
          "P = 1024, N = 1e8 -> %.2f s."
          % (model.local * 1e8 / model.n0 / 1024 + model.communication(1024, 0, CLUSTER_LATENCY, CLUSTER_BANDWIDTH)
             - model.counts["gather"] * math.ceil(math.log2(1024)) * CLUSTER_LATENCY))


def mnist_report(directory):
    def epoch(tag):
        path = os.path.join(directory, tag, "mnist_epochs.csv")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            rows = list(csv.DictReader(f))
        return float(rows[0]["epoch_seconds"]) if rows else None

    strong = {p: epoch("mnist_strong_p%d" % p) for p in (1, 2, 4)}
    if strong[1] is None:
        print("W4: no MNIST runs in %s" % directory)
        return
    print()
    print("W4 (MNIST training, one epoch of 8000 images), rank 0's epoch time:")
    print("  strong (batch 128):  " + ", ".join(
        "P = %d %.3f s (speed-up %.2f)" % (p, t, strong[1] / t) for p, t in strong.items() if t))
    weak = {p: epoch("mnist_weak_p%d" % p) for p in (1, 2, 4)}
    if weak[1]:
        print("  weak (batch 64 P):   " + ", ".join(
            "P = %d %.3f s (efficiency %.2f)" % (p, t, weak[1] / t) for p, t in weak.items() if t))
    # One allreduce of the 59 282-double gradient per step; ring allreduce moves 2 (P-1)/P of it.
    steps, gradient_bytes = 8000 / 128, 59282 * 8.0
    for ranks in (16, 64, 256, 1024):
        comm = steps * (2 * math.log2(ranks) * CLUSTER_LATENCY
                        + 2.0 * (ranks - 1) / ranks * gradient_bytes / CLUSTER_BANDWIDTH)
        print("  model, P = %4d: compute %.4f s + allreduce %.4f s per epoch (batch 128 P: weak)"
              % (ranks, strong[1], comm))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scaling_model.py RESULTS_DIR (written by scripts/distributed_scaling.sh)")
    w6_report(sys.argv[1])
    mnist_report(sys.argv[1])


if __name__ == "__main__":
    main()
