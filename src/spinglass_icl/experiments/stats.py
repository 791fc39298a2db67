"""Statistics shared by the distribution experiments (fig1, figS2, figS5): one place per formula.

Histograms on fixed bins (so chunks of draws can be pooled later by adding counts), Gaussian and
Gaussian-mixture fits to binned data, the Kullback–Leibler divergence in bits, the
Marchenko–Pastur law, and a fast sampler of Wishart spectra.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import integrate, linalg

from .. import validation as V


# -- histograms ----------------------------------------------------------------------------------
def edges(lo: float, hi: float, bins: int) -> np.ndarray:
    """``bins`` equal bins on [lo, hi]: edges of shape (bins+1,)."""
    lo, hi = V.finite_float("lo", lo), V.finite_float("hi", hi)
    if not hi > lo:
        raise V.InputError(f"histogram range must have hi > lo, got [{lo:g}, {hi:g}]")
    return np.linspace(lo, hi, V.positive_int("bins", bins) + 1)


def binned(values: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """Counts of ``values`` (any shape, pooled) in the bins, shape (bins,); values outside the
    range are not counted (see :func:`outside`)."""
    counts, _ = np.histogram(np.ravel(values), bins=bin_edges)
    return counts.astype(np.int64)


def binned_rows(values: np.ndarray, bin_edges: np.ndarray) -> np.ndarray:
    """Per-row histograms of ``values`` (R, n) on equal bins, shape (R, bins), in one bincount
    (same counts as :func:`binned` row by row; values outside the range are not counted)."""
    v = np.asarray(values, dtype=float)
    R, bins = v.shape[0], len(bin_edges) - 1
    lo, hi = bin_edges[0], bin_edges[-1]
    ok = (v >= lo) & (v <= hi)
    idx = np.clip(np.floor((v - lo) / (hi - lo) * bins), 0, bins - 1).astype(np.int64)
    # Rounding can put a value on an edge into the neighbouring bin: correct as np.histogram does
    # (half-open bins [e_i, e_{i+1}), the last one closed).
    idx -= (v < bin_edges[idx]) & (idx > 0)
    idx += (v >= bin_edges[np.minimum(idx + 1, bins)]) & (idx < bins - 1)
    flat = (idx + bins * np.arange(R)[:, None])[ok]
    return np.bincount(flat, minlength=R * bins).reshape(R, bins).astype(np.int64)


def outside(values: np.ndarray, bin_edges: np.ndarray) -> int:
    """Number of values outside [edges[0], edges[-1]]."""
    v = np.ravel(values)
    return int(np.count_nonzero((v < bin_edges[0]) | (v > bin_edges[-1])))


def centers(bin_edges: np.ndarray) -> np.ndarray:
    return 0.5 * (bin_edges[1:] + bin_edges[:-1])


def moments(values: np.ndarray) -> np.ndarray:
    """Pool-able raw moments (count, Σx, Σx²) of ``values``, shape (3,)."""
    v = np.ravel(np.asarray(values, dtype=float))
    return np.array([v.size, v.sum(), np.dot(v, v)])


def mean_std(m: np.ndarray) -> tuple[float, float]:
    """Mean and (population) standard deviation from pooled raw moments (count, Σx, Σx²)."""
    n, s1, s2 = (float(x) for x in m)
    mu = s1 / n
    return mu, float(np.sqrt(max(s2 / n - mu * mu, 0.0)))


def histogram_record(name: str, values: np.ndarray, bin_edges: np.ndarray) -> dict[str, Any]:
    """A point's results for one quantity on fixed bins: ``hist_<name>``, ``edges_<name>``, pool-able
    ``moments_<name>``, the count ``outside_<name>`` of values off the bins, ``mean_<name>``, ``std_<name>``."""
    v = np.ravel(values)
    return {
        f"hist_{name}": binned(v, bin_edges),
        f"edges_{name}": bin_edges,
        f"moments_{name}": moments(v),
        f"outside_{name}": outside(v, bin_edges),
        f"mean_{name}": float(v.mean()),
        f"std_{name}": float(v.std()),
    }


def pool_histograms(
    records: Sequence[Mapping[str, Any]], names: Iterable[str], merge: Mapping[str, Sequence[str]] | None = None
) -> dict[str, dict[str, Any]]:
    """Counts, edges, raw moments and outside counts of :func:`histogram_record` quantities pooled
    over records (chunks of draws); ``merge`` adds sums of quantities binned alike (e.g. h1 = diag + off)."""
    out: dict[str, dict[str, Any]] = {}
    for q in names:
        e = np.asarray(records[0][f"edges_{q}"])
        if any(not np.allclose(r[f"edges_{q}"], e) for r in records):
            raise V.InputError(f"records of {q} were binned differently; rerun with one parameter set")
        out[q] = {
            "edges": e,
            "counts": sum(np.asarray(r[f"hist_{q}"]) for r in records),
            "moments": sum(np.asarray(r[f"moments_{q}"], dtype=float) for r in records),
            "outside": sum(int(r[f"outside_{q}"]) for r in records),
        }
    for name, parts in (merge or {}).items():
        out[name] = {
            "edges": out[parts[0]]["edges"],
            **{k: sum(out[p][k] for p in parts) for k in ("counts", "moments", "outside")},
        }
    return out


def fit_pooled(pool: Mapping[str, Mapping[str, Any]], names: Iterable[str], n_components: int = 2) -> dict[str, Any]:
    """Per quantity of :func:`pool_histograms`: the Gaussian of its exact pooled moments (``mean``,
    ``std``) and an ``n_components`` mixture fitted to its counts (``mix_w``, ``mix_mean``, ``mix_std``)."""
    out = {}
    for q in names:
        mu, sd = mean_std(pool[q]["moments"])
        w, m, s = fit_mixture(centers(pool[q]["edges"]), pool[q]["counts"], n_components)
        out[q] = {"mean": mu, "std": sd, "mix_w": w, "mix_mean": m, "mix_std": s}
    return out


# -- fits ----------------------------------------------------------------------------------------
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


# -- information ---------------------------------------------------------------------------------
def kl_bits(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
    """KL(p || q) = Σ p log₂(p/q) in bits along ``axis``; p and q are normalised there first.

    Both must be non-negative; q must be positive wherever p is (add a pseudo-count first)."""
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p = p / p.sum(axis=axis, keepdims=True)
    q = q / q.sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / q), 0.0)
    return terms.sum(axis=axis)


# -- Marchenko–Pastur ------------------------------------------------------------------------------
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
    a, b = mp_edges(q)
    out = np.empty(len(bin_edges) - 1)
    for i, (lo, hi) in enumerate(zip(bin_edges[:-1], bin_edges[1:])):
        lo, hi = max(lo, a), min(hi, b)
        out[i] = integrate.quad(mp_density, lo, hi, args=(q,), limit=200)[0] if hi > lo else 0.0
    return out


def ks_binned(counts: np.ndarray, probabilities: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between a histogram and a law, evaluated at the bin edges
    (a lower bound of the exact KS distance that converges to it as the bins shrink)."""
    c = np.cumsum(np.asarray(counts, dtype=float))
    return float(np.max(np.abs(c / c[-1] - np.cumsum(probabilities))))


# -- Wishart spectra -----------------------------------------------------------------------------
WISHART_METHODS = ("bidiagonal", "bartlett", "explicit")


def wishart_eigenvalues(D: int, N: int, n: int, rng: np.random.Generator, method: str = "bidiagonal") -> np.ndarray:
    """Eigenvalues of X Xᵀ (ascending) for ``n`` independent X ∈ R^{D×N} with iid N(0,1) entries,
    shape (n, D).  X Xᵀ ~ Wishart(N, I_D).

    ``"explicit"`` forms X (O(D²N) per draw); ``"bartlett"`` samples the Bartlett factor L (lower
    triangular, L_ii ~ χ_{N−i+1}, L_ij ~ N(0,1) below the diagonal, X Xᵀ =ᵈ L Lᵀ) in O(D²);
    ``"bidiagonal"`` uses the Dumitriu–Edelman model: the same spectrum as B Bᵀ with B lower
    bidiagonal, B_ii ~ χ_{N−i+1}, B_{i+1,i} ~ χ_{D−i} (i = 1..D), so a draw costs O(D) random
    numbers plus a symmetric tridiagonal eigenproblem.  The last two need N ≥ D.
    """
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


# -- 2-D views of high-dimensional samples ------------------------------------------------------------
def embed_2d(W: np.ndarray, method: str, perplexity: float, seed: int) -> tuple[np.ndarray, str]:
    """2-D embedding (n, 2) of the rows of W, and the method actually used ("tsne" or "pca")."""
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:  # optional extra: degrade to PCA, the figure says which was used
            method = "pca"
        else:
            ts = TSNE(
                n_components=2, perplexity=min(perplexity, (len(W) - 1) / 3), init="pca", random_state=seed % (2**31)
            )
            return ts.fit_transform(W), "tsne"
    Wc = W - W.mean(axis=0)
    _, _, Vt = np.linalg.svd(Wc, full_matrices=False)
    return Wc @ Vt[:2].T, "pca"


def interpolate(
    xy: np.ndarray, E: np.ndarray, grid: int, smoothing: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin-plate-spline RBF interpolation of E on a grid×grid mesh over the embedding's box."""
    from scipy.interpolate import RBFInterpolator

    gx = np.linspace(xy[:, 0].min(), xy[:, 0].max(), grid)
    gy = np.linspace(xy[:, 1].min(), xy[:, 1].max(), grid)
    X, Y = np.meshgrid(gx, gy)
    rbf = RBFInterpolator(xy, E, kernel="thin_plate_spline", smoothing=smoothing)
    Z = rbf(np.column_stack([X.ravel(), Y.ravel()])).reshape(grid, grid)
    return gx, gy, Z
