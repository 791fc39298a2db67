"""Simplified linear attention (SPEC §2) as torch modules, stacked over R independent repeats.

Merged:   F(X) = (X Xᵀ) W X / (N+1),                 W ∈ R^{(D+1)×(D+1)}
Separate: F(X) = X (W_q X)ᵀ (W_k X) / (N+1),          W_q, W_k ∈ R^{d_k×(D+1)},  merged W = W_qᵀ W_k
Prediction ŷ = F(X)[D+1, N+1] = s·W (see :mod:`spinglass_icl.features`).
Initialisation as in the paper: entries ~ N(0, 1/(D+1)).

Every module maps prompts X of shape (R, P, D+1, N+1) to predictions (R, P); ``merged_weight()``
gives the equivalent spin configuration W (R, D+1, D+1).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def paper_init(shape: tuple[int, ...], D: int, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> torch.Tensor:
    """Entries ~ N(0, 1/(D+1)), drawn on the CPU from ``generator`` (device-independent values)."""
    return (torch.randn(shape, generator=generator, dtype=torch.float64) / math.sqrt(D + 1)).to(device, dtype)


class MergedSLA(nn.Module):
    """Merged simplified linear attention, parameters W: (R, D+1, D+1)."""

    def __init__(self, D: int, repeats: int = 1, *, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32, device: str = "cpu", W: torch.Tensor | None = None):
        super().__init__()
        self.D = D
        init = W if W is not None else paper_init((repeats, D + 1, D + 1), D, generator, dtype, device)
        self.W = nn.Parameter(init.to(device, dtype).clone())

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        N1 = X.shape[-1]
        F = (X @ X.transpose(-1, -2)) @ self.W[:, None] @ X / N1
        return F[..., -1, -1]

    def merged_weight(self) -> torch.Tensor:
        return self.W


class SeparateSLA(nn.Module):
    """Simplified linear attention with separate query/key matrices W_q, W_k: (R, d_k, D+1)."""

    def __init__(self, D: int, repeats: int = 1, *, d_k: int | None = None,
                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                 device: str = "cpu"):
        super().__init__()
        self.D, self.d_k = D, d_k or D + 1
        shape = (repeats, self.d_k, D + 1)
        self.Wq = nn.Parameter(paper_init(shape, D, generator, dtype, device))
        self.Wk = nn.Parameter(paper_init(shape, D, generator, dtype, device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        N1 = X.shape[-1]
        Q = self.Wq[:, None] @ X
        Kx = self.Wk[:, None] @ X
        F = X @ Q.transpose(-1, -2) @ Kx / N1
        return F[..., -1, -1]

    def merged_weight(self) -> torch.Tensor:
        return self.Wq.transpose(-1, -2) @ self.Wk
