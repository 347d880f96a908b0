"""The registries and plug-in loading: the names the C++ registries hold, every integrator's
declared capabilities, and load_plugin's errors and round trip (in a fresh interpreter, so the
registries of the other tests stay as built)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import snode

BUILTIN_INTEGRATORS = {"dopri5", "sdirk", "cvodes_bdf", "cvodes_adams", "epi2", "euler", "rk4",
                       "heun", "backward_euler"}
BUILTIN_METHODS = {"bptt", "backsolve_adjoint", "cvodes_adjoint"}
BUILTIN_PROBLEMS = {"w1", "w1b", "robertson", "reaction_diffusion", "lotka_volterra", "neural",
                    "vdp"}
CAPABILITY_KEYS = {"kind", "order", "error_estimate", "needs_fixed_step", "dense_output_order",
                   "output_jumps", "step_hook", "interpolated_outputs", "records_steps",
                   "tableau", "cvodes_method"}


def run_python(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """code in a fresh interpreter with this one's environment (PYTHONPATH finds snode)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=dict(os.environ))


def test_lists_are_sorted_and_hold_the_builtins() -> None:
    for listed, builtins in ((snode.integrators(), BUILTIN_INTEGRATORS),
                             (snode.gradient_methods(), BUILTIN_METHODS),
                             (snode.problems(), BUILTIN_PROBLEMS)):
        assert isinstance(listed, list)
        assert listed == sorted(listed)
        assert builtins <= set(listed), builtins - set(listed)


def test_registries_equal_the_cpp_api(cpp_reference) -> None:
    registries = cpp_reference["registries"]
    assert snode.integrators() == registries["integrators"]
    assert snode.gradient_methods() == registries["gradient_methods"]
    assert snode.problems() == registries["problems"]


def capability_cases() -> list:
    return list(snode.integrators())


@pytest.mark.parametrize("name", capability_cases())
def test_integrator_capabilities_equal_the_cpp_api(cpp_reference, name: str) -> None:
    expected = cpp_reference["registries"]["integrator_capabilities"][name]
    capabilities = snode.integrator_capabilities(name)
    assert set(capabilities) == CAPABILITY_KEYS, name
    for key in CAPABILITY_KEYS - {"kind", "cvodes_method"}:
        assert capabilities[key] == expected[key], (name, key)
    for key in ("kind", "cvodes_method"):
        # The enum's name in any spelling ("diagonally_implicit", "kDiagonallyImplicit").
        spelled = str(capabilities[key]).lower().replace("_", "").lstrip("k")
        assert spelled.endswith(expected[key].replace("_", "")), (name, key)


def test_integrator_capabilities_of_the_builtins() -> None:
    dopri5 = snode.integrator_capabilities("dopri5")
    assert set(dopri5) == CAPABILITY_KEYS
    assert dopri5["order"] == 5 and dopri5["error_estimate"] and dopri5["tableau"] is True
    assert not dopri5["needs_fixed_step"]
    bdf = snode.integrator_capabilities("cvodes_bdf")
    assert bdf["tableau"] is False and "bdf" in str(bdf["cvodes_method"]).lower()


def test_integrator_capabilities_of_fixed_step_integrators() -> None:
    assert snode.integrator_capabilities("rk4")["needs_fixed_step"] is True


def test_unknown_name_is_a_config_error_listing_the_known() -> None:
    assert issubclass(snode.ConfigError, ValueError)
    assert issubclass(snode.ConfigError, snode.Error)
    assert issubclass(snode.Error, RuntimeError)
    with pytest.raises(snode.ConfigError, match="no_such_integrator") as info:
        snode.integrator_capabilities("no_such_integrator")
    assert "dopri5" in str(info.value)
    with pytest.raises(ValueError, match="no_such_problem"):
        snode.problem("no_such_problem")


def test_every_registered_problem_builds() -> None:
    for name in snode.problems():
        problem = snode.problem(name)
        assert problem.name == name
        assert problem.z0.shape == (problem.field.state_size,)
        assert problem.theta.shape == (problem.field.num_params,)
        assert problem.loss is not None


# ---------------------------------------------------------------- plug-ins


def test_load_plugin_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "libmissing.so"
    assert issubclass(snode.InputError, ValueError)
    with pytest.raises(snode.InputError, match="libmissing.so"):
        snode.load_plugin(str(missing))


def test_load_plugin_not_a_shared_object(tmp_path: Path) -> None:
    text = tmp_path / "libtext.so"
    text.write_text("not an ELF file\n")
    with pytest.raises(snode.InputError, match="libtext.so"):
        snode.load_plugin(str(text))


def test_load_plugin_without_entry_point() -> None:
    """A real shared library that is not an snode plug-in: ConfigError naming it."""
    candidates = [Path(p) for p in ("/lib/x86_64-linux-gnu/libm.so.6", "/usr/lib64/libm.so.6",
                                    "/lib64/libm.so.6", "/lib/aarch64-linux-gnu/libm.so.6")]
    library = next((p for p in candidates if p.exists()), None)
    if library is None:
        pytest.skip("no libm.so.6 at the usual paths to load as a non-plug-in")
    result = run_python(f"""
        import snode
        try:
            snode.load_plugin({str(library)!r})
        except snode.ConfigError as error:
            print("ConfigError:", error)
        print("loaded:", snode.loaded_plugins())
        """)
    assert result.returncode == 0, result.stderr
    assert "ConfigError:" in result.stdout and "not an snode plug-in" in result.stdout
    assert "loaded: []" in result.stdout


def test_loaded_plugins_starts_empty() -> None:
    result = run_python("import snode; print(snode.loaded_plugins())")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_load_plugin_registers_its_method() -> None:
    """The test plug-in's gradient method (a deliberately wrong VJP) is usable by name, and the
    gradient checker catches it while plain bptt passes."""
    plugin = os.environ.get("SNODE_TEST_PLUGIN", "")
    if not plugin or not os.path.exists(plugin):
        pytest.skip("SNODE_TEST_PLUGIN (the snode_test_wrong_vjp_plugin module) is not set")
    result = run_python(f"""
        import json, os, snode
        before = snode.gradient_methods()
        snode.load_plugin({plugin!r})
        problem = snode.problem("w1b", 10.0)
        wrong = snode.check_gradient(problem, method="wrong_vjp_bptt", integrator="dopri5")
        right = snode.check_gradient(problem, method="bptt", integrator="dopri5")
        print(json.dumps({{"before": before, "after": snode.gradient_methods(),
                          "loaded": snode.loaded_plugins(),
                          "canonical": os.path.realpath({plugin!r}),
                          "wrong": [wrong.verdict, wrong.max_relative_error],
                          "right": right.verdict}}))
        """, timeout=120.0)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert "wrong_vjp_bptt" not in data["before"]
    assert "wrong_vjp_bptt" in data["after"]
    assert data["loaded"] == [data["canonical"]]
    assert data["wrong"][0] == "FAIL" and data["wrong"][1] > 0.1
    assert data["right"] == "pass"
