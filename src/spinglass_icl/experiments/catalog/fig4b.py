"""Fig. 4(b): the theory matches training -- test error vs context length N.

For each N (one point, its ``repeats`` independent training sets batched inside): the paper's AMP
mean at λ0 = 0.01, the exact ground state at λ0 = 0.01 and at λ0 = wd/2, and the merged linear
attention trained with full-batch Adam (lr 1e-3, weight decay wd = 0.01, 5000 epochs, Gram form),
all evaluated on the same P_test fresh prompts of each repeat.

Choices (docs/theory.md#differences-from-the-published-code): by default the comparison is
*paired* -- AMP, exact and Adam see the same training set, so their differences are not sampling
noise; ``pairing="unpaired"`` reproduces the paper's code, where AMP is fitted on a training set of
its own.  Adam's weight decay wd targets the ground state at λ0 = wd/2 (docs/theory.md#the-spin-glass),
while the paper compares with λ0 = wd; both are reported.
Beside each Monte-Carlo test error ``<series>_mean`` the exact population error of the same weights
(``<series>_population_mean``, ``theory.population_error``: no test-prompt noise) -- markers and lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ... import validation as V
from ...prompts import PromptSpec
from ...theory import icl_error_theory
from .. import panels
from ..params import Rule
from ..points import grid, pick
from ..records import nan_mean_std
from ..spec import Experiment, Point, Record, Result
from ..theory_vs_training import PAPER, plot_theory_vs_training, theory_vs_training_point, theory_vs_training_summary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FULL = dict(
    **PAPER,
    N=list(range(10, 201, 10)),
    repeats=50,
    pairing="paired",
    chunk=10,
)
QUICK = {**FULL, "N": [10, 50, 200], "P_test": 500, "repeats": 5, "chunk": 5}


def points(p: dict) -> list[dict]:
    V.choice("pairing", p["pairing"], ("paired", "unpaired"))  # refused before any point runs
    return grid({"N": [int(N) for N in p["N"]]}, pick(p, (k for k in FULL if k != "N")))


def compute(point: Point, seed: int, device: str) -> Result:
    """Per repeat (arrays, R): test errors of AMP, Adam, exact at λ0 and at wd/2; plus their means/stds, and the
    asymptotic min-norm error (Lu et al., τ = P/(D(D+1)), α = N/D) as ``theory_asymptotic``."""
    out = theory_vs_training_point(
        PromptSpec(D=point["D"], N=point["N"]), point, seed, device, point["pairing"], population=True
    )
    return {**out, "theory_asymptotic": float(icl_error_theory(point["D"], point["N"], point["P"]))}


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    wd = params["weight_decay"]
    fig, ax = plotting.figure(2, 1, width=3.6, height=3.0)
    a, b = ax[0]
    plot_theory_vs_training(a, records, "N", params)
    Ng = np.linspace(min(params["N"]), max(params["N"]), 200)
    a.plot(
        Ng,
        icl_error_theory(params["D"], Ng, params["P"]),
        "-",
        color="0.6",
        lw=1.5,
        zorder=0,
        label="asymptotic theory (Lu et al.)",
    )
    a.set(
        xlabel="context length N",
        ylabel=f"test loss: markers {params['P_test']} test\nprompts, lines exact population error",
        yscale="log",
        title=f"theory vs training ({params['pairing']})\nP={params['P']}, D={params['D']}",
    )
    recs = sorted(records, key=lambda r: r["N"])
    N = np.array([r["N"] for r in recs], float)
    for key, lab, mk in (
        ("amp", "Adam − AMP", "o"),
        ("exact", f"Adam − exact(λ0={params['lambda0']:g})", "s"),
        ("exact_wd2", f"Adam − exact(λ0={wd / 2:g})", "^"),
    ):
        stats = [nan_mean_std(np.asarray(r["adam_per_repeat"]) - np.asarray(r[f"{key}_per_repeat"])) for r in recs]
        rel = [m / r["adam_mean"] for (m, _), r in zip(stats, recs)]
        err = [sd / r["adam_mean"] for (_, sd), r in zip(stats, recs)]
        plotting.band(b, N, rel, err, marker=mk, label=lab)
    b.axhline(0, color="k", lw=0.6)
    b.set(
        xlabel="context length N",
        ylabel="paired difference / Adam test loss",
        title="per-training-set differences (mean ± std)",
    )
    for axis in (a, b):
        panels.legend(axis)
    return fig


def summary(records: list[dict], params: dict) -> dict:
    recs = sorted(records, key=lambda r: r["N"])
    out = theory_vs_training_summary(records, "N")

    def mean_rel(key: str) -> float:
        return nan_mean_std([abs(r["adam_mean"] - r[f"{key}_mean"]) / r["adam_mean"] for r in recs])[0]

    out["mean_rel_gap_adam_amp"] = round(mean_rel("amp"), 4)
    out["mean_rel_gap_adam_exact"] = round(mean_rel("exact"), 4)
    out["mean_rel_gap_adam_exact_wd2"] = round(mean_rel("exact_wd2"), 5)
    out["paired_rel_diff_adam_minus_amp"] = [round(r["adam_minus_amp_mean"] / r["adam_mean"], 4) for r in recs]
    out["amp_within_adam_std"] = bool(all(abs(r["adam_mean"] - r["amp_mean"]) < r["adam_std"] for r in recs))
    out["better_match_for_adam"] = (
        "exact at λ0=wd/2"
        if out["mean_rel_gap_adam_exact_wd2"] < out["mean_rel_gap_adam_exact"]
        else f"exact at λ0={params['lambda0']:g}"
    )
    return out


RULES = {
    "pairing": Rule(
        doc="paired: AMP, exact and Adam share each training set; unpaired: the paper's code, AMP on a set of its own"
    ),
}


COLUMNS = {
    "amp_converged": "fraction of repeats in which the paper's AMP converged [1]",
    "{amp,adam,exact,exact_wd2}_mean": (
        "test error of the method (amp: paper AMP at λ0; adam: trained merged model; exact: ground state at"
        " λ0; exact_wd2: ground state at λ0 = wd/2) on fresh tasks, mean over repeats [E[y²] = 1]"
    ),
    "{amp,adam,exact,exact_wd2}_std": "its standard deviation over repeats [E[y²] = 1]",
    "adam_minus_{amp,exact,exact_wd2}_mean": (
        "paired difference: Adam's test error minus that of the method on the same training set, mean over "
        "repeats [E[y²] = 1]"
    ),
    "{amp,adam,exact,exact_wd2}_population_mean": (
        "exact population error of that method's weights, mean over repeats [E[y²] = 1]"
    ),
    "{amp,adam,exact,exact_wd2}_population_std": "its standard deviation over repeats [E[y²] = 1]",
    "theory_asymptotic": "Lu et al.'s asymptotic ICL error at this D, N, P (τ = P/(D(D+1))) [E[y²] = 1]",
}

SUMMARY_KEYS = {
    "N": "the N grid (the lists line up with it) [tokens]",
    "{amp,adam,exact,exact_wd2}_mean": (
        "test error of that method per N (amp: paper AMP at λ0; adam: trained; exact: ground state at λ0; "
        "exact_wd2: at λ0 = wd/2), mean over repeats [E[y²] = 1]"
    ),
    "{amp,adam}_std": "its standard deviation over repeats, per N [E[y²] = 1]",
    "amp_converged": "fraction of repeats in which the paper's AMP converged, per N [1]",
    "mean_rel_gap_adam_{amp,exact,exact_wd2}": "|Adam − that method|/Adam, mean over N [1]",
    "paired_rel_diff_adam_minus_amp": "paired (same training set) Adam − AMP difference over Adam, per N [1]",
    "amp_within_adam_std": "AMP within one Adam standard deviation at every N [bool]",
    "better_match_for_adam": "which ground state (λ0 or wd/2) is closer to Adam [text]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="fig4b",
    title="Fig. 4b: test loss vs N -- paper AMP (λ0=0.01) vs merged model trained with Adam (paired)",
)
