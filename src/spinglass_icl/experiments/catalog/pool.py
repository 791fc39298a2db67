"""Beyond the paper: a finite task pool -- many distinct tasks, or just many prompts?

For several D (N = c_N·D) and a fixed number of training prompts P ≫ D(D+1), the P prompts draw
their tasks uniformly from a pool of T distinct tasks (the multi-instance regime,
``PromptSpec(task_pool=T)``), T on a log grid from 1 to P.  For the exact ground state at λ0, per
repeat:

* the test error on prompts with fresh tasks (in-context learning, "ICL");
* the test error on fresh prompts whose tasks come from the training pool ("in-distribution");
* the contrast ratio with the identity;
* the flat-direction fraction of SᵀS/P among the D(D+1) effective spins (and so its rank);
* as references the ICL solution c*·diag(I_D, 0) (c* fitted on the training set) on both test
  sets, and one point with a fresh task per prompt (T = ∞, stored as T = 0).

The summary locates T*, where the fresh-task error has come down to 1.25× the fresh-task-per-prompt
value, in units of D and of D(D+1): which one is constant across D says what the ground state needs.

The in-distribution test needs the pool's tasks, which ``sample_features`` keeps to itself.  So
the pool is sampled task by task: the numbers of training and test prompts of each pool task are
multinomial (each prompt picks a pool task uniformly, as ``_tasks`` does), and the prompts of one
task are one ``sample_features`` call with ``task_pool=1`` -- a single task, drawn with σ_w, shared by
that call's prompts.  This is exactly the distribution of ``PromptSpec(task_pool=T)`` (up to the order
of the prompts, shuffled anyway, which the spin glass does not see).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from ... import plotting
from ...features import n_effective
from ...metrics import contrast_ratio, test_error
from ...prompts import Features, PromptSpec, sample_features
from ...spinglass import SpinGlass
from ..common import (draw_repeats, effective_flat_fraction, generators, ground_states, icl_solution, nan_mean_std,
                      stack_features)
from ..spec import Experiment

T_GRID = [1, 2, 3, 4, 6, 10, 16, 25, 40, 63, 100, 158, 251, 398, 631, 1000, 1585, 2512, 4000]  # ≈ 10^(k/5)
FULL = dict(D=[5, 10, 20], c_N=5, P=4000, T=T_GRID, P_test=1000, repeats=10, lambda0=0.01)
QUICK = {**FULL, "D": [3, 6], "P": 600, "T": T_GRID[:14] + [600], "P_test": 500, "repeats": 6}
THRESHOLD = 1.25  # T* is where the fresh-task error falls to 1.25 × its fresh-task-per-prompt value


def points(p: Mapping[str, Any]) -> list[dict]:
    """Per D, one point per pool size T (≤ P), plus T = 0: a fresh task per prompt (the T → ∞ reference)."""
    return [{"D": int(D), "N": int(p["c_N"] * D), "T": int(T), "P": p["P"], "P_test": p["P_test"],
             "repeats": p["repeats"], "lambda0": p["lambda0"]}
            for D in p["D"] for T in list(p["T"]) + [0] if T <= p["P"]]


def pool_features(spec: PromptSpec, sizes: tuple[int, ...], rng: np.random.Generator) -> list[Features]:
    """Prompt sets of sizes ``sizes`` (e.g. training, test) whose tasks all come from one pool of
    ``spec.task_pool`` tasks, each prompt's task picked uniformly; features (size, D+1) each."""
    T = spec.task_pool
    counts = np.stack([rng.multinomial(n, np.full(T, 1.0 / T)) for n in sizes], axis=1)  # (T, sets)
    one = replace(spec, task_pool=1)
    parts: list[list[Features]] = [[] for _ in sizes]
    for row in counts:
        if row.sum() == 0:
            continue
        f = sample_features(one, int(row.sum()), rng)  # one pool task shared by these prompts
        edges = np.concatenate([[0], np.cumsum(row)])
        for s in range(len(sizes)):
            sl = slice(edges[s], edges[s + 1])
            parts[s].append(Features(a=f.a[sl], b=f.b[sl], y=f.y[sl], N=f.N))
    out = []
    for s, n in enumerate(sizes):
        order = rng.permutation(n)
        out.append(Features(a=np.concatenate([p.a for p in parts[s]])[order],
                            b=np.concatenate([p.b for p in parts[s]])[order],
                            y=np.concatenate([p.y for p in parts[s]])[order], N=spec.N))
    return out


def compute(pt: Mapping[str, Any], seed: int, device: str) -> dict[str, Any]:
    """Per repeat (arrays, R) and mean/std of: ground-state and ICL-solution test errors on fresh
    and on pool tasks, contrast ratio, effective flat fraction of SᵀS/P."""
    rng, _ = generators(seed)
    D, N, P, R, T = pt["D"], pt["N"], pt["P"], pt["repeats"], pt["T"]
    fresh = PromptSpec(D=D, N=N)
    if T > 0:
        sets = [pool_features(replace(fresh, task_pool=T), (P, pt["P_test"]), rng) for _ in range(R)]
        train, test_pool = stack_features([s[0] for s in sets]), stack_features([s[1] for s in sets])
    else:  # fresh tasks: the pool's test set is just another fresh-task set
        train, test_pool = draw_repeats(fresh, P, R, rng), draw_repeats(fresh, pt["P_test"], R, rng)
    test_fresh = draw_repeats(fresh, pt["P_test"], R, rng)
    sg = SpinGlass(train, pt["lambda0"])
    W = ground_states(sg, [pt["lambda0"]])[float(pt["lambda0"])]
    W_icl = icl_solution(train)
    arrays = {
        "gs_fresh": test_error(W, test_fresh), "gs_pool": test_error(W, test_pool),
        "icl_fresh": test_error(W_icl, test_fresh), "icl_pool": test_error(W_icl, test_pool),
        "contrast": contrast_ratio(W), "flat_fraction": effective_flat_fraction(sg),
    }
    out: dict[str, Any] = {f"{k}_per_repeat": v for k, v in arrays.items()}
    for k, v in arrays.items():
        out[f"{k}_mean"], out[f"{k}_std"] = nan_mean_std(v)
    out["rank_mean"] = float(np.mean(np.round((1.0 - arrays["flat_fraction"]) * n_effective(D))))
    return out


def _by_D(records: list[dict]) -> dict[int, tuple[list[dict], dict | None]]:
    """Per D: the pool points sorted by T, and the fresh-task reference point (or None)."""
    out: dict[int, tuple[list[dict], dict | None]] = {}
    for D in sorted({int(r["D"]) for r in records}):
        mine = [r for r in records if r["D"] == D]
        out[D] = (sorted((r for r in mine if r["T"] > 0), key=lambda r: r["T"]),
                  next((r for r in mine if r["T"] == 0), None))
    return out


def _col(recs: list[dict], key: str) -> np.ndarray:
    return np.array([r[key] for r in recs], float)


def threshold_T(T: np.ndarray, ratio: np.ndarray, level: float = THRESHOLD) -> float:
    """First T at which ``ratio`` (fresh-task error / reference) falls to ``level``, interpolated
    linearly in (log T, log ratio) between the grid points around the crossing; NaN if it never does."""
    below = np.nonzero(ratio <= level)[0]
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(T[0])
    x0, x1, y0, y1 = np.log(T[i - 1]), np.log(T[i]), np.log(ratio[i - 1]), np.log(ratio[i])
    return float(np.exp(x0 + (np.log(level) - y0) * (x1 - x0) / (y1 - y0)))


def plot(records: list[dict], params: Mapping[str, Any]):
    groups = _by_D(records)
    with plotting.style():
        fig, ax = plotting.figure(2, 2, width=3.8, height=2.9)
        (a, b), (c, d) = ax
        for i, (D, (recs, ref)) in enumerate(groups.items()):
            col, K = f"C{i}", n_effective(D)
            T = _col(recs, "T")
            lab = f"D={D}, N={recs[0]['N']}"
            a.plot(T, _col(recs, "gs_fresh_mean"), "o-", ms=3, color=col, label=f"{lab}: fresh tasks")
            a.plot(T, _col(recs, "gs_pool_mean"), "s--", ms=3, color=col, mfc="none", label="pool tasks")
            a.axvline(K, color=col, lw=0.6, ls=":")
            if ref is not None:
                ratio = _col(recs, "gs_fresh_mean") / ref["gs_fresh_mean"]
                b.plot(T / D, ratio, "o-", ms=3, color=col, label=lab)
                c.plot(T / K, ratio, "o-", ms=3, color=col, label=lab)
            d.plot(T, _col(recs, "contrast_mean"), "o-", ms=3, color=col, label=f"{lab}: contrast")
            d.plot(T, _col(recs, "flat_fraction_mean"), "d:", ms=3, color=col, label="flat fraction")
        for axis in (b, c):
            axis.axhline(THRESHOLD, color="k", lw=0.6, ls="--")
            axis.set(yscale="log", ylabel="fresh-task error / fresh-prompt reference")
        for axis in (a, b, c, d):
            axis.set(xscale="log")
        a.set(yscale="log", xlabel="distinct tasks T in the pool", ylabel="test error of the ground state",
              title=f"(a) P={params['P']} prompts, λ0={params['lambda0']:g} (dotted: T = D(D+1))")
        b.set(xlabel="T / D", title="(b) ICL error vs T/D")
        c.set(xlabel="T / (D(D+1))", title="(c) ICL error vs T/(D(D+1))")
        d.set(xlabel="distinct tasks T in the pool", ylim=(-0.03, 1.03), title="(d) contrast ratio, flat fraction")
        a.legend(fontsize=6, ncol=2)
        b.legend(fontsize=7)
        d.legend(fontsize=6, ncol=2)
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
        g["rank"] = [r["rank_mean"] for r in recs]
        g["D(D+1)"] = K
        if ref is not None:
            g["fresh_reference_gs"] = round(ref["gs_fresh_mean"], 4)
            g["fresh_reference_contrast"] = round(ref["contrast_mean"], 4)
            t_star = threshold_T(_col(recs, "T"), _col(recs, "gs_fresh_mean") / ref["gs_fresh_mean"])
            g["T_star"] = round(t_star, 2)
            g["T_star_over_D"] = round(t_star / D, 3)
            g["T_star_over_DD1"] = round(t_star / K, 3)
        out[f"D={D}"] = g
    return out

EXPERIMENT = Experiment(
    id="pool",
    title="Beyond the paper: finite task pool -- does the ground state need many distinct tasks or many prompts?",
    quick=QUICK, full=FULL, points=points, compute=compute, plot=plot, summary=summary,
    notes="Pool sampled task by task (multinomial counts, one sample_features call per pool task with task_pool=1): "
          "the distribution of PromptSpec(task_pool=T), with the pool's tasks available for the in-distribution test. "
          "T = 0 is the fresh-task-per-prompt reference.",
)
