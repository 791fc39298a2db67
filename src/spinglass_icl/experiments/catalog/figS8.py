"""Fig. S8: other architectures do the same -- test error vs context length N.

Per point = one N and one batch of ``batch_repeats`` repeats (independent training sets, all
trained at once with stacked parameters); the batches of an N are pooled in the plot.  Every
model of a repeat sees the same P explicit training prompts and is tested on the same P_test
fresh prompts (fresh tasks):

* ``amp``: the paper's AMP mean (λ0, β, θ, steps as published) on the spin glass of the prompts;
* ``sla``: merged simplified linear attention, full-batch Adam on the Gram form (same trajectory
  as the explicit forward pass, :mod:`spinglass_icl.training`);
* ``fla``, ``mhla``, ``sa``, ``tf``: :mod:`spinglass_icl.architectures` (definitions there),
  full-batch Adam (:func:`spinglass_icl.arch_training.fit`; ``grad_chunk`` only bounds memory).
  FLA and MHLA train and are tested on the prompts' statistics
  (:class:`~spinglass_icl.architectures.PromptStats`: C = X Xᵀ, b, computed once in float64 from the
  same prompts, then cast): the same model and gradients as the explicit forward pass, at
  O(P·D²) instead of O(P·D·N) per step.

All Adam runs use the same lr, weight decay and epochs (the paper's fig4b settings at full size;
``tf_epochs`` > 0 gives the transformer its own epoch count, used only by the quick size).
For the linear-attention models the projected spin configuration W_eff is reported too: its
contrast ratio, its own test error (the spin-model part of the prediction) and its relative
distance to the exact ground state of the same training set at λ0 = wd/2 (the minimiser of the
weight-decayed loss of the merged model, SPEC §3).  ``exact`` is that ground state's test error
(drawn as a reference line).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ... import plotting
from ...arch_training import fit, mse
from ...architectures import REDUCED_MODELS, PromptStats, make_model, projection_report
from ...metrics import contrast_ratio, relative_distance, test_error
from ...models import paper_init
from ...prompts import PromptSpec, Prompts, features_from_prompts, sample_prompts
from ...solvers.amp import amp
from ...solvers.exact import solve_exact
from ...spinglass import SpinGlass
from ...training import GramData, adam_gram
from ... import validation as V
from ..common import generators
from ..spec import Experiment

MODELS = ("amp", "sla", "fla", "mhla", "sa", "tf")
LABELS = {"amp": "AMP (paper)", "sla": "SLA (merged)", "fla": "FLA", "mhla": "MHLA", "sa": "SA (softmax)",
          "tf": "TF (pre-LN)"}
PROJECTED = ("sla", "fla", "mhla")

# mhla_dk / sa_dk = 0: d_k = D+1; grad_chunk = 0: whole batch at once; tf_epochs = 0: same as epochs.
FULL = dict(D=20, N=list(range(10, 201, 10)), P=10000, P_test=1000, repeats=10, batch_repeats=5,
            models=",".join(MODELS), lambda0=0.01, beta=100.0, damping=0.9, steps=100, lr=1e-3, epochs=5000,
            weight_decay=0.01, dtype="float32", grad_chunk=1000, mhla_heads=2, mhla_dk=0, sa_dk=0,
            tf_d_model=32, tf_layers=2, tf_heads=2, tf_epochs=0)
# Quick (about a minute on 2 cores, dominated by the transformer): D=4 (20 effective spins),
# P=600 ≫ D(D+1), N ∈ {10, 20, 30}, 2 repeats, lr 0.02 × 500 epochs instead of 1e-3 × 5000 (FLA,
# whose W_eff = W^{PV}_{D+1,D+1} W^{KQ} starts near 0, needs ~500 steps at this lr; SLA/MHLA ~150),
# but only 150 epochs and d_model 8 for the transformer (its cost is 20-50× the others'); AMP 200
# steps (at this small P/D² and N the damped paper iteration often needs more than 100 steps to
# meet its 1e-6 criterion, and fails more often below N=10).
QUICK = {**FULL, "D": 4, "N": [10, 20, 30], "P": 600, "P_test": 500, "repeats": 2, "batch_repeats": 2,
         "steps": 200, "lr": 0.02, "epochs": 500, "grad_chunk": 0, "tf_d_model": 8, "tf_epochs": 150}


def _models(value) -> list[str]:
    """The ``models`` parameter (comma-separated string or list, as the CLI parses it) as a list."""
    names = [m.strip() for m in (value.split(",") if isinstance(value, str) else value) if str(m).strip()]
    for m in names:
        V.choice("model", m, MODELS)
    return names


def points(p: dict) -> list[dict]:
    """One point per (N, batch of repeats); ``models`` normalised to a comma-separated string."""
    R, B = V.positive_int("repeats", p["repeats"]), V.positive_int("batch_repeats", p["batch_repeats"])
    keys = [k for k in FULL if k not in ("N", "repeats", "batch_repeats")]
    pts = []
    for N in p["N"]:
        for b, start in enumerate(range(0, R, B)):
            pts.append({"N": int(N), "batch": b, "repeats": min(B, R - start), **{k: p[k] for k in keys},
                        "models": ",".join(_models(p["models"]))})
    return pts


def _stack(prompts: list[Prompts]) -> Prompts:
    return Prompts(X=np.stack([q.X for q in prompts]), y=np.stack([q.y for q in prompts]),
                   w=np.stack([q.w for q in prompts]))


def _model_kwargs(name: str, pt: dict) -> dict:
    if name == "mhla":
        return {"heads": pt["mhla_heads"], "d_k": pt["mhla_dk"] or None}
    if name == "sa":
        return {"d_k": pt["sa_dk"] or None}
    if name == "tf":
        return {"d_model": pt["tf_d_model"], "layers": pt["tf_layers"], "heads": pt["tf_heads"]}
    return {}


def compute(pt: dict, seed: int, device: str) -> dict:
    """Per repeat (arrays of length R): ``<model>_test`` for every model; ``<m>_contrast``,
    ``<m>_distance``, ``<m>_proj_test`` for the linear models; ``<m>_train`` final train loss;
    scalars ``<model>_mean`` and ``<model>_seconds``."""
    models = _models(pt["models"])
    rng, tgen = generators(seed)
    D, N, P, R = pt["D"], pt["N"], pt["P"], pt["repeats"]
    spec = PromptSpec(D=D, N=N)
    train = _stack([sample_prompts(spec, P, rng) for _ in range(R)])
    test = _stack([sample_prompts(spec, pt["P_test"], rng) for _ in range(R)])
    f_train, f_test = features_from_prompts(train), features_from_prompts(test)
    wd = pt["weight_decay"]
    ground = solve_exact(SpinGlass(f_train, wd / 2)).mean
    # "trivial": the predictor ŷ = 0, whose error is the mean y² (≈ 1 at σ_x = σ_w = 1).
    out: dict = {"exact_test": test_error(ground, f_test), "trivial_test": np.mean(f_test.y ** 2, axis=-1)}
    dtype = getattr(torch, pt["dtype"])
    chunk = pt["grad_chunk"] or None
    Xtr = Xte = None
    stats = None
    for name in models:
        t0 = time.perf_counter()
        if name == "amp":
            res = amp(SpinGlass(f_train, pt["lambda0"]), beta=pt["beta"], damping=pt["damping"], steps=pt["steps"],
                      seed=rng)
            ok = res.converged
            out["amp_test"] = np.where(ok, test_error(np.where(ok[:, None], res.mean, 0.0), f_test), np.nan)
            out["amp_converged"] = float(np.mean(ok))
        elif name == "sla":
            W0 = paper_init((R, D + 1, D + 1), D, tgen, torch.float64)
            tr = adam_gram(GramData.from_spinglass(SpinGlass(f_train, 0.0), dtype=pt["dtype"], device=device), [W0],
                           lr=pt["lr"], epochs=pt["epochs"], weight_decay=wd)
            out["sla_test"] = test_error(tr.W, f_test)
            out["sla_train"] = tr.train_loss[:, -1]
            out["sla_proj_test"] = out["sla_test"]
            out["sla_contrast"] = contrast_ratio(tr.W)
            out["sla_distance"] = relative_distance(tr.W, ground)
        else:
            if name in REDUCED_MODELS:
                if stats is None:  # C = X Xᵀ and b once, in float64 from the same prompts, shared by FLA and MHLA
                    stats = tuple(PromptStats.from_prompts(p.X, dtype=dtype, device=device) for p in (train, test))
                data, data_test, step = stats[0], stats[1], None  # (R, P, D+1, D+1): no need to chunk
            else:
                if Xtr is None:  # one transfer to the device, shared by all explicit models
                    Xtr, Xte = (torch.as_tensor(p.X, dtype=dtype, device=device) for p in (train, test))
                data, data_test, step = Xtr, Xte, chunk
            ytr, yte = (torch.as_tensor(p.y, dtype=dtype, device=device) for p in (train, test))
            model = make_model(name, D, R, generator=tgen, dtype=dtype, device=device, **_model_kwargs(name, pt))
            epochs = pt["tf_epochs"] if name == "tf" and pt["tf_epochs"] else pt["epochs"]
            res = fit(model, data, ytr, lr=pt["lr"], epochs=epochs, weight_decay=wd, grad_chunk=step)
            out[f"{name}_test"] = mse(model, data_test, yte, chunk=step).cpu().double().numpy()
            out[f"{name}_train"] = res.train_loss[:, -1]
            if name in PROJECTED:
                rep = projection_report(model, f_test, ground)
                out.update({f"{name}_{k}": v for k, v in rep.items()})
        out[f"{name}_seconds"] = time.perf_counter() - t0
    with np.errstate(invalid="ignore"):
        for name in models + ["exact", "trivial"]:
            v = out[f"{name}_test"]
            out[f"{name}_mean"] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    return out


def _pooled(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted N, nan-mean and nan-std of the per-repeat arrays ``key`` pooled over batches."""
    groups: dict[int, list] = {}
    for r in records:
        if key in r:
            groups.setdefault(int(r["N"]), []).append(np.ravel(np.asarray(r[key], float)))
    Ns = np.array(sorted(groups), float)
    vals = [np.concatenate(groups[int(n)]) for n in Ns]
    with np.errstate(invalid="ignore"):
        m = np.array([np.nanmean(v) if np.isfinite(v).any() else np.nan for v in vals])
        s = np.array([np.nanstd(v) if np.isfinite(v).any() else np.nan for v in vals])
    return Ns, m, s


def plot(records: list[dict], params: dict):
    models = _models(params["models"])
    markers = dict(zip(MODELS, "os^vDP"))
    with plotting.style():
        fig, ax = plotting.figure(1, 1, width=6.2, height=3.4)
        a = ax[0, 0]
        for name in models:
            Ns, m, s = _pooled(records, f"{name}_test")
            if Ns.size:
                plotting.band(a, Ns, m, s, marker=markers[name], label=LABELS[name])
        Ns, m, _ = _pooled(records, "exact_test")
        a.plot(Ns, m, "k:", lw=1.2, label=f"ground state (λ0=wd/2={params['weight_decay'] / 2:g})")
        Ns, m, _ = _pooled(records, "trivial_test")
        a.plot(Ns, m, color="0.6", lw=0.8, ls="--", label="ŷ = 0")
        a.set(xlabel="context length N", ylabel="test error (fresh tasks)", yscale="log",
              title=f"S8: other architectures, P={params['P']}, D={params['D']}\n"
                    f"Adam lr={params['lr']:g}, wd={params['weight_decay']:g}, {params['epochs']} epochs"
                    + (f" (TF {params['tf_epochs']})" if params["tf_epochs"] else "") + ", full batch")
        a.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig


def summary(records: list[dict], params: dict) -> dict:
    """Per model: mean test error over all N and repeats, and at the largest N; for the linear
    models the mean contrast ratio and distance to the ground state at the largest N."""
    models = _models(params["models"]) + ["exact", "trivial"]
    out: dict = {}
    n_max = max(int(r["N"]) for r in records)
    for name in models:
        Ns, m, s = _pooled(records, f"{name}_test")
        out[f"mean_test_{name}"] = round(float(np.nanmean(m)) if np.isfinite(m).any() else float("nan"), 4)
        out[f"test_at_N{n_max}_{name}"] = round(float(m[-1]), 4)
    for name in PROJECTED:
        for k in ("contrast", "distance"):
            Ns, m, _ = _pooled(records, f"{name}_{k}")
            if Ns.size:
                out[f"{k}_at_N{n_max}_{name}"] = round(float(m[-1]), 4)
    out["all_linear_beat_trivial"] = bool(all(out[f"mean_test_{n}"] < out["mean_test_trivial"] for n in PROJECTED
                                              if f"mean_test_{n}" in out))
    return out


EXPERIMENT = Experiment(
    id="figS8",
    title="Fig. S8: test error vs N for AMP, SLA, FLA, MHLA, softmax attention and a small transformer",
    quick=QUICK, full=FULL, points=points, compute=compute, plot=plot, summary=summary,
    notes="Same training prompts per repeat for every model; Adam (same lr/wd/epochs for all, full batch). "
          "FLA/MHLA train on the prompts' statistics C = X Xᵀ, b (same gradients, O(P·D²) per step). "
          "FLA/MHLA project exactly onto the spin model when their value reads only the label row "
          "(architectures.FLA docstring); here value='full' and W_eff is the spin-model part. "
          "TF: pre-LN, d_model/layers/heads as in params, query-position linear readout.",
    uses_device=True,
)
