"""figS7 -- uniqueness of the ground state: zero modes of the Hessian SᵀS/P at λ0 = 0.

(a) Spectra of SᵀS/P (K×K, K = (D+1)²) for a few P at D=20, N=100, pooled over draws, as
histograms of log₁₀ λ (exact zeros are put in the lowest bin).  (b) The fraction of eigenvalues
with |λ| < tol vs P for several D, against the closed form 1 − min(P, D(D+1))/(D+1)².

Zeros are counted by the paper's rule |λ| < tol (``spinglass.flat_mask``).  The spectrum is computed on
the smaller of two matrices with the same non-zero eigenvalues: the effective spins' Gram matrix
(the D+1 spins of W's last column are exact zero modes) or the P×P kernel SSᵀ/P =
(AAᵀ)∘(BBᵀ)/((N+1)² P); the other K − min(P, D(D+1)) eigenvalues are zero by rank.
``method="full"`` diagonalises the K×K matrix instead (for checks).  Points: ("spectrum", P, block
of ``chunk`` draws) and ("zero", D, P).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...features import n_effective, n_spins
from ...prompts import PromptSpec, sample_features
from ...spinglass import SpinGlass, flat_fraction_theory, flat_mask
from ...validation import choice, positive, positive_int
from .. import histograms, panels
from ..draws import generators
from ..params import Rule
from ..records import groups
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

METHODS = ("small", "full")
LOG_RANGE = (-20.0, 3.0)  # log10 λ bins of the spectra; exact zeros are clipped into the first bin


def points(params: dict) -> list[dict[str, Any]]:
    choice("method", params["method"], METHODS)
    common = {"N": positive_int("N", params["N"]), "tol": positive("tol", params["tol"]), "method": params["method"]}
    total, chunk = positive_int("spectrum_draws", params["spectrum_draws"]), positive_int("chunk", params["chunk"])
    spectra = [
        dict(panel="spectrum", P=int(P), D=int(params["spectrum_D"]), block=i, draws=min(chunk, total - s))
        for P in np.atleast_1d(params["spectrum_P"])
        for i, s in enumerate(range(0, total, chunk))
    ]
    draws = positive_int("draws", params["draws"])
    zeros = [
        dict(panel="zero", P=int(round(float(P))), D=int(round(float(D))), block=0, draws=draws)
        for D in np.atleast_1d(params["D"])
        for P in np.atleast_1d(params["P"])
    ]
    return [{**pt, **common} for pt in spectra + zeros]


def count(p: Mapping[str, Any]) -> int:
    """One point per chunk of spectrum draws at each spectrum_P, and one per (D, P) of the zero-mode grid."""
    return len(p["spectrum_P"]) * -(-p["spectrum_draws"] // p["chunk"]) + len(p["D"]) * len(p["P"])


def compute(point: Point, seed: int, device: str) -> Result:
    """Zero-mode fraction (mean over the point's draws) and, for spectrum points, the histogram
    of log₁₀ λ (bins,) pooled over them."""
    rng, _ = generators(seed)
    spec = PromptSpec(D=point["D"], N=point["N"])
    small = point["method"] == "small"
    evs = np.stack(
        [SpinGlass(sample_features(spec, point["P"], rng)).gram_spectrum(small=small) for _ in range(point["draws"])]
    )
    count = np.count_nonzero(flat_mask(evs, point["tol"]), axis=-1)
    K = n_spins(point["D"])
    out: dict[str, Any] = {
        "zero_fraction": float(count.mean() / K),
        "zero_count_min": int(count.min()),
        "zero_count_max": int(count.max()),
        "theory_count": K - min(int(point["P"]), n_effective(point["D"])),
        "theory": flat_fraction_theory(point["P"], point["D"], effective=False),
    }
    if point["panel"] == "spectrum":
        e = histograms.edges(*LOG_RANGE, 115)
        logs = np.log10(np.clip(np.abs(evs), 10.0 ** LOG_RANGE[0], None))
        out["log_hist"] = histograms.binned(logs, e)
        out["log_edges"] = e
        out["largest"] = float(evs.max())
        pos = np.abs(evs[~flat_mask(evs, point["tol"])])
        out["smallest_nonzero"] = float(pos.min()) if pos.size else float("nan")
    return out


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    spectra = groups(records, "P", where={"panel": "spectrum"})
    fig, ax = plotting.figure(len(spectra) + 1, 1, width=3.4, height=2.7)
    for a, (P, rs) in zip(ax[0], spectra.items()):
        c, D = np.asarray(sum(np.asarray(r["log_hist"]) for r in rs)), int(rs[0]["D"])
        a.stairs(c / c.sum(), np.asarray(rs[0]["log_edges"]), fill=True, alpha=0.6, label="eigenvalues")
        a.axvline(np.log10(params["tol"]), color="k", ls=":", lw=0.8, label=f"tol={params['tol']:g}")
        a.set(xlabel=r"$\log_{10}\lambda$ of $S^\top S/P$ (zeros at left)", ylabel="fraction of eigenvalues")
        z, theory = np.mean([r["zero_fraction"] for r in rs]), flat_fraction_theory(P, D, effective=False)
        a.set_title(f"P={P}, D={D}: zero fraction {z:.3f}\n(theory {theory:.3f})")
    if spectra:
        panels.legend(ax[0, 0])
    a = ax[0, -1]
    for i, (D, rs) in enumerate(groups(records, "D", sort="P", where={"panel": "zero"}).items()):
        P = np.array([r["P"] for r in rs])
        a.plot(P, [r["zero_fraction"] for r in rs], "o", ms=2.5, color=f"C{i}", label=f"D={D}")
        g = np.linspace(P.min(), P.max(), 400)
        a.plot(g, [flat_fraction_theory(p, D, effective=False) for p in g], "-", lw=0.8, color=f"C{i}")
    a.set(xlabel="P", ylabel=rf"fraction of |λ| < {params['tol']:g}")
    a.set_title("zero modes: measured (dots)\nvs 1 − min(P, D(D+1))/(D+1)² (lines)")
    panels.legend(a)
    fig.suptitle(f"figS7: uniqueness of the ground state (N={params['N']})")
    return fig


def summary(records: list[dict], params: dict) -> dict[str, Any]:
    zero = [r for r in records if r["panel"] == "zero"]
    dev = [abs(r["zero_fraction"] - r["theory"]) for r in zero]
    n_exact = sum(int(r["zero_count_min"] == r["theory_count"] == r["zero_count_max"]) for r in zero)
    worst = max(zero, key=lambda r: abs(r["zero_fraction"] - r["theory"])) if zero else None
    out: dict[str, Any] = {"zero_points": len(zero), "zero_points_exactly_on_theory": n_exact}
    out["max_abs_deviation"] = float(max(dev)) if dev else None
    if worst is not None:
        out["worst_point"] = {k: worst[k] for k in ("D", "P", "zero_count_max", "theory_count")}
        out["off_theory_points"] = [
            (int(r["D"]), int(r["P"]), int(r["zero_count_max"]), int(r["theory_count"]))
            for r in zero
            if r["zero_count_max"] != r["theory_count"] or r["zero_count_min"] != r["theory_count"]
        ]
    for r in records:
        if r["panel"] == "spectrum" and r["block"] == 0:
            out[f"spectrum_P={r['P']}"] = {k: r[k] for k in ("zero_fraction", "theory", "smallest_nonzero", "largest")}
    return out


QUICK = dict(spectrum_P=[100, 500, 1500], spectrum_D=20, spectrum_draws=4, chunk=4, N=100, D=[10, 15, 20], draws=1)
QUICK.update(P=np.linspace(25, 600, 24).round().astype(int).tolist(), tol=1e-5, method="small")
FULL = {**QUICK, "spectrum_draws": 100, "chunk": 25, "D": np.linspace(10, 40, 7).round().astype(int).tolist()}
FULL["P"] = np.linspace(25, 2000, 80).round().astype(int).tolist()
RENAMED = {"block": "chunk"}  # the block index was the point's "chunk" before 0.2.0: same seeds

RULES = {
    "spectrum_P": Rule(low=1, doc="P of the spectrum panels"),
    "spectrum_D": Rule(low=1, doc="D of the spectrum panels"),
    "spectrum_draws": Rule(low=1, doc="draws pooled into each spectrum"),
}


COLUMNS = {
    "block": "index of the point's block of draws within its spectrum (0 for zero points) [count]",
    "panel": "spectrum (panel a: eigenvalue histograms) or zero (panel b: zero-mode fraction) [text]",
    "zero_fraction": "fraction of eigenvalues of SᵀS/P with |λ| < tol among all (D+1)² spins, mean over draws [1]",
    "zero_count_min": "fewest zero eigenvalues over the point's draws [count]",
    "zero_count_max": "most zero eigenvalues over the point's draws [count]",
    "theory_count": "zero eigenvalues by rank: (D+1)² − min(P, D(D+1)) [count]",
    "theory": "closed form 1 − min(P, D(D+1))/(D+1)² [1]",
    "largest": "largest eigenvalue of SᵀS/P over the point's draws [1]",
    "smallest_nonzero": "smallest eigenvalue above tol over the point's draws (NaN: none) [1]",
}

SUMMARY_KEYS = {
    "zero_points": "points of panel b (D, P) [count]",
    "zero_points_exactly_on_theory": "points whose zero-eigenvalue count equals the rank formula in every draw [count]",
    "max_abs_deviation": "largest |zero fraction − closed form| over the points [1]",
    "worst_point.D": "D of the point farthest from the closed form [1]",
    "worst_point.P": "its P [count]",
    "worst_point.zero_count_max": "its most zero eigenvalues over draws [count]",
    "worst_point.theory_count": "its zero eigenvalues by rank, (D+1)² − min(P, D(D+1)) [count]",
    "off_theory_points": "(D, P, most zeros, theory count) of every point off the rank formula (empty: none) [count]",
    "spectrum_P=*.zero_fraction": "fraction of zero eigenvalues of S^T S/P in the first chunk at that P [1]",
    "spectrum_P=*.theory": "closed form 1 − min(P, D(D+1))/(D+1)² [1]",
    "spectrum_P=*.smallest_nonzero": "smallest eigenvalue above tol [1]",
    "spectrum_P=*.largest": "largest eigenvalue [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS7",
    title="zero modes of the Hessian SᵀS/P vs P and D: the ground state is unique past P = D(D+1)",
)
