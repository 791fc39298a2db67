"""fig3 -- the energy landscape: degenerate (P < D(D+1)) vs unique (P > D(D+1)) ground state.

For each P one training set defines E(W), seen three ways: (1) the paper's view, energies of
``samples`` random W ~ N(0, 1) embedded in 2-D by t-SNE (scikit-learn; PCA without it, and the
figure says so) and RBF-interpolated onto a ``grid``² mesh, drawn as a surface with contours;
(2) E on the plane through the ground state m* along the softest and stiffest Hessian directions
among the D(D+1) effective spins (the D+1 zero modes are flat at every P), E(m* + α u_soft + γ u_stiff)
with α ∈ [−L, L] (L = ``plane_extent``) and γ scaled to the same energy rise ``plane_rise`` at every
P; ``flat_fraction``/``valley_fraction``: fraction of the plane/soft axis within ``eps`` of E(m*);
(3) the Hessian spectrum.  At P < D(D+1) the softest curvature is λ0 (a flat valley).

``convention="paper"``: the authors' fig3 energy, which counts J's diagonal twice (``SpinGlass.energy``
and ``SpinGlass.hessian`` with ``diagonal="twice"``); m*, directions and energies are then its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from ... import resources
from ...features import n_effective, n_spins
from ...prompts import PromptSpec, sample_features
from ...spinglass import Diagonal, SpinGlass, flat_mask
from ...validation import choice, positive, positive_int
from .. import embedding, panels
from ..draws import generators
from ..params import CONVENTIONS, Rule
from ..points import pick
from ..reference import landscape_directions
from ..spec import Experiment, Point, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DIAGONAL: dict[str, Diagonal] = {"correct": "once", "paper": "twice"}


def points(params: dict) -> list[dict[str, Any]]:
    choice("convention", params["convention"], CONVENTIONS)
    choice("embedding", params["embedding"], ("tsne", "pca"))
    keys = "D N lambda0 samples grid plane_grid plane_extent plane_rise eps convention embedding perplexity smoothing"
    return [dict(pick(params, keys.split()), P=positive_int("P", P)) for P in np.atleast_1d(params["P"])]


def compute(point: Point, seed: int, device: str) -> Result:
    rng, _ = generators(seed)
    D, P = point["D"], point["P"]
    diagonal = DIAGONAL[point["convention"]]  # the experiment's convention names how the energy counts J's diagonal
    sg = SpinGlass(sample_features(PromptSpec(D=D, N=point["N"]), P, rng), point["lambda0"])
    # -- view 1: random W, 2-D embedding, RBF surface
    W = rng.standard_normal((positive_int("samples", point["samples"]), n_spins(D)))
    E = sg.energy(W, diagonal=diagonal)
    xy, used = embedding.embed_2d(W, point["embedding"], point["perplexity"], int(rng.integers(2**31)))
    gx, gy, Z = embedding.interpolate(xy, E, positive_int("grid", point["grid"]), float(point["smoothing"]))
    # -- view 2: plane through m* along the softest and stiffest Hessian directions
    d = landscape_directions(sg, diagonal)
    mu = d["eigenvalues"]
    L, n_grid = positive("plane_extent", point["plane_extent"]), positive_int("plane_grid", point["plane_grid"])
    alpha = np.linspace(-L, L, n_grid)
    gamma = np.linspace(-1.0, 1.0, n_grid) * np.sqrt(2.0 * positive("plane_rise", point["plane_rise"]) / mu[-1])
    A, G = np.meshgrid(alpha, gamma, indexing="ij")  # A: soft coordinate α, G: stiff coordinate γ
    plane = d["ground"] + A[..., None] * d["soft"] + G[..., None] * d["stiff"]
    Ep = sg.energy(plane, diagonal=diagonal)
    E0 = float(sg.energy(d["ground"], diagonal=diagonal))
    out = dict(energies=E, embedding=xy, embedding_method=used, grid_x=gx, grid_y=gy, surface=Z, plane_alpha=alpha)
    out.update(plane_gamma=gamma, plane_energy=Ep, ground_energy=E0, hessian_eigenvalues=mu, n_effective=n_effective(D))
    out.update(soft_eigenvalue=float(mu[0]), stiff_eigenvalue=float(mu[-1]), energy_min=float(E.min()))
    out.update(energy_mean=float(E.mean()), energy_std=float(E.std()))
    out["flat_directions"] = int(np.count_nonzero(flat_mask(mu, shift=point["lambda0"])))
    out["flat_fraction"] = float(np.mean(Ep - E0 < point["eps"]))
    out["valley_fraction"] = float(np.mean(Ep[:, n_grid // 2] - E0 < point["eps"]))
    return out


def plot(records: list[dict], params: dict) -> Figure:
    from matplotlib.figure import Figure

    recs = sorted(records, key=lambda r: r["P"])
    fig = Figure(figsize=(11.5, 3.2 * len(recs)), layout="constrained")
    for i, r in enumerate(recs):
        P, D = int(r["P"]), int(r["D"])
        # (1) t-SNE (or PCA) surface
        ax = fig.add_subplot(len(recs), 3, 3 * i + 1, projection="3d")
        X, Y = np.meshgrid(r["grid_x"], r["grid_y"])
        Z = np.asarray(r["surface"])
        k = max(1, Z.shape[0] // 80)  # ≤ 80×80 facets keeps the PDF light
        ax.plot_surface(X[::k, ::k], Y[::k, ::k], Z[::k, ::k], cmap="viridis", linewidth=0, antialiased=False)
        ax.contour(X, Y, Z, zdir="z", offset=float(Z.min()), cmap="viridis", levels=12, linewidths=0.6)
        regime = "degenerate" if P < n_effective(D) else "unique"
        ax.set(xlabel="dim 1", ylabel="dim 2")
        ax.set_title(f"P={P} ({regime})\nE(W) of {len(r['energies'])} random W, {r['embedding_method']} + RBF")
        # (2) plane through the ground state
        ax = fig.add_subplot(len(recs), 3, 3 * i + 2)
        al, ga, dE = np.asarray(r["plane_alpha"]), np.asarray(r["plane_gamma"]), np.asarray(r["plane_energy"])
        dE = dE - r["ground_energy"]
        levels = np.linspace(-4, 1, 21)
        cs = ax.contourf(al, ga, np.log10(np.maximum(dE, 1e-6)).T, levels=levels, cmap="viridis", extend="both")
        ax.contour(al, ga, dE.T, levels=[float(params["eps"])], colors="w", linewidths=0.8)
        fig.colorbar(cs, ax=ax, shrink=0.85, label=r"$\log_{10}(E - E^*)$")
        ax.plot(0, 0, "r*", ms=7)
        ax.set(xlabel=f"α  (softest, curvature {r['soft_eigenvalue']:.3g})")
        ax.set(ylabel=f"γ  (stiffest, curvature {r['stiff_eigenvalue']:.3g})")
        ax.set_title(
            f"E(m* + α u_soft + γ u_stiff); white: E − E* < {params['eps']:g}\n"
            f"flat fraction {r['flat_fraction']:.2f}, soft axis {r['valley_fraction']:.2f}"
        )
        # (3) Hessian spectrum; ascending: the first D(D+1) − min(P, D(D+1)) directions carry no data
        ax = fig.add_subplot(len(recs), 3, 3 * i + 3)
        mu = np.asarray(r["hessian_eigenvalues"])
        ax.semilogy(np.arange(1, mu.size + 1), mu, ".", ms=3, label="eigenvalues")
        ax.axhline(float(params["lambda0"]), color="k", ls=":", lw=0.8, label="λ0")
        panels.threshold(ax, n_effective(D) - min(P, n_effective(D)) + 0.5, label="no-data directions", color="C3")
        ax.set(xlabel="index (effective spins, ascending)", ylabel="Hessian eigenvalue")
        ax.set_title(f"{r['flat_directions']} of {mu.size} directions at curvature λ0")
        panels.legend(ax)
    fig.suptitle(
        f"fig3: energy landscape, D={params['D']}, N={params['N']}, λ0={params['lambda0']}, "
        f"convention={params['convention']}"
    )
    return fig


_SUMMARY_KEYS = ["flat_fraction", "valley_fraction", "flat_directions", "soft_eigenvalue", "stiff_eigenvalue"]
_SUMMARY_KEYS += ["ground_energy", "energy_mean", "energy_std", "embedding_method"]


def summary(records: list[dict], params: dict) -> dict[str, Any]:
    return {
        f"P={int(r['P'])}": {k: (round(float(r[k]), 5) if isinstance(r[k], float) else r[k]) for k in _SUMMARY_KEYS}
        for r in sorted(records, key=lambda r: r["P"])
    }


_COMMON = dict(D=10, N=50, lambda0=0.01, P=[10, 1000], plane_extent=3.0, plane_rise=1.0, eps=0.05, convention="correct")
_COMMON.update(embedding="tsne", perplexity=30.0, smoothing=1.0)
QUICK = dict(_COMMON, samples=300, grid=60, plane_grid=61)
FULL = dict(_COMMON, samples=1000, grid=200, plane_grid=201)
RENAMED = {"convention": "energy"}

RULES = {
    "convention": Rule(doc="energy: correct, or paper (the authors' fig3 energy, which counts J's diagonal twice)"),
    "samples": Rule(low=1, doc="random W ~ N(0, 1) whose energies are embedded"),
    "grid": Rule(low=1, high=10**5, doc="interpolation mesh points per side"),
    "plane_grid": Rule(low=1, high=10**5, doc="mesh points per side of the energy plane through m*"),
    "plane_extent": Rule(real=True, low=0, low_open=True, doc="half-width L of the energy plane along the soft axis"),
    "plane_rise": Rule(real=True, low=0, low_open=True, doc="energy rise that scales the plane's stiff axis"),
    "smoothing": Rule(real=True, low=0, doc="RBF interpolation smoothing"),
    "embedding": Rule(doc="2-D embedding of the random W's: tsne (scikit-learn) or pca"),
    "perplexity": Rule(real=True, low=0, low_open=True, doc="t-SNE perplexity"),
    "eps": Rule(real=True, low=0, low_open=True, doc="energy threshold above the ground state"),
}


COLUMNS = {
    "embedding_method": "2-D embedding actually used for the random W's (t-SNE, or its fallback) [text]",
    "ground_energy": "energy E(m*) of the ground state [energy units: E[y²]/2]",
    "n_effective": "number of effective spins D(D+1) [count]",
    "soft_eigenvalue": "smallest eigenvalue of the Hessian A (a flat direction has λ0) [1]",
    "stiff_eigenvalue": "largest eigenvalue of the Hessian A [1]",
    "energy_min": "lowest energy of the random W's [energy units]",
    "energy_mean": "mean energy of the random W's [energy units]",
    "energy_std": "standard deviation of the energies of the random W's [energy units]",
    "flat_directions": "Hessian eigenvalues within the flat threshold of λ0 (flat directions) [count]",
    "flat_fraction": "fraction of the plotted (soft, stiff) plane within eps of E(m*) [1]",
    "valley_fraction": "fraction of the soft axis within eps of E(m*) [1]",
}


def cost(point: Point) -> resources.Estimate:
    """The generic estimate of the spin glass and its samples, plus the two meshes: the RBF surface
    (grid², each point against every sample) and the energy plane (plane_grid², an energy each)."""
    est = resources.generic(point)
    n = float(point["D"]) * (point["D"] + 1)
    mesh = {"grid": 8.0 * 4 * point["grid"] ** 2, "plane_grid": 8.0 * 4 * point["plane_grid"] ** 2}
    flops = 10.0 * point["grid"] ** 2 * point["samples"] + 2.0 * point["plane_grid"] ** 2 * n * n
    return resources.Estimate(
        est.bytes + resources.MATRIX_MARGIN * sum(mesh.values()),
        est.seconds + flops / resources.FLOPS,
        {**est.parts, **mesh},
    )


SUMMARY_KEYS = {
    "P=*.flat_fraction": "fraction of the plotted (soft, stiff) plane within eps of E(m*) [1]",
    "P=*.valley_fraction": "fraction of the soft axis within eps of E(m*) [1]",
    "P=*.flat_directions": "Hessian eigenvalues within the flat threshold of λ0 (flat directions) [count]",
    "P=*.soft_eigenvalue": "smallest eigenvalue of the Hessian A [1]",
    "P=*.stiff_eigenvalue": "largest eigenvalue of the Hessian A [1]",
    "P=*.ground_energy": "energy E(m*) of the ground state [energy units: E[y²]/2]",
    "P=*.energy_mean": "mean energy of the random W's [energy units]",
    "P=*.energy_std": "standard deviation of the energies of the random W's [energy units]",
    "P=*.embedding_method": "2-D embedding used for the random W's (t-SNE, or its fallback) [text]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="fig3",
    title="energy landscape at P=10 (degenerate) and P=1000 (unique ground state)",
)
