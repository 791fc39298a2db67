"""Plot helpers.  No global state: figures are ``matplotlib.figure.Figure`` objects (no pyplot,
no backend switching) and the house style is applied only inside :func:`style`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

STYLE: dict[Any, Any] = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "image.cmap": "RdBu_r",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Apply the project's plotting style for the duration of a ``with`` block."""
    with matplotlib.rc_context(STYLE):
        yield


def figure(
    ncols: int = 1, nrows: int = 1, *, width: float = 3.2, height: float = 2.8, **kw
) -> tuple[Figure, np.ndarray]:
    """A Figure with an (nrows, ncols) array of axes (always 2-D) and constrained layout."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def matrix(
    ax,
    M: np.ndarray,
    title: str = "",
    *,
    symmetric: bool = True,
    cmap: str | None = None,
    colorbar: bool = True,
    label: str = "value",
):
    """Draw a matrix as an image (colour scale symmetric about 0 unless ``symmetric=False``), with a
    colorbar labelled ``label``."""
    M = np.asarray(M, dtype=float)
    finite = M[np.isfinite(M)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    kw = dict(vmin=-vmax, vmax=vmax) if symmetric else {}
    im = ax.imshow(M, cmap=cmap or ("RdBu_r" if symmetric else "viridis"), interpolation="nearest", **kw)
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8, label=label)
    return im


def band(
    ax,
    x: ArrayLike,
    mean: ArrayLike,
    std: ArrayLike | None = None,
    *,
    label: str | None = None,
    marker: str = "o",
    **kw,
):
    """A curve with a ±std band (NaNs are skipped); x, mean, std of one shape (n,)."""
    xs, m = np.asarray(x, float), np.asarray(mean, float)
    (line,) = ax.plot(xs, m, marker=marker, ms=3, label=label, **kw)
    if std is not None:
        sd = np.asarray(std, float)
        ax.fill_between(xs, m - sd, m + sd, color=line.get_color(), alpha=0.2, lw=0)
    return line


def save(fig: Figure, stem: str) -> list[str]:
    """Write ``stem.png`` and ``stem.pdf``; returns the paths."""
    paths = [f"{stem}.png", f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p)
    return paths
