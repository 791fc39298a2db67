"""2-D views of high-dimensional samples: an embedding of their rows (t-SNE or PCA) and a smooth surface over it
(fig3's energy landscape)."""

from __future__ import annotations

import numpy as np


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
