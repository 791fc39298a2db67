"""Fig. 4(a): in-context learning emerges with task diversity P and context length N.

Contrast ratio ⟨m, I⟩/(|m||I|) of the paper's AMP mean (λ0 = 1, β = 100, θ = 0.9, 100 steps) on a
grid of N × P, averaged over the repeats whose AMP run converged (the paper's convention; the
converged fraction is stored and drawn too).

Speed choice (documented, *common random numbers across P*): one point is one N.  For each repeat
one set of P_max prompts is drawn and the smaller P use its nested prefixes; their Gram matrices
come from running sums over the prompt chunks between consecutive P (one P_max Gram per repeat
instead of one per cell).  Each cell is still an iid sample of P prompts; cells of one repeat are
correlated along P, which makes the P-trend smoother but does not bias any cell.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...metrics import contrast_ratio
from ...prompts import PromptSpec
from ...solvers import amp
from ...spinglass import SpinGlass
from .. import panels
from ..draws import draw_repeats, generators, nested_spinglasses
from ..points import grid, pick
from ..records import nan_mean_std
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _grid(lo: float, hi: float, n: int) -> list[int]:
    return [int(x) for x in np.linspace(lo, hi, n).astype(int)]


FULL = dict(
    D=20,
    N=_grid(2, 100, 50),
    P=_grid(20, 1000, 50),
    lambda0=1.0,
    beta=100.0,
    damping=0.9,
    steps=100,
    repeats=10,
    chunk=2,
)
QUICK = {**FULL, "N": _grid(2, 100, 8), "P": _grid(20, 1000, 8), "repeats": 3}
RENAMED = {"chunk": "amp_batch"}


def points(p: dict) -> list[dict]:
    """One point per N (nested prompt prefixes across P inside it: common random numbers, one Gram per repeat)."""
    return grid({"N": [int(N) for N in sorted(set(p["N"]))]}, pick(p, (k for k in FULL if k != "N")))


def _slice(sg: SpinGlass, sl: slice) -> SpinGlass:
    """The repeats ``sl`` of a batched spin glass, keeping its (injected) Gram matrix."""
    f = sg.features
    sub = SpinGlass(f.take(sl), sg.lambda0)
    return sub.with_gram(sg.gram[sl])


def compute(point: Point, seed: int, device: str) -> Result:
    """Arrays (nP, R): contrast ratio of the AMP mean (NaN if not converged), converged flags,
    iterations; scalars: mean contrast over the row, converged fraction."""
    rng, _ = generators(seed)
    Ps = sorted(int(P) for P in point["P"])
    R, chunk = point["repeats"], point["chunk"]
    train = draw_repeats(PromptSpec(D=point["D"], N=point["N"]), Ps[-1], R, rng)
    cr = np.full((len(Ps), R), np.nan)
    conv = np.zeros((len(Ps), R), dtype=bool)
    iters = np.zeros((len(Ps), R), dtype=int)
    for i, sg in enumerate(nested_spinglasses(train, Ps, point["lambda0"])):
        # AMP in small batches: their J and J∘J (2·8·K² bytes each) stay in the CPU cache.
        for s in range(0, R, chunk):
            sl = slice(s, min(R, s + chunk))
            res = amp(_slice(sg, sl), beta=point["beta"], damping=point["damping"], steps=point["steps"], rng=rng)
            conv[i, sl], iters[i, sl] = res.converged, res.iterations
            cr[i, sl] = contrast_ratio(res.masked_mean())  # NaN where AMP did not converge
    n_ok = conv.sum(axis=1)
    cell = np.where(n_ok > 0, np.where(conv, cr, 0.0).sum(axis=1) / np.maximum(n_ok, 1), np.nan)
    return {
        "P_values": np.array(Ps),
        "contrast_per_repeat": cr,
        "converged_per_repeat": conv.astype(float),
        "iterations_per_repeat": iters,
        "contrast": cell,
        "converged": conv.mean(axis=1),
        "contrast_mean": nan_mean_std(cell)[0],
        "converged_fraction": float(conv.mean()),
    }


def _heat(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    recs = sorted(records, key=lambda r: r["N"])
    Ns = np.array([r["N"] for r in recs], float)
    Ps = np.asarray(recs[0]["P_values"], float)
    return Ns, Ps, np.array([np.asarray(r[key], float) for r in recs])


def _edges(x: np.ndarray) -> np.ndarray:
    mid = (x[1:] + x[:-1]) / 2 if len(x) > 1 else np.array([])
    first = x[0] - (mid[0] - x[0] if len(x) > 1 else 0.5)
    last = x[-1] + (x[-1] - mid[-1] if len(x) > 1 else 0.5)
    return np.concatenate([[first], mid, [last]])


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    Ns, Ps, C = _heat(records, "contrast")
    _, _, F = _heat(records, "converged")
    fig, ax = plotting.figure(2, 1, width=3.7, height=3.1)
    for a, M, title, cmap, label, lim in (
        (ax[0, 0], C, "contrast ratio of the AMP mean\n(blank: no converged AMP run)", "viridis", "contrast ratio", {}),
        (ax[0, 1], F, "AMP converged fraction", "magma", "fraction of runs converged", {"vmin": 0, "vmax": 1}),
    ):
        im = a.pcolormesh(_edges(Ps), _edges(Ns), M, cmap=cmap, shading="flat", **lim)
        fig.colorbar(im, ax=a, shrink=0.85, label=label)
        a.set(xlabel="task diversity P", ylabel="context length N", title=title)
    D = params["D"]
    panels.threshold(ax[0, 0], D * (D + 1), color="w", label=None)
    ax[0, 0].annotate("D(D+1)", (D * (D + 1), Ns[-1]), color="w", fontsize=7, va="top", ha="left")
    return fig


def summary(records: list[dict], params: dict) -> dict:
    Ns, Ps, C = _heat(records, "contrast")
    _, _, F = _heat(records, "converged")
    with np.errstate(invalid="ignore"):
        return {
            "N_range": [int(Ns[0]), int(Ns[-1])],
            "P_range": [int(Ps[0]), int(Ps[-1])],
            "contrast_smallest_N_P": round(float(C[0, 0]), 4),
            "contrast_largest_N_P": round(float(C[-1, -1]), 4),
            "contrast_largest_N_smallest_P": round(float(C[-1, 0]), 4),
            "contrast_smallest_N_largest_P": round(float(C[0, -1]), 4),
            "contrast_vs_P_at_largest_N": [round(float(c), 3) for c in C[-1]],
            "contrast_vs_N_at_largest_P": [round(float(c), 3) for c in C[:, -1]],
            "converged_fraction": round(float(np.mean(F)), 4),
            "n_amp_runs": int(len(Ns) * len(Ps) * params["repeats"]),
        }


COLUMNS = {
    "contrast_mean": "contrast ratio of the AMP mean averaged over the cells of this N (converged runs only) [1]",
    "converged_fraction": "fraction of this N's AMP runs (all P, all repeats) that converged [1]",
}

SUMMARY_KEYS = {
    "N_range": "smallest and largest N of the grid [tokens]",
    "P_range": "smallest and largest P of the grid [count]",
    "contrast_smallest_N_P": (
        "contrast ratio of the AMP mean at the grid's smallest N and P (– where no run converged) [1]"
    ),
    "contrast_largest_N_P": "the same at the largest N and P [1]",
    "contrast_largest_N_smallest_P": "the same at the largest N and smallest P [1]",
    "contrast_smallest_N_largest_P": "the same at the smallest N and largest P [1]",
    "contrast_vs_P_at_largest_N": "contrast ratio along P at the largest N (– where no run converged) [1]",
    "contrast_vs_N_at_largest_P": "contrast ratio along N at the largest P [1]",
    "converged_fraction": "fraction of all AMP runs (cells × repeats) that converged [1]",
    "n_amp_runs": "AMP runs in all: cells × repeats [count]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="fig4a",
    title="Fig. 4a: contrast ratio of the AMP mean on the (N, P) grid -- ICL emerges with P and N",
)
