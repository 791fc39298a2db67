"""figS3 -- the paper's AMP on synthetic couplings drawn from the fitted fig1 distributions.

Fit: ``fit_draws`` fig1-type draws (P=``fit_P``, D=``fit_D``, N=``fit_N``, λ0=0; the paper's fig1
settings by default, which put the h1 diagonal near 1/D = 0.2) give Gaussian fits (exact moments)
of the block entries h1 diagonal, h1 off-diagonal, h2, J1, J2, J3; the fitted values are stored.

Synthetic problem with (D+1)² spins (D=10: an 11×11 W): h on the D×D block's diagonal
~ N(μ_h1diag, σ²), on the other entries of rows 1..D (last column included) ~ N(μ_h1off, σ²), on
row D+1 ~ N(μ_h2, σ²); J symmetric with zero diagonal, entries of block 𝒞 (within rows 1..D)
~ J1's fit, 𝒟 (between rows 1..D and row D+1) ~ J2's, ℰ (within row D+1) ~ J3's; λ_i = ``lam``.
The paper's AMP (β, θ, steps; m, v started from N(0,1)) runs on it through
:class:`~spinglass_icl.solvers.RawCouplings` (the AMP equations are not copied).  fit_D=5
(fig1's settings) gives the paper's h1 diagonal ≈ 0.2; fit_D=10 gives ≈ 0.1.  The exact Gaussian
mean m* = (diag(λ) − J)⁻¹ h is shown beside it.

*(choice)* steps = 300: with θ = 0.9 and these couplings the step error shrinks by only ~3 % per
step, so at the 100 steps used elsewhere most synthetic draws have not reached 10⁻⁶ (they are
flagged, never silently used); 115–170 steps suffice in our runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting, resources
from ...metrics import contrast_ratio
from ...prompts import PromptSpec
from ...solvers import RawCouplings, amp
from ...validation import InputError, positive, positive_int
from .. import histograms, panels
from ..draws import generators
from ..histograms import BLOCK_VALUES, draw_block_values
from ..params import Rule
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def fitted_distributions(D: int, N: int, P: int, draws: int, rng: np.random.Generator) -> dict[str, float]:
    """Gaussian (mean, std) of every fig1 block quantity from ``draws`` draws: keys mu_q, sd_q."""
    vals, _ = draw_block_values(PromptSpec(D=D, N=N), P, 0.0, "correct", draws, rng)
    out = {}
    for q in BLOCK_VALUES:
        out[f"mu_{q}"], out[f"sd_{q}"] = histograms.mean_std(histograms.moments(vals[q]))
    return out


def synthetic_problem(D: int, fit: Mapping[str, float], lam: float, rng: np.random.Generator) -> RawCouplings:
    """Draw h (K,) and symmetric J (K, K) block-wise from the fitted Gaussians (see module doc)."""
    K, nA = (D + 1) ** 2, D * (D + 1)

    def g(q: str, shape: int | tuple[int, ...]) -> np.ndarray:
        return fit[f"mu_{q}"] + fit[f"sd_{q}"] * rng.standard_normal(shape)

    H = g("h1_off", (D + 1, D + 1))
    H[np.arange(D), np.arange(D)] = g("h1_diag", D)
    H[D] = g("h2", D + 1)
    J = np.zeros((K, K))
    J[:nA, :nA] = g("J1", (nA, nA))
    J[:nA, nA:] = g("J2", (nA, K - nA))
    J[nA:, nA:] = g("J3", (K - nA, K - nA))
    J = np.triu(J, 1)
    J = J + J.T  # symmetric, zero diagonal; the lower 𝒟 block mirrors the upper one
    return RawCouplings(J=J, h=H.ravel(), lam=np.full(K, float(lam)))


def points(params: dict) -> list[dict[str, Any]]:
    keys = ("D", "fit_D", "fit_N", "fit_P", "fit_draws", "lam", "beta", "damping", "steps", "tol")
    base = {k: params[k] for k in keys}
    positive("lam", params["lam"])
    return [dict(base, repeat=i) for i in range(positive_int("repeats", params["repeats"]))]


def count(p: Mapping[str, Any]) -> int:
    """One point per repeat."""
    return int(p["repeats"])


def compute(point: Point, seed: int, device: str) -> Result:
    rng, _ = generators(seed)
    D = positive_int("D", point["D"])
    fit = fitted_distributions(point["fit_D"], point["fit_N"], point["fit_P"], point["fit_draws"], rng)
    prob = synthetic_problem(D, fit, point["lam"], rng)
    A = prob.hessian()
    if np.linalg.eigvalsh(A)[0] <= 0:
        raise InputError("the synthetic problem is not positive definite (lam too small for the drawn J)")
    res = amp(prob, beta=point["beta"], damping=point["damping"], steps=point["steps"], tol=point["tol"], rng=rng)
    exact = np.linalg.solve(A, prob.h)
    m, v = res.mean, res.variance
    assert v is not None  # AMP always returns variances
    shape = (D + 1, D + 1)
    finite = bool(np.isfinite(m).all())
    return dict(
        fit,
        converged=bool(res.converged),
        iterations=int(res.iterations),
        message=res.message,
        m=m.reshape(shape),
        v=v.reshape(shape),
        exact=exact.reshape(shape),
        h=prob.h.reshape(shape),
        rel_diff_to_exact=float(np.linalg.norm(m - exact) / np.linalg.norm(exact)) if finite else float("nan"),
        contrast_amp=float(contrast_ratio(m.reshape(shape))) if finite else float("nan"),
        contrast_exact=float(contrast_ratio(exact.reshape(shape))),
        min_eig_hessian=float(np.linalg.eigvalsh(A)[0]),
    )


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    r = min(records, key=lambda r: r["repeat"])
    fig, ax = plotting.figure(4, 1, width=3.0, height=2.7)
    status = f"{'converged' if r['converged'] else 'NOT converged'}, {r['iterations']} steps"
    panels.weights(ax[0, 0], r["h"], "synthetic fields h", label="field h")
    panels.weights(ax[0, 1], r["m"], f"AMP mean m ({status})", label="mean m")
    # variances are positive: a one-sided colour scale, not one symmetric about 0
    plotting.matrix(
        ax[0, 2], r["v"], "AMP variance v", symmetric=False, label="variance v", axis_labels=("column n", "row m")
    )
    panels.weights(
        ax[0, 3],
        r["exact"],
        f"exact mean (diag λ − J)⁻¹h\nAMP rel. diff {r['rel_diff_to_exact']:.3f}",
        label="exact mean",
    )
    fig.suptitle(
        f"figS3: paper AMP on synthetic couplings (D={params['D']}, λ={params['lam']}, "
        f"β={params['beta']}, θ={params['damping']}; fits from D={params['fit_D']} draws: "
        f"h1 diag N({r['mu_h1_diag']:.3f}, {r['sd_h1_diag']:.3f}²))"
    )
    return fig


def summary(records: list[dict], params: dict) -> dict[str, Any]:
    r0 = min(records, key=lambda r: r["repeat"])
    return {
        "repeats": len(records),
        "converged": int(sum(bool(r["converged"]) for r in records)),
        "iterations": [int(r["iterations"]) for r in records],
        "rel_diff_amp_vs_exact": [round(float(r["rel_diff_to_exact"]), 4) for r in records],
        "contrast_amp": [round(float(r["contrast_amp"]), 4) for r in records],
        "contrast_exact": [round(float(r["contrast_exact"]), 4) for r in records],
        "fit": {k: round(float(r0[k]), 5) for k in r0 if k.startswith(("mu_", "sd_"))},
        "mean_v": float(np.mean(r0["v"])),
    }


_COMMON = dict(D=10, fit_D=5, fit_N=100, fit_P=1000, lam=1.0, beta=100.0, damping=0.9, steps=300, tol=1e-6)
QUICK = dict(_COMMON, fit_draws=50, repeats=2)
FULL = dict(_COMMON, fit_draws=1000, repeats=10)

RULES = {
    "fit_D": Rule(low=1, doc="D of the fig1-type draws whose fitted distributions are sampled"),
    "fit_N": Rule(low=1, doc="N of the fig1-type draws whose fitted distributions are sampled"),
    "fit_P": Rule(low=1, doc="P of the fig1-type draws whose fitted distributions are sampled"),
    "fit_draws": Rule(low=1, doc="number of fig1-type draws whose fitted distributions are sampled"),
    "lam": Rule(real=True, low=0, low_open=True, doc="on-site term λ_i of the synthetic spin glass"),
}


COLUMNS = {
    "repeat": "index of the synthetic problem [integer]",
    "mu_*": "fitted mean of the fig1 block quantity * (h1_diag, h1_off, h2, J1, J2, J3) [coupling units]",
    "sd_*": "fitted standard deviation of the block quantity * [coupling units]",
    "converged": "whether the paper's AMP converged on the synthetic problem [bool]",
    "iterations": "AMP iterations run [count]",
    "message": "the solver's message (why it stopped) [text]",
    "rel_diff_to_exact": "|m − m*|/|m*|: AMP mean against the exact Gaussian mean (diag λ − J)⁻¹h [1]",
    "contrast_amp": "contrast ratio of the AMP mean [1]",
    "contrast_exact": "contrast ratio of the exact mean [1]",
    "min_eig_hessian": "smallest eigenvalue of diag(λ) − J (positive: a proper Gaussian) [1]",
}


def cost(point: Point) -> resources.Estimate:
    """A repeat: the fig1-type draws its distributions are fitted to (the generic estimate at fit_D, fit_N,
    fit_P, fit_draws), then AMP on the synthetic (D+1)² spins: J, J∘J and the Hessian in memory, four
    K² products per step."""
    fit = {"D": point["fit_D"], "N": point["fit_N"], "P": point["fit_P"], "draws": point["fit_draws"]}
    est = resources.generic(fit)
    K = (float(point["D"]) + 1) ** 2
    parts = {f"fit_{k}" if k != "D" else "fit_D": v for k, v in est.parts.items()} | {"D": 8.0 * 4 * K * K}
    seconds = est.seconds + (point["steps"] * 4 * K * K + K**3 / 3) / resources.FLOPS
    return resources.Estimate(est.bytes + resources.MATRIX_MARGIN * parts["D"], seconds, parts)


SUMMARY_KEYS = {
    "repeats": "synthetic problems solved [count]",
    "converged": "problems on which the paper's AMP converged [count]",
    "iterations": "AMP iterations per problem [count]",
    "rel_diff_amp_vs_exact": "|m − m*|/|m*| per problem: AMP mean against the exact Gaussian mean [1]",
    "contrast_amp": "contrast ratio of the AMP mean per problem [1]",
    "contrast_exact": "contrast ratio of the exact mean per problem [1]",
    "fit.mu_*": "fitted mean of the fig1 block quantity * the couplings are drawn from [coupling units]",
    "fit.sd_*": "fitted standard deviation of that block quantity [coupling units]",
    "mean_v": "mean AMP variance v of the first problem [spin units²]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS3",
    title="the paper's AMP on synthetic couplings drawn from the fitted fig1 distributions",
)
