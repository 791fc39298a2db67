"""In-context linear regression prompts (docs/theory.md#data).

Two samplers with the same distribution:

* :func:`sample_prompts` builds the explicit prompt matrices X ∈ R^{(D+1)×(N+1)} (what a transformer
  reads), O(P·N·D) draws.
* :func:`sample_features` draws only what the spin glass needs per prompt -- the vectors
  a = Σ_i y_i (x_i; y_i), b = (x_query; 0) and the target y_query -- exactly in distribution, in
  O(P·D) draws (independent of N).  It rotates each prompt so that its task lies along the first
  axis: only the token components along w enter the labels, the context enters through a few sums
  (Σ g², Σ gε, Σ ε², Σ g, Σ ε of the components g along w and the label noise ε, drawn as a 2×2
  Wishart matrix plus two normals), and the rest of Σ_i y_i x_i is an isotropic Gaussian of
  norm |y| (plus a shared part for correlated tokens).

Every function takes an explicit ``numpy.random.Generator``; nothing reads global random state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal, overload

import numpy as np

from . import validation as V

# the side of the correlated-token sampler's Cholesky factor: L Lᵀ (the intended covariance) or the authors' LᵀL
Cholesky = Literal["correct", "paper"]
CHOLESKY: tuple[Cholesky, ...] = ("correct", "paper")


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
    cholesky: Cholesky = "correct"
    task_pool: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "D", V.positive_int("D", self.D))
        object.__setattr__(self, "N", V.positive_int("N", self.N))
        V.positive("sigma_x", self.sigma_x)
        V.positive("sigma_w", self.sigma_w)
        V.nonneg("noise", self.noise)
        V.finite_float("correlation", self.correlation, low=0.0, high=1.0, high_open=True)
        V.choice("cholesky", self.cholesky, CHOLESKY)
        if self.task_pool is not None:
            object.__setattr__(self, "task_pool", V.positive_int("task_pool", self.task_pool))

    def fresh_tasks(self) -> PromptSpec:
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

    @property
    def batch_shape(self) -> tuple[int, ...]:
        """Leading (repeat) dims, before the prompt axis."""
        return self.a.shape[:-2]

    def take(self, index: int | slice | tuple | np.ndarray) -> Features:
        """The features at ``index`` of the leading (batch) dims -- an int, slice, array or tuple of
        them, as numpy indexes ``a[index]`` -- keeping N and the prompt axis: a repeat, or some repeats."""
        if isinstance(index, tuple) and not index:
            return self
        if len(self.batch_shape) == 0:
            raise V.InputError("Features.take indexes the batch dims; these features have none (use prefix)")
        return Features(a=self.a[index], b=self.b[index], y=self.y[index], N=self.N)

    def prefix(self, P: int) -> Features:
        """The first ``P`` prompts of every repeat (1 ≤ P ≤ self.P), shapes (..., P, D+1) and (..., P)."""
        P = V.positive_int("P", P)
        if P > self.P:
            raise V.InputError(f"prefix of {P} prompts asked from features with only {self.P}")
        return self.prompts(slice(0, P))

    def prompts(self, index: slice | np.ndarray) -> Features:
        """The prompts at ``index`` (a slice or an index array) of the prompt axis, every repeat alike."""
        return Features(a=self.a[..., index, :], b=self.b[..., index, :], y=self.y[..., index], N=self.N)

    @staticmethod
    def stack(parts: list[Features]) -> Features:
        """Features of the same N and shape stacked along a new leading axis (repeats): (len(parts), ...)."""
        Features._same_N(parts)
        return Features(
            a=np.stack([f.a for f in parts]),
            b=np.stack([f.b for f in parts]),
            y=np.stack([f.y for f in parts]),
            N=parts[0].N,
        )

    @staticmethod
    def concat(parts: list[Features]) -> Features:
        """Features of the same N and batch shape joined along the prompt axis: (..., Σ P, ·)."""
        Features._same_N(parts)
        return Features(
            a=np.concatenate([f.a for f in parts], axis=-2),
            b=np.concatenate([f.b for f in parts], axis=-2),
            y=np.concatenate([f.y for f in parts], axis=-1),
            N=parts[0].N,
        )

    @staticmethod
    def _same_N(parts: list[Features]) -> None:
        if not parts:
            raise V.InputError("no features to join")
        if len({f.N for f in parts}) > 1:
            raise V.InputError(
                f"features of different context lengths N cannot be joined: {sorted({f.N for f in parts})}"
            )


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


def _tasks(spec: PromptSpec, P: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Task vectors (P, D) -- fresh per prompt or picked uniformly from a pool of K -- with the pool
    (K, D) and each prompt's index into it (P,) (fresh tasks: the pool is the P tasks, index 0..P-1)."""
    if spec.task_pool is None:
        w = spec.sigma_w * rng.standard_normal((P, spec.D))
        return w, w, np.arange(P)
    pool = spec.sigma_w * rng.standard_normal((spec.task_pool, spec.D))
    index = rng.integers(0, spec.task_pool, size=P)
    return pool[index], pool, index


def correlation_cholesky(n: int, c: float) -> np.ndarray:
    """Lower Cholesky factor L of the n×n equicorrelation matrix (1-c) I + c 11ᵀ."""
    C = np.full((n, n), c) + (1.0 - c) * np.eye(n)
    return np.linalg.cholesky(C)


@overload
def sample_prompts(
    spec: PromptSpec, P: int, rng: np.random.Generator, return_tasks: Literal[False] = False
) -> Prompts: ...
@overload
def sample_prompts(
    spec: PromptSpec, P: int, rng: np.random.Generator, return_tasks: Literal[True]
) -> tuple[Prompts, np.ndarray, np.ndarray]: ...
def sample_prompts(
    spec: PromptSpec, P: int, rng: np.random.Generator, return_tasks: bool = False
) -> Prompts | tuple[Prompts, np.ndarray, np.ndarray]:
    """Draw P explicit prompts (docs/theory.md#data).  Cost O(P·N·D).

    return_tasks=True also returns the task pool (K, D) and each prompt's index into it (P,) -- with
    ``task_pool=None`` the pool is the P fresh tasks and the index 0..P-1; the draws are the same either way.
    """
    P = V.positive_int("P", P)
    rng = V.generator("rng", rng)
    w, pool, index = _tasks(spec, P, rng)
    out = prompts_for_tasks(spec, w, rng)
    return (out, pool, index) if return_tasks else out


def prompts_for_tasks(spec: PromptSpec, w: np.ndarray, rng: np.random.Generator) -> Prompts:
    """Explicit prompts (P of them) for the given tasks w (P, D), tokens and noise drawn from ``rng`` as
    :func:`sample_prompts` draws them after its tasks (``spec.task_pool`` is not used)."""
    w = V.array("w", w, ndim=2)
    D, N, P = spec.D, spec.N, w.shape[0]
    if w.shape[1] != D:
        raise V.InputError(f"tasks w must have shape (P, {D}), got {w.shape}")
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


def _wishart2(n: int, P: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inner products (|u|², u·v, |v|²) of two independent u, v ~ N(0, I_n), P times, in O(P) draws.

    The 2×2 matrix is Wishart(n, I); Bartlett: L = [[√χ²_n, 0], [z, √χ²_{n−1}]], W = L Lᵀ.
    """
    if n == 0:
        z = np.zeros(P)
        return z, z, z
    c1 = 2.0 * rng.standard_gamma(n / 2.0, P)
    z = rng.standard_normal(P)
    c2 = 2.0 * rng.standard_gamma((n - 1) / 2.0, P) if n > 1 else np.zeros(P)
    return c1, np.sqrt(c1) * z, z * z + c2


@overload
def sample_features(
    spec: PromptSpec, P: int, rng: np.random.Generator, return_tasks: Literal[False] = False
) -> Features: ...
@overload
def sample_features(
    spec: PromptSpec, P: int, rng: np.random.Generator, return_tasks: Literal[True]
) -> tuple[Features, np.ndarray, np.ndarray]: ...
def sample_features(
    spec: PromptSpec, P: int, rng: np.random.Generator, return_tasks: bool = False
) -> Features | tuple[Features, np.ndarray, np.ndarray]:
    """Draw (a, b, y_query) for P prompts exactly in distribution without building X.

    Cost O(P·D) draws, independent of N.  Supports label noise, task pools and equicorrelated tokens
    (correct covariance only; the authors' LᵀL variant needs :func:`sample_prompts`).  return_tasks=True
    also returns the task pool (K, D) and each prompt's index into it (P,), as :func:`sample_prompts` does
    (same draws).
    """
    P = V.positive_int("P", P)
    rng = V.generator("rng", rng)
    if spec.correlation > 0.0 and spec.cholesky != "correct":
        raise V.InputError("the direct sampler supports only cholesky='correct'; use sample_prompts")
    D, N, c, sx, sn = spec.D, spec.N, spec.correlation, spec.sigma_x, spec.noise
    w, pool, index = _tasks(spec, P, rng)
    wnorm = np.linalg.norm(w, axis=1)
    u = w / wnorm[:, None]
    # Along u, in units of σ_x, token i has component g_i = √(1−c) g'_i + √c t (t shared by the N+1
    # tokens), and y_i = k g_i + σ_ε ε_i.  The context enters a only through Σ g_i², Σ g_i ε_i,
    # Σ ε_i², Σ g_i, Σ ε_i; splitting the N-vectors (g', ε) into their part along 1/√N (two normals)
    # and the rest (a 2×2 Wishart(N−1) of inner products) draws all of them in O(1) per prompt.
    k = sx * wnorm / np.sqrt(D)
    ca, cb = np.sqrt(1.0 - c), np.sqrt(c)
    z1, z2 = rng.standard_normal((2, P))
    w11, w12, w22 = _wishart2(N - 1, P, rng)
    sum_g1, sum_e = np.sqrt(N) * z1, np.sqrt(N) * z2  # Σ g'_i, Σ ε_i
    gg, ge, ee = z1 * z1 + w11, z1 * z2 + w12, z2 * z2 + w22  # Σ g'², Σ g'ε, Σ ε²
    g_q, e_q = rng.standard_normal((2, P))  # query token along u, query label noise
    if c > 0.0:
        t = rng.standard_normal(P)
        G = ca**2 * gg + 2 * ca * cb * t * sum_g1 + N * c * t * t  # Σ g_i²
        C = ca * ge + cb * t * sum_e  # Σ g_i ε_i
        Sg = ca * sum_g1 + N * cb * t  # Σ g_i
        g_q = ca * g_q + cb * t
    else:
        G, C, Sg = gg, ge, sum_g1
    ya = k * G + sn * C  # Σ y_i g_i
    y2 = np.maximum(k * k * G + 2 * k * sn * C + sn * sn * ee, 0.0)  # Σ y_i² (clip rounding below 0)
    y_sum = k * Sg + sn * sum_e  # Σ y_i
    y_q = k * g_q + sn * e_q
    # Orthogonal parts: Σ_i y_i z_i ~ |y|·ζ1, query ~ ζ2, shared token offset ~ ζ3 (all iid N(0, I)).
    zeta = rng.standard_normal((3 if c > 0.0 else 2, P, D))
    perp_a = ca * np.sqrt(y2)[:, None] * zeta[0]
    perp_q = ca * zeta[1]
    if c > 0.0:
        perp_a = perp_a + cb * y_sum[:, None] * zeta[2]
        perp_q = perp_q + cb * zeta[2]

    def along_u(par: np.ndarray, perp: np.ndarray) -> np.ndarray:
        perp = perp - u * np.einsum("pd,pd->p", u, perp)[:, None]
        return sx * (u * par[:, None] + perp)

    a = np.empty((P, D + 1))
    a[:, :D] = along_u(ya, perp_a)
    a[:, D] = y2
    b = np.zeros((P, D + 1))
    b[:, :D] = along_u(g_q, perp_q)
    out = Features(a=a, b=b, y=y_q, N=N)
    return (out, pool, index) if return_tasks else out
