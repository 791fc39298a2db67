"""Beyond the paper: the ICL transition collapses at τ = P/(D(D+1)).

The load τ = P/(D(D+1)) counts prompts per effective spin (parameter ``tau``; fig. S1's P/D² is
``P_over_D2``).  For each token dimension D (context length N = c_N·D, so that the ICL error floor
~ D/N is the same for every D) and each τ on a log grid from 0.1 to 10, P = round(τ·D(D+1)) prompts with fresh
tasks are drawn ``repeats`` times (batched in one point) and the exact ground state is computed at
a small λ0 (ridge) and at λ0 = 0 (minimum norm).  Per repeat, on P_test fresh-task prompts:

* the test error of both ground states -- the min-norm one has the interpolation peak at τ = 1
  (P equal to the number of effective spins D(D+1));
* their contrast ratio with the identity (the ICL solution is c·diag(I_D, 0));
* the flat-direction fraction of SᵀS/P among the D(D+1) effective spins, theory 1 − min(τ, 1);
* the test error of the ICL solution W = c*·diag(I_D, 0) with c* fitted on the training set, the
  large-τ asymptote;
* beside each Monte-Carlo test error ``X`` the exact population error of the same weights ``X_population``
  (``theory.population_error``, no test-prompt noise; lines in the figure, the Monte-Carlo ones markers).

Curves for different D plotted against τ should collapse onto each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ...features import n_effective
from ...metrics import contrast_ratio, query_error
from ...prompts import PromptSpec
from ...spinglass import SpinGlass, flat_fraction_theory
from ...theory import icl_error_asymptotic, icl_error_theory
from .. import panels
from ..draws import draw_repeats, generators
from ..points import grid, pick
from ..records import column, groups, repeat_stats
from ..reference import ground_states, icl_solution, population_errors
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# 10^(k/10), k = -10..10 (τ = 1 on the grid), plus 0.9 and 1.1 to resolve the peak
TAU = sorted({round(10 ** (k / 10), 4) for k in range(-10, 11)} | {0.9, 1.1})

# D = 40 (1640 effective spins, P up to 16400): dense Cholesky/lstsq still fit (≈ 5 s per repeat at τ = 10)
FULL = dict(D=[5, 10, 20, 40], c_N=5, tau=TAU, P_test=1000, repeats=10, lambda0=1e-3)
QUICK = {**FULL, "D": [4, 6, 8], "P_test": 500, "repeats": 6}
RENAMED = {"tau": "alpha"}  # published as ``alpha``: same draws under the new name


def points(p: Mapping[str, Any]) -> list[dict]:
    axes: dict[str, list[Any]] = {"D": [int(D) for D in p["D"]], "tau": [float(t) for t in p["tau"]]}

    def size(pt: dict) -> dict:  # N = c_N·D, P = τ·D(D+1)
        return {"N": int(p["c_N"] * pt["D"]), "P": max(1, int(round(pt["tau"] * n_effective(pt["D"]))))}

    return grid(axes, pick(p, ("P_test", "repeats", "lambda0")), derive=size)


def compute(point: Point, seed: int, device: str) -> Result:
    """Per repeat (arrays, R) and mean/std: test error and contrast of the ridge (λ0) and min-norm
    (λ0 = 0) ground states, the ICL solution's test error, the effective flat fraction."""
    rng, _ = generators(seed)
    spec = PromptSpec(D=point["D"], N=point["N"])
    train = draw_repeats(spec, point["P"], point["repeats"], rng)
    test = draw_repeats(spec, point["P_test"], point["repeats"], rng)
    sg = SpinGlass(train, point["lambda0"])
    gs = ground_states(sg, [point["lambda0"], 0.0])
    ridge, minnorm = gs[float(point["lambda0"])], gs[0.0]
    arrays = dict(ridge_test_error=query_error(ridge, test), minnorm_test_error=query_error(minnorm, test))
    arrays.update(ridge_contrast=contrast_ratio(ridge), minnorm_contrast=contrast_ratio(minnorm))
    W_icl = icl_solution(train)
    arrays.update(icl_test_error=query_error(W_icl, test), flat_fraction=sg.flat_fraction())
    exact = population_errors({"ridge_test_error": ridge, "minnorm_test_error": minnorm, "icl_test_error": W_icl}, spec)
    out = repeat_stats({**arrays, **exact})
    # the min-norm error at τ ≈ 1 is heavy-tailed across repeats: the median is reported beside the mean
    for k in ("minnorm_test_error", "minnorm_test_error_population"):
        out[f"{k}_median"] = float(np.median(out[f"{k}_per_repeat"]))
    out["flat_fraction_theory"] = flat_fraction_theory(point["P"], point["D"])
    out["theory_asymptotic"] = float(icl_error_theory(point["D"], point["N"], point["P"]))  # Lu et al., min-norm, D → ∞
    return out


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    fig, ax = panels.figure(2, 2, width=3.7, height=2.9)
    (a, b), (c, d) = ax
    for i, (D, recs) in enumerate(groups(records, "D", sort="tau").items()):
        col, tau, lab = f"C{i}", column(recs, "tau"), f"D={D}, N={recs[0]['N']}"
        for axis, mc, key in ((a, "minnorm", "median"), (b, "ridge", "mean")):
            exact = column(recs, f"{mc}_test_error_population_{key}", default=np.nan)  # NaN: stored before it
            panels.markers_and_line(axis, tau, column(recs, f"{mc}_test_error_{key}"), exact, color=col, label=lab)
            axis.plot(tau, column(recs, "icl_test_error_mean"), ":", color=col)
        c.plot(tau, column(recs, "minnorm_contrast_mean"), "o-", ms=3, color=col, label=f"{lab}, λ0=0")
        c.plot(tau, column(recs, "ridge_contrast_mean"), "s--", ms=3, color=col, label=f"λ0={params['lambda0']:g}")
        d.plot(tau, column(recs, "flat_fraction_mean"), "o", ms=4, color=col, mfc="none", label=lab)
    g = np.geomspace(min(params["tau"]), max(params["tau"]), 200)
    d.plot(g, 1 - np.minimum(g, 1.0), "k-", lw=0.8, label="1 − min(τ, 1)")
    a.plot(g, icl_error_asymptotic(g, params["c_N"]), "k-", lw=1, label=f"D → ∞, α = N/D = {params['c_N']:g}")
    for axis in (a, b, c, d):
        panels.threshold(axis, 1.0, label="P = D(D+1)" if axis is d else None)
        axis.set(xscale="log", xlabel="τ = P / (D(D+1))")
        panels.legend(axis)
    ylabel = f"test error: markers {params['P_test']} test prompts,\nlines exact population error"
    a.set(yscale="log", ylabel=ylabel)
    a.set_title("min-norm ground state (median)\ndotted: ICL c*·I, black: Lu et al.")
    b.set(yscale="log", ylabel=ylabel)
    b.set_title(f"ground state λ0={params['lambda0']:g}\ndotted: ICL solution c*·I")
    c.set(ylabel="contrast ratio with I", ylim=(0, 1), title="contrast ratio")
    d.set(ylabel="flat fraction of SᵀS/P", ylim=(-0.03, 1.03), title="flat directions (effective spins)")
    return fig


def summary(records: list[dict], params: Mapping[str, Any]) -> dict[str, Any]:
    """Per D: τ at the peak of the min-norm (mean and median) and ridge test error, and at the
    largest τ the contrast ratios and the test errors beside the ICL asymptote."""
    out: dict[str, Any] = {}
    offsets = []
    for D, recs in groups(records, "D", sort="tau").items():
        tau = column(recs, "tau")
        keys = {"minnorm": "minnorm_test_error_mean", "minnorm_median": "minnorm_test_error_median"}
        keys["ridge"] = "ridge_test_error_mean"
        peak = {s: float(tau[int(np.nanargmax(column(recs, key)))]) for s, key in keys.items()}
        offsets += [abs(peak["minnorm"] - 1.0), abs(peak["minnorm_median"] - 1.0)]
        last = recs[-1]
        gap = np.abs(column(recs, "flat_fraction_mean") - column(recs, "flat_fraction_theory"))
        out[f"D={D}"] = {
            "tau_peak_minnorm": peak["minnorm"],
            "tau_peak_minnorm_median": peak["minnorm_median"],
            "tau_peak_ridge": peak["ridge"],
            "peak_minnorm_test_error_median": round(float(np.nanmax(column(recs, "minnorm_test_error_median"))), 3),
            "tau_max": float(tau[-1]),
            "contrast_minnorm_at_tau_max": round(last["minnorm_contrast_mean"], 4),
            "contrast_ridge_at_tau_max": round(last["ridge_contrast_mean"], 4),
            "test_error_minnorm_at_tau_max": round(last["minnorm_test_error_mean"], 4),
            "test_error_icl_at_tau_max": round(last["icl_test_error_mean"], 4),
            "test_error_at_tau_min": round(recs[0]["minnorm_test_error_mean"], 4),
            "max_flat_fraction_gap": round(float(np.max(gap)), 4),
        }
    out["max_peak_rel_offset"] = round(max(offsets), 4)
    return out


COLUMNS = {
    "N": "context length N = c_N·D [tokens]",
    "P": "training prompts P = round(τ·D(D+1)) [count]",
    "*_mean": (
        "the quantity * (test error, contrast, flat fraction of ridge / minnorm / icl weights) mean over "
        "repeats [E[y²] = 1] for errors, [1] otherwise"
    ),
    "*_std": "its standard deviation over repeats (same unit)",
    "*_median": "its median over repeats [E[y²] = 1]",
    "flat_fraction_theory": "closed form 1 − min(τ, 1) among the D(D+1) effective spins [1]",
    "theory_asymptotic": "Lu et al.'s asymptotic error of the minimum-norm ground state at this D, N, P [E[y²] = 1]",
}

SUMMARY_KEYS = {
    "D=*.tau_peak_minnorm": "τ of the largest mean test error of the minimum-norm ground state [1]",
    "D=*.tau_peak_minnorm_median": "τ of the largest median test error of the minimum-norm ground state [1]",
    "D=*.tau_peak_ridge": "τ of the largest mean test error of the ridge (λ0 > 0) ground state [1]",
    "D=*.peak_minnorm_test_error_median": "that largest median test error [E[y²] = 1]",
    "D=*.tau_max": "the largest τ of the sweep [1]",
    "D=*.contrast_minnorm_at_tau_max": "contrast ratio of the minimum-norm ground state at the largest τ [1]",
    "D=*.contrast_ridge_at_tau_max": "contrast ratio of the ridge ground state at the largest τ [1]",
    "D=*.test_error_minnorm_at_tau_max": (
        "mean test error of the minimum-norm ground state at the largest τ [E[y²] = 1]"
    ),
    "D=*.test_error_icl_at_tau_max": "mean test error of the ICL solution at the largest τ [E[y²] = 1]",
    "D=*.test_error_at_tau_min": "mean test error of the minimum-norm ground state at the smallest τ [E[y²] = 1]",
    "D=*.max_flat_fraction_gap": "largest |flat fraction − closed form 1 − min(τ, 1)| over τ [1]",
    "max_peak_rel_offset": "largest |τ_peak − 1| over D (min-norm mean and median peaks) [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="phase",
    title="Beyond the paper: the ICL transition collapses at τ = P/(D(D+1)) (exact ground states, several D)",
)
