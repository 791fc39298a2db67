"""Plain-text tables for people: the CLI's summaries as aligned columns instead of Python dicts.

No dependency beyond the standard library (the CLI imports this before numpy).  ``--json`` output is
unaffected: it prints the same values as strict JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

_INLINE = 8  # a pair, or a list of a length no other has up to this long, is one line; others are columns


def cell(value: Any) -> str:
    """One value as text: floats to 6 significant digits, None / NaN as "–", booleans as yes/no,
    short lists joined by commas, anything else as compact JSON."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, (list, tuple)) and all(_scalar(v) for v in value):
        return ", ".join(cell(v) for v in value)
    return json.dumps(value, default=str, separators=(", ", ": "))


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _numeric(text: str) -> bool:
    try:
        float(text.replace("–", "nan"))
    except ValueError:
        return False
    return True


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], indent: str = "") -> list[str]:
    """Rows under a header, each column as wide as its widest cell; numbers right-aligned, text left."""
    texts = [[cell(v) for v in row] for row in rows]
    cols = len(header)
    width = [max([len(header[j])] + [len(r[j]) for r in texts]) for j in range(cols)]
    right = [all(_numeric(r[j]) for r in texts) and bool(texts) for j in range(cols)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, width, right)]
        return (indent + "  ".join(parts)).rstrip()

    return [line(list(header))] + [line(r) for r in texts]


def key_values(pairs: Sequence[tuple[str, Any]], indent: str = "") -> list[str]:
    """``key  value`` lines with the values aligned."""
    width = max((len(k) for k, _ in pairs), default=0)
    return [f"{indent}{k:<{width}}  {cell(v)}".rstrip() for k, v in pairs]


def summary(d: Mapping[str, Any], indent: str = "", index: Mapping[str, Sequence[Any]] | None = None) -> list[str]:
    """An experiment's summary (nested dicts of numbers and lists) as text: scalars as aligned
    ``key  value`` lines; lists of one length as the columns of one table; nested dicts as indented
    sections.  A list of the parent's that has the length of a section's lists (e.g. the β grid of a
    sweep) is that section's first column (``index``) instead of a line of its own."""
    scalars = [(k, v) for k, v in d.items() if not _is_column(v) and not isinstance(v, Mapping)]
    columns = {k: list(v) for k, v in d.items() if _is_column(v)}
    sections = {k: v for k, v in d.items() if isinstance(v, Mapping)}
    # the parent's lists that a section's lists line up with become that section's index column
    shared = {k: v for k, v in columns.items() if any(_has_length(s, len(v)) for s in sections.values())}
    own = {k: v for k, v in columns.items() if k not in shared}
    inline = [(k, v) for k, v in own.items() if len(v) <= 2 or (len(v) <= _INLINE and _alone(own, len(v)))]
    lines = key_values(scalars + inline, indent)
    by_length: dict[int, dict[str, list[Any]]] = {}
    for k, v in own.items():
        if (k, v) not in inline:
            by_length.setdefault(len(v), {})[k] = v
    for n, group in by_length.items():
        cols = {k: v for k, v in (index or {}).items() if len(v) == n} | group
        lines += table(list(cols), list(zip(*cols.values())), indent)
    for name, section in sections.items():
        lines.append(f"{indent}{name}:")
        lines += summary(section, indent + "  ", shared)
    return lines


def _is_column(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(_scalar(v) for v in value)


def _has_length(section: Mapping[str, Any], n: int) -> bool:
    return any(_is_column(v) and len(v) == n for v in section.values())


def _alone(columns: Mapping[str, Sequence[Any]], n: int) -> bool:
    return sum(len(v) == n for v in columns.values()) == 1
