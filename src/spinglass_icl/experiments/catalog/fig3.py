"""fig3 -- the energy landscape: degenerate (P < D(D+1)) vs unique (P > D(D+1)) ground state.

For each P, one training set defines E(W).  Two views:

1. the paper's: energies of ``samples`` random W ~ N(0, 1) (all K = (D+1)² entries), embedded in
   2-D by t-SNE (scikit-learn, optional: without it a PCA projection is used and the figure says
   so), then radial-basis-function interpolation of E onto a ``grid``×``grid`` mesh of the
   embedding plane, drawn as a 3-D surface with contours;
2. the energy on the 2-D plane through the ground state m* spanned by the softest and the stiffest
   Hessian eigenvector, E(m* + α u_soft + γ u_stiff), α, γ ∈ [−L, L].  The D+1 spins of W's last
   column never enter a prediction and are flat at every P, so the directions are taken among the
   D(D+1) effective spins.  At P < D(D+1) the softest direction has curvature λ0 (a flat valley);
   past D(D+1) it is curved by the data.  α ∈ [−L, L] (L = ``plane_extent``, in units of |W|);
   the stiff axis is scaled to the same energy rise at every P, γ ∈ [−Γ, Γ] with
   Γ = sqrt(2 ``plane_rise`` / μ_stiff), so that the two P are comparable.
   ``flat_fraction`` = fraction of the plane's grid within ``eps`` of E(m*);
   ``valley_fraction`` = the same along the soft axis alone (γ = 0).

Option ``energy``: ``"correct"`` or ``"paper"`` (the authors' fig3 energy, which counts J's
diagonal twice: Hessian A + diag(SᵀS/P); then m*, the Hessian directions and all energies are
those of that function).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ... import plotting
from ...features import effective_index, n_effective, n_spins
from ...prompts import PromptSpec, sample_features
from ...spinglass import SpinGlass
from ...validation import choice, positive, positive_int
from ..common import generators
from ..spec import Experiment

ENERGIES = ("correct", "paper")


def hessian_of(sg: SpinGlass, energy: str) -> np.ndarray:
    """Hessian (K, K) of the chosen energy function."""
    H = sg.hessian()
    if energy == "paper":
        H = H + np.diag(np.diagonal(sg.gram))  # the double-counted diagonal, see SpinGlass.energy
    return H


def landscape_directions(sg: SpinGlass, energy: str) -> dict[str, np.ndarray]:
    """Ground state m* (K,), Hessian eigenvalues on the effective spins (ascending) and the
    softest/stiffest eigenvectors embedded in K spins (the dead column's spins stay at 0)."""
    idx = effective_index(sg.D)
    H = hessian_of(sg, energy)[np.ix_(idx, idx)]
    mu, V = np.linalg.eigh(H)
    keep = mu > mu[-1] * 1e-12  # pseudo-inverse at λ0 = 0 (minimum-norm ground state)
    m = np.zeros(sg.K)
    m[idx] = V[:, keep] @ ((V[:, keep].T @ sg.h[idx]) / mu[keep])
    u_soft, u_stiff = np.zeros(sg.K), np.zeros(sg.K)
    u_soft[idx], u_stiff[idx] = V[:, 0], V[:, -1]
    return {"ground": m, "eigenvalues": mu, "soft": u_soft, "stiff": u_stiff}


def embed_2d(W: np.ndarray, method: str, perplexity: float, seed: int) -> tuple[np.ndarray, str]:
    """2-D embedding (n, 2) of the rows of W, and the method actually used ("tsne" or "pca")."""
    if method == "tsne":
        try:
            from sklearn.manifold import TSNE
        except ImportError:  # optional extra: degrade to PCA, the figure says which was used
            method = "pca"
        else:
            ts = TSNE(n_components=2, perplexity=min(perplexity, (len(W) - 1) / 3), init="pca",
                      random_state=seed % (2**31))
            return ts.fit_transform(W), "tsne"
    Wc = W - W.mean(axis=0)
    _, _, Vt = np.linalg.svd(Wc, full_matrices=False)
    return Wc @ Vt[:2].T, "pca"


def interpolate(xy: np.ndarray, E: np.ndarray, grid: int,
                smoothing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Thin-plate-spline RBF interpolation of E on a grid×grid mesh over the embedding's box."""
    from scipy.interpolate import RBFInterpolator

    gx = np.linspace(xy[:, 0].min(), xy[:, 0].max(), grid)
    gy = np.linspace(xy[:, 1].min(), xy[:, 1].max(), grid)
    X, Y = np.meshgrid(gx, gy)
    rbf = RBFInterpolator(xy, E, kernel="thin_plate_spline", smoothing=smoothing)
    Z = rbf(np.column_stack([X.ravel(), Y.ravel()])).reshape(grid, grid)
    return gx, gy, Z


def points(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    choice("energy", params["energy"], ENERGIES)
    choice("embedding", params["embedding"], ("tsne", "pca"))
    keys = ("D", "N", "lambda0", "samples", "grid", "plane_grid", "plane_extent", "plane_rise", "eps", "energy",
            "embedding", "perplexity", "smoothing")
    return [dict({k: params[k] for k in keys}, P=positive_int("P", P)) for P in np.atleast_1d(params["P"])]


def compute(point: Mapping[str, Any], seed: int, device: str = "cpu") -> dict[str, Any]:
    rng, _ = generators(seed)
    D, P, energy = point["D"], point["P"], point["energy"]
    sg = SpinGlass(sample_features(PromptSpec(D=D, N=point["N"]), P, rng), point["lambda0"])
    K = n_spins(D)
    # -- view 1: random W, 2-D embedding, RBF surface
    W = rng.standard_normal((positive_int("samples", point["samples"]), K))
    E = sg.energy(W, convention=energy)
    xy, used = embed_2d(W, point["embedding"], point["perplexity"], int(rng.integers(2**31)))
    gx, gy, Z = interpolate(xy, E, positive_int("grid", point["grid"]), float(point["smoothing"]))
    # -- view 2: plane through m* along the softest and stiffest Hessian directions
    d = landscape_directions(sg, energy)
    mu = d["eigenvalues"]
    L = positive("plane_extent", point["plane_extent"])
    n_grid = positive_int("plane_grid", point["plane_grid"])
    alpha = np.linspace(-L, L, n_grid)
    gamma = np.linspace(-1.0, 1.0, n_grid) * np.sqrt(2.0 * positive("plane_rise", point["plane_rise"]) / mu[-1])
    A, G = np.meshgrid(alpha, gamma, indexing="ij")  # A: soft coordinate α, G: stiff coordinate γ
    plane = d["ground"] + A[..., None] * d["soft"] + G[..., None] * d["stiff"]
    Ep = sg.energy(plane, convention=energy)
    E0 = float(sg.energy(d["ground"], convention=energy))
    return {"energies": E, "embedding": xy, "embedding_method": used, "grid_x": gx, "grid_y": gy, "surface": Z,
            "plane_alpha": alpha, "plane_gamma": gamma, "plane_energy": Ep, "ground_energy": E0,
            "hessian_eigenvalues": mu,
            "soft_eigenvalue": float(mu[0]), "stiff_eigenvalue": float(mu[-1]),
            "flat_directions": int(np.count_nonzero(mu < 1.001 * point["lambda0"] + 1e-12)),
            "flat_fraction": float(np.mean(Ep - E0 < point["eps"])),
            "valley_fraction": float(np.mean(Ep[:, n_grid // 2] - E0 < point["eps"])),
            "energy_mean": float(E.mean()), "energy_std": float(E.std()), "energy_min": float(E.min()),
            "n_effective": n_effective(D)}


def plot(records: list[Mapping[str, Any]], params: Mapping[str, Any]):
    recs = sorted(records, key=lambda r: r["P"])
    n = len(recs)
    with plotting.style():
        fig = Figure(figsize=(10.5, 3.2 * n), layout="constrained")
        for i, r in enumerate(recs):
            P, D = int(r["P"]), int(r["D"])
            regime = "degenerate" if P < n_effective(D) else "unique"
            # (1) t-SNE (or PCA) surface
            ax = fig.add_subplot(n, 3, 3 * i + 1, projection="3d")
            X, Y = np.meshgrid(r["grid_x"], r["grid_y"])
            Z = np.asarray(r["surface"])
            step = max(1, Z.shape[0] // 80)  # ≤ 80×80 facets keeps the PDF light
            ax.plot_surface(X[::step, ::step], Y[::step, ::step], Z[::step, ::step], cmap="viridis",
                            linewidth=0, antialiased=False, alpha=0.9)
            ax.contour(X, Y, Z, zdir="z", offset=float(Z.min()), cmap="viridis", levels=12, linewidths=0.6)
            ax.set_title(f"P={P} ({regime}): E(W) of {len(r['energies'])} random W\n"
                         f"{r['embedding_method']} + RBF surface")
            ax.set_xlabel("dim 1")
            ax.set_ylabel("dim 2")
            # (2) plane through the ground state
            ax = fig.add_subplot(n, 3, 3 * i + 2)
            al, ga = np.asarray(r["plane_alpha"]), np.asarray(r["plane_gamma"])
            dE = np.asarray(r["plane_energy"]) - r["ground_energy"]
            cs = ax.contourf(al, ga, np.log10(np.maximum(dE, 1e-6)).T, levels=np.linspace(-4, 1, 21),
                             cmap="viridis", extend="both")
            ax.contour(al, ga, dE.T, levels=[float(params["eps"])], colors="w", linewidths=0.8)
            fig.colorbar(cs, ax=ax, shrink=0.85, label=r"$\log_{10}(E - E^*)$")
            ax.plot(0, 0, "r*", ms=7)
            ax.set_xlabel(f"α  (softest, curvature {r['soft_eigenvalue']:.3g})")
            ax.set_ylabel(f"γ  (stiffest, curvature {r['stiff_eigenvalue']:.3g})")
            ax.set_title(f"E(m* + α u_soft + γ u_stiff); white: E − E* < {params['eps']:g}\n"
                         f"flat fraction {r['flat_fraction']:.2f}, soft axis {r['valley_fraction']:.2f}")
            # (3) Hessian spectrum
            ax = fig.add_subplot(n, 3, 3 * i + 3)
            mu = np.asarray(r["hessian_eigenvalues"])
            ax.semilogy(np.arange(1, mu.size + 1), mu, ".", ms=3)
            ax.axhline(float(params["lambda0"]), color="k", ls=":", lw=0.8, label="λ0")
            # ascending order: the first D(D+1) − min(P, D(D+1)) directions carry no data
            ax.axvline(n_effective(D) - min(P, n_effective(D)) + 0.5, color="C3", ls="--", lw=0.8)
            ax.set_xlabel("index (effective spins, ascending)")
            ax.set_ylabel("Hessian eigenvalue")
            ax.set_title(f"{r['flat_directions']} of {mu.size} directions at curvature λ0")
            ax.legend(frameon=False)
        fig.suptitle(f"fig3: energy landscape, D={params['D']}, N={params['N']}, λ0={params['lambda0']}, "
                     f"energy={params['energy']}")
    return fig


_SUMMARY_KEYS = ("flat_fraction", "valley_fraction", "flat_directions", "soft_eigenvalue", "stiff_eigenvalue",
                 "ground_energy", "energy_mean", "energy_std", "embedding_method")


def summary(records: list[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    return {f"P={int(r['P'])}": {k: (round(float(r[k]), 5) if isinstance(r[k], float) else r[k]) for k in _SUMMARY_KEYS}
            for r in sorted(records, key=lambda r: r["P"])}


_COMMON = dict(D=10, N=50, lambda0=0.01, P=[10, 1000], plane_extent=3.0, plane_rise=1.0, eps=0.05, energy="correct",
               embedding="tsne", perplexity=30.0, smoothing=1.0)

EXPERIMENT = Experiment(
    id="fig3",
    title="energy landscape at P=10 (degenerate) and P=1000 (unique ground state)",
    quick=dict(_COMMON, samples=300, grid=60, plane_grid=61),
    full=dict(_COMMON, samples=1000, grid=200, plane_grid=201),
    points=points,
    compute=compute,
    plot=plot,
    summary=summary,
    notes="energy=paper reproduces the authors' double-counted diagonal; t-SNE needs scikit-learn (else PCA).",
)
