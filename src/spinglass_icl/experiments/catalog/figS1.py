"""Fig. S1: double descent in the number of training tasks P at P ≈ D(D+1).

(a) test loss of linear attention trained without weight decay (full-batch Adam, lr 0.01, 3000
epochs, paper init) vs α = P/D², for the merged model (W) and the separate one (W_q, W_k with
d_k = D+1, merged W = W_qᵀW_k); mean ± std over ``repeats`` training sets, P_test fresh prompts.
The interpolation peak sits at the number of effective spins, P = D(D+1) (α = 1 + 1/D).
(b) train/test loss per epoch for P = 120 (lr 0.008) and P = 680 (lr 0.02), 200 epochs, both
models; (c) the learned merged W and separate W_qᵀW_k of the first repeat.
"""

from __future__ import annotations

import numpy as np
import torch

from ... import plotting
from ...metrics import test_error
from ...models import paper_init
from ...prompts import PromptSpec
from ...spinglass import SpinGlass
from ...training import GramData, adam_gram
from ..common import draw_repeats, generators
from ..spec import Experiment

ALPHA = ([round(0.1 * k, 2) for k in range(1, 9)] + [round(0.8 + 0.05 * k, 2) for k in range(1, 9)]
         + [round(1.2 + 0.1 * k, 2) for k in range(1, 9)])  # 0.1..0.8, 0.85..1.2, 1.3..2.0

FULL = dict(D=20, N=100, alpha=ALPHA, models=["merged", "separate"], P_test=1000, lr=0.01, epochs=3000,
            repeats=50, chunk=10, curve_P=[120, 680], curve_lr=[0.008, 0.02], curve_epochs=200, curve_repeats=5)
# Quick: D = 16 (D(D+1) = 272, peak at α = 1.0625) on the same α grid, curve P at the α of 120 and 680.
# (At D ≲ 12 the peak is lower than the small-α plateau set by the random init, so it is not the maximum.)
QUICK = {**FULL, "D": 16, "repeats": 6, "chunk": 6, "curve_P": [77, 435], "curve_repeats": 3}

COMMON = ("D", "N", "P_test")


def points(p: dict) -> list[dict]:
    D = p["D"]
    pts = [{"panel": "sweep", "model": m, "alpha": float(a), "P": max(1, int(round(a * D * D))), "lr": p["lr"],
            "epochs": p["epochs"], "repeats": p["repeats"], "chunk": p["chunk"], **{k: p[k] for k in COMMON}}
           for m in p["models"] for a in p["alpha"]]
    pts += [{"panel": "curve", "model": m, "P": int(P), "lr": float(lr), "epochs": p["curve_epochs"],
             "repeats": p["curve_repeats"], "chunk": p["curve_repeats"], **{k: p[k] for k in COMMON}}
            for m in p["models"] for P, lr in zip(p["curve_P"], p["curve_lr"])]
    return pts


def _init(model: str, R: int, D: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Paper init N(0, 1/(D+1)): W (R, D+1, D+1), or W_q, W_k (R, D+1, D+1) for the separate model."""
    n = 1 if model == "merged" else 2
    return [paper_init((R, D + 1, D + 1), D, gen, torch.float64) for _ in range(n)]


def compute(pt: dict, seed: int, device: str) -> dict:
    """sweep: per-repeat final test/train losses; curve: loss per epoch (R, epochs) and W of repeat 0."""
    rng, tgen = generators(seed)
    D, R, chunk = pt["D"], pt["repeats"], pt["chunk"]
    spec = PromptSpec(D=D, N=pt["N"])
    curve = pt["panel"] == "curve"
    test_err, train_loss, test_curves, train_curves, W_first = [], [], [], [], None
    for s in range(0, R, chunk):
        r = min(chunk, R - s)
        train = SpinGlass(draw_repeats(spec, pt["P"], r, rng))
        test_f = draw_repeats(spec, pt["P_test"], r, rng)
        tr = adam_gram(GramData.from_spinglass(train, device=device), _init(pt["model"], r, D, tgen),
                       model=pt["model"], lr=pt["lr"], epochs=pt["epochs"],
                       test=GramData.from_spinglass(SpinGlass(test_f), device=device) if curve else None)
        test_err.append(test_error(tr.W, test_f))
        train_loss.append(tr.train_loss[:, -1])
        if curve:
            test_curves.append(tr.test_loss)
            train_curves.append(tr.train_loss)
            W_first = tr.W[0] if W_first is None else W_first
    te, tl = np.concatenate(test_err), np.concatenate(train_loss)
    out = {"test_loss_per_repeat": te, "train_loss_per_repeat": tl, "test_loss_mean": float(np.mean(te)),
           "test_loss_std": float(np.std(te)), "train_loss_mean": float(np.mean(tl))}
    if curve:
        out.update(test_curve=np.concatenate(test_curves), train_curve=np.concatenate(train_curves),
                   test_epochs=tr.test_epochs, W=W_first)
    return out


def peak_P(records: list[dict], model: str = "merged") -> int:
    """P of the largest mean test loss in the sweep of ``model``."""
    recs = [r for r in records if r["panel"] == "sweep" and r["model"] == model]
    return int(max(recs, key=lambda r: r["test_loss_mean"])["P"])


def plot(records: list[dict], params: dict):
    D = params["D"]
    curves = sorted((r for r in records if r["panel"] == "curve"), key=lambda r: (r["P"], r["model"]))
    with plotting.style():
        fig, ax = plotting.figure(4, 2, width=3.0, height=2.7)
        a = ax[0, 0]
        for m, mk in zip(params["models"], "os"):
            recs = sorted((r for r in records if r["panel"] == "sweep" and r["model"] == m), key=lambda r: r["alpha"])
            if recs:
                plotting.band(a, [r["alpha"] for r in recs], [r["test_loss_mean"] for r in recs],
                              [r["test_loss_std"] for r in recs], marker=mk, label=m)
        a.axvline((D + 1) / D, color="k", lw=0.8, ls=":", label="P = D(D+1)")
        a.set(yscale="log", xlabel="α = P/D²", ylabel="test loss", title=f"(a) double descent (D={D}, no wd)")
        a.legend()
        Ps = sorted({r["P"] for r in curves})
        for a, P in zip(ax[0, 2:], Ps):
            for r in (c for c in curves if c["P"] == P):
                te, tl = np.asarray(r["test_curve"]), np.asarray(r["train_curve"])
                line = plotting.band(a, r["test_epochs"], te.mean(0), te.std(0), marker="", label=f"{r['model']} test")
                a.plot(np.arange(tl.shape[1]), tl.mean(0), "--", color=line.get_color(), lw=1,
                       label=f"{r['model']} train")
            lr = next(c["lr"] for c in curves if c["P"] == P)
            a.set(yscale="log", xlabel="epoch", ylabel="loss", title=f"(b) P={P} (lr {lr:g})")
            a.legend(fontsize=6)
        # train loss of the sweep: zero (interpolation) below D(D+1), where the test loss peaks
        b = ax[0, 1]
        for m in params["models"]:
            recs = sorted((r for r in records if r["panel"] == "sweep" and r["model"] == m), key=lambda r: r["P"])
            b.plot([r["P"] for r in recs], [r["train_loss_mean"] for r in recs], "o-", ms=3, label=f"{m} train")
        b.axvline(D * (D + 1), color="k", lw=0.8, ls=":")
        b.set(yscale="log", xlabel="P", ylabel="final train loss", title="(a') train loss: interpolation below D(D+1)")
        b.legend(fontsize=7)
        slots = iter(ax[1])
        for r in curves:
            a = next(slots, None)
            if a is None:
                break
            name = "W" if r["model"] == "merged" else "W_qᵀW_k"
            plotting.matrix(a, r["W"], f"(c) {r['model']} {name}, P={r['P']}")
            a.set(xlabel="column n", ylabel="row m")
        for a in slots:
            a.set_visible(False)
    return fig


def summary(records: list[dict], params: dict) -> dict:
    D = params["D"]
    out: dict = {"D(D+1)": D * (D + 1)}
    for m in params["models"]:
        recs = sorted((r for r in records if r["panel"] == "sweep" and r["model"] == m), key=lambda r: r["alpha"])
        if not recs:
            continue
        pk = peak_P(records, m)
        out[f"{m}_peak_P"] = pk
        out[f"{m}_peak_rel_offset"] = round(pk / (D * (D + 1)) - 1, 4)
        out[f"{m}_peak_test_loss"] = round(max(r["test_loss_mean"] for r in recs), 4)
        out[f"{m}_test_loss_alpha_min"] = round(recs[0]["test_loss_mean"], 4)
        out[f"{m}_test_loss_alpha_max"] = round(recs[-1]["test_loss_mean"], 4)
    for r in (r for r in records if r["panel"] == "curve"):
        out[f"curve_{r['model']}_P{r['P']}_final_test"] = round(r["test_loss_mean"], 4)
    return out


EXPERIMENT = Experiment(
    id="figS1",
    title="Fig. S1: double descent of the test loss in P at P = D(D+1) (merged and separate attention, no wd)",
    quick=QUICK, full=FULL, points=points, compute=compute, plot=plot, summary=summary, uses_device=True,
)
