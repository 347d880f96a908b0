"""snode: stiff-aware neural ODEs on SUNDIALS, from numpy (and PyTorch through snode.torch).

The compiled core is snode._snode; this package re-exports it. See docs/python.md for the
reference: registries (integrators(), gradient_methods(), problems()), fields (Mlp, PythonField,
...), Problem, losses, solve(), gradient(), check_gradient(), study.run() and load_plugin().
"""

import sys as _sys


def _ensure_numpy() -> None:
    """Makes Debian's numpy importable from another CPython of the same version (pyenv, venv).

    The module is built for Debian's python3 and its python3-numpy; another interpreter of the
    same minor version can load it but may not see /usr/lib/python3/dist-packages.
    """
    try:
        import numpy  # noqa: F401
    except ImportError:
        debian = "/usr/lib/python3/dist-packages"
        import os

        if os.path.isdir(os.path.join(debian, "numpy")) and debian not in _sys.path:
            _sys.path.append(debian)
        import numpy  # noqa: F401  (raises the ImportError if still missing)


_ensure_numpy()

from ._snode import (  # noqa: E402
    ConfigError,
    DecayField,
    Error,
    Field,
    GradientCheckResult,
    GradientComponentCheck,
    GradientMethod,
    GradientResult,
    InputError,
    Integrator,
    LinearField,
    LinearLoss,
    Loss,
    LotkaVolterraField,
    Mlp,
    MseLoss,
    NumericalError,
    OperatorPointwiseField,
    Problem,
    PythonField,
    PythonLoss,
    ReactionDiffusionField,
    RobertsonField,
    Solution,
    SundialsError,
    check_gradient,
    gradient,
    gradient_methods,
    integrator_capabilities,
    integrators,
    load_plugin,
    loaded_plugins,
    problem,
    problems,
    solve,
)
from . import study  # noqa: E402

__version__ = "0.2.0"

__all__ = [
    "ConfigError",
    "DecayField",
    "Error",
    "Field",
    "GradientCheckResult",
    "GradientComponentCheck",
    "GradientMethod",
    "GradientResult",
    "InputError",
    "Integrator",
    "LinearField",
    "LinearLoss",
    "Loss",
    "LotkaVolterraField",
    "Mlp",
    "MseLoss",
    "NumericalError",
    "OperatorPointwiseField",
    "Problem",
    "PythonField",
    "PythonLoss",
    "ReactionDiffusionField",
    "RobertsonField",
    "Solution",
    "SundialsError",
    "check_gradient",
    "gradient",
    "gradient_methods",
    "integrator_capabilities",
    "integrators",
    "load_plugin",
    "loaded_plugins",
    "problem",
    "problems",
    "solve",
    "study",
]
