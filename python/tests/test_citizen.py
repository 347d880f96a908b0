"""A good Python citizen: the GIL released during solves and re-taken for callbacks, Ctrl-C
stopping a long solve with KeyboardInterrupt, docstrings, and SundialsError's attributes."""

from __future__ import annotations

import ast
import os
import pydoc
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import snode

# A solve of the seed's decay at λ = 1e4 with dopri5 is limited by stability to steps of ~3e-4:
# ~3 300 steps per unit of time. LONG_HORIZON takes minutes, far more than any test waits.
LONG_HORIZON = 1e5


def long_problem(horizon: float) -> "snode.Problem":
    return snode.Problem(snode.DecayField(), [1.0], [1e4], [horizon])


def timed_solve(horizon: float) -> float:
    start = time.perf_counter()
    snode.solve(long_problem(horizon), integrator="dopri5", max_steps=10**9)
    return time.perf_counter() - start


def largest_gap_while(call) -> tuple:
    """Runs call() on a thread while this one spins; returns (the call's duration, the largest
    gap between this thread's ticks during it). A call holding the GIL would stop this thread
    for its whole duration; one releasing it leaves gaps of the interpreter's switch interval
    (5 ms) at most."""
    window = {}

    def worker() -> None:
        window["start"] = time.perf_counter()
        call()
        window["end"] = time.perf_counter()

    thread = threading.Thread(target=worker)
    ticks = []
    thread.start()
    while thread.is_alive():
        ticks.append(time.perf_counter())
    thread.join()
    inside = [t for t in ticks if window["start"] <= t <= window["end"]]
    edges = [window["start"]] + inside + [window["end"]]
    return window["end"] - window["start"], max(np.diff(edges))


def calibrated_horizon(seconds: float) -> float:
    """A horizon of the λ = 1e4 decay that dopri5 takes about `seconds` to solve here."""
    return min(LONG_HORIZON, 10.0 * seconds / max(timed_solve(10.0), 1e-4))


def test_gil_is_released_during_a_solve() -> None:
    problem = long_problem(calibrated_horizon(0.5))
    duration, gap = largest_gap_while(
        lambda: snode.solve(problem, integrator="dopri5", max_steps=10**9))
    assert duration > 0.2, f"the solve took only {duration:.3f} s: not long enough to judge"
    assert gap < 0.25 * duration, f"this thread stood still {gap:.3f} s of a {duration:.3f} s solve"


def test_gil_is_released_during_a_gradient() -> None:
    problem = long_problem(calibrated_horizon(0.3))
    loss = snode.LinearLoss(np.ones((1, 1)))
    duration, gap = largest_gap_while(
        lambda: snode.gradient(problem, loss=loss, method="backsolve_adjoint",
                               integrator="dopri5", max_steps=10**9))
    assert duration > 0.2, f"the gradient took only {duration:.3f} s: not long enough to judge"
    assert gap < 0.25 * duration, f"this thread stood still {gap:.3f} s of a {duration:.3f} s call"


def test_gil_is_released_during_a_study() -> None:
    duration, gap = largest_gap_while(lambda: snode.study.run(preset="quick", threads=1))
    assert duration > 0.2, f"the study took only {duration:.3f} s: not long enough to judge"
    assert gap < 0.25 * duration, f"this thread stood still {gap:.3f} s of a {duration:.3f} s study"


def run_script(code: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))


def test_python_callbacks_from_several_threads() -> None:
    """PythonField solves on four threads at once: the GIL is taken for every callback (in a
    fresh interpreter, since a callback without the GIL would crash it)."""
    result = run_script("""
        import threading
        import numpy as np
        import snode
        field = lambda: snode.PythonField(1, 1, lambda t, z, p: -p * z,
                                          lambda t, z, p, v: -p * v,
                                          lambda t, z, p, a: (-p * a, -z * a))
        results, errors = {}, []
        def work(k):
            try:
                problem = snode.Problem(field(), [1.0], [1.0 + k], [1.0])
                for _ in range(50):
                    g = snode.gradient(problem, loss=snode.LinearLoss(np.ones((1, 1))),
                                       method="bptt", integrator="dopri5",
                                       rtol=1e-9, atol=1e-12)
                results[k] = (g.loss, g.dtheta[0])
            except Exception as error:
                errors.append(repr(error))
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert not errors, errors
        for k, (loss, dtheta) in results.items():
            assert abs(loss - np.exp(-(1.0 + k))) < 1e-7, (k, loss)
            assert abs(dtheta + np.exp(-(1.0 + k))) < 1e-6, (k, dtheta)
        print("ok", len(results))
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok 4"


def test_one_field_shared_by_several_threads() -> None:
    """Four threads solving and differentiating problems that share one Mlp (whose workspace
    is not thread-safe) get exactly the single-threaded results (in a fresh interpreter, in
    case a race corrupts memory)."""
    result = run_script("""
        import threading
        import numpy as np
        import snode
        mlp = snode.Mlp([2, 32, 32, 2])
        theta = mlp.initial_params(seed=1)
        starts = [np.array([0.1 * k, 1.0 - 0.2 * k]) for k in range(4)]
        problems = [snode.Problem(mlp, z0, theta, [0.5, 1.0, 2.0]) for z0 in starts]
        loss = snode.LinearLoss(np.ones((3, 2)))
        def run(problem):
            solution = snode.solve(problem, rtol=1e-8, atol=1e-10)
            g = snode.gradient(problem, loss=loss, method="bptt", integrator="dopri5")
            return solution.states, g.dtheta, mlp.f(0.0, problem.z0, theta)
        serial = [run(problem) for problem in problems]
        mismatches, errors = [], []
        def work(k):
            try:
                for _ in range(40):
                    states, dtheta, f = run(problems[k])
                    if not (np.array_equal(states, serial[k][0])
                            and np.array_equal(dtheta, serial[k][1])
                            and np.array_equal(f, serial[k][2])):
                        mismatches.append(k)
            except Exception as error:
                errors.append(repr(error))
        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        assert not errors, errors
        assert not mismatches, f"{len(mismatches)} results differ from the serial ones"
        print("ok")
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


INTERRUPTED_SOLVE = """
    import sys, time
    import numpy as np
    import snode
    problem = snode.Problem(snode.DecayField(), [1.0], [1e4], [{horizon}])
    python_problem = snode.Problem(
        snode.PythonField(1, 1, lambda t, z, p: -p * z, lambda t, z, p, v: -p * v,
                          lambda t, z, p, a: (-p * a, -z * a)), [1.0], [1e4], [{horizon}])
    print("started", flush=True)
    start = time.perf_counter()
    try:
        {call}
    except KeyboardInterrupt:
        print("interrupted after %.2f s" % (time.perf_counter() - start), flush=True)
        # The module is usable afterwards.
        again = snode.solve(snode.Problem(snode.DecayField(), [1.0], [1.0], [1.0]))
        print("usable", again.states[-1, 0], flush=True)
        raise
    print("finished", flush=True)
"""


@pytest.mark.parametrize("call", [
    "snode.solve(problem, integrator='dopri5', max_steps=10**9)",
    "snode.gradient(problem, loss=snode.LinearLoss(np.ones((1, 1))), "
    "method='backsolve_adjoint', integrator='dopri5', max_steps=10**9)",
    "snode.solve(python_problem, integrator='dopri5', max_steps=10**9)",
])
def test_ctrl_c_interrupts_a_long_solve(call: str) -> None:
    code = textwrap.dedent(INTERRUPTED_SOLVE).format(horizon=LONG_HORIZON, call=call)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert process.stdout.readline().strip() == "started"
        time.sleep(1.0)
        assert process.poll() is None, "the solve ended before the interrupt"
        sent = time.perf_counter()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10.0)
        waited = time.perf_counter() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert waited < 5.0, f"the solve took {waited:.1f} s to stop"
    assert "interrupted after" in stdout, (stdout, stderr)
    assert "usable" in stdout, (stdout, stderr)
    assert "finished" not in stdout
    assert "KeyboardInterrupt" in stderr
    assert process.returncode != 0


def test_sigint_handler_is_restored_after_a_solve() -> None:
    before = signal.getsignal(signal.SIGINT)
    snode.solve(snode.problem("w1"))
    assert signal.getsignal(signal.SIGINT) is before


# ---------------------------------------------------------------- documentation


PUBLIC = ["integrators", "gradient_methods", "problems", "integrator_capabilities",
          "load_plugin", "loaded_plugins", "Field", "Mlp", "DecayField", "LinearField",
          "LotkaVolterraField", "RobertsonField", "ReactionDiffusionField",
          "OperatorPointwiseField", "PythonField", "Problem", "problem", "MseLoss", "LinearLoss",
          "PythonLoss", "solve", "gradient", "check_gradient", "Error", "ConfigError",
          "InputError", "NumericalError", "SundialsError"]


def test_help_has_docstrings() -> None:
    text = pydoc.render_doc(snode.gradient, renderer=pydoc.plaintext)
    assert "method" in text and "integrator" in text
    assert snode.gradient.__doc__ and len(snode.gradient.__doc__.strip()) > 40
    missing = [name for name in PUBLIC if not (getattr(snode, name).__doc__ or "").strip()]
    assert not missing, f"no docstring: {missing}"
    assert (snode.study.run.__doc__ or "").strip()


# ---------------------------------------------------------------- errors


def test_sundials_error_carries_the_call_and_flag() -> None:
    """Robertson at T = 1e5 through dopri5 with 5 steps per interval: too much work."""
    with pytest.raises(snode.SundialsError) as info:
        snode.solve(snode.problem("robertson", 1e5), integrator="dopri5", max_steps=5)
    error = info.value
    assert isinstance(error, snode.Error) and isinstance(error, RuntimeError)
    assert isinstance(error.call, str) and error.call
    assert isinstance(error.flag, int) and error.flag < 0
    assert error.flag_name.endswith("TOO_MUCH_WORK")
    assert error.call in str(error) and error.flag_name in str(error)


def test_error_hierarchy() -> None:
    assert issubclass(snode.ConfigError, (snode.Error, ValueError))
    assert issubclass(snode.ConfigError, ValueError)
    assert issubclass(snode.InputError, ValueError)
    assert issubclass(snode.NumericalError, ArithmeticError)
    assert issubclass(snode.NumericalError, snode.Error)
    assert issubclass(snode.SundialsError, snode.Error)
    assert issubclass(snode.Error, RuntimeError)


# ---------------------------------------------------------------- type stubs


def stub_tree():
    """The parsed snode/_snode.pyi next to the module."""
    path = Path(snode.__file__).parent / "_snode.pyi"
    assert path.exists(), f"no type stubs at {path}"
    assert (path.parent / "py.typed").exists(), "py.typed marker missing"
    return ast.parse(path.read_text(encoding="utf-8"))


def pybind_parameters(function) -> list:
    """Parameter names from a pybind11 signature line "name(a: T, b: T = x, **kwargs) -> R"."""
    first = (function.__doc__ or "").strip().splitlines()[0]
    inside = first[first.index("(") + 1:first.rindex(") ->")]
    names = []
    depth, current = 0, ""
    for char in inside + ",":
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            item = current.strip()
            if item:
                names.append("**" if item.startswith("**") else item.split(":")[0].strip())
            current = ""
        else:
            current += char
    return [n for n in names if n != "self"]


def stub_parameters(node: ast.FunctionDef) -> list:
    names = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
    if node.args.kwarg is not None:
        names.append("**")
    return [n for n in names if n != "self"]


def test_stubs_cover_the_compiled_module() -> None:
    from snode import _snode  # noqa: PLC0415

    tree = stub_tree()
    stubbed = {node.name: node for node in tree.body
               if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
    public = {name for name in dir(_snode) if not name.startswith("__")}
    assert public - set(stubbed) == set(), "in the module, not in the stubs"
    assert set(stubbed) - public == set(), "in the stubs, not in the module"
    for name, node in stubbed.items():
        item = getattr(_snode, name)
        if isinstance(node, ast.FunctionDef):
            assert stub_parameters(node) == pybind_parameters(item), name
            continue
        members = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
        for member, definition in members.items():
            if member == "__init__" and "__init__" not in vars(item):
                continue  # a result type Python cannot construct
            assert hasattr(item, member), f"{name}.{member} is in the stubs only"
            if member in vars(item) and not isinstance(vars(item)[member], property):
                assert stub_parameters(definition) == pybind_parameters(getattr(item, member)), \
                    f"{name}.{member}"
        for member, attribute in vars(item).items():
            if member.startswith("_"):
                continue
            assert member in members, f"{name}.{member} is not in the stubs"
