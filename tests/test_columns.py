"""Every results.csv column is documented: the runner's columns, the experiment's parameters, and the
experiment's own declaration ``Experiment.columns`` (``*`` patterns allowed) -- checked against the header of
every quick run (the session's shared runs), the golden quick results and the shipped full runs."""

from __future__ import annotations

import csv
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


@pytest.mark.parametrize("path", SHIPPED, ids=[p.parent.name for p in SHIPPED])
def test_every_column_of_the_shipped_full_runs_is_declared(path):
    exp = registry.get(path.parent.name.removesuffix("-full"))
    assert columns.undeclared(exp, _header(path)) == []


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.csv")), ids=lambda p: p.stem)
def test_every_golden_column_is_declared(path):
    """The golden files predate some renames: a renamed parameter is declared under its new name."""
    exp = registry.get(path.stem)
    old_names = {old: new for new, old in (exp.renamed or {}).items()}
    header = [old_names.get(c, c) for c in _header(path)]
    assert columns.undeclared(exp, header) == []


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
    assert columns.declared(exp, "adam_population_mean")  # through "*_population_mean"
    assert not columns.declared(exp, "no_such_column")


def test_columns_command_prints_the_declaration(capsys):
    assert cli.main(["columns", "fig4b"]) == 0
    out = capsys.readouterr().out
    exp = registry.get("fig4b")
    for name, meaning in {**columns.RUNNER_COLUMNS, **dict(exp.columns or {})}.items():
        assert name in out and meaning in out
    for key in exp.full:
        assert f"\n{key} " in out
