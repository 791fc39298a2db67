"""Adam training for any stacked-repeat model of :mod:`spinglass_icl.models` (figS8).

:func:`fit` trains R independent repeats at once: every parameter carries the repeat axis
first, the loss is Σ_r MSE_r, and the optimiser (:class:`~.adam.Adam`, torch.optim.Adam's
update) acts per coordinate, so repeat r follows exactly the trajectory it would follow alone
(tested in float64).  Options: full batch (the paper's protocol; ``grad_chunk`` accumulates the
full-batch gradient over chunks of prompts to bound memory without changing it) or minibatches
(one shuffled order per epoch, shared by the repeats, from an explicit generator), PyTorch-style
weight decay (gradient += wd·θ), a learning-rate schedule, and early stopping on a held-out loss
per repeat (a stopped repeat is frozen; its best parameters are restored at the end), and a
curriculum over N (Garg et al. 2022): a first stage on prompts cut to their first frac·N context
examples, then the budget on the whole prompts.

Prompts are explicit, X (R or 1, P, D+1, N+1), or -- for FLA/MHLA -- their reduced form
:class:`~spinglass_icl.models.PromptStats` (C = X Xᵀ, b), which makes a step O(P·D²)
instead of O(P·D·N) with the same gradients (tested in float64).

Tensors live on the model's device and dtype (float32 by default, float64 in the tests); losses
are kept on the device during the loop and copied to numpy once at the end.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import validation as V
from ..models.layers import PromptStats
from ..models.registry import SCHEDULES
from .adam import Adam


def lr_factor(schedule: str | Callable[[int, int], float] | None, epoch: int, epochs: int, warmup: int = 0) -> float:
    """Multiplier of the base learning rate in ``epoch`` (0-based) of ``epochs``.

    The first ``warmup`` epochs ramp linearly, (e+1)/warmup; the schedule then runs over the
    remaining epochs: ``"constant"``/None: 1; ``"cosine"``: ½(1 + cos(π t)); ``"linear"``: 1 − t,
    t = (e − warmup)/(epochs − warmup); a callable ``f(epoch, epochs)`` is used as is.
    """
    if callable(schedule):
        return float(schedule(epoch, epochs))
    schedule = "constant" if schedule is None else V.choice("schedule", schedule, SCHEDULES)
    if epoch < warmup:
        return (epoch + 1) / warmup
    t = (epoch - warmup) / (epochs - warmup)
    return {"constant": 1.0, "cosine": 0.5 * (1 + math.cos(math.pi * t)), "linear": 1.0 - t}[schedule]


@dataclass
class FitResult:
    """Outcome of :func:`fit` for R repeats (numpy, float64).

    train_loss (R, epochs_run): full batch -- the loss before each epoch's step; minibatch -- the
    mean minibatch loss of the epoch.  val_loss (R, n): held-out loss at ``val_epochs`` (epoch 0 =
    initial parameters, epoch e = after e epochs).  best_epoch (R,): epoch of the lowest held-out
    loss (parameters restored to it if ``restore_best``); stopped_epoch (R,): epochs a repeat
    trained before it was stopped (``epochs`` if never).  steps: optimiser steps taken.
    """

    train_loss: np.ndarray
    val_loss: np.ndarray | None
    val_epochs: np.ndarray | None
    best_epoch: np.ndarray
    stopped_epoch: np.ndarray
    seconds: float
    steps: int


def _as(x, ref: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x, dtype=ref.dtype, device=ref.device)


def _prompts(model: nn.Module, X, ref: torch.Tensor) -> torch.Tensor | PromptStats:
    """Explicit prompts as a tensor, or PromptStats (for the models that accept them), on ref's
    dtype and device."""
    if isinstance(X, PromptStats):
        if not getattr(model, "accepts_stats", False):
            raise V.InputError(
                f"model {getattr(model, 'name', type(model).__name__)!r} needs explicit prompts X; "
                "PromptStats are for the models that accept them (FLA, MHLA)"
            )
        return X.to(ref.dtype, ref.device)
    return _as(X, ref)


def _axes(X: torch.Tensor | PromptStats) -> tuple[int, int]:
    """(repeats or 1, P) of explicit prompts or PromptStats."""
    return (X.repeats, X.n_prompts) if isinstance(X, PromptStats) else (int(X.shape[0]), int(X.shape[1]))


def _take(X: torch.Tensor | PromptStats, idx) -> torch.Tensor | PromptStats:
    """Prompts ``idx`` (slice or index tensor) of every repeat."""
    return X.take(idx) if isinstance(X, PromptStats) else X[:, idx]


def curriculum_context(N: int, frac: float) -> int:
    """Context examples of a curriculum's first stage for prompts of N: round(frac·N), at least 1."""
    return max(1, round(frac * N))


def context_prefix(X: torch.Tensor, n: int) -> torch.Tensor:
    """Prompts X (R, P, D+1, N+1) cut to their first ``n`` context examples and the query:
    (R, P, D+1, n+1).  The labels y are unchanged (the query is the same)."""
    n = V.positive_int("context examples", n)
    if n >= X.shape[-1] - 1:
        return X
    return torch.cat([X[..., :n], X[..., -1:]], dim=-1)


@torch.no_grad()
def mse(model: nn.Module, X, y, *, chunk: int | None = None) -> torch.Tensor:
    """Per-repeat mean squared query error (R,) on prompts X (R or 1, P, D+1, N+1) or their
    PromptStats, y (R or 1, P), evaluated over chunks of ``chunk`` prompts (memory bound); stays
    on the model's device."""
    ref = next(model.parameters())
    X, y = _prompts(model, X, ref), _as(y, ref)
    P = _axes(X)[1]
    step = chunk or P
    total = torch.zeros((), dtype=ref.dtype, device=ref.device)
    for s in range(0, P, step):
        total = total + ((model(_take(X, slice(s, s + step))) - y[:, s : s + step]) ** 2).sum(-1)
    return total / P


def fit(
    model: nn.Module,
    X,
    y,
    *,
    lr: float,
    epochs: int,
    generator: torch.Generator,
    weight_decay: float = 0.0,
    batch_size: int | None = None,
    grad_chunk: int | None = None,
    schedule: str | Callable[[int, int], float] | None = None,
    warmup: int = 0,
    X_val=None,
    y_val=None,
    patience: int | None = None,
    min_delta: float = 0.0,
    val_every: int = 1,
    restore_best: bool = True,
    betas=(0.9, 0.999),
    eps: float = 1e-8,
    curriculum_epochs: int = 0,
    curriculum_frac: float = 0.25,
    progress: bool = False,
    desc: str = "adam",
) -> FitResult:
    """Train all R repeats of ``model`` on X (R or 1, P, D+1, N+1), y (R or 1, P) with Adam.

    X (and X_val) may be :class:`~spinglass_icl.models.PromptStats` for FLA/MHLA: the same
    training at O(P·D²) per step.
    batch_size: None = full batch; otherwise minibatches of that many prompts per step, in a
    fresh random order every epoch drawn from ``generator`` (required: a CPU torch generator; same
    order for all repeats).  ``warmup`` epochs of linear lr warm-up precede ``schedule``.
    grad_chunk: evaluate the full-batch (or minibatch) gradient in chunks of this
    many prompts and accumulate -- the same gradient with less memory.  Early stopping needs
    X_val, y_val: the held-out loss is evaluated every ``val_every`` epochs; a repeat stops after
    ``patience`` evaluations without an improvement larger than ``min_delta``.
    curriculum_epochs > 0: first train that many epochs on the prompts cut to their first
    :func:`curriculum_context` examples (:func:`context_prefix`; a fresh Adam with the same
    lr, warm-up, schedule, batch size and weight decay), then ``epochs`` on the whole prompts.  Held-out
    prompts (whole) are watched in both stages: with ``restore_best`` the second stage starts from the
    first one's best epoch.  Cheaper per epoch (attention costs O(N²)) and, for softmax models, much
    faster to leave the plateau (REPRODUCTION.md, figS8).  The result's train_loss holds both stages'
    epochs; steps and seconds are their sums, the held-out record is the second stage's.
    """
    if curriculum_epochs:
        curriculum_epochs = V.positive_int("curriculum_epochs", curriculum_epochs)
        if isinstance(X, PromptStats) or not 0 < curriculum_frac <= 1:
            raise V.InputError(
                "a curriculum needs explicit prompts X and 0 < curriculum_frac <= 1, got "
                f"{'PromptStats' if isinstance(X, PromptStats) else 'X'} and curriculum_frac={curriculum_frac!r}"
            )
        X = _as(X, next(model.parameters()))
        n = curriculum_context(X.shape[-1] - 1, curriculum_frac)
        common = dict(lr=lr, generator=generator, weight_decay=weight_decay, batch_size=batch_size,
                      grad_chunk=grad_chunk, schedule=schedule, warmup=warmup, betas=betas, eps=eps,
                      X_val=X_val, y_val=y_val, patience=patience, min_delta=min_delta, val_every=val_every,
                      restore_best=restore_best, progress=progress)  # fmt: skip
        first = fit(model, context_prefix(X, n), y, epochs=curriculum_epochs, desc=f"{desc} (N={n})", **common)
        rest = fit(model, X, y, epochs=epochs, desc=desc, **common)
        return dataclasses.replace(
            rest,
            train_loss=np.concatenate([first.train_loss, rest.train_loss], axis=1),
            seconds=first.seconds + rest.seconds,
            steps=first.steps + rest.steps,
        )
    lr, epochs = V.positive("lr", lr), V.positive_int("epochs", epochs)
    weight_decay, min_delta = V.nonneg("weight_decay", weight_decay), V.nonneg("min_delta", min_delta)
    val_every = V.positive_int("val_every", val_every)
    if patience is not None:
        patience = V.positive_int("patience", patience)
        if X_val is None:
            raise V.InputError("early stopping (patience) needs held-out prompts X_val, y_val")
    if schedule is not None and not callable(schedule):
        V.choice("schedule", schedule, SCHEDULES)
    if not isinstance(generator, torch.Generator):
        raise V.InputError(f"fit needs a torch.Generator for the minibatch order, got {generator!r}")
    if isinstance(warmup, bool) or not isinstance(warmup, int) or not 0 <= warmup < epochs:
        raise V.InputError(f"warmup must be an integer in [0, epochs={epochs}), got {warmup!r}")
    params = list(model.parameters())
    ref = params[0]
    R = ref.shape[0]
    if any(p.shape[0] != R for p in params):
        raise V.InputError("every parameter must carry the repeat axis first (stacked repeats)")
    X, y = _prompts(model, X, ref), _as(y, ref)
    if y.ndim != 2 or _axes(X) != tuple(y.shape[:2]) or _axes(X)[0] not in (1, R):
        raise V.InputError(
            f"need X (R or 1, P, D+1, N+1) and y of shape (R or 1, P); got X with (repeats, P) = "
            f"{_axes(X)}, y {tuple(y.shape)} for R={R}"
        )
    P = _axes(X)[1]
    B = P if batch_size is None else min(V.positive_int("batch_size", batch_size), P)
    chunk = V.positive_int("grad_chunk", grad_chunk) if grad_chunk is not None else None
    has_val = X_val is not None
    if has_val:
        X_val, y_val = _prompts(model, X_val, ref), _as(y_val, ref)

    t0 = time.perf_counter()
    opt = Adam(params, lr, betas, eps, weight_decay)
    active = torch.ones(R, dtype=torch.bool, device=ref.device)
    stopped = torch.full((R,), epochs, dtype=torch.long, device=ref.device)
    train_loss = torch.empty((R, epochs), dtype=ref.dtype, device=ref.device)
    val_hist, val_epochs = [], []
    best = torch.full((R,), math.inf, dtype=ref.dtype, device=ref.device)
    best_epoch = torch.zeros(R, dtype=torch.long, device=ref.device)
    bad = torch.zeros(R, dtype=torch.long, device=ref.device)
    best_params = [p.detach().clone() for p in params] if has_val and restore_best else None

    def validate(e: int) -> None:
        loss = mse(model, X_val, y_val, chunk=chunk)
        val_hist.append(loss)
        val_epochs.append(e)
        better = (loss < best - min_delta) & active
        best.copy_(torch.where(better, loss, best))
        best_epoch.copy_(torch.where(better, e, best_epoch))
        bad.copy_(torch.where(better, 0, bad + active.long()))
        if best_params is not None:
            for bp, p in zip(best_params, params):
                bp.copy_(torch.where(better.view((-1,) + (1,) * (p.ndim - 1)), p.detach(), bp))
        if patience is not None:
            stop = active & (bad >= patience)
            stopped.copy_(torch.where(stop, e, stopped))
            active.copy_(active & ~stop)

    from tqdm.auto import tqdm

    if has_val:
        validate(0)
    epochs_run = 0
    with tqdm(total=epochs, disable=not progress, desc=desc, leave=False) as bar:
        for e in range(epochs):
            lr_e = lr * lr_factor(schedule, e, epochs, warmup)
            order = torch.randperm(P, generator=generator).to(ref.device) if B < P else None
            epoch_loss = torch.zeros(R, dtype=ref.dtype, device=ref.device)
            n_batches = 0
            for s in range(0, P, B):
                idx = order[s : s + B] if order is not None else None
                Xb = _take(X, idx) if idx is not None else X
                yb = y[:, idx] if idx is not None else y
                nb = _axes(Xb)[1]
                for p in params:
                    p.grad = None
                step = chunk or nb
                batch_loss = torch.zeros(R, dtype=ref.dtype, device=ref.device)
                for c in range(0, nb, step):
                    # Σ over chunks of (Σ_chunk sq. error)/n_batch = the batch mean: same gradient.
                    part = ((model(_take(Xb, slice(c, c + step))) - yb[:, c : c + step]) ** 2).sum(-1) / nb
                    part.sum().backward()
                    batch_loss += part.detach()
                epoch_loss += batch_loss
                n_batches += 1
                opt.step(lr=lr_e, active=active if patience is not None else None)
            train_loss[:, e] = epoch_loss / n_batches
            epochs_run = e + 1
            bar.update()
            if has_val and (epochs_run % val_every == 0 or epochs_run == epochs):
                validate(epochs_run)
                if patience is not None and not bool(active.any()):
                    break
    if best_params is not None:
        with torch.no_grad():
            for bp, p in zip(best_params, params):
                p.copy_(bp)

    def np_(t: torch.Tensor) -> np.ndarray:
        return t.detach().cpu().double().numpy() if t.is_floating_point() else t.detach().cpu().numpy()

    return FitResult(
        train_loss=np_(train_loss[:, :epochs_run]),
        val_loss=np_(torch.stack(val_hist, dim=1)) if has_val else None,
        val_epochs=np.array(val_epochs) if has_val else None,
        best_epoch=np_(best_epoch) if has_val else np.full(R, -1),
        stopped_epoch=np_(stopped),
        seconds=time.perf_counter() - t0,
        steps=opt.t,
    )
