"""Beyond the paper: finite-size scaling of the minimum-norm ground state towards the asymptotic ICL error.

For each case (τ, α, ρ, κ) of a grid with τ below and above 1, label noise and finite task pools, and each
token dimension D: P = round(τ·D(D+1)) prompts, N = round(α·D), label-noise std √ρ, a pool of K = round(κ·D)
distinct tasks (κ = 0 in the parameters: a fresh task per prompt, κ = ∞).  Per repeat the exact minimum-norm
ground state (λ0 = 0; lstsq below ``cg_from_D``, matrix-free CG from there on) and its exact population error
(``theory.population_error``, no test-prompt noise).  The theory is Lu et al.'s Result 1 at the finite-size
convention τ = P/(D(D+1)), α = N/D, κ = K/D (``theory``; τ = P/D² beside it as ``theory_D2``); the summary
fits ratio = r∞ + b/D per case.  results.csv: ``error_mean`` is the exact population error (mean over
repeats; the runner's own ``error`` column holds failure messages), ``theory`` the asymptotic error."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import resources
from ...prompts import PromptSpec
from ...theory import finite_sizes, icl_error_asymptotic, icl_error_theory
from .. import panels
from ..params import Rule, described
from ..points import grid, pick, zipped
from ..records import column, fit_inverse_D, groups, nan_mean_std, nan_sem
from ..reference import minnorm_population_errors
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# the cases (τ, α, ρ, κ): zipped lists tau, alpha, rho, kappa; κ = 0 stands for κ = ∞ (a fresh task per prompt)
CASES = [(0.25, 1.0, 0.0, 0.0), (0.5, 1.0, 0.0, 0.0), (2.0, 1.0, 0.0, 0.0), (4.0, 2.0, 0.0, 0.0)]  # fresh tasks
CASES += [(0.5, 2.0, 0.25, 0.0), (4.0, 2.0, 0.25, 0.0), (0.5, 1.0, 0.0, 2.0), (2.0, 1.0, 0.0, 2.0)]  # noise; κ·D tasks
FULL: dict[str, Any] = {k: [float(c[i]) for c in CASES] for i, k in enumerate(("tau", "alpha", "rho", "kappa"))}
FULL.update(D=[10, 20, 40, 60, 80, 120, 160], repeats=[32, 16, 8, 4, 3, 2, 2], cg_from_D=20, cg_tol=1e-8)
QUICK = {**FULL, "D": [10, 20, 40, 60], "repeats": [16, 8, 4, 2]}
RULES = {
    "tau": described("tau", "τ = P/(D(D+1)) of each case (zipped with alpha, rho, kappa)"),
    "alpha": described("alpha", "α = N/D of each case"),
    "rho": Rule(real=True, low=0, doc="label-noise variance ρ = σ² of each case"),
    "kappa": Rule(
        real=True,
        low=0,
        doc="distinct tasks per token dimension κ = K/D of each case (0: κ = ∞, a fresh task per prompt)",
    ),
    "D": described("D", "token dimensions (zipped with repeats)"),
    "repeats": described("repeats", "training sets per D"),
    "cg_from_D": Rule(low=1, doc="matrix-free CG from this D on (lstsq below)"),
    "cg_tol": described("tol", "relative residual at which CG stops"),
}


def _kappa(k: float) -> float:
    return math.inf if k == 0 else float(k)


def check(p: Mapping[str, Any]) -> None:
    """Zipped lists of equal length; every case a valid argument of the theory."""
    zipped(p, ("D", "repeats"), "asymptotics")
    zipped(p, ("tau", "alpha", "rho", "kappa"), "asymptotics")
    icl_error_asymptotic(p["tau"], p["alpha"], p["rho"], [_kappa(k) for k in p["kappa"]])  # InputError if bad


def points(p: Mapping[str, Any]) -> list[dict]:
    check(p)
    cases, repeats = zipped(p, ("tau", "alpha", "rho", "kappa"), "asymptotics"), dict(zip(p["D"], p["repeats"]))

    def case(pt: dict) -> dict:
        t, a, r, k = (float(v) for v in cases[pt["case"]])
        return dict(tau_target=t, alpha_target=a, rho=r, kappa_param=k, repeats=int(repeats[pt["D"]]))

    axes = {"case": list(range(len(cases))), "D": [int(D) for D in p["D"]]}
    return grid(axes, pick(p, ("cg_from_D", "cg_tol")), derive=case)


def count(p: Mapping[str, Any]) -> int:
    """One point per (case, D)."""
    return len(p["tau"]) * len(p["D"])


def compute(point: Point, seed: int, device: str) -> Result:
    """Per repeat the min-norm ground state's exact population error; its mean/std/sem, the theory at both
    τ conventions and their ratios, the solver used and its worst relative residual."""
    D, noise = point["D"], math.sqrt(point["rho"])
    N, P, pool = finite_sizes(D, point["tau_target"], point["alpha_target"], _kappa(point["kappa_param"]))
    spec = PromptSpec(D=D, N=N, noise=noise, task_pool=pool)
    runs = minnorm_population_errors(
        spec, P, point["repeats"], np.random.default_rng(seed), cg_from_D=point["cg_from_D"], cg_tol=point["cg_tol"]
    )
    err, k_eff = runs["error"], math.inf if pool is None else pool / D
    theory = float(icl_error_theory(D, N, P, noise, pool))  # the project's convention τ = P/(D(D+1))
    theory_d2 = float(icl_error_asymptotic(P / D**2, N / D, point["rho"], k_eff))
    (mean, std), sem = nan_mean_std(err), nan_sem(err)
    out = dict(N=N, P=P, K=pool or 0, tau=P / (D * (D + 1)), alpha=N / D, kappa=k_eff)
    out.update(error_mean=mean, error_std=std, error_sem=sem, theory=theory, ratio=mean / theory)
    out.update(ratio_sem=sem / theory, theory_D2=theory_d2, ratio_D2=mean / theory_d2)
    out.update(converged=float(np.mean(np.isfinite(err))), solver="cg" if D >= point["cg_from_D"] else "lstsq")
    out.update(max_residual=float(np.max(runs["residual"])), max_iterations=int(np.max(runs["iterations"])))
    return {**out, "error_per_repeat": err}


def _label(r: Mapping[str, Any]) -> str:
    k = "∞" if math.isinf(r["kappa"]) else f"{r['kappa_param']:g}"
    return f"τ={r['tau_target']:g}, α={r['alpha_target']:g}, ρ={r['rho']:g}, κ={k}"


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    fig, ax = panels.figure(2, 1, width=3.6, height=3.8)
    a, b = ax[0]
    for i, recs in enumerate(groups(records, "case", sort="D").values()):
        col, D, c = f"C{i % 10}", column(recs, "D"), partial(column, recs)
        panels.markers_and_line(
            a, D, c("error_mean"), c("theory"), err=c("error_sem"), color=col, label=_label(recs[0])
        )
        r_inf, slope = fit_inverse_D(D, c("ratio"), c("ratio_sem"))
        x = np.linspace(0, 1 / D.min(), 50)
        panels.markers_and_line(b, 1 / D, c("ratio"), r_inf + slope * x, err=c("ratio_sem"), line_x=x, color=col)
        b.plot(1 / D, c("ratio_D2"), "x", ms=3, color=col, alpha=0.5)
    b.axhline(1.0, color="k", lw=0.6, ls=":")
    title = "min-norm ground state (dots)\nvs Lu et al. Result 1 at τ = P/(D(D+1)) (lines)"
    a.set(xscale="log", yscale="log", xlabel="token dimension D", ylabel="population error (exact)", title=title)
    panels.plain_log_ticks(a, {int(r["D"]) for r in records})  # one tick per D
    title = "ratio at τ = P/(D(D+1)) (o, line: fit r∞ + b/D)\nand at τ = P/D² (x)"
    b.set(xlabel="1 / D", ylabel="error / theory", xlim=(0, None), title=title)
    fig.legend(*a.get_legend_handles_labels(), loc="outside lower center", ncol=4, fontsize=6)
    return fig


def summary(records: list[dict], params: Mapping[str, Any]) -> dict[str, Any]:
    """Per case: D grid, ratios at both conventions, the fit r∞ + b/D, the ratio at the largest D."""
    out: dict[str, Any] = {}
    worst = 0.0
    for recs in groups(records, "case", sort="D").values():
        D, ratio = column(recs, "D"), column(recs, "ratio")
        r_inf, slope = fit_inverse_D(D, ratio, column(recs, "ratio_sem"))
        last = recs[-1]
        worst = max(worst, abs(last["ratio"] - 1.0))
        out[_label(recs[0])] = {
            "D": [int(d) for d in D],
            "theory": round(last["theory"], 4),
            "ratio": [round(float(x), 4) for x in ratio],
            "ratio_D2": [round(r["ratio_D2"], 4) for r in recs],
            "fit_r_inf": round(r_inf, 4),
            "fit_b": round(slope, 3),
            "ratio_at_largest_D": round(last["ratio"], 4),
        }
    out["max_abs_ratio_minus_1_at_largest_D"] = round(worst, 4)
    return out


COLUMNS = {
    "case": "index of the case (τ, α, ρ, κ) in the zipped lists [integer]",
    "tau_target": "the case's τ = P/(D(D+1)) [1]",
    "alpha_target": "the case's α = N/D [1]",
    "kappa_param": "the case's κ = K/D (0: a fresh task per prompt, κ = ∞) [1]",
    "N": "context length N = round(α·D) [tokens]",
    "P": "training prompts P = round(τ·D(D+1)) [count]",
    "K": "distinct tasks in the pool K = round(κ·D) (0: a fresh task per prompt) [count]",
    "error_mean": "exact population error of the minimum-norm ground state, mean over repeats [E[y²] = 1]",
    "error_std": "its standard deviation over repeats [E[y²] = 1]",
    "error_sem": "its standard error of the mean [E[y²] = 1]",
    "theory": "Lu et al.'s asymptotic error at τ = P/(D(D+1)), α = N/D, κ = K/D [E[y²] = 1]",
    "ratio": "error_mean / theory [1]",
    "ratio_sem": "standard error of the ratio [1]",
    "theory_D2": "the asymptotic error at τ = P/D² instead [E[y²] = 1]",
    "ratio_D2": "error_mean / theory_D2 [1]",
    "converged": "fraction of repeats whose solver (lstsq or CG) reached its tolerance [1]",
    "solver": "lstsq (direct) or cg (matrix-free conjugate gradients) [text]",
    "max_residual": "largest relative residual of the normal equations over repeats [1]",
    "max_iterations": "most CG iterations over repeats (0 for lstsq) [count]",
}


def cost(point: Point) -> resources.Estimate:
    """A point's memory and CPU: the generic rule at P = τ·D(D+1), N = 1 (no prompts held beyond the data),
    matrix-free from ``cg_from_D`` on (its refusal then names D, else cg_from_D: lower it to go matrix-free)."""
    D, tau = int(point["D"]), float(point.get("tau_target", 1.0) or 1.0)
    free = D >= int(point["cg_from_D"])
    est = resources.generic({**point, "P": max(1, int(tau * D * (D + 1))), "N": 1}, matrix_free=free)
    if free:
        return est
    return replace(est, parts={("cg_from_D" if k == "D" else k): v for k, v in est.parts.items()})


SUMMARY_KEYS = {
    "τ=*.D": "the D grid of the case (τ, α, ρ = noise variance, κ) [1]",
    "τ=*.theory": "Lu et al.'s asymptotic error of the case at the largest D [E[y²] = 1]",
    "τ=*.ratio": "measured error / theory per D (τ = P/(D(D+1))) [1]",
    "τ=*.ratio_D2": "measured error / theory per D with τ = P/D² instead [1]",
    "τ=*.fit_r_inf": "r∞ of the fit ratio ≈ r∞ + b/D (1: the theory holds as D → ∞) [1]",
    "τ=*.fit_b": "b of that fit [1]",
    "τ=*.ratio_at_largest_D": "the ratio at the largest D [1]",
    "max_abs_ratio_minus_1_at_largest_D": "largest |ratio − 1| at the largest D over the cases [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="asymptotics",
    title="Beyond the paper: exact min-norm ground state vs the asymptotic ICL error (Lu et al. 2024) as D grows",
)
