"""In-context linear regression prompts (SPEC §1).

Two samplers with the same distribution:

* :func:`sample_prompts` builds the explicit prompt matrices X ∈ R^{(D+1)×(N+1)} (what a transformer
  reads), O(P·N·D) draws.
* :func:`sample_features` draws only what the spin glass needs per prompt -- the vectors
  a = Σ_i y_i (x_i; y_i), b = (x_query; 0) and the target y_query -- exactly in distribution, in
  O(P·(N + D)) draws.  It rotates each prompt so that its task lies along the first axis: only the
  token components along w enter the labels, and the rest of Σ_i y_i x_i is an isotropic Gaussian
  of norm |y| (plus a shared part for correlated tokens).

Every function takes an explicit ``numpy.random.Generator``; nothing reads global random state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from . import validation as V


@dataclass(frozen=True)
class PromptSpec:
    """Distribution of one prompt.

    D: token dimension; N: context length (labelled tokens), the query is token N+1.
    sigma_x, sigma_w: token and task standard deviations; noise: label noise σ_ε (applied to every
    label, query target included); correlation: pairwise correlation c ∈ [0, 1) of the N+1 values of
    each token coordinate (equicorrelation); cholesky: ``"correct"`` gives covariance L Lᵀ,
    ``"paper"`` reproduces the authors' X·L (covariance LᵀL, explicit sampler only);
    task_pool: number K of distinct tasks shared by the prompts of one draw (None: a fresh task per
    prompt, the paper's single-instance setting).
    """

    D: int
    N: int
    sigma_x: float = 1.0
    sigma_w: float = 1.0
    noise: float = 0.0
    correlation: float = 0.0
    cholesky: Literal["correct", "paper"] = "correct"
    task_pool: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "D", V.positive_int("D", self.D))
        object.__setattr__(self, "N", V.positive_int("N", self.N))
        V.positive("sigma_x", self.sigma_x)
        V.positive("sigma_w", self.sigma_w)
        V.nonneg("noise", self.noise)
        V.finite_float("correlation", self.correlation, low=0.0, high=1.0, high_open=True)
        V.choice("cholesky", self.cholesky, ("correct", "paper"))
        if self.task_pool is not None:
            object.__setattr__(self, "task_pool", V.positive_int("task_pool", self.task_pool))

    def fresh_tasks(self) -> "PromptSpec":
        """The same distribution with a fresh task per prompt (used for test prompts)."""
        return replace(self, task_pool=None)


@dataclass(frozen=True)
class Features:
    """Per-prompt sufficient statistics of the spin glass, shapes (..., P, D+1) and (..., P).

    a = (X Xᵀ)[D+1, :] = Σ_{i≤N} y_i (x_i; y_i),  b = (x_query; 0),  y = y_query.
    """

    a: np.ndarray
    b: np.ndarray
    y: np.ndarray
    N: int

    @property
    def D(self) -> int:
        return self.a.shape[-1] - 1

    @property
    def P(self) -> int:
        return self.a.shape[-2]


@dataclass(frozen=True)
class Prompts:
    """Explicit prompts: X (..., P, D+1, N+1) with the query label zeroed, targets y (..., P),
    tasks w (..., P, D)."""

    X: np.ndarray
    y: np.ndarray
    w: np.ndarray

    @property
    def N(self) -> int:
        return self.X.shape[-1] - 1


def _tasks(spec: PromptSpec, P: int, rng: np.random.Generator) -> np.ndarray:
    """Task vectors, shape (P, D): fresh per prompt or picked uniformly from a pool of K."""
    if spec.task_pool is None:
        return spec.sigma_w * rng.standard_normal((P, spec.D))
    pool = spec.sigma_w * rng.standard_normal((spec.task_pool, spec.D))
    return pool[rng.integers(0, spec.task_pool, size=P)]


def correlation_cholesky(n: int, c: float) -> np.ndarray:
    """Lower Cholesky factor L of the n×n equicorrelation matrix (1-c) I + c 11ᵀ."""
    C = np.full((n, n), c) + (1.0 - c) * np.eye(n)
    return np.linalg.cholesky(C)


def sample_prompts(spec: PromptSpec, P: int, rng: np.random.Generator) -> Prompts:
    """Draw P explicit prompts (SPEC §1).  Cost O(P·N·D)."""
    P = V.positive_int("P", P)
    D, N = spec.D, spec.N
    w = _tasks(spec, P, rng)
    z = rng.standard_normal((P, D, N + 1))
    if spec.correlation > 0.0:
        L = correlation_cholesky(N + 1, spec.correlation)
        # Rows of z are the N+1 values of one coordinate: z Lᵀ has covariance L Lᵀ (correct);
        # the authors' z L has covariance LᵀL.
        z = z @ (L.T if spec.cholesky == "correct" else L)
    x = spec.sigma_x * z
    y_all = np.einsum("pd,pdi->pi", w, x) / np.sqrt(D)
    if spec.noise > 0.0:
        y_all = y_all + spec.noise * rng.standard_normal(y_all.shape)
    X = np.empty((P, D + 1, N + 1))
    X[:, :D, :] = x
    X[:, D, :N] = y_all[:, :N]
    X[:, D, N] = 0.0
    return Prompts(X=X, y=y_all[:, N], w=w)


def features_from_prompts(prompts: Prompts) -> Features:
    """The spin-glass statistics (a, b, y) of explicit prompts; batch dims are kept."""
    X = prompts.X
    N = X.shape[-1] - 1
    labels = X[..., -1, :N]
    a = np.einsum("...di,...i->...d", X[..., :N], labels)
    b = X[..., :, N].copy()
    return Features(a=a, b=b, y=np.asarray(prompts.y), N=N)


def sample_features(spec: PromptSpec, P: int, rng: np.random.Generator) -> Features:
    """Draw (a, b, y_query) for P prompts exactly in distribution without building X.

    Cost O(P·(N + D)).  Supports label noise, task pools and equicorrelated tokens (correct
    covariance only; the authors' LᵀL variant needs :func:`sample_prompts`).
    """
    P = V.positive_int("P", P)
    if spec.correlation > 0.0 and spec.cholesky != "correct":
        raise V.InputError("the direct sampler supports only cholesky='correct'; use sample_prompts")
    D, N, c, sx = spec.D, spec.N, spec.correlation, spec.sigma_x
    w = _tasks(spec, P, rng)
    wnorm = np.linalg.norm(w, axis=1)
    u = w / wnorm[:, None]
    # Token components along u for the N context tokens and the query (units of σ_x):
    # equicorrelated = sqrt(1-c)·iid + sqrt(c)·shared.
    g = rng.standard_normal((P, N + 1))
    if c > 0.0:
        g = np.sqrt(1.0 - c) * g + np.sqrt(c) * rng.standard_normal((P, 1))
    y_all = sx * wnorm[:, None] * g / np.sqrt(D)
    if spec.noise > 0.0:
        y_all = y_all + spec.noise * rng.standard_normal(y_all.shape)
    y_ctx, g_ctx = y_all[:, :N], g[:, :N]
    ynorm = np.linalg.norm(y_ctx, axis=1)
    # Orthogonal parts: Σ_i y_i z_i ~ |y|·ζ1, query ~ ζ2, shared token offset ~ ζ3 (all iid N(0, I)).
    zeta = rng.standard_normal((3 if c > 0.0 else 2, P, D))
    perp_a = np.sqrt(1.0 - c) * ynorm[:, None] * zeta[0]
    perp_q = np.sqrt(1.0 - c) * zeta[1]
    if c > 0.0:
        perp_a = perp_a + np.sqrt(c) * y_ctx.sum(axis=1)[:, None] * zeta[2]
        perp_q = perp_q + np.sqrt(c) * zeta[2]

    def along_u(par: np.ndarray, perp: np.ndarray) -> np.ndarray:
        perp = perp - u * np.einsum("pd,pd->p", u, perp)[:, None]
        return sx * (u * par[:, None] + perp)

    a = np.empty((P, D + 1))
    a[:, :D] = along_u(np.einsum("pi,pi->p", y_ctx, g_ctx), perp_a)
    a[:, D] = ynorm**2
    b = np.zeros((P, D + 1))
    b[:, :D] = along_u(g[:, N], perp_q)
    return Features(a=a, b=b, y=y_all[:, N], N=N)
