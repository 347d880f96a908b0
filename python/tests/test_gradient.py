"""snode.gradient and snode.check_gradient: values equal to the C++ API's to 1e-14, gradients
against exact ones and the checker's verdict, the three losses, options and statistics."""

from __future__ import annotations

import numpy as np
import pytest

import snode
from conftest import assert_close, relative_error
from test_solve import CASE_IDS, SAME_AS_CPP, integrator_options, registered_problem

GRADIENT_STATS = {"forward_rhs_evals", "backward_rhs_evals", "vjp_evals", "jvp_evals",
                  "forward_steps", "backward_steps", "checkpoints", "backward_restarts",
                  "forward_nonlinear_iters", "backward_nonlinear_iters", "forward_linear_iters",
                  "backward_linear_iters", "forward_preconditioner_setups",
                  "forward_preconditioner_solves", "backward_preconditioner_setups",
                  "backward_preconditioner_solves", "stored_bytes", "wall_seconds",
                  "reconstruction_error", "reconstruction_failed", "flagged", "diagnosis",
                  "amplification", "error_estimate"}

METHODS = [("bptt", "dopri5"), ("backsolve_adjoint", "dopri5"),
           ("cvodes_adjoint", "cvodes_bdf")]


def close_to_cpp(actual, expected, what: str) -> None:
    """1e-14 relative to the vector's largest entry (entries far below it carry no digits)."""
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    assert_close(actual, expected, rtol=SAME_AS_CPP, atol=SAME_AS_CPP * scale, what=what)


@pytest.mark.parametrize("case_id", CASE_IDS)
def test_gradient_equals_cpp(cpp_reference, case_id: str) -> None:
    case = cpp_reference["by_id"][case_id]
    g = snode.gradient(registered_problem(case), method=case["method"],
                       **integrator_options(case))
    ref = case["gradient"]
    close_to_cpp(g.loss, ref["loss"], f"{case_id} loss")
    close_to_cpp(g.dtheta, ref["dtheta"], f"{case_id} dtheta")
    close_to_cpp(g.dz0, ref["dz0"], f"{case_id} dz0")
    close_to_cpp(g.states, ref["states"], f"{case_id} states")
    assert g.flagged == ref["flagged"]
    assert g.dreadout.shape == (0,)


def test_mlp_problem_gradient_equals_cpp(cpp_reference) -> None:
    ref = cpp_reference["mlp"]
    mlp = snode.Mlp(ref["widths"], activation=ref["activation"])
    problem = snode.Problem(mlp, np.array(ref["z"]), mlp.initial_params(seed=ref["seed"]),
                            ref["times"])
    g = snode.gradient(problem, loss=snode.MseLoss(np.array(ref["targets"])),
                       method=ref["method"], integrator=ref["integrator"], rtol=ref["rtol"],
                       atol=ref["atol"])
    close_to_cpp(g.loss, ref["gradient"]["loss"], "loss")
    close_to_cpp(g.dtheta, ref["gradient"]["dtheta"], "dtheta")
    close_to_cpp(g.dz0, ref["gradient"]["dz0"], "dz0")


@pytest.mark.parametrize("method, integrator", METHODS)
@pytest.mark.parametrize("name, stiffness", [("w1", 10.0), ("w1b", 100.0)])
def test_gradient_matches_exact_gradient(name: str, stiffness: float, method: str,
                                         integrator: str) -> None:
    """Tight tolerances (rtol 1e-10): every method within 1e-6 of the closed form."""
    problem = snode.problem(name, stiffness)
    g = snode.gradient(problem, method=method, integrator=integrator, rtol=1e-10, atol=1e-14)
    exact = problem.exact_gradient
    assert exact is not None and exact.shape == (problem.theta.size + problem.z0.size,)
    error = relative_error(np.concatenate([g.dtheta, g.dz0]), exact)
    assert error < 1e-6, f"{method}/{integrator} on {name}: relative error {error:.2e}"


@pytest.mark.parametrize("method, integrator", METHODS)
def test_check_gradient_passes(method: str, integrator: str) -> None:
    result = snode.check_gradient(snode.problem("w1b", 10.0), method=method,
                                  integrator=integrator)
    assert result.verdict == "pass", (result.verdict, result.max_relative_error)
    assert result.max_relative_error <= result.tolerance
    assert len(result.components) == 4  # dtheta[0..1], dz0[0..1]


def test_check_gradient_defaults() -> None:
    result = snode.check_gradient(snode.problem("w1b", 10.0))
    assert result.method == "bptt/dopri5"


def test_check_gradient_with_a_method_as_reference() -> None:
    result = snode.check_gradient(snode.problem("lotka_volterra"), method="bptt",
                                  integrator="dopri5", reference="cvodes_adjoint",
                                  relative_tolerance=1e-3)
    assert result.verdict == "pass"
    assert result.tolerance == 1e-3


def test_problem_loss_is_the_default_loss() -> None:
    problem = snode.problem("w1b", 10.0)
    implicit = snode.gradient(problem, method="bptt", integrator="dopri5")
    explicit = snode.gradient(problem, loss=problem.loss, method="bptt", integrator="dopri5")
    assert implicit.loss == explicit.loss
    assert np.array_equal(implicit.dtheta, explicit.dtheta)


# ---------------------------------------------------------------- losses


def decay_problem() -> "snode.Problem":
    return snode.Problem(snode.DecayField(2), np.array([1.0, 0.5]), np.array([2.0, 7.0]),
                         np.array([0.25, 0.5, 1.0]))


@pytest.mark.parametrize("method, integrator", METHODS)
def test_linear_loss_equals_registered_loss(method: str, integrator: str) -> None:
    """w1b's loss is Σ_t z1 + z2: LinearLoss(ones) gives the same numbers to 1e-12."""
    problem = snode.problem("w1b", 10.0)
    builtin = snode.gradient(problem, method=method, integrator=integrator)
    linear = snode.gradient(problem, loss=snode.LinearLoss(np.ones((4, 2))), method=method,
                            integrator=integrator)
    assert_close(linear.loss, builtin.loss, rtol=1e-12, what="loss")
    assert_close(linear.dtheta, builtin.dtheta, rtol=1e-12, what="dtheta")
    assert_close(linear.dz0, builtin.dz0, rtol=1e-12, what="dz0")


@pytest.mark.parametrize("method, integrator", METHODS)
def test_python_loss_equals_mse_loss(method: str, integrator: str) -> None:
    targets = np.array([[0.5, 0.1], [0.4, 0.02], [0.1, 0.0]])
    scale = 1.0 / targets.size

    def term(i, t, z):
        r = z - targets[i]
        return scale * float(r @ r), 2.0 * scale * r

    problem = decay_problem()
    mse = snode.gradient(problem, loss=snode.MseLoss(targets), method=method,
                         integrator=integrator, rtol=1e-8, atol=1e-10)
    python = snode.gradient(problem, loss=snode.PythonLoss(term), method=method,
                            integrator=integrator, rtol=1e-8, atol=1e-10)
    assert_close(python.loss, mse.loss, rtol=1e-12, what="loss")
    assert_close(python.dtheta, mse.dtheta, rtol=1e-12, what="dtheta")
    assert_close(python.dz0, mse.dz0, rtol=1e-12, what="dz0")


def test_python_loss_equals_linear_loss() -> None:
    weights = np.array([[1.0, -2.0], [0.0, 0.0], [3.0, 0.5]])

    def term(i, t, z):
        return float(weights[i] @ z), weights[i].copy()

    problem = decay_problem()
    linear = snode.gradient(problem, loss=snode.LinearLoss(weights))
    python = snode.gradient(problem, loss=snode.PythonLoss(term))
    assert_close(python.loss, linear.loss, rtol=1e-12, what="loss")
    assert_close(python.dtheta, linear.dtheta, rtol=1e-12, what="dtheta")
    assert_close(python.dz0, linear.dz0, rtol=1e-12, what="dz0")


def test_mse_loss_scale() -> None:
    targets = np.zeros((3, 2))
    problem = decay_problem()
    mean = snode.gradient(problem, loss=snode.MseLoss(targets), method="bptt",
                          integrator="dopri5")
    summed = snode.gradient(problem, loss=snode.MseLoss(targets, scale=1.0), method="bptt",
                            integrator="dopri5")
    assert_close(summed.loss, 6.0 * mean.loss, rtol=1e-14, what="loss")
    assert_close(summed.dtheta, 6.0 * mean.dtheta, rtol=1e-14, what="dtheta")
    # L = Σ_t ‖z(t)‖² by hand.
    t = np.array([0.25, 0.5, 1.0])[:, None]
    exact = np.sum((np.array([1.0, 0.5]) * np.exp(-np.array([2.0, 7.0]) * t)) ** 2)
    assert_close(summed.loss, exact, rtol=1e-6, what="loss vs exact")


@pytest.mark.parametrize("method, integrator", METHODS)
def test_linear_loss_running_cost(method: str, integrator: str) -> None:
    """L = ∫_0^T z dt of z' = −θz: (1 − e^{−θT})/θ and its θ- and z0-derivatives."""
    theta, big_t = 3.0, 2.0
    problem = snode.Problem(snode.DecayField(), [1.0], [theta], [big_t])
    loss = snode.LinearLoss(np.zeros((1, 1)), running=np.array([1.0]))
    g = snode.gradient(problem, loss=loss, method=method, integrator=integrator, rtol=1e-10,
                       atol=1e-12)
    e = np.exp(-theta * big_t)
    assert_close(g.loss, (1.0 - e) / theta, rtol=1e-7, what="loss")
    assert_close(g.dtheta, [(big_t * e * theta - (1.0 - e)) / theta ** 2], rtol=1e-6,
                 what="dtheta")
    assert_close(g.dz0, [(1.0 - e) / theta], rtol=1e-6, what="dz0")


# ---------------------------------------------------------------- options and statistics


def test_gradient_result_fields() -> None:
    problem = snode.problem("w1b", 10.0)
    g = snode.gradient(problem, method="cvodes_adjoint", integrator="cvodes_bdf")
    assert g.dtheta.shape == (2,) and g.dz0.shape == (2,)
    assert g.states.shape == (4, 2)
    assert isinstance(g.loss, float)
    assert isinstance(g.flagged, bool) and isinstance(g.diagnosis, str)
    assert isinstance(g.stats, dict)
    assert set(g.stats) >= GRADIENT_STATS - {"flagged", "diagnosis"}
    assert g.stats["forward_rhs_evals"] > 0 and g.stats["backward_steps"] > 0
    assert g.stats["stored_bytes"] > 0 and g.stats["backward_restarts"] >= 1


def test_reusable_gradient_method_equals_gradient() -> None:
    problem = snode.problem("lotka_volterra")
    method = snode.GradientMethod("bptt", "dopri5", rtol=1e-7, atol=1e-9)
    assert method.name == "bptt"
    once = snode.gradient(problem, method="bptt", integrator="dopri5", rtol=1e-7, atol=1e-9)
    for _ in range(3):
        again = method.compute(problem)
        assert again.loss == once.loss
        assert np.array_equal(again.dtheta, once.dtheta)
        assert np.array_equal(again.dz0, once.dz0)


def test_backward_integrator_and_tolerances() -> None:
    problem = snode.problem("w1b", 10.0)
    g = snode.gradient(problem, method="backsolve_adjoint", integrator="dopri5",
                       backward_integrator="dopri5", backward_rtol=1e-10, backward_atol=1e-12,
                       rtol=1e-10, atol=1e-12)
    assert relative_error(np.concatenate([g.dtheta, g.dz0]), problem.exact_gradient) < 1e-6
    interpolating = snode.gradient(problem, method="cvodes_adjoint", integrator="cvodes_bdf",
                                   backward_integrator="dopri5", rtol=1e-10, atol=1e-12)
    assert relative_error(np.concatenate([interpolating.dtheta, interpolating.dz0]),
                          problem.exact_gradient) < 1e-5


def test_method_options_reach_the_method() -> None:
    problem = snode.problem("w1b", 10.0)
    coarse = snode.gradient(problem, method="cvodes_adjoint", integrator="cvodes_bdf",
                            method_options={"checkpoint_interval": 1000})
    fine = snode.gradient(problem, method="cvodes_adjoint", integrator="cvodes_bdf",
                          method_options={"checkpoint_interval": 2})
    assert fine.stats["checkpoints"] > coarse.stats["checkpoints"]
    assert_close(fine.dtheta, coarse.dtheta, rtol=1e-4, what="dtheta")
    with pytest.raises(snode.ConfigError, match="no_such_option"):
        snode.gradient(problem, method="cvodes_adjoint", integrator="cvodes_bdf",
                       method_options={"no_such_option": 1})


@pytest.mark.parametrize("tolerance_check", [False, True])
def test_the_seeds_failure_is_flagged(tolerance_check: bool) -> None:
    """The seed's decay: the backsolve adjoint through dopri5 at default tolerances cannot
    reconstruct z backward at λ = 100 and breaks down at λ = 1e4; both are flagged, not
    returned as trustworthy gradients."""
    for stiffness in (100.0, 1e4):
        g = snode.gradient(snode.problem("w1", stiffness), method="backsolve_adjoint",
                           integrator="dopri5", tolerance_check=tolerance_check)
        assert g.flagged, stiffness
        assert g.diagnosis
        assert g.stats["reconstruction_failed"]
    for method, integrator in METHODS:
        healthy = snode.gradient(snode.problem("w1b", 10.0), method=method,
                                 integrator=integrator, tolerance_check=tolerance_check)
        assert not healthy.flagged, (method, healthy.diagnosis)
