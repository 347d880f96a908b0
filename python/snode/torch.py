"""PyTorch bridge: an snode ODE solve as a differentiable torch operation.

``ode_loss`` is a scalar loss L(θ, z0) whose gradient is snode's (any gradient method, any
integrator, computed together with the loss in the forward call); ``odeint`` returns the states
at ``problem.times`` and differentiates them by running the gradient method on the loss
Σ_i c_i·z(t_i) with the incoming cotangents c_i; ``OdeBlock`` is an ``nn.Module`` holding θ as a
parameter. Tensors are float64 on the CPU; they reach snode as numpy views, without copies.

The bridge writes θ and z0 into the problem it is given (``problem.theta``, ``problem.z0``)
before every solve, so one problem object serves a whole training loop.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any, Callable, Dict, Optional

import numpy as np
import torch
from torch import nn

import snode

__all__ = ["GradientWarning", "OdeBlock", "ode_loss", "odeint"]

# snode.gradient's own keywords that snode.solve does not take: odeint's forward drops them.
_GRADIENT_ONLY = frozenset(
    ("backward_integrator", "backward_rtol", "backward_atol", "method_options", "tolerance_check")
)
_FLOAT64 = torch.float64
_CACHE_SIZE = 32
_cache = threading.local()  # per thread: a method object serves one computation at a time


class GradientWarning(RuntimeWarning):
    """An snode gradient that its method flagged as unreliable (``g.flagged``)."""


def _as_array(tensor: Any, name: str) -> np.ndarray:
    """The tensor's float64 CPU data as a numpy view: snode reads it in place."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dtype is not _FLOAT64:
        raise TypeError(f"{name} must be a float64 tensor (torch.float64), got {tensor.dtype}")
    if tensor.device.type != "cpu":
        raise ValueError(f"{name} must be on the CPU, got device {tensor.device}")
    if tensor.dim() != 1:
        raise ValueError(f"{name} must be a 1-D tensor, got shape {tuple(tensor.shape)}")
    return tensor.detach().contiguous().numpy()


def _check_flag(g: Any, method: str, integrator: str) -> None:
    """A flagged gradient is never silent: warn with the method's diagnosis."""
    if g.flagged:
        warnings.warn(
            f"snode gradient {method}/{integrator} flagged: {g.diagnosis}",
            GradientWarning,
            stacklevel=4,
        )


def _cached(kind: str, make: Callable[..., Any], *names: str, options: Dict[str, Any]) -> Any:
    """A reusable snode.GradientMethod or snode.Integrator for these settings.

    A training loop calls the bridge with the same settings every iteration; building the method
    (and its integrator and work memory) once instead of per call saves a third of a small
    problem's gradient time. Settings that cannot be a dictionary key are not cached.
    """
    key: Any = (kind, names, tuple(sorted(options.items())))
    try:
        hash(key)
    except TypeError:  # an unhashable option value (method_options is a dict)
        key = None
    if key is None:
        return make(*names, **options)
    objects = _cache.__dict__.setdefault("objects", {})
    found = objects.get(key)
    if found is None:
        if len(objects) >= _CACHE_SIZE:
            objects.clear()
        found = objects[key] = make(*names, **options)
    return found


def _gradient(problem: Any, loss: Any, method: str, integrator: str, options: Dict[str, Any]):
    """snode.gradient(problem, loss, method=..., integrator=..., **options), reusing the method."""
    computer = _cached("gradient", snode.GradientMethod, method, integrator, options=options)
    return computer.compute(problem, loss)


def _set_state(problem: Any, theta_np: np.ndarray, z0_np: Optional[np.ndarray]) -> None:
    problem.theta = theta_np
    if z0_np is not None:
        problem.z0 = z0_np


class _OdeLoss(torch.autograd.Function):
    """L(θ, z0) with snode's gradient computed in the forward call and replayed in backward."""

    @staticmethod
    def forward(ctx, theta, z0, problem, loss, method, integrator, options):
        z0_np = None if z0 is None else _as_array(z0, "z0")
        _set_state(problem, _as_array(theta, "theta"), z0_np)
        g = _gradient(problem, loss, method, integrator, options)
        _check_flag(g, method, integrator)
        ctx.dtheta = g.dtheta
        ctx.dz0 = g.dz0
        return torch.tensor(g.loss, dtype=_FLOAT64)

    @staticmethod
    def backward(ctx, grad_output):
        dtheta = dz0 = None
        needs = ctx.needs_input_grad
        if needs[0]:
            dtheta = torch.from_numpy(ctx.dtheta) * grad_output
        if needs[1]:
            dz0 = torch.from_numpy(ctx.dz0) * grad_output
        return dtheta, dz0, None, None, None, None, None


class _OdeInt(torch.autograd.Function):
    """The states at problem.times; backward is the gradient of Σ_i c_i·z(t_i)."""

    @staticmethod
    def forward(ctx, theta, z0, problem, method, integrator, options):
        theta_np = _as_array(theta, "theta")
        z0_np = None if z0 is None else _as_array(z0, "z0")
        _set_state(problem, theta_np, z0_np)
        solve_options = {k: v for k, v in options.items() if k not in _GRADIENT_ONLY}
        sol = _cached("solve", snode.Integrator, integrator, options=solve_options).solve(problem)
        # The backward solve must start from the same θ and z0, whatever happens to the problem
        # between the two calls.
        ctx.theta_np = theta_np.copy()
        ctx.z0_np = problem.z0 if z0_np is None else z0_np.copy()  # the getter returns a copy
        ctx.problem = problem
        ctx.method = method
        ctx.integrator = integrator
        ctx.options = options
        return torch.from_numpy(sol.states)

    @staticmethod
    def backward(ctx, grad_output):
        needs = ctx.needs_input_grad
        if not (needs[0] or needs[1]):
            return None, None, None, None, None, None
        problem = ctx.problem
        _set_state(problem, ctx.theta_np, ctx.z0_np)
        weights = grad_output.detach().to(_FLOAT64).contiguous().numpy()
        cotangent = snode.LinearLoss(weights)
        g = _gradient(problem, cotangent, ctx.method, ctx.integrator, ctx.options)
        _check_flag(g, ctx.method, ctx.integrator)
        dtheta = torch.from_numpy(g.dtheta) if needs[0] else None
        dz0 = torch.from_numpy(g.dz0) if needs[1] else None
        return dtheta, dz0, None, None, None, None


def ode_loss(
    theta: torch.Tensor,
    z0: Optional[torch.Tensor],
    problem: Any,
    loss: Any = None,
    method: str = "cvodes_adjoint",
    integrator: str = "cvodes_bdf",
    **options: Any,
) -> torch.Tensor:
    """The scalar loss L(θ, z0) of ``problem`` (0-d float64 tensor), differentiable in θ and z0.

    One ``snode.gradient`` call gives both L and its gradient, so backward costs nothing more.
    ``loss=None`` uses ``problem.loss``; ``z0=None`` keeps ``problem.z0`` (no gradient for it).
    ``options`` are ``snode.gradient``'s keywords (``rtol``, ``atol``, integrator options, ...).
    Raises TypeError for a tensor that is not float64, ValueError for one not on the CPU.
    """
    return _OdeLoss.apply(theta, z0, problem, loss, method, integrator, options)


def odeint(
    theta: torch.Tensor,
    z0: Optional[torch.Tensor],
    problem: Any,
    method: str = "cvodes_adjoint",
    integrator: str = "cvodes_bdf",
    **options: Any,
) -> torch.Tensor:
    """The states at ``problem.times``, a ``(K, n)`` float64 tensor, differentiable in θ and z0.

    The forward is ``snode.solve``; backward runs ``method`` once on the loss Σ_i c_i·z(t_i)
    built from the incoming cotangents c_i (a vector-Jacobian product of the solve map).
    ``z0=None`` keeps ``problem.z0``. ``options`` are ``snode.gradient``'s keywords; the
    gradient-only ones (``backward_integrator``, ``method_options``, ...) are not given to the
    forward solve.
    """
    return _OdeInt.apply(theta, z0, problem, method, integrator, options)


class OdeBlock(nn.Module):
    """An snode ODE as a layer: forward(z0) gives the states at ``problem.times``.

    θ is an ``nn.Parameter`` initialised from ``problem.theta``; ``options`` go to ``odeint``
    (``method``, ``integrator``, tolerances, integrator options).
    """

    def __init__(self, problem: Any, **options: Any) -> None:
        super().__init__()
        self.problem = problem
        self.options = options
        self.theta = nn.Parameter(torch.tensor(problem.theta, dtype=_FLOAT64))

    def forward(self, z0: Optional[torch.Tensor] = None) -> torch.Tensor:
        return odeint(self.theta, z0, self.problem, **self.options)

    def extra_repr(self) -> str:
        field = getattr(self.problem, "field", None)
        name = getattr(field, "name", "?")
        return f"field={name}, num_params={self.theta.numel()}, options={self.options}"
