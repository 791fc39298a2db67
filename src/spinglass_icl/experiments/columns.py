"""What every column of an experiment's results.csv means: one table, printed by ``spinglass-icl columns ID``
and shown on the experiment's gallery page.

A results.csv row is one point: the runner's bookkeeping columns (:data:`RUNNER_COLUMNS`, the same for
every experiment), then the point's parameters (their meanings are the parameter table's,
:func:`spinglass_icl.experiments.params.table`), then what ``compute`` returned.  An experiment declares
the meaning and unit of each of its own columns -- results, and point parameters that are not experiment
parameters -- in ``Experiment.columns`` (``{column: "meaning [unit]"}``); a family of columns may be
declared once with ``*`` wildcards (``"*_population_mean"``) or ``{a,b}`` alternatives
(``"{amp,adam}_std"``).  Each column has exactly one meaning: its own name, else exactly one pattern
matches it (a test checks every column of every quick, golden and shipped run).  Errors are mean squared
query errors in units of E[y²] = 1 (dimensionless) unless a unit says otherwise.

The summary ``reproduce`` prints is declared the same way, in ``Experiment.summary_keys`` (a key of a
nested section as ``SECTION.key``, e.g. ``"D=*.T_star"``); a key that does not apply to a run prints ``–``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
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


def _alternatives(pattern: str) -> list[str]:
    """``pattern`` with each ``{a,b}`` group expanded: ``{amp,adam}_std`` -> ``amp_std``, ``adam_std``."""
    found = re.search(r"\{([^{}]*)\}", pattern)
    if found is None:
        return [pattern]
    head, tail = pattern[: found.start()], pattern[found.end() :]
    return [x for alt in found.group(1).split(",") for x in _alternatives(head + alt + tail)]


def matches(name: str, pattern: str) -> bool:
    """Whether ``name`` is ``pattern`` or matches it (``*`` wildcards, ``{a,b}`` alternatives)."""
    return any(fnmatchcase(name, p) for p in _alternatives(pattern))


def meanings(table: Mapping[str, str] | None, name: str) -> list[str]:
    """The entries of a declaration ``table`` that give ``name`` its meaning: its own entry, else every
    pattern that matches it (exactly one where the declaration is right)."""
    table = table or {}
    if name in table:
        return [name]
    return [p for p in table if ("*" in p or "{" in p) and matches(name, p)]


def declared(exp: Experiment, column: str) -> bool:
    """Whether ``column`` of a results.csv of ``exp`` is documented (names may match patterns)."""
    if column in RUNNER_COLUMNS or column in exp.full or column in exp.quick:
        return True
    return bool(meanings(exp.columns, column))


def undeclared(exp: Experiment, header: Iterable[str]) -> list[str]:
    """The columns of a results.csv ``header`` of ``exp`` that nothing documents (should be empty)."""
    return [c for c in header if not declared(exp, c)]


def unused(exp: Experiment, header: Iterable[str]) -> list[str]:
    """Declared columns of ``exp`` (names and patterns) that match no column of ``header``."""
    cols = list(header)
    return [p for p in exp.columns or {} if not any(matches(c, p) for c in cols)]


def flat_keys(summary: Mapping[str, object], prefix: str = "") -> list[str]:
    """The keys of a printed summary, a nested section's as ``SECTION.key``."""
    out = []
    for key, value in summary.items():
        if isinstance(value, Mapping):
            out += flat_keys(value, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


def text(exp: Experiment) -> list[str]:
    """The table as aligned text lines (what ``spinglass-icl columns ID`` prints), then the summary keys."""
    rows = table(exp)
    w = max(len(r[0]) for r in rows)
    lines = [f"{exp.id}: results.csv columns (one row per point; * matches any text, {{a,b}} either)", ""]
    lines.append(f"{'column':<{w}}  {'kind':<9}  meaning [unit]")
    lines += [f"{name:<{w}}  {kind:<9}  {meaning}" for name, kind, meaning in rows]
    keys = dict(exp.summary_keys or {})
    lines += ["", f"{exp.id}: summary keys (what `reproduce` prints after the run; – where a key does not apply)", ""]
    if not keys:
        return lines + ["(none declared)"]
    w = max(len(k) for k in keys)
    return lines + [f"{'key':<{w}}  meaning [unit]"] + [f"{k:<{w}}  {m}" for k, m in keys.items()]
