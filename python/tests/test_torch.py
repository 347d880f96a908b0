"""snode.torch: gradcheck of ode_loss and odeint, equality with snode.gradient, bad input,
flag warnings and an OdeBlock trained inside nn.Sequential."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="snode.torch needs PyTorch (Debian's python3-torch)")

import snode  # noqa: E402
import snode.torch as st  # noqa: E402

TIGHT = {"rtol": 1e-10, "atol": 1e-12}
# gradcheck's central differences of a map solved at TIGHT: the truncation error is ~eps², the
# solver's noise ~(its error)/eps. dopri5's solutions move smoothly with θ (differences agree
# with the gradients to ~1e-9); CVODES' BDF solutions carry ~1e-9 of noise, so a larger step
# and a looser comparison.
GRADCHECK = {
    "dopri5": {"eps": 1e-5, "atol": 1e-7, "rtol": 1e-6},
    "cvodes_bdf": {"eps": 1e-4, "atol": 1e-5, "rtol": 1e-4},
}
METHODS = [
    ("cvodes_adjoint", "cvodes_bdf"),
    ("bptt", "dopri5"),
    ("backsolve_adjoint", "dopri5"),
]


def decay_problem():
    """z' = −θ ∘ z in two dimensions, observed twice."""
    return snode.Problem(snode.DecayField(2), np.array([1.0, 0.5]), np.array([0.7, 1.3]),
                         np.array([0.5, 1.0]))


def lotka_volterra_problem():
    return snode.Problem(snode.LotkaVolterraField(), np.array([1.0, 1.0]),
                         np.array([1.5, 1.0, 1.0, 3.0]), np.array([0.25, 0.5, 1.0]))


def mlp_problem():
    field = snode.Mlp([2, 4, 2], activation="tanh")
    return snode.Problem(field, np.array([0.3, -0.2]), field.initial_params(seed=1),
                         np.array([0.5, 1.0]))


def observed_at_t0_problem():
    """The first observation at t0, as in W2: its cotangent goes straight to dL/dz0."""
    return snode.Problem(snode.LotkaVolterraField(), np.array([1.0, 1.0]),
                         np.array([1.5, 1.0, 1.0, 3.0]), np.array([0.0, 0.5, 1.0]))


PROBLEMS = {"decay": decay_problem, "lotka_volterra": lotka_volterra_problem, "mlp": mlp_problem,
            "observed_at_t0": observed_at_t0_problem}


def weights_for(problem, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((len(problem.times), problem.field.state_size))


def leaf(array):
    return torch.tensor(np.array(array, dtype=np.float64), requires_grad=True)


@pytest.mark.parametrize("method,integrator", METHODS)
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_ode_loss_gradcheck(name, method, integrator):
    problem = PROBLEMS[name]()
    loss = snode.LinearLoss(weights_for(problem))
    theta, z0 = leaf(problem.theta), leaf(problem.z0)

    def fn(theta, z0):
        return st.ode_loss(theta, z0, problem, loss, method=method, integrator=integrator,
                           **TIGHT)

    assert torch.autograd.gradcheck(fn, (theta, z0), **GRADCHECK[integrator])


@pytest.mark.parametrize("method,integrator", METHODS[:2])
@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_odeint_gradcheck(name, method, integrator):
    problem = PROBLEMS[name]()
    theta, z0 = leaf(problem.theta), leaf(problem.z0)

    def fn(theta, z0):
        return st.odeint(theta, z0, problem, method=method, integrator=integrator, **TIGHT)

    assert torch.autograd.gradcheck(fn, (theta, z0), **GRADCHECK[integrator])


@pytest.mark.parametrize("method,integrator", METHODS)
def test_ode_loss_equals_snode_gradient(method, integrator):
    problem = lotka_volterra_problem()
    targets = weights_for(problem, seed=3)
    loss = snode.MseLoss(targets)
    g = snode.gradient(problem, loss, method=method, integrator=integrator, **TIGHT)
    theta, z0 = leaf(problem.theta), leaf(problem.z0)
    value = st.ode_loss(theta, z0, problem, loss, method=method, integrator=integrator, **TIGHT)
    assert value.dim() == 0 and value.dtype == torch.float64
    assert value.item() == pytest.approx(g.loss, rel=1e-14, abs=0)
    (2.5 * value).backward()  # the incoming gradient scales the result
    np.testing.assert_allclose(theta.grad.numpy(), 2.5 * g.dtheta, rtol=1e-14, atol=0)
    np.testing.assert_allclose(z0.grad.numpy(), 2.5 * g.dz0, rtol=1e-14, atol=0)


def test_ode_loss_uses_problem_loss_and_z0():
    problem = snode.problem("w1", stiffness=1.0)
    g = snode.gradient(problem, method="cvodes_adjoint", integrator="cvodes_bdf", **TIGHT)
    theta = leaf(problem.theta)
    value = st.ode_loss(theta, None, problem, **TIGHT)
    value.backward()
    assert value.item() == pytest.approx(g.loss, rel=1e-14, abs=0)
    np.testing.assert_allclose(theta.grad.numpy(), g.dtheta, rtol=1e-14, atol=0)
    # the seed's exact gradient: dL/dλ = −e^{−λ} at λ = 1
    assert theta.grad.item() == pytest.approx(-np.exp(-1.0), rel=1e-7)


@pytest.mark.parametrize("method,integrator", METHODS[:2])
def test_odeint_equals_solve_and_gradient(method, integrator):
    problem = mlp_problem()
    sol = snode.solve(problem, integrator=integrator, **TIGHT)
    theta, z0 = leaf(problem.theta), leaf(problem.z0)
    states = st.odeint(theta, z0, problem, method=method, integrator=integrator, **TIGHT)
    assert states.shape == (len(problem.times), problem.field.state_size)
    assert states.dtype == torch.float64
    np.testing.assert_allclose(states.detach().numpy(), sol.states, rtol=1e-14, atol=0)
    weights = weights_for(problem, seed=5)
    (states * torch.from_numpy(weights)).sum().backward()
    g = snode.gradient(problem, snode.LinearLoss(weights), method=method, integrator=integrator,
                       **TIGHT)
    np.testing.assert_allclose(theta.grad.numpy(), g.dtheta, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(z0.grad.numpy(), g.dz0, rtol=1e-14, atol=1e-300)


def test_odeint_backward_uses_forward_parameters():
    """Another forward on the same problem between forward and backward changes nothing."""
    problem = decay_problem()
    theta, z0 = leaf(problem.theta), leaf(problem.z0)
    states = st.odeint(theta, z0, problem, **TIGHT)
    st.odeint(leaf([5.0, 6.0]), leaf([2.0, 3.0]), problem, **TIGHT)  # overwrites problem.theta
    states[-1].sum().backward()
    theta_only = leaf([2.0, 3.0])
    problem.z0 = np.array([1.0, 0.5])
    states = st.odeint(theta_only, None, problem, **TIGHT)  # z0 from the problem
    problem.z0 = np.array([7.0, 8.0])
    states[-1].sum().backward()
    np.testing.assert_allclose(theta_only.grad.numpy(),
                               -np.array([1.0, 0.5]) * np.exp(-np.array([2.0, 3.0])), rtol=1e-8)
    # z(1) = z0 ∘ e^{−θ}: d/dθ_i = −z0_i e^{−θ_i}, d/dz0_i = e^{−θ_i}
    expected = np.exp(-np.array([0.7, 1.3]))
    np.testing.assert_allclose(z0.grad.numpy(), expected, rtol=1e-8)
    np.testing.assert_allclose(theta.grad.numpy(), -np.array([1.0, 0.5]) * expected, rtol=1e-8)


def test_gradient_only_options_reach_the_gradient():
    problem = lotka_volterra_problem()
    theta = leaf(problem.theta)
    states = st.odeint(theta, None, problem, method="cvodes_adjoint", integrator="cvodes_bdf",
                       backward_integrator="cvodes_bdf", backward_rtol=1e-10, **TIGHT)
    states.sum().backward()
    g = snode.gradient(problem, snode.LinearLoss(np.ones((3, 2))), method="cvodes_adjoint",
                       integrator="cvodes_bdf", backward_integrator="cvodes_bdf",
                       backward_rtol=1e-10, **TIGHT)
    np.testing.assert_allclose(theta.grad.numpy(), g.dtheta, rtol=1e-14, atol=0)


def test_method_options_and_repeated_calls():
    """Unhashable settings (method_options) work too; repeated calls give identical results."""
    problem = lotka_volterra_problem()
    loss = snode.MseLoss(weights_for(problem, seed=7))
    settings = dict(method="cvodes_adjoint", integrator="cvodes_bdf",
                    method_options={"quadrature": "gauss"}, **TIGHT)
    g = snode.gradient(problem, loss, **settings)
    for _ in range(3):
        theta = leaf(problem.theta)
        st.ode_loss(theta, None, problem, loss, **settings).backward()
        np.testing.assert_allclose(theta.grad.numpy(), g.dtheta, rtol=1e-14, atol=0)


def test_bad_options_raise_config_error():
    problem = decay_problem()
    theta = leaf(problem.theta)
    loss = snode.LinearLoss(weights_for(problem))
    with pytest.raises(snode.ConfigError, match="no_such_option"):
        st.ode_loss(theta, None, problem, loss, no_such_option=1)
    with pytest.raises(snode.ConfigError):
        st.ode_loss(theta, None, problem, loss, method="no_such_method")
    with pytest.raises(snode.ConfigError):
        st.odeint(theta, None, problem, integrator="no_such_integrator")


@pytest.mark.parametrize("fn", ["ode_loss", "odeint"])
def test_bad_tensors_raise(fn):
    problem = decay_problem()
    call = getattr(st, fn)
    theta = torch.tensor([0.7, 1.3], dtype=torch.float64)
    z0 = torch.tensor([1.0, 0.5], dtype=torch.float64)
    loss_args = (snode.LinearLoss(weights_for(problem)),) if fn == "ode_loss" else ()
    with pytest.raises(TypeError, match="theta"):
        call(theta.float(), z0, problem, *loss_args)
    with pytest.raises(TypeError, match="z0"):
        call(theta, z0.float(), problem, *loss_args)
    with pytest.raises(TypeError, match="theta"):
        call(np.array([0.7, 1.3]), z0, problem, *loss_args)
    with pytest.raises(ValueError, match="CPU"):
        call(torch.zeros(2, dtype=torch.float64, device="meta"), z0, problem, *loss_args)
    with pytest.raises(ValueError, match="z0"):
        call(theta, z0.reshape(2, 1), problem, *loss_args)
    with pytest.raises(ValueError):  # a wrong length is snode's ConfigError (a ValueError)
        call(torch.ones(3, dtype=torch.float64), z0, problem, *loss_args)


def test_non_contiguous_tensor_is_accepted():
    problem = decay_problem()
    base = torch.tensor([0.7, 9.0, 1.3, 9.0], dtype=torch.float64)
    states = st.odeint(base[::2], None, problem, **TIGHT)
    expected = st.odeint(torch.tensor([0.7, 1.3], dtype=torch.float64), None, problem, **TIGHT)
    assert torch.equal(states, expected)


def test_flagged_gradient_warns():
    """The seed's backsolve failure at λ = 1e4: flagged (warning) or raised, never silent."""
    problem = snode.problem("w1", stiffness=1e4)
    theta = leaf(problem.theta)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            st.ode_loss(theta, None, problem, method="backsolve_adjoint", integrator="dopri5",
                        rtol=1e-8, atol=1e-60)
        except snode.Error:
            return  # raised: not silent either
    g = snode.gradient(problem, method="backsolve_adjoint", integrator="dopri5", rtol=1e-8,
                       atol=1e-60)
    assert g.flagged, f"the seed's failure is neither raised nor flagged: {g.dtheta}"
    flagged = [w for w in caught if issubclass(w.category, st.GradientWarning)]
    assert flagged and g.diagnosis in str(flagged[0].message)


def test_flagged_odeint_backward_warns():
    problem = snode.problem("w1", stiffness=1e4)
    theta = leaf(problem.theta)
    states = st.odeint(theta, None, problem, method="backsolve_adjoint", integrator="dopri5",
                       rtol=1e-8, atol=1e-60)
    g = snode.gradient(problem, snode.LinearLoss(np.ones((1, 1))), method="backsolve_adjoint",
                       integrator="dopri5", rtol=1e-8, atol=1e-60)
    assert g.flagged, "the seed's failure is not flagged for a linear loss"
    with pytest.warns(st.GradientWarning, match="flagged"):
        states.sum().backward()


def test_unflagged_gradient_is_silent():
    problem = decay_problem()
    theta = leaf(problem.theta)
    with warnings.catch_warnings():
        warnings.simplefilter("error", st.GradientWarning)
        st.ode_loss(theta, None, problem, snode.LinearLoss(weights_for(problem)),
                    **TIGHT).backward()


def test_ode_block_trains_in_sequential():
    torch.manual_seed(0)
    field = snode.Mlp([2, 8, 2], activation="tanh")
    problem = snode.Problem(field, np.zeros(2), field.initial_params(seed=2),
                            np.array([0.25, 0.5, 0.75, 1.0]))
    block = st.OdeBlock(problem, method="cvodes_adjoint", integrator="cvodes_bdf", rtol=1e-8,
                        atol=1e-10)
    assert block.theta.shape == (field.num_params,) and block.theta.requires_grad
    np.testing.assert_array_equal(block.theta.detach().numpy(), problem.theta)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2).double(), block)
    assert any(p is block.theta for p in model.parameters())
    x = torch.tensor([1.0, -0.5, 0.25], dtype=torch.float64)
    target = torch.linspace(-1.0, 1.0, 8, dtype=torch.float64).reshape(4, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = torch.mean((model(x) - target) ** 2)
        loss.backward()
        assert block.theta.grad is not None and torch.all(torch.isfinite(block.theta.grad))
        assert model[0].weight.grad is not None  # dz0 flows back into the Linear layer
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0], losses


def test_import_snode_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, snode; assert 'torch' not in sys.modules, 'snode imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
