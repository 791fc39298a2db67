"""One way to train a registered architecture: :func:`train` (figS8, diversity and every other caller).

What to train on is either a fixed training set (:class:`FixedSet`: explicit prompts, their
:class:`~spinglass_icl.models.PromptStats` or -- for an architecture trained on the Gram form -- their
spin-glass :class:`~spinglass_icl.prompts.Features`) or a :class:`PoolSampler` (Raventós et al. 2023's
protocol: a fresh set of prompts before every epoch, their tasks uniform over each repeat's pool of M, or
a fresh task per prompt).  How the architecture trains is decided here, once:

* ``arch.gram`` (merged SLA) on a fixed set: full-batch Adam on the Gram form of its loss
  (:func:`~._gram.adam_gram`) from the paper's initialisation; on sampled prompts the same model is
  trained on its explicit forward pass (:func:`~._fit.fit`; the Gram form needs a fixed set);
* every other architecture: :func:`~._fit.fit` on explicit prompts, or on PromptStats where the
  architecture accepts them (then without gradient chunks: statistics need none).

The result (:class:`Trained`) predicts and scores any prompts the same way for every architecture.
Random draws: the initialisation and the minibatch order from ``generator`` (in this order), the sampled
prompts from the sampler's own numpy generator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import validation as V
from ..features import predict
from ..metrics import contrast_ratio, query_error, relative_distance
from ..models import Architecture, PromptStats, get, make_model, paper_init
from ..prompts import Features, Prompts, PromptSpec, features_from_prompts, prompts_for_tasks
from ..spinglass import SpinGlass
from ._evaluation import mse, projection_report
from ._fit import HeldOut, fit
from ._gram import GramData, adam_gram
from ._recipes import Budget

PROTOCOLS = ("fixed", "fresh")  # a fixed training set; a fresh one every epoch (Raventós et al. 2023)


@dataclass(frozen=True)
class FixedSet:
    """A fixed training set of R repeats: explicit prompts X (R, P, D+1, N+1) (numpy or torch) or
    their PromptStats, labels y (R, P), and/or the spin-glass features (R, P, ·) of the same prompts
    (what an architecture trained on the Gram form reads; computed from X, y when left out);
    ``held_out`` = (X', y'): prompts watched for the best epoch (a budget with ``val_prompts``)."""

    X: Any = None
    y: Any = None
    features: Features | None = None
    held_out: tuple[Any, Any] | None = None

    @property
    def repeats(self) -> int:
        return int(np.shape(self.y)[0]) if self.y is not None else int(self.gram_features().a.shape[0])

    @property
    def D(self) -> int:
        if self.features is not None:
            return self.features.D
        if isinstance(self.X, PromptStats):
            return int(self.X.b.shape[-1]) - 1
        return int(np.shape(self.X)[-2]) - 1

    def gram_features(self) -> Features:
        if self.features is not None:
            return self.features
        if self.X is None or isinstance(self.X, PromptStats):
            raise V.InputError("training on the Gram form needs the features or the explicit prompts X")
        X = np.asarray(self.X.detach().cpu() if isinstance(self.X, torch.Tensor) else self.X, float)
        y = np.asarray(self.y.detach().cpu() if isinstance(self.y, torch.Tensor) else self.y, float)
        return features_from_prompts(Prompts(X=X, y=y, w=np.empty(X.shape[:-2] + (0,))))


@dataclass
class PoolSampler:
    """Fresh training prompts for R repeats (Raventós et al. 2023): each call draws P prompts per repeat,
    their tasks uniform over the repeat's pool ``pools[r]`` (M, D) -- or a fresh task per prompt when
    ``pools`` is None (M = ∞) --, tokens and labels as ``spec`` says (its task_pool is not used).  All
    draws come from ``rng`` (the point's own generator), so a run is reproducible whatever runs beside it.
    ``held_out`` as for :class:`FixedSet`."""

    spec: PromptSpec
    pools: np.ndarray | None
    P: int
    repeats: int
    rng: np.random.Generator
    held_out: tuple[Any, Any] | None = None
    draws: int = field(default=0, init=False)

    @property
    def D(self) -> int:
        return self.spec.D

    def __post_init__(self) -> None:
        self.P = V.positive_int("P", self.P)
        self.repeats = V.positive_int("repeats", self.repeats)
        if self.pools is not None:
            self.pools = V.array("pools", self.pools, ndim=3)
            if self.pools.shape[0] != self.repeats or self.pools.shape[2] != self.spec.D or self.pools.shape[1] < 1:
                raise V.InputError(
                    f"pools must have shape ({self.repeats}, M, {self.spec.D}) with M >= 1, got {self.pools.shape}"
                )

    @property
    def M(self) -> int:
        """The number of tasks in each pool; 0 means a fresh task per prompt."""
        return 0 if self.pools is None else int(self.pools.shape[1])

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        """The next training set: X (R, P, D+1, N+1), y (R, P)."""
        Xs, ys = [], []
        for r in range(self.repeats):
            if self.pools is None:
                w = self.spec.sigma_w * self.rng.standard_normal((self.P, self.spec.D))
            else:
                w = self.pools[r][self.rng.integers(0, self.pools.shape[1], size=self.P)]
            q = prompts_for_tasks(self.spec, w, self.rng)
            Xs.append(q.X)
            ys.append(q.y)
        self.draws += 1
        return np.stack(Xs), np.stack(ys)

    def sequences_per_task(self) -> float:
        """Training sequences drawn so far per pool task (∞ pools: NaN)."""
        return self.draws * self.P / self.M if self.M else float("nan")


@dataclass
class Trained:
    """A trained architecture (R repeats): the torch ``model`` or, for one trained on the Gram form, its
    merged spin weights ``W`` (R, D+1, D+1); the final training loss (R,) and the trainer's record
    (``fit``'s FitResult or ``adam_gram``'s TrainResult); ``sequences``: training sequences seen per repeat."""

    arch: Architecture
    model: nn.Module | None
    W: np.ndarray | None
    train_loss: np.ndarray
    record: Any
    sequences: int

    def predict(
        self, X: np.ndarray | None = None, *, features: Features | None = None, prompt_block: int = 0
    ) -> np.ndarray:
        """Predictions ŷ (R, P) (float64 numpy) on explicit prompts X (R, P, D+1, N+1) or, for a Gram-trained
        model, on their features; the model is run over blocks of ``prompt_block`` prompts (0: all at once)."""
        if self.W is not None:
            if features is not None:
                return predict(self.W, features)
            if X is None:
                raise V.InputError(f"{self.arch.name} predicts from explicit prompts X or their features")
            return predict(self.W, FixedSet(X, np.zeros(X.shape[:-2])).gram_features())
        if X is None or self.model is None:
            raise V.InputError(f"{self.arch.name} predicts from explicit prompts X")
        ref = next(self.model.parameters())
        step = prompt_block or X.shape[1]
        with torch.no_grad():
            parts = [
                self.model(torch.as_tensor(X[:, s : s + step], dtype=ref.dtype, device=ref.device))
                for s in range(0, X.shape[1], step)
            ]
        return torch.cat(parts, dim=1).cpu().double().numpy()

    def error(
        self, X: Any = None, y: Any = None, *, features: Features | None = None, prompt_block: int | None = None
    ) -> np.ndarray:
        """Mean squared query error per repeat (R,) (float64 numpy) on prompts X (or PromptStats), labels y --
        or the features of the same prompts for a Gram-trained model; blocks of ``prompt_block`` prompts."""
        if self.W is not None:
            return query_error(self.W, features if features is not None else FixedSet(X, y).gram_features())
        if self.model is None:
            raise V.InputError(f"{self.arch.name} has neither a model nor spin weights")
        block = None if self.arch.accepts_stats else prompt_block  # statistics need no blocks
        return mse(self.model, X, y, prompt_block=block).cpu().double().numpy()

    def spin_report(self, test: Features, ground_state: np.ndarray) -> dict[str, np.ndarray]:
        """For an architecture with a spin-model projection, (R,) arrays: ``proj_test`` (test error of its
        W_eff on ``test``), ``contrast`` and ``distance`` to ``ground_state`` (:func:`projection_report`);
        {} otherwise."""
        if self.W is not None:
            return {
                "proj_test": query_error(self.W, test),
                "contrast": contrast_ratio(self.W),
                "distance": relative_distance(self.W, ground_state),
            }
        if self.model is None or not self.arch.projected:
            return {}
        return projection_report(self.model, test, ground_state)


def training_inputs(arch: Architecture | str, X: Any, dtype: str | torch.dtype, device: str) -> Any:
    """Explicit prompts X (R or 1, P, D+1, N+1) as ``arch`` trains on a fixed set of them: None for an
    architecture trained on the Gram form (it reads the features), PromptStats if it accepts them, else a
    tensor of ``dtype`` on ``device`` (PromptStats and tensors are passed through)."""
    a = get(arch) if isinstance(arch, str) else arch
    if a.gram:
        return None
    if isinstance(X, (PromptStats, torch.Tensor)):
        return X
    dt = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    if a.accepts_stats:
        return PromptStats.from_prompts(X, dtype=dt, device=device)
    return torch.as_tensor(X, dtype=dt, device=device)


def _model_inputs(arch: Architecture, X: Any, dtype: torch.dtype, device: str) -> Any:
    """Explicit prompts as the (torch-trained) architecture reads them: PromptStats if it accepts them."""
    if isinstance(X, PromptStats) or not arch.accepts_stats:
        return X
    return PromptStats.from_prompts(X, dtype=dtype, device=device)


def train(
    arch: Architecture | str,
    data: FixedSet | PoolSampler,
    budget: Budget,
    *,
    generator: torch.Generator,
    device: str = "cpu",
    dtype: str = "float32",
    options: Mapping[str, Any] | None = None,
    prompt_block: int | None = None,
) -> Trained:
    """Train the R stacked repeats of ``data`` (a :class:`FixedSet` or a :class:`PoolSampler`, with its
    held-out prompts) on registered architecture ``arch`` with ``budget``, initialised from ``generator``
    in ``dtype`` on ``device``; ``options`` go to the model class, ``prompt_block`` (prompts per gradient
    block) bounds the memory of explicit-prompt gradients.  See the module docstring for what runs; returns a
    :class:`Trained`."""
    a = get(arch) if isinstance(arch, str) else arch
    if not isinstance(data, (FixedSet, PoolSampler)):
        raise V.InputError(f"training data must be a FixedSet or a PoolSampler, got {type(data).__name__}")
    V.choice("dtype", dtype, ("float32", "float64"))
    D, R = data.D, data.repeats
    held_out = data.held_out
    if a.gram and isinstance(data, FixedSet):
        return _train_gram(a, data, budget, D, R, generator, device, dtype)
    tdtype = getattr(torch, dtype)
    model = make_model(a.name, D, R, generator=generator, dtype=tdtype, device=device, **dict(options or {}))
    block = None if a.accepts_stats else (prompt_block or None)
    watch = HeldOut(_model_inputs(a, held_out[0], tdtype, device), held_out[1]) if held_out is not None else None
    if isinstance(data, PoolSampler):
        res = fit(model, data, None, budget, generator=generator, held_out=watch, prompt_block=prompt_block or None)
        P = data.P
    else:
        X = _model_inputs(a, data.X, tdtype, device)
        res = fit(model, X, data.y, budget, generator=generator, held_out=watch, prompt_block=block)
        P = int(np.shape(data.y)[-1])
    return Trained(a, model, None, res.train_loss[:, -1], res, _sequences(budget, P))


def _sequences(budget: Budget, P: int) -> int:
    return (budget.epochs + budget.curriculum_epochs) * P


def _train_gram(
    a: Architecture, data: FixedSet, budget: Budget, D: int, R: int, generator: torch.Generator, device: str, dtype: str
) -> Trained:
    """Full-batch Adam on the Gram form of the merged model's loss, from the paper's initialisation."""
    f = data.gram_features()
    tr = adam_gram(
        GramData.from_spinglass(SpinGlass(f, 0.0), dtype=dtype, device=device),
        [paper_init((R, D + 1, D + 1), D, generator, torch.float64)],
        lr=budget.lr,
        epochs=budget.epochs,
        weight_decay=budget.weight_decay,
    )
    W = np.asarray(tr.W).reshape(R, D + 1, D + 1)
    return Trained(a, None, W, tr.train_loss[:, -1], tr, _sequences(budget, f.P))


__all__ = ["PROTOCOLS", "FixedSet", "PoolSampler", "Trained", "train", "training_inputs"]
