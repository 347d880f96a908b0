"""A stiff gradient torchdiffeq cannot give: Robertson's kinetics on [0, 1e5].

y1' = -k1 y1 + k2 y2 y3, y2' = k1 y1 - k2 y2 y3 - k3 y2², y3' = k3 y2², k = (0.04, 3e7, 1e4),
y(0) = (1, 0, 0), L = y1(T) + 1e4 y2(T) with T = 1e5. dL/dk comes from CVODES' checkpointed
adjoint with BDF, compared with the same adjoint at rtol 1e-12, atol 1e-20.

Why an explicit solver cannot: an explicit Runge-Kutta step is stable only while h·|λ| stays
inside a bounded region (|h·λ| up to about 3.3 for dopri5), whatever the accuracy asked for.
Robertson's Jacobian has an eigenvalue near -1e4 late in [0, 1e5] (printed below) while the
solution itself barely moves, so dopri5 (torchdiffeq's default) would need of the order of
T·|λ|/3.3 = 3e8 steps, each kept for backpropagation; it gives up long before. BDF is stable for
any step on this problem and takes several hundred.
"""

from __future__ import annotations

import time

import numpy as np

import snode

T = 1e5
RTOL, ATOL = 1e-6, 1e-14  # y2 lives at 1e-5 ... 1e-11: the absolute tolerance must be below it


def timed_gradient(problem, **options):
    start = time.perf_counter()
    g = snode.gradient(problem, method="cvodes_adjoint", integrator="cvodes_bdf", **options)
    return g, time.perf_counter() - start


def main() -> None:
    problem = snode.problem("robertson", stiffness=T)
    g, seconds = timed_gradient(problem, rtol=RTOL, atol=ATOL)
    ref, ref_seconds = timed_gradient(problem, rtol=1e-12, atol=1e-20, max_steps=1_000_000)
    error = np.abs(g.dtheta - ref.dtheta) / np.abs(ref.dtheta)
    print(f"Robertson on [0, {T:g}], L = y1(T) + 1e4 y2(T) = {g.loss:.10g}")
    print(f"cvodes_adjoint/cvodes_bdf rtol {RTOL:g} atol {ATOL:g}: {seconds * 1e3:.1f} ms, "
          f"{g.stats['forward_steps']} forward and {g.stats['backward_steps']} backward steps, "
          f"flagged: {g.flagged}")
    for name, value, reference, err in zip(("k1", "k2", "k3"), g.dtheta, ref.dtheta, error):
        print(f"  dL/d{name} = {value: .6e}  (reference {reference: .6e}, "
              f"relative error {err:.1e})")
    print(f"reference: the same adjoint at rtol 1e-12, atol 1e-20 ({ref_seconds * 1e3:.1f} ms)")
    print(f"max relative error {error.max():.1e}")

    # The stiffness that stops an explicit solver: the Jacobian's spectral radius at T.
    final = snode.solve(problem, integrator="cvodes_bdf", rtol=RTOL, atol=ATOL).states[-1]
    radius = np.abs(np.linalg.eigvals(problem.field.dense_jacobian(T, final, problem.theta))).max()
    print(f"spectral radius of the Jacobian at T: {radius:.3g}; dopri5 stays stable only for "
          f"h <= ~3.3/{radius:.3g} = {3.3 / radius:.2g}: about {T * radius / 3.3:.1e} steps")
    start = time.perf_counter()
    try:
        snode.solve(problem, integrator="dopri5", rtol=RTOL, atol=ATOL, max_steps=100_000)
        print("dopri5 finished (unexpected)")
    except snode.Error as failure:
        print(f"dopri5 with 100000 steps allowed gives up after {time.perf_counter() - start:.2f}"
              f" s: {failure}")


if __name__ == "__main__":
    main()
