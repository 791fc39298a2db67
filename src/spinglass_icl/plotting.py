"""Plot helpers.  No global state: figures are ``matplotlib.figure.Figure`` objects (no pyplot,
no backend switching) and the house style is applied only inside :func:`style`.  matplotlib is imported
by the functions that draw (on first use), so a catalog module that imports this one stays cheap."""

from __future__ import annotations

import contextlib
import math
import string
import weakref
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
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
    import matplotlib

    with matplotlib.rc_context(STYLE):
        yield


def figure(
    ncols: int = 1, nrows: int = 1, *, width: float = 3.2, height: float = 2.8, **kw: Any
) -> tuple[Figure, np.ndarray]:
    """A Figure with an (nrows, ncols) array of axes (always 2-D) and constrained layout."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def matrix(
    ax: Axes,
    M: np.ndarray,
    title: str = "",
    *,
    symmetric: bool = True,
    cmap: str | None = None,
    colorbar: bool = True,
    label: str = "value",
    axis_labels: tuple[str, str] = ("column", "row"),
) -> AxesImage:
    """Draw a matrix as an image (colour scale symmetric about 0 unless ``symmetric=False``), with a
    colorbar labelled ``label``, axes labelled ``axis_labels`` (x, y) and integer ticks."""
    M = np.asarray(M, dtype=float)
    finite = M[np.isfinite(M)]
    vmax = float(np.max(np.abs(finite))) if finite.size else 1.0
    kw: dict[str, Any] = {"vmin": -vmax, "vmax": vmax} if symmetric else {}
    im = ax.imshow(M, cmap=cmap or ("RdBu_r" if symmetric else "viridis"), interpolation="nearest", **kw)
    ax.set_title(title)
    ax.set(xlabel=axis_labels[0], ylabel=axis_labels[1])
    integer_ticks(ax)
    if colorbar:
        root(ax).colorbar(im, ax=ax, shrink=0.8, label=label)
    return im


def root(ax: Axes) -> Figure:
    """The top-level Figure that holds ``ax``."""
    fig = ax.get_figure(root=True)
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure), "an Axes that is not in a figure"
    return fig


def integer_ticks(ax: Axes) -> None:
    """Ticks at whole numbers only on both axes (matrix row/column indices: no 2.5)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))


def band(
    ax: Axes,
    x: ArrayLike,
    mean: ArrayLike,
    std: ArrayLike | None = None,
    *,
    label: str | None = None,
    marker: str = "o",
    **kw: Any,
) -> Line2D:
    """A curve with a ±std band (NaNs are skipped); x, mean, std of one shape (n,)."""
    xs, m = np.asarray(x, float), np.asarray(mean, float)
    (line,) = ax.plot(xs, m, marker=marker, ms=3, label=label, **kw)
    if std is not None:
        sd = np.asarray(std, float)
        ax.fill_between(xs, m - sd, m + sd, color=line.get_color(), alpha=0.2, lw=0)
    return line


#: Log axes within this range are labelled 0.001 ... 10000, beyond it 10^k.
PLAIN_RANGE = (1e-3, 1e5)


def plain_number(x: float, powers: bool = False) -> str:
    """A tick value as a plain number (0.05, 3, 2000); as 10^k if ``powers`` (or beyond 1e-4..1e5)
    when it is a power of ten."""
    k = math.log10(abs(x)) if x else 0.0
    decade = abs(k - round(k)) < 1e-9
    if decade and (powers or not 1e-4 <= abs(x) < 1e5):
        return f"$10^{{{round(k)}}}$"
    return f"{x:.6g}".replace("e+0", "e").replace("e-0", "e-")


def plain_log_axes(ax: Axes) -> None:
    """Plain-number tick labels on each log-scaled axis of ``ax`` whose labels are matplotlib's
    default (a formatter set on purpose is kept)."""
    from matplotlib.ticker import LogFormatterSciNotation

    from ._log_ticks import PlainLogFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() != "log":
            continue
        if type(axis.get_major_formatter()) is LogFormatterSciNotation:
            axis.set_major_formatter(PlainLogFormatter())
        if type(axis.get_minor_formatter()) is LogFormatterSciNotation:
            # minor labels (2, 3, 5 …) on axes up to two decades long, so that no axis has one label only
            axis.set_minor_formatter(PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


# -- legends that cover no data --------------------------------------------------------------------

_INSIDE: tuple[Any, ...] = ("upper right", "upper left", "lower left", "lower right", "center right")
_INSIDE += ("center left", "upper center", "lower center")
# the legends placed by legend(), with their options: finish() checks them again in the final layout
_AUTO: weakref.WeakKeyDictionary[Legend, dict[str, Any]] = weakref.WeakKeyDictionary()


def _layout(fig: Figure) -> None:
    """Run the figure's layout engine now, so that axes positions are those of the saved figure."""
    engine = fig.get_layout_engine()
    if engine is not None:
        engine.execute(fig)


def _in_data_coords(ax: Axes, artist: Any) -> bool:
    return bool(artist.get_visible()) and artist.get_transform() == ax.transData


def data_points(ax: Axes, step: float = 2.0, *, reference_lines: bool = False) -> np.ndarray:
    """(n, 2) display coordinates of everything ``ax`` draws in data coordinates: line and marker
    vertices, and points every ``step`` pixels along each drawn segment; only those inside the axes.
    ``reference_lines``: also lines drawn across the axes (axhline, axvline)."""
    pts: list[np.ndarray] = []
    for line in ax.get_lines():
        if not (_in_data_coords(ax, line) or (reference_lines and line.get_visible())):
            continue
        xy = line.get_transform().transform(np.asarray(line.get_xydata(), float))
        xy = xy[np.isfinite(xy).all(axis=1)]
        pts.append(xy)
        if line.get_linestyle() not in ("None", "none", "", " ") and len(xy) > 1:
            pts.append(_densify(xy, step))
    for coll in ax.collections:
        if not _in_data_coords(ax, coll):
            continue
        for path in coll.get_paths():  # error bars, band outlines
            xy = coll.get_transform().transform(path.vertices)
            pts.append(_densify(xy[np.isfinite(xy).all(axis=1)], step))
        offsets = np.asarray(coll.get_offsets(), float)
        if offsets.size and coll.get_offset_transform() == ax.transData:  # scatter markers
            pts.append(ax.transData.transform(offsets))
    if not pts:
        return np.zeros((0, 2))
    xy = np.concatenate(pts)
    b = ax.bbox
    return xy[(xy[:, 0] >= b.x0) & (xy[:, 0] <= b.x1) & (xy[:, 1] >= b.y0) & (xy[:, 1] <= b.y1)]


def _densify(xy: np.ndarray, step: float) -> np.ndarray:
    if len(xy) < 2:
        return xy
    out = [xy[:1]]
    for p0, p1 in zip(xy[:-1], xy[1:]):
        n = int(min(2000, max(1, math.ceil(float(np.hypot(*(p1 - p0))) / step))))
        t = np.linspace(0.0, 1.0, n + 1)[1:, None]
        out.append(p0 + t * (p1 - p0))
    return np.concatenate(out)


def _filled(ax: Axes) -> list[Any]:
    """Filled regions drawn in data coordinates (bands, histograms): (path, transform) pairs."""
    from matplotlib.collections import Collection
    from matplotlib.patches import Patch

    out = []
    for art in list(ax.collections) + list(ax.patches):
        if not _in_data_coords(ax, art) or not (isinstance(art, (Collection, Patch)) and _is_filled(art)):
            continue
        paths = art.get_paths() if isinstance(art, Collection) else [art.get_path()]
        out += [(path, art.get_transform()) for path in paths]
    return out


def _is_filled(art: Any) -> bool:
    from matplotlib.patches import Patch

    fc = np.asarray(art.get_facecolor(), float).reshape(-1, 4)
    return bool(fc.size and (fc[:, 3] > 0).any()) and (not isinstance(art, Patch) or art.get_fill())


def covers_data(ax: Axes, leg: Legend, *, strict: bool = True, pad: float = 3.0) -> bool:
    """Whether legend ``leg`` of ``ax`` (its box grown by ``pad`` pixels) covers a data point or
    segment of ``ax``, part of a filled band or histogram or, if ``strict``, a reference line drawn
    across the axes (the layout must be current)."""
    box = leg.get_window_extent().padded(pad)
    pts = data_points(ax, reference_lines=strict)
    if len(pts) and box.count_contains(pts) > 0:
        return True
    grid = np.stack(np.meshgrid(np.linspace(box.x0, box.x1, 8), np.linspace(box.y0, box.y1, 5)), -1).reshape(-1, 2)
    return any(path.contains_points(grid, transform).any() for path, transform in _filled(ax))


def _below(ax: Axes, handles: list[Any], labels: list[str], kw: dict[str, Any]) -> Legend:
    """The legend under the axes' x label, as wide as the axes at most (1-3 columns)."""
    fig = root(ax)
    tight = ax.get_tightbbox()
    drop = (ax.bbox.y0 - (tight.y0 if tight is not None else ax.bbox.y0)) / fig.dpi + 0.04  # inches
    from matplotlib.transforms import ScaledTranslation

    where = ax.transAxes + ScaledTranslation(0, -drop, fig.dpi_scale_trans)
    leg = None
    for ncol in range(min(3, len(labels)), 0, -1):
        if leg is not None:
            leg.remove()
        leg = ax.legend(
            handles,
            labels,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            bbox_transform=where,
            ncol=ncol,
            borderaxespad=0.0,
            **kw,
        )
        if leg.get_window_extent().width <= 1.05 * ax.bbox.width:
            break
    assert leg is not None
    return leg


def legend(ax: Axes, **kw: Any) -> Legend | None:
    """The legend of ``ax``, placed by :func:`finish` in the figure's final layout where it covers no
    data: inside the axes at the first free place of upper right, upper left, lower left, lower
    right, centre right/left, upper/lower centre (a place over a reference line only when no other
    is free), else below the axes (then as a new Legend: read it back with ``ax.get_legend()``).
    Until then it sits at matplotlib's "best".  ``kw`` goes to ``Axes.legend``; with ``loc`` it is
    placed there and left alone.  None when nothing is labelled."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    kw = {"fontsize": 7, **kw}
    if "loc" in kw:
        return ax.legend(handles, labels, **kw)
    leg = ax.legend(handles, labels, loc="best", **kw)
    _AUTO[leg] = kw
    return leg


def _place(ax: Axes, leg: Legend) -> None:
    """Move ``leg`` to the first free place inside ``ax`` (the layout must be current), else below."""
    for strict in (True, False):
        for loc in _INSIDE:
            leg.set_loc(loc)
            if not covers_data(ax, leg, strict=strict):
                return
    kw = _AUTO.pop(leg)
    handles, labels = ax.get_legend_handles_labels()
    leg.remove()
    _AUTO[_below(ax, handles, labels, kw)] = kw


def _auto_legends(fig: Figure) -> list[tuple[Axes, Legend]]:
    out = []
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None and leg in _AUTO:
            out.append((ax, leg))
    return out


def finish(fig: Figure) -> Figure:
    """Make a figure publication-ready once all is drawn: plain-number ticks on log axes, then the
    legends of :func:`legend` placed in the layout, and checked again in the final one (a legend
    below a panel changes the others' room).  Returns ``fig``."""
    for ax in fig.axes:
        plain_log_axes(ax)
    _layout(fig)
    for ax, leg in _auto_legends(fig):
        _place(ax, leg)
    for _ in range(2):
        _layout(fig)
        moved = [(ax, leg) for ax, leg in _auto_legends(fig) if covers_data(ax, leg, strict=False)]
        for ax, leg in moved:
            _place(ax, leg)
        if not moved:
            break
    return fig


def letters(axes: Iterable[Any]) -> None:
    """Letter the visible panels (a), (b), ... in the given order, in front of their titles
    (a letter already in front of a title is replaced, so the order here is the one that counts)."""
    visible = [a for a in axes if a.get_visible()]
    for letter, ax in zip(string.ascii_lowercase, visible):
        title = ax.get_title()
        if title.startswith("(") and ") " in title[:6]:
            title = title.split(") ", 1)[1]
        ax.set_title(f"({letter}) {title}")


def complete(fig: Figure) -> Figure:
    """The tail of every catalog figure, applied after ``plot`` by
    :meth:`Experiment.from_module <spinglass_icl.Experiment.from_module>`: letter the panels
    (a), (b), ... in the order they were made -- the visible axes with a title, colorbars aside (an untitled text
    panel stays unlettered) -- then :func:`finish` the figure.  Returns ``fig``."""
    letters(a for a in fig.axes if a.get_title() and a.get_label() != "<colorbar>")
    return finish(fig)


def save(fig: Figure, stem: str) -> list[str]:
    """Write ``stem.png`` and ``stem.pdf``; returns the paths."""
    paths = [f"{stem}.png", f"{stem}.pdf"]
    for p in paths:
        fig.savefig(p)
    return paths


def __getattr__(name: str) -> Any:
    """``PlainLogFormatter`` (a matplotlib class, so defined in ``_log_ticks``), imported on first use."""
    if name == "PlainLogFormatter":
        from ._log_ticks import PlainLogFormatter

        return PlainLogFormatter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
