"""snode.study.run: the stiffness study from Python returns its records and, with out=, writes
the files stiffness_study --out writes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

import snode
import snode.study

STATUSES = {"ok", "inaccurate", "flagged", "non-finite", "failed"}
SELECTION = dict(preset="quick", problems=["w1"],
                 methods=["bptt/dopri5", "cvodes_adjoint/cvodes_bdf"], tolerances=[1e-6],
                 lambdas=[1.0, 100.0], threads=1)


@pytest.fixture(scope="module")
def study_output(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    return snode.study.run(out=str(out), **SELECTION), out


def test_records_are_one_dict_per_run(study_output) -> None:
    records, _ = study_output
    assert isinstance(records, list) and len(records) == 4  # 2 λ × 2 methods
    for record in records:
        assert isinstance(record, dict)
        assert record["problem"] == "w1"
        assert record["status"] in STATUSES
        assert record["gradient_method"] in {"bptt", "cvodes_adjoint"}
        assert record["lambda"] in (1.0, 100.0)
    # At λ = 1 both methods are accurate against the exact gradient.
    assert all(r["status"] == "ok" for r in records if r["lambda"] == 1.0), records


def test_out_writes_the_report_and_tables(study_output) -> None:
    records, out = study_output
    assert (out / "report.html").stat().st_size > 0
    with open(out / "stiffness_results.csv", newline="", encoding="utf-8") as table:
        rows = list(csv.DictReader(table))
    assert len(rows) == len(records)
    with open(out / "stiffness_results.json", encoding="utf-8") as results:
        runs = json.load(results)["runs"]
    assert [(r["problem"], r["lambda"], r["gradient_method"], r["status"]) for r in runs] == \
        [(r["problem"], r["lambda"], r["gradient_method"], r["status"]) for r in records]


def test_without_out_nothing_is_written(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    records = snode.study.run(**dict(SELECTION, lambdas=[1.0]))
    assert len(records) == 2
    assert list(tmp_path.iterdir()) == []


def test_unknown_problem_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(snode.ConfigError, match="no_such_problem"):
        snode.study.run(preset="quick", problems=["no_such_problem"], out=str(tmp_path))
    with pytest.raises(snode.ConfigError):
        snode.study.run(preset="no_such_preset")
