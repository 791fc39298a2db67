"""Evaluating trained stacked-repeat models: the per-repeat query error on prompts, and the spin-model
view of a model that projects onto W (its test error, contrast ratio and distance to the ground state)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from .. import validation as V
from ..metrics import contrast_ratio, query_error, relative_distance
from ..models.layers import PromptStats
from ..models.registry import effective_weight
from ..prompts import Features

Prompts = torch.Tensor | PromptStats


def as_tensor(x: Any, ref: torch.Tensor) -> torch.Tensor:
    """``x`` as a tensor on ref's dtype and device."""
    return torch.as_tensor(x, dtype=ref.dtype, device=ref.device)


def as_prompts(model: nn.Module, X: Any, ref: torch.Tensor) -> Prompts:
    """Explicit prompts as a tensor, or PromptStats (for the models that accept them), on ref's
    dtype and device."""
    if isinstance(X, PromptStats):
        if not getattr(model, "accepts_stats", False):
            raise V.InputError(
                f"model {getattr(model, 'name', type(model).__name__)!r} needs explicit prompts X; "
                "PromptStats are for the models that accept them (FLA, MHLA)"
            )
        return X.to(ref.dtype, ref.device)
    return as_tensor(X, ref)


def axes(X: Prompts) -> tuple[int, int]:
    """(repeats or 1, P) of explicit prompts or PromptStats."""
    return (X.repeats, X.n_prompts) if isinstance(X, PromptStats) else (int(X.shape[0]), int(X.shape[1]))


def take(X: Prompts, idx: slice | torch.Tensor) -> Prompts:
    """Prompts ``idx`` (slice or index tensor) of every repeat."""
    return X.take(idx) if isinstance(X, PromptStats) else X[:, idx]


@torch.no_grad()
def mse(model: nn.Module, X: Any, y: Any, *, prompt_block: int | None = None, chunk: int | None = None) -> torch.Tensor:
    """Per-repeat mean squared query error (R,) on prompts X (R or 1, P, D+1, N+1) or their
    PromptStats, y (R or 1, P), evaluated over blocks of ``prompt_block`` prompts (memory bound; None: all at
    once); stays on the model's device.  ``chunk`` is the deprecated name of ``prompt_block``."""
    if chunk is not None:
        prompt_block = V.renamed_keyword("mse", "chunk", "prompt_block", chunk)
    ref = next(model.parameters())
    X, y = as_prompts(model, X, ref), as_tensor(y, ref)
    P = axes(X)[1]
    step = prompt_block or P
    total = torch.zeros((), dtype=ref.dtype, device=ref.device)
    for s in range(0, P, step):
        total = total + ((model(take(X, slice(s, s + step))) - y[:, s : s + step]) ** 2).sum(-1)
    return total / P


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
