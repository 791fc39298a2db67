"""Scalar summaries of a weight matrix: query error, contrast ratio, distance to a reference.

Weights may be given as matrices (..., D+1, D+1) or as flat spins (..., (D+1)²).
"""

from __future__ import annotations

import math

import numpy as np

from .features import predict
from .prompts import Features
from .validation import InputError


def as_matrix(W: np.ndarray) -> np.ndarray:
    """Weights as (..., n, n): square trailing axes are kept, a flat last axis of n² is reshaped."""
    W = np.asarray(W)
    if W.ndim >= 2 and W.shape[-1] == W.shape[-2]:
        return W
    n = math.isqrt(W.shape[-1])
    if n * n != W.shape[-1]:
        raise InputError(f"weights of shape {W.shape} are neither square nor a flat square")
    return W.reshape(W.shape[:-1] + (n, n))


def query_error(W: np.ndarray, f: Features) -> np.ndarray:
    """Mean squared error of the query predictions of W (..., D+1, D+1) or (..., (D+1)²) on prompts
    ``f`` (features (..., P, D+1)), averaged over the P prompts; shape (...).  The test error of the
    experiments is this on fresh prompts with fresh tasks.  NaN weights (e.g.
    ``SolverResult.masked_mean()`` of failed runs) give NaN."""
    W = as_matrix(W)
    if W.shape[-1] != f.D + 1:
        raise InputError(f"weights of shape {W.shape} do not match prompts with D = {f.D}")
    return np.mean((predict(W, f) - f.y) ** 2, axis=-1)


def contrast_ratio(W: np.ndarray) -> np.ndarray:
    """Cosine similarity ⟨W, I⟩_F / (|W|_F |I|_F) with the identity; shape (...)."""
    W = as_matrix(np.asarray(W, dtype=float))
    n = W.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.trace(W, axis1=-2, axis2=-1) / (np.linalg.norm(W, axis=(-2, -1)) * math.sqrt(n))


def relative_distance(W: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """|W − ref|_F / |ref|_F; shape (...)."""
    W, ref = as_matrix(np.asarray(W, dtype=float)), as_matrix(np.asarray(ref, dtype=float))
    return np.linalg.norm(W - ref, axis=(-2, -1)) / np.linalg.norm(ref, axis=(-2, -1))
