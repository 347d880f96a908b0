"""The examples of examples/python run as scripts and print their key results."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "python"


def importable(name: str) -> bool:
    """Whether `import name` works here (the examples import it the same way)."""
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def w2_data_dir() -> Path:
    root = os.environ.get("SNODE_DATA_DIR")
    return Path(root) / "w2" if root else REPO.parent / "shared" / "data" / "w2"


def run_example(name: str, *args: str, timeout: float = 300) -> str:
    """The example's stdout; fails the test with its stderr when it exits non-zero."""
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                            text=True, timeout=timeout, env=dict(os.environ))
    assert result.returncode == 0, f"{name} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


def test_decay_failure_prints_the_seed_result():
    out = run_example("decay_failure.py")
    lines = {m.group(1): line for line in out.splitlines()
             if (m := re.match(r"λ = (\S+?):", line))}
    assert set(lines) == {"100", "10000"}, out
    # λ = 100: the gradient is reasonable, at a small relative error
    assert "reasonable" in lines["100"] and "not flagged" in lines["100"], out
    error = float(re.search(r"relative error (\S+?)\)", lines["100"]).group(1))
    assert error < 1e-4
    # λ = 1e4: fails, and snode says so (flagged with a diagnosis, or an exception)
    assert "FAILS" in lines["10000"], out
    assert "flagged:" in lines["10000"] or "raised" in lines["10000"], out


def test_robertson_gradient_is_accurate():
    out = run_example("robertson_gradient.py")
    error = float(re.search(r"max relative error (\S+)", out).group(1))
    assert error < 1e-3, out
    assert "dopri5 with 100000 steps allowed gives up" in out, out


@pytest.mark.skipif(not importable("torch"),
                    reason="the W2 example needs PyTorch (Debian's python3-torch)")
@pytest.mark.skipif(not (w2_data_dir() / "w2_truth.json").is_file(),
                    reason=f"W2 data not found in {w2_data_dir()} (set SNODE_DATA_DIR)")
def test_w2_torch_adam_loss_decreases():
    out = run_example("w2_torch_adam.py", "--iterations", "60", "--data-dir", str(w2_data_dir()))
    match = re.search(r"^snode\.torch .*: loss (\S+) -> (\S+);", out, re.MULTILINE)
    assert match, out
    first, last = float(match.group(1)), float(match.group(2))
    # the lotka_volterra app's W2 curve: 6.737 at the initial weights, 2.94 after 50 iterations
    assert first == pytest.approx(6.737, abs=1e-3), out
    assert last < 3.5, out


@pytest.mark.skipif(not importable("torch"),
                    reason="the W2 example needs PyTorch (Debian's python3-torch)")
@pytest.mark.skipif(importable("torchdiffeq"),
                    reason="torchdiffeq is installed: the message for its absence cannot show")
@pytest.mark.skipif(not (w2_data_dir() / "w2_truth.json").is_file(),
                    reason=f"W2 data not found in {w2_data_dir()} (set SNODE_DATA_DIR)")
def test_w2_peer_without_torchdiffeq_says_so():
    result = subprocess.run([sys.executable, str(EXAMPLES / "w2_torch_adam.py"), "--peer",
                             "torchdiffeq", "--data-dir", str(w2_data_dir())],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "cannot import torchdiffeq" in result.stderr and not result.stdout
