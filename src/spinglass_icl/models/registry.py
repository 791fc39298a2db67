"""One registry of architectures: everything figS8 and the CLI need to know about a model.

Adding an architecture = one class (a :class:`~.layers.StackedModel`: parameters with the repeat
axis first, ``forward(X) -> ŷ (R, P)``) + one :func:`register` call with an :class:`Architecture`.
:func:`make_model` builds any registered model by name; figS8 iterates :func:`architectures`.
An architecture's training recipes (``quick``/``full``) are plain data here -- a
:class:`~spinglass_icl.Budget` or a mapping of its fields -- read by
:func:`spinglass_icl.training.recipe`: the model layer does not import training.  This module imports no
torch: the project's classes are named by module and class (:class:`Lazy`) and imported when built, so the
CLI reads every architecture's parameters without torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import validation as V

if TYPE_CHECKING:  # torch is imported when a model is built, not to read the registry
    import numpy as np
    import torch
    from torch import nn

    from ..training import Budget


@dataclass(frozen=True)
class Architecture:
    """A registered architecture.

    name: registry key (also ``model.name``); label, marker: for figures; ``build(D, repeats, *, generator,
    dtype, device, **options)`` -> model (a class, or a :class:`~spinglass_icl.models.registry.Lazy` naming
    one); linear: linear attention (its prediction is linear in the label-weighted features); projected: has
    ``merged_weight()`` (a spin-model projection W_eff); accepts_stats: accepts :class:`~.layers.PromptStats`;
    gram: trained on the Gram form of the loss (merged SLA, :func:`~spinglass_icl.adam_gram`); quick/full: the
    training recipes at figS8's two sizes (a :class:`~spinglass_icl.Budget` or a mapping of its
    fields, e.g. ``{"lr": 0.02, "epochs": 500}``; read with
    :func:`spinglass_icl.training.recipe`) and
    quick_options/full_options the model options there; option_ranges: the integer model options a run may set
    (``<name>_<option>``, 0 = the class default), each with its (lowest, highest) value; in_figure: drawn by
    default in figS8.
    """

    name: str
    label: str
    marker: str
    build: Callable[..., nn.Module]
    linear: bool
    projected: bool
    accepts_stats: bool
    quick: Budget | Mapping[str, Any]
    full: Budget | Mapping[str, Any]
    quick_options: Mapping[str, Any] = field(default_factory=dict)
    full_options: Mapping[str, Any] = field(default_factory=dict)
    gram: bool = False
    in_figure: bool = True
    option_ranges: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def recipe(self, size: str) -> Budget | Mapping[str, Any]:
        """The declared training recipe at ``size`` as given (see :func:`spinglass_icl.training.recipe`)."""
        return self.quick if size == "quick" else self.full

    def options(self, size: str) -> Mapping[str, Any]:
        return self.quick_options if size == "quick" else self.full_options


@dataclass(frozen=True)
class Lazy:
    """A model class named by its module (of this package) and name, imported when first called: the
    ``build`` of the project's own architectures."""

    module: str
    name: str

    def __call__(self, *args: Any, **kwargs: Any) -> nn.Module:
        cls: Callable[..., nn.Module] = getattr(importlib.import_module(self.module, __package__), self.name)
        return cls(*args, **kwargs)


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
    dtype: str | torch.dtype = "float32",
    device: str = "cpu",
    **options: Any,
) -> nn.Module:
    """Build registered model ``name`` for R = ``repeats`` stacked repeats; options go to its class
    (FLA: value; MHLA: heads, d_k, value; SA: d_k; TF: d_model, layers, heads;
    lintf: layers; sla-separate: d_k)."""
    from .layers import as_dtype

    return get(name).build(D, repeats, generator=generator, dtype=as_dtype(dtype), device=device, **options)


def effective_weight(model: nn.Module) -> np.ndarray:
    """The spin configuration W (R, D+1, D+1) a linear-attention model projects onto (float64)."""
    if not hasattr(model, "merged_weight"):
        raise V.InputError(f"model {getattr(model, 'name', type(model).__name__)!r} has no spin-model projection")
    return model.merged_weight().detach().cpu().double().numpy()  # type: ignore[operator]


# -- the six architectures of the project ------------------------------------------------------------
# Quick budgets (D=4, P=600, figS8 --quick): full-batch Adam lr 0.02, wd 0.01, 500 epochs (TF 150, its
# cost is 20-50x the others'), as before the registry.  Full: D=20, P=10000.  SLA (Gram form, cheap at any budget)
# keeps the paper's fig4b budget (lr 1e-3, 5000 full-batch epochs, wd 0.01).  FLA/MHLA: minibatches of
# 500 with a cosine decay, 100 epochs (2000 steps), wd 0.01: the same test error as 5000 (or 2000)
# full-batch epochs to 1e-3 at N=10 and 1e-4 at N=100, 11-15x cheaper (REPRODUCTION.md, figS8).  SA/TF:
# the recipe study there (without weight decay, which holds them on the ŷ ≈ const plateau; TF with a
# curriculum over N: 16 epochs on the first N/4 context examples, then 6 on the whole prompts, each stage
# keeping its epoch of lowest loss on 1000 held-out prompts).
_LIN_QUICK = {"lr": 0.02, "epochs": 500}
_LIN_FULL = {"lr": 1e-2, "epochs": 100, "batch_size": 500, "schedule": "cosine", "weight_decay": 0.01}
register(
    Architecture(
        "sla",
        "SLA (merged)",
        "s",
        Lazy(".sla", "MergedSLA"),
        linear=True,
        projected=True,
        accepts_stats=False,
        gram=True,
        quick=_LIN_QUICK,
        full={"lr": 1e-3, "epochs": 5000},
    )
)
register(
    Architecture(
        "sla-separate",
        "SLA (separate W_q, W_k)",
        "x",
        Lazy(".sla", "SeparateSLA"),
        linear=True,
        projected=True,
        accepts_stats=False,
        quick=_LIN_QUICK,
        full={"lr": 1e-3, "epochs": 5000},
        in_figure=False,
    )
)
register(
    Architecture(
        "fla",
        "FLA",
        "^",
        Lazy(".linear", "FLA"),
        linear=True,
        projected=True,
        accepts_stats=True,
        quick=_LIN_QUICK,
        full=_LIN_FULL,
    )
)
register(
    Architecture(
        "mhla",
        "MHLA",
        "v",
        Lazy(".linear", "MHLA"),
        linear=True,
        projected=True,
        accepts_stats=True,
        quick=_LIN_QUICK,
        full=_LIN_FULL,
        quick_options={"heads": 2},
        full_options={"heads": 2},
        option_ranges={"heads": (1, 64)},
    )
)
register(
    Architecture(
        "sa",
        "SA (softmax)",
        "D",
        Lazy(".softmax", "SA"),
        linear=False,
        projected=False,
        accepts_stats=False,
        quick=_LIN_QUICK,
        full={"lr": 3e-2, "epochs": 30, "batch_size": 500, "schedule": "cosine", "warmup": 3, "weight_decay": 0.0},
    )
)
register(
    Architecture(
        "tf",
        "TF (pre-LN)",
        "P",
        Lazy(".softmax", "TF"),
        linear=False,
        projected=False,
        accepts_stats=False,
        quick={"lr": 0.02, "epochs": 150},
        quick_options={"d_model": 8},
        full={
            "lr": 3e-3,
            "epochs": 6,
            "batch_size": 100,
            "schedule": "cosine",
            "warmup": 1,
            "weight_decay": 0.0,
            "curriculum_epochs": 16,
            "curriculum_frac": 0.25,
            "val_prompts": 1000,
        },
        full_options={"d_model": 32},
        option_ranges={"d_model": (1, 1024), "layers": (1, 16), "heads": (1, 64)},
    )
)
LINTF_MAX_LAYERS = 64  # LinearTransformer.MAX_LAYERS (models.linear; a test checks they agree)
# The L-layer residual linear-attention transformer (von Oswald et al. 2023): not in figS8 by default.  Full:
# the diversity recipe study (REPRODUCTION.md, D = 4, N = 8, fresh prompts): 2 layers, 3000 steps of 100 at
# lr 1e-2 (cosine) -- 2.9-3.0 × ridge at M = ∞ against 3.4 × for one layer; 4 layers diverged in one of two
# repeats at this lr.
register(
    Architecture(
        "lintf",
        "linear TF (L layers)",
        "h",
        Lazy(".linear", "LinearTransformer"),
        linear=False,
        projected=False,
        accepts_stats=False,
        quick={"lr": 0.01, "epochs": 300, "weight_decay": 0.0},
        full={"lr": 1e-2, "epochs": 30, "batch_size": 100, "schedule": "cosine", "warmup": 2, "weight_decay": 0.0},
        quick_options={"layers": 2},
        full_options={"layers": 2},
        in_figure=False,
        option_ranges={"layers": (1, LINTF_MAX_LAYERS)},
    )
)
