"""figS5 -- spectrum of the input covariance X Xᵀ/N against the Marchenko–Pastur law.

X ∈ R^{D×N} with iid N(0, 1) entries.  X Xᵀ ~ Wishart(N, I_D), so its spectrum is sampled without
forming X: ``method="bidiagonal"`` (default; Dumitriu–Edelman bidiagonal model, O(D) random numbers
and a tridiagonal eigenproblem per draw), ``"bartlett"`` (Bartlett factor, O(D²)) or ``"explicit"``
(X itself, O(D²N)); see :func:`~spinglass_icl.experiments.wishart.wishart_eigenvalues`.  Eigenvalues of X Xᵀ/N pooled
over
draws are histogrammed on fixed bins per N (0 to 1.15·(1+√q)², q = D/N) and compared with the
Marchenko–Pastur density with ratio q: the KS distance at the bin edges and the first two moments
(exact finite-size values E[λ] = 1, E[λ²] = 1 + (D+1)/N) are reported.

Points are (N, chunk of draws).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...validation import InputError, choice, positive_int
from .. import histograms, panels, wishart
from ..draws import generators
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def bin_edges(D: int, N: int, bins: int) -> np.ndarray:
    """Fixed bins of the spectrum of X Xᵀ/N: [0, 1.15 (1+√q)²]."""
    return histograms.edges(0.0, 1.15 * wishart.mp_edges(D / N)[1], bins)


def points(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    choice("method", params["method"], wishart.WISHART_METHODS)
    D = positive_int("D", params["D"])
    Ns = [positive_int("N", n) for n in np.atleast_1d(params["N"])]
    if min(Ns) < D:
        raise InputError(f"figS5 needs N >= D (ratio D/N <= 1), got N={min(Ns)} < D={D}")
    total, chunk = positive_int("draws", params["draws"]), positive_int("chunk", params["chunk"])
    return [
        dict(D=D, N=N, bins=params["bins"], method=params["method"], block=i, draws=min(chunk, total - s))
        for N in Ns
        for i, s in enumerate(range(0, total, chunk))
    ]


def count(p: Mapping[str, Any]) -> int:
    """Per N, one point per chunk of draws."""
    return len(p["N"]) * -(-p["draws"] // p["chunk"])


def compute(point: Point, seed: int, device: str) -> Result:
    """Histogram (bins,), raw moments (count, Σλ, Σλ²) and extremes of one chunk's eigenvalues."""
    rng, _ = generators(seed)
    D, N = point["D"], point["N"]
    ev = wishart.wishart_eigenvalues(D, N, point["draws"], rng, point["method"]) / N
    e = bin_edges(D, N, point["bins"])
    return {
        "hist": histograms.binned(ev, e),
        "edges": e,
        "moments": histograms.moments(ev),
        "outside": histograms.outside(ev, e),
        "min": float(ev.min()),
        "max": float(ev.max()),
    }


def aggregate(records: Sequence[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per N: pooled counts, edges, KS distance to MP, moments and their exact values."""
    groups: dict[int, list] = defaultdict(list)
    for r in records:
        groups[int(r["N"])].append(r)
    out = {}
    for N, rs in sorted(groups.items()):
        D = int(rs[0]["D"])
        e = np.asarray(rs[0]["edges"])
        counts = np.asarray(sum(np.asarray(r["hist"]) for r in rs))
        n, s1, s2 = np.asarray(sum(np.asarray(r["moments"], dtype=float) for r in rs))
        q = D / N
        out[N] = {
            "D": D,
            "q": q,
            "edges": e,
            "counts": counts,
            "draws": sum(int(r["draws"]) for r in rs),
            "ks": histograms.ks_binned(counts, wishart.mp_bin_probabilities(e, q)),
            "mean": s1 / n,
            "second": s2 / n,
            "second_exact": 1.0 + (D + 1) / N,
            "min": min(float(r["min"]) for r in rs),
            "max": max(float(r["max"]) for r in rs),
            "outside": sum(int(r["outside"]) for r in rs),
        }
    return out


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    agg = aggregate(records)
    n = len(agg)
    ncols = min(3, n)
    fig, ax = plotting.figure(ncols, -(-n // ncols), width=3.0, height=2.5)
    for a in ax.ravel()[n:]:
        a.set_visible(False)
    for a, (N, g) in zip(ax.ravel(), agg.items()):
        e, c = g["edges"], g["counts"]
        a.stairs(c / c.sum() / np.diff(e)[0], e, fill=True, alpha=0.5, label=f"{g['draws']} draws")
        x = np.linspace(e[0], e[-1], 800)
        a.plot(x, wishart.mp_density(x, g["q"]), "r-", lw=1.0, label="Marchenko–Pastur")
        lo, hi = wishart.mp_edges(g["q"])
        a.set_xlim(max(0.0, lo - 0.15 * (hi - lo)), e[-1])
        a.set(title=f"N={N} (D/N={g['q']:.3g}), KS={g['ks']:.3f}", xlabel="eigenvalue of X Xᵀ/N", ylabel="density")
    panels.legend(ax[0, 0])  # the first spectrum (D/N largest) leaves its upper right free
    fig.suptitle(f"figS5: spectrum of X Xᵀ/N, D={params['D']}")
    return fig


def summary(records: list[dict], params: dict) -> dict[str, Any]:
    agg = aggregate(records)
    return {
        f"N={N}": {
            "draws": g["draws"],
            "KS_to_MP": round(float(g["ks"]), 4),
            "mean": round(float(g["mean"]), 4),
            "mean_sq": round(float(g["second"]), 4),
            "mean_sq_exact": round(float(g["second_exact"]), 4),
            "support": [round(g["min"], 3), round(g["max"], 3)],
            "mp_support": [round(float(x), 3) for x in wishart.mp_edges(g["q"])],
        }
        for N, g in agg.items()
    }


_N = [100, 500, 1000, 2000, 5000, 10000]
QUICK = dict(D=100, N=_N, draws=1000, chunk=500, bins=120, method="bidiagonal")
FULL = dict(D=100, N=_N, draws=10_000, chunk=2000, bins=200, method="bidiagonal")
RENAMED = {"block": "chunk"}  # the block index was the point's "chunk" before 0.2.0: same seeds

COLUMNS = {
    "block": "index of the point's block of ``chunk`` draws [count]",
    "outside": "eigenvalues of X Xᵀ/N outside the histogram range, over the point's draws [count]",
    "min": "smallest eigenvalue of X Xᵀ/N over the point's draws [1]",
    "max": "largest eigenvalue of X Xᵀ/N over the point's draws [1]",
}

SUMMARY_KEYS = {
    "N=*.draws": "draws of X X^T/N pooled at that N [count]",
    "N=*.KS_to_MP": "Kolmogorov–Smirnov distance of the pooled eigenvalues to the Marchenko–Pastur law [1]",
    "N=*.mean": "mean eigenvalue (1 exactly) [1]",
    "N=*.mean_sq": "mean squared eigenvalue [1]",
    "N=*.mean_sq_exact": "its exact value 1 + D/N [1]",
    "N=*.support": "smallest and largest eigenvalue seen [1]",
    "N=*.mp_support": "the Marchenko–Pastur support edges (1 ± √(D/N))² [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS5",
    title="eigenvalues of X Xᵀ/N (D=100) against the Marchenko–Pastur density",
)
