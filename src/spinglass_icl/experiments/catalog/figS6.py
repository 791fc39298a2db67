"""Fig. S6: the linear system behind the ground state.

For one input covariance C = XXᵀ/N (X ∈ R^{D×N} Gaussian) and P task vectors w^μ ∈ R^D
(N(0, I)), fit W11 ∈ R^{D×D} and W21 ∈ R^{1×D} by full-batch Adam (lr 0.01) on

    L(W11, W21) = (1/P) Σ_μ |(w^μ W21/√D + W11) C − I|²_F / D²

(w^μ a column, so w^μ W21 is D×D of rank one).  Its unique minimiser is W21 = 0, W11 = C⁻¹
(Σ_μ|u_μ r + B|² = 0 with distinct u_μ forces r = 0, B = 0), so W11 → I only as C → I (N ≫ D).
Tracked per epoch: the distance d = mean((W11 − I)²) + mean(W21²) (mean squares over entries).
Initialisation *(choice)*: entries ~ N(0, 1/(D+1)), as the paper's attention weights.

All repeats (independent X, w, init) run as one batched torch computation; the loss is evaluated
in the expanded form P|B|² + 2 Σ_μ u_μᵀ B rᵀ + Σ_μ|u_μ|²|r|², B = W11 C − I, r = W21 C, u = w/√D,
which equals the definition (tested) without the (R, P, D, D) tensor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting, resources
from ...validation import InputError
from .. import panels
from ..draws import generators
from ..params import Rule
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:  # torch is imported by the functions that compute (the module imports cheaply)
    import torch
    from matplotlib.figure import Figure

FULL = dict(D=10, N=50, P=10, lr=0.01, epochs=1000, repeats=5000, n_traces=20, bins=60)
QUICK = {**FULL, "repeats": 500}
THREADS = 1  # (R, 10, 10) tensor ops: threading costs more than it gains


def loss_terms(W11: torch.Tensor, W21: torch.Tensor, C: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """L per repeat, shape (R,), for W11 (R, D, D), W21 (R, 1, D), C (R, D, D), w (R, P, D)."""
    import torch

    R, P, D = w.shape
    u = w / math.sqrt(D)
    B = W11 @ C - torch.eye(D, dtype=C.dtype)
    r = (W21 @ C)[:, 0]  # (R, D)
    cross = torch.einsum("rpi,rij,rj->r", u, B, r)  # Σ_μ u_μᵀ B rᵀ
    total = P * (B * B).sum((-2, -1)) + 2 * cross + (u * u).sum((-2, -1)) * (r * r).sum(-1)
    return total / (P * D * D)


def loss_direct(W11: torch.Tensor, W21: torch.Tensor, C: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """The definition, through the (R, P, D, D) tensor (for tests)."""
    import torch

    R, P, D = w.shape
    M = (w[..., :, None] * W21[:, None] / math.sqrt(D) + W11[:, None]) @ C[:, None] - torch.eye(D, dtype=C.dtype)
    return (M * M).sum((-2, -1)).mean(-1) / D**2


def distance(W11: torch.Tensor, W21: torch.Tensor) -> torch.Tensor:
    """mean((W11 − I)²) + mean(W21²) per repeat, shape (R,)."""
    import torch

    D = W11.shape[-1]
    return ((W11 - torch.eye(D, dtype=W11.dtype)) ** 2).mean((-2, -1)) + (W21**2).mean((-2, -1))


def compute(point: Point, seed: int, device: str) -> Result:
    """Distance and loss per epoch (summaries over repeats, a few traces), final distances (R,)."""
    import torch
    from torch import nn

    from ...models import paper_init
    from ...training import Adam

    rng, tgen = generators(seed)
    D, N, P, R, E = point["D"], point["N"], point["P"], point["repeats"], point["epochs"]
    X = torch.from_numpy(rng.standard_normal((R, D, N)))
    C = X @ X.transpose(-1, -2) / N
    w = torch.from_numpy(rng.standard_normal((R, P, D)))
    W11 = nn.Parameter(paper_init((R, D, D), D, tgen, torch.float64))
    W21 = nn.Parameter(paper_init((R, 1, D), D, tgen, torch.float64))
    opt = Adam([W11, W21], lr=point["lr"])  # the project's one Adam (torch.optim.Adam's update)
    dist = np.empty((R, E + 1))
    loss = np.empty((R, E))
    for e in range(E):
        W11.grad = W21.grad = None
        L = loss_terms(W11, W21, C, w)
        L.sum().backward()  # repeats are independent: each gets its own gradient (Adam is per entry)
        loss[:, e] = L.detach().numpy()
        dist[:, e] = distance(W11, W21).detach().numpy()
        opt.step()
    with torch.no_grad():
        dist[:, E] = distance(W11, W21).numpy()
        Cinv = torch.linalg.inv(C)
        d_min = distance(Cinv, torch.zeros_like(W21)).numpy()  # the exact minimiser's distance
    q = np.quantile(dist, [0.1, 0.5, 0.9], axis=0)
    out = dict(dist_mean=dist.mean(0), dist_std=dist.std(0), dist_q10=q[0], dist_median=q[1], dist_q90=q[2])
    out.update(loss_mean=loss.mean(0), traces=dist[: point["n_traces"]], final_dist=dist[:, E], exact_min_dist=d_min)
    out.update(initial_dist_mean=float(dist[:, 0].mean()), final_dist_mean=float(dist[:, E].mean()))
    out.update(final_dist_median=float(np.median(dist[:, E])), exact_min_dist_mean=float(d_min.mean()))
    out.update(final_loss_mean=float(loss[:, -1].mean()), final_W21_rms=float(W21.detach().pow(2).mean().sqrt()))
    return out


def points(p: dict) -> list[dict]:
    if p["n_traces"] > p["repeats"]:
        raise InputError(
            f"figS6 n_traces={p['n_traces']} is more than repeats={p['repeats']}; choose n_traces <= repeats"
        )
    return [dict(p)]


def cost(point: Point) -> resources.Estimate:
    """Memory: per repeat the distance and loss per epoch (R, 2E+1), the task draws w (R, P, D) with their
    scaled copies, the tokens (R, D, N), and about 20 (R, D, D) arrays (W11, C, the gradients, Adam's
    moments, the autograd graph's products; measured: estimate/peak RSS 1.2-1.3 at R = 20000, 1.2 at the
    quick size, benchmarks/bench_resources.py); CPU: per epoch and repeat the
    loss and its gradient (W11·C, Σ_μ u_μᵀ B r: about 6(D³ + P·D²) flops) and torch's per-step overhead."""
    D, N, P, R, E = (int(point[k]) for k in ("D", "N", "P", "repeats", "epochs"))
    parts = {"epochs": 8.0 * R * (2 * E + 1), "P": 8.0 * 3 * R * P * D, "N": 8.0 * R * D * N, "D": 8.0 * 20 * R * D * D}
    parts["bins"] = 8.0 * resources.HISTOGRAMS * int(point["bins"])
    seconds = resources.POINT_SECONDS + E * (R * 6.0 * (D**3 + P * D * D) / resources.FLOPS + 1e-4)
    return resources.Estimate(resources.BASE_BYTES + resources.MATRIX_MARGIN * sum(parts.values()), seconds, parts)


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    r = records[0]
    ep = np.arange(len(r["dist_mean"]))
    fig, ax = plotting.figure(2, 1, width=4.4, height=2.9)
    a, b = ax[0]
    for tr in np.asarray(r["traces"]):
        a.plot(ep, tr, color="0.75", lw=0.5)
    a.fill_between(ep, r["dist_q10"], r["dist_q90"], alpha=0.25, lw=0, label="10–90% of repeats")
    a.plot(ep, r["dist_median"], lw=1.5, label="median")
    a.axhline(r["exact_min_dist_mean"], color="k", ls=":", lw=1, label="minimiser W11 = C⁻¹ (mean)")
    a.set(yscale="log", xlabel="epoch", ylabel="mean(W11−I)² + mean(W21²)")
    a.set_title(f"distance to (I, 0), D={params['D']}, N={params['N']}, P={params['P']}")
    fd, dm = np.asarray(r["final_dist"]), np.asarray(r["exact_min_dist"])
    bins = np.geomspace(max(min(fd.min(), dm.min()), 1e-12), max(fd.max(), dm.max()), params["bins"])
    b.hist(fd, bins=bins, alpha=0.6, label=f"Adam, epoch {params['epochs']}")
    b.hist(dm, bins=bins, histtype="step", color="k", label="exact minimiser C⁻¹")
    b.set(xscale="log", xlabel="final distance", ylabel="count", title=f"{len(fd)} repeats")
    for axis in (a, b):
        panels.legend(axis)
    return fig


def summary(records: list[dict], params: dict) -> dict:
    r = records[0]
    keys = ["initial_dist_mean", "final_dist_mean", "final_dist_median", "exact_min_dist_mean", "final_loss_mean"]
    return {k: float(f"{float(r[k]):.4g}") for k in keys + ["final_W21_rms"]}


RULES = {
    "n_traces": Rule(low=1, doc="per-epoch traces drawn"),
}


COLUMNS = {
    "initial_dist_mean": "distance mean((W11 − I)²) + mean(W21²) at initialisation, mean over repeats [1]",
    "final_dist_mean": "the same distance after the last epoch, mean over repeats [1]",
    "final_dist_median": "its median over repeats [1]",
    "exact_min_dist_mean": "distance of the exact minimiser (W11 = C⁻¹, W21 = 0), mean over repeats [1]",
    "final_loss_mean": "final loss L(W11, W21), mean over repeats [1]",
    "final_W21_rms": "root mean square of the final W21 entries over repeats [1]",
}

SUMMARY_KEYS = dict(COLUMNS)

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS6",
    title="Fig. S6: Adam on (w W21/√D + W11) C ≈ I -- distance of (W11, W21) to (I, 0) per epoch",
)
