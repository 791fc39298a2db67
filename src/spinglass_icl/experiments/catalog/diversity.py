"""Beyond the paper: task diversity across every architecture, against the Bayes-optimal predictors.

Raventós, Paul, Chen, Ganguli (NeurIPS 2023) trained transformers on prompts whose tasks come from a finite
pool of M tasks: below a threshold the model behaves like dMMSE (the Bayes-optimal predictor for the pool,
which cannot solve new tasks), above it like ridge (the Bayes-optimal predictor for the Gaussian task prior).
Here: every registered architecture (trained with its registered recipe), the spin-glass ground state of the
merged linear attention on the same prompts, and both Bayes predictors (:mod:`spinglass_icl.bayes`), at
D = 8, N = 16, noise σ = 0.5/√8 ≈ 0.177 (Raventós et al.'s signal-to-noise ratio: their noise variance 0.25 with
labels wᵀx), M = 2⁰ … 2¹⁵ and M = ∞ (a fresh task per prompt, stored as M = 0).  The 0.2.0 run at σ = 0.5 (8× their
noise-to-signal ratio) is shipped beside it (``SIGMA_HALF``).

One point = one model, one M, one batch of repeats (stacked); a point's seed depends on its data parameters
only (``task_diversity.SEED_PARAMS``), so every model of an (M, batch) sees the same pools and prompts
(:mod:`~spinglass_icl.experiments.task_diversity`).  Per point and split (``id``: pool tasks, ``ood``: fresh tasks):
the error and the
mean squared distances of the predictions to the dMMSE and ridge predictions on the same test prompts.
The summary gives per model M* (the fresh-task error within 10 % of its M = ∞ value, log-log interpolated),
in units of D and D(D+1), with 95 % bootstrap intervals over repeats; the export (rewritten from the stored
points by ``spinglass-icl plot diversity``) is ``diversity.csv``, the tidy table (one row per model, M, split,
with intervals on the error and on its ratios to dMMSE's and ridge's), and ``diversity-thresholds.csv`` (one row
per model: M*, Raventós's crossing, the transition's width, the M = ∞ error over ridge's, with intervals).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...bayes import ridge_error
from ...models import get
from ...resources import Estimate
from ...validation import InputError, choice, positive_int
from .. import panels, trained_cost, trained_models
from .. import task_diversity as td
from ..params import Rule, described
from ..spec import Experiment

if TYPE_CHECKING:
    from matplotlib.figure import Figure

M_GRID = [2**k for k in range(16)]


def raventos_noise(D: int) -> float:
    """Raventós et al.'s signal-to-noise ratio here: their labels wᵀx + ε with Var ε = 0.25, ours w·x/√D + ε,
    so σ = 0.5/√D (errors in units of E[y²] = 1 + σ² ≈ 1; theirs are D × ours)."""
    return 0.5 / math.sqrt(D)


RAVENTOS_NOISE = raventos_noise(8)
_DATA = dict(D=8, N=16, noise=RAVENTOS_NOISE, M=M_GRID, P=10000, P_val=1000, P_test=1000, repeats=10, chunk=5)
FULL = {**_DATA, "lambda0": 0.005, "dtype": "float32", "grad_chunk": 1000, "protocol": "fresh"}
# the 0.2.0 run, shipped as docs/data/diversity-sigma0.5-full and diversity-sigma0.5.csv: σ = 0.5 (8× Raventós's
# noise-to-signal ratio), 5 repeats, the fixed training set, the architectures in the figure -- `reproduce
# diversity --full` with these overrides
SIGMA_HALF = {"noise": 0.5, "repeats": 5, "protocol": "fixed", "models": "sla,fla,mhla,sa,tf,ground_state,dmmse,ridge"}


def run_label(params: Mapping[str, Any]) -> str:
    """A run's label on the gallery page: its sizes, its noise and its noise-to-signal ratio σ² (the noiseless
    label has variance 1) relative to Raventós et al.'s, 0.25/D (:func:`raventos_noise`)."""
    D, noise = int(params["D"]), float(params["noise"])
    ratio = (noise / raventos_noise(D)) ** 2
    return (
        f"D = {D}, N = {params['N']}, σ = {noise:.4g} (noise-to-signal ratio σ² = {noise**2:.4g}, "
        f"{ratio:.3g}× Raventós et al.'s 0.25/D = {raventos_noise(D) ** 2:.4g}), {params['repeats']} repeats, "
        f"{params.get('protocol', 'fixed')} training prompts"
    )


FULL_EXTRA = ("lintf",)  # drawn at full size besides the architectures in the figure
# Quick (CI, ≤ 2 minutes on 2 cores): D=3, N=8, M ∈ {1, 8, 64} around D(D+1) = 12, 300 prompts, 2 repeats,
# σ = 0.5 (the 0.2.0 run's noise), the registered quick recipes on the fixed training set (its golden results).
QUICK = {
    **FULL,
    **dict(D=3, N=8, noise=0.5, M=[1, 8, 64], P=300, P_val=100, P_test=300, repeats=2, chunk=2, grad_chunk=0),
    "protocol": "fixed",
}
COMMON = ("D", "N", "noise", "P", "P_val", "P_test")
RULES = trained_models.parameter_rules(
    {
        "M": Rule(
            low=1,
            doc="task-pool sizes: distinct tasks the prompts of a repeat draw from (M = ∞, stored as 0, "
            "is always added)",
        ),
        "noise": described("noise", "label noise standard deviation σ (every label, the query's too)"),
        "P": described("P", "training prompts per repeat (a fixed set; the recipes count epochs over it)"),
        "P_val": Rule(low=1, doc="held-out prompts per repeat from the pool (a recipe that keeps its best epoch: TF)"),
        "P_test": described("P_test", "test prompts per repeat and split (pool tasks; fresh tasks)"),
        "chunk": described("chunk", "repeats trained at once in one point (stacked)"),
        "lambda0": Rule(real=True, low=0, doc="λ0 of the spin-glass ground state (the SLA recipe's wd/2)"),
        "dtype": Rule(doc="training precision: float32 or float64"),
        "grad_chunk": described("chunk", "prompts per SA/TF gradient chunk (0: the whole batch at once)"),
        "protocol": Rule(
            doc="training data: fixed (the P prompts, epochs over them) or fresh (P new prompts from the pool "
            "before every epoch, Raventós et al.; recipes with minibatches only)"
        ),
    }
)
COLUMNS = {
    "model": "registered architecture, ground_state (spin glass), dmmse or ridge",
    "M": "task-pool size (0: a fresh task per prompt, M = ∞)",
    "batch": "index of the point's batch of repeats",
    "repeats": "repeats in the point",
    "D": "token dimension",
    "N": "context length",
    "noise": "label noise standard deviation σ",
    "P": "training prompts per repeat",
    "P_val": "held-out prompts per repeat (pool tasks)",
    "P_test": "test prompts per repeat and split",
    "lambda0": "λ0 of the ground state",
    "dtype": "training precision",
    "grad_chunk": "prompts per gradient chunk (0 = whole batch)",
    "id_mean": "error (ŷ − y_q)² on prompts with pool tasks, mean over repeats [label units²]",
    "id_std": "its standard deviation over repeats [label units²]",
    "ood_mean": "error (ŷ − y_q)² on prompts with fresh tasks, mean over repeats [label units²]",
    "ood_std": "its standard deviation over repeats [label units²]",
    "dist_dmmse_*_mean": "mean squared distance (ŷ − ŷ_dMMSE)² on the split, mean over repeats [label units²]",
    "dist_dmmse_*_std": "its standard deviation over repeats [label units²]",
    "dist_ridge_*_mean": "mean squared distance (ŷ − ŷ_ridge)² on the split, mean over repeats [label units²]",
    "dist_ridge_*_std": "its standard deviation over repeats [label units²]",
    "theory_ood": "ground state: Lu et al.'s asymptotic error at κ = M/D, τ = P/(D(D+1)), α = N/D [label units²]",
    "seconds_model": "seconds of the point's draws, training and predictions [s]",
    "protocol": "training data: fixed set or fresh prompts every epoch (present only where fresh)",
    "sequences": "training sequences per repeat (epochs × P, curriculum included) [1]",
    "sequences_per_task": "training sequences per repeat over the pool size M (NaN at M = ∞) [1]",
    "*_layers": "model option: layers",
    "*_batch_size": "the architecture's recipe: minibatch size (0 = full batch)",
    "*_epochs": "the architecture's recipe: epochs over the P prompts",
    "*_lr": "the architecture's recipe: Adam learning rate",
    "*_schedule": "the architecture's recipe: lr schedule",
    "*_warmup": "the architecture's recipe: warm-up epochs",
    "*_weight_decay": "the architecture's recipe: Adam weight decay",
    "*_curriculum_epochs": "the architecture's recipe: epochs of the curriculum's first stage",
    "*_curriculum_frac": "the architecture's recipe: fraction of N in the curriculum's first stage",
    "*_val_prompts": "the architecture's recipe: held-out prompts watched for the best epoch",
    "*_heads": "model option: attention heads",
    "*_d_model": "model option: embedding width",
}
# the tables the export writes beside results.csv (`task_diversity.write_tidy_csv`), shown on the gallery page
EXPORTS = {"diversity.csv": td.TIDY_COLUMNS, "diversity-thresholds.csv": td.THRESHOLD_COLUMNS}


def params(base: Mapping[str, Any], size: str, extra: tuple[str, ...] = ()) -> trained_models.Live:
    """``base`` plus every registered architecture's recipe and options at ``size`` (read live from the
    registry), and ``models``: the architectures in the figure, ``extra`` ones, ground_state, dmmse, ridge."""
    return trained_models.Live(
        lambda: {**trained_models.registry_params(base, size), "models": ",".join(td.default_models(extra))}
    )


def check(p: dict) -> None:
    """Refuse unknown models and precisions, recipes that cannot run on P, held-out sets larger than P_val."""
    from ...training import PROTOCOLS

    trained_models.check_budgets(p)
    for name in td.parse_models(p["models"]):
        if name in td.trained_names():
            trained_models.check_model(name, p)
            b = trained_models.budget(name, p)
            if b.val_prompts > p["P_val"]:
                raise InputError(
                    f"{name} keeps its best epoch on {name}_val_prompts={b.val_prompts} held-out prompts "
                    f"> P_val={p['P_val']}"
                )
    choice("dtype", p["dtype"], ("float32", "float64"))
    choice("protocol", p["protocol"], PROTOCOLS)


def _own(name: str, p: Mapping[str, Any]) -> list[str]:
    if name in td.trained_names():
        fresh = ["protocol"] if td.protocol(name, p) == "fresh" else []  # fixed: the key it had before
        return trained_models.own_keys(name, p) + ["dtype"] + fresh
    return ["lambda0"] if name == "ground_state" else []


def coarse_to_fine(n: int) -> list[int]:
    """The indices 0..n-1 in the order ends first, then midpoints of ever finer halves (0, n-1, n/2, n/4, …),
    so that a run stopped early has the whole range at a coarser resolution."""
    order, spans = [0, n - 1] if n > 1 else [0], [(0, n - 1)]
    while spans:
        a, b = spans.pop(0)
        if b - a > 1:
            m = (a + b) // 2
            order.append(m)
            spans += [(a, m), (m, b)]
    return order


def points(p: dict) -> list[dict]:
    """One point per (M, batch of repeats, model); M = 0 (a fresh task per prompt) is always added.  Ordered
    by model (the references, then the architectures from the cheapest: SLA, FLA, MHLA, SA, TF as registered)
    and, within a model, M = ∞ first, then the M grid from coarse to fine (:func:`coarse_to_fine`)."""
    R, B = positive_int("repeats", p["repeats"]), positive_int("chunk", p["chunk"])
    check(p)
    grid = [0] + sorted({positive_int("M", m) for m in p["M"]})
    models = td.parse_models(p["models"])
    models = [m for m in td.REFERENCE if m in models] + [m for m in models if m not in td.REFERENCE]
    pts = []
    for name in models:
        for M in [grid[0]] + [grid[1:][i] for i in coarse_to_fine(len(grid) - 1)]:
            for b, start in enumerate(range(0, R, B)):
                data = {**{k: p[k] for k in COMMON}, "M": M, "batch": b, "repeats": min(B, R - start)}
                pts.append({**data, **{k: p[k] for k in _own(name, p)}, "model": name})
    return pts


# CPU seconds of drawing a fresh training prompt (per (N+1)(D+1) numbers; measured on the recipe study's runs,
# REPRODUCTION.md, diversity); the training constants and the task pool's dMMSE scan are trained_cost.py's
SAMPLE_SECONDS = 2e-8
# TF's cost is set by its width, not by (D+1)²: 0.2.0's full run at D = 8 took 86.4 s for one point of 5 repeats
# at M = ∞ (P = 10 000, 16 curriculum epochs at N/4 + 6 on the whole prompts, d_model 32, 2 layers; BENCHMARKS.md),
# i.e. 9.5e-6 s per repeat · prompt · token · epoch
TF_SECONDS = 9.5e-6


def resources(point: Mapping[str, Any]) -> Estimate:
    """One point's memory and CPU seconds: :func:`~spinglass_icl.experiments.trained_cost.estimate` (its data,
    references, task pool with dMMSE's predictions on both test sets, and training; TF's training at its own
    measured cost per token, ``TF_SECONDS``, instead), plus, under the fresh protocol, drawing the fresh
    training prompts of every epoch."""
    name = str(point["model"])
    tf = name == "tf"
    est = trained_cost.estimate({k: v for k, v in point.items() if not (tf and k.endswith("_epochs"))})
    D, N, P, R = (int(point[k]) for k in ("D", "N", "P", "repeats"))
    seconds = 0.0
    if name in td.trained_names():
        epochs = int(point.get(f"{name}_epochs", 0)) + int(point.get(f"{name}_curriculum_epochs", 0))
        if tf:
            first = int(point.get("tf_curriculum_epochs", 0))
            n_first = max(1, round(float(point.get("tf_curriculum_frac", 0.25)) * N)) + 1
            tokens = first * n_first + (epochs - first) * (N + 1)
            seconds += TF_SECONDS * trained_cost.size_factor(dict(point), name)[0] * R * P * tokens
        if point.get("protocol") == "fresh":
            seconds += SAMPLE_SECONDS * R * P * epochs * (N + 1) * (D + 1)
    return replace(est, seconds=est.seconds + seconds)


def _label(name: str) -> str:
    return {"ground_state": "spin-glass ground state", "dmmse": "dMMSE", "ridge": "ridge"}.get(name) or get(name).label


def _style(name: str, i: int) -> dict[str, Any]:
    if name in td.BAYES:
        return {"color": "k", "marker": "", "ls": "-" if name == "dmmse" else "--", "lw": 1.5}
    if name == "ground_state":
        return {"color": "C7", "marker": "*", "ls": "-"}
    return {"color": f"C{i}", "marker": get(name).marker, "ls": "-"}


def _series(rows: list[dict], model: str, split: str, inf_at: float) -> tuple[np.ndarray, list[dict]]:
    """x positions (M = ∞ drawn at ``inf_at``) and the rows of one model and split, in that order."""
    sel = sorted((r for r in rows if r["model"] == model and r["split"] == split), key=lambda r: r["M"] or inf_at)
    return np.array([r["M"] or inf_at for r in sel], float), sel


def _draw_model(ax: np.ndarray, rows: list[dict], m: str, style: dict[str, Any], inf_at: float) -> None:
    """One model on the three panels: errors ± std on (a, b), distances on (c), M* on (a)."""
    a, b, c = ax
    for axis, split in ((a, "ood"), (b, "id")):
        xs, sel = _series(rows, m, split, inf_at)
        mean, std = [r["error_mean"] for r in sel], [r["error_std"] for r in sel]
        plotting.band(axis, xs, mean, std, label=_label(m), **style)
    if m in td.BAYES:
        return
    xs, sel = _series(rows, m, "ood", inf_at)
    kw = {"marker": style["marker"], "ms": 3, "color": style["color"]}
    c.plot(xs, [r["dist_dmmse"] for r in sel], "-", label=_label(m), **kw)
    c.plot(xs, [r["dist_ridge"] for r in sel], "--", mfc="none", **kw)
    m_star = td.transition(rows, m)
    if np.isfinite(m_star):
        a.plot(
            [m_star], [td.THRESHOLD * td.curves(rows, m, "ood")[2]], "v", ms=7, color=style["color"], mec="k", mew=0.5
        )


def plot(records: list[dict], params: Mapping[str, Any]) -> Figure:
    """(a) fresh-task error vs M, (b) pool-task error vs M, (c) squared distance to dMMSE (solid) and ridge
    (dashed) vs M, fresh-task prompts; M = ∞ drawn at the right end (8 × the largest M); M* marked (▼) on (a)."""
    from matplotlib.ticker import NullLocator

    rows = td.tidy_rows(records)
    models = [m for m in td.parse_models(params["models"]) if any(r["model"] == m for r in rows)]
    M_max = max(r["M"] for r in rows)
    inf_at = 8.0 * M_max
    D, N, noise = params["D"], params["N"], params["noise"]
    with plotting.style():
        fig, ax = plotting.figure(3, 1, width=3.6, height=3.4)
        for i, m in enumerate(models):
            _draw_model(ax[0], rows, m, _style(m, i), inf_at)
        a, b, c = ax[0]
        a.axhline(ridge_error(D, N, noise), color="0.4", lw=0.6, ls=":", label="ridge (exact error)")
        a.set(
            ylabel="error on fresh tasks\n(out of distribution)",
            title=f"(a) fresh tasks; ▼ M*: within {td.THRESHOLD - 1:.0%} of M = ∞",
        )
        b.set(ylabel="error on pool tasks\n(in distribution)", title="(b) pool tasks")
        c.set(ylabel="mean squared distance\nof predictions", title="(c) to dMMSE (solid), to ridge (dashed)")
        ticks = [2**k for k in range(0, int(np.log2(M_max)) + 1, 3 if M_max > 64 else 2)]
        for axis in (a, b, c):
            axis.set(xscale="log", yscale="log", xlabel="distinct tasks M in the pool")
            axis.set_xticks(ticks + [inf_at], [plotting.plain_number(t) for t in ticks] + ["∞"])
            axis.xaxis.set_minor_locator(NullLocator())  # M's ticks only; y keeps its minor ticks (labels)
            axis.axvline(D * (D + 1), color="0.7", lw=0.6, ls="--")
        panels.legend(a)  # one legend: every model has one colour and marker on all three panels
        fig.suptitle(
            f"Task diversity: D={D}, N={N}, σ={noise:g}, P={params['P']}; dashed vertical: M = D(D+1)", fontsize=8
        )
    return plotting.finish(fig)


# what `reproduce` prints after the run: meaning [unit] of each summary key (`spinglass-icl columns ID`)
SUMMARY_KEYS = {
    "M": "the pool sizes M (0: M = ∞, a fresh task per prompt; the per-model lists line up with them) [count]",
    "ridge_exact": "exact error of the ridge (Bayes-optimal, Gaussian prior) predictor [E[y²] = 1]",
    "*.M_star": (
        "M*: the pool size where the fresh-task error is within 10 % of its M = ∞ value (log-log "
        "interpolated; – for ridge) [count]"
    ),
    "*.M_star_over_D": "M*/D [1]",
    "*.M_star_over_DD1": "M*/(D(D+1)) [1]",
    "*.ood": "fresh-task (out-of-distribution) error per M [E[y²] = 1]",
    "*.id": "pool-task (in-distribution) error per M [E[y²] = 1]",
    "*.ood_at_inf": "fresh-task error at M = ∞ [E[y²] = 1]",
    "*.ood_at_inf_over_ridge": "that error over ridge's at M = ∞ (1: Bayes-optimal) [1]",
    "*.dist_dmmse_below": "mean squared distance of the fresh-task predictions to dMMSE's, over M below M* [E[y²] = 1]",
    "*.dist_ridge_above": "mean squared distance of the fresh-task predictions to ridge's, over M above M* [E[y²] = 1]",
    "*.dist_dmmse_at_M1": "that distance to dMMSE at M = 1 [E[y²] = 1]",
    "*.dist_ridge_at_inf": "that distance to ridge at M = ∞ [E[y²] = 1]",
    "*.M_star_ci": "[M*, low, high]: M* and its 95 % bootstrap interval over repeats (inf: not reached) [count]",
    "*.M_cross_ci": (
        "[value, low, high]: Raventós's threshold, the M from which the fresh-task predictions are closer to "
        "ridge's than to dMMSE's, with its 95 % bootstrap interval over repeats [count]"
    ),
    "*.width_octaves_ci": (
        "[value, low, high]: width of the transition, from the M where the excess fresh-task error over M = ∞ "
        "has fallen to 90 % of its value at the smallest M to where it has fallen to 10 %, with its interval "
        "[octaves of M]"
    ),
    "*.ood_at_inf_over_ridge_ci": (
        "[value, low, high]: fresh-task error at M = ∞ over ridge's on the same prompts, with its interval [1]"
    ),
    "*.id_over_dmmse_ci.*": (
        "[value, low, high] at the finite M of the key: pool-task error over dMMSE's on the same prompts, with "
        "its 95 % bootstrap interval over repeats [1]"
    ),
    "ground_state.theory_ood": "Lu et al.'s κ-theory of the ground state's fresh-task error per M [E[y²] = 1]",
    "ground_state.theory_ood_at_inf": "the theory at M = ∞ [E[y²] = 1]",
    "ground_state.theory_M_star": "the M* the theory predicts (same 10 % rule) [count]",
    "ground_state.theory_M_star_over_DD1": "that M*/(D(D+1)) [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="diversity",
    title="Beyond the paper: task diversity across every architecture, against the Bayes-optimal predictors",
    quick=params(QUICK, "quick"),
    full=params(FULL, "full", FULL_EXTRA),
    compute=td.compute,
    summary=td.summary,
    seed_params=td.SEED_PARAMS,
    export=td.write_tidy_csv,
    resources=resources,
    count=lambda p: (1 + len(p["M"])) * -(-p["repeats"] // p["chunk"]) * len(td.parse_models(p["models"])),
    finish=False,
)
