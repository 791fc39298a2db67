"""Simplified linear attention (docs/theory.md#model), stacked over R independent repeats.

Merged:   F(X) = (X Xᵀ) W X / (N+1),                 W ∈ R^{(D+1)×(D+1)}
Separate: F(X) = X (W_q X)ᵀ (W_k X) / (N+1),          W_q, W_k ∈ R^{d_k×(D+1)},  merged W = W_qᵀ W_k
Prediction ŷ = F(X)[D+1, N+1] = s·W (see :mod:`spinglass_icl.features`); ``merged_weight()`` gives
the equivalent spin configuration W (R, D+1, D+1).  Initialisation as in the paper:
entries ~ N(0, 1/(D+1)).
"""

from __future__ import annotations

import torch
from torch import nn

from .layers import StackedModel, as_dtype, key_width, paper_init


class MergedSLA(StackedModel):
    """Merged simplified linear attention, parameters W: (R, D+1, D+1)."""

    name = "sla"

    def __init__(
        self,
        D: int,
        repeats: int = 1,
        *,
        generator: torch.Generator,
        dtype: str | torch.dtype = torch.float32,
        device: str = "cpu",
    ):
        super().__init__(D, repeats)
        self.W = nn.Parameter(paper_init((repeats, D + 1, D + 1), D, generator, as_dtype(dtype), device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        F = (X @ X.transpose(-1, -2)) @ self.W[:, None] @ X / X.shape[-1]
        return F[..., -1, -1]

    def merged_weight(self) -> torch.Tensor:
        return self.W


class SeparateSLA(StackedModel):
    """Simplified linear attention with separate query/key matrices W_q, W_k: (R, d_k, D+1)."""

    name = "sla-separate"

    def __init__(
        self,
        D: int,
        repeats: int = 1,
        *,
        generator: torch.Generator,
        d_k: int | None = None,
        dtype: str | torch.dtype = torch.float32,
        device: str = "cpu",
    ):
        super().__init__(D, repeats)
        self.d_k = key_width(d_k, D)
        shape = (repeats, self.d_k, D + 1)
        self.Wq = nn.Parameter(paper_init(shape, D, generator, as_dtype(dtype), device))
        self.Wk = nn.Parameter(paper_init(shape, D, generator, as_dtype(dtype), device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        F = X @ (self.Wq[:, None] @ X).transpose(-1, -2) @ (self.Wk[:, None] @ X) / X.shape[-1]
        return F[..., -1, -1]

    def merged_weight(self) -> torch.Tensor:
        return self.Wq.transpose(-1, -2) @ self.Wk
