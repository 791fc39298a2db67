"""Attention architectures for figS8 (SPEC §5), all behind one interface, stacked over R repeats.

Interface (every model here, and the re-exported :class:`MergedSLA` / :class:`SeparateSLA`):

* ``model(X) -> ŷ``: prompts X of shape (R, P, D+1, N+1) (or (1, P, D+1, N+1), shared by all
  repeats) to predictions of the query label, shape (R, P).  Column i ≤ N of a prompt is a
  context token (x_i; y_i), column N+1 the query (x_q; 0); b = X[:, N+1] = (x_q; 0).
* every parameter has the repeat axis first, so R independent models train as one module
  (the loss is the sum over repeats of each repeat's mean, so each repeat gets its own gradient);
* ``model.D``, ``model.repeats``, ``model.name``; linear-attention models (SLA, FLA, MHLA) also
  have ``merged_weight()``, the spin configuration W (R, D+1, D+1) of SPEC §2 they project onto.

Models (N1 = N+1; all divide attention sums by N+1 as the paper's code does):

* ``"sla"`` / ``"sla-separate"``: simplified linear attention, :mod:`spinglass_icl.models`.
* ``"fla"`` -- full linear attention, one layer:
  F(X) = X + W^{PV} X (Xᵀ W^{KQ} X)/N1,  W^{PV}, W^{KQ} ∈ R^{(D+1)×(D+1)},  ŷ = F[D+1, N+1].
* ``"mhla"`` -- H heads of width d_k:
  F(X) = X + Σ_h W^O_h W^V_h X (Xᵀ W^Q_hᵀ W^K_h X)/N1,  W^Q_h, W^K_h, W^V_h ∈ R^{d_k×(D+1)},
  W^O_h ∈ R^{(D+1)×d_k},  ŷ = F[D+1, N+1].
* ``"sa"`` -- single-layer softmax attention; the query attends to the N context tokens:
  α_i = softmax_i((W^K X_i)·(W^Q b)/√d_k),  F_q = b + W^V Σ_{i≤N} α_i X_i,  ŷ = F_q[D+1].
* ``"tf"`` -- pre-LayerNorm transformer: h⁰_t = W_in X_t + b_in (t = 1..N+1, no positional
  code); L blocks h ← h + MHSA(LN(h)), h ← h + MLP(LN(h)) with softmax attention in which every
  position attends to the N context positions (keys/values from tokens 1..N), scale 1/√d_head,
  MLP d → 4d → d with GELU; readout ŷ = w_outᵀ LN(h^L_{N+1}) + b_out (linear readout of the
  query position's final embedding).  Defaults d_model=32, 2 layers, 2 heads.

Initialisation (all draws on the CPU in float64 from the given ``torch.Generator``, then cast, so
values do not depend on the device): attention matrices of SLA/FLA/MHLA/SA entries ~ N(0, 1/(D+1))
(the paper's SLA initialisation), MHLA output matrices W^O ~ N(0, 1/(H d_k)); TF linear layers
N(0, 1/fan_in), biases 0, LayerNorm gains 1 and biases 0.

Reduced input for FLA/MHLA (:class:`PromptStats`): their prediction depends on a prompt only
through C = X Xᵀ ((D+1)×(D+1)) and b = X[:, N+1], so ``model(PromptStats.from_prompts(X))`` gives
``model(X)`` at O(D²) instead of O(D·N) per prompt and step (C is computed once, O(D²·N)).  Both
inputs go through the same readout (:meth:`FLA._readout`), which needs only the mat-vec v ↦ X Xᵀ v:
:class:`PromptStats` does it with C, explicit prompts right to left as X (Xᵀ v).

Projection onto the spin model (linear attention): see :class:`FLA` and :class:`MHLA`.  With
``value="label"`` the value matrices read only the label coordinate of the tokens (their first D
columns are masked to 0), and the projection is exact; with ``value="full"`` (default, SPEC's
definition) the prediction is the spin-model part plus an "off-spin" part that
:meth:`FLA.off_spin` returns.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as Fn

from . import validation as V
from .features import predict
from .metrics import contrast_ratio, relative_distance
from .models import MergedSLA, SeparateSLA, paper_init
from .prompts import Features

__all__ = ["FLA", "MHLA", "SA", "TF", "MergedSLA", "SeparateSLA", "PromptStats", "MODEL_NAMES", "LINEAR_MODELS",
           "REDUCED_MODELS", "make_model", "effective_weight", "projection_report", "as_dtype"]

MODEL_NAMES = ("sla", "sla-separate", "fla", "mhla", "sa", "tf")
LINEAR_MODELS = ("sla", "sla-separate", "fla", "mhla")
VALUES = ("full", "label")
REDUCED_MODELS = ("fla", "mhla")  # models that accept PromptStats


def as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"``/``"float64"`` or a torch dtype -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return getattr(torch, V.choice("dtype", dtype, ("float32", "float64")))


def _normal(shape: tuple[int, ...], std: float, generator, dtype, device) -> torch.Tensor:
    """Entries ~ N(0, std²) drawn on the CPU in float64 (device-independent values)."""
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * std).to(device, dtype)


def _expand(X: torch.Tensor, R: int) -> torch.Tensor:
    """Check X (R or 1, P, D+1, N+1) and broadcast a shared leading 1 to R (no copy)."""
    if X.ndim != 4 or X.shape[0] not in (1, R):
        raise V.InputError(f"prompts must have shape ({R} or 1, P, D+1, N+1), got {tuple(X.shape)}")
    return X.expand(R, *X.shape[1:]) if X.shape[0] != R else X


def _label_mask(D: int, value: str, dtype, device) -> torch.Tensor:
    """Column mask (D+1,) applied to value matrices: all ones, or only the label coordinate."""
    m = torch.ones(D + 1, dtype=dtype, device=device)
    if value == "label":
        m[:D] = 0
    return m


def _batched_products(t: torch.Tensor) -> bool:
    """Whether to use one batched product over repeats (one kernel instead of R: on a GPU) rather
    than one 2-D product per repeat (on the CPU, where torch.bmm of this shape is slow)."""
    return t.device.type != "cpu"


class PromptStats:
    r"""Prompts reduced to what FLA/MHLA read: C = X Xᵀ and b = X[:, N+1].

    C: (R or 1, P, D+1, D+1) (symmetric), b: (R or 1, P, D+1), N: context length (the readout
    divides by N+1).  A leading 1 is shared by all repeats of a model, as for explicit prompts.
    Build with :meth:`from_prompts` (O(P·D²·N) once); afterwards a forward/backward pass of FLA or
    MHLA costs O(P·D²) and reads (D+1)² instead of (D+1)(N+1) numbers per prompt.
    """

    def __init__(self, C: torch.Tensor, b: torch.Tensor, N: int):
        if C.ndim != 4 or C.shape[-1] != C.shape[-2] or b.shape != C.shape[:3]:
            raise V.InputError(f"PromptStats needs C (R, P, D+1, D+1) and b (R, P, D+1), got {tuple(C.shape)}, "
                               f"{tuple(b.shape)}")
        self.C, self.b, self.N = C, b, V.positive_int("N", N)

    @classmethod
    def from_prompts(cls, X, *, dtype: str | torch.dtype | None = None, device: str | None = None) -> "PromptStats":
        """From explicit prompts X (R or 1, P, D+1, N+1) (numpy or torch): C and b are computed in
        X's precision (pass float64 prompts for float64 statistics), then cast to ``dtype`` and
        moved to ``device`` (default: X's)."""
        X = torch.as_tensor(X)
        if X.ndim != 4 or X.shape[-1] < 2:
            raise V.InputError(f"prompts must have shape (R, P, D+1, N+1) with N >= 1, got {tuple(X.shape)}")
        C = X @ X.transpose(-1, -2)
        return cls(C, X[..., -1].clone(), X.shape[-1] - 1).to(dtype, device)

    @property
    def repeats(self) -> int:
        return self.C.shape[0]

    @property
    def n_prompts(self) -> int:
        return self.C.shape[1]

    @property
    def D(self) -> int:
        return self.C.shape[-1] - 1

    def to(self, dtype: str | torch.dtype | None = None, device: str | torch.device | None = None) -> "PromptStats":
        dtype = as_dtype(dtype) if dtype is not None else None
        return PromptStats(self.C.to(device=device, dtype=dtype), self.b.to(device=device, dtype=dtype), self.N)

    def take(self, idx) -> "PromptStats":
        """The prompts ``idx`` (slice or index tensor along the prompt axis)."""
        return PromptStats(self.C[:, idx], self.b[:, idx], self.N)

    def expand(self, R: int) -> "PromptStats":
        """Check the repeat axis against a model's R (a leading 1 stays shared: no copy)."""
        if self.repeats not in (1, R):
            raise V.InputError(f"prompt statistics must have {R} or 1 repeats, got {self.repeats}")
        return self

    def gram_matvec(self, v: torch.Tensor) -> torch.Tensor:
        """C v for K vectors per repeat: v (R, K, D+1) -> (R, K, P, D+1), O(P·D²·K).

        Computed as vᵀ C (C is symmetric) against C viewed as a (P·(D+1), D+1) matrix: with that
        layout the forward and backward products are BLAS mat-vec / skinny products; C·v with
        C on the left, or torch.bmm over repeats, was 3-15× slower on CPU for K ≥ 2 or R > 1
        (torch 2.13, 1 thread, measured), so the CPU does one 2-D product per repeat; on a GPU
        one torch.bmm (one kernel)."""
        R, K, n = v.shape
        P = self.n_prompts
        if self.repeats == 1:  # shared C: all repeats' vectors in one (R·K, n) × (n, P·n) product
            return (v.reshape(R * K, n) @ self.C[0].reshape(P * n, n).T).view(R, K, P, n)
        if _batched_products(self.C):
            return torch.bmm(v, self.C.reshape(R, P * n, n).transpose(1, 2)).view(R, K, P, n)
        return torch.stack([v[r] @ self.C[r].reshape(P * n, n).T for r in range(R)]).view(R, K, P, n)


class _Explicit:
    """Explicit prompts X (R, P, D+1, N+1) seen through the interface of :class:`PromptStats`."""

    def __init__(self, X: torch.Tensor):
        self.X, self.b, self.N = X, X[..., -1], X.shape[-1] - 1

    def gram_matvec(self, v: torch.Tensor) -> torch.Tensor:
        """X Xᵀ v right to left, O(D·N) per prompt and vector: v (R, K, D+1) -> (R, K, P, D+1).
        Batched mat-vecs over (R, P), not einsum (which copies X into a bmm layout per call) and
        not broadcast-multiply (which allocates an X-sized temporary)."""
        u = v[:, None] @ self.X                                       # vᵀ X: (R, P, K, N+1)
        return (self.X @ u.transpose(-1, -2)).permute(0, 3, 1, 2)     # X Xᵀ v: (R, K, P, D+1)


class _Base(nn.Module):
    name = "base"

    def __init__(self, D: int, repeats: int):
        super().__init__()
        self.D = V.positive_int("D", D)
        self.repeats = V.positive_int("repeats", repeats)

    def _check(self, X: torch.Tensor) -> torch.Tensor:
        if isinstance(X, PromptStats):
            raise V.InputError(f"model {self.name!r} needs explicit prompts X; PromptStats are for "
                               f"{', '.join(REDUCED_MODELS)}")
        X = _expand(X, self.repeats)
        if X.shape[2] != self.D + 1:
            raise V.InputError(f"prompts have token dimension {X.shape[2] - 1}, model has D={self.D}")
        return X

    def _data(self, X: "torch.Tensor | PromptStats") -> "_Explicit | PromptStats":
        """Explicit prompts or their statistics, checked, as the readout's Gram mat-vec interface."""
        if isinstance(X, PromptStats):
            if X.D != self.D:
                raise V.InputError(f"prompt statistics have token dimension {X.D}, model has D={self.D}")
            return X.expand(self.repeats)
        return _Explicit(self._check(X))


class FLA(_Base):
    r"""Full linear attention, one layer, parameters W^{PV}, W^{KQ}: (R, D+1, D+1).

    F(X) = X + W^{PV} X (Xᵀ W^{KQ} X)/(N+1),  ŷ = F(X)[D+1, N+1].

    Projection onto the spin model.  X[D+1, N+1] = 0 and X[:, N+1] = b, so only the label row
    v = W^{PV}[D+1, :] of the value matrix enters the prediction:

        ŷ = Σ_j W^{PV}_{D+1,j} (X Xᵀ W^{KQ} X)_{j,N+1}/(N+1) = vᵀ (X Xᵀ) W^{KQ} b/(N+1).

    Split v = v_{D+1} e_{D+1} + v_⊥ (v_⊥ = first D entries).  The label row of X Xᵀ is
    e_{D+1}ᵀ X Xᵀ = Σ_{i≤N} y_i (x_i; y_i)ᵀ = aᵀ (the query column adds nothing, its label is 0), so

        ŷ = aᵀ (v_{D+1} W^{KQ}) b/(N+1)  +  v_⊥ᵀ (X Xᵀ)_{1:D,:} W^{KQ} b/(N+1)
          = s·W_eff                       +  off-spin term,      W_eff = W^{PV}_{D+1,D+1} W^{KQ}.

    The first term is the merged spin model of SPEC §2 with W = W_eff.  The second involves token
    second moments Σ_i x_i x_iᵀ, which are not in the spin model's features (a, b); it is zero
    when the value reads only the label coordinate (``value="label"``: W^{PV}[:, :D] masked to 0),
    and then ``predict(W_eff, features) == model(X)`` exactly.  For ``value="full"``
    ``model(X) == predict(W_eff, f) + off_spin(X)`` exactly; training drives the off-spin term
    towards 0 because it is, to leading order, a task-independent function of x_q.

    Input: explicit prompts X, or :class:`PromptStats` (C = X Xᵀ, b) for the same ŷ and
    gradients at O(D²) per prompt (both through :meth:`_readout`).
    """

    name = "fla"

    def __init__(self, D: int, repeats: int = 1, *, value: str = "full", generator: torch.Generator | None = None,
                 dtype: str | torch.dtype = torch.float32, device: str = "cpu"):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.value = V.choice("value", value, VALUES)
        shape = (repeats, D + 1, D + 1)
        self.Wpv = nn.Parameter(paper_init(shape, D, generator, dtype, device))
        self.Wkq = nn.Parameter(paper_init(shape, D, generator, dtype, device))
        self.register_buffer("mask", _label_mask(D, value, dtype, device), persistent=False)

    def _v(self) -> torch.Tensor:
        """Label row of the (masked) value matrix, (R, D+1)."""
        return self.Wpv[:, self.D, :] * self.mask

    def forward(self, X: "torch.Tensor | PromptStats") -> torch.Tensor:
        """ŷ (R, P) from explicit prompts X (R or 1, P, D+1, N+1) or their :class:`PromptStats`."""
        return self._readout(self._data(X), self._v())

    def _readout(self, data: "_Explicit | PromptStats", v: torch.Tensor) -> torch.Tensor:
        """ŷ = vᵀ (X Xᵀ) W^{KQ} b/(N+1), the one definition used for both kinds of input."""
        z = data.gram_matvec(v[:, None])[:, 0]                        # X Xᵀ v: (R, P, D+1)
        Wb = data.b @ self.Wkq.transpose(-1, -2)                      # (W b)ᵀ: (R, P, D+1)
        return (z * Wb).sum(-1) / (data.N + 1)

    def full_output(self, X: torch.Tensor) -> torch.Tensor:
        """The whole layer output F(X), (R, P, D+1, N+1) (the definition; for tests)."""
        X = self._check(X)
        Wpv = (self.Wpv * self.mask)[:, None]
        return X + Wpv @ X @ (X.transpose(-1, -2) @ self.Wkq[:, None] @ X) / X.shape[-1]

    def merged_weight(self) -> torch.Tensor:
        """W_eff = W^{PV}_{D+1,D+1} W^{KQ}, (R, D+1, D+1)."""
        return self.Wpv[:, self.D, self.D, None, None] * self.Wkq

    def off_spin(self, X: "torch.Tensor | PromptStats") -> torch.Tensor:
        """The part of ŷ outside the spin model, v_⊥ᵀ X Xᵀ W^{KQ} b/(N+1), (R, P)."""
        v = self._v().clone()
        v[:, self.D] = 0
        return self._readout(self._data(X), v)


class MHLA(_Base):
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

    def __init__(self, D: int, repeats: int = 1, *, heads: int = 2, d_k: int | None = None, value: str = "full",
                 generator: torch.Generator | None = None, dtype: str | torch.dtype = torch.float32,
                 device: str = "cpu"):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.heads = V.positive_int("heads", heads)
        self.d_k = V.positive_int("d_k", d_k if d_k is not None else D + 1)
        self.value = V.choice("value", value, VALUES)
        R, H, dk, n = repeats, self.heads, self.d_k, D + 1
        s = 1 / math.sqrt(D + 1)
        self.Wq = nn.Parameter(_normal((R, H, dk, n), s, generator, dtype, device))
        self.Wk = nn.Parameter(_normal((R, H, dk, n), s, generator, dtype, device))
        self.Wv = nn.Parameter(_normal((R, H, dk, n), s, generator, dtype, device))
        self.Wo = nn.Parameter(_normal((R, H, n, dk), 1 / math.sqrt(H * dk), generator, dtype, device))
        self.register_buffer("mask", _label_mask(D, value, dtype, device), persistent=False)

    def _v(self) -> torch.Tensor:
        """Value label rows v_h, (R, H, D+1)."""
        return torch.einsum("rhk,rhkd->rhd", self.Wo[:, :, self.D, :], self.Wv * self.mask)

    def _readout(self, data: "_Explicit | PromptStats", v: torch.Tensor) -> torch.Tensor:
        """ŷ = Σ_h v_hᵀ (X Xᵀ) W^{KQ}_h b/(N+1) (as :meth:`FLA._readout`, all heads at once)."""
        kq = self.Wq.transpose(-1, -2) @ self.Wk                      # W^Q_hᵀ W^K_h: (R, H, D+1, D+1)
        kqb = data.b[:, None] @ kq.transpose(-1, -2)                  # (W^{KQ}_h b)ᵀ: (R, H, P, D+1)
        z = data.gram_matvec(v)                                        # X Xᵀ v_h: (R, H, P, D+1)
        return (z * kqb).sum((1, -1)) / (data.N + 1)

    def forward(self, X: "torch.Tensor | PromptStats") -> torch.Tensor:
        """ŷ (R, P) from explicit prompts X (R or 1, P, D+1, N+1) or their :class:`PromptStats`."""
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

    def off_spin(self, X: "torch.Tensor | PromptStats") -> torch.Tensor:
        """The part of ŷ outside the spin model, Σ_h v_{h,⊥}ᵀ X Xᵀ W^{KQ}_h b/(N+1), (R, P)."""
        v = self._v().clone()
        v[:, :, self.D] = 0
        return self._readout(self._data(X), v)


class SA(_Base):
    r"""Single-layer softmax attention; the query attends to the N context tokens.

    α_i = softmax_{i≤N}((W^K X_i)·(W^Q b)/√d_k),  F_q = b + W^V Σ_{i≤N} α_i X_i,
    ŷ = F_q[D+1] = Σ_i α_i (W^V[D+1, :]·X_i).
    W^Q, W^K: (R, d_k, D+1), W^V: (R, D+1, D+1); d_k = D+1 by default.  For small scores
    softmax ≈ (1 + s_i − s̄)/N, so SA contains linear attention to first order (but it is not an
    exact spin model: no projection).
    """

    name = "sa"

    def __init__(self, D: int, repeats: int = 1, *, d_k: int | None = None, generator: torch.Generator | None = None,
                 dtype: str | torch.dtype = torch.float32, device: str = "cpu"):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.d_k = V.positive_int("d_k", d_k if d_k is not None else D + 1)
        s = 1 / math.sqrt(D + 1)
        self.Wq = nn.Parameter(_normal((repeats, self.d_k, D + 1), s, generator, dtype, device))
        self.Wk = nn.Parameter(_normal((repeats, self.d_k, D + 1), s, generator, dtype, device))
        self.Wv = nn.Parameter(_normal((repeats, D + 1, D + 1), s, generator, dtype, device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        kq = self.Wk.transpose(-1, -2) @ self.Wq                       # (R, D+1, D+1)
        r = torch.bmm(X[..., -1], kq.transpose(-1, -2))                # (W^Kᵀ W^Q b)ᵀ: scores cost O(D·N)
        # Products with the contiguous X, then drop the query column: slicing X first would make
        # matmul copy the whole prompt tensor on every call.
        scores = (r[:, :, None, :] @ X)[:, :, 0, :-1] / math.sqrt(self.d_k)   # (R, P, N)
        vals = (self.Wv[:, None, None, self.D, :] @ X)[:, :, 0, :-1]           # W^V[D+1]·X_i: (R, P, N)
        return (torch.softmax(scores, dim=-1) * vals).sum(-1)


class _StackedLinear(nn.Module):
    """R independent affine maps (R, out, in) applied to (R, ..., in); init N(0, 1/in), bias 0."""

    def __init__(self, R: int, n_in: int, n_out: int, generator, dtype, device, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(_normal((R, n_out, n_in), 1 / math.sqrt(n_in), generator, dtype, device))
        self.bias = nn.Parameter(torch.zeros((R, n_out), dtype=dtype, device=device)) if bias else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        shape = h.shape
        out = torch.bmm(h.reshape(shape[0], -1, shape[-1]), self.weight.transpose(-1, -2))
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out.reshape(*shape[:-1], -1)


class _StackedLayerNorm(nn.Module):
    """LayerNorm over the last axis with per-repeat gain/bias (R, d)."""

    def __init__(self, R: int, d: int, dtype, device):
        super().__init__()
        self.gain = nn.Parameter(torch.ones((R, d), dtype=dtype, device=device))
        self.bias = nn.Parameter(torch.zeros((R, d), dtype=dtype, device=device))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        view = (h.shape[0],) + (1,) * (h.ndim - 2) + (h.shape[-1],)
        return Fn.layer_norm(h, h.shape[-1:], eps=1e-5) * self.gain.view(view) + self.bias.view(view)


class TF(_Base):
    r"""Small pre-LayerNorm transformer (see the module docstring for the exact definition).

    d_model (default 32), layers (2), heads (2, d_head = d_model/heads), MLP width 4·d_model.
    Every position attends to the N context positions; ŷ = w_outᵀ LN(h^L_{N+1}) + b_out.  The
    last block is evaluated at the query position only (nothing else reaches the readout).
    """

    name = "tf"

    def __init__(self, D: int, repeats: int = 1, *, d_model: int = 32, layers: int = 2, heads: int = 2,
                 mlp_ratio: int = 4, generator: torch.Generator | None = None,
                 dtype: str | torch.dtype = torch.float32, device: str = "cpu"):
        super().__init__(D, repeats)
        dtype = as_dtype(dtype)
        self.d_model, self.n_layers, self.heads = (V.positive_int("d_model", d_model),
                                                   V.positive_int("layers", layers), V.positive_int("heads", heads))
        if d_model % heads:
            raise V.InputError(f"d_model={d_model} must be a multiple of heads={heads}")
        R, d = repeats, d_model
        kw = dict(generator=generator, dtype=dtype, device=device)
        self.embed = _StackedLinear(R, D + 1, d, **kw)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict(dict(
                ln1=_StackedLayerNorm(R, d, dtype, device), qkv=_StackedLinear(R, d, 3 * d, **kw),
                proj=_StackedLinear(R, d, d, **kw), ln2=_StackedLayerNorm(R, d, dtype, device),
                fc1=_StackedLinear(R, d, mlp_ratio * d, **kw), fc2=_StackedLinear(R, mlp_ratio * d, d, **kw))))
        self.ln_f = _StackedLayerNorm(R, d, dtype, device)
        self.readout = _StackedLinear(R, d, 1, **kw)

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
        out = Fn.scaled_dot_product_attention(q, k, v)                 # softmax(q kᵀ/√dh) v
        return blk["proj"](out.transpose(1, 2).reshape(R, P, Tq, d))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        n_ctx = X.shape[-1] - 1
        h = self.embed(X.transpose(-1, -2))
        for i, blk in enumerate(self.blocks):
            last = i == len(self.blocks) - 1
            a = self._attend(blk, h, n_ctx, query_only=last)
            h = (h[:, :, -1:] if last else h) + a
            h = h + blk["fc2"](Fn.gelu(blk["fc1"](blk["ln2"](h))))
        return self.readout(self.ln_f(h[:, :, -1]))[..., 0]


_CLASSES = {"fla": FLA, "mhla": MHLA, "sa": SA, "tf": TF}


def make_model(name: str, D: int, repeats: int = 1, *, generator: torch.Generator | None = None,
               dtype: str | torch.dtype = torch.float32, device: str = "cpu", **kwargs) -> nn.Module:
    """Build model ``name`` ∈ MODEL_NAMES for R = ``repeats`` stacked repeats.

    kwargs go to the model (FLA: value; MHLA: heads, d_k, value; SA: d_k; TF: d_model, layers,
    heads, mlp_ratio; sla-separate: d_k).  The SLA modules get ``name``/``repeats`` attributes.
    """
    V.choice("model", name, MODEL_NAMES)
    dtype = as_dtype(dtype)
    if name in _CLASSES:
        return _CLASSES[name](D, repeats, generator=generator, dtype=dtype, device=device, **kwargs)
    cls = MergedSLA if name == "sla" else SeparateSLA
    model = cls(D, repeats, generator=generator, dtype=dtype, device=device, **kwargs)
    model.name, model.repeats = name, repeats
    return model


def effective_weight(model: nn.Module) -> np.ndarray:
    """The spin configuration W (R, D+1, D+1) a linear-attention model projects onto (float64)."""
    if not hasattr(model, "merged_weight"):
        raise V.InputError(f"model {getattr(model, 'name', type(model).__name__)!r} is not linear attention: "
                           "it has no spin-model projection")
    return model.merged_weight().detach().cpu().double().numpy()


def projection_report(model: nn.Module, test: Features, ground_state: np.ndarray) -> dict[str, np.ndarray]:
    """Spin-model view of a trained linear-attention model, arrays of shape (R,).

    ``proj_test``: test error of W_eff alone on ``test`` (features, (R, P, ·));
    ``contrast``: contrast ratio of W_eff; ``distance``: |W_eff − W*|_F/|W*|_F to ``ground_state``
    W* (R, D+1, D+1) or flat (R, K), e.g. ``solve_exact(sg).mean`` of the same training data.
    """
    W = effective_weight(model)
    return {"proj_test": np.mean((predict(W, test) - test.y) ** 2, axis=-1),
            "contrast": contrast_ratio(W), "distance": relative_distance(W, ground_state)}
