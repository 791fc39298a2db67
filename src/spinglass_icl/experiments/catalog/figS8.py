"""Fig. S8: other architectures do the same -- test error vs context length N.

One point = one model, one N and one batch of ``batch_repeats`` repeats (independent training
sets, trained at once with stacked parameters); the batches of an N are pooled in the plot.  A
point's seed depends on its data parameters only (``SEED_PARAMS``), so every model of a repeat
sees the same P explicit training prompts and is tested on the same P_test fresh prompts (fresh
tasks), while each model is its own stored, resumable point (a run with ``models=amp,sla`` is
reused by a later run with all six):

* ``amp``: the paper's AMP mean (λ0, β, θ, steps as published) on the spin glass of the prompts;
* ``sla``: merged simplified linear attention, full-batch Adam on the Gram form (same trajectory
  as the explicit forward pass, :mod:`spinglass_icl.training`);
* ``fla``, ``mhla``, ``sa``, ``tf``: :mod:`spinglass_icl.architectures` (definitions there),
  Adam via :func:`spinglass_icl.arch_training.fit` (``grad_chunk`` only bounds memory).
  FLA and MHLA train and are tested on the prompts' statistics
  (:class:`~spinglass_icl.architectures.PromptStats`: C = X Xᵀ, b, computed in float64 from the
  same prompts, then cast): the same model and gradients as the explicit forward pass, at
  O(P·D²) instead of O(P·D·N) per step.

Training budgets: SLA, FLA and MHLA use the paper's fig4b settings (``lr``, ``weight_decay``,
``epochs``, full batch).  SA and TF have their own ``sa_*`` / ``tf_*`` lr, epochs, minibatch size
and lr schedule (0 = the shared value, full batch): their step costs O(P·D·N) (TF ~2000× FLA's),
so 5000 full-batch epochs at P=10000 would take ~10 h (SA) and ~2 months (TF) on a CPU and
~2 h for TF on one GPU; minibatch Adam with a cosine decay reaches its plateau in far fewer
passes over the data.  Weight decay is the same for all.
For the linear-attention models the projected spin configuration W_eff is reported too: its
contrast ratio, its own test error (the spin-model part of the prediction) and its relative
distance to the exact ground state of the same training set at λ0 = wd/2 (the minimiser of the
weight-decayed loss of the merged model, SPEC §3).  ``exact`` is that ground state's test error
(drawn as a reference line; every point stores it, the plot takes it once per data set).
"""

from __future__ import annotations

import time

import numpy as np
import torch

from ... import plotting
from ...arch_training import SCHEDULES, fit, mse
from ...architectures import REDUCED_MODELS, PromptStats, make_model, projection_report
from ...metrics import contrast_ratio, relative_distance, test_error
from ...models import paper_init
from ...prompts import PromptSpec, features_from_prompts, sample_prompts
from ...solvers.amp import amp
from ...solvers.exact import solve_exact
from ...spinglass import SpinGlass
from ...training import GramData, adam_gram
from ... import validation as V
from ..common import generators, stack_features
from ..spec import Experiment

MODELS = ("amp", "sla", "fla", "mhla", "sa", "tf")
LABELS = {"amp": "AMP (paper)", "sla": "SLA (merged)", "fla": "FLA", "mhla": "MHLA", "sa": "SA (softmax)",
          "tf": "TF (pre-LN)"}
PROJECTED = ("sla", "fla", "mhla")
MINIBATCHED = ("sa", "tf")  # models with their own training budget (``<model>_lr`` etc.)
EXPLICIT = ("sa", "tf")     # models that read the explicit prompts X
# The parameters a point's seed (its prompts) depends on, and those every point carries.
SEED_PARAMS = ("D", "N", "P", "P_test", "batch", "repeats")
COMMON = SEED_PARAMS + ("weight_decay", "dtype")
OWN = {"amp": ("lambda0", "beta", "damping", "steps"), "sla": ("lr", "epochs"), "fla": ("lr", "epochs"),
       "mhla": ("lr", "epochs", "mhla_heads", "mhla_dk"),
       "sa": ("lr", "epochs", "sa_lr", "sa_epochs", "sa_batch_size", "sa_schedule", "sa_dk", "grad_chunk"),
       "tf": ("lr", "epochs", "tf_lr", "tf_epochs", "tf_batch_size", "tf_schedule", "tf_d_model", "tf_layers",
              "tf_heads", "grad_chunk")}

# mhla_dk / sa_dk = 0: d_k = D+1; grad_chunk = 0: whole batch at once; <m>_lr / <m>_epochs = 0: the shared
# lr / epochs; <m>_batch_size = 0: full batch.
FULL = dict(D=20, N=list(range(10, 201, 10)), P=10000, P_test=1000, repeats=10, batch_repeats=5,
            models=",".join(MODELS), lambda0=0.01, beta=100.0, damping=0.9, steps=100, lr=1e-3, epochs=5000,
            weight_decay=0.01, dtype="float32", grad_chunk=1000, mhla_heads=2, mhla_dk=0,
            sa_lr=0.01, sa_epochs=200, sa_batch_size=500, sa_schedule="cosine", sa_dk=0,
            tf_lr=0, tf_epochs=50, tf_batch_size=250, tf_schedule="cosine", tf_d_model=32, tf_layers=2,
            tf_heads=2)
# Quick (about a minute on 2 cores, dominated by the transformer): D=4 (20 effective spins),
# P=600 ≫ D(D+1), N ∈ {10, 20, 30}, 2 repeats, lr 0.02 × 500 full-batch epochs instead of 1e-3 × 5000
# (FLA, whose W_eff = W^{PV}_{D+1,D+1} W^{KQ} starts near 0, needs ~500 steps at this lr; SLA/MHLA
# ~150), SA the same; the transformer 150 full-batch epochs at d_model 8 (its cost is 20-50× the
# others'); AMP 200 steps (at this small P/D² and N the damped paper iteration often needs more
# than 100 steps to meet its 1e-6 criterion, and fails more often below N=10).
QUICK = {**FULL, "D": 4, "N": [10, 20, 30], "P": 600, "P_test": 500, "repeats": 2, "batch_repeats": 2,
         "steps": 200, "lr": 0.02, "epochs": 500, "grad_chunk": 0, "sa_lr": 0, "sa_epochs": 0, "sa_batch_size": 0,
         "sa_schedule": "constant", "tf_lr": 0, "tf_epochs": 150, "tf_batch_size": 0, "tf_schedule": "constant",
         "tf_d_model": 8}


def _models(value) -> list[str]:
    """The ``models`` parameter (comma-separated string or list, as the CLI parses it) as a list."""
    names = [m.strip() for m in (value.split(",") if isinstance(value, str) else value) if str(m).strip()]
    for m in names:
        V.choice("model", m, MODELS)
    return names


def points(p: dict) -> list[dict]:
    """One point per (N, batch of repeats, model), carrying the data parameters and its model's own."""
    R, B = V.positive_int("repeats", p["repeats"]), V.positive_int("batch_repeats", p["batch_repeats"])
    for name in MINIBATCHED:
        V.choice(f"{name}_schedule", p[f"{name}_schedule"], SCHEDULES)
    pts = []
    for N in p["N"]:
        for b, start in enumerate(range(0, R, B)):
            data = {"N": int(N), "batch": b, "repeats": min(B, R - start)}
            for name in _models(p["models"]):
                own = {k: p[k] for k in COMMON + OWN[name] if k not in data}
                pts.append({**data, **own, "model": name})
    return pts


def training_budget(name: str, pt: dict) -> dict:
    """lr, epochs, batch_size (None = full batch) and schedule of a trained model's point."""
    if name not in MINIBATCHED:
        return {"lr": pt["lr"], "epochs": pt["epochs"], "batch_size": None, "schedule": None}
    return {"lr": pt[f"{name}_lr"] or pt["lr"], "epochs": pt[f"{name}_epochs"] or pt["epochs"],
            "batch_size": pt[f"{name}_batch_size"] or None, "schedule": pt[f"{name}_schedule"]}


def _data(pt: dict, rng: np.random.Generator, name: str, dtype: torch.dtype, device: str):
    """Training and test data of a point, repeat by repeat (so at most one repeat's float64
    prompts are held at a time): Features (R, P, ·) for the spin glass, and for the model either
    PromptStats (FLA/MHLA) or explicit float32 prompts X, y (SA/TF) on ``device``."""
    spec = PromptSpec(D=pt["D"], N=pt["N"])
    out = []
    for n in (pt["P"], pt["P_test"]):  # all training sets first, then all test sets
        feats, inputs, ys = [], [], []
        for _ in range(pt["repeats"]):
            q = sample_prompts(spec, n, rng)
            feats.append(features_from_prompts(q))
            if name in REDUCED_MODELS:
                inputs.append(PromptStats.from_prompts(q.X[None], dtype=dtype, device=device))
            elif name in EXPLICIT:
                inputs.append(torch.as_tensor(q.X, dtype=dtype, device=device))
            ys.append(q.y)
        f = stack_features(feats)
        if name in REDUCED_MODELS:
            X = PromptStats(torch.cat([s.C for s in inputs]), torch.cat([s.b for s in inputs]), pt["N"])
        else:
            X = torch.stack(inputs) if inputs else None
        out.append((f, X, torch.as_tensor(np.stack(ys), dtype=dtype, device=device)))
    return out


def compute(pt: dict, seed: int, device: str) -> dict:
    """Per repeat (arrays of length R): ``<model>_test``, ``exact_test`` (ground state at λ0 = wd/2),
    ``trivial_test`` (ŷ = 0); for the linear models ``<m>_contrast``, ``<m>_distance``,
    ``<m>_proj_test``; for trained models ``<m>_train`` (final train loss); AMP ``amp_converged``;
    scalars ``<model>_mean``, ``exact_mean``, ``<model>_seconds``."""
    name = V.choice("model", pt["model"], MODELS)
    rng, tgen = generators(seed)
    D, R, wd = pt["D"], pt["repeats"], pt["weight_decay"]
    dtype = getattr(torch, pt["dtype"])
    t0 = time.perf_counter()
    (f_train, X, y), (f_test, X_test, y_test) = _data(pt, rng, name, dtype, device)
    ground = solve_exact(SpinGlass(f_train, wd / 2)).mean
    # "trivial": the predictor ŷ = 0, whose error is the mean y² (≈ 1 at σ_x = σ_w = 1).
    out: dict = {"exact_test": test_error(ground, f_test), "trivial_test": np.mean(f_test.y ** 2, axis=-1)}
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
        out.update(sla_test=test_error(tr.W, f_test), sla_train=tr.train_loss[:, -1], sla_contrast=contrast_ratio(tr.W),
                   sla_distance=relative_distance(tr.W, ground))
        out["sla_proj_test"] = out["sla_test"]
    else:
        chunk = (pt["grad_chunk"] or None) if name in EXPLICIT else None  # statistics need no chunking
        model = make_model(name, D, R, generator=tgen, dtype=dtype, device=device, **_model_kwargs(name, pt))
        res = fit(model, X, y, weight_decay=wd, grad_chunk=chunk, generator=tgen, **training_budget(name, pt))
        out[f"{name}_test"] = mse(model, X_test, y_test, chunk=chunk).cpu().double().numpy()
        out[f"{name}_train"] = res.train_loss[:, -1]
        if name in PROJECTED:
            out.update({f"{name}_{k}": v for k, v in projection_report(model, f_test, ground).items()})
    out[f"{name}_seconds"] = time.perf_counter() - t0
    with np.errstate(invalid="ignore"):
        for key in (name, "exact"):
            v = out[f"{key}_test"]
            out[f"{key}_mean"] = float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")
    return out


def _model_kwargs(name: str, pt: dict) -> dict:
    if name == "mhla":
        return {"heads": pt["mhla_heads"], "d_k": pt["mhla_dk"] or None}
    if name == "sa":
        return {"d_k": pt["sa_dk"] or None}
    if name == "tf":
        return {"d_model": pt["tf_d_model"], "layers": pt["tf_layers"], "heads": pt["tf_heads"]}
    return {}


def _per_data_set(records: list[dict]) -> list[dict]:
    """One record per (N, batch): the reference errors (exact, trivial) are the same in all of its models' points."""
    seen: dict = {}
    for r in records:
        seen.setdefault((int(r["N"]), int(r["batch"])), r)
    return list(seen.values())


def _values(records: list[dict], key: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Sorted N and, per N, the per-repeat values of ``key`` pooled over batches."""
    groups: dict[int, list] = {}
    for r in records:
        if key in r:
            groups.setdefault(int(r["N"]), []).append(np.ravel(np.asarray(r[key], float)))
    Ns = np.array(sorted(groups), float)
    return Ns, [np.concatenate(groups[int(n)]) for n in Ns]


def _pooled(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted N, nan-mean and nan-std of the per-repeat arrays ``key`` pooled over batches."""
    Ns, vals = _values(records, key)
    with np.errstate(invalid="ignore"):
        m = np.array([np.nanmean(v) if np.isfinite(v).any() else np.nan for v in vals])
        s = np.array([np.nanstd(v) if np.isfinite(v).any() else np.nan for v in vals])
    return Ns, m, s


def _budget_text(params: dict, models: list[str]) -> str:
    """The Adam settings of the plotted models, for the title."""
    lines = [f"Adam wd={params['weight_decay']:g}; SLA/FLA/MHLA lr={params['lr']:g}, {params['epochs']} epochs, full batch"]
    for name in MINIBATCHED:
        if name in models:
            b = training_budget(name, params)
            batch = f"batch {b['batch_size']}" if b["batch_size"] else "full batch"
            sched = f", {b['schedule']}" if b["schedule"] not in (None, "constant") else ""
            lines.append(f"{name.upper()} lr={b['lr']:g}, {b['epochs']} epochs, {batch}{sched}")
    return "\n".join(lines)


def plot(records: list[dict], params: dict):
    models = _models(params["models"])
    markers = dict(zip(MODELS, "os^vDP"))
    ref = _per_data_set(records)
    with plotting.style():
        fig, ax = plotting.figure(1, 1, width=6.2, height=3.8)
        a = ax[0, 0]
        for name in models:
            if name in MINIBATCHED:
                # A repeat of SA/TF either leaves the loss plateau or stays near ŷ = 0: the spread is
                # bimodal, so every repeat is drawn (dots) and the line is the best repeat of each N.
                Ns, vals = _values(records, f"{name}_test")
                if Ns.size:
                    line = plotting.band(a, Ns, [np.nanmin(v) for v in vals], marker=markers[name],
                                         label=f"{LABELS[name]}: best repeat (dots: all)")
                    xs = np.concatenate([np.full(v.size, n) for n, v in zip(Ns, vals)])
                    a.scatter(xs, np.concatenate(vals), s=6, color=line.get_color(), alpha=0.35, lw=0)
                continue
            Ns, m, s = _pooled(records, f"{name}_test")
            if Ns.size:
                plotting.band(a, Ns, m, s, marker=markers[name], label=LABELS[name])
        Ns, m, _ = _pooled(ref, "exact_test")
        a.plot(Ns, m, "k:", lw=1.2, label=f"ground state (λ0=wd/2={params['weight_decay'] / 2:g})")
        Ns, m, _ = _pooled(ref, "trivial_test")
        a.plot(Ns, m, color="0.6", lw=0.8, ls="--", label="ŷ = 0")
        a.set(xlabel="context length N", ylabel="test error (fresh tasks)", yscale="log",
              title=f"S8: other architectures, P={params['P']}, D={params['D']}\n" + _budget_text(params, models))
        a.title.set_fontsize(7)
        a.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig


def summary(records: list[dict], params: dict) -> dict:
    """Per model: mean test error over all N and repeats, and at the largest N; for the linear
    models the mean contrast ratio and distance to the ground state at the largest N."""
    out: dict = {}
    n_max = max(int(r["N"]) for r in records)
    ref = _per_data_set(records)
    for name in _models(params["models"]) + ["exact", "trivial"]:
        Ns, m, s = _pooled(ref if name in ("exact", "trivial") else records, f"{name}_test")
        if not Ns.size:
            continue
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
    notes="One point per (N, batch of repeats, model); the seed depends on the data parameters only, so every "
          "model of a repeat sees the same prompts.  SLA/FLA/MHLA: Adam with the paper's fig4b settings, full "
          "batch; SA/TF: their own sa_*/tf_* budget (minibatch Adam, cosine lr at full size).  FLA/MHLA train "
          "on the prompts' statistics C = X Xᵀ, b (same gradients, O(P·D²) per step) and project exactly onto "
          "the spin model when their value reads only the label row (architectures.FLA docstring); here "
          "value='full' and W_eff is the spin-model part.  TF: pre-LN, query-position linear readout.",
    uses_device=True,
    seed_params=SEED_PARAMS,
)
