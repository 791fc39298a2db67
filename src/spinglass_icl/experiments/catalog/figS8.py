"""Fig. S8: other architectures do the same -- test error vs context length N.

One point = one model, one N and one batch of ``chunk`` repeats (independent training
sets, trained at once with stacked parameters).  A point's seed depends on its data parameters
only (``SEED_PARAMS``), so every model of a repeat sees the same P prompts and is tested on the
same P_test fresh prompts (fresh tasks), and each model is its own stored, resumable point.

Models: the paper's AMP mean on the spin glass of the prompts, and every architecture of the
registry (:mod:`spinglass_icl.models.registry`; its ``<name>_*`` parameters -- budget and model
options -- come from there, :mod:`~spinglass_icl.experiments.trained_models`), each trained by
:func:`spinglass_icl.training.train` on the point's fixed training set (with the held-out prompts a budget
asks for, drawn after the test sets so that those stay the same).
Models with a spin-model projection also report W_eff's contrast, its own test error and its
distance to the exact ground state at λ0 = weight_decay/2 of the same training set; ``exact`` (that
ground state's test error) and ``trivial`` (ŷ = 0) are reference lines stored with every point.  A repeat
is *stuck* when its test error is ≥ 0.8 × the trivial error of the same test set (drawn as dots, counted in
the legend); ``repeats.csv`` has one row per (model, N, repeat).
"""

from __future__ import annotations

import time

import numpy as np

from ...metrics import query_error
from ...models import get
from ...solvers import amp, solve_exact
from ...spinglass import SpinGlass
from ...validation import choice, positive_int
from .. import trained_cost, trained_models
from ..draws import generators
from ..params import Rule, described
from ..records import nan_mean_std
from ..spec import Experiment, Point, Result

SEED_PARAMS = ("D", "N", "P", "P_test", "batch", "repeats")  # a point's prompts depend on these only
COMMON = SEED_PARAMS + ("weight_decay", "dtype")
# weight_decay: the reference ground state's λ0 = weight_decay/2 (the linear models' budgets use the same);
# grad_chunk bounds the memory of explicit-prompt models (same gradient); 0 = whole batch at once.
_DATA = dict(D=20, N=list(range(10, 201, 10)), P=10000, P_test=1000, repeats=10, chunk=5)
FULL = {
    **_DATA,
    "lambda0": 0.01,
    "beta": 100.0,
    "damping": 0.9,
    "steps": 100,
    "weight_decay": 0.01,
    "dtype": "float32",
    "grad_chunk": 1000,
}
# Quick (about a minute on one core): D=4 (20 effective spins), P=600 ≫ D(D+1), N ∈ {10, 20, 30}, 2 repeats;
# AMP 200 steps (at this small P/D² the damped paper iteration often needs more than 100).
QUICK = {**FULL, **dict(D=4, N=[10, 20, 30], P=600, P_test=500, repeats=2, chunk=2, steps=200, grad_chunk=0)}
RULES = trained_models.parameter_rules(
    {
        "chunk": described("chunk", "repeats trained at once in one point (stacked)"),
        "dtype": Rule(doc="training precision: float32 or float64"),
        "grad_chunk": described("chunk", "prompts per SA/TF gradient chunk (0: the whole batch at once)"),
    }
)


def check(p: dict) -> None:
    """Refuse unknown models, precisions and budgets that cannot run, before any point runs."""
    choice("dtype", p["dtype"], ("float32", "float64"))
    trained_models.check_budgets(p)
    for name in trained_models.parse_models(p["models"]):
        if name != "amp":
            trained_models.check_model(name, p)


def points(p: dict) -> list[dict]:
    """One point per (N, batch of repeats, model), carrying the data parameters and its model's own."""
    R, B = positive_int("repeats", p["repeats"]), positive_int("chunk", p["chunk"])
    check(p)
    pts = []
    for N in p["N"]:
        for b, start in enumerate(range(0, R, B)):
            data = {"N": int(N), "batch": b, "repeats": min(B, R - start)}
            for name in trained_models.parse_models(p["models"]):
                own = {k: p[k] for k in list(COMMON) + trained_models.own_keys(name, p) if k not in data}
                pts.append({**data, **own, "model": name})
    return pts


def compute(point: Point, seed: int, device: str) -> Result:
    """Per repeat (arrays of length R): ``<model>_test``, ``exact_test``, ``trivial_test``; projected
    models ``<m>_contrast``, ``<m>_distance``, ``<m>_proj_test``; trained models ``<m>_train``;
    AMP ``amp_converged``; scalars ``<model>_mean``, ``exact_mean``, ``<model>_seconds``."""
    import torch

    from ...training import FixedSet, train

    name = point["model"]
    trained_models.parse_models([name])
    arch = None if name == "amp" else get(name)
    rng, tgen = generators(seed)
    dtype = getattr(torch, point["dtype"])
    t0 = time.perf_counter()
    (f_train, X, y), (f_test, X_test, y_test), *held_out = trained_models.draw_data(point, rng, arch, dtype, device)
    ground = solve_exact(SpinGlass(f_train, point["weight_decay"] / 2)).mean
    out: dict = {"exact_test": query_error(ground, f_test), "trivial_test": np.mean(f_test.y**2, axis=-1)}
    if arch is None:
        res = amp(
            SpinGlass(f_train, point["lambda0"]),
            beta=point["beta"],
            damping=point["damping"],
            steps=point["steps"],
            rng=rng,
        )
        out["amp_test"] = query_error(res.masked_mean(), f_test)  # NaN where AMP did not converge
        out["amp_converged"] = float(np.mean(res.converged))
    else:
        trained = train(
            arch,
            FixedSet(X, y, f_train, held_out=(held_out[0][1], held_out[0][2]) if held_out else None),
            trained_models.budget(name, point),
            generator=tgen,
            device=device,
            dtype=point["dtype"],
            options=trained_models.options(name, point),
            prompt_block=point.get("grad_chunk") or None,
        )
        out[f"{name}_test"] = trained.error(
            X_test, y_test, features=f_test, prompt_block=point.get("grad_chunk") or None
        )
        out[f"{name}_train"] = trained.train_loss
        out.update({f"{name}_{k}": v for k, v in trained.spin_report(f_test, ground).items()})
    out[f"{name}_seconds"] = time.perf_counter() - t0
    for key in (name, "exact"):
        v = out[f"{key}_test"]
        out[f"{key}_mean"] = nan_mean_std(v)[0]
    return out


COLUMNS = {
    "batch": "index of the batch of repeats this point trains [integer]",
    "model": "the architecture trained at this point (amp: the paper's AMP on the spin glass) [text]",
    "amp_converged": "fraction of repeats in which the paper's AMP converged [1]",
    "*_seconds": "wall time of training the model * (or running AMP) at this point [s]",
    "*_mean": (
        "test error of the model * (exact: the ground state at λ0 = wd/2) on fresh tasks, mean over repeats [E[y²] = 1]"
    ),
}

SUMMARY_KEYS = {
    "mean_test_*": "that model's test error on fresh tasks, mean over all N and repeats [E[y²] = 1]",
    "test_at_N*_*": "that model's test error at the largest N (in the key), mean over repeats [E[y²] = 1]",
    "stuck_N40plus_*": "repeats whose training got stuck at an N ≥ 40 (– when the run has no N ≥ 40) [count]",
    "mean_test_trivial": "error of the trivial predictor ŷ = 0 (E[y²] with the label noise) [E[y²] = 1]",
    "all_linear_beat_trivial": "every linear model's mean error is below the trivial one [bool]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS8",
    title="Fig. S8: test error vs N for AMP and every registered architecture (SLA, FLA, MHLA, SA, TF)",
    quick=trained_models.registry_params(QUICK, "quick"),
    full=trained_models.registry_params(FULL, "full"),
    plot=trained_models.plot,
    summary=trained_models.summary,
    export=trained_models.write_repeats_csv,
    resources=trained_cost.estimate,
    count=lambda p: len(p["N"]) * -(-p["repeats"] // p["chunk"]) * len(trained_models.parse_models(p["models"])),
    finish=False,
)
