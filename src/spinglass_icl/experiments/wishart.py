"""The Marchenko–Pastur law and a fast sampler of Wishart spectra (figS5)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from .. import validation as V


def mp_edges(q: float) -> tuple[float, float]:
    """Support [(1−√q)², (1+√q)²] of the Marchenko–Pastur law with ratio q = D/N ≤ 1, variance 1."""
    return (1.0 - np.sqrt(q)) ** 2, (1.0 + np.sqrt(q)) ** 2


def mp_density(x: np.ndarray, q: float) -> np.ndarray:
    """Marchenko–Pastur density of the eigenvalues of X Xᵀ/N, X ∈ R^{D×N} with unit-variance
    entries, ratio q = D/N ∈ (0, 1]: sqrt((b−x)(x−a)) / (2π q x) on [a, b], zero outside."""
    q = V.finite_float("q", q, low=0.0, high=1.0, low_open=True)
    a, b = mp_edges(q)
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.sqrt(np.clip((b - x) * (x - a), 0.0, None)) / (2.0 * np.pi * q * x)
    return np.where((x > a) & (x < b), d, 0.0)


def mp_bin_probabilities(bin_edges: np.ndarray, q: float) -> np.ndarray:
    """Marchenko–Pastur probability of each bin, shape (bins,) (integrated, so exact near the
    integrable 1/√x edge at q = 1)."""
    from scipy import integrate

    a, b = mp_edges(q)
    out = np.empty(len(bin_edges) - 1)
    for i, (lo, hi) in enumerate(zip(bin_edges[:-1], bin_edges[1:])):
        lo, hi = max(lo, a), min(hi, b)
        out[i] = integrate.quad(mp_density, lo, hi, args=(q,), limit=200)[0] if hi > lo else 0.0
    return out


# -- Wishart spectra -----------------------------------------------------------------------------
WishartMethod = Literal["bidiagonal", "bartlett", "explicit"]
WISHART_METHODS: tuple[WishartMethod, ...] = ("bidiagonal", "bartlett", "explicit")


def wishart_eigenvalues(
    D: int, N: int, n: int, rng: np.random.Generator, method: WishartMethod = "bidiagonal"
) -> np.ndarray:
    """Eigenvalues of X Xᵀ (ascending) for ``n`` independent X ∈ R^{D×N} with iid N(0,1) entries,
    shape (n, D).  X Xᵀ ~ Wishart(N, I_D).

    ``"explicit"`` forms X (O(D²N) per draw); ``"bartlett"`` samples the Bartlett factor L (lower
    triangular, L_ii ~ χ_{N−i+1}, L_ij ~ N(0,1) below the diagonal, X Xᵀ =ᵈ L Lᵀ) in O(D²);
    ``"bidiagonal"`` uses the Dumitriu–Edelman model: the same spectrum as B Bᵀ with B lower
    bidiagonal, B_ii ~ χ_{N−i+1}, B_{i+1,i} ~ χ_{D−i} (i = 1..D), so a draw costs O(D) random
    numbers plus a symmetric tridiagonal eigenproblem.  The last two need N ≥ D.
    """
    from scipy import linalg

    D, N, n = V.positive_int("D", D), V.positive_int("N", N), V.positive_int("n", n)
    V.choice("method", method, WISHART_METHODS)
    if method == "explicit":
        X = rng.standard_normal((n, D, N))
        return np.linalg.eigvalsh(X @ np.swapaxes(X, -1, -2))
    if N < D:
        raise V.InputError(f"method {method!r} needs N >= D, got N={N}, D={D}")
    dof = N - np.arange(D)  # N, N-1, ..., N-D+1
    diag = np.sqrt(rng.chisquare(dof, size=(n, D)))
    if method == "bartlett":
        L = np.tril(rng.standard_normal((n, D, D)), -1)
        L[:, np.arange(D), np.arange(D)] = diag
        return np.linalg.eigvalsh(L @ np.swapaxes(L, -1, -2))
    sub = np.sqrt(rng.chisquare(D - 1 - np.arange(D - 1), size=(n, D - 1))) if D > 1 else np.zeros((n, 0))
    # B Bᵀ is tridiagonal: diagonal B_ii² + B_{i,i-1}², off-diagonal B_{i+1,i} B_ii.
    d = diag**2
    d[:, 1:] += sub**2
    e = sub * diag[:, :-1]
    return np.stack([linalg.eigvalsh_tridiagonal(d[i], e[i], check_finite=False) for i in range(n)])
