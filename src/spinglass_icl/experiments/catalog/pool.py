"""Beyond the paper: a finite task pool -- many distinct tasks, or just many prompts?

For several D (N = c_N·D) and a fixed number of training prompts P ≫ D(D+1), the P prompts draw
their tasks uniformly from a pool of T distinct tasks (the multi-instance regime,
``PromptSpec(task_pool=T)``), T on a log grid from 1 to P.  Per repeat, for the exact ground state
at λ0: the test error on fresh tasks (in-context learning, "ICL") and on fresh prompts with pool
tasks ("in-distribution"), the contrast ratio, the flat fraction of SᵀS/P among the D(D+1) effective
spins (so its rank); as references the ICL solution c*·diag(I_D, 0) (c* fitted on the training set)
on both test sets, and one point with a fresh task per prompt (T = ∞, stored as T = 0).

The summary locates T*, where the fresh-task error has come down to 1.25× the fresh-task-per-prompt
value, in units of D and of D(D+1): which one is constant across D says what the ground state needs.
The pool is sampled task by task (``draws.pool_sets``) so the in-distribution test can reuse its tasks.  Beside
each Monte-Carlo test error ``X`` the exact population error of the same W, ``X_population`` (fresh tasks, or
averaged over the pool's tasks: ``theory.population_error(tasks=...)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...features import n_effective
from ...metrics import contrast_ratio, query_error
from ...prompts import Features, PromptSpec
from ...spinglass import SpinGlass
from ...theory import icl_error_theory
from .. import panels
from ..draws import draw_repeats, generators, pool_sets
from ..points import grid, pick
from ..records import column, groups, repeat_stats, threshold_crossing
from ..reference import ground_states, icl_solution, population_errors
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

T_GRID = [1, 2, 3, 4, 6, 10, 16, 25, 40, 63, 100, 158, 251, 398, 631, 1000, 1585, 2512, 4000]  # ≈ 10^(k/5)
FULL = dict(D=[5, 10, 20], c_N=5, P=4000, T=T_GRID, P_test=1000, repeats=10, lambda0=0.01)
QUICK = {**FULL, "D": [3, 6], "P": 600, "T": T_GRID[:14] + [600], "P_test": 500, "repeats": 6}
THRESHOLD = 1.25  # T* is where the fresh-task error falls to 1.25 × its fresh-task-per-prompt value


def points(p: Mapping[str, Any]) -> list[dict]:
    """Per D, one point per pool size T (≤ P), plus T = 0: a fresh task per prompt (the T → ∞ reference)."""
    axes = {"D": [int(D) for D in p["D"]], "T": [int(T) for T in p["T"]] + [0]}
    fixed = pick(p, ("P", "P_test", "repeats", "lambda0"))
    return grid(axes, fixed, derive=lambda pt: {"N": int(p["c_N"] * pt["D"])}, where=lambda pt: pt["T"] <= p["P"])


def compute(point: Point, seed: int, device: str) -> Result:
    """Per repeat (arrays, R) and mean/std of: ground-state and ICL-solution test errors on fresh
    and on pool tasks, contrast ratio, effective flat fraction of SᵀS/P."""
    rng, _ = generators(seed)
    D, N, P, R, T = point["D"], point["N"], point["P"], point["repeats"], point["T"]
    fresh = PromptSpec(D=D, N=N)
    tasks = None  # T = 0: fresh tasks, the pool's test set is just another fresh-task set
    if T > 0:
        sets = [pool_sets(replace(fresh, task_pool=T), (P, point["P_test"]), rng) for _ in range(R)]
        train, test_pool = (Features.stack([s[0][i] for s in sets]) for i in (0, 1))
        tasks = np.stack([s[1] for s in sets])  # (R, T, D): the exact in-distribution error averages over them
    else:
        train, test_pool = draw_repeats(fresh, P, R, rng), draw_repeats(fresh, point["P_test"], R, rng)
    test_fresh = draw_repeats(fresh, point["P_test"], R, rng)
    sg = SpinGlass(train, point["lambda0"])
    W = ground_states(sg, [point["lambda0"]])[float(point["lambda0"])]
    W_icl = icl_solution(train)
    arrays = dict(gs_fresh=query_error(W, test_fresh), gs_pool=query_error(W, test_pool))
    arrays.update(icl_fresh=query_error(W_icl, test_fresh), icl_pool=query_error(W_icl, test_pool))
    arrays.update(population_errors({"gs_fresh": W, "icl_fresh": W_icl}, fresh))
    arrays.update(population_errors({"gs_pool": W, "icl_pool": W_icl}, fresh, tasks))
    out = repeat_stats({**arrays, "contrast": contrast_ratio(W), "flat_fraction": sg.flat_fraction()})
    out["rank_mean"] = float(np.mean(np.round((1.0 - out["flat_fraction_per_repeat"]) * n_effective(D))))
    return {**out, "theory_asymptotic": float(icl_error_theory(D, N, P, pool=T))}  # Lu et al., κ = T/D (T = 0: ∞)


def _by_D(records: list[dict]) -> dict[int, tuple[list[dict], dict | None]]:
    """Per D: the pool points sorted by T, and the fresh-task reference point T = 0 (or None)."""
    return {
        int(D): ([r for r in recs if r["T"] > 0], next((r for r in recs if r["T"] == 0), None))
        for D, recs in groups(records, "D", sort="T").items()
    }


def threshold_T(T: np.ndarray, ratio: np.ndarray, level: float = THRESHOLD) -> float:
    """First T at which ``ratio`` (fresh-task error / reference) falls to ``level`` (log-log interpolated)."""
    return threshold_crossing(T, ratio, level)


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    fig, ax = plotting.figure(2, 2, width=3.8, height=2.9)
    (a, b), (c, d) = ax
    for i, (D, (recs, ref)) in enumerate(_by_D(records).items()):
        col, K, T, lab = f"C{i}", n_effective(D), column(recs, "T"), f"D={D}, N={recs[0]['N']}"
        for key, mk, ls, name in (("gs_fresh", "o", "-", f"{lab}: fresh tasks"), ("gs_pool", "s", "--", "pool tasks")):
            exact = column(recs, f"{key}_population_mean", default=np.nan)  # NaN: stored before it existed
            panels.markers_and_line(a, T, column(recs, f"{key}_mean"), exact, marker=mk, ls=ls, color=col, label=name)
        panels.threshold(a, K, color=col, lw=0.6, label=None)
        if ref is not None:
            ratio = column(recs, "gs_fresh_mean") / ref["gs_fresh_mean"]
            b.plot(T / D, ratio, "o-", ms=3, color=col, label=lab)
            b.plot(T / D, column(recs, "theory_asymptotic") / ref["theory_asymptotic"], "-", color=col, lw=2, alpha=0.3)
            c.plot(T / K, ratio, "o-", ms=3, color=col, label=lab)
        d.plot(T, column(recs, "contrast_mean"), "o-", ms=3, color=col, label=f"{lab}: contrast")
        d.plot(T, column(recs, "flat_fraction_mean"), "d:", ms=3, color=col, label="flat fraction")
    for axis in (b, c):
        axis.axhline(THRESHOLD, color="k", lw=0.6, ls="--", label=f"{THRESHOLD} × reference")
        axis.set(yscale="log", ylabel="fresh-task error / fresh-prompt reference")
    ylabel = f"ground-state test error: markers {params['P_test']}\ntest prompts, lines exact population error"
    a.set(yscale="log", xlabel="distinct tasks T in the pool", ylabel=ylabel)
    a.set_title(f"P={params['P']} prompts, λ0={params['lambda0']:g}\ndotted: T = D(D+1)")
    b.set(xlabel="T / D", title="ICL error vs T/D\nthick: asymptotic theory at κ = T/D")
    c.set(xlabel="T / (D(D+1))", title="ICL error vs T/(D(D+1))")
    d.set(xlabel="distinct tasks T in the pool", ylabel="ratio or fraction", ylim=(-0.03, 1.03))
    d.set_title("contrast ratio, flat fraction")
    for axis in (a, b, c, d):
        axis.set(xscale="log")
        panels.legend(axis)
    return fig


def summary(records: list[dict], params: Mapping[str, Any]) -> dict[str, Any]:
    """Per D: the T grid, mean test errors (fresh, pool), contrast and rank per T, the fresh-task
    reference, and T* (fresh-task error down to 1.25 × reference) in units of D and of D(D+1)."""
    out: dict[str, Any] = {}
    for D, (recs, ref) in _by_D(records).items():
        K = n_effective(D)
        g: dict[str, Any] = {"T": [r["T"] for r in recs]}
        for k in ("gs_fresh", "gs_pool", "icl_fresh", "contrast"):
            g[k] = [round(r[f"{k}_mean"], 4) for r in recs]
        g.update({"rank": [r["rank_mean"] for r in recs], "D(D+1)": K})
        if ref is not None:
            g["fresh_reference_gs"] = round(ref["gs_fresh_mean"], 4)
            g["fresh_reference_contrast"] = round(ref["contrast_mean"], 4)
            t_star = threshold_T(column(recs, "T"), column(recs, "gs_fresh_mean") / ref["gs_fresh_mean"])
            g["T_star"] = round(t_star, 2)
            g.update(T_star_over_D=round(t_star / D, 3), T_star_over_DD1=round(t_star / K, 3))
        out[f"D={D}"] = g
    return out


COLUMNS = {
    "N": "context length N = c_N·D [tokens]",
    "*_mean": (
        "the quantity * over repeats (gs: ground state, icl: ICL solution c*·diag(I_D, 0); fresh: fresh "
        "tasks, pool: the pool's tasks; population: exact, no test-prompt noise) [E[y²] = 1] for errors, [1] "
        "for contrast and flat fraction, [count] for rank"
    ),
    "*_std": "its standard deviation over repeats (same unit)",
    "theory_asymptotic": "Lu et al.'s asymptotic error at this D, N, P and pool size κ = T/D [E[y²] = 1]",
}

SUMMARY_KEYS = {
    "D=*.T": "the pool sizes T (the lists below line up with them) [count]",
    "D=*.gs_fresh": "ground-state test error on fresh tasks per T, mean over repeats [E[y²] = 1]",
    "D=*.gs_pool": "ground-state test error on the pool's tasks per T, mean over repeats [E[y²] = 1]",
    "D=*.icl_fresh": "test error of the ICL solution on fresh tasks per T [E[y²] = 1]",
    "D=*.contrast": "contrast ratio of the ground state per T [1]",
    "D=*.rank": "rank of the training Gram matrix per T, mean over repeats [count]",
    "D=*.D(D+1)": "effective spins D(D+1) [count]",
    "D=*.fresh_reference_gs": "ground-state fresh-task error with a fresh task per prompt (T = 0) [E[y²] = 1]",
    "D=*.fresh_reference_contrast": "its contrast ratio [1]",
    "D=*.T_star": "T* where the fresh-task error falls to 1.25 × the reference (log-log interpolated) [count]",
    "D=*.T_star_over_D": "T*/D [1]",
    "D=*.T_star_over_DD1": "T*/(D(D+1)) [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="pool",
    title="Beyond the paper: finite task pool -- does the ground state need many distinct tasks or many prompts?",
)
