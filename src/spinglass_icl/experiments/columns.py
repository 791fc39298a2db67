"""What every column of an experiment's results.csv means: one table, printed by ``spinglass-icl columns ID``
and shown on the experiment's gallery page.

A results.csv row is one point: the runner's bookkeeping columns (:data:`RUNNER_COLUMNS`, the same for
every experiment), then the point's parameters (their meanings are the parameter table's,
:func:`spinglass_icl.experiments.params.table`), then what ``compute`` returned.  An experiment declares
the meaning and unit of each of its own columns -- results, and point parameters that are not experiment
parameters -- in ``Experiment.columns`` (``{column: "meaning [unit]"}``); a family of columns may be
declared once with ``*`` wildcards (``"*_mean"``).  Errors are mean squared query errors in units of
E[y²] = 1 (dimensionless) unless a unit says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import Experiment

# written by the runner for every point of every experiment
#: The runner's bookkeeping columns of every results.csv, with their meanings.
RUNNER_COLUMNS: dict[str, str] = {
    "key": "the point's key: a hash of the experiment id, the point's parameters and its seed [text]",
    "seed": "the point's seed, derived from the run seed and the point's own parameters [integer]",
    "status": "done, or failed (then `error` says why) [text]",
    "seconds": "wall time of the point's computation [s]",
    "arrays": "file under arrays/ holding the point's array results, if any [path]",
    "error": "why the point failed (empty when done) [text]",
}


def table(exp: Experiment) -> list[tuple[str, str, str]]:
    """(column, kind, meaning) of every documented results.csv column of ``exp``: the runner's columns,
    the experiment's parameters, then its declared columns (in declaration order)."""
    from .params import table as parameter_table

    rows = [(name, "run", meaning) for name, meaning in RUNNER_COLUMNS.items()]
    seen = set(RUNNER_COLUMNS)
    for row in parameter_table(exp):
        rows.append((row.name, "parameter", row.meaning))
        seen.add(row.name)
    for name, meaning in (exp.columns or {}).items():
        if name not in seen:
            rows.append((name, "result", meaning))
    return rows


def declared(exp: Experiment, column: str) -> bool:
    """Whether ``column`` of a results.csv of ``exp`` is documented (names may match ``*`` patterns)."""
    if column in RUNNER_COLUMNS or column in exp.full or column in exp.quick:
        return True
    return any(fnmatchcase(column, pattern) for pattern in exp.columns or {})


def undeclared(exp: Experiment, header: Iterable[str]) -> list[str]:
    """The columns of a results.csv ``header`` of ``exp`` that nothing documents (should be empty)."""
    return [c for c in header if not declared(exp, c)]


def unused(exp: Experiment, header: Iterable[str]) -> list[str]:
    """Declared columns of ``exp`` (names and patterns) that match no column of ``header``."""
    cols = list(header)
    return [p for p in exp.columns or {} if not any(fnmatchcase(c, p) for c in cols)]


def text(exp: Experiment) -> list[str]:
    """The table as aligned text lines (what ``spinglass-icl columns ID`` prints)."""
    rows = table(exp)
    w = max(len(r[0]) for r in rows)
    lines = [f"{exp.id}: results.csv columns (one row per point; * matches any text)", ""]
    lines.append(f"{'column':<{w}}  {'kind':<9}  meaning [unit]")
    lines += [f"{name:<{w}}  {kind:<9}  {meaning}" for name, kind, meaning in rows]
    return lines
