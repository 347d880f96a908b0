"""Shared fixtures of the snode Python tests.

The module is imported from PYTHONPATH (build/python in the build tree). The C++ reference values
come from the program python_cpp_reference (python/tests/cpp_reference.cpp), named by the
environment variable SNODE_CPP_REFERENCE; the tests that need it skip with a reason without it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any, Dict

import numpy as np
import pytest

# Keep the source tree clean when the suite is run by hand (ctest sets PYTHONDONTWRITEBYTECODE).
sys.dont_write_bytecode = True


def assert_close(actual: Any, expected: Any, rtol: float, atol: float = 0.0,
                 what: str = "") -> None:
    """Every entry within atol + rtol·|expected|, with a message naming the worst entry."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    if actual.size == 0:
        return
    error = np.abs(actual - expected)
    bound = atol + rtol * np.abs(expected)
    worst = int(np.argmax(error - bound))
    assert np.all(error <= bound), (
        f"{what}: entry {np.unravel_index(worst, actual.shape)} is "
        f"{actual.flat[worst]!r}, expected {expected.flat[worst]!r} "
        f"(difference {error.flat[worst]:.3e}, allowed {bound.flat[worst]:.3e})")


def relative_error(actual: Any, expected: Any) -> float:
    """max |a − e| / max(|e|, 1e-3·‖e‖∞), the convention docs/gradients.md judges by."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    floor = 1e-3 * float(np.max(np.abs(expected))) if expected.size else 0.0
    scale = np.maximum(np.abs(expected), max(floor, np.finfo(float).tiny))
    return float(np.max(np.abs(actual - expected) / scale)) if expected.size else 0.0


@pytest.fixture(scope="session")
def cpp_reference() -> Dict[str, Any]:
    """The C++ API's values for the cases of cpp_reference.cpp, by case id."""
    program = os.environ.get("SNODE_CPP_REFERENCE", "")
    if not program:
        pytest.skip("SNODE_CPP_REFERENCE is not set (the path of python_cpp_reference)")
    if not os.access(program, os.X_OK):
        pytest.skip(f"SNODE_CPP_REFERENCE={program} is not an executable")
    done = subprocess.run([program], check=True, capture_output=True, text=True, timeout=600)
    data = json.loads(done.stdout)
    data["by_id"] = {case["id"]: case for case in data["cases"]}
    return data
