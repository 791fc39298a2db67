"""Fig. S4: robustness to correlated tokens -- test error vs token correlation c.

Every coordinate's N+1 token values are equicorrelated with correlation c (training and test
prompts alike; test tasks are fresh).  For each c (one point, ``repeats`` training sets batched
inside it): the paper's AMP mean (λ0 = 0.01, 200 steps), the exact ground states at λ0 = 0.01 and
at λ0 = wd/2, and the merged model trained with Adam (lr 1e-3, wd 0.01, 5000 epochs), paired on the
same training set.

Finding: the paper's AMP (no Onsager term) converges only for weak correlation (c ≲ 0.2-0.3 at
N = 200, P = 10⁴); beyond, its variances turn negative and it diverges, with either start.  The
exact ground state at λ0 = wd/2 tracks Adam at every c.

``convention="correct"`` (default) samples covariance L Lᵀ = the intended equicorrelation with the
direct O(N+D) sampler; ``convention="paper"`` reproduces the authors' X·L (covariance LᵀL, which is
not equicorrelated) through explicit prompts -- slow at full size, fine at quick size.

No exact population error beside the test errors here (unlike fig4b): ``theory.population_error`` assumes
iid tokens, and these tokens are correlated, so the test errors stay Monte-Carlo (``P_test`` fresh prompts).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...prompts import PromptSpec
from .. import panels
from ..params import Rule
from ..points import grid, pick
from ..spec import Experiment, Point, Record, Result
from ..theory_vs_training import PAPER, plot_theory_vs_training, theory_vs_training_point, theory_vs_training_summary

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FULL = {
    **PAPER,
    "steps": 200,  # AMP needs more iterations at strong token correlation
    "N": 200,
    "c": [round(float(c), 4) for c in np.linspace(0.05, 0.95, 19)],
    "repeats": 20,
    "convention": "correct",
    "chunk": 10,
}
QUICK = {**FULL, "c": [0.05, 0.2, 0.5, 0.95], "P_test": 500, "repeats": 4, "chunk": 4}
RENAMED = {"convention": "cholesky"}


def points(p: dict) -> list[dict]:
    PromptSpec(D=p["D"], N=p["N"], cholesky=p["convention"])  # checks it before any point runs
    return grid({"c": [float(c) for c in p["c"]]}, pick(p, (k for k in FULL if k != "c")))


def compute(point: Point, seed: int, device: str) -> Result:
    """Per repeat (arrays, R) and mean/std: test errors of AMP, Adam, exact at λ0 and at wd/2."""
    spec = PromptSpec(D=point["D"], N=point["N"], correlation=point["c"], cholesky=point["convention"])
    return theory_vs_training_point(spec, point, seed, device)


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    fig, ax = plotting.figure(1, 1, width=5.6, height=3.2)
    a = ax[0, 0]
    plot_theory_vs_training(a, records, "c", params)
    a.set(
        xlabel="token correlation c",
        ylabel="test loss (fresh tasks, same c)",
        title=f"correlated tokens (N={params['N']}, P={params['P']}, "
        f"{'LLᵀ' if params['convention'] == 'correct' else 'paper LᵀL'})",
    )
    panels.legend(a)
    return fig


def summary(records: list[dict], params: dict) -> dict:
    recs = sorted(records, key=lambda r: r["c"])
    out = theory_vs_training_summary(records, "c")
    gaps = [abs(r["adam_mean"] - r["amp_mean"]) / r["adam_mean"] for r in recs if np.isfinite(r["amp_mean"])]
    out["max_rel_gap_adam_amp_where_converged"] = round(float(max(gaps)), 4) if gaps else float("nan")
    out["largest_c_with_amp_converged"] = max((r["c"] for r in recs if r["amp_converged"] > 0), default=None)
    out["max_rel_gap_adam_exact_wd2"] = round(
        float(max(abs(r["adam_mean"] - r["exact_wd2_mean"]) / r["adam_mean"] for r in recs)), 5
    )
    return out


RULES = {
    "c": Rule(real=True, low=0, high=1, high_open=True, doc="token correlation c"),
    "convention": Rule(
        doc="correlated-token sampler: correct (covariance L Lᵀ) or paper (the authors' X·L, covariance LᵀL)"
    ),
}


COLUMNS = {
    "amp_converged": "fraction of repeats in which the paper's AMP converged [1]",
    "{amp,adam,exact,exact_wd2}_mean": (
        "test error of the method (amp, adam, exact at λ0, exact_wd2 at λ0 = wd/2) on fresh tasks, mean over "
        "repeats [E[y²] = 1]"
    ),
    "{amp,adam,exact,exact_wd2}_std": "its standard deviation over repeats [E[y²] = 1]",
    "adam_minus_{amp,exact,exact_wd2}_mean": (
        "paired difference: Adam's test error minus that of the method on the same training set, mean over "
        "repeats [E[y²] = 1]"
    ),
}

SUMMARY_KEYS = {
    "c": "the correlation grid (the lists line up with it) [1]",
    "{amp,adam,exact,exact_wd2}_mean": (
        "test error of that method per c (amp: paper AMP at λ0; adam: trained; exact: ground state at λ0; "
        "exact_wd2: at λ0 = wd/2), mean over repeats [E[y²] = 1]"
    ),
    "{amp,adam}_std": "its standard deviation over repeats, per c [E[y²] = 1]",
    "amp_converged": "fraction of repeats in which the paper's AMP converged, per c [1]",
    "max_rel_gap_adam_amp_where_converged": (
        "largest |Adam − AMP|/Adam over the c where AMP converged (– where none did) [1]"
    ),
    "largest_c_with_amp_converged": "largest c at which AMP converged in some repeat (– none) [1]",
    "max_rel_gap_adam_exact_wd2": "largest |Adam − exact at λ0 = wd/2|/Adam over c [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS4",
    title="Fig. S4: test loss vs token correlation c -- paper AMP vs Adam (paired), N=200",
)
