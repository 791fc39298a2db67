"""Histograms, in one place: fixed bins (so blocks of draws can be pooled later by adding counts), pooled raw
moments, the comparison of binned distributions (Kullback–Leibler in bits, Kolmogorov–Smirnov to a law), and the
histograms of the block entries of h and J (fig1, figS2).

The blocks are defined once, by :meth:`~spinglass_icl.SpinGlass.blocks` (block 𝒜 = rows 1..D of W,
ℬ = row D+1, zero modes out).  fig1 pools each block's entries, each coupling pair once; figS2 counts them as the
authors do (they histogram the full h and J and drop the exact zeros of the zero modes):

- h1: the D×D block of h, off-diagonal entries;  h2: row D+1 of h;
- J1: J within 𝒜, every entry (i, j) with i ≠ j -- both (i, j) and (j, i) of the symmetric J (``pairs="both"``);
- J2: J between 𝒜 and ℬ (every pair of spins once: i and j lie in different blocks);
- J3: J within ℬ, every (i, j) with i ≠ j, both triangles.

For D = 20 a draw has 380 (h1), 20 (h2), 400·399 (J1), 400·20 (J2) and 20·19 (J3) entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .. import validation as V
from ..features import FeatureMap
from ..prompts import PromptSpec
from ..spinglass import PairCount, SpinGlass
from .draws import draw_repeats
from .mixtures import fit_mixture

QUANTITIES = ("h1", "h2", "J1", "J2", "J3")
# fig1's quantities: the diagonal and off-diagonal entries of h1 apart, and every block of h and J
BLOCK_VALUES = ("h1_diag", "h1_off", "h2", "J1", "J2", "J3")
_DRAW_BATCH = 250  # draws per SpinGlass batch: bounds memory at ~R·K² doubles


# -- fixed bins ----------------------------------------------------------------------------------
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


# -- comparing binned distributions --------------------------------------------------------------
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


def ks_binned(counts: np.ndarray, probabilities: np.ndarray) -> float:
    """Kolmogorov–Smirnov distance between a histogram and a law, evaluated at the bin edges
    (a lower bound of the exact KS distance that converges to it as the bins shrink)."""
    c = np.cumsum(np.asarray(counts, dtype=float))
    return float(np.max(np.abs(c / c[-1] - np.cumsum(probabilities))))


# -- block entries of h and J --------------------------------------------------------------------
def block_values(sg: SpinGlass, *, pairs: PairCount = "once") -> dict[str, np.ndarray]:
    """:meth:`~spinglass_icl.SpinGlass.blocks` with h1 split into its diagonal (``h1_diag``, (..., D))
    and off-diagonal entries (``h1_off``, (..., D(D−1))), every block flattened to (..., n)."""
    b = sg.blocks(pairs=pairs)
    h1 = b.pop("h1")
    return {"h1_diag": np.diagonal(h1, axis1=-2, axis2=-1), "h1_off": h1[..., ~np.eye(sg.D, dtype=bool)], **b}


def draw_counts(
    spec: PromptSpec,
    P: int,
    feature_map: FeatureMap,
    draws: int,
    ranges: Mapping[str, tuple[float, float]],
    bins: int,
    rng: np.random.Generator,
    batch: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``draws`` independent training sets of P prompts (λ0 = 0), ``batch`` per SpinGlass (memory ~ 3·batch·K²
    doubles): per-draw counts (draws, 5, bins) of figS2's five quantities (both triangles of J1 and J3, h1 off the
    diagonal) on ``bins`` equal bins over their ``ranges``, outside counts (5,) and entries per draw (5,)."""
    hists, out, entries = [], np.zeros(len(QUANTITIES), np.int64), np.zeros(len(QUANTITIES), np.int64)
    for start in range(0, draws, batch):
        sg = SpinGlass(draw_repeats(spec, P, min(batch, draws - start), rng), 0.0, feature_map)
        vals = block_values(sg, pairs="both")
        vals["h1"] = vals["h1_off"]
        per = []
        for i, q in enumerate(QUANTITIES):
            e = edges(*ranges[q], bins)
            per.append(binned_rows(vals[q], e))
            out[i], entries[i] = out[i] + outside(vals[q], e), vals[q].shape[-1]
        hists.append(np.stack(per, axis=1))
    return np.concatenate(hists), out, entries


def draw_block_values(
    spec: PromptSpec, P: int, lambda0: float, feature_map: FeatureMap, draws: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], SpinGlass]:
    """``draws`` independent draws (batched) of the block entries of h and J (docs/theory.md#the-spin-glass) at the
    sizes of ``spec``, P, λ0 and ``feature_map`` (fig1), each pooled into one flat array: h1 diagonal and
    off-diagonal, h2, J1, J2, J3 (each pair once, zero modes out); also the first batch's SpinGlass (for the
    example images)."""
    parts: dict[str, list[np.ndarray]] = {q: [] for q in BLOCK_VALUES}
    first = None
    for start in range(0, draws, _DRAW_BATCH):
        sg = SpinGlass(draw_repeats(spec, P, min(_DRAW_BATCH, draws - start), rng), lambda0, feature_map)
        for q, v in block_values(sg).items():
            parts[q].append(v.ravel())
        first = sg if first is None else first
    assert first is not None  # draws >= 1
    return {q: np.concatenate(v) for q, v in parts.items()}, first
