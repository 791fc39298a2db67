"""Beyond the paper: the spin glass at finite temperature -- the degenerate valley seen in a typical sample.

For P below, at and above the number of effective spins D(D+1) (P = p·D(D+1), p in ``P_over_DD1``) and
``repeats`` training sets each, the Boltzmann law p(W) ∝ exp(−βE(W)) = N(m*, (βA)⁻¹) at λ0 is sampled
exactly (``sample_exact``, ``samples`` draws per β) on a grid of inverse temperatures β.  Per draw: the exact
population error (``theory.population_error``, fresh tasks) and the contrast ratio with the identity.  Drawn
over the sampled means: the closed form ``theory.gibbs_error`` = error(m*) + tr(Q A⁻¹)/β.  Below
P = D(D+1) the flat directions (curvature λ0 only) dominate tr(Q A⁻¹) ~ (flat directions)/λ0: a typical
sample is far worse than the ground state unless β ≫ D²/λ0; above it every direction is curved by the data.
``flat_share`` is the part of tr(Q A⁻¹) carried by eigen-directions of A with eigenvalue below 2λ0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ...features import n_effective
from ...metrics import contrast_ratio
from ...prompts import PromptSpec, sample_features
from ...solvers import solve_exact
from ...spinglass import SpinGlass, flat_mask
from ...theory import gibbs_error, population_error, thermal_directions
from ...validation import InputError
from .. import panels
from ..params import Rule, described
from ..points import grid, pick
from ..reference import boltzmann_sample_errors
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BETA = [float(m * 10**e) for e in range(1, 8) for m in (1, 3)][:-1]  # 10, 30, 100, ..., 1e7
FULL = dict(D=20, N=40, P_over_DD1=[0.5, 1.0, 4.0], lambda0=0.01, beta=BETA, samples=1000, repeats=8)
QUICK = {**FULL, "D": 8, "N": 16, "samples": 200, "repeats": 3}
RULES = {
    "P_over_DD1": Rule(
        real=True,
        low=0,
        low_open=True,
        doc="training prompts P in units of D(D+1) (below, at, above the number of effective spins)",
    ),
    "lambda0": described("lambda0", "L2 strength λ0 (> 0: the Boltzmann law needs it)"),
    "beta": described("beta", "inverse temperatures β sampled"),
    "samples": described("samples", "exact Boltzmann draws per β and training set"),
    "repeats": described("repeats", "training sets per P"),
}


def check(p: Mapping[str, Any]) -> None:
    if not all(r > 0 for r in p["P_over_DD1"]):
        raise InputError(f"temperature: P_over_DD1 must be > 0, got {p['P_over_DD1']}")
    if not p["lambda0"] > 0:
        raise InputError(f"temperature: lambda0 must be > 0 (the Boltzmann law is improper at 0), got {p['lambda0']}")


def points(p: Mapping[str, Any]) -> list[dict]:
    check(p)
    K = n_effective(p["D"])
    fixed = {**pick(p, ("D", "N", "lambda0", "samples", "repeats")), "beta": [float(b) for b in p["beta"]]}
    axes = {"P_over_DD1": [float(r) for r in p["P_over_DD1"]]}
    return grid(axes, fixed, derive=lambda pt: {"P": max(1, int(round(pt["P_over_DD1"] * K)))})


def compute(point: Point, seed: int, device: str) -> Result:
    """Arrays (R, β): sampled mean/sem of the population error and mean contrast; closed-form Gibbs error;
    per repeat the ground state's error and contrast, tr(Q A⁻¹) and its flat-direction share."""
    rng = np.random.default_rng(seed)
    D, N, lam0 = point["D"], point["N"], point["lambda0"]
    beta = np.asarray(point["beta"], float)
    keys = ("sample_error", "sample_error_sem", "sample_contrast", "gibbs_error")
    arr: dict[str, list] = {k: [] for k in keys + ("ground_error", "ground_contrast", "trace_QAinv", "flat_share")}
    for _ in range(point["repeats"]):
        sg = SpinGlass(sample_features(PromptSpec(D=D, N=N), point["P"], rng), lam0)
        m = solve_exact(sg, "cholesky").mean
        ground = float(population_error(m, D, N))
        lam, per_dir = thermal_directions(sg)  # uᵀQu/λ per eigen-direction of A; they sum to tr(Q A⁻¹)
        trace = float(per_dir.sum())
        soft = flat_mask(lam, tol=lam0, shift=lam0)  # directions whose data curvature is below λ0
        arr["flat_share"].append(float(per_dir[soft].sum() / trace))
        arr["ground_error"].append(ground)
        arr["ground_contrast"].append(float(contrast_ratio(m)))
        arr["trace_QAinv"].append(trace)
        rows = boltzmann_sample_errors(sg, beta, point["samples"], rng)
        for k in keys[:3]:
            arr[k].append(rows[k])
        arr["gibbs_error"].append(gibbs_error(sg, beta))
    out: dict[str, Any] = {k: np.asarray(v, float) for k, v in arr.items()}
    # pull of the sampled means from the closed form, in units of their standard error
    # where the samples collapse onto their mean (huge β) the standard error is below rounding: there the two
    # sides must agree to rounding instead (pull 0 if they do, inf if they do not), never 0/0
    diff, sem = out["sample_error"] - out["gibbs_error"], out["sample_error_sem"]
    resolved = sem > 1e-12 * np.abs(out["gibbs_error"])
    agree = np.abs(diff) <= 1e-9 * np.abs(out["gibbs_error"])
    z = np.where(resolved, diff / np.where(resolved, sem, 1.0), np.where(agree, 0.0, np.inf))
    out.update(max_abs_z=float(np.max(np.abs(z))), ground_error_mean=float(np.mean(arr["ground_error"])))
    out.update(trace_QAinv_mean=float(np.mean(arr["trace_QAinv"])), flat_share_mean=float(np.mean(arr["flat_share"])))
    return {**out, "ground_contrast_mean": float(np.mean(arr["ground_contrast"]))}


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    fig, ax = panels.figure(2, 1, width=3.6, height=3.2)
    a, b = ax[0]
    beta = np.asarray(params["beta"], float)
    grid = np.geomspace(beta.min(), beta.max(), 200)
    for i, r in enumerate(sorted(records, key=lambda r: r["P"])):
        col, lab = f"C{i}", f"P={r['P']} ({r['P_over_DD1']:g}·D(D+1))"
        se = np.asarray(r["sample_error"])
        sem = np.sqrt(np.sum(np.asarray(r["sample_error_sem"]) ** 2, axis=0)) / se.shape[0]
        closed = r["ground_error_mean"] + r["trace_QAinv_mean"] / grid
        panels.markers_and_line(a, beta, se.mean(0), closed, err=sem, line_x=grid, color=col, label=lab)
        b.plot(beta, np.asarray(r["sample_contrast"]).mean(0), "o-", ms=3, color=col, label=lab)
        for axis, key in ((a, "ground_error_mean"), (b, "ground_contrast_mean")):
            axis.axhline(r[key], color=col, lw=0.6, ls=":")
    sizes = f"D={params['D']}, λ0={params['lambda0']:g}"
    a.set(xscale="log", yscale="log", xlabel="inverse temperature β", ylabel="population error of a sample")
    a.set_title(f"samples (dots) vs closed form (lines)\ndotted: ground state; {sizes}")
    b.set(xscale="log", xlabel="inverse temperature β", ylabel="contrast ratio with I", ylim=(0, 1))
    b.set_title("contrast ratio of samples\n(dotted: ground state)")
    for axis in (a, b):
        panels.legend(axis)
    return fig


def summary(records: list[dict], params: Mapping[str, Any]) -> dict[str, Any]:
    """Per P: ground-state error and contrast, tr(Q A⁻¹), its flat share, sampled vs closed form at each β."""
    out: dict[str, Any] = {"beta": [float(b) for b in params["beta"]]}
    for r in sorted(records, key=lambda r: r["P"]):
        out[f"P={r['P']}"] = {
            "P_over_DD1": r["P_over_DD1"],
            "ground_error": round(r["ground_error_mean"], 4),
            "ground_contrast": round(r["ground_contrast_mean"], 4),
            "trace_QAinv": round(r["trace_QAinv_mean"], 2),
            "flat_share": round(r["flat_share_mean"], 4),
            "sample_error": [round(float(x), 4) for x in np.asarray(r["sample_error"]).mean(0)],
            "gibbs_error": [round(float(x), 4) for x in np.asarray(r["gibbs_error"]).mean(0)],
            "sample_contrast": [round(float(x), 4) for x in np.asarray(r["sample_contrast"]).mean(0)],
            "max_abs_z": round(r["max_abs_z"], 2),
        }
    return out


COLUMNS = {
    "P": "training prompts P = p·D(D+1) [count]",
    "max_abs_z": "largest |z-score| of the sampled mean errors against the closed form gibbs_error over the β grid [1]",
    "ground_error_mean": "exact population error of the ground state m*, mean over repeats [E[y²] = 1]",
    "trace_QAinv_mean": "tr(Q A⁻¹) (the thermal error at β = 1), mean over repeats [E[y²] = 1]",
    "flat_share_mean": "part of tr(Q A⁻¹) carried by directions of A with eigenvalue below 2λ0, mean over repeats [1]",
    "ground_contrast_mean": "contrast ratio of the ground state, mean over repeats [1]",
}

SUMMARY_KEYS = {
    "beta": "the β grid (the per-β lists line up with it) [1]",
    "P=*.P_over_DD1": "P/(D(D+1)) [1]",
    "P=*.ground_error": "exact population error of the ground state, mean over repeats [E[y²] = 1]",
    "P=*.ground_contrast": "contrast ratio of the ground state, mean over repeats [1]",
    "P=*.trace_QAinv": "tr(Q A⁻¹), the thermal error at β = 1, mean over repeats [E[y²] = 1]",
    "P=*.flat_share": "part of tr(Q A⁻¹) carried by directions of A with eigenvalue below 2λ0 [1]",
    "P=*.sample_error": "population error of Boltzmann samples per β, mean over repeats and samples [E[y²] = 1]",
    "P=*.gibbs_error": "its closed form, ground error + tr(Q A⁻¹)/β, per β [E[y²] = 1]",
    "P=*.sample_contrast": "contrast ratio of the samples per β [1]",
    "P=*.max_abs_z": "largest |z-score| of the sampled errors against the closed form over the β grid [1]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="temperature",
    title="Beyond the paper: Boltzmann samples at inverse temperature β -- population error and contrast vs β",
)
