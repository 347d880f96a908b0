"""Type stubs of snode._snode, the compiled core of the snode package (docs/python.md).

Arrays in and out are float64 numpy arrays; inputs may also be sequences of numbers, which are
converted. A numpy input of another dtype raises TypeError, a non-contiguous one ValueError.
"""

from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

# An array argument: a float64 numpy array (read in place) or a sequence of numbers (converted).
_ArrayIn = Union[npt.NDArray[np.float64], Sequence[float]]
_MatrixIn = Union[npt.NDArray[np.float64], Sequence[Sequence[float]]]
_Array = npt.NDArray[np.float64]
# Values of the integrator options (fixed_step, initial_step, max_step, max_steps,
# linear_solver, preconditioner, max_nonlinear_iters, krylov_max_dim, interpolate_outputs,
# step_controller, initial_step_estimate).
_Option = Union[float, int, bool, str]

# ---------------------------------------------------------------- errors

class Error(RuntimeError):
    """Base of every error snode raises."""

class ConfigError(Error, ValueError):
    """Bad options, unknown names, wrong sizes or non-finite inputs (also a ValueError)."""

class InputError(Error, ValueError):
    """Bad data, model or plug-in files (also a ValueError)."""

class NumericalError(Error, ArithmeticError):
    """NaN/Inf or another numerical breakdown (also an ArithmeticError)."""

class SundialsError(Error):
    """A SUNDIALS call failed; .call, .flag and .flag_name say which and how."""

    call: str
    flag: int
    flag_name: str

# ---------------------------------------------------------------- registries and plug-ins

def integrators() -> List[str]:
    """Names of the registered integrators, sorted (built-ins and loaded plug-ins)."""

def gradient_methods() -> List[str]:
    """Names of the registered gradient methods, sorted."""

def problems() -> List[str]:
    """Names of the registered problems, sorted."""

def integrator_capabilities(name: str) -> Dict[str, Any]:
    """kind, order, error_estimate, needs_fixed_step, dense_output_order, output_jumps,
    step_hook, interpolated_outputs, records_steps, tableau (bool) and cvodes_method."""

def load_plugin(path: str) -> None:
    """Loads an snode plug-in (a shared object built with SNODE_PLUGIN) into the registries."""

def loaded_plugins() -> List[str]:
    """Canonical paths of the plug-ins loaded so far."""

# ---------------------------------------------------------------- fields

class Field:
    """A vector field f(t, z; θ) with its derivative products."""

    @property
    def name(self) -> str: ...
    @property
    def state_size(self) -> int: ...
    @property
    def num_params(self) -> int: ...
    @property
    def is_autonomous(self) -> bool: ...
    def f(self, t: float, z: _ArrayIn, theta: _ArrayIn) -> _Array:
        """f(t, z; θ) as a new array."""
    def jvp(self, t: float, z: _ArrayIn, theta: _ArrayIn, v: _ArrayIn) -> _Array:
        """(∂f/∂z) v, the Jacobian-vector product."""
    def vjp(self, t: float, z: _ArrayIn, theta: _ArrayIn, a: _ArrayIn) -> Tuple[_Array, _Array]:
        """(aᵀ ∂f/∂z, aᵀ ∂f/∂θ), the two vector-Jacobian products."""
    def dense_jacobian(self, t: float, z: _ArrayIn, theta: _ArrayIn) -> _Array:
        """∂f/∂z as an (n, n) array."""

class Mlp(Field):
    """The batched multilayer perceptron (θ: per layer W row-major as nn.Linear.weight, then b)."""

    def __init__(self, widths: Sequence[int], activation: Union[str, Sequence[str]] = "tanh",
                 time_input: bool = False, batch: int = 1) -> None: ...
    def initial_params(self, seed: int = 0) -> _Array:
        """PyTorch's default nn.Linear initialisation, reproducible by seed."""
    @property
    def widths(self) -> List[int]: ...
    @property
    def batch(self) -> int: ...

class DecayField(Field):
    """z' = −θ ∘ z."""

    def __init__(self, dimension: int = 1) -> None: ...

class LinearField(Field):
    """z' = A z + b with θ = vec(A), column-major."""

    def __init__(self, dimension: int, offset: Optional[_ArrayIn] = None) -> None: ...

class LotkaVolterraField(Field):
    """Lotka–Volterra with θ = (α, β, δ, γ)."""

    def __init__(self) -> None: ...

class RobertsonField(Field):
    """Robertson's kinetics with θ = (k1, k2, k3)."""

    def __init__(self) -> None: ...

class OperatorPointwiseField(Field):
    """Periodic 1-D diffusion plus a pointwise field at every grid point."""

    def __init__(self, points: int, diffusion: Sequence[float], pointwise: Field,
                 species: int) -> None: ...

def ReactionDiffusionField(points: int, hidden: int = 16, diffusion: float = 1e-3,
                           chunk_points: int = 1024) -> OperatorPointwiseField:
    """The neural reaction–diffusion field: periodic diffusion on `points` points plus the MLP
    2-h-h-2 at every point (2·points states)."""

class PythonField(Field):
    """A field from Python callables, each called with the GIL held."""

    def __init__(self, state_size: int, num_params: int,
                 f: Callable[[float, _Array, _Array], _ArrayIn],
                 jvp: Callable[[float, _Array, _Array, _Array], _ArrayIn],
                 vjp: Callable[[float, _Array, _Array, _Array], Tuple[_ArrayIn, _ArrayIn]],
                 name: str = "python") -> None: ...

# ---------------------------------------------------------------- losses

class Loss:
    """L = Σ_i ℓ_i(z(t_i)) (+ a running cost)."""

    @property
    def num_readout_params(self) -> int: ...

class MseLoss(Loss):
    """ℓ_i = scale·‖z(t_i) − targets[i]‖²; scale ≤ 0: the mean over all values."""

    def __init__(self, targets: _MatrixIn, scale: float = 0.0) -> None: ...

class LinearLoss(Loss):
    """ℓ_i = weights[i]·z(t_i), plus ∫ running·z dt when running is given."""

    def __init__(self, weights: _MatrixIn, running: Optional[_ArrayIn] = None) -> None: ...

class PythonLoss(Loss):
    """ℓ_i from term(i, t, z) -> (value, dvalue_dz), called with the GIL held."""

    def __init__(self, term: Callable[[int, float, _Array], Tuple[float, _ArrayIn]]) -> None: ...

# ---------------------------------------------------------------- problems

class Problem:
    """An ODE z' = f(t, z; θ), z(t0) = z0, observed at `times`."""

    def __init__(self, field: Field, z0: _ArrayIn, theta: _ArrayIn, times: _ArrayIn,
                 t0: float = 0.0) -> None: ...
    @property
    def field(self) -> Field: ...
    @property
    def z0(self) -> _Array: ...
    @z0.setter
    def z0(self, value: _ArrayIn) -> None: ...
    @property
    def theta(self) -> _Array: ...
    @theta.setter
    def theta(self, value: _ArrayIn) -> None: ...
    @property
    def times(self) -> _Array: ...
    @times.setter
    def times(self, value: _ArrayIn) -> None: ...
    @property
    def t0(self) -> float: ...
    @t0.setter
    def t0(self, value: float) -> None: ...
    @property
    def loss(self) -> Optional[Loss]: ...
    @loss.setter
    def loss(self, value: Optional[Loss]) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def stiffness(self) -> float: ...
    @property
    def exact_gradient(self) -> Optional[_Array]: ...

def problem(name: str, stiffness: Optional[float] = None, seed: int = 0) -> Problem:
    """A registered problem at the given stiffness (None: its first default value)."""

# ---------------------------------------------------------------- solving and differentiating

class Solution:
    """States at the output times and the solver's statistics."""

    @property
    def times(self) -> _Array: ...
    @property
    def states(self) -> _Array: ...
    @property
    def step_times(self) -> _Array: ...
    @property
    def stats(self) -> Dict[str, Union[int, float]]: ...

class GradientResult:
    """L, dL/dθ, dL/dz0, dL/dφ, the forward states, statistics and flag."""

    @property
    def loss(self) -> float: ...
    @property
    def dtheta(self) -> _Array: ...
    @property
    def dz0(self) -> _Array: ...
    @property
    def dreadout(self) -> _Array: ...
    @property
    def states(self) -> _Array: ...
    @property
    def stats(self) -> Dict[str, Union[int, float, bool, str]]: ...
    @property
    def flagged(self) -> bool: ...
    @property
    def diagnosis(self) -> str: ...

class GradientComponentCheck:
    @property
    def name(self) -> str: ...
    @property
    def method(self) -> float: ...
    @property
    def reference(self) -> float: ...
    @property
    def relative_error(self) -> float: ...

class GradientCheckResult:
    @property
    def verdict(self) -> str: ...
    @property
    def method(self) -> str: ...
    @property
    def reference(self) -> str: ...
    @property
    def components(self) -> List[GradientComponentCheck]: ...
    @property
    def max_relative_error(self) -> float: ...
    @property
    def tolerance(self) -> float: ...
    @property
    def subset(self) -> bool: ...
    @property
    def loss(self) -> float: ...
    @property
    def reference_loss(self) -> float: ...
    @property
    def method_flagged(self) -> bool: ...
    @property
    def method_diagnosis(self) -> str: ...
    @property
    def reference_flagged(self) -> bool: ...
    @property
    def reference_diagnosis(self) -> str: ...

class Integrator:
    """A reusable integrator: create once, solve many problems."""

    def __init__(self, name: str = "dopri5", rtol: float = 1e-6, atol: float = 1e-8,
                 **options: _Option) -> None: ...
    @property
    def name(self) -> str: ...
    def solve(self, problem: Problem) -> Solution: ...

class GradientMethod:
    """A reusable gradient method (a training loop creates it once)."""

    def __init__(self, method: str = "cvodes_adjoint", integrator: str = "cvodes_bdf",
                 rtol: float = 1e-6, atol: float = 1e-8,
                 backward_integrator: Optional[str] = None,
                 backward_rtol: Optional[float] = None, backward_atol: Optional[float] = None,
                 method_options: Optional[Dict[str, Any]] = None,
                 tolerance_check: bool = False, **options: _Option) -> None: ...
    @property
    def name(self) -> str: ...
    def compute(self, problem: Problem, loss: Optional[Loss] = None) -> GradientResult:
        """L and its gradients on problem (loss None: the problem's own)."""

def solve(problem: Problem, integrator: str = "dopri5", rtol: float = 1e-6, atol: float = 1e-8,
          **options: _Option) -> Solution:
    """Solves problem with the named integrator; keyword arguments are IntegratorOptions fields."""

def gradient(problem: Problem, loss: Optional[Loss] = None, method: str = "cvodes_adjoint",
             integrator: str = "cvodes_bdf", rtol: float = 1e-6, atol: float = 1e-8,
             backward_integrator: Optional[str] = None, backward_rtol: Optional[float] = None,
             backward_atol: Optional[float] = None,
             method_options: Optional[Dict[str, Any]] = None, tolerance_check: bool = False,
             **options: _Option) -> GradientResult:
    """L and dL/dθ, dL/dz0 by the named gradient method through the named integrator."""

def check_gradient(problem: Problem, loss: Optional[Loss] = None, method: str = "bptt",
                   integrator: str = "dopri5", rtol: float = 1e-6, atol: float = 1e-8,
                   reference: str = "finite_difference", relative_tolerance: float = 0.0,
                   max_components: int = 32, directions: int = 3, seed: int = 0,
                   **options: _Option) -> GradientCheckResult:
    """The method's [dL/dθ; dL/dz0] against central differences (or another method), with a
    verdict: "pass", "FAIL", "flagged" or "inconclusive"."""

# ---------------------------------------------------------------- the stiffness study

class StudyRun:
    @property
    def records_json(self) -> str: ...
    @property
    def neural_json(self) -> str: ...
    @property
    def summary(self) -> List[str]: ...
    @property
    def notes(self) -> List[str]: ...
    @property
    def log(self) -> str: ...
    @property
    def html(self) -> str: ...

def _study_run(preset: str, problems: List[str], methods: str, tolerances: List[float],
               lambdas: List[float], threads: int, out: str, plots: bool, ok_tol: float,
               seed: int) -> StudyRun:
    """The stiffness study (use snode.study.run)."""
