"""figS7 -- uniqueness of the ground state: zero modes of the Hessian SᵀS/P at λ0 = 0.

(a) Spectra of SᵀS/P (K×K, K = (D+1)²) for a few P at D=20, N=100, pooled over draws, as
histograms of log₁₀ λ (exact zeros are put in the lowest bin).  (b) The fraction of eigenvalues
with |λ| < tol vs P for several D, against the closed form 1 − min(P, D(D+1))/(D+1)².

The spectrum is computed on the smaller of two matrices with the same non-zero eigenvalues:
the D(D+1)×D(D+1) Gram matrix of the effective spins (the D+1 spins of W's last column have
identically zero features: exact zero modes), or the P×P kernel
SSᵀ/P = (AAᵀ)∘(BBᵀ)/((N+1)² P) with A, B the (P, D+1) per-prompt vectors a, b (s = a⊗b/(N+1)).
The remaining K − min(P, D(D+1)) eigenvalues are exactly zero by rank, so the *measured* part is
the number of (near-)zero eigenvalues of the smaller matrix.  ``method="full"`` diagonalises the
K×K matrix instead (for checks).

Points: ("spectrum", P, chunk of draws) and ("zero", D, P).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import numpy as np

from ... import plotting
from ...features import n_effective, n_spins
from ...prompts import Features, PromptSpec, sample_features
from ...spinglass import SpinGlass, zero_mode_fraction_theory
from ...validation import choice, positive, positive_int
from .. import stats
from ..common import generators
from ..spec import Experiment

METHODS = ("small", "full")
LOG_RANGE = (-20.0, 3.0)  # log10 λ bins of the spectra; exact zeros are clipped into the first bin


def spectrum(f: Features, method: str = "small") -> np.ndarray:
    """All K = (D+1)² eigenvalues of SᵀS/P (ascending) for one training set, shape (K,).

    ``"small"``: eigenvalues of the smaller of the effective Gram matrix and the P×P kernel,
    padded with the exact zeros that the rank bound implies; ``"full"``: the K×K matrix itself.
    """
    choice("method", method, METHODS)
    D, P, K = f.D, f.P, n_spins(f.D)
    if method == "full":
        return np.linalg.eigvalsh(SpinGlass(f).gram)
    if P < n_effective(D):
        kernel = (f.a @ f.a.T) * (f.b @ f.b.T) / ((f.N + 1) ** 2 * P)
        ev = np.linalg.eigvalsh(kernel)
    else:
        ev = np.linalg.eigvalsh(SpinGlass(f).gram_effective)
    return np.sort(np.concatenate([np.zeros(K - ev.size), ev]))


def points(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    choice("method", params["method"], METHODS)
    tol = positive("tol", params["tol"])
    N = positive_int("N", params["N"])
    out = []
    total, chunk = positive_int("spectrum_draws", params["spectrum_draws"]), positive_int("chunk", params["chunk"])
    for P in np.atleast_1d(params["spectrum_P"]):
        for i, s in enumerate(range(0, total, chunk)):
            out.append(dict(panel="spectrum", P=int(P), D=int(params["spectrum_D"]), N=N, chunk=i,
                            draws=min(chunk, total - s), tol=tol, method=params["method"]))
    for D in np.atleast_1d(params["D"]):
        for P in np.atleast_1d(params["P"]):
            out.append(dict(panel="zero", P=int(round(float(P))), D=int(round(float(D))), N=N, chunk=0,
                            draws=positive_int("draws", params["draws"]), tol=tol, method=params["method"]))
    return out


def compute(point: Mapping[str, Any], seed: int, device: str = "cpu") -> dict[str, Any]:
    """Zero-mode fraction (mean over the point's draws) and, for spectrum points, the histogram
    of log₁₀ λ (bins,) pooled over them."""
    rng, _ = generators(seed)
    spec = PromptSpec(D=point["D"], N=point["N"])
    evs = np.stack([spectrum(sample_features(spec, point["P"], rng), point["method"])
                    for _ in range(point["draws"])])
    count = np.count_nonzero(np.abs(evs) < point["tol"], axis=-1)
    K = n_spins(point["D"])
    out: dict[str, Any] = {"zero_fraction": float(count.mean() / K), "zero_count_min": int(count.min()),
                           "zero_count_max": int(count.max()),
                           "theory_count": K - min(int(point["P"]), n_effective(point["D"])),
                           "theory": zero_mode_fraction_theory(point["P"], point["D"])}
    if point["panel"] == "spectrum":
        e = stats.edges(*LOG_RANGE, 115)
        logs = np.log10(np.clip(np.abs(evs), 10.0 ** LOG_RANGE[0], None))
        out["log_hist"] = stats.binned(logs, e)
        out["log_edges"] = e
        out["largest"] = float(evs.max())
        pos = np.abs(evs[np.abs(evs) >= point["tol"]])
        out["smallest_nonzero"] = float(pos.min()) if pos.size else float("nan")
    return out


def plot(records: list[Mapping[str, Any]], params: Mapping[str, Any]):
    spec_recs: dict[int, list] = defaultdict(list)
    for r in records:
        if r["panel"] == "spectrum":
            spec_recs[int(r["P"])].append(r)
    Ps = sorted(spec_recs)
    with plotting.style():
        fig, ax = plotting.figure(len(Ps) + 1, 1, width=3.0, height=2.7)
        for a, P in zip(ax[0], Ps):
            rs = spec_recs[P]
            e = np.asarray(rs[0]["log_edges"])
            c = sum(np.asarray(r["log_hist"]) for r in rs)
            a.stairs(c / c.sum(), e, fill=True, alpha=0.6)
            a.axvline(np.log10(params["tol"]), color="k", ls=":", lw=0.8, label=f"tol={params['tol']:g}")
            D = int(rs[0]["D"])
            z = np.mean([r["zero_fraction"] for r in rs])
            a.set_title(f"P={P}, D={D}: zero fraction {z:.3f}\n(theory {zero_mode_fraction_theory(P, D):.3f})")
            a.set_xlabel(r"$\log_{10}\lambda$ of $S^\top S/P$ (zeros at left)")
            a.set_ylabel("fraction of eigenvalues")
        if Ps:
            ax[0, 0].legend(frameon=False)
        a = ax[0, -1]
        zero: dict[int, list] = defaultdict(list)
        for r in records:
            if r["panel"] == "zero":
                zero[int(r["D"])].append((int(r["P"]), float(r["zero_fraction"])))
        for i, (D, pts) in enumerate(sorted(zero.items())):
            pts.sort()
            P = np.array([p for p, _ in pts])
            a.plot(P, [z for _, z in pts], "o", ms=2.5, color=f"C{i}", label=f"D={D}")
            grid = np.linspace(P.min(), P.max(), 400)
            a.plot(grid, [zero_mode_fraction_theory(p, D) for p in grid], "-", lw=0.8, color=f"C{i}")
        a.set_xlabel("P")
        a.set_ylabel(rf"fraction of |λ| < {params['tol']:g}")
        a.set_title("zero modes: measured (dots)\nvs 1 − min(P, D(D+1))/(D+1)² (lines)")
        a.legend(frameon=False, fontsize=6)
        fig.suptitle(f"figS7: uniqueness of the ground state (N={params['N']})")
    return fig


def summary(records: list[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    zero = [r for r in records if r["panel"] == "zero"]
    dev = [abs(r["zero_fraction"] - r["theory"]) for r in zero]
    n_exact = sum(int(r["zero_count_min"] == r["theory_count"] == r["zero_count_max"]) for r in zero)
    worst = max(zero, key=lambda r: abs(r["zero_fraction"] - r["theory"])) if zero else None
    out: dict[str, Any] = {"zero_points": len(zero), "zero_points_exactly_on_theory": n_exact,
                           "max_abs_deviation": float(max(dev)) if dev else None}
    if worst is not None:
        out["worst_point"] = {k: worst[k] for k in ("D", "P", "zero_count_max", "theory_count")}
        out["off_theory_points"] = [(int(r["D"]), int(r["P"]), int(r["zero_count_max"]), int(r["theory_count"]))
                                    for r in zero if r["zero_count_max"] != r["theory_count"]
                                    or r["zero_count_min"] != r["theory_count"]]
    for r in records:
        if r["panel"] == "spectrum" and r["chunk"] == 0:
            out[f"spectrum_P={r['P']}"] = {"zero_fraction": r["zero_fraction"], "theory": r["theory"],
                                           "smallest_nonzero": r["smallest_nonzero"], "largest": r["largest"]}
    return out


EXPERIMENT = Experiment(
    id="figS7",
    title="zero modes of the Hessian SᵀS/P vs P and D: the ground state is unique past P = D(D+1)",
    quick=dict(spectrum_P=[100, 500, 1500], spectrum_D=20, spectrum_draws=4, chunk=4, N=100,
               D=[10, 15, 20], P=list(np.linspace(25, 600, 24).round().astype(int).tolist()), draws=1,
               tol=1e-5, method="small"),
    full=dict(spectrum_P=[100, 500, 1500], spectrum_D=20, spectrum_draws=100, chunk=25, N=100,
              D=np.linspace(10, 40, 7).round().astype(int).tolist(),
              P=np.linspace(25, 2000, 80).round().astype(int).tolist(), draws=1, tol=1e-5, method="small"),
    points=points,
    compute=compute,
    plot=plot,
    summary=summary,
    notes="spectra via the smaller of the effective Gram matrix and the P×P kernel (same non-zero eigenvalues).",
)
