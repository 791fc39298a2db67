"""Every experiment's figure, built from its quick run (the session's shared ``quick_run``), inspected as
matplotlib objects: every panel's y axis labelled, legends inside the figure and off the data points,
whole-number ticks on matrix images, no "6×10⁰"-style labels on log axes, and the panels (with their
colorbars) holding at least 60 % of the figure's width (in the widest row; 50 % in every row).

The helpers' own rules (legend placement, plain log labels) are checked on small hand-made figures.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from spinglass_icl import plotting
from spinglass_icl.experiments import panels, registry

MIN_DATA_WIDTH = 0.60


def _is_colorbar(ax: Axes) -> bool:
    return ax.get_label() == "<colorbar>"


def _panels(fig: Figure) -> list[Axes]:
    """The figure's visible panels with axes drawn (not colorbars, not text-only panels)."""
    return [a for a in fig.axes if a.get_visible() and a.axison and not _is_colorbar(a)]


def _tick_texts(ax: Axes) -> list[str]:
    out = []
    for axis in (ax.xaxis, ax.yaxis):
        for tick in axis.get_majorticklabels() + axis.get_minorticklabels():
            out.append(tick.get_text())
    return out


def _data_xy(ax: Axes) -> np.ndarray:
    """Display coordinates of the data points (line and marker vertices in data coordinates) inside ``ax``."""
    pts = [
        line.get_transform().transform(np.asarray(line.get_xydata(), float))
        for line in ax.get_lines()
        if line.get_visible() and line.get_transform() == ax.transData
    ]
    pts += [
        ax.transData.transform(np.asarray(c.get_offsets(), float))
        for c in ax.collections
        if c.get_visible() and np.asarray(c.get_offsets()).size and c.get_offset_transform() == ax.transData
    ]
    if not pts:
        return np.zeros((0, 2))
    xy = np.concatenate(pts)
    xy = xy[np.isfinite(xy).all(axis=1)]
    b = ax.bbox
    return xy[(xy[:, 0] > b.x0) & (xy[:, 0] < b.x1) & (xy[:, 1] > b.y0) & (xy[:, 1] < b.y1)]


def _rows(fig: Figure) -> list[list[Axes]]:
    """Axes (panels, colorbars, text panels) grouped in rows by the vertical centre of their box."""
    rows: list[list[Axes]] = []
    for ax in sorted((a for a in fig.axes if a.get_visible()), key=lambda a: -a.get_position().y1):
        pos = ax.get_position()
        mid = (pos.y0 + pos.y1) / 2
        for row in rows:
            ref = row[0].get_position()
            if ref.y0 <= mid <= ref.y1:
                row.append(ax)
                break
        else:
            rows.append([ax])
    return rows


def figure_defects(fig: Figure) -> list[str]:
    """Everything this file's rules find wrong with a finished figure (empty list: none)."""
    fig.draw_without_rendering()  # final layout and tick labels, as saved
    bad = []
    fig_box = fig.bbox
    for i, ax in enumerate(fig.axes):
        name = f"axes {i} ({ax.get_title()!r})"
        if _is_colorbar(ax):
            if not (ax.get_ylabel() or ax.get_xlabel()):
                bad.append(f"{name}: colorbar without a label")
            continue
        if not (ax.get_visible() and ax.axison):
            continue
        if not ax.get_ylabel():
            bad.append(f"{name}: no y label")
        for text in _tick_texts(ax):
            if "times" in text or "×" in text:
                bad.append(f"{name}: tick label {text!r}")
        for axis in (ax.yaxis, ax.xaxis) if ax.get_xscale() == "log" else (ax.yaxis,):  # a scale to read
            shown = [t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels()]
            if sum(bool(t) for t in shown) < 2:
                bad.append(f"{name}: fewer than two labelled {axis.axis_name} ticks")
        if any(isinstance(im, AxesImage) for im in ax.get_images()):
            for axis in (ax.get_xticks(), ax.get_yticks()):
                if not np.allclose(axis, np.round(axis)):
                    bad.append(f"{name}: image ticks not whole numbers {list(axis)}")
        leg = ax.get_legend()
        if leg is not None:
            box = leg.get_window_extent()
            if box.x0 < fig_box.x0 - 1 or box.x1 > fig_box.x1 + 1 or box.y0 < fig_box.y0 - 1:
                bad.append(f"{name}: legend outside the figure")
            if box.count_contains(_data_xy(ax)):
                bad.append(f"{name}: legend covers {box.count_contains(_data_xy(ax))} data points")
    # the boxes the layout gave the axes (an image keeps its aspect inside its box); a row whose panels
    # line up with colorbars of another row gives that room up, so the widest row must reach the
    # mark and none may fall far below it
    widths = [sum(a.get_position(original=True).width for a in row) for row in _rows(fig)]
    if widths and (max(widths) < MIN_DATA_WIDTH or min(widths) < MIN_DATA_WIDTH - 0.1):
        bad.append(f"rows of axes: panels take {', '.join(f'{w:.0%}' for w in widths)} of the width")
    return bad


@pytest.mark.parametrize("exp_id", registry.ids())
def test_every_figure_has_no_defects(exp_id: str, quick_run: Any) -> None:
    summary, recs = quick_run(exp_id)
    import json
    from pathlib import Path

    params = json.loads((Path(summary.folder) / "config.json").read_text())["params"]
    with plotting.style():
        fig = registry.get(exp_id).plot(recs, params)
        assert figure_defects(fig) == []


# -- the helpers' rules on hand-made figures ------------------------------------------------------------


def test_legend_goes_where_no_data_is() -> None:
    fig, ax = plotting.figure(1, 1)
    a = ax[0, 0]
    x = np.linspace(0, 1, 30)
    a.plot(x, 1 - x, "o-", label="falling")  # fills the upper left and the lower right
    a.plot(x, 0 * x + 0.02, label="floor")
    a.set_ylabel("y")
    leg = panels.legend(a)
    panels.finish(fig)
    assert leg is not None and figure_defects(fig) == []
    box = leg.get_window_extent()
    assert box.x0 > a.bbox.x0 + 0.4 * a.bbox.width and box.y0 > a.bbox.y0 + 0.4 * a.bbox.height  # upper right


def test_legend_without_room_inside_goes_below_the_panel() -> None:
    fig, ax = plotting.figure(1, 1)
    a = ax[0, 0]
    rng = np.random.default_rng(0)
    for k in range(4):  # points everywhere: no free corner
        a.plot(rng.uniform(size=400), rng.uniform(size=400), ".", label=f"cloud {k}")
    a.set(ylabel="y", xlabel="x")
    panels.legend(a)
    panels.finish(fig)
    leg = a.get_legend()  # a new Legend: with its columns
    assert leg is not None and leg.get_window_extent().y1 <= a.bbox.y0  # under the x axis
    assert figure_defects(fig) == []


def test_log_axes_tick_labels_are_plain_numbers() -> None:
    fig, ax = plotting.figure(1, 1)
    a = ax[0, 0]
    a.plot([1, 6], [0.15, 0.5], "o-")  # less than a decade on both axes: minor ticks get labels
    a.set(xscale="log", yscale="log", ylabel="y")
    panels.finish(fig)
    fig.draw_without_rendering()
    labels = [t for t in _tick_texts(a) if t]
    assert "2" in labels and "0.2" in labels, labels
    assert figure_defects(fig) == []
    assert plotting.plain_number(1e-6) == "$10^{-6}$" and plotting.plain_number(20000) == "20000"


def test_matrix_images_have_whole_number_ticks_and_labels() -> None:
    fig, ax = plotting.figure(1, 1)
    panels.weights(ax[0, 0], np.arange(16.0).reshape(4, 4), "W")
    fig.draw_without_rendering()
    ticks = np.concatenate([ax[0, 0].get_xticks(), ax[0, 0].get_yticks()])
    assert np.allclose(ticks, np.round(ticks))
    assert figure_defects(fig) == []


def test_the_inspection_finds_each_defect() -> None:
    """The rules above can fail: a figure with every defect is reported for each."""
    fig, ax = plotting.figure(4, 1)
    a, b, c, d = ax[0]
    a.plot(np.arange(10), np.linspace(2, 8, 10), "o", label="data")
    a.set(yscale="log")  # no y label; "×10⁰" minor labels on less than a decade
    a.legend(loc="center")  # over the data
    plotting.matrix(b, np.eye(3))
    b.set_xticks([0, 0.5, 1])
    c.plot([0, 1], [0, 1], label="a long legend entry beside the panel, as the figures had it")
    c.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    c.set_ylabel("y")
    d.plot([0, 1], [0, 1])
    d.set(ylabel="y", yticks=[0.5])  # one labelled tick: no scale to read
    found = " | ".join(figure_defects(fig))
    for defect in (
        "no y label",
        "tick label",
        "legend covers",
        "image ticks",
        "of the width",
        "fewer than two labelled y",
    ):
        assert defect in found, (defect, found)
