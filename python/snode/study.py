"""The stiffness study from Python: where each gradient method breaks as a problem gets stiffer."""

import json
import os
from typing import Any, Dict, List, Optional, Sequence, Union

from . import _snode


def run(
    preset: str = "quick",
    problems: Optional[Sequence[str]] = None,
    methods: Optional[Union[str, Sequence[str]]] = None,
    tolerances: Optional[Sequence[float]] = None,
    lambdas: Optional[Sequence[float]] = None,
    threads: int = 1,
    out: Optional[Union[str, "os.PathLike[str]"]] = None,
    plots: bool = False,
    ok_tol: float = 1e-3,
    seed: int = 0,
) -> List[Dict[str, Any]]:
    """Runs the stiffness study and returns one dict per gradient run.

    The dicts are the runs of stiffness_results.json (problem, lambda, method, status, errors,
    statistics). preset: "quick", "default" or "full"; problems: registry names (None: the
    preset's); methods: "gradient/integrator[/backward]" items (None: the preset's matrix);
    tolerances, lambdas: override the preset's. With out, the CSV, JSON and report.html (with
    figures when plots is True and gnuplot is installed) are written into that directory, as
    `stiffness_study --out` does. Runs spread over `threads` threads; the records do not depend on
    it. Raises snode.ConfigError for unknown names or bad options.
    """
    if isinstance(methods, str):
        method_text = methods
    else:
        method_text = ",".join(methods) if methods else ""
    result = _snode._study_run(
        preset,
        list(problems or []),
        method_text,
        [float(t) for t in (tolerances or [])],
        [float(x) for x in (lambdas or [])],
        int(threads),
        os.fspath(out) if out is not None else "",
        bool(plots),
        float(ok_tol),
        int(seed),
    )
    records = json.loads(result.records_json)
    run.last = {  # type: ignore[attr-defined]
        "summary": list(result.summary),
        "notes": list(result.notes),
        "neural": json.loads(result.neural_json),
        "log": result.log,
        "report": result.html or None,
    }
    return records


run.last = None  # type: ignore[attr-defined]
