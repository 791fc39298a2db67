"""The feature map of simplified linear attention (docs/theory.md#model) -- the one place it is written.

ŷ = F(X)[D+1, N+1] = aᵀ W b / (N+1) = Σ_{mn} W_mn s_mn,   s = a ⊗ b / (N+1).

Spins are W flattened row-major: k = m(D+1) + n, K = (D+1)² of them.  Because b's last entry is
zero, the D+1 spins W_{m,D+1} never enter a prediction; the *effective* spins are the other
D(D+1), and :func:`feature_matrix` can return only those (``effective=True``).

``feature_map="paper"`` is the authors' fig1/figS2 coupling builder: s = a ⊗ b / N with the D×D
block transposed.  It changes J and h only (never a prediction), and it is written here, beside
the correct map, so that there is one feature map with a flag rather than two.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from . import validation as V
from .prompts import Features

FeatureMap = Literal["correct", "paper"]
FEATURE_MAPS: tuple[FeatureMap, ...] = ("correct", "paper")  # the correct map; the authors' fig1/figS2 builder


def n_spins(D: int) -> int:
    """Total number of spins K = (D+1)²."""
    return (D + 1) ** 2


def n_effective(D: int) -> int:
    """Number of spins that can affect a prediction, D(D+1)."""
    return D * (D + 1)


def feature_matrix(
    f: Features, *, effective: bool = False, feature_map: FeatureMap = "correct", convention: FeatureMap | None = None
) -> np.ndarray:
    """Rank-one features s^μ = a^μ ⊗ b^μ / (N+1), shape (..., P, K) (or (..., P, D(D+1))).

    ``feature_map="paper"``: the authors' builder, a ⊗ b / N with the D×D block transposed.
    ``convention`` is the deprecated name of ``feature_map`` (until 0.4.0).
    """
    if convention is not None:
        feature_map = V.renamed_keyword("feature_matrix", "convention", "feature_map", convention)
    V.choice("feature_map", feature_map, FEATURE_MAPS)
    b = f.b[..., :-1] if effective else f.b
    if feature_map == "correct":
        s = f.a[..., :, None] * b[..., None, :] / (f.N + 1)
    else:
        D = f.D
        s = f.a[..., :, None] * b[..., None, :] / f.N
        s[..., :D, :D] = np.swapaxes(s[..., :D, :D], -1, -2).copy()
    return s.reshape(*s.shape[:-2], -1)


def predict(W: np.ndarray, f: Features) -> np.ndarray:
    """Query predictions aᵀ W b / (N+1) for weights W (..., D+1, D+1); returns (..., P).

    Same formula as ``feature_matrix(f) @ W.ravel()`` without forming the P×K matrix.
    """
    W = np.asarray(W)
    return np.einsum("...pi,...ij,...pj->...p", f.a, W, f.b) / (f.N + 1)


def embed_effective(m: np.ndarray, D: int) -> np.ndarray:
    """Map effective spins (..., D(D+1)) to full spins (..., (D+1)²), zero on the zero modes."""
    out = np.zeros(m.shape[:-1] + (D + 1, D + 1), dtype=m.dtype)
    out[..., :, :D] = m.reshape(m.shape[:-1] + (D + 1, D))
    return out.reshape(m.shape[:-1] + ((D + 1) ** 2,))


def effective_index(D: int) -> np.ndarray:
    """Indices of the D(D+1) effective spins among the (D+1)² (row-major)."""
    k = np.arange((D + 1) ** 2).reshape(D + 1, D + 1)
    return k[:, :D].ravel()


def zero_mode_index(D: int) -> np.ndarray:
    """Indices of the D+1 zero modes W_{m,D+1} (the last column, which no prediction reads), ascending."""
    k = np.arange((D + 1) ** 2).reshape(D + 1, D + 1)
    return k[:, D]
