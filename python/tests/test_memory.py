"""No leaks across many calls: the resident set size after a warm-up grows by less than a
stated bound over 10 000 calls, and the inputs' reference counts are unchanged afterwards."""

from __future__ import annotations

import gc
import os
import sys
import time
from typing import Callable

import numpy as np
import pytest

import snode

CALLS = 10_000
WARM_UP = 500
# A leak of even 200 bytes per call would show as 2 MB over 10 000 calls; allocator noise
# (arenas, numpy's small-array cache) stays well below it.
RSS_BOUND_BYTES = 2 * 1024 * 1024

if not os.path.exists("/proc/self/statm"):
    pytest.skip("the resident set size is read from /proc/self/statm (Linux)",
                allow_module_level=True)


def resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def growth(call: Callable[[], object], calls: int = CALLS, warm_up: int = WARM_UP) -> int:
    """RSS after `calls` calls minus RSS after `warm_up` calls."""
    for _ in range(warm_up):
        call()
    gc.collect()
    before = resident_bytes()
    for _ in range(calls):
        call()
    gc.collect()
    return resident_bytes() - before


def refcounts(*objects) -> list:
    return [sys.getrefcount(o) for o in objects]


def test_gradient_does_not_leak() -> None:
    z0, theta = np.array([1.0, 0.5]), np.array([2.0, 7.0])
    times = np.array([0.5, 1.0])
    weights = np.ones((2, 2))
    field = snode.DecayField(2)
    problem = snode.Problem(field, z0, theta, times)
    loss = snode.LinearLoss(weights)
    counted = (z0, theta, times, weights, field, problem, loss)
    before = refcounts(*counted)
    grown = growth(lambda: snode.gradient(problem, loss=loss, method="bptt",
                                          integrator="dopri5"))
    assert grown < RSS_BOUND_BYTES, f"RSS grew by {grown} bytes over {CALLS} gradients"
    assert refcounts(*counted) == before


def test_registered_problem_gradients_do_not_leak() -> None:
    problem = snode.problem("w1b", 10.0)
    before = refcounts(problem)
    grown = growth(lambda: snode.gradient(problem, method="cvodes_adjoint",
                                          integrator="cvodes_bdf"), calls=CALLS // 5)
    assert grown < RSS_BOUND_BYTES, f"RSS grew by {grown} bytes over {CALLS // 5} gradients"
    assert refcounts(problem) == before


def test_python_field_solves_do_not_leak() -> None:
    """Each solve makes ~10 callbacks with fresh read-only arrays; 10 000 solves (fewer when a
    slow machine would take over ~8 s) must not grow the RSS."""
    def f(t, z, theta):
        return -theta * z

    def jvp(t, z, theta, v):
        return -theta * v

    def vjp(t, z, theta, a):
        return -theta * a, -z * a

    field = snode.PythonField(1, 1, f, jvp, vjp)
    z0, theta = np.array([1.0]), np.array([1.0])
    problem = snode.Problem(field, z0, theta, [1.0])
    loss = snode.PythonLoss(lambda i, t, z: (float(z[0]), np.ones(1)))
    counted = (f, jvp, vjp, field, z0, theta, problem, loss)
    before = refcounts(*counted)

    start = time.perf_counter()
    for _ in range(100):
        snode.solve(problem, rtol=1e-4, atol=1e-6)
    per_call = (time.perf_counter() - start) / 100
    calls = int(min(CALLS, max(2000, 8.0 / per_call)))
    grown = growth(lambda: snode.solve(problem, rtol=1e-4, atol=1e-6), calls=calls)
    assert grown < RSS_BOUND_BYTES, f"RSS grew by {grown} bytes over {calls} solves"
    grown = growth(lambda: snode.gradient(problem, loss=loss, method="bptt",
                                          integrator="dopri5", rtol=1e-4, atol=1e-6),
                   calls=calls // 4, warm_up=100)
    assert grown < RSS_BOUND_BYTES, f"RSS grew by {grown} bytes over {calls // 4} gradients"
    assert refcounts(*counted) == before


def test_field_products_do_not_leak() -> None:
    mlp = snode.Mlp([2, 16, 2])
    theta = mlp.initial_params()
    z, a = np.array([0.1, 0.2]), np.array([1.0, -1.0])
    before = refcounts(mlp, theta, z, a)
    grown = growth(lambda: (mlp.f(0.0, z, theta), mlp.vjp(0.0, z, theta, a)))
    assert grown < RSS_BOUND_BYTES, f"RSS grew by {grown} bytes over {CALLS} products"
    assert refcounts(mlp, theta, z, a) == before


def test_errors_do_not_leak() -> None:
    """The exception path (C++ error → Python exception, and a callback's exception) as well."""
    problem = snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0])

    def unknown_integrator() -> None:
        try:
            snode.solve(problem, integrator="no_such_integrator")
        except snode.ConfigError:
            pass

    def failing_callback(field=snode.PythonField(1, 1, lambda t, z, p: 1 / 0,
                                                 lambda t, z, p, v: v,
                                                 lambda t, z, p, a: (a, a))) -> None:
        try:
            snode.solve(snode.Problem(field, [1.0], [1.0], [1.0]))
        except ZeroDivisionError:
            pass

    before = refcounts(problem)
    grown = growth(unknown_integrator, calls=CALLS // 2)
    assert grown < RSS_BOUND_BYTES, f"RSS grew by {grown} bytes over {CALLS // 2} errors"
    grown = growth(failing_callback, calls=CALLS // 2)
    assert grown < RSS_BOUND_BYTES, f"RSS grew by {grown} bytes over {CALLS // 2} errors"
    assert refcounts(problem) == before
