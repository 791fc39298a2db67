"""Fig. S1: double descent in the number of training tasks P at P ≈ D(D+1).

(a) test loss of linear attention trained without weight decay (full-batch Adam, lr 0.01, 3000
epochs, paper init) vs the paper's α = P/D² (parameter ``P_over_D2``), for the merged model (W) and
the separate one (W_q, W_k, d_k = D+1, W = W_qᵀW_k); mean ± std over ``repeats`` training sets; beside the
Monte-Carlo ``test_loss`` the exact population error of the same W, ``test_loss_population`` (lines).
The interpolation peak sits at the number of effective spins, P = D(D+1) (P/D² = 1 + 1/D).
(b) train/test loss per epoch for P = 120 (lr 0.008) and P = 680 (lr 0.02), 200 epochs, both
models; (c) the learned merged W and separate W_qᵀW_k of the first repeat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting, theory
from ... import validation as V
from ...metrics import query_error
from ...prompts import PromptSpec
from ...spinglass import SpinGlass
from .. import panels
from ..draws import attention_init, draw_repeats, generators
from ..params import Rule
from ..points import grid, pick
from ..records import repeat_stats, select
from ..reference import population_rows
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

P_OVER_D2 = [round(0.1 * k, 2) for k in range(1, 9)] + [round(0.8 + 0.05 * k, 2) for k in range(1, 9)]
P_OVER_D2 += [round(1.2 + 0.1 * k, 2) for k in range(1, 9)]  # 0.1..0.8, 0.85..1.2, 1.3..2.0

FULL = dict(D=20, N=100, P_over_D2=P_OVER_D2, models=["merged", "separate"], P_test=1000, lr=0.01, epochs=3000)
FULL.update(repeats=50, chunk=10, curve_P=[120, 680], curve_lr=[0.008, 0.02], curve_epochs=200, curve_repeats=5)
# Quick: D = 16 (D(D+1) = 272, peak at P/D² = 1.0625) on the same grid, curve P at the P/D² of 120 and 680.
# (At D ≲ 12 the peak is lower than the small-P plateau set by the random init, so it is not the maximum.)
QUICK = {**FULL, "D": 16, "repeats": 6, "chunk": 6, "curve_P": [77, 435], "curve_repeats": 3}
RENAMED = {"P_over_D2": "alpha"}  # published as ``alpha``: same draws under the new name

COMMON = ("D", "N", "P_test")


def points(p: dict) -> list[dict]:
    D, common = p["D"], pick(p, COMMON)
    _ = [V.choice("models", m, ("merged", "separate")) for m in p["models"]]  # refused before any point runs
    fixed = dict(panel="sweep", lr=p["lr"], epochs=p["epochs"], repeats=p["repeats"], chunk=p["chunk"], **common)
    axes = {"model": p["models"], "P_over_D2": [float(a) for a in p["P_over_D2"]]}
    sweep = grid(axes, fixed, derive=lambda pt: {"P": max(1, int(round(pt["P_over_D2"] * D * D)))})
    fixed = dict(panel="curve", epochs=p["curve_epochs"], repeats=p["curve_repeats"], chunk=p["curve_repeats"])
    pairs = list(zip(p["curve_P"], p["curve_lr"]))
    return sweep + [dict(fixed, model=m, P=int(P), lr=float(lr), **common) for m in p["models"] for P, lr in pairs]


def compute(point: Point, seed: int, device: str) -> Result:
    """sweep: per-repeat final test/train losses; curve: loss per epoch (R, epochs) and W of repeat 0."""
    from ...training import GramData, adam_gram

    rng, tgen = generators(seed)
    D, R, chunk = point["D"], point["repeats"], point["chunk"]
    spec = PromptSpec(D=D, N=point["N"])
    curve = point["panel"] == "curve"
    test_err, exact, train_loss, test_curves, train_curves, W_first = [], [], [], [], [], None
    for s in range(0, R, chunk):
        r = min(chunk, R - s)
        train = SpinGlass(draw_repeats(spec, point["P"], r, rng))
        test_f = draw_repeats(spec, point["P_test"], r, rng)
        test = GramData.from_spinglass(SpinGlass(test_f), device=device) if curve else None
        opts = dict(model=point["model"], lr=point["lr"], epochs=point["epochs"], test=test)
        tr = adam_gram(
            GramData.from_spinglass(train, device=device), attention_init(point["model"], r, D, tgen), **opts
        )
        test_err.append(query_error(tr.W, test_f))
        exact.append(population_rows(tr.W, spec))  # the exact counterpart of the line above
        train_loss.append(tr.train_loss[:, -1])
        if curve:
            test_curves.append(np.asarray(tr.test_loss))
            train_curves.append(tr.train_loss)
            W_first = tr.W[0] if W_first is None else W_first
    out = repeat_stats({"test_loss": np.concatenate(test_err), "train_loss": np.concatenate(train_loss)})
    out.update(repeat_stats({"test_loss_population": np.concatenate(exact)}))
    if curve:
        out.update(test_curve=np.concatenate(test_curves), train_curve=np.concatenate(train_curves))
        out.update(test_epochs=tr.test_epochs, W=W_first)
    return {
        **out,
        "theory_asymptotic": float(theory.icl_error_theory(D, point["N"], point["P"])),
    }  # Lu et al., min-norm


def peak_P(records: list[dict], model: str = "merged") -> int:
    """P of the largest mean test loss in the sweep of ``model``."""
    return int(max(select(records, panel="sweep", model=model), key=lambda r: r["test_loss_mean"])["P"])


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    D, curves = params["D"], sorted(select(records, panel="curve"), key=lambda r: (r["P"], r["model"]))
    fig, ax = plotting.figure(4, 2, width=3.6, height=2.7)
    a, b = ax[0, 0], ax[0, 1]
    for m, mk in zip(params["models"], "os"):
        recs = select(records, "P_over_D2", panel="sweep", model=m)
        if recs:
            panels.bands(a, recs, "P_over_D2", [("test_loss", m)], markers=mk)
        # train loss of the sweep: zero (interpolation) below D(D+1), where the test loss peaks
        recs = select(records, "P", panel="sweep", model=m)
        b.plot([r["P"] for r in recs], [r["train_loss_mean"] for r in recs], "o-", ms=3, label=f"{m} train")
    g = np.linspace(0.05, params["P_over_D2"][-1], 300)  # the asymptotic min-norm error, τ = P/(D(D+1))
    a.plot(g, theory.icl_error_theory(D, params["N"], g * D**2), "k-")
    panels.threshold(a, (D + 1) / D)
    panels.threshold(b, D * (D + 1))
    ylabel = f"test loss ({params['P_test']} test prompts;\nlines: exact population error)"
    a.set(yscale="log", xlabel="P/D²", ylabel=ylabel, title=f"double descent (D={D}, no wd)\nblack: Lu et al.")
    b.set(yscale="log", xlabel="P", ylabel="final train loss", title="train loss: interpolation below D(D+1)")
    for c, P in zip(ax[0, 2:], sorted({r["P"] for r in curves})):
        for r in (r for r in curves if r["P"] == P):
            te, tl = np.asarray(r["test_curve"]), np.asarray(r["train_curve"])
            line = plotting.band(c, r["test_epochs"], te.mean(0), te.std(0), marker="", label=f"{r['model']} test")
            c.plot(np.arange(tl.shape[1]), tl.mean(0), "--", color=line.get_color(), lw=1, label=f"{r['model']} train")
        lr = next(r["lr"] for r in curves if r["P"] == P)
        c.set(yscale="log", xlabel="epoch", ylabel="loss", title=f"training curves, P={P} (lr {lr:g})")
    for axis in ax[0]:
        panels.legend(axis)
    slots = iter(ax[1])
    for r, c in zip(curves, slots):
        panels.weights(c, r["W"], f"{r['model']} {'W' if r['model'] == 'merged' else 'W_qᵀW_k'}, P={r['P']}")
    for c in slots:
        c.set_visible(False)
    return fig


def summary(records: list[dict], params: dict) -> dict:
    D = params["D"]
    out: dict = {"D(D+1)": D * (D + 1)}
    for m in params["models"]:
        recs = select(records, "P_over_D2", panel="sweep", model=m)
        if not recs:
            continue
        pk = peak_P(records, m)
        out.update({f"{m}_peak_P": pk, f"{m}_peak_rel_offset": round(pk / (D * (D + 1)) - 1, 4)})
        out[f"{m}_peak_test_loss"] = round(max(r["test_loss_mean"] for r in recs), 4)
        out[f"{m}_test_loss_P_over_D2_min"] = round(recs[0]["test_loss_mean"], 4)
        out[f"{m}_test_loss_P_over_D2_max"] = round(recs[-1]["test_loss_mean"], 4)
    for r in (r for r in records if r["panel"] == "curve"):
        out[f"curve_{r['model']}_P{r['P']}_final_test"] = round(r["test_loss_mean"], 4)
    return out


RULES = {
    "P_over_D2": Rule(real=True, low=0, low_open=True, doc="load P/D² (figS1's axis; the peak is at D(D+1)/D²)"),
    "curve_P": Rule(low=1, doc="P of the train/test-curve panels"),
    "curve_lr": Rule(real=True, low=0, low_open=True, doc="Adam learning rate of each curve_P"),
    "curve_epochs": Rule(low=1, doc="epochs of the curve panels"),
    "curve_repeats": Rule(low=1, doc="repeats of the curve panels"),
}


COLUMNS = {
    "P": "training prompts P = round(P_over_D2·D²) [count]",
    "model": "merged (W) or separate (W_q, W_k) simplified linear attention [text]",
    "panel": "a (test loss against P) or b (loss curves for the two P of panel b) [text]",
    "test_loss_mean": "test loss on fresh tasks after training, mean over repeats [E[y²] = 1]",
    "test_loss_std": "its standard deviation over repeats [E[y²] = 1]",
    "train_loss_mean": "final training loss, mean over repeats [E[y²] = 1]",
    "train_loss_std": "its standard deviation over repeats [E[y²] = 1]",
    "test_loss_population_mean": "exact population error of the trained W, mean over repeats [E[y²] = 1]",
    "test_loss_population_std": "its standard deviation over repeats [E[y²] = 1]",
    "theory_asymptotic": (
        "Lu et al.'s asymptotic ICL error of the minimum-norm ground state at this D, N, P [E[y²] = 1]"
    ),
}

SUMMARY_KEYS = {
    "D(D+1)": "the interpolation threshold P = D(D+1) [count]",
    "{merged,separate}_peak_P": "P of the largest mean test loss of that model's sweep [count]",
    "{merged,separate}_peak_rel_offset": "peak P / D(D+1) − 1 [1]",
    "{merged,separate}_peak_test_loss": "the largest mean test loss of the sweep [E[y²] = 1]",
    "{merged,separate}_test_loss_P_over_D2_min": "mean test loss at the sweep's smallest P/D² [E[y²] = 1]",
    "{merged,separate}_test_loss_P_over_D2_max": "mean test loss at the sweep's largest P/D² [E[y²] = 1]",
    "curve_{merged,separate}_P*_final_test": (
        "final test loss of the panel-b curve at that P, mean over repeats [E[y²] = 1]"
    ),
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS1",
    title="Fig. S1: double descent of the test loss in P at P = D(D+1) (merged and separate attention, no wd)",
)
