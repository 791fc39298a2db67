"""One registry of architectures: everything figS8 and the CLI need to know about a model.

Adding an architecture = one class (a :class:`~.layers.StackedModel`: parameters with the repeat
axis first, ``forward(X) -> ŷ (R, P)``) + one :func:`register` call with an :class:`Architecture`.
:func:`make_model` builds any registered model by name; figS8 iterates :func:`architectures`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import validation as V
from ..metrics import contrast_ratio, query_error, relative_distance
from ..prompts import Features
from .layers import as_dtype
from .linear import FLA, MHLA
from .sla import MergedSLA, SeparateSLA
from .softmax import SA, TF

SCHEDULES = ("constant", "cosine", "linear")


@dataclass(frozen=True)
class Budget:
    """A training recipe: Adam with learning rate ``lr`` for ``epochs`` passes over the P prompts,
    minibatches of ``batch_size`` prompts (0 = full batch), an lr ``schedule`` after ``warmup``
    epochs of linear warm-up, and PyTorch-style ``weight_decay`` (gradient += wd·θ).  With
    ``curriculum_epochs`` > 0 these are preceded by that many epochs on prompts cut to their first
    ``curriculum_frac``·N context examples (a curriculum over N; explicit prompts only).  With
    ``val_prompts`` > 0, that many held-out prompts (fresh tasks) are drawn besides the training set
    and the parameters of the epoch with the lowest held-out loss are kept (in each stage)."""

    lr: float
    epochs: int
    batch_size: int = 0
    schedule: str = "constant"
    warmup: int = 0
    weight_decay: float = 0.01
    curriculum_epochs: int = 0
    curriculum_frac: float = 0.25
    val_prompts: int = 0

    def check(self, P: int, who: str = "budget") -> Budget:
        """Refuse a budget that cannot run on P training prompts (InputError naming the field)."""
        V.positive(f"{who} lr", self.lr)
        V.positive_int(f"{who} epochs", self.epochs)
        V.nonneg(f"{who} weight_decay", self.weight_decay)
        V.choice(f"{who} schedule", self.schedule, SCHEDULES)
        for name in ("batch_size", "warmup", "curriculum_epochs", "val_prompts"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise V.InputError(f"{who} {name} must be an integer >= 0, got {value!r}")
        if self.batch_size > P:
            raise V.InputError(
                f"{who} batch_size={self.batch_size} is larger than P={P} training prompts; "
                "use at most P (or 0 for full batch)"
            )
        if self.warmup >= self.epochs:
            raise V.InputError(f"{who} warmup={self.warmup} must be smaller than epochs={self.epochs}")
        if self.curriculum_epochs:
            if not 0 < self.curriculum_frac <= 1:
                raise V.InputError(f"{who} curriculum_frac={self.curriculum_frac!r} must be in (0, 1]")
            if self.warmup >= self.curriculum_epochs:
                raise V.InputError(
                    f"{who} warmup={self.warmup} must be smaller than curriculum_epochs={self.curriculum_epochs}"
                )
        return self

    def fit_kwargs(self) -> dict:
        """The keyword arguments of :func:`spinglass_icl.training.fit` for this budget."""
        return dict(
            lr=self.lr,
            epochs=self.epochs,
            batch_size=self.batch_size or None,
            schedule=self.schedule,
            warmup=self.warmup,
            weight_decay=self.weight_decay,
            curriculum_epochs=self.curriculum_epochs,
            curriculum_frac=self.curriculum_frac,
        )


@dataclass(frozen=True)
class Architecture:
    """A registered architecture.

    name: registry key (also ``model.name``); label, marker: for figures; build(D, repeats, *,
    generator, dtype, device, **options) -> model; linear: linear attention (its prediction is
    linear in the label-weighted features); projected: has ``merged_weight()`` (a spin-model
    projection W_eff); accepts_stats: accepts :class:`~.layers.PromptStats`; gram: trained on the
    Gram form of the loss (merged SLA, :func:`spinglass_icl.training.adam_gram`); quick/full: the
    default budgets and model options at figS8's two sizes; in_figure: drawn by default in figS8.
    """

    name: str
    label: str
    marker: str
    build: Callable[..., nn.Module]
    linear: bool
    projected: bool
    accepts_stats: bool
    quick: Budget
    full: Budget
    quick_options: Mapping[str, Any] = field(default_factory=dict)
    full_options: Mapping[str, Any] = field(default_factory=dict)
    gram: bool = False
    in_figure: bool = True

    def budget(self, size: str) -> Budget:
        return self.quick if size == "quick" else self.full

    def options(self, size: str) -> Mapping[str, Any]:
        return self.quick_options if size == "quick" else self.full_options


_REGISTRY: dict[str, Architecture] = {}


def register(arch: Architecture) -> Architecture:
    """Add ``arch`` to the registry (its name must be new); returns it."""
    if arch.name in _REGISTRY:
        raise V.InputError(f"architecture {arch.name!r} is already registered")
    if not arch.name.replace("_", "").replace("-", "").isalnum() or arch.name != arch.name.lower():
        raise V.InputError(f"architecture name {arch.name!r} must be lower-case letters, digits, _ and -")
    _REGISTRY[arch.name] = arch
    return arch


def unregister(name: str) -> None:
    """Remove a registered architecture (for tests that register a temporary one)."""
    _REGISTRY.pop(get(name).name)


def names(**flags: bool) -> tuple[str, ...]:
    """Registered names in registration order, filtered by flags, e.g. ``names(in_figure=True)``."""
    return tuple(a.name for a in _REGISTRY.values() if all(getattr(a, k) == v for k, v in flags.items()))


def architectures(**flags: bool) -> tuple[Architecture, ...]:
    return tuple(_REGISTRY[n] for n in names(**flags))


def get(name: str) -> Architecture:
    """The registered architecture ``name`` (InputError listing the registered names otherwise)."""
    if name not in _REGISTRY:
        raise V.InputError(f"unknown model {name!r}; registered architectures: {', '.join(_REGISTRY)}")
    return _REGISTRY[name]


def make_model(
    name: str,
    D: int,
    repeats: int = 1,
    *,
    generator: torch.Generator,
    dtype: str | torch.dtype = torch.float32,
    device: str = "cpu",
    **options,
) -> nn.Module:
    """Build registered model ``name`` for R = ``repeats`` stacked repeats; options go to its class
    (FLA: value; MHLA: heads, d_k, value; SA: d_k; TF: d_model, layers, heads, mlp_ratio;
    sla-separate: d_k)."""
    return get(name).build(D, repeats, generator=generator, dtype=as_dtype(dtype), device=device, **options)


def effective_weight(model: nn.Module) -> np.ndarray:
    """The spin configuration W (R, D+1, D+1) a linear-attention model projects onto (float64)."""
    if not hasattr(model, "merged_weight"):
        raise V.InputError(f"model {getattr(model, 'name', type(model).__name__)!r} has no spin-model projection")
    return model.merged_weight().detach().cpu().double().numpy()  # type: ignore[operator]


def projection_report(model: nn.Module, test: Features, ground_state: np.ndarray) -> dict[str, np.ndarray]:
    """Spin-model view of a trained model with a projection, arrays of shape (R,).

    ``proj_test``: test error of W_eff alone on ``test`` (features (R, P, ·)); ``contrast``:
    contrast ratio of W_eff; ``distance``: |W_eff − W*|_F/|W*|_F to ``ground_state`` W*
    (R, D+1, D+1) or flat (R, K).
    """
    W = effective_weight(model)
    return {
        "proj_test": query_error(W, test),
        "contrast": contrast_ratio(W),
        "distance": relative_distance(W, ground_state),
    }


# -- the six architectures of the project ------------------------------------------------------------
# Quick budgets (D=4, P=600, figS8 --quick): full-batch Adam lr 0.02, wd 0.01, 500 epochs (TF 150, its
# cost is 20-50x the others'), as before the registry.  Full: D=20, P=10000.  SLA (Gram form, cheap at any budget)
# keeps the paper's fig4b budget (lr 1e-3, 5000 full-batch epochs, wd 0.01).  FLA/MHLA: minibatches of
# 500 with a cosine decay, 100 epochs (2000 steps), wd 0.01: the same test error as 5000 (or 2000)
# full-batch epochs to 1e-3 at N=10 and 1e-4 at N=100, 11-15x cheaper (REPRODUCTION.md, figS8).  SA/TF:
# the recipe study there (without weight decay, which holds them on the ŷ ≈ const plateau; TF with a
# curriculum over N: 16 epochs on the first N/4 context examples, then 6 on the whole prompts, each stage
# keeping its epoch of lowest loss on 1000 held-out prompts).
_LIN_QUICK = Budget(lr=0.02, epochs=500)
_LIN_FULL = Budget(lr=1e-2, epochs=100, batch_size=500, schedule="cosine", weight_decay=0.01)
register(
    Architecture(
        "sla",
        "SLA (merged)",
        "s",
        MergedSLA,
        linear=True,
        projected=True,
        accepts_stats=False,
        gram=True,
        quick=_LIN_QUICK,
        full=Budget(lr=1e-3, epochs=5000),
    )
)
register(
    Architecture(
        "sla-separate",
        "SLA (separate W_q, W_k)",
        "x",
        SeparateSLA,
        linear=True,
        projected=True,
        accepts_stats=False,
        quick=_LIN_QUICK,
        full=Budget(lr=1e-3, epochs=5000),
        in_figure=False,
    )
)
register(
    Architecture(
        "fla", "FLA", "^", FLA, linear=True, projected=True, accepts_stats=True, quick=_LIN_QUICK, full=_LIN_FULL
    )
)
register(
    Architecture(
        "mhla",
        "MHLA",
        "v",
        MHLA,
        linear=True,
        projected=True,
        accepts_stats=True,
        quick=_LIN_QUICK,
        full=_LIN_FULL,
        quick_options={"heads": 2},
        full_options={"heads": 2},
    )
)
register(
    Architecture(
        "sa",
        "SA (softmax)",
        "D",
        SA,
        linear=False,
        projected=False,
        accepts_stats=False,
        quick=_LIN_QUICK,
        full=Budget(lr=3e-2, epochs=30, batch_size=500, schedule="cosine", warmup=3, weight_decay=0.0),
    )
)
register(
    Architecture(
        "tf",
        "TF (pre-LN)",
        "P",
        TF,
        linear=False,
        projected=False,
        accepts_stats=False,
        quick=Budget(lr=0.02, epochs=150),
        quick_options={"d_model": 8},
        full=Budget(
            lr=3e-3,
            epochs=6,
            batch_size=100,
            schedule="cosine",
            warmup=1,
            weight_decay=0.0,
            curriculum_epochs=16,
            curriculum_frac=0.25,
            val_prompts=1000,
        ),
        full_options={"d_model": 32},
    )
)
