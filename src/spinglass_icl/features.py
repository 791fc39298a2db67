"""The feature map of simplified linear attention (SPEC §2) -- the one place it is written.

ŷ = F(X)[D+1, N+1] = aᵀ W b / (N+1) = Σ_{mn} W_mn s_mn,   s = a ⊗ b / (N+1).

Spins are W flattened row-major: k = m(D+1) + n, K = (D+1)² of them.  Because b's last entry is
zero, the D+1 spins W_{m,D+1} never enter a prediction; the *effective* spins are the other
D(D+1), and :func:`feature_matrix` can return only those (``effective=True``).
"""

from __future__ import annotations

import numpy as np

from .prompts import Features


def n_spins(D: int) -> int:
    """Total number of spins K = (D+1)²."""
    return (D + 1) ** 2


def n_effective(D: int) -> int:
    """Number of spins that can affect a prediction, D(D+1)."""
    return D * (D + 1)


def feature_matrix(f: Features, *, effective: bool = False) -> np.ndarray:
    """Rank-one features s^μ = a^μ ⊗ b^μ / (N+1), shape (..., P, K) (or (..., P, D(D+1)))."""
    b = f.b[..., :-1] if effective else f.b
    s = f.a[..., :, None] * b[..., None, :] / (f.N + 1)
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
