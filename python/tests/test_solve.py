"""snode.problem and snode.solve: registered problems built as the C++ registry builds them, and
solves equal to the C++ API's (python_cpp_reference) to 1e-14; closed-form solutions; options."""

from __future__ import annotations

from typing import Any, Dict

import numpy as np
import pytest

import snode
from conftest import assert_close

# The bindings run the same C++ code on the same inputs: anything above round-off in the last
# bits means they changed the problem, the options or the field.
SAME_AS_CPP = 1e-14

INTEGRATOR_STATS = {"steps", "rejected_steps", "rhs_evals", "jvp_evals", "jacobian_evals",
                    "linear_iters", "nonlinear_iters", "preconditioner_setups",
                    "preconditioner_solves", "krylov_dim_max", "krylov_dim_mean",
                    "wall_seconds", "first_step"}

CASE_IDS = ["w1_cvodes", "w1b_backsolve", "robertson_cvodes", "lotka_volterra_bptt",
            "neural_bptt_sdirk", "reaction_diffusion_gmres"]


def integrator_options(case: Dict[str, Any]) -> Dict[str, Any]:
    """The keyword arguments of snode.solve / snode.gradient for a reference case."""
    options: Dict[str, Any] = {"integrator": case["integrator"], "rtol": case["rtol"],
                               "atol": case["atol"]}
    if case["linear_solver"]:
        options["linear_solver"] = case["linear_solver"]
    return options


def registered_problem(case: Dict[str, Any]) -> "snode.Problem":
    return snode.problem(case["problem"], stiffness=case["stiffness"], seed=case["seed"])


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_registered_problem_equals_cpp(cpp_reference, case_id: str) -> None:
    case = cpp_reference["by_id"][case_id]
    setup = case["setup"]
    problem = registered_problem(case)
    assert problem.name == setup["name"]
    assert problem.stiffness == setup["stiffness"]
    assert problem.t0 == setup["t0"]
    assert np.array_equal(problem.times, setup["times"])
    assert np.array_equal(problem.z0, setup["z0"])
    assert np.array_equal(problem.theta, setup["theta"])
    assert problem.field.state_size == len(setup["z0"])
    assert problem.field.num_params == len(setup["theta"])
    assert problem.loss is not None
    if setup["exact_gradient"] is None:
        assert problem.exact_gradient is None
    else:
        assert np.array_equal(problem.exact_gradient, setup["exact_gradient"])


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_solve_equals_cpp(cpp_reference, case_id: str) -> None:
    case = cpp_reference["by_id"][case_id]
    solution = snode.solve(registered_problem(case), **integrator_options(case))
    expected = np.array(case["solve"]["states"])
    assert solution.states.shape == expected.shape
    assert np.array_equal(solution.times, case["solve"]["times"])
    assert_close(solution.states, expected, rtol=SAME_AS_CPP,
                 atol=SAME_AS_CPP * np.max(np.abs(expected)), what=f"{case_id} states")
    # The same steps: the solver saw the same problem.
    assert solution.stats["steps"] == case["solve"]["steps"]
    assert solution.stats["rhs_evals"] == case["solve"]["rhs_evals"]


def test_mlp_problem_solve_equals_cpp(cpp_reference) -> None:
    ref = cpp_reference["mlp"]
    mlp = snode.Mlp(ref["widths"], activation=ref["activation"])
    problem = snode.Problem(mlp, np.array(ref["z"]), mlp.initial_params(seed=ref["seed"]),
                            ref["times"])
    solution = snode.solve(problem, integrator=ref["integrator"], rtol=ref["rtol"],
                           atol=ref["atol"])
    assert_close(solution.states, ref["solve_states"], rtol=SAME_AS_CPP, what="states")


def test_default_stiffness_is_the_first_default() -> None:
    assert snode.problem("w1").stiffness == 1.0
    assert snode.problem("robertson").stiffness == 40.0
    assert snode.problem("reaction_diffusion").field.state_size == 64


def test_seed_changes_random_problems_only() -> None:
    assert not np.array_equal(snode.problem("neural", seed=0).theta,
                              snode.problem("neural", seed=1).theta)
    assert np.array_equal(snode.problem("w1", 10.0, seed=0).theta,
                          snode.problem("w1", 10.0, seed=5).theta)


def test_solution_shapes_and_stats() -> None:
    problem = snode.problem("w1b", 10.0)
    solution = snode.solve(problem)
    assert solution.times.shape == (4,)
    assert solution.states.shape == (4, 2)
    assert solution.states.dtype == np.float64
    assert set(solution.stats) >= INTEGRATOR_STATS
    assert solution.stats["steps"] > 0 and solution.stats["rhs_evals"] > 0
    # Results own their memory: a second solve does not change the first's arrays.
    before = solution.states.copy()
    snode.solve(problem, rtol=1e-3)
    assert np.array_equal(solution.states, before)
    assert not np.shares_memory(solution.states, snode.solve(problem).states)


@pytest.mark.parametrize("integrator", ["dopri5", "sdirk", "cvodes_bdf", "cvodes_adams", "epi2"])
def test_decay_solution_is_exact(integrator: str) -> None:
    """z(t) = z0 e^{−θt} to the solver's accuracy (rtol 1e-10: 1e-7 relative)."""
    theta = np.array([1.0, 5.0])
    z0 = np.array([1.0, 2.0])
    times = np.array([0.1, 0.5, 1.0])
    problem = snode.Problem(snode.DecayField(2), z0, theta, times)
    solution = snode.solve(problem, integrator=integrator, rtol=1e-10, atol=1e-12)
    exact = z0 * np.exp(-np.outer(times, theta))
    assert_close(solution.states, exact, rtol=1e-7, what=integrator)


def test_problem_attributes_are_writable() -> None:
    problem = snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0])
    assert problem.t0 == 0.0
    problem.theta = np.array([2.0])
    problem.z0 = np.array([3.0])
    problem.times = np.array([0.5, 1.0])
    problem.t0 = 0.5
    solution = snode.solve(problem, rtol=1e-10, atol=1e-12)
    # A first output time equal to t0 returns z0.
    assert solution.states[0, 0] == 3.0
    assert_close(solution.states[1, 0], 3.0 * np.exp(-2.0 * 0.5), rtol=1e-8, what="z(1)")
    assert np.array_equal(problem.theta, [2.0])


def test_lists_and_scalars_are_converted() -> None:
    problem = snode.Problem(snode.DecayField(), [1.0], (2.0,), [1.0])
    assert problem.z0.dtype == np.float64 and problem.z0.shape == (1,)
    solution = snode.solve(problem, rtol=1e-10, atol=1e-12)
    assert_close(solution.states[-1, 0], np.exp(-2.0), rtol=1e-8, what="z(1)")


def test_integrator_options_are_honoured() -> None:
    problem = snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0])
    fixed = snode.solve(problem, integrator="rk4", fixed_step=0.01)
    assert fixed.stats["steps"] == 100
    assert_close(fixed.states[-1, 0], np.exp(-1.0), rtol=1e-9, what="rk4 h = 0.01")
    interpolated = snode.solve(snode.problem("w1b", 10.0), integrator="dopri5",
                               interpolate_outputs=True)
    stopped = snode.solve(snode.problem("w1b", 10.0), integrator="dopri5")
    assert interpolated.stats["steps"] < stopped.stats["steps"]
    limited = snode.solve(problem, integrator="dopri5", max_step=0.01)
    assert limited.stats["steps"] >= 100
    gmres = snode.solve(snode.problem("robertson"), integrator="cvodes_bdf",
                        linear_solver="gmres", rtol=1e-6, atol=1e-12)
    assert gmres.stats["linear_iters"] > 0


def test_reusable_integrator_equals_solve() -> None:
    """snode.Integrator, created once, solves bit for bit as snode.solve does, every time."""
    problem = snode.problem("robertson")
    integrator = snode.Integrator("cvodes_bdf", rtol=1e-6, atol=1e-12)
    assert integrator.name == "cvodes_bdf"
    once = snode.solve(problem, integrator="cvodes_bdf", rtol=1e-6, atol=1e-12)
    for _ in range(3):
        again = integrator.solve(problem)
        assert np.array_equal(again.states, once.states)
        assert again.stats["steps"] == once.stats["steps"]
