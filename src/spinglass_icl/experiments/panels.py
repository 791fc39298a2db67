"""Standard figure panels of the catalog: error vs a parameter with bands, weight images, the
P = D(D+1) marker, panel letters and legends that stay off the data.

Each helper draws on a given matplotlib Axes and returns nothing the caller must keep.  The house
style (fonts, sizes) is applied by the runner around ``plot()``, never here (a ``plot`` that also wraps
itself in ``plotting.style()``, as figS8's and diversity's do, only sets the same values again).  Every catalog
figure ends with :func:`complete` (panel letters, then :func:`finish`: plain-number log ticks, legends checked in
the final layout), applied after ``plot`` by
:meth:`Experiment.from_module <spinglass_icl.Experiment.from_module>`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .. import plotting
from ..plotting import complete, figure, finish, legend, letters
from .records import column
from .spec import Record

__all__ = [
    "bands",
    "blocks",
    "complete",
    "figure",
    "finish",
    "legend",
    "letters",
    "markers_and_line",
    "plain_log_ticks",
    "threshold",
    "weights",
]


def bands(
    ax: Any,
    records: Sequence[Record],
    x: str,
    series: Sequence[tuple[str, str]],
    *,
    markers: str = "os^dv<>",
    **kw: Any,
) -> None:
    """Mean ± std bands of several series against ``x``: ``series`` lists (key, label) pairs read
    from the records' ``<key>_mean`` and ``<key>_std`` (records already sorted by ``x``).  A series whose
    records carry ``<key>_population_mean`` (the exact population error beside a Monte-Carlo test error)
    is drawn as markers ± band with the exact value as a line of the same colour."""
    xs = column(records, x)
    for (key, label), mk in zip(series, markers):
        std = column(records, f"{key}_std") if f"{key}_std" in records[0] else None
        exact = f"{key}_population_mean" in records[0]
        line = plotting.band(ax, xs, column(records, f"{key}_mean"), std, marker=mk, label=label, **kw)
        if exact:
            line.set_linestyle("none")
            ax.plot(xs, column(records, f"{key}_population_mean"), "-", lw=1, color=line.get_color())


def markers_and_line(
    ax: Any,
    x: Any,
    markers: Any,
    line: Any,
    *,
    err: Any = None,
    line_x: Any = None,
    **style: Any,
) -> None:
    """A measured series as markers (± ``err`` bars) and its exact or theoretical counterpart as a line of
    the same colour (e.g. Monte-Carlo test error vs exact population error; sampled vs closed form).
    ``line`` is drawn at ``line_x`` (default ``x``).  ``style``: ``color``, ``marker`` (default "o"), ``ls``
    (the line's style, default "-") and ``label`` (carried by the markers only)."""
    opts = {"color": None, "label": None, "marker": "o", "ls": "-"}
    if set(style) - set(opts):
        raise TypeError(f"markers_and_line: unknown style {sorted(set(style) - set(opts))}")
    opts.update(style)
    pts = ax.errorbar(x, markers, err, fmt=opts["marker"], ms=3, color=opts["color"], label=opts["label"])
    ax.plot(x if line_x is None else line_x, line, ls=opts["ls"], lw=1, color=pts.lines[0].get_color())


def plain_log_ticks(ax: Any, xticks: Iterable[float]) -> None:
    """Log x axis ticked at ``xticks`` only (e.g. one tick per D), labelled as plain numbers."""
    from matplotlib.ticker import NullFormatter

    from .._log_ticks import PlainLogFormatter

    ax.set_xticks(sorted(xticks))
    ax.xaxis.set_major_formatter(PlainLogFormatter(labelOnlyBase=False))
    ax.xaxis.set_minor_formatter(NullFormatter())


def threshold(ax: Any, x: float, label: str | None = "P = D(D+1)", **kw: Any) -> None:
    """The interpolation threshold (by default P = D(D+1), in the axis' own units ``x``)."""
    ax.axvline(x, **{"color": "k", "lw": 0.8, "ls": ":", "label": label, **kw})


def weights(ax: Any, W: np.ndarray, title: str, *, label: str = "weight value") -> None:
    """A weight (or field) matrix as an image: rows m and columns n labelled, integer ticks, colorbar labelled."""
    plotting.matrix(ax, W, title, label=label, axis_labels=("column n", "row m"))


def blocks(ax: Any, D: int, K: int, kind: str) -> None:
    """Lines and labels of the spin blocks on an image of h (``kind="h"``: 𝒜 = rows 1..D, ℬ = row D+1)
    or of J (``kind="J"``: 𝒞 within 𝒜, 𝒟 between 𝒜 and ℬ, ℰ within ℬ); K = (D+1)² spins."""
    if kind == "h":
        ax.axhline(D - 0.5, color="k", lw=0.8)
        tr = ax.get_yaxis_transform()  # x in axes units, y in data units
        ax.text(1.03, (D - 1) / 2, r"$\mathcal{A}$", ha="left", va="center", transform=tr)
        ax.text(1.03, D, r"$\mathcal{B}$", ha="left", va="center", transform=tr)
        return
    cut = D * (D + 1) - 0.5
    ax.axhline(cut, color="k", lw=0.8)
    ax.axvline(cut, color="k", lw=0.8)
    mid_a, mid_b = cut / 2, (cut + K - 0.5) / 2
    labels = (
        (mid_a, mid_a, r"$\mathcal{C}$"),
        (mid_b, mid_a, r"$\mathcal{D}$"),
        (mid_a, mid_b, r"$\mathcal{D}$"),
        (mid_b, mid_b, r"$\mathcal{E}$"),
    )
    for x, y, lab in labels:
        ax.text(x, y, lab, ha="center", va="center", fontsize=11, color="0.25")
