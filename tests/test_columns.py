"""Every results.csv column is documented: the runner's columns, the experiment's parameters, and the
experiment's own declaration ``Experiment.columns`` (``*`` patterns allowed) -- checked against the header of
every quick run (the session's shared runs), the golden quick results and the shipped full runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from spinglass_icl import cli
from spinglass_icl.experiments import columns, registry

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden"
SHIPPED = sorted((ROOT / "docs" / "data").glob("*/results.csv"))


def _header(path: Path) -> list[str]:
    with open(path, newline="") as fh:
        return next(csv.reader(fh))


@pytest.mark.parametrize("exp_id", registry.ids())
def test_every_column_of_the_quick_run_is_declared(exp_id, quick_run):
    s, _ = quick_run(exp_id)
    header = _header(Path(s.folder) / "results.csv")
    exp = registry.get(exp_id)
    assert exp.columns, f"{exp_id} declares no columns (Experiment.columns)"
    assert columns.undeclared(exp, header) == []
    # (a declaration may match nothing here: some columns are written at full size only)
    assert _ambiguous(exp, header) == []


def _ambiguous(exp, header) -> list[str]:
    """Result columns with more than one meaning: no entry of their own, and several patterns that match them
    (a runner column or a parameter has its meaning from those tables)."""
    own = [c for c in header if c not in columns.RUNNER_COLUMNS and c not in exp.quick]
    return [f"{c}: {m}" for c in own if len(m := columns.meanings(exp.columns, c)) > 1]


@pytest.mark.parametrize("exp_id", registry.ids())
def test_every_summary_key_of_the_quick_run_has_exactly_one_meaning(exp_id, quick_run):
    """What `reproduce` prints is defined: each key (a section's as SECTION.key) matches one declaration."""
    s, _ = quick_run(exp_id)
    exp = registry.get(exp_id)
    keys = columns.flat_keys(s.summary)
    assert keys, f"{exp_id} prints no summary"
    assert [
        (k, columns.meanings(exp.summary_keys, k)) for k in keys if len(columns.meanings(exp.summary_keys, k)) != 1
    ] == []


def test_patterns_match_as_documented():
    assert columns.matches("adam_std", "{amp,adam}_std") and not columns.matches("exact_std", "{amp,adam}_std")
    assert columns.matches("x_a_b", "x_{a,c}_{b,d}") and not columns.matches("x_c_c", "x_{a,c}_{b,d}")
    table = {"*_mean": "m", "adam_minus_*_mean": "d", "amp_mean": "exact"}
    assert columns.meanings(table, "amp_mean") == ["amp_mean"]  # its own entry wins
    assert columns.meanings(table, "adam_minus_amp_mean") == ["*_mean", "adam_minus_*_mean"]  # two meanings
    assert columns.flat_keys({"a": 1, "P=10": {"b": [1, 2]}}) == ["a", "P=10.b"]


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_every_column_of_the_shipped_full_runs_is_declared(path):
    """A shipped run's folder is ID-full or ID-LABEL-full (e.g. diversity-sigma0.5-full): its config.json
    names the experiment."""
    exp = registry.get(json.loads((path.parent / "config.json").read_text())["experiment"])
    assert columns.undeclared(exp, _header(path)) == []
    assert _ambiguous(exp, _header(path)) == []


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.csv")), ids=lambda p: p.stem)
def test_every_golden_column_is_declared(path):
    """The golden files predate some renames: a renamed parameter is declared under its new name."""
    exp = registry.get(path.stem)
    old_names = {old: new for new, old in (exp.renamed or {}).items()}
    header = [old_names.get(c, c) for c in _header(path)]
    assert columns.undeclared(exp, header) == []
    assert _ambiguous(exp, header) == []


def test_declarations_written_by_the_quick_run(quick_run):
    """A declared name (not a pattern) that the quick run does not write is stale, except in experiments
    that write some columns at full size only."""
    for exp_id in ("demo", "fig4b", "figS4", "figS7"):
        s, _ = quick_run(exp_id)
        exp = registry.get(exp_id)
        assert columns.unused(exp, _header(Path(s.folder) / "results.csv")) == [], exp_id


def test_declared_matches_patterns_only_where_they_should():
    exp = registry.get("fig4b")
    assert columns.declared(exp, "seed") and columns.declared(exp, "lambda0")  # runner column, parameter
    assert columns.declared(exp, "adam_population_mean")  # through "{amp,adam,exact,exact_wd2}_population_mean"
    assert not columns.declared(exp, "no_such_column")


def test_columns_command_prints_the_declaration(capsys):
    assert cli.main(["columns", "fig4b"]) == 0
    out = capsys.readouterr().out
    exp = registry.get("fig4b")
    for name, meaning in {**columns.RUNNER_COLUMNS, **dict(exp.columns or {})}.items():
        assert name in out and meaning in out
    for key in exp.full:
        assert f"\n{key} " in out
    for key, meaning in (exp.summary_keys or {}).items():  # and what `reproduce` prints
        assert f"\n{key} " in out and meaning in out
