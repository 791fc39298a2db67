"""Per-repeat statistics and record tables: what ``compute`` returns and ``plot``/``summary`` read.

``compute`` returns :func:`repeat_stats` of its per-repeat arrays; ``plot`` and ``summary`` read the
stored records through :func:`select`, :func:`groups` and :func:`column`; :func:`nan_mean_std` is the one
mean over repeats that skips the ones that failed (NaN/inf); :func:`fit_inverse_D` fits a finite-size
approach and :func:`threshold_crossing` locates a falling curve's crossing of a level.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from .spec import Record


def nan_mean_std(x: Any) -> tuple[float, float]:
    """Mean and std over the finite entries of ``x`` (NaN, without a warning, if there are none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return (float(np.mean(x)), float(np.std(x))) if x.size else (float("nan"), float("nan"))


def nan_sem(x: Any) -> float:
    """Standard error of the mean over the finite entries of ``x`` (sample std, ddof=1; NaN below two)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return float(np.std(x, ddof=1) / np.sqrt(x.size)) if x.size > 1 else float("nan")


def fit_inverse_D(D: np.ndarray, y: np.ndarray, sem: np.ndarray | None = None) -> tuple[float, float]:
    """Least-squares fit of a finite-size approach y ≈ y∞ + b/D (weights 1/sem where finite and > 0,
    floored at 1e-3·|y| so that no single point dominates); NaN entries of y are left out.  Returns (y∞, b)."""
    D, y = np.asarray(D, float), np.asarray(y, float)
    keep = np.isfinite(y)
    D, y = D[keep], y[keep]
    w = np.ones_like(y)
    if sem is not None:
        s = np.asarray(sem, float)[keep]
        good = np.isfinite(s) & (s > 0)
        w[good] = 1.0 / np.maximum(s[good], 1e-3 * np.abs(y[good]))
    X = np.stack([np.ones_like(D), 1.0 / D], axis=1)
    coef = np.linalg.lstsq(X * w[:, None], y * w, rcond=None)[0]
    return float(coef[0]), float(coef[1])


def threshold_crossing(x: np.ndarray, y: np.ndarray, level: float) -> float:
    """First x at which a falling ``y`` reaches ``level``, interpolated linearly in (log x, log y) between
    the grid points around the crossing; x[0] if y starts there, NaN if it never does."""
    below = np.nonzero(y <= level)[0]
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = np.log(x[i - 1]), np.log(x[i]), np.log(y[i - 1]), np.log(y[i])
    return float(np.exp(x0 + (np.log(level) - y0) * (x1 - x0) / (y1 - y0)))


def repeat_stats(arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Per-repeat arrays (R,) as results: ``<k>_per_repeat`` (stored beside the CSV) and the
    mean/std over the finite repeats ``<k>_mean``, ``<k>_std`` (CSV columns)."""
    out: dict[str, Any] = {f"{k}_per_repeat": v for k, v in arrays.items()}
    for k, v in arrays.items():
        out[f"{k}_mean"], out[f"{k}_std"] = nan_mean_std(v)
    return out


def groups(
    records: Iterable[Record],
    by: str,
    *,
    sort: str | Sequence[str] | None = None,
    where: Mapping[str, Any] | None = None,
) -> dict[Any, list[Record]]:
    """Records grouped by the value of ``by`` (groups in ascending order), each group sorted by
    ``sort``; only records matching every ``where`` item are kept."""
    keys = [sort] if isinstance(sort, str) else list(sort or [])
    kept = [r for r in records if not where or all(r.get(k) == v for k, v in where.items())]
    out: dict[Any, list[Record]] = {}
    for r in sorted(kept, key=lambda r: (r[by], *(r[k] for k in keys))):
        out.setdefault(r[by], []).append(r)
    return out


def select(records: Iterable[Record], sort: str | None = None, **where: Any) -> list[Record]:
    """The records whose entries equal ``where``, sorted by ``sort``."""
    out = [r for r in records if all(r.get(k) == v for k, v in where.items())]
    return sorted(out, key=lambda r: r[sort]) if sort else out


def column(records: Sequence[Record], key: str, default: float | None = None) -> np.ndarray:
    """The scalar ``key`` of every record, as a float array (``default`` for records without it, e.g. a
    column added after they were stored; None: every record must have it)."""
    return np.array([r[key] if default is None else r.get(key, default) for r in records], float)
