"""Bad input raises a clean Python exception naming the problem, never a crash: shapes, dtypes,
non-contiguous arrays, NaN/Inf, unknown names and options, and Python callbacks that fail."""

from __future__ import annotations

import numpy as np
import pytest

import snode


def decay_problem(**overrides) -> "snode.Problem":
    arguments = dict(field=snode.DecayField(2), z0=np.array([1.0, 2.0]),
                     theta=np.array([1.0, 3.0]), times=np.array([0.5, 1.0]))
    arguments.update(overrides)
    return snode.Problem(arguments["field"], arguments["z0"], arguments["theta"],
                         arguments["times"])


def build_and_solve(**overrides) -> None:
    """Sizes and values may be checked when the problem is built or when it is solved."""
    snode.solve(decay_problem(**overrides))


# ---------------------------------------------------------------- shapes


def test_wrong_state_length() -> None:
    with pytest.raises(snode.ConfigError, match="z0"):
        build_and_solve(z0=np.array([1.0, 2.0, 3.0]))


def test_wrong_parameter_length() -> None:
    with pytest.raises(snode.ConfigError, match="theta|θ|param"):
        build_and_solve(theta=np.array([1.0]))


def test_two_dimensional_state() -> None:
    with pytest.raises(ValueError):
        build_and_solve(z0=np.ones((2, 1)))


def test_field_products_check_lengths() -> None:
    field = snode.Mlp([2, 4, 2])
    theta = field.initial_params()
    with pytest.raises(ValueError):
        field.f(0.0, np.ones(3), theta)
    with pytest.raises(ValueError):
        field.f(0.0, np.ones(2), theta[:-1])
    with pytest.raises(ValueError):
        field.jvp(0.0, np.ones(2), theta, np.ones(5))
    with pytest.raises(ValueError):
        field.vjp(0.0, np.ones(2), theta, np.ones(1))


def test_loss_shapes() -> None:
    problem = decay_problem()
    with pytest.raises(ValueError):  # one row for two output times
        snode.gradient(problem, loss=snode.MseLoss(np.zeros((1, 2))))
    with pytest.raises(ValueError):  # one row for two output times
        snode.gradient(problem, loss=snode.LinearLoss(np.zeros((1, 2))))
    with pytest.raises(ValueError):  # three columns for two states
        snode.gradient(problem, loss=snode.LinearLoss(np.zeros((2, 3))))
    with pytest.raises(ValueError):  # targets must be 2-D
        snode.MseLoss(np.zeros(2))


@pytest.mark.parametrize("make_loss", [snode.MseLoss, snode.LinearLoss])
def test_extra_loss_rows(make_loss) -> None:
    with pytest.raises(ValueError):  # three rows for two output times
        snode.gradient(decay_problem(), loss=make_loss(np.zeros((3, 2))))


def test_times_must_increase() -> None:
    with pytest.raises(snode.ConfigError):
        build_and_solve(times=np.array([1.0, 0.5]))


# ---------------------------------------------------------------- dtypes and layout


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.complex128])
def test_wrong_dtype_is_a_type_error(dtype) -> None:
    with pytest.raises(TypeError, match="float64"):
        build_and_solve(z0=np.array([1, 2], dtype=dtype))
    with pytest.raises(TypeError, match="float64"):
        build_and_solve(theta=np.array([1, 3], dtype=dtype))
    field = snode.DecayField(2)
    with pytest.raises(TypeError, match="float64"):
        field.f(0.0, np.array([1, 2], dtype=dtype), np.ones(2))
    with pytest.raises(TypeError, match="float64"):
        snode.MseLoss(np.zeros((2, 2), dtype=dtype))


def test_non_contiguous_arrays_are_a_value_error() -> None:
    strided = np.arange(4.0)[::2]
    assert not strided.flags.c_contiguous
    with pytest.raises(ValueError, match="contiguous"):
        build_and_solve(z0=strided)
    with pytest.raises(ValueError, match="contiguous"):
        snode.DecayField(2).f(0.0, np.ones(2), strided)
    fortran = np.asfortranarray(np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="contiguous"):
        snode.MseLoss(fortran)


def test_non_numeric_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        build_and_solve(z0=["a", "b"])
    with pytest.raises(TypeError):
        build_and_solve(z0=None)


# ---------------------------------------------------------------- NaN / Inf


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_inputs_are_config_errors(bad: float) -> None:
    with pytest.raises(snode.ConfigError):
        build_and_solve(z0=np.array([1.0, bad]))
    with pytest.raises(snode.ConfigError):
        build_and_solve(theta=np.array([bad, 1.0]))
    with pytest.raises(snode.ConfigError):
        snode.gradient(decay_problem(theta=np.array([bad, 1.0])),
                       loss=snode.LinearLoss(np.ones((2, 2))))


# ---------------------------------------------------------------- names and options


def test_unknown_integrator() -> None:
    with pytest.raises(snode.ConfigError, match="no_such_integrator") as info:
        snode.solve(decay_problem(), integrator="no_such_integrator")
    assert "dopri5" in str(info.value) and "cvodes_bdf" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_unknown_gradient_method() -> None:
    with pytest.raises(snode.ConfigError, match="no_such_method") as info:
        snode.gradient(snode.problem("w1"), method="no_such_method")
    assert "bptt" in str(info.value) and "cvodes_adjoint" in str(info.value)


def test_unknown_problem() -> None:
    with pytest.raises(snode.ConfigError, match="no_such_problem") as info:
        snode.problem("no_such_problem")
    assert "robertson" in str(info.value) and "w1" in str(info.value)


def test_unknown_integrator_option() -> None:
    with pytest.raises(snode.ConfigError, match="no_such_option"):
        snode.solve(decay_problem(), no_such_option=1)
    with pytest.raises(snode.ConfigError, match="no_such_option"):
        snode.gradient(snode.problem("w1"), no_such_option=1)


def test_bad_option_values() -> None:
    with pytest.raises(snode.ConfigError, match="rtol"):
        snode.solve(decay_problem(), rtol=-1.0)
    with pytest.raises(snode.ConfigError):
        snode.solve(decay_problem(), integrator="cvodes_bdf", linear_solver="no_such_solver")
    with pytest.raises((TypeError, snode.ConfigError)):
        snode.solve(decay_problem(), max_steps="many")


def test_incompatible_method_and_integrator() -> None:
    """cvodes_adjoint needs a CVODES forward: a ConfigError naming both."""
    with pytest.raises(snode.ConfigError, match="dopri5"):
        snode.gradient(snode.problem("w1"), method="cvodes_adjoint", integrator="dopri5")


def test_bad_mlp_options() -> None:
    with pytest.raises(snode.ConfigError):
        snode.Mlp([2])
    with pytest.raises(snode.ConfigError, match="tanh"):  # the message lists the known names
        snode.Mlp([2, 4, 2], activation="no_such_activation")
    with pytest.raises(snode.ConfigError):
        snode.Mlp([2, 4, 2], batch=0)


def test_problem_without_loss() -> None:
    with pytest.raises(snode.ConfigError):
        snode.gradient(decay_problem())


def test_wrong_argument_types() -> None:
    with pytest.raises(TypeError):
        snode.solve("w1")
    with pytest.raises(TypeError):
        snode.Problem("not a field", [1.0], [1.0], [1.0])
    with pytest.raises(TypeError):
        snode.gradient(snode.problem("w1"), loss="mse")


# ---------------------------------------------------------------- Python callbacks


class CallbackFailure(Exception):
    """An exception type of the user's own."""


def python_field(f=None, jvp=None, vjp=None, n: int = 1) -> "snode.PythonField":
    return snode.PythonField(
        n, n,
        f or (lambda t, z, theta: -theta * z),
        jvp or (lambda t, z, theta, v: -theta * v),
        vjp or (lambda t, z, theta, a: (-theta * a, -z * a)))


def raising(*_args):
    raise CallbackFailure("the user's field failed at step 7")


def test_raising_field_callback_propagates_unchanged() -> None:
    field = python_field(f=raising)
    problem = snode.Problem(field, [1.0], [1.0], [1.0])
    with pytest.raises(CallbackFailure) as info:
        snode.solve(problem)
    assert str(info.value) == "the user's field failed at step 7"
    with pytest.raises(CallbackFailure) as info:
        field.f(0.0, np.ones(1), np.ones(1))
    assert str(info.value) == "the user's field failed at step 7"
    with pytest.raises(ZeroDivisionError):
        snode.solve(snode.Problem(python_field(f=lambda t, z, theta: 1 / 0), [1.0], [1.0],
                                  [1.0]))


@pytest.mark.parametrize("method, integrator", [("bptt", "dopri5"),
                                                ("backsolve_adjoint", "dopri5"),
                                                ("cvodes_adjoint", "cvodes_bdf")])
def test_raising_vjp_callback_propagates_unchanged(method: str, integrator: str) -> None:
    problem = snode.Problem(python_field(vjp=raising), [1.0], [1.0], [1.0])
    with pytest.raises(CallbackFailure, match="step 7"):
        snode.gradient(problem, loss=snode.LinearLoss(np.ones((1, 1))), method=method,
                       integrator=integrator)
    # The module is usable afterwards.
    assert snode.solve(snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0])).states.shape \
        == (1, 1)


def test_raising_loss_callback_propagates_unchanged() -> None:
    problem = snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0])
    with pytest.raises(CallbackFailure) as info:
        snode.gradient(problem, loss=snode.PythonLoss(raising))
    assert str(info.value) == "the user's field failed at step 7"


def test_callback_returning_the_wrong_shape() -> None:
    field = python_field(f=lambda t, z, theta: np.zeros(3), n=2)
    with pytest.raises(ValueError, match="3"):
        snode.solve(snode.Problem(field, [1.0, 1.0], [1.0, 1.0], [1.0]))
    with pytest.raises(ValueError):
        field.f(0.0, np.ones(2), np.ones(2))
    bad_vjp = python_field(vjp=lambda t, z, theta, a: (a, np.zeros(4)))
    with pytest.raises(ValueError):
        bad_vjp.vjp(0.0, np.ones(1), np.ones(1), np.ones(1))
    loss = snode.PythonLoss(lambda i, t, z: (0.0, np.zeros(5)))
    with pytest.raises(ValueError):
        snode.gradient(snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0]), loss=loss)


def test_callback_returning_garbage() -> None:
    field = python_field(f=lambda t, z, theta: "not numbers")
    with pytest.raises((TypeError, ValueError)):
        snode.solve(snode.Problem(field, [1.0], [1.0], [1.0]))
    not_a_pair = python_field(vjp=lambda t, z, theta, a: a)
    with pytest.raises((TypeError, ValueError)):
        not_a_pair.vjp(0.0, np.ones(1), np.ones(1), np.ones(1))
    with pytest.raises((TypeError, ValueError)):
        snode.gradient(snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0]),
                       loss=snode.PythonLoss(lambda i, t, z: None))


def test_callback_producing_nan_is_a_numerical_error() -> None:
    field = python_field(f=lambda t, z, theta: np.full(1, np.nan))
    with pytest.raises(snode.NumericalError) as info:
        snode.solve(snode.Problem(field, [1.0], [1.0], [1.0]))
    assert isinstance(info.value, ArithmeticError)


def test_python_field_needs_callables() -> None:
    with pytest.raises(TypeError):
        snode.PythonField(1, 1, None, None, None)
    with pytest.raises((ValueError, snode.ConfigError)):
        snode.PythonField(-1, 1, raising, raising, raising)
