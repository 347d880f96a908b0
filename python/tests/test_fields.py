"""Fields from Python: the MLP, the analytic fields, the reaction-diffusion operator field and
PythonField, checked against central differences, the transpose identity of the two products,
closed forms and the C++ API's own values."""

from __future__ import annotations

from typing import Callable, List, Optional

import numpy as np
import pytest

import snode
from conftest import assert_close

# Central differences with h = 1e-5 have a truncation error ~h²·|f'''| and a round-off error
# ~1e-16·|f|/h: both far below 1e-7 relative on the smooth fields used here.
FD_STEP = 1e-5
FD_RTOL = 1e-7
# ⟨a, J v⟩ and ⟨Jᵀa, v⟩ are the same sum in another order: equal to round-off.
TRANSPOSE_RTOL = 1e-12


def central_difference(function: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                       direction: np.ndarray, step: float = FD_STEP) -> np.ndarray:
    """(F(x + h d) − F(x − h d)) / 2h: the directional derivative to O(h²)."""
    return (function(x + step * direction) - function(x - step * direction)) / (2.0 * step)


def check_products(field, t: float, z: np.ndarray, theta: np.ndarray, seed: int = 0) -> None:
    """jvp and both parts of vjp against central differences of f; vjp against jvp's transpose."""
    rng = np.random.default_rng(seed)
    n, p = field.state_size, field.num_params
    v = rng.standard_normal(n)
    a = rng.standard_normal(n)
    f = field.f(t, z, theta)
    assert f.shape == (n,) and f.dtype == np.float64

    jv = field.jvp(t, z, theta, v)
    fd = central_difference(lambda x: field.f(t, x, theta), z, v)
    assert_close(jv, fd, rtol=FD_RTOL, atol=FD_RTOL * np.max(np.abs(fd)), what="jvp vs FD")

    a_z, a_theta = field.vjp(t, z, theta, a)
    assert a_z.shape == (n,) and a_theta.shape == (p,)
    # aᵀ ∂f/∂z e_k and aᵀ ∂f/∂θ e_k by differences, component by component.
    # Steps relative to each component's size (Robertson's rates span 0.04 … 3e7).
    fd_z = np.array([a @ central_difference(lambda x: field.f(t, x, theta), z, e,
                                            FD_STEP * max(1.0, abs(z[k])))
                     for k, e in enumerate(np.eye(n))])
    fd_theta = np.array([a @ central_difference(lambda q: field.f(t, z, q), theta, e,
                                                FD_STEP * max(1.0, abs(theta[k])))
                         for k, e in enumerate(np.eye(p))])
    assert_close(a_z, fd_z, rtol=FD_RTOL, atol=FD_RTOL * np.max(np.abs(fd_z)),
                 what="vjp (state) vs FD")
    assert_close(a_theta, fd_theta, rtol=FD_RTOL, atol=FD_RTOL * np.max(np.abs(fd_theta)),
                 what="vjp (params) vs FD")

    # The transpose identity for several directions.
    for _ in range(3):
        v = rng.standard_normal(n)
        a = rng.standard_normal(n)
        lhs = a @ field.jvp(t, z, theta, v)
        rhs = field.vjp(t, z, theta, a)[0] @ v
        scale = np.linalg.norm(a) * np.linalg.norm(field.jvp(t, z, theta, v))
        assert abs(lhs - rhs) <= TRANSPOSE_RTOL * scale, (lhs, rhs)


# ---------------------------------------------------------------- MLP


def test_mlp_sizes_and_name() -> None:
    mlp = snode.Mlp([2, 8, 8, 2])
    assert mlp.state_size == 2
    assert mlp.num_params == 8 * 3 + 8 * 9 + 2 * 9
    assert isinstance(mlp, snode.Field)
    assert "mlp" in mlp.name
    batched = snode.Mlp([3, 5, 3], activation=["softplus", "identity"], time_input=True,
                        batch=4)
    assert batched.state_size == 12
    assert batched.num_params == 5 * (3 + 1) + 5 + 3 * 5 + 3


def test_mlp_initial_params_layout() -> None:
    """PyTorch's nn.Linear default: every weight and bias within ±1/√fan_in, deterministic."""
    mlp = snode.Mlp([2, 8, 2])
    theta = mlp.initial_params(seed=3)
    assert theta.shape == (mlp.num_params,)
    assert np.array_equal(theta, mlp.initial_params(seed=3))
    assert not np.array_equal(theta, mlp.initial_params(seed=4))
    first = theta[:8 * 2 + 8]  # W_0 (8 × 2) then b_0
    second = theta[8 * 2 + 8:]  # W_1 (2 × 8) then b_1
    assert np.max(np.abs(first)) <= 1.0 / np.sqrt(2.0)
    assert np.max(np.abs(second)) <= 1.0 / np.sqrt(8.0)


def test_mlp_layout_is_pytorch_row_major() -> None:
    """θ = [W_0 row-major, b_0, W_1, b_1]: f written out in numpy must match to round-off."""
    mlp = snode.Mlp([2, 4, 2])
    theta = mlp.initial_params(seed=1)
    w0 = theta[:8].reshape(4, 2)
    b0 = theta[8:12]
    w1 = theta[12:20].reshape(2, 4)
    b1 = theta[20:22]
    z = np.array([0.3, -0.7])
    expected = w1 @ np.tanh(w0 @ z + b0) + b1
    assert_close(mlp.f(0.0, z, theta), expected, rtol=1e-14, atol=1e-15, what="f")


@pytest.mark.parametrize("widths, activation, time_input, batch", [
    ([2, 8, 8, 2], "tanh", False, 1),
    ([3, 6, 3], ["softplus", "identity"], True, 2),
    ([2, 5, 5, 2], ["gelu", "sigmoid", "identity"], False, 3),
])
def test_mlp_products_match_central_differences(widths: List[int], activation, time_input: bool,
                                                batch: int) -> None:
    mlp = snode.Mlp(widths, activation=activation, time_input=time_input, batch=batch)
    theta = mlp.initial_params(seed=5)
    z = np.random.default_rng(11).standard_normal(mlp.state_size)
    check_products(mlp, 0.4, z, theta)


def test_mlp_dense_jacobian_matches_jvp_columns() -> None:
    mlp = snode.Mlp([3, 7, 3], batch=2)
    theta = mlp.initial_params(seed=2)
    z = np.linspace(-1.0, 1.0, mlp.state_size)
    jac = mlp.dense_jacobian(0.0, z, theta)
    assert jac.shape == (6, 6)
    columns = np.column_stack([mlp.jvp(0.0, z, theta, e) for e in np.eye(6)])
    assert_close(jac, columns, rtol=1e-13, atol=1e-15, what="dense Jacobian")
    # Samples are independent: the off-diagonal blocks are zero.
    assert np.all(jac[:3, 3:] == 0.0) and np.all(jac[3:, :3] == 0.0)


def test_mlp_equals_cpp_reference(cpp_reference) -> None:
    """Initial parameters bit for bit, f and the products to 1e-14, as the C++ API computes them."""
    ref = cpp_reference["mlp"]
    mlp = snode.Mlp(ref["widths"], activation=ref["activation"])
    theta = mlp.initial_params(seed=ref["seed"])
    assert np.array_equal(theta, np.array(ref["theta"]))
    t, z, v = ref["t"], np.array(ref["z"]), np.array(ref["v"])
    assert_close(mlp.f(t, z, theta), ref["f"], rtol=1e-14, what="f")
    assert_close(mlp.jvp(t, z, theta, v), ref["jvp"], rtol=1e-14, what="jvp")
    a_z, a_theta = mlp.vjp(t, z, theta, v)
    assert_close(a_z, ref["vjp_state"], rtol=1e-14, what="vjp state")
    assert_close(a_theta, ref["vjp_params"], rtol=1e-14,
                 atol=1e-14 * np.max(np.abs(ref["vjp_params"])), what="vjp params")


# ---------------------------------------------------------------- analytic fields


def test_decay_field_closed_form() -> None:
    field = snode.DecayField(3)
    assert (field.state_size, field.num_params) == (3, 3)
    z = np.array([1.0, -2.0, 0.5])
    theta = np.array([0.5, 3.0, 100.0])
    assert np.array_equal(field.f(0.0, z, theta), -theta * z)
    check_products(field, 0.0, z, theta)
    assert snode.DecayField().state_size == 1


def test_linear_field_closed_form() -> None:
    offset = np.array([0.25, -1.0])
    field = snode.LinearField(2, offset=offset)
    assert (field.state_size, field.num_params) == (2, 4)
    a = np.array([[-1.0, 2.0], [0.5, -3.0]])
    theta = a.flatten(order="F")  # vec(A), column-major
    z = np.array([0.7, -0.2])
    assert_close(field.f(0.0, z, theta), a @ z + offset, rtol=1e-15, atol=1e-16, what="f")
    assert_close(field.dense_jacobian(0.0, z, theta), a, rtol=0.0, what="Jacobian")
    check_products(field, 0.0, z, theta)
    no_offset = snode.LinearField(2)
    assert_close(no_offset.f(0.0, z, theta), a @ z, rtol=1e-15, atol=1e-16, what="f")


def test_lotka_volterra_field_closed_form() -> None:
    field = snode.LotkaVolterraField()
    alpha, beta, delta, gamma = theta = np.array([1.1, 0.4, 0.1, 0.4])
    x, y = z = np.array([10.0, 5.0])
    expected = np.array([alpha * x - beta * x * y, delta * x * y - gamma * y])
    assert_close(field.f(0.0, z, theta), expected, rtol=1e-15, what="f")
    check_products(field, 0.0, z, theta)


def test_robertson_field_closed_form() -> None:
    field = snode.RobertsonField()
    k1, k2, k3 = theta = np.array([0.04, 3e7, 1e4])
    y1, y2, y3 = z = np.array([0.9, 2e-5, 0.1])
    expected = np.array([-k1 * y1 + k3 * y2 * y3,
                         k1 * y1 - k2 * y2 ** 2 - k3 * y2 * y3,
                         k2 * y2 ** 2])
    assert_close(field.f(0.0, z, theta), expected, rtol=1e-12,
                 atol=1e-12 * np.max(np.abs(expected)), what="f")
    check_products(field, 0.0, z, theta)


# ---------------------------------------------------------------- reaction-diffusion


def pointwise_params(hidden: int, seed: int) -> np.ndarray:
    """θ of the pointwise MLP 2-h-h-2 (the reaction-diffusion field's whole θ)."""
    return snode.Mlp([2, hidden, hidden, 2]).initial_params(seed=seed)


def test_reaction_diffusion_field_products() -> None:
    field = snode.ReactionDiffusionField(8, hidden=4)
    assert field.state_size == 16
    assert field.num_params == (4 * 2 + 4) + (4 * 4 + 4) + (2 * 4 + 2)
    theta = pointwise_params(4, seed=1)
    x = np.arange(8) / 8.0
    z = np.column_stack([1.0 + 0.5 * np.sin(2 * np.pi * x), np.full(8, 3.0)]).ravel()
    check_products(field, 0.0, z, theta)


def test_reaction_diffusion_initial_params() -> None:
    """The field's θ is its MLP's (docs/python.md): Mlp([2, h, h, 2]).initial_params(seed)."""
    theta = snode.Mlp([2, 16, 16, 2]).initial_params(seed=0)
    assert np.array_equal(theta, snode.problem("reaction_diffusion").theta)
    assert np.array_equal(snode.Mlp([2, 16, 16, 2]).initial_params(seed=3),
                          pointwise_params(16, seed=3))


def test_reaction_diffusion_field_is_the_registered_problems() -> None:
    """snode.ReactionDiffusionField(32) is the field of snode.problem("reaction_diffusion")."""
    problem = snode.problem("reaction_diffusion")
    field = snode.ReactionDiffusionField(32)
    assert field.state_size == problem.field.state_size == 64
    assert field.num_params == problem.field.num_params
    assert_close(field.f(0.0, problem.z0, problem.theta),
                 problem.field.f(0.0, problem.z0, problem.theta), rtol=1e-14, what="f")


def test_operator_pointwise_field_equals_reaction_diffusion() -> None:
    """Diffusion + an Mlp with batch = points is the reaction-diffusion field with that MLP."""
    points, hidden, diffusion = 8, 4, 1e-3
    pointwise = snode.Mlp([2, hidden, hidden, 2], batch=points)
    combined = snode.OperatorPointwiseField(points, [diffusion, diffusion], pointwise, 2)
    reference = snode.ReactionDiffusionField(points, hidden=hidden, diffusion=diffusion)
    assert combined.state_size == reference.state_size == 2 * points
    assert combined.num_params == reference.num_params
    theta = pointwise_params(hidden, seed=4)
    z = np.random.default_rng(3).uniform(0.5, 3.0, 2 * points)
    v = np.random.default_rng(4).standard_normal(2 * points)
    assert_close(combined.f(0.1, z, theta), reference.f(0.1, z, theta), rtol=1e-14,
                 atol=1e-15, what="f")
    assert_close(combined.jvp(0.1, z, theta, v), reference.jvp(0.1, z, theta, v), rtol=1e-14,
                 atol=1e-15, what="jvp")
    check_products(combined, 0.1, z, theta)
    # Without diffusion only the pointwise network is left.
    alone = snode.OperatorPointwiseField(points, [0.0, 0.0], pointwise, 2)
    assert_close(alone.f(0.1, z, theta), pointwise.f(0.1, z, theta), rtol=1e-15, atol=1e-16,
                 what="f without diffusion")


# ---------------------------------------------------------------- PythonField


def python_decay(dimension: int = 1, calls: Optional[dict] = None) -> "snode.PythonField":
    """z' = −θ ∘ z in numpy: the same field as snode.DecayField(dimension)."""

    def f(t, z, theta):
        if calls is not None:
            calls["f"] = calls.get("f", 0) + 1
            calls["writeable"] = calls.get("writeable", False) or z.flags.writeable
        return -theta * z

    def jvp(t, z, theta, v):
        return -theta * v

    def vjp(t, z, theta, a):
        return -theta * a, -z * a

    return snode.PythonField(dimension, dimension, f, jvp, vjp, name="python decay")


def test_python_field_products_call_back() -> None:
    calls: dict = {}
    field = python_decay(2, calls)
    assert field.name == "python decay"
    assert (field.state_size, field.num_params) == (2, 2)
    z, theta = np.array([1.0, -3.0]), np.array([2.0, 0.5])
    assert np.array_equal(field.f(0.0, z, theta), -theta * z)
    assert calls["f"] == 1
    a_z, a_theta = field.vjp(0.0, z, theta, np.array([1.0, 1.0]))
    assert np.array_equal(a_z, -theta) and np.array_equal(a_theta, -z)
    check_products(field, 0.0, z, theta)


def test_python_field_callbacks_see_read_only_arrays() -> None:
    calls: dict = {}
    field = python_decay(1, calls)
    snode.solve(snode.Problem(field, [1.0], [1.0], [1.0]))
    assert calls["f"] > 0
    assert calls["writeable"] is False, "a callback could write into the solver's state"


@pytest.mark.parametrize("method, integrator", [
    ("bptt", "dopri5"),
    ("backsolve_adjoint", "dopri5"),
    ("cvodes_adjoint", "cvodes_bdf"),
    ("bptt", "sdirk"),
])
def test_python_field_gradient_equals_decay_field(method: str, integrator: str) -> None:
    """The numpy decay through every method gives DecayField's gradient to 1e-12."""
    z0, theta, times = np.array([1.0, 0.5]), np.array([2.0, 7.0]), [0.25, 0.5, 1.0]
    weights = np.ones((3, 2))
    results = []
    for field in (snode.DecayField(2), python_decay(2)):
        problem = snode.Problem(field, z0, theta, times)
        results.append(snode.gradient(problem, loss=snode.LinearLoss(weights), method=method,
                                      integrator=integrator, rtol=1e-8, atol=1e-10))
    native, python = results
    assert_close(python.loss, native.loss, rtol=1e-12, what="loss")
    assert_close(python.dtheta, native.dtheta, rtol=1e-12, what="dtheta")
    assert_close(python.dz0, native.dz0, rtol=1e-12, what="dz0")
    # And both are the exact gradient of L = Σ_t Σ_k z0_k e^{−θ_k t} to the solver's accuracy.
    t = np.array(times)[:, None]
    exact_dtheta = np.sum(-t * z0 * np.exp(-theta * t), axis=0)
    assert_close(native.dtheta, exact_dtheta, rtol=1e-5, what="dtheta vs exact")


def test_python_field_solve_equals_decay_field() -> None:
    z0, theta, times = np.array([1.0]), np.array([3.0]), [0.5, 1.0]
    native = snode.solve(snode.Problem(snode.DecayField(), z0, theta, times), rtol=1e-9,
                         atol=1e-12)
    python = snode.solve(snode.Problem(python_decay(), z0, theta, times), rtol=1e-9,
                         atol=1e-12)
    assert_close(python.states, native.states, rtol=1e-12, what="states")
    assert_close(native.states[:, 0], np.exp(-3.0 * np.array(times)), rtol=1e-7, what="exact")
