"""Fig. 2: training vs theory.

(a) test (and train) loss per epoch of the merged linear attention trained with full-batch Adam
(lr 0.01, no weight decay, 300 epochs, D=10, N=100, P_test=200 fresh prompts) for P=10 and
P=1000 training prompts -- mean ± std over ``repeats`` independent training sets;
(b, c) the learned W of the first repeat for both P;
(d, e) the paper's AMP mean m and variance v as (D+1)×(D+1) images for P=5000, λ0=0.01, β=100,
θ=0.9, with their distance to the exact Boltzmann mean m* = A⁻¹h and variances diag((βA)⁻¹).
"""

from __future__ import annotations

import numpy as np
import torch

from ... import plotting
from ...metrics import contrast_ratio, relative_distance
from ...models import paper_init
from ...prompts import PromptSpec
from ...solvers.amp import amp
from ...solvers.exact import solve_exact
from ...spinglass import SpinGlass
from ...training import GramData, adam_gram
from ..common import draw_repeats, generators
from ..spec import Experiment

FULL = dict(D=10, N=100, train_P=[10, 1000], P_test=200, lr=0.01, epochs=300, weight_decay=0.0, repeats=10,
            amp_P=5000, lambda0=0.01, beta=100.0, damping=0.9, steps=100)
QUICK = {**FULL, "repeats": 4}

TRAIN_KEYS = ("D", "N", "P_test", "lr", "epochs", "weight_decay", "repeats")
AMP_KEYS = ("D", "N", "lambda0", "beta", "damping", "steps")


def points(p: dict) -> list[dict]:
    pts = [{"panel": "train", "P": int(P), **{k: p[k] for k in TRAIN_KEYS}} for P in p["train_P"]]
    return pts + [{"panel": "amp", "P": int(p["amp_P"]), **{k: p[k] for k in AMP_KEYS}}]


def _train(pt: dict, seed: int, device: str) -> dict:
    rng, tgen = generators(seed)
    D, R = pt["D"], pt["repeats"]
    spec = PromptSpec(D=D, N=pt["N"])
    train = SpinGlass(draw_repeats(spec, pt["P"], R, rng))
    test = SpinGlass(draw_repeats(spec, pt["P_test"], R, rng))
    W0 = paper_init((R, D + 1, D + 1), D, tgen, dtype=torch.float64)
    tr = adam_gram(GramData.from_spinglass(train, device=device), [W0], lr=pt["lr"], epochs=pt["epochs"],
                   weight_decay=pt["weight_decay"], test=GramData.from_spinglass(test, device=device))
    # adam_gram records losses before each step (and the test loss after the last one too).
    return {"train_loss": tr.train_loss, "test_loss": tr.test_loss, "test_epochs": tr.test_epochs,
            "W": tr.W[0], "final_test_loss": float(np.mean(tr.test_loss[:, -1])),
            "final_test_loss_std": float(np.std(tr.test_loss[:, -1])),
            "final_train_loss": float(np.mean(tr.train_loss[:, -1])),
            "contrast": float(np.mean(contrast_ratio(tr.W)))}


def _amp(pt: dict, seed: int) -> dict:
    rng, _ = generators(seed)
    sg = SpinGlass(draw_repeats(PromptSpec(D=pt["D"], N=pt["N"]), pt["P"], 1, rng), pt["lambda0"])
    res = amp(sg, beta=pt["beta"], damping=pt["damping"], steps=pt["steps"], seed=rng)
    ex = solve_exact(sg, beta=pt["beta"])
    D1 = pt["D"] + 1
    return {"m": res.mean[0].reshape(D1, D1), "v": res.variance[0].reshape(D1, D1),
            "m_exact": ex.mean[0].reshape(D1, D1), "v_exact": ex.variance[0].reshape(D1, D1),
            "converged": bool(res.converged[0]), "iterations": int(res.iterations[0]),
            "rel_dist_m_exact": float(relative_distance(res.mean[0], ex.mean[0])),
            "rel_dist_v_exact": float(relative_distance(res.variance[0], ex.variance[0])),
            "contrast": float(contrast_ratio(res.mean[0])),
            "contrast_exact": float(contrast_ratio(ex.mean[0])),
            "m_diag_mean": float(np.mean(np.diag(res.mean[0].reshape(D1, D1))[:-1]))}


def compute(pt: dict, seed: int, device: str) -> dict:
    """train panel: loss curves (R, epochs), W of repeat 0; amp panel: m, v, exact m*, variances."""
    return _train(pt, seed, device) if pt["panel"] == "train" else _amp(pt, seed)


def plot(records: list[dict], params: dict):
    trains = sorted((r for r in records if r["panel"] == "train"), key=lambda r: r["P"])
    amps = [r for r in records if r["panel"] == "amp"]
    with plotting.style():
        fig, ax = plotting.figure(3, 2, width=3.3, height=2.9)
        a = ax[0, 0]
        for r in trains:
            te, tl = np.asarray(r["test_loss"]), np.asarray(r["train_loss"])
            line = plotting.band(a, r["test_epochs"], te.mean(0), te.std(0), marker="", label=f"test, P={r['P']}")
            a.plot(np.arange(tl.shape[1]), tl.mean(0), ls="--", color=line.get_color(), lw=1,
                   label=f"train, P={r['P']}")
        a.set(yscale="log", xlabel="epoch", ylabel="loss (MSE)", title="(a) Adam training, merged model")
        a.legend(fontsize=7)
        for a, r, tag in zip(ax[0, 1:3], trains, "bc"):
            plotting.matrix(a, r["W"], f"({tag}) learned W, P={r['P']}")
        if amps:
            r = amps[0]
            plotting.matrix(ax[1, 0], r["m"], f"(d) AMP mean m, P={r['P']}\n|m−m*|/|m*| = {r['rel_dist_m_exact']:.3f}")
            plotting.matrix(ax[1, 1], np.log10(r["v"]), f"(e) AMP variance, log10 v\n|v−v*|/|v*| = "
                            f"{r['rel_dist_v_exact']:.3f}", symmetric=False)
            plotting.matrix(ax[1, 2], np.asarray(r["m"]) - np.asarray(r["m_exact"]),
                            "m − m* (exact Boltzmann mean A⁻¹h)")
        for a in list(ax[0, 1:]) + list(ax[1]):
            a.set(xlabel="column n", ylabel="row m")
    return fig


def summary(records: list[dict], params: dict) -> dict:
    out: dict = {}
    for r in sorted(records, key=lambda r: (r["panel"], r["P"])):
        if r["panel"] == "train":
            out[f"P{r['P']}_final_test_loss"] = round(r["final_test_loss"], 4)
            # float32 Gram-form losses carry ~1e-7 roundoff (can print as -0.0): 3 significant digits
            out[f"P{r['P']}_final_train_loss"] = float(f"{r['final_train_loss']:.3g}")
            out[f"P{r['P']}_contrast"] = round(r["contrast"], 3)
        else:
            out.update({"amp_converged": r["converged"], "amp_iterations": r["iterations"],
                        "amp_rel_dist_to_exact_mean": round(r["rel_dist_m_exact"], 4),
                        "amp_rel_dist_to_exact_variance": round(r["rel_dist_v_exact"], 4),
                        "amp_contrast": round(r["contrast"], 4), "amp_diag_mean": round(r["m_diag_mean"], 4)})
    return out


EXPERIMENT = Experiment(
    id="fig2",
    title="Fig. 2: Adam training for P=10 vs P=1000, learned W, and the AMP mean/variance at P=5000",
    quick=QUICK, full=FULL, points=points, compute=compute, plot=plot, summary=summary, uses_device=True,
)
