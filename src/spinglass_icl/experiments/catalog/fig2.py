"""Fig. 2: training vs theory.

(a) test (and train) loss per epoch of the merged linear attention trained with full-batch Adam
(lr 0.01, no weight decay, 300 epochs, D=10, N=100, P_test=200 fresh prompts) for P=10 and
P=1000 training prompts -- mean ± std over ``repeats`` independent training sets; the final W's exact
population error (``final_test_population``, ``theory.population_error``) as a star at the last epoch;
(b, c) the learned W of the first repeat for both P;
(d, e) the paper's AMP mean m and variance v as (D+1)×(D+1) images for P=5000, λ0=0.01, β=100,
θ=0.9, with their distance to the exact Boltzmann mean m* = A⁻¹h and variances diag((βA)⁻¹).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...metrics import as_matrix, contrast_ratio, relative_distance
from ...prompts import PromptSpec
from ...solvers import amp, solve_exact
from ...spinglass import SpinGlass
from .. import panels
from ..draws import attention_init, draw_repeats, generators
from ..params import Rule
from ..points import grid, pick
from ..reference import population_rows
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FULL = dict(D=10, N=100, train_P=[10, 1000], P_test=200, lr=0.01, epochs=300, weight_decay=0.0, repeats=10)
FULL.update(amp_P=5000, lambda0=0.01, beta=100.0, damping=0.9, steps=100)
QUICK = {**FULL, "repeats": 4}

TRAIN_KEYS = ("D", "N", "P_test", "lr", "epochs", "weight_decay", "repeats")
AMP_KEYS = ("D", "N", "lambda0", "beta", "damping", "steps")


def points(p: dict) -> list[dict]:
    train = grid({"P": [int(P) for P in p["train_P"]]}, {"panel": "train", **pick(p, TRAIN_KEYS)})
    return train + [{"panel": "amp", "P": int(p["amp_P"]), **pick(p, AMP_KEYS)}]


def _train(pt: dict, seed: int, device: str) -> dict:
    from ...training import GramData, adam_gram

    rng, tgen = generators(seed)
    D, R = pt["D"], pt["repeats"]
    spec = PromptSpec(D=D, N=pt["N"])
    train = SpinGlass(draw_repeats(spec, pt["P"], R, rng))
    test = SpinGlass(draw_repeats(spec, pt["P_test"], R, rng))
    W0 = attention_init("merged", R, D, tgen)
    opts = dict(lr=pt["lr"], epochs=pt["epochs"], weight_decay=pt["weight_decay"])
    train_data, test_data = GramData.from_spinglass(train, device=device), GramData.from_spinglass(test, device=device)
    tr = adam_gram(train_data, W0, test=test_data, **opts)
    assert tr.test_loss is not None  # a test set was given
    # adam_gram records losses before each step (and the test loss after the last one too).
    final_test, final_train = tr.test_loss[:, -1], tr.train_loss[:, -1]
    out = dict(train_loss=tr.train_loss, test_loss=tr.test_loss, test_epochs=tr.test_epochs, W=tr.W[0])
    out.update(final_test_loss=float(np.mean(final_test)), final_test_loss_std=float(np.std(final_test)))
    out.update(final_train_loss=float(np.mean(final_train)), contrast=float(np.mean(contrast_ratio(tr.W))))
    exact = population_rows(tr.W, spec)  # the final W's exact test error (no test-prompt noise)
    return {**out, "final_test_population": float(np.mean(exact)), "final_test_population_std": float(np.std(exact))}


def _amp(pt: dict, seed: int) -> dict:
    rng, _ = generators(seed)
    sg = SpinGlass(draw_repeats(PromptSpec(D=pt["D"], N=pt["N"]), pt["P"], 1, rng), pt["lambda0"])
    res = amp(sg, beta=pt["beta"], damping=pt["damping"], steps=pt["steps"], rng=rng)
    ex = solve_exact(sg, beta=pt["beta"])
    assert res.variance is not None and ex.variance is not None  # both define variances here
    m, v = res.W[0], as_matrix(res.variance[0])
    m_ex, v_ex = ex.W[0], as_matrix(ex.variance[0])
    out = dict(
        m=m, v=v, m_exact=m_ex, v_exact=v_ex, converged=bool(res.converged[0]), iterations=int(res.iterations[0])
    )
    out.update(rel_dist_m_exact=float(relative_distance(res.mean[0], ex.mean[0])))
    out.update(rel_dist_v_exact=float(relative_distance(res.variance[0], ex.variance[0])))
    out.update(contrast=float(contrast_ratio(res.mean[0])), contrast_exact=float(contrast_ratio(ex.mean[0])))
    return {**out, "m_diag_mean": float(np.mean(np.diag(m)[:-1]))}


def compute(point: Point, seed: int, device: str) -> Result:
    """train panel: loss curves (R, epochs), W of repeat 0; amp panel: m, v, exact m*, variances."""
    return _train(point, seed, device) if point["panel"] == "train" else _amp(point, seed)


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    trains = sorted((r for r in records if r["panel"] == "train"), key=lambda r: r["P"])
    amps = [r for r in records if r["panel"] == "amp"]
    fig, ax = plotting.figure(3, 2, width=3.3, height=2.9)
    a = ax[0, 0]
    for r in trains:
        te, tl = np.asarray(r["test_loss"]), np.asarray(r["train_loss"])
        line = plotting.band(a, r["test_epochs"], te.mean(0), te.std(0), marker="", label=f"test, P={r['P']}")
        a.plot(np.arange(tl.shape[1]), tl.mean(0), ls="--", color=line.get_color(), lw=1, label=f"train, P={r['P']}")
        exact = r.get("final_test_population", np.nan)  # NaN: stored before it existed
        a.plot(r["test_epochs"][-1], exact, "*", ms=8, color=line.get_color(), label=f"exact, P={r['P']}")
    a.set(yscale="log", xlabel="epoch", ylabel="loss (MSE)")
    a.set_title("Adam training, merged model\n★: exact population error")
    panels.legend(a, loc="center right", bbox_to_anchor=(1.0, 0.55), fontsize=6)  # inside: free of curves there
    for a, r in zip(ax[0, 1:3], trains):
        panels.weights(a, r["W"], f"learned W, P={r['P']}")
    if amps:
        r = amps[0]
        title = f"AMP mean m, P={r['P']}\n|m−m*|/|m*| = {r['rel_dist_m_exact']:.3f}"
        panels.weights(ax[1, 0], r["m"], title, label="mean m")
        title = f"AMP variance\n|v−v*|/|v*| = {r['rel_dist_v_exact']:.3f}"
        plotting.matrix(ax[1, 1], np.log10(r["v"]), title, symmetric=False, label="log10 v")
        ax[1, 1].set(xlabel="column n", ylabel="row m")
        dm = np.asarray(r["m"]) - np.asarray(r["m_exact"])
        panels.weights(ax[1, 2], dm, "m − m* (exact mean A⁻¹h)", label="m − m*")
    return fig


def summary(records: list[dict], params: dict) -> dict:
    out: dict = {}
    for r in sorted(records, key=lambda r: (r["panel"], r["P"])):
        if r["panel"] == "train":
            out[f"P{r['P']}_final_test_loss"] = round(r["final_test_loss"], 4)
            out[f"P{r['P']}_final_test_population"] = round(r["final_test_population"], 4)
            # float32 Gram-form losses carry ~1e-7 roundoff (can print as -0.0): 3 significant digits
            out[f"P{r['P']}_final_train_loss"] = float(f"{r['final_train_loss']:.3g}")
            out[f"P{r['P']}_contrast"] = round(r["contrast"], 3)
        else:
            out.update(amp_converged=r["converged"], amp_iterations=r["iterations"])
            out.update(amp_rel_dist_to_exact_mean=round(r["rel_dist_m_exact"], 4))
            out.update(amp_rel_dist_to_exact_variance=round(r["rel_dist_v_exact"], 4))
            out.update(amp_contrast=round(r["contrast"], 4), amp_diag_mean=round(r["m_diag_mean"], 4))
    return out


RULES = {
    "train_P": Rule(low=1, doc="training-set sizes P of the Adam panels"),
    "amp_P": Rule(low=1, doc="P of the AMP mean/variance images"),
}


COLUMNS = {
    "P": "training prompts of this panel's point [count]",
    "panel": "train (Adam loss curves and learned W) or amp (AMP mean and variance images) [text]",
    "final_test_loss": "test loss after the last epoch, mean over repeats (train panel) [E[y²] = 1]",
    "final_test_loss_std": "its standard deviation over repeats [E[y²] = 1]",
    "final_train_loss": "training loss at the last epoch, mean over repeats [E[y²] = 1]",
    "contrast": "contrast ratio of the learned W (train) or of the AMP mean (amp), mean over repeats [1]",
    "final_test_population": "exact population error of the final W, mean over repeats [E[y²] = 1]",
    "final_test_population_std": "its standard deviation over repeats [E[y²] = 1]",
    "converged": "whether the paper's AMP converged (amp panel) [bool]",
    "iterations": "AMP iterations run [count]",
    "rel_dist_m_exact": "|m − m*|/|m*|: AMP mean against the exact Boltzmann mean [1]",
    "rel_dist_v_exact": "|v − v*|/|v*|: AMP variances against the exact marginal variances diag((βA)⁻¹) [1]",
    "contrast_exact": "contrast ratio of the exact mean m* [1]",
    "m_diag_mean": "mean of the first D diagonal entries of the AMP mean [spin units]",
}

SUMMARY_KEYS = {
    "amp_converged": "whether the paper's AMP converged (amp panel) [bool]",
    "amp_iterations": "AMP iterations run [count]",
    "amp_rel_dist_to_exact_mean": "|m − m*|/|m*|: AMP mean against the exact Boltzmann mean [1]",
    "amp_rel_dist_to_exact_variance": "|v − v*|/|v*|: AMP variances against the exact marginal variances [1]",
    "amp_contrast": "contrast ratio of the AMP mean [1]",
    "amp_diag_mean": "mean of the first D diagonal entries of the AMP mean [spin units]",
    "P*_final_test_loss": "test loss after the last epoch at that P, mean over repeats [E[y²] = 1]",
    "P*_final_test_population": "exact population error of the final W at that P, mean over repeats [E[y²] = 1]",
    "P*_final_train_loss": (
        "training loss at the last epoch at that P, mean over repeats (3 significant digits) [E[y²] = 1]"
    ),
    "P*_contrast": "contrast ratio of the learned W at that P, mean over repeats [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="fig2",
    title="Fig. 2: Adam training for P=10 vs P=1000, learned W, and the AMP mean/variance at P=5000",
)
