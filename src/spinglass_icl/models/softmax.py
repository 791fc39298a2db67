"""Softmax-attention models (docs/theory.md#experiments), stacked over R repeats.

* SA, single-layer softmax attention; the query attends to the N context tokens:
  α_i = softmax_i((W^K X_i)·(W^Q b)/√d_k),  F_q = b + W^V Σ_{i≤N} α_i X_i,  ŷ = F_q[D+1].
* TF, pre-LayerNorm transformer: h⁰_t = W_in X_t + b_in (t = 1..N+1, no positional code); L blocks
  h ← h + MHSA(LN(h)), h ← h + MLP(LN(h)) with softmax attention in which every position attends
  to the N context positions (keys/values from tokens 1..N), scale 1/√d_head, MLP d → 4d → d with
  GELU; readout ŷ = w_outᵀ LN(h^L_{N+1}) + b_out.  The last block is evaluated at the query
  position only (nothing else reaches the readout).

Initialisation: SA's W^Q, W^K, W^V entries N(0, 1/(D+1)) (the paper's attention init); TF linear
layers N(0, 1/fan_in), biases 0, LayerNorm gains 1 and biases 0.  Neither has a spin-model
projection; both need explicit prompts.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import nn
from torch.nn import functional as Fn

from .. import validation as V
from .layers import StackedLayerNorm, StackedLinear, StackedModel, as_dtype, key_width, normal


class SA(StackedModel):
    r"""Single-layer softmax attention; the query attends to the N context tokens.

    α_i = softmax_{i≤N}((W^K X_i)·(W^Q b)/√d_k),  F_q = b + W^V Σ_{i≤N} α_i X_i,
    ŷ = F_q[D+1] = Σ_i α_i (W^V[D+1, :]·X_i).
    W^Q, W^K: (R, d_k, D+1), W^V: (R, D+1, D+1); d_k = D+1 by default.  For small scores
    softmax ≈ (1 + s_i − s̄)/N, so SA contains linear attention to first order (but it is not an
    exact spin model: no projection).
    """

    name = "sa"

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
        dtype = as_dtype(dtype)
        self.d_k = key_width(d_k, D)
        s = 1 / math.sqrt(D + 1)
        self.Wq = nn.Parameter(normal((repeats, self.d_k, D + 1), s, generator, dtype, device))
        self.Wk = nn.Parameter(normal((repeats, self.d_k, D + 1), s, generator, dtype, device))
        self.Wv = nn.Parameter(normal((repeats, D + 1, D + 1), s, generator, dtype, device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        kq = self.Wk.transpose(-1, -2) @ self.Wq  # (R, D+1, D+1)
        r = torch.bmm(X[..., -1], kq.transpose(-1, -2))  # (W^Kᵀ W^Q b)ᵀ: scores cost O(D·N)
        # Products with the contiguous X, then drop the query column: slicing X first would make
        # matmul copy the whole prompt tensor on every call.
        scores = (r[:, :, None, :] @ X)[:, :, 0, :-1] / math.sqrt(self.d_k)  # (R, P, N)
        vals = (self.Wv[:, None, None, self.D, :] @ X)[:, :, 0, :-1]  # W^V[D+1]·X_i: (R, P, N)
        return (torch.softmax(scores, dim=-1) * vals).sum(-1)


class TF(StackedModel):
    r"""Small pre-LayerNorm transformer (see the module docstring for the exact definition).

    d_model (default 32), layers (2), heads (2, d_head = d_model/heads), MLP width 4·d_model.
    Every position attends to the N context positions; ŷ = w_outᵀ LN(h^L_{N+1}) + b_out.  The
    last block is evaluated at the query position only (nothing else reaches the readout).
    """

    name = "tf"
    MLP_RATIO = 4  # MLP width / d_model (d → 4d → d)

    def __init__(
        self,
        D: int,
        repeats: int = 1,
        *,
        generator: torch.Generator,
        d_model: int = 32,
        layers: int = 2,
        heads: int = 2,
        dtype: str | torch.dtype = torch.float32,
        device: str = "cpu",
    ):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.d_model, self.n_layers, self.heads = (
            V.positive_int("d_model", d_model),
            V.positive_int("layers", layers),
            V.positive_int("heads", heads),
        )
        if d_model % heads:
            raise V.InputError(f"d_model={d_model} must be a multiple of heads={heads}")
        R, d = repeats, d_model
        g = generator
        self.embed = StackedLinear(R, D + 1, d, g, dtype, device)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(
                nn.ModuleDict(
                    dict(
                        ln1=StackedLayerNorm(R, d, dtype, device),
                        qkv=StackedLinear(R, d, 3 * d, g, dtype, device),
                        proj=StackedLinear(R, d, d, g, dtype, device),
                        ln2=StackedLayerNorm(R, d, dtype, device),
                        fc1=StackedLinear(R, d, self.MLP_RATIO * d, g, dtype, device),
                        fc2=StackedLinear(R, self.MLP_RATIO * d, d, g, dtype, device),
                    )
                )
            )
        self.ln_f = StackedLayerNorm(R, d, dtype, device)
        self.readout = StackedLinear(R, d, 1, g, dtype, device)

    def _attend(self, blk: nn.ModuleDict, h: torch.Tensor, n_ctx: int, query_only: bool) -> torch.Tensor:
        """Multi-head attention of (all or the last) positions to the first n_ctx positions."""
        R, P, T, d = h.shape
        H, dh = self.heads, d // self.heads
        q, k, v = blk["qkv"](blk["ln1"](h)).split(d, dim=-1)
        if query_only:
            q = q[:, :, -1:]
        Tq = q.shape[2]
        q = q.reshape(R * P, Tq, H, dh).transpose(1, 2)
        k = k[:, :, :n_ctx].reshape(R * P, n_ctx, H, dh).transpose(1, 2)
        v = v[:, :, :n_ctx].reshape(R * P, n_ctx, H, dh).transpose(1, 2)
        out = Fn.scaled_dot_product_attention(q, k, v)  # softmax(q kᵀ/√dh) v
        return blk["proj"](out.transpose(1, 2).reshape(R, P, Tq, d))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        n_ctx = X.shape[-1] - 1
        h = self.embed(X.transpose(-1, -2))
        for i, module in enumerate(self.blocks):
            blk = cast(nn.ModuleDict, module)
            last = i == len(self.blocks) - 1
            a = self._attend(blk, h, n_ctx, query_only=last)
            h = (h[:, :, -1:] if last else h) + a
            h = h + blk["fc2"](Fn.gelu(blk["fc1"](blk["ln2"](h))))
        return self.readout(self.ln_f(h[:, :, -1]))[..., 0]
