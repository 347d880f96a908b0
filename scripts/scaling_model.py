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
# Peak RSS per grid point of one process: 473 MB at N = 1e5 (reaction_diffusion --bench,
# docs/performance-scaling.md); a rank holds its N/P points' share of it.
MEMORY_PER_POINT = 473e6 / 1e5
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
        # The Krylov iterations' share of the field products (one JVP each).
        products = base["forward_rhs_evals"] + base["backward_rhs_evals"] + base["jvp_evals"] + base["vjp_evals"]
        krylov = base["forward_linear_iters"] + base["backward_linear_iters"]
        self.krylov_share = krylov / max(products, 1)

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

    def without_replication(self, ranks, points, latency, bandwidth, krylov_factor):
        """Per-rank blocks: the replicated work and the gathers gone; Krylov iterations (one
        network JVP, one preconditioner solve and their reductions each) multiplied."""
        scale = points / self.n0
        hops = math.ceil(math.log2(ranks))
        extra = (krylov_factor - 1) * self.krylov_share
        c = self.counts
        comm = (c["halo"] * 2 * (latency + 16 / bandwidth) * (1 + extra)
                + (c["reduce"] + c["vector_reductions"] * (1 + extra)) * hops * latency)
        return self.local * scale / ranks * (1 + extra) + comm

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
    print("  predicted time per gradient on a cluster (one core per rank, latency %.0f us, %.0f GB/s),"
          % (CLUSTER_LATENCY * 1e6, CLUSTER_BANDWIDTH / 1e9))
    print("  (a) as built, the exact preconditioner replicated on every rank:")
    print_table(lambda p, n: model.time(p, n, CLUSTER_LATENCY, CLUSTER_BANDWIDTH)
                if model.replicated_bytes(n) + MEMORY_PER_POINT * n / p <= MEMORY_PER_RANK else None)
    limit = MEMORY_PER_RANK / (2 * (26 + 6) * 8.0)
    print("      'no fit': its factors and gathered vectors take %.0f bytes per grid point on every "
          "rank (%.1f GB at N = 1e8); %.0f GB per rank holds N <= %.1e. Its O(N) solve, R N/N0, is "
          "a floor that no P lowers: %.1f s at N = 1e6." % (
              model.replicated_bytes(1), model.replicated_bytes(1e8) / 1e9, MEMORY_PER_RANK / 1e9,
              limit, model.replicated * 1e6 / model.n0))
    print("  (b) not built: per-rank exact blocks (no replicated work, no allgathers); the Krylov")
    print("      iterations per Newton iteration grow with P by an unmeasured factor, shown as x1 and x3:")
    for factor in (1, 3):
        print("      Krylov iterations x%d:" % factor)
        print_table(lambda p, n, f=factor: model.without_replication(
            p, n, CLUSTER_LATENCY, CLUSTER_BANDWIDTH, f)
            if MEMORY_PER_POINT * n / p <= MEMORY_PER_RANK else None)
    print("      'no fit' in (b): the rank's own part, %.1f kB per point (the serial run's peak RSS), "
          "exceeds %.0f GB." % (MEMORY_PER_POINT / 1e3, MEMORY_PER_RANK / 1e9))


def print_table(cell):
    ranks = (16, 64, 256, 1024)
    print("      N \\ P    " + "".join("%12d" % p for p in ranks))
    for points in (10**6, 10**7, 10**8):
        row = []
        for p in ranks:
            t = cell(p, points)
            row.append("%12s" % "no fit" if t is None else "%10.3g s" % t)
        print("      %-8.0e " % points + "".join(row))


def mnist_report(directory):
    def step(tag, batch):
        path = os.path.join(directory, tag, "mnist_epochs.csv")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            rows = list(csv.DictReader(f))
        return float(rows[0]["epoch_seconds"]) / math.ceil(8000 / batch) if rows else None

    strong = {p: step("mnist_strong_p%d" % p, 128) for p in (1, 2, 4)}
    if strong[1] is None:
        print("W4: no MNIST runs in %s" % directory)
        return
    print()
    print("W4 (MNIST training, 8000 images), rank 0's time per step:")
    print("  strong (batch 128, 4 parts): " + ", ".join(
        "P = %d %.2f ms (speed-up %.2f)" % (p, 1e3 * t, strong[1] / t) for p, t in strong.items() if t))
    weak = {p: step("mnist_weak_p%d" % p, 64 * p) for p in (1, 2, 4)}
    if weak[1]:
        print("  weak (batch 64 per rank):    " + ", ".join(
            "P = %d %.2f ms (efficiency %.2f)" % (p, 1e3 * t, weak[1] / t) for p, t in weak.items() if t))
        # One allreduce of the 59 282-double gradient (+ P flags) per step: 2 log2(P) latencies
        # and 2 (P-1)/P of its bytes (ring).
        gradient_bytes = 59282 * 8.0
        cells = []
        for ranks in (16, 64, 256, 1024):
            comm = (2 * math.log2(ranks) * CLUSTER_LATENCY
                    + 2.0 * (ranks - 1) / ranks * gradient_bytes / CLUSTER_BANDWIDTH)
            cells.append("P = %d: %.2f ms + %.3f ms (efficiency %.2f)"
                         % (ranks, 1e3 * weak[1], 1e3 * comm, weak[1] / (weak[1] + comm)))
        print("  model, weak, per step (compute + allreduce): " + "; ".join(cells))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: scaling_model.py RESULTS_DIR (written by scripts/distributed_scaling.sh)")
    w6_report(sys.argv[1])
    mnist_report(sys.argv[1])


if __name__ == "__main__":
    main()
