"""The main job: in-context learning emerges as task diversity P grows past D(D+1).

For each P (one point; ``repeats`` independent training sets batched inside it) the spin glass of
the training set is built and solved, and the merged linear-attention model is trained:

* exact ground state at λ0 (test error on fresh tasks, contrast ratio with the identity);
  every test error (``<method>_test_error``, ``P_test`` Monte-Carlo prompts) has its exact population
  error beside it (``<method>_test_error_population``, ``theory.population_error``; lines in the figure);
* the paper's AMP (β, θ, steps as published) -- or "did not converge";
* the merged model trained with full-batch Adam (Gram form, no weight decay);
* the fraction of flat directions of the landscape in the convention of docs/theory.md#the-spin-glass (all (D+1)² spins,
  |eig(SᵀS/P)| < 1e-5, ``SpinGlass.flat_fraction(effective=False, tol=1e-5)``) and in closed form
  1 − min(P, D(D+1))/(D+1)².

Defaults D=10, N=50 (so D(D+1) = 110 effective spins and a CPU minute covers P from 10 to 1760).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...metrics import contrast_ratio, query_error
from ...prompts import PromptSpec
from ...solvers import amp, solve_exact
from ...spinglass import SpinGlass, flat_fraction_theory
from .. import panels
from ..draws import attention_init, draw_repeats, generators
from ..points import grid, pick
from ..records import column, nan_mean_std
from ..reference import population_errors
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

QUICK = dict(
    D=10,
    N=50,
    P=[10, 25, 50, 80, 110, 150, 220, 440, 880, 1760, 3520],
    P_test=1000,
    repeats=16,
    lambda0=0.01,
    beta=100.0,
    damping=0.9,
    steps=100,
    lr=0.01,
    epochs=2000,
)
FULL = {
    **QUICK,
    "D": 20,
    "N": 100,
    "P": [25, 50, 100, 200, 300, 420, 600, 1000, 2000, 5000],
    "repeats": 20,
    "epochs": 3000,
}


def points(p: dict) -> list[dict]:
    keys = ("D", "N", "P_test", "repeats", "lambda0", "beta", "damping", "steps", "lr", "epochs")
    return grid({"P": [int(P) for P in p["P"]]}, pick(p, keys))


def compute(point: Point, seed: int, device: str) -> Result:
    """Means over the repeats of the test errors and contrasts of each method, AMP's converged
    fraction, the flat fraction and its theory; the exact test error per repeat (array)."""
    import torch

    from ...training import GramData, adam_gram

    rng, tgen = generators(seed)
    D, N, P, R = point["D"], point["N"], point["P"], point["repeats"]
    spec = PromptSpec(D=D, N=N)
    train = draw_repeats(spec, P, R, rng)
    test = draw_repeats(spec, point["P_test"], R, rng)
    sg = SpinGlass(train, point["lambda0"])
    ex = solve_exact(sg)
    am = amp(sg, beta=point["beta"], damping=point["damping"], steps=point["steps"], rng=rng)
    W0 = attention_init("merged", R, D, tgen, torch.float32)  # float32: the demo's published draw
    tr = adam_gram(GramData.from_spinglass(sg, device=device), W0, lr=point["lr"], epochs=point["epochs"])
    amp_err = query_error(am.masked_mean(), test)  # NaN where AMP did not converge
    pop = population_errors({"exact": ex.mean, "amp": am.masked_mean(), "adam": tr.W}, spec)
    zero = sg.flat_fraction(effective=False, tol=1e-5)  # all (D+1)² spins, as in the paper (λ0 plays no part)
    return {
        "exact_test_error": float(np.mean(query_error(ex.mean, test))),
        "exact_contrast": float(np.mean(contrast_ratio(ex.mean))),
        "amp_test_error": nan_mean_std(amp_err)[0],  # NaN where AMP never converged
        "amp_converged": float(np.mean(am.converged)),
        "adam_test_error": float(np.mean(query_error(tr.W, test))),
        "adam_train_loss": float(np.mean(tr.train_loss[:, -1])),
        "adam_contrast": float(np.mean(contrast_ratio(tr.W))),
        "zero_mode_fraction": float(np.mean(zero)),
        "zero_mode_theory": flat_fraction_theory(P, D, effective=False),
        "exact_test_error_population": float(np.mean(pop["exact_population"])),
        "amp_test_error_population": nan_mean_std(pop["amp_population"])[0],
        "adam_test_error_population": float(np.mean(pop["adam_population"])),
        "exact_test_error_per_repeat": query_error(ex.mean, test),
    }


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    recs = sorted(records, key=lambda r: r["P"])
    P, D = column(recs, "P"), params["D"]
    fig, ax = plotting.figure(2, 1, width=4.6, height=2.9)
    a, b = ax[0]
    methods = (("exact", "o", f"ground state (λ0={params['lambda0']})"), ("amp", "s", "paper AMP (converged runs)"))
    for key, mk, lab in methods + (("adam", "^", "Adam, merged attention"),):
        exact = column(recs, f"{key}_test_error_population", default=np.nan)  # NaN: stored before it existed
        panels.markers_and_line(a, P, column(recs, f"{key}_test_error"), exact, marker=mk, label=lab)
    a.set(xscale="log", xlabel="task diversity P", ylabel="test error (fresh tasks)")
    test = f"{params['P_test']} test prompts (markers), exact (lines)"
    a.set_title(f"ICL emerges with task diversity (D={D}, N={params['N']})\n{test}")
    b.plot(P, column(recs, "exact_contrast"), "o-", ms=3, label="contrast ratio, ground state")
    b.plot(P, column(recs, "adam_contrast"), "^-", ms=3, label="contrast ratio, Adam")
    b.plot(P, column(recs, "zero_mode_fraction"), "d-", ms=3, label="flat-direction fraction")
    b.plot(P, column(recs, "zero_mode_theory"), "k:", label="1 − min(P, D(D+1))/(D+1)²")
    b.plot(P, column(recs, "amp_converged"), "s--", ms=3, label="paper AMP: fraction converged")
    b.set(xscale="log", xlabel="task diversity P", ylabel="ratio or fraction", ylim=(0, 1.05))
    b.set_title("ground state → c·I, flat directions vanish")
    for axis in (a, b):
        panels.threshold(axis, D * (D + 1))
        panels.legend(axis)
    return fig


def summary(records: list[dict], params: dict) -> dict:
    recs = sorted(records, key=lambda r: r["P"])
    return {
        "P": [r["P"] for r in recs],
        "exact_test_error": [round(r["exact_test_error"], 4) for r in recs],
        "adam_test_error": [round(r["adam_test_error"], 4) for r in recs],
        "exact_contrast": [round(r["exact_contrast"], 3) for r in recs],
    }


COLUMNS = {
    "exact_test_error": (
        "test error of the exact ground state on P_test fresh-task prompts, mean over repeats [E[y²] = 1]"
    ),
    "exact_contrast": "contrast ratio (cosine with the identity) of the ground state, mean over repeats [1]",
    "amp_test_error": (
        "test error of the paper's AMP mean, mean over the repeats where it converged (NaN: none did) [E[y²] = 1]"
    ),
    "amp_converged": "fraction of repeats in which the paper's AMP converged [1]",
    "adam_test_error": "test error of the merged model trained with full-batch Adam, mean over repeats [E[y²] = 1]",
    "adam_train_loss": "final training loss of the Adam-trained model, mean over repeats [E[y²] = 1]",
    "adam_contrast": "contrast ratio of the Adam-trained W, mean over repeats [1]",
    "zero_mode_fraction": "fraction of eigenvalues of SᵀS/P below 1e-5 among all (D+1)² spins, mean over repeats [1]",
    "zero_mode_theory": "its closed form 1 − min(P, D(D+1))/(D+1)² [1]",
    "*_test_error_population": (
        "exact population error (fresh tasks, no test-prompt noise) of the same weights, mean over repeats [E[y²] = 1]"
    ),
}

SUMMARY_KEYS = {
    "P": "the P grid, one entry per point (the columns below line up with it) [count]",
    "exact_test_error": "test error of the exact ground state on fresh tasks per P, mean over repeats [E[y²] = 1]",
    "adam_test_error": "test error of the Adam-trained merged model per P, mean over repeats [E[y²] = 1]",
    "exact_contrast": "contrast ratio (cosine with the identity) of the ground state per P, mean over repeats [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="demo",
    title="Main job: ICL emerges as task diversity P passes D(D+1) (exact, paper AMP, Adam)",
)
