"""Full and multi-head linear attention (docs/theory.md#experiments), stacked over R repeats.

* FLA, one layer:  F(X) = X + W^{PV} X (Xᵀ W^{KQ} X)/(N+1),  W^{PV}, W^{KQ} ∈ R^{(D+1)×(D+1)},  ŷ = F[D+1, N+1].
* MHLA, H heads of width d_k:  F(X) = X + Σ_h W^O_h W^V_h X (Xᵀ W^Q_hᵀ W^K_h X)/(N+1).
* LinearTransformer, L residual layers of linear self-attention over the context (von Oswald et al. 2023).

Both read a prompt only through C = X Xᵀ and b = X[:, N+1], so they accept
:class:`~spinglass_icl.models.layers.PromptStats` (O(D²) per prompt and step instead of O(D·N)); explicit
prompts and statistics go through one readout (``FLA._readout``), which needs only v ↦ X Xᵀ v.
Both project onto the spin model (``merged_weight``): exactly with ``value="label"``, up to the
``off_spin`` term with ``value="full"`` (the default, docs/theory.md#experiments).  Initialisation: attention
matrices N(0, 1/(D+1)) (the paper's), MHLA's W^O N(0, 1/(H d_k)).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import validation as V
from .layers import Explicit, PromptStats, StackedModel, as_dtype, key_width, label_mask, normal, paper_init

VALUES = ("full", "label")


class FLA(StackedModel):
    r"""Full linear attention, one layer, parameters W^{PV}, W^{KQ}: (R, D+1, D+1).

    F(X) = X + W^{PV} X (Xᵀ W^{KQ} X)/(N+1),  ŷ = F(X)[D+1, N+1].

    Projection onto the spin model.  X[D+1, N+1] = 0 and X[:, N+1] = b, so only the label row
    v = W^{PV}[D+1, :] of the value matrix enters the prediction:

        ŷ = Σ_j W^{PV}_{D+1,j} (X Xᵀ W^{KQ} X)_{j,N+1}/(N+1) = vᵀ (X Xᵀ) W^{KQ} b/(N+1).

    Split v = v_{D+1} e_{D+1} + v_⊥ (v_⊥ = first D entries).  The label row of X Xᵀ is
    e_{D+1}ᵀ X Xᵀ = Σ_{i≤N} y_i (x_i; y_i)ᵀ = aᵀ (the query column adds nothing, its label is 0), so

        ŷ = aᵀ (v_{D+1} W^{KQ}) b/(N+1)  +  v_⊥ᵀ (X Xᵀ)_{1:D,:} W^{KQ} b/(N+1)
          = s·W_eff                       +  off-spin term,      W_eff = W^{PV}_{D+1,D+1} W^{KQ}.

    The first term is the merged spin model (docs/theory.md#model) with W = W_eff.  The second involves token
    second moments Σ_i x_i x_iᵀ, which are not in the spin model's features (a, b); it is zero
    when the value reads only the label coordinate (``value="label"``: W^{PV}[:, :D] masked to 0),
    and then ``predict(W_eff, features) == model(X)`` exactly.  For ``value="full"``
    ``model(X) == predict(W_eff, f) + off_spin(X)`` exactly; training drives the off-spin term
    towards 0 because it is, to leading order, a task-independent function of x_q.

    Input: explicit prompts X, or :class:`~spinglass_icl.models.PromptStats` (C = X Xᵀ, b) for the same ŷ and
    gradients at O(D²) per prompt (both through ``_readout``).
    """

    name = "fla"
    accepts_stats = True
    mask: torch.Tensor  # (D+1,) column mask of the value matrix (a buffer)

    def __init__(
        self,
        D: int,
        repeats: int = 1,
        *,
        generator: torch.Generator,
        value: str = "full",
        dtype: str | torch.dtype = torch.float32,
        device: str = "cpu",
    ):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.value = V.choice("value", value, VALUES)
        shape = (repeats, D + 1, D + 1)
        self.Wpv = nn.Parameter(paper_init(shape, D, generator, dtype, device))
        self.Wkq = nn.Parameter(paper_init(shape, D, generator, dtype, device))
        self.register_buffer("mask", label_mask(D, value, dtype, device), persistent=False)

    def _v(self) -> torch.Tensor:
        """Label row of the (masked) value matrix, (R, D+1)."""
        return self.Wpv[:, self.D, :] * self.mask

    def forward(self, X: torch.Tensor | PromptStats) -> torch.Tensor:
        """ŷ (R, P) from explicit prompts X (R or 1, P, D+1, N+1) or their
        :class:`~spinglass_icl.models.PromptStats`."""
        return self._readout(self._data(X), self._v())

    def _readout(self, data: Explicit | PromptStats, v: torch.Tensor) -> torch.Tensor:
        """ŷ = vᵀ (X Xᵀ) W^{KQ} b/(N+1), the one definition used for both kinds of input."""
        z = data.gram_matvec(v[:, None])[:, 0]  # X Xᵀ v: (R, P, D+1)
        Wb = data.b @ self.Wkq.transpose(-1, -2)  # (W b)ᵀ: (R, P, D+1)
        return (z * Wb).sum(-1) / (data.N + 1)

    def full_output(self, X: torch.Tensor) -> torch.Tensor:
        """The whole layer output F(X), (R, P, D+1, N+1) (the definition; for tests)."""
        X = self._check(X)
        Wpv = (self.Wpv * self.mask)[:, None]
        return X + Wpv @ X @ (X.transpose(-1, -2) @ self.Wkq[:, None] @ X) / X.shape[-1]

    def merged_weight(self) -> torch.Tensor:
        """W_eff = W^{PV}_{D+1,D+1} W^{KQ}, (R, D+1, D+1)."""
        return self.Wpv[:, self.D, self.D, None, None] * self.Wkq

    def off_spin(self, X: torch.Tensor | PromptStats) -> torch.Tensor:
        """The part of ŷ outside the spin model, v_⊥ᵀ X Xᵀ W^{KQ} b/(N+1), (R, P)."""
        v = self._v().clone()
        v[:, self.D] = 0
        return self._readout(self._data(X), v)


class MHLA(StackedModel):
    r"""Multi-head linear attention: H heads of width d_k, parameters (R, H, ·, ·).

    F(X) = X + Σ_h W^O_h W^V_h X (Xᵀ W^Q_hᵀ W^K_h X)/(N+1),  ŷ = F(X)[D+1, N+1],
    W^Q_h, W^K_h, W^V_h: (d_k, D+1), W^O_h: (D+1, d_k).  Defaults H = 2, d_k = D+1.

    Projection: per head as for :class:`FLA` with value row v_h = (W^O_h W^V_h)[D+1, :] =
    W^V_hᵀ W^O_h[D+1, :] and key-query matrix W^{KQ}_h = W^Q_hᵀ W^K_h, so

        ŷ = Σ_h v_hᵀ X Xᵀ W^{KQ}_h b/(N+1) = aᵀ W_eff b/(N+1) + off-spin,
        W_eff = Σ_h (v_h)_{D+1} W^{KQ}_h = Σ_h (W^O_h[D+1,:]·W^V_h[:, D+1]) W^Q_hᵀ W^K_h,

    exact (no off-spin term) for ``value="label"`` (W^V_h[:, :D] masked to 0).
    """

    name = "mhla"
    accepts_stats = True
    mask: torch.Tensor  # (D+1,) column mask of the value matrices (a buffer)

    def __init__(
        self,
        D: int,
        repeats: int = 1,
        *,
        generator: torch.Generator,
        heads: int = 2,
        d_k: int | None = None,
        value: str = "full",
        dtype: str | torch.dtype = torch.float32,
        device: str = "cpu",
    ):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.heads = V.positive_int("heads", heads)
        self.d_k = key_width(d_k, D)
        self.value = V.choice("value", value, VALUES)
        R, H, dk, n = repeats, self.heads, self.d_k, D + 1
        s = 1 / math.sqrt(D + 1)
        self.Wq = nn.Parameter(normal((R, H, dk, n), s, generator, dtype, device))
        self.Wk = nn.Parameter(normal((R, H, dk, n), s, generator, dtype, device))
        self.Wv = nn.Parameter(normal((R, H, dk, n), s, generator, dtype, device))
        self.Wo = nn.Parameter(normal((R, H, n, dk), 1 / math.sqrt(H * dk), generator, dtype, device))
        self.register_buffer("mask", label_mask(D, value, dtype, device), persistent=False)

    def _v(self) -> torch.Tensor:
        """Value label rows v_h, (R, H, D+1)."""
        return torch.einsum("rhk,rhkd->rhd", self.Wo[:, :, self.D, :], self.Wv * self.mask)

    def _readout(self, data: Explicit | PromptStats, v: torch.Tensor) -> torch.Tensor:
        """ŷ = Σ_h v_hᵀ (X Xᵀ) W^{KQ}_h b/(N+1) (as ``FLA._readout``, all heads at once)."""
        kq = self.Wq.transpose(-1, -2) @ self.Wk  # W^Q_hᵀ W^K_h: (R, H, D+1, D+1)
        kqb = data.b[:, None] @ kq.transpose(-1, -2)  # (W^{KQ}_h b)ᵀ: (R, H, P, D+1)
        z = data.gram_matvec(v)  # X Xᵀ v_h: (R, H, P, D+1)
        return (z * kqb).sum((1, -1)) / (data.N + 1)

    def forward(self, X: torch.Tensor | PromptStats) -> torch.Tensor:
        """ŷ (R, P) from explicit prompts X (R or 1, P, D+1, N+1) or their
        :class:`~spinglass_icl.models.PromptStats`."""
        return self._readout(self._data(X), self._v())

    def full_output(self, X: torch.Tensor) -> torch.Tensor:
        """The whole layer output F(X), (R, P, D+1, N+1) (the definition; for tests)."""
        X = self._check(X)
        out = X.clone()
        Wv = self.Wv * self.mask
        for h in range(self.heads):
            kq = (self.Wq[:, h].transpose(-1, -2) @ self.Wk[:, h])[:, None]
            ov = (self.Wo[:, h] @ Wv[:, h])[:, None]
            out = out + ov @ X @ (X.transpose(-1, -2) @ kq @ X) / X.shape[-1]
        return out

    def merged_weight(self) -> torch.Tensor:
        """W_eff = Σ_h (v_h)_{D+1} W^Q_hᵀ W^K_h, (R, D+1, D+1)."""
        kq = self.Wq.transpose(-1, -2) @ self.Wk
        return (self._v()[:, :, self.D, None, None] * kq).sum(1)

    def off_spin(self, X: torch.Tensor | PromptStats) -> torch.Tensor:
        """The part of ŷ outside the spin model, Σ_h v_{h,⊥}ᵀ X Xᵀ W^{KQ}_h b/(N+1), (R, P)."""
        v = self._v().clone()
        v[:, :, self.D] = 0
        return self._readout(self._data(X), v)


class LinearTransformer(StackedModel):
    r"""L residual layers of linear self-attention (von Oswald et al. 2023; Ahn et al. 2023), parameters
    W^{PV}_l, W^{KQ}_l: (R, L, D+1, D+1).

    Z⁰ = X;  Z^{l+1} = Z^l + W^{PV}_l Z^l_c (Z^l_cᵀ W^{KQ}_l Z^l)/N  (Z_c: the N context columns, the keys
    and values; every column, the query's too, is updated);  ŷ = Z^L[D+1, N+1].

    One layer of this form can implement one step of preconditioned gradient descent on the context's
    least-squares loss, L layers L steps: the architecture known to reach ridge-like (Bayes-optimal at
    M = ∞) in-context regression.  With L = 1 it is FLA with the query left out of the keys.  Initial
    entries N(0, 1/((D+1)·L)) (the paper's attention init, shrunk with depth so that the residual stream
    stays O(1)).  Needs explicit prompts; no spin-model projection for L > 1.
    """

    name = "lintf"
    MAX_LAYERS = 64

    def __init__(
        self,
        D: int,
        repeats: int = 1,
        *,
        generator: torch.Generator,
        layers: int = 2,
        dtype: str | torch.dtype = torch.float32,
        device: str = "cpu",
    ):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.n_layers = V.positive_int("layers", layers)
        if self.n_layers > self.MAX_LAYERS:
            raise V.InputError(f"layers={layers} is more than {self.MAX_LAYERS}")
        shape = (repeats, self.n_layers, D + 1, D + 1)
        s = 1 / ((D + 1) * math.sqrt(self.n_layers))
        self.Wpv = nn.Parameter(normal(shape, s, generator, dtype, device))
        self.Wkq = nn.Parameter(normal(shape, s, generator, dtype, device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """ŷ (R, P) from explicit prompts X (R or 1, P, D+1, N+1)."""
        Z = self._check(X)
        n = Z.shape[-1] - 1
        last = self.n_layers - 1
        for layer in range(last):
            Z = Z + self._update(Z, layer, n, Z)
        # the last layer matters at the query column only: its label row is the prediction
        q = Z[..., n : n + 1]
        return (q + self._update(Z, last, n, q))[..., self.D, 0]

    def _update(self, Z: torch.Tensor, layer: int, n: int, cols: torch.Tensor) -> torch.Tensor:
        """Layer ``layer``'s residual update W^{PV} (Z_c Z_cᵀ/N) W^{KQ} of the columns ``cols`` of Z."""
        ctx = Z[..., :n]
        C = ctx @ ctx.transpose(-1, -2) / n  # (R, P, D+1, D+1)
        pv, kq = self.Wpv[:, None, layer], self.Wkq[:, None, layer]
        return (pv @ C @ kq) @ cols
