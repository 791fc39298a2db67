"""Adam training for any stacked-repeat model of :mod:`spinglass_icl.models` (figS8).

:func:`~spinglass_icl.fit` trains R independent repeats at once: every parameter carries the repeat axis
first, the loss is Σ_r MSE_r, and the optimiser (:class:`~spinglass_icl.training.Adam`, torch.optim.Adam's
update) acts per coordinate, so repeat r follows exactly the trajectory it would follow alone
(tested in float64).  What to run is a :class:`~spinglass_icl.Budget` (learning rate and schedule, epochs,
full batch or minibatches -- one shuffled order per epoch, shared by the repeats, from an explicit
generator --, PyTorch-style weight decay, an optional curriculum over N); what to watch is a
:class:`~spinglass_icl.training.HeldOut` set (held-out loss per repeat, early stopping -- a stopped repeat is
frozen -- and the best epoch's parameters restored at the end).

The pieces, one concept each: :func:`~spinglass_icl.fit` (checks, then one stage or a curriculum), :func:`_curriculum`
(Garg et al. 2022: a first stage on prompts cut to their first frac·N context examples, then the budget
on the whole prompts), :func:`_stage` (the optimisation loop over epochs), :func:`_epoch` (one pass of
minibatch steps; ``prompt_block`` accumulates each batch's gradient over blocks of prompts to bound
memory without changing it) and :class:`_Watch` (held-out validation, early stopping, best-epoch
restore).  The learning-rate schedule is :func:`~spinglass_icl.training.lr_factor`.

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
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import validation as V
from .._progress import progress as progress_bar
from ..models.layers import PromptStats
from ._adam import Adam
from ._evaluation import Prompts, as_prompts, as_tensor, axes, mse, take
from ._recipes import Budget, lr_factor


@dataclass
class FitResult:
    """Outcome of :func:`~spinglass_icl.fit` for R repeats (numpy, float64).

    train_loss (R, epochs_run): full batch -- the loss before each epoch's step; minibatch -- the
    mean minibatch loss of the epoch.  val_loss (R, n): held-out loss at ``val_epochs`` (epoch 0 =
    initial parameters, epoch e = after e epochs).  best_epoch (R,): epoch of the lowest held-out
    loss (parameters restored to it if ``restore_best``); -1 without held-out data.  stopped_epoch
    (R,): epochs a repeat trained before it was stopped (``epochs`` if never).  steps: optimiser
    steps taken.
    """

    train_loss: np.ndarray
    val_loss: np.ndarray | None
    val_epochs: np.ndarray | None
    best_epoch: np.ndarray
    stopped_epoch: np.ndarray
    seconds: float
    steps: int


@dataclass(frozen=True)
class HeldOut:
    """Held-out prompts X (R or 1, P', D+1, N+1) or PromptStats and labels y (R or 1, P') watched while
    training: the loss is evaluated before the first epoch and every ``every`` epochs (and after the
    last); a repeat stops after ``patience`` evaluations (None: never) without an improvement larger
    than ``min_delta``; with ``restore_best`` each repeat ends with its best evaluated parameters."""

    X: Any
    y: Any
    patience: int | None = None
    min_delta: float = 0.0
    every: int = 1
    restore_best: bool = True

    def __post_init__(self) -> None:
        if self.patience is not None:
            V.positive_int("patience", self.patience)
        V.nonneg("min_delta", self.min_delta)
        V.positive_int("every", self.every)


@dataclass(frozen=True)
class _Run:
    """How a stage runs (not what it computes): the minibatch-order generator, held-out set,
    gradient chunk, progress bar and its label."""

    generator: torch.Generator
    held_out: HeldOut | None
    chunk: int | None
    progress: bool
    desc: str
    sampler: Sampler | None = None


Sampler = Callable[[], tuple[Any, Any]]  # () -> a fresh training set (X (R, P, D+1, N+1), y (R, P)) per epoch


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


def fit(
    model: nn.Module,
    X: Any,
    y: Any,
    budget: Budget,
    *,
    generator: torch.Generator,
    held_out: HeldOut | None = None,
    prompt_block: int | None = None,
    progress: bool = False,
    **deprecated: int | None,
) -> FitResult:
    """Train all R repeats of ``model`` on X (R or 1, P, D+1, N+1), y (R or 1, P) with Adam as ``budget`` says.

    X (and the held-out X) may be :class:`~spinglass_icl.models.PromptStats` for FLA/MHLA: the same
    training at O(P·D²) per step.  ``generator`` (a CPU torch generator, required) draws the minibatch
    order (same for all repeats).  ``prompt_block``: evaluate each batch's gradient in blocks of this many
    prompts and accumulate -- the same gradient with less memory (``grad_chunk``, its deprecated name, is the one
    keyword ``deprecated`` takes).  ``held_out``: see :class:`~spinglass_icl.training.HeldOut`.
    ``budget.curriculum_epochs`` > 0: first train that many epochs on the prompts cut to their first
    :func:`~spinglass_icl.training.curriculum_context` examples (:func:`~spinglass_icl.training.context_prefix`; a
    fresh Adam with the same lr, warm-up, schedule, batch size and weight decay), then ``epochs`` on the whole
    prompts.  Held-out prompts
    (whole) are watched in both stages: with ``restore_best`` the second stage starts from the first
    one's best epoch.  Cheaper per epoch (attention costs O(N²)) and, for softmax models, much faster to
    leave the plateau (REPRODUCTION.md, figS8).  The result's train_loss holds both stages' epochs;
    steps and seconds are their sums, the held-out record is the second stage's.

    X may also be a sampler (Raventós et al. 2023's protocol: every prompt seen once): a callable returning a
    fresh training set (X, y) of the same shapes, called before every epoch (and before each curriculum
    stage); y is then ignored (pass None).  The budget is unchanged: ``epochs`` passes of P prompts, so a run
    sees epochs·P sequences per repeat, all distinct.
    """
    if not isinstance(budget, Budget):
        raise V.InputError(f"fit needs a training Budget (spinglass_icl.training.Budget), got {budget!r}")
    budget.validate(who="fit")
    if not isinstance(generator, torch.Generator):
        raise V.InputError(f"fit needs a torch.Generator for the minibatch order, got {generator!r}")
    chunk = _prompt_block(prompt_block, deprecated)
    sampler: Sampler | None = X if callable(X) and not isinstance(X, (torch.Tensor, PromptStats)) else None
    run = _Run(generator, held_out, chunk, progress, getattr(model, "name", "adam"), sampler)
    if sampler is not None:
        X, y = sampler()  # the first epoch's set (checked and sized here like a fixed one)
    if budget.curriculum_epochs:
        return _curriculum(model, X, y, budget, run)
    return _stage(model, X, y, budget, run)


def _prompt_block(prompt_block: int | None, deprecated: dict[str, int | None]) -> int | None:
    """fit's ``prompt_block``, checked, or the value of its deprecated name ``grad_chunk`` (with a warning)."""
    unknown = set(deprecated) - {"grad_chunk"}
    if unknown:
        raise TypeError(f"fit() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    if deprecated.get("grad_chunk") is not None:
        prompt_block = V.renamed_keyword("fit", "grad_chunk", "prompt_block", deprecated["grad_chunk"], depth=2)
    return V.positive_int("prompt_block", prompt_block) if prompt_block is not None else None


def _curriculum(model: nn.Module, X: Any, y: Any, budget: Budget, run: _Run) -> FitResult:
    """The curriculum over N: ``curriculum_epochs`` on the first :func:`~spinglass_icl.training.curriculum_context`
    examples of each prompt, then ``epochs`` on the whole prompts (each stage a fresh Adam of the same recipe)."""
    if isinstance(X, PromptStats):
        raise V.InputError("a curriculum needs explicit prompts X, got PromptStats")
    X = as_tensor(X, next(model.parameters()))
    n = curriculum_context(X.shape[-1] - 1, budget.curriculum_frac)
    one_stage = dataclasses.replace(budget, curriculum_epochs=0)
    cut = run.sampler
    first_run = dataclasses.replace(run, desc=f"{run.desc} (N={n})")
    if cut is not None:
        first_run = dataclasses.replace(first_run, sampler=lambda: _prefixed(cut(), n))
    first = _stage(
        model,
        context_prefix(X, n),
        y,
        dataclasses.replace(one_stage, epochs=budget.curriculum_epochs),
        first_run,
    )
    if cut is not None:  # the whole prompts of a fresh set: every prompt is seen once
        X, y = cut()
    rest = _stage(model, X, y, one_stage, run)
    return dataclasses.replace(
        rest,
        train_loss=np.concatenate([first.train_loss, rest.train_loss], axis=1),
        seconds=first.seconds + rest.seconds,
        steps=first.steps + rest.steps,
    )


def _prefixed(Xy: tuple[Any, Any], n: int) -> tuple[Any, Any]:
    """A sampled training set (X, y) with X cut to its first ``n`` context examples."""
    X, y = Xy
    return context_prefix(torch.as_tensor(X), n), y


def _inputs(model: nn.Module, X: Any, y: Any) -> tuple[list[nn.Parameter], Prompts, torch.Tensor]:
    """The model's parameters (each with the repeat axis first) and the checked prompts and labels."""
    params = list(model.parameters())
    ref = params[0]
    R = ref.shape[0]
    if any(p.shape[0] != R for p in params):
        raise V.InputError("every parameter must carry the repeat axis first (stacked repeats)")
    X, y = as_prompts(model, X, ref), as_tensor(y, ref)
    if y.ndim != 2 or axes(X) != tuple(y.shape[:2]) or axes(X)[0] not in (1, R):
        raise V.InputError(
            f"need X (R or 1, P, D+1, N+1) and y of shape (R or 1, P); got X with (repeats, P) = "
            f"{axes(X)}, y {tuple(y.shape)} for R={R}"
        )
    return params, X, y


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().double().numpy() if t.is_floating_point() else t.detach().cpu().numpy()


def _stage(model: nn.Module, X: Any, y: Any, budget: Budget, run: _Run) -> FitResult:
    """One stage: ``budget.epochs`` epochs of Adam (a fresh optimiser) on the whole of X."""
    params, X, y = _inputs(model, X, y)
    ref = params[0]
    P = axes(X)[1]
    B = min(budget.batch_size, P) if budget.batch_size else P
    epochs = budget.epochs
    watch = _Watch(model, run.held_out, params, epochs, run.chunk)
    t0 = time.perf_counter()
    opt = Adam(params, budget.lr, weight_decay=budget.weight_decay)
    train_loss = torch.empty((ref.shape[0], epochs), dtype=ref.dtype, device=ref.device)
    watch.validate(0)
    epochs_run = 0
    with progress_bar(epochs, run.progress, run.desc) as bar:
        for e in range(epochs):
            if run.sampler is not None and e > 0:  # a fresh set every epoch (the first one came with the call)
                X, y = _fresh(model, run.sampler, P)
            lr_e = budget.lr * lr_factor(budget.schedule, e, epochs, budget.warmup)
            order = torch.randperm(P, generator=run.generator).to(ref.device) if B < P else None
            batches: list[torch.Tensor | None] = [None] if order is None else [order[s : s + B] for s in range(0, P, B)]
            train_loss[:, e] = _epoch(model, opt, X, y, batches, run.chunk, lr_e, watch.active_mask())
            epochs_run = e + 1
            bar.update()
            if watch.after_epoch(epochs_run) and watch.all_stopped():
                break
    watch.restore()
    val_loss, val_epochs, best_epoch = watch.record()
    return FitResult(
        train_loss=_np(train_loss[:, :epochs_run]),
        val_loss=val_loss,
        val_epochs=val_epochs,
        best_epoch=best_epoch,
        stopped_epoch=_np(watch.stopped),
        seconds=time.perf_counter() - t0,
        steps=opt.t,
    )


def _fresh(model: nn.Module, sampler: Sampler, P: int) -> tuple[Prompts, torch.Tensor]:
    """The sampler's next training set, checked to keep the first set's shape."""
    _, X, y = _inputs(model, *sampler())
    if axes(X)[1] != P:
        raise V.InputError(f"the sampler changed the number of prompts per epoch from {P} to {axes(X)[1]}")
    return X, y


def _epoch(
    model: nn.Module,
    opt: Adam,
    X: Prompts,
    y: torch.Tensor,
    batches: list[torch.Tensor | None],
    chunk: int | None,
    lr: float,
    active: torch.Tensor | None,
) -> torch.Tensor:
    """One pass over the prompts: per batch (prompt indices; None: all, full batch) one Adam step at
    learning rate ``lr`` for the ``active`` repeats.  Returns the mean batch loss per repeat (R,)."""
    ref = next(model.parameters())
    epoch_loss = torch.zeros(ref.shape[0], dtype=ref.dtype, device=ref.device)
    for idx in batches:
        Xb = take(X, idx) if idx is not None else X
        yb = y[:, idx] if idx is not None else y
        epoch_loss += _gradient(model, Xb, yb, chunk)
        opt.step(lr=lr, active=active)
    return epoch_loss / len(batches)


def _gradient(model: nn.Module, X: Prompts, y: torch.Tensor, chunk: int | None) -> torch.Tensor:
    """Set the parameters' ``.grad`` to that of Σ_r (batch MSE of repeat r), accumulated over chunks of
    ``chunk`` prompts; returns the batch MSE per repeat (R,)."""
    nb = axes(X)[1]
    for p in model.parameters():
        p.grad = None
    step = chunk or nb
    ref = next(model.parameters())
    batch_loss = torch.zeros(ref.shape[0], dtype=ref.dtype, device=ref.device)
    for c in range(0, nb, step):
        # Σ over chunks of (Σ_chunk sq. error)/n_batch = the batch mean: same gradient.
        part = ((model(take(X, slice(c, c + step))) - y[:, c : c + step]) ** 2).sum(-1) / nb
        part.sum().backward()
        batch_loss += part.detach()
    return batch_loss


class _Watch:
    """Held-out validation of one stage: the held-out loss per repeat, early stopping (``active``
    repeats; a stopped one keeps its parameters and Adam moments) and the best epoch's parameters."""

    def __init__(
        self, model: nn.Module, held_out: HeldOut | None, params: list[nn.Parameter], epochs: int, chunk: int | None
    ):
        ref = params[0]
        R, dev = ref.shape[0], ref.device
        self.model, self.h, self.params, self.epochs, self.chunk = model, held_out, params, epochs, chunk
        self.active = torch.ones(R, dtype=torch.bool, device=dev)
        self.stopped = torch.full((R,), epochs, dtype=torch.long, device=dev)
        self.hist: list[torch.Tensor] = []
        self.at: list[int] = []
        self.best = torch.full((R,), math.inf, dtype=ref.dtype, device=dev)
        self.best_epoch = torch.zeros(R, dtype=torch.long, device=dev)
        self.bad = torch.zeros(R, dtype=torch.long, device=dev)
        self.best_params: list[torch.Tensor] | None = None
        if held_out is not None:
            self.X, self.y = as_prompts(model, held_out.X, ref), as_tensor(held_out.y, ref)
            if self.y.ndim != 2 or axes(self.X) != tuple(self.y.shape) or axes(self.X)[0] not in (1, R):
                raise V.InputError(
                    f"need held-out X (R or 1, P', D+1, N+1) and y (R or 1, P'); got X with (repeats, P') = "
                    f"{axes(self.X)}, y {tuple(self.y.shape)} for R={R}"
                )
            if held_out.restore_best:
                self.best_params = [p.detach().clone() for p in params]

    def active_mask(self) -> torch.Tensor | None:
        """The repeats still training, or None when nothing can stop (every repeat steps)."""
        return self.active if self.h is not None and self.h.patience is not None else None

    def after_epoch(self, epochs_run: int) -> bool:
        """Validate if this epoch is due; returns whether it was."""
        if self.h is None or not (epochs_run % self.h.every == 0 or epochs_run == self.epochs):
            return False
        self.validate(epochs_run)
        return True

    def all_stopped(self) -> bool:
        return self.h is not None and self.h.patience is not None and not bool(self.active.any())

    @torch.no_grad()
    def validate(self, e: int) -> None:
        """Evaluate the held-out loss after ``e`` epochs and update the best epoch and the stopping state."""
        if self.h is None:
            return
        loss = mse(self.model, self.X, self.y, prompt_block=self.chunk)
        self.hist.append(loss)
        self.at.append(e)
        better = (loss < self.best - self.h.min_delta) & self.active
        self.best.copy_(torch.where(better, loss, self.best))
        self.best_epoch.copy_(torch.where(better, e, self.best_epoch))
        self.bad.copy_(torch.where(better, 0, self.bad + self.active.long()))
        if self.best_params is not None:
            for bp, p in zip(self.best_params, self.params):
                bp.copy_(torch.where(better.view((-1,) + (1,) * (p.ndim - 1)), p.detach(), bp))
        if self.h.patience is not None:
            stop = self.active & (self.bad >= self.h.patience)
            self.stopped.copy_(torch.where(stop, e, self.stopped))
            self.active.copy_(self.active & ~stop)

    @torch.no_grad()
    def restore(self) -> None:
        """Each repeat's parameters back to its best evaluated epoch (with ``restore_best``)."""
        if self.best_params is not None:
            for bp, p in zip(self.best_params, self.params):
                p.copy_(bp)

    def record(self) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
        """(val_loss (R, n), val_epochs (n,), best_epoch (R,)) of :class:`FitResult`."""
        if self.h is None:
            return None, None, np.full(self.active.shape[0], -1)
        return _np(torch.stack(self.hist, dim=1)), np.array(self.at), _np(self.best_epoch)
