"""Shared pieces of the stacked-repeat models: initialisation, the base class, stacked layers and
the reduced prompt input :class:`PromptStats`.

Every model maps prompts X of shape (R, P, D+1, N+1) (or (1, P, D+1, N+1), shared by all R
repeats) to predictions of the query label (R, P); every parameter carries the repeat axis first,
so R independent models train as one module.  All random draws happen on the CPU in float64 from
an explicit ``torch.Generator`` (required), then are cast, so values do not depend on the device.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn import functional as Fn

from .. import validation as V


def as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """``"float32"``/``"float64"`` or a torch dtype -> torch dtype."""
    if isinstance(dtype, torch.dtype):
        return dtype
    return getattr(torch, V.choice("dtype", dtype, ("float32", "float64")))


def normal(
    shape: tuple[int, ...],
    std: float,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Entries ~ N(0, std²) drawn on the CPU in float64 from ``generator`` (device-independent values)."""
    if not isinstance(generator, torch.Generator):
        raise V.InputError(f"a torch.Generator is required for the initial parameters, got {generator!r}")
    return (torch.randn(shape, generator=generator, dtype=torch.float64) * std).to(device, dtype)


def paper_init(
    shape: tuple[int, ...],
    D: int,
    generator: torch.Generator,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """The paper's attention initialisation: entries ~ N(0, 1/(D+1))."""
    return normal(shape, 1 / math.sqrt(D + 1), generator, dtype, device)


def key_width(d_k: int | None, D: int) -> int:
    """Width d_k of query/key (and MHLA value) matrices: D+1 (the token size) unless given."""
    return V.positive_int("d_k", d_k if d_k is not None else D + 1)


def label_mask(D: int, value: str, dtype: torch.dtype, device: str | torch.device) -> torch.Tensor:
    """Column mask (D+1,) applied to value matrices: all ones, or only the label coordinate."""
    m = torch.ones(D + 1, dtype=dtype, device=device)
    if value == "label":
        m[:D] = 0
    return m


def batched_products(t: torch.Tensor) -> bool:
    """Whether to use one batched product over repeats (one kernel instead of R: on a GPU) rather
    than one 2-D product per repeat (on the CPU, where torch.bmm of this shape is slow)."""
    return t.device.type != "cpu"


class PromptStats:
    r"""Prompts reduced to what FLA/MHLA read: C = X Xᵀ and b = X[:, N+1].

    C: (R or 1, P, D+1, D+1) (symmetric), b: (R or 1, P, D+1), N: context length (the readout
    divides by N+1).  A leading 1 is shared by all repeats of a model, as for explicit prompts.
    Build with :meth:`from_prompts` (O(P·D²·N) once); afterwards a forward/backward pass of FLA or
    MHLA costs O(P·D²) and reads (D+1)² instead of (D+1)(N+1) numbers per prompt.
    ``batched``: how :meth:`gram_matvec` multiplies over repeats -- one torch.bmm (True), one 2-D product
    per repeat (False) or by device (None, the default: ``batched_products``); same numbers.
    """

    def __init__(self, C: torch.Tensor, b: torch.Tensor, N: int, *, batched: bool | None = None):
        if C.ndim != 4 or C.shape[-1] != C.shape[-2] or b.shape != C.shape[:3]:
            raise V.InputError(
                f"PromptStats needs C (R, P, D+1, D+1) and b (R, P, D+1), got {tuple(C.shape)}, {tuple(b.shape)}"
            )
        self.C, self.b, self.N, self.batched = C, b, V.positive_int("N", N), batched

    @classmethod
    def from_prompts(
        cls, X: Any, *, dtype: str | torch.dtype | None = None, device: str | torch.device | None = None
    ) -> PromptStats:
        """From explicit prompts X (R or 1, P, D+1, N+1) (numpy or torch): C and b are computed in
        X's precision (pass float64 prompts for float64 statistics), then cast to ``dtype`` and
        moved to ``device`` (default: X's)."""
        X = torch.as_tensor(X)
        if X.ndim != 4 or X.shape[-1] < 2:
            raise V.InputError(f"prompts must have shape (R, P, D+1, N+1) with N >= 1, got {tuple(X.shape)}")
        C = X @ X.transpose(-1, -2)
        return cls(C, X[..., -1].clone(), X.shape[-1] - 1).to(dtype, device)

    @classmethod
    def cat(cls, parts: list[PromptStats]) -> PromptStats:
        """Stack statistics of the same N along the repeat axis."""
        return cls(
            torch.cat([s.C for s in parts]), torch.cat([s.b for s in parts]), parts[0].N, batched=parts[0].batched
        )

    @property
    def repeats(self) -> int:
        return self.C.shape[0]

    @property
    def n_prompts(self) -> int:
        return self.C.shape[1]

    @property
    def D(self) -> int:
        return self.C.shape[-1] - 1

    def to(self, dtype: str | torch.dtype | None = None, device: str | torch.device | None = None) -> PromptStats:
        dtype = as_dtype(dtype) if dtype is not None else None
        C, b = self.C.to(device=device, dtype=dtype), self.b.to(device=device, dtype=dtype)
        return PromptStats(C, b, self.N, batched=self.batched)

    def take(self, idx: slice | torch.Tensor) -> PromptStats:
        """The prompts ``idx`` (slice or index tensor along the prompt axis)."""
        return PromptStats(self.C[:, idx], self.b[:, idx], self.N, batched=self.batched)

    def expand(self, R: int) -> PromptStats:
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
        if self.batched if self.batched is not None else batched_products(self.C):
            return torch.bmm(v, self.C.reshape(R, P * n, n).transpose(1, 2)).view(R, K, P, n)
        return torch.stack([v[r] @ self.C[r].reshape(P * n, n).T for r in range(R)]).view(R, K, P, n)


class Explicit:
    """Explicit prompts X (R, P, D+1, N+1) seen through the interface of :class:`PromptStats`."""

    def __init__(self, X: torch.Tensor):
        self.X, self.b, self.N = X, X[..., -1], X.shape[-1] - 1

    def gram_matvec(self, v: torch.Tensor) -> torch.Tensor:
        """X Xᵀ v right to left, O(D·N) per prompt and vector: v (R, K, D+1) -> (R, K, P, D+1).
        Batched mat-vecs over (R, P), not einsum (which copies X into a bmm layout per call) and
        not broadcast-multiply (which allocates an X-sized temporary)."""
        u = v[:, None] @ self.X  # vᵀ X: (R, P, K, N+1)
        return (self.X @ u.transpose(-1, -2)).permute(0, 3, 1, 2)  # X Xᵀ v: (R, K, P, D+1)


class StackedModel(nn.Module):
    """Base class: ``D``, ``repeats``, ``name`` (the registry name) and input checks.

    Subclasses that accept :class:`~spinglass_icl.models.PromptStats` set ``accepts_stats = True``; those with a
    spin-model projection define ``merged_weight()`` -> W (R, D+1, D+1).
    """

    name = "base"
    accepts_stats = False

    def __init__(self, D: int, repeats: int):
        super().__init__()
        self.D = V.positive_int("D", D)
        self.repeats = V.positive_int("repeats", repeats)

    def _check(self, X: torch.Tensor) -> torch.Tensor:
        """Explicit prompts (R or 1, P, D+1, N+1), a leading 1 broadcast to R (no copy)."""
        if isinstance(X, PromptStats):
            raise V.InputError(
                f"model {self.name!r} needs explicit prompts X; PromptStats are only for models "
                "that accept them (see spinglass_icl.models.names(accepts_stats=True))"
            )
        R = self.repeats
        if X.ndim != 4 or X.shape[0] not in (1, R):
            raise V.InputError(f"prompts must have shape ({R} or 1, P, D+1, N+1), got {tuple(X.shape)}")
        if X.shape[2] != self.D + 1:
            raise V.InputError(f"prompts have token dimension {X.shape[2] - 1}, model has D={self.D}")
        return X.expand(R, *X.shape[1:]) if X.shape[0] != R else X

    def _data(self, X: torch.Tensor | PromptStats) -> Explicit | PromptStats:
        """Explicit prompts or their statistics, checked, as the Gram mat-vec interface."""
        if isinstance(X, PromptStats):
            if X.D != self.D:
                raise V.InputError(f"prompt statistics have token dimension {X.D}, model has D={self.D}")
            return X.expand(self.repeats)
        return Explicit(self._check(X))


class StackedLinear(nn.Module):
    """R independent affine maps (R, out, in) applied to (R, ..., in); init N(0, 1/in), bias 0."""

    def __init__(
        self,
        R: int,
        n_in: int,
        n_out: int,
        generator: torch.Generator,
        dtype: torch.dtype,
        device: str | torch.device,
        bias: bool = True,
    ):
        super().__init__()
        self.weight = nn.Parameter(normal((R, n_out, n_in), 1 / math.sqrt(n_in), generator, dtype, device))
        self.bias = nn.Parameter(torch.zeros((R, n_out), dtype=dtype, device=device)) if bias else None

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        shape = h.shape
        out = torch.bmm(h.reshape(shape[0], -1, shape[-1]), self.weight.transpose(-1, -2))
        if self.bias is not None:
            out = out + self.bias[:, None]
        return out.reshape(*shape[:-1], -1)


class StackedLayerNorm(nn.Module):
    """LayerNorm over the last axis with per-repeat gain/bias (R, d)."""

    def __init__(self, R: int, d: int, dtype: torch.dtype, device: str | torch.device):
        super().__init__()
        self.gain = nn.Parameter(torch.ones((R, d), dtype=dtype, device=device))
        self.bias = nn.Parameter(torch.zeros((R, d), dtype=dtype, device=device))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        view = (h.shape[0],) + (1,) * (h.ndim - 2) + (h.shape[-1],)
        return Fn.layer_norm(h, h.shape[-1:], eps=1e-5) * self.gain.view(view) + self.bias.view(view)
