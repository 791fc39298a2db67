"""The main job: in-context learning emerges as task diversity P grows past D(D+1).

For each P (one point; ``repeats`` independent training sets batched inside it) the spin glass of
the training set is built and solved, and the merged linear-attention model is trained:

* exact ground state at λ0 (test error on fresh tasks, contrast ratio with the identity);
* the paper's AMP (β, θ, steps as published) -- or "did not converge";
* the merged model trained with full-batch Adam (Gram form, no weight decay);
* the fraction of flat directions of the landscape, measured (|eig(SᵀS/P)| < 1e-5) and in closed
  form 1 − min(P, D(D+1))/(D+1)².

Defaults D=10, N=50 (so D(D+1) = 110 effective spins and a CPU minute covers P from 10 to 1760).
"""

from __future__ import annotations

import numpy as np

from ... import plotting
from ...metrics import contrast_ratio, test_error
from ...models import paper_init
from ...prompts import PromptSpec
from ...solvers.amp import amp
from ...solvers.exact import solve_exact
from ...spinglass import SpinGlass, zero_mode_fraction_theory
from ...training import GramData, adam_gram
from ..common import draw_repeats, generators
from ..spec import Experiment

QUICK = dict(D=10, N=50, P=[10, 25, 50, 80, 110, 150, 220, 440, 880, 1760, 3520], P_test=1000, repeats=16,
             lambda0=0.01, beta=100.0, damping=0.9, steps=100, lr=0.01, epochs=2000)


def points(p):
    keys = ("D", "N", "P_test", "repeats", "lambda0", "beta", "damping", "steps", "lr", "epochs")
    return [{"P": int(P), **{k: p[k] for k in keys}} for P in p["P"]]


def compute(pt, seed, device):
    rng, tgen = generators(seed)
    D, N, P, R = pt["D"], pt["N"], pt["P"], pt["repeats"]
    spec = PromptSpec(D=D, N=N)
    train = draw_repeats(spec, P, R, rng)
    test = draw_repeats(spec, pt["P_test"], R, rng)
    sg = SpinGlass(train, pt["lambda0"])
    ex = solve_exact(sg)
    am = amp(sg, beta=pt["beta"], damping=pt["damping"], steps=pt["steps"], seed=rng)
    W0 = paper_init((R, D + 1, D + 1), D, tgen)
    tr = adam_gram(GramData.from_spinglass(sg, device=device), [W0], lr=pt["lr"], epochs=pt["epochs"])
    amp_err = np.where(am.converged, test_error(np.where(am.converged[:, None], am.mean, 0.0), test), np.nan)
    zero = SpinGlass(train, 0.0).zero_mode_fraction()
    return {
        "exact_test_error": float(np.mean(test_error(ex.mean, test))),
        "exact_contrast": float(np.mean(contrast_ratio(ex.mean))),
        "amp_test_error": float(np.nanmean(amp_err)) if am.converged.any() else float("nan"),
        "amp_converged": float(np.mean(am.converged)),
        "adam_test_error": float(np.mean(test_error(tr.W, test))),
        "adam_train_loss": float(np.mean(tr.train_loss[:, -1])),
        "adam_contrast": float(np.mean(contrast_ratio(tr.W))),
        "zero_mode_fraction": float(np.mean(zero)),
        "zero_mode_theory": zero_mode_fraction_theory(P, D),
        "exact_test_error_per_repeat": test_error(ex.mean, test),
    }


def plot(records, params):
    recs = sorted(records, key=lambda r: r["P"])
    P = np.array([r["P"] for r in recs], float)
    D = params["D"]
    fig, ax = plotting.figure(2, 1, width=3.6, height=2.9)
    a = ax[0, 0]
    a.plot(P, [r["exact_test_error"] for r in recs], "o-", ms=3, label=f"ground state (λ0={params['lambda0']})")
    a.plot(P, [r["amp_test_error"] for r in recs], "s--", ms=3, label="paper AMP (converged runs)")
    a.plot(P, [r["adam_test_error"] for r in recs], "^-", ms=3, label="Adam, merged attention")
    a.axvline(D * (D + 1), color="k", lw=0.8, ls=":")
    a.annotate(" P = D(D+1)", (D * (D + 1), 1.0), xycoords=("data", "axes fraction"), fontsize=7, va="top")
    a.set(xscale="log", xlabel="task diversity P", ylabel="test error (fresh tasks)",
          title=f"ICL emerges with task diversity (D={D}, N={params['N']})")
    a.legend(loc="upper right")
    b = ax[0, 1]
    b.plot(P, [r["exact_contrast"] for r in recs], "o-", ms=3, label="contrast ratio, ground state")
    b.plot(P, [r["adam_contrast"] for r in recs], "^-", ms=3, label="contrast ratio, Adam")
    b.plot(P, [r["zero_mode_fraction"] for r in recs], "d-", ms=3, label="flat-direction fraction")
    b.plot(P, [r["zero_mode_theory"] for r in recs], "k:", label="1 − min(P, D(D+1))/(D+1)²")
    b.plot(P, [r["amp_converged"] for r in recs], "s--", ms=3, label="paper AMP: fraction converged")
    b.axvline(D * (D + 1), color="k", lw=0.8, ls=":")
    b.set(xscale="log", xlabel="task diversity P", ylim=(0, 1.05), title="ground state → c·I, flat directions vanish")
    b.legend(loc="center right")
    return fig


def summary(records, params):
    recs = sorted(records, key=lambda r: r["P"])
    return {"P": [r["P"] for r in recs],
            "exact_test_error": [round(r["exact_test_error"], 4) for r in recs],
            "adam_test_error": [round(r["adam_test_error"], 4) for r in recs],
            "exact_contrast": [round(r["exact_contrast"], 3) for r in recs]}


EXPERIMENT = Experiment(
    id="demo",
    title="Main job: ICL emerges as task diversity P passes D(D+1) (exact, paper AMP, Adam)",
    quick=QUICK,
    full={**QUICK, "D": 20, "N": 100, "P": [25, 50, 100, 200, 300, 420, 600, 1000, 2000, 5000], "repeats": 20,
          "epochs": 3000},
    points=points, compute=compute, plot=plot, summary=summary, uses_device=True,
)
