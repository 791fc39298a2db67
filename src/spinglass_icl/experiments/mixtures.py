"""Gaussian and Gaussian-mixture densities, and the mixture fitted to binned data (fig1, figS3)."""

from __future__ import annotations

import numpy as np

from .. import validation as V


def gaussian_pdf(x: np.ndarray, mean: float, std: float) -> np.ndarray:
    return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2.0 * np.pi))


def mixture_pdf(x: np.ndarray, weights: np.ndarray, means: np.ndarray, stds: np.ndarray) -> np.ndarray:
    """Density of a 1-D Gaussian mixture at ``x``."""
    x = np.asarray(x, dtype=float)
    return sum(w * gaussian_pdf(x, m, s) for w, m, s in zip(weights, means, stds))


def fit_mixture(
    bin_centers: np.ndarray, counts: np.ndarray, n_components: int = 2, *, iterations: int = 500, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood Gaussian mixture fitted to binned data by EM (each bin's count acts as
    the weight of its centre).  Returns (weights, means, stds), each (n_components,), means sorted.

    Initialised deterministically from the quantiles of the binned distribution, so a fit is a
    pure function of the histogram; stds are floored at a tenth of a bin width.
    """
    x = np.asarray(bin_centers, dtype=float)
    c = np.asarray(counts, dtype=float)
    if c.sum() <= 0:
        raise V.InputError("cannot fit a mixture to an empty histogram")
    k = V.positive_int("n_components", n_components)
    width = float(np.min(np.diff(x))) if x.size > 1 else 1.0
    cdf = np.cumsum(c) / c.sum()
    q = (np.arange(k) + 0.5) / k
    mu = x[np.searchsorted(cdf, q).clip(0, x.size - 1)].astype(float)
    total_mu = np.dot(c, x) / c.sum()
    sd0 = np.sqrt(max(np.dot(c, (x - total_mu) ** 2) / c.sum(), width**2))
    sd = np.full(k, sd0 / k)
    w = np.full(k, 1.0 / k)
    prev = -np.inf
    for _ in range(iterations):
        comp = np.stack([wi * gaussian_pdf(x, mi, si) for wi, mi, si in zip(w, mu, sd)]) + 1e-300
        tot = comp.sum(axis=0)
        ll = float(np.dot(c, np.log(tot)))
        r = comp / tot * c
        nk = r.sum(axis=1) + 1e-300
        w = nk / nk.sum()
        mu = (r @ x) / nk
        sd = np.sqrt(np.maximum((r * (x[None, :] - mu[:, None]) ** 2).sum(axis=1) / nk, (0.1 * width) ** 2))
        if abs(ll - prev) < tol * max(1.0, abs(ll)):
            break
        prev = ll
    order = np.argsort(mu)
    return w[order], mu[order], sd[order]
