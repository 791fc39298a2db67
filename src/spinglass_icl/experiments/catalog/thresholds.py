"""Beyond the paper: how the task-diversity thresholds scale with D (issue 24, item 6).

At D = 4 … 12, N = c_N·D (α = N/D = 2), label noise σ = 0.5 fixed (so the information a context carries
per dimension is the same at every D) and P = τ·D(D+1) training prompts (τ = 139: the diversity run's
P = 10 000 at D = 8), three thresholds, each the pool size M where a fresh-task error has come within 10 %
of its M = ∞ value (``task_diversity.THRESHOLD``, log-log interpolated on a half-octave grid of M):

* the spin-glass **ground state** (λ0 = 0.005) trained on P prompts whose tasks come from a pool of M: its
  exact population error on fresh tasks (``theory.population_error``: no test-prompt noise), per repeat, with a
  95 % bootstrap interval over repeats (``task_diversity.bootstrap``, ``m_star``);
* Lu et al.'s **κ-theory** of the same ground state (``theory.icl_error_theory(pool=M)``, κ = M/D): its M* is
  exactly linear in D at fixed τ, α, σ (a function of κ alone);
* **dMMSE**, the Bayes-optimal predictor of the pool (``bayes.dmmse_error`` on fresh tasks, whose standard
  error includes the pool-to-pool spread), against its M = ∞ limit, ridge's exact error
  (``bayes.ridge_error``); its interval is a parametric bootstrap (each M's estimate redrawn from its mean and
  standard error).  Its grid at D runs up to min(``dmmse_M_max``, 2^(``dmmse_log2_per_D``·D +
  ``dmmse_log2_extra``)): a D whose threshold lies beyond it is reported as not reached (and extrapolated from
  the fitted law, marked as such), never silently.

**The two laws.**  The ground state's and the κ-theory's M* = κ*·D (κ* fitted with its interval; the free
exponent β of M* ∝ D^β is fitted too: 1 is "linear in D", 2 would be "like D(D+1)").  dMMSE's
ln M* = a + b·D, against the information a context carries about its task.  The expected KL divergence of the
task posterior from the prior is the mutual information between task and context: with y = Xw/√D + ε,
w ~ N(0, I_D), ε ~ N(0, σ² I_N), X the N × D context tokens,

    I = E_X[h(y | X) − h(y | w, X)] = ½ E_X log det(I_N + XXᵀ/(Dσ²)) = ½ E Σ_i ln(1 + λ_i/σ²),

λ_i the eigenvalues of XᵀX/D (:func:`~spinglass_icl.experiments.catalog.thresholds.information`, Monte-Carlo
over Wishart spectra).  Jensen's inequality (E XᵀX/D = α I) bounds it by D·½ ln(1 + α/σ²) = 1.099 D nats at
α = 2, σ = 0.5; the exact value is smaller,
D·½ ∫ ln(1 + λ/σ²) dμ_MP(λ) as D → ∞ (Marchenko–Pastur), 0.966 D at D = 4 and 0.981 D at D = 12.  A pool
becomes indistinguishable from the Gaussian prior once it has a task inside the posterior's typical set, of
prior mass ≈ e^(−KL): M* ∝ e^I, so the predicted rate b is dI/dD (0.99 nats per dimension here), not the
Jensen bound -- for a threshold at which dMMSE has become ridge; a fixed looser rule gives a smaller rate
(REPRODUCTION.md: 0.93 at 10 %, 0.85 at 20 %, 0.65 at 50 % on the full run).

Points: ``model`` = ground_state (one per D and M, all repeats; M = 0 is M = ∞), dmmse (one per D and M of
its grid) and ridge (one per D: ridge's exact error and the information I, each with its standard error).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from ... import plotting, resources
from ...bayes import dmmse_error, dmmse_pools, ridge_error
from ...prompts import PromptSpec
from ...spinglass import SpinGlass
from ...theory import icl_error_theory, population_error
from ...validation import InputError, positive_int
from .. import panels
from .. import task_diversity as td
from ..draws import draw_repeats, generators
from ..params import Rule, described
from ..records import nan_mean_std, threshold_crossing
from ..reference import ground_states
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def half_octaves(M_max: float) -> list[int]:
    """The pool sizes round(2^(k/2)), k = 0, 1, …, up to ``M_max`` (distinct, ascending): 1, 2, 3, 4, 6, 8, 11, …"""
    out: list[int] = []
    k = 0
    while 2 ** (k / 2) <= M_max * (1 + 1e-12):
        m = int(round(2 ** (k / 2)))
        if not out or m > out[-1]:
            out.append(m)
        k += 1
    return out


M_GRID = half_octaves(256)
FULL: dict[str, Any] = dict(
    D=list(range(4, 13)),
    c_N=2,
    noise=0.5,
    tau=139.0,
    M=M_GRID,
    repeats=10,
    lambda0=0.005,
    dmmse_samples=2048,
    dmmse_M_max=2**20,
    dmmse_log2_per_D=1.5,
    dmmse_log2_extra=4.0,
    ridge_samples=100_000,
)
# quick (CI, ≤ 30 s): D = 3, 4, 5, a shorter ground-state grid, fewer samples; dMMSE's grid runs to 2048 at
# every D (dmmse_log2_per_D = 3 leaves dmmse_M_max the binding cap), so D = 5 shows the "beyond the grid" path
QUICK: dict[str, Any] = {
    **FULL,
    "D": [3, 4, 5],
    "tau": 40.0,
    "M": half_octaves(64),
    "repeats": 4,
    "dmmse_samples": 512,
    "dmmse_M_max": 2048,
    "dmmse_log2_per_D": 3.0,
    "ridge_samples": 20_000,
}
RULES = {
    "D": described("D", "token dimensions"),
    "c_N": described("c_N", "context length per token dimension: N = c_N·D (α = c_N)"),
    "noise": described("noise", "label noise standard deviation σ (every label, the query's too)"),
    "tau": described("tau", "training prompts of the ground state per effective spin: P = round(τ·D(D+1))"),
    "M": Rule(low=1, high=10**7, doc="the ground state's task-pool sizes (M = ∞, stored as 0, is always added)"),
    "repeats": described("repeats", "training sets of the ground state per (D, M)"),
    "lambda0": Rule(real=True, low=0, doc="λ0 of the spin-glass ground state (the SLA recipe's wd/2)"),
    "dmmse_samples": Rule(low=2, high=10**7, doc="prompts of each dMMSE error estimate (bayes.dmmse_error)"),
    "dmmse_M_max": Rule(low=1, high=2**30, doc="largest pool of dMMSE's half-octave grid"),
    "dmmse_log2_per_D": Rule(
        real=True, low=0, low_open=True, high=64, doc="dMMSE's grid at D stops at 2^(this·D + dmmse_log2_extra)"
    ),
    "dmmse_log2_extra": Rule(real=True, low=0, high=64, doc="see dmmse_log2_per_D"),
    "ridge_samples": Rule(low=2, high=10**8, doc="Wishart spectra of ridge's exact error and of the information I"),
}


def dmmse_grid(D: int, p: Mapping[str, Any]) -> list[int]:
    """dMMSE's pool sizes at D: the half-octaves up to min(dmmse_M_max, 2^(dmmse_log2_per_D·D + extra))."""
    log2_cap = float(p["dmmse_log2_per_D"]) * D + float(p["dmmse_log2_extra"])
    return half_octaves(min(float(p["dmmse_M_max"]), 2.0 ** min(log2_cap, 62.0)))


def check(p: dict) -> None:
    """Refuse empty grids and noise 0 (a noiseless context carries infinite information); the ranges of every
    value are the rules'."""
    if not p["D"] or not p["M"]:
        raise InputError("thresholds needs at least one D and one M")
    if not float(p["noise"]) > 0:
        raise InputError(
            f"thresholds needs noise > 0 (a noiseless context carries infinite information), got {p['noise']}"
        )


def points(p: dict) -> list[dict]:
    """Per D: ridge (one point), dMMSE (one per M of :func:`dmmse_grid`), the ground state (one per M, and
    M = 0 for M = ∞, all repeats in the point)."""
    check(p)
    pts: list[dict] = []
    for D in sorted({positive_int("D", d) for d in p["D"]}):
        base = {"D": D, "N": int(p["c_N"]) * D, "noise": float(p["noise"])}
        pts.append({**base, "model": "ridge", "samples": int(p["ridge_samples"])})
        pts += [{**base, "model": "dmmse", "M": M, "samples": int(p["dmmse_samples"])} for M in dmmse_grid(D, p)]
        gs = {**base, "P": max(1, int(round(float(p["tau"]) * D * (D + 1)))), "repeats": int(p["repeats"])}
        gs["lambda0"] = float(p["lambda0"])
        Ms = [0] + sorted({positive_int("M", m) for m in p["M"]})
        pts += [{**gs, "model": "ground_state", "M": M} for M in Ms]
    return pts


def count(p: Mapping[str, Any]) -> int:
    Ds = {int(d) for d in p["D"]}
    return sum(2 + len(set(p["M"])) + len(dmmse_grid(D, p)) for D in Ds)


def information(D: int, N: int, noise: float, *, samples: int = 100_000, seed: int = 0) -> tuple[float, float]:
    """(I, standard error): the mutual information between the task w ~ N(0, I_D) and a context of N labels
    y = Xw/√D + ε (noise std σ) given its tokens X -- the expected KL divergence of the task posterior from the
    prior -- ½ E Σ_i ln(1 + λ_i/σ²) over the spectra λ of XᵀX/D (Monte-Carlo over ``samples`` spectra) [nats].
    σ = 0 is refused (infinite information)."""
    D, N, samples = positive_int("D", D), positive_int("N", N), positive_int("samples", samples)
    if not noise > 0:
        raise InputError(f"information needs noise > 0 (σ = 0 carries infinite information), got {noise}")
    rng = np.random.default_rng(seed)
    vals = []
    for s in range(0, samples, 20_000):
        X = rng.standard_normal((min(20_000, samples - s), N, D))
        lam = np.linalg.eigvalsh((np.swapaxes(X, 1, 2) @ X) / D)
        vals.append(0.5 * np.sum(np.log1p(np.maximum(lam, 0.0) / noise**2), axis=1))
    v = np.concatenate(vals)
    return float(np.mean(v)), float(np.std(v, ddof=1) / math.sqrt(v.size)) if v.size > 1 else 0.0


def jensen_rate(alpha: float, noise: float) -> float:
    """Jensen's upper bound on the information per dimension, ½ ln(1 + α/σ²) [nats]."""
    return 0.5 * math.log1p(alpha / noise**2)


def compute(point: Point, seed: int, device: str) -> Result:
    """ridge: its exact error and the information I (each with its standard error); dmmse: its fresh-task
    error at M and standard error; ground_state: per repeat its exact fresh-task population error (``ood``)
    and Lu et al.'s κ-theory at κ = M/D (``theory_ood``)."""
    D, N, noise, model = int(point["D"]), int(point["N"]), float(point["noise"]), point["model"]
    if model == "ridge":
        err, err_sem = ridge_error(D, N, noise, samples=int(point["samples"]), seed=seed, sem=True)
        info, info_sem = information(D, N, noise, samples=int(point["samples"]), seed=seed + 1)
        return {"ridge": err, "ridge_sem": err_sem, "information": info, "information_sem": info_sem}
    M = int(point["M"])
    if model == "dmmse":
        err, err_sem = dmmse_error(D, N, noise, M, "ood", seed=seed, samples=int(point["samples"]), sem=True)
        return {"ood_mean": err, "ood_sem": err_sem}
    if model != "ground_state":
        raise InputError(f"thresholds has no model {model!r}")
    rng, _ = generators(seed)
    P, lam = int(point["P"]), float(point["lambda0"])
    spec = PromptSpec(D=D, N=N, noise=noise, task_pool=M or None)
    errors = []
    for _ in range(int(point["repeats"])):  # one training set at a time: memory of one P × (D+1) draw
        W = ground_states(SpinGlass(draw_repeats(spec, P, 1, rng), lam), [lam])[lam]
        errors.append(float(population_error(W, D, N, noise)[0]))
    ood = np.array(errors, float)
    mean, std = nan_mean_std(ood)
    theory = float(icl_error_theory(D, N, P, noise, pool=M))
    return {"ood_per_repeat": ood, "ood_mean": mean, "ood_std": std, "theory_ood": theory}


# -- resources ---------------------------------------------------------------------------------------
# dMMSE's CPU time: resources.dmmse_seconds (measured on this experiment's dmmse_error runs)
# ridge / information: seconds per spectrum and D³ (an eigvalsh of a D × D matrix, twice)
SPECTRUM_SECONDS = 4e-8


def _dmmse_cost(D: int, N: int, M: int, samples: int) -> resources.Estimate:
    """bayes.dmmse_error's blocks: ``g`` pools of M tasks at once, each with n prompts: logits (g, n, M) and
    their exponentials, task features (g, M, K) with temporaries, the prompts (g, n, N, D)."""
    K = D * (D + 1) // 2 + D
    pools = dmmse_pools(M, samples)
    n = samples // pools
    g = min(pools, max(1, 2**21 // (M * max(D, n))))
    parts = {"M": 8.0 * g * M * (2 * n + 3 * (K + D + 1)), "samples": 8.0 * g * n * (N + 2) * D}
    seconds = resources.dmmse_seconds(samples, M, D) + 2e-8 * samples * N * D
    return resources.Estimate(resources.BASE_BYTES + resources.MATRIX_MARGIN * sum(parts.values()), seconds, parts)


def cost(point: Point) -> resources.Estimate:
    """A point's memory and CPU: the generic spin-glass rule for the ground state (one repeat in memory, plus
    its task pool), ``_dmmse_cost`` for dMMSE, Wishart spectra for ridge."""
    D, N, model = int(point["D"]), int(point["N"]), point["model"]
    if model == "dmmse":
        return _dmmse_cost(D, N, int(point["M"]), int(point["samples"]))
    if model == "ridge":
        s = float(point["samples"])
        nbytes = 8.0 * 20_000 * N * D * 3
        return resources.Estimate(
            resources.BASE_BYTES + nbytes, resources.POINT_SECONDS + SPECTRUM_SECONDS * s * D**3, {"samples": nbytes}
        )
    est = resources.generic({k: v for k, v in point.items() if k not in ("M",)} | {"chunk": 1})
    pool = 8.0 * 2 * int(point["M"]) * D
    return resources.Estimate(
        est.bytes + resources.MATRIX_MARGIN * pool, est.seconds, {**est.parts, "M": pool}, est.slow
    )


# -- summary -----------------------------------------------------------------------------------------
Z95 = 1.959963984540054  # the normal 97.5 % quantile: an interval's half-width in standard deviations


def fit_line(x: ArrayLike, y: ArrayLike, sd: ArrayLike) -> dict[str, float]:
    """Weighted least squares y ≈ a + b·x (weights 1/sd²): ``slope``, ``intercept``, their standard errors
    (``slope_se``, ``intercept_se``) scaled by √max(1, χ²/dof) (the scatter about the line, where it exceeds
    the stated errors, widens them), ``chi2_dof`` (NaN with two points).  Needs two points of distinct x."""
    x_, y_, w = np.asarray(x, float), np.asarray(y, float), 1.0 / np.asarray(sd, float) ** 2
    if x_.size < 2 or np.ptp(x_) == 0:
        raise InputError("a line needs two points of distinct x")
    S, Sx, Sy = w.sum(), (w * x_).sum(), (w * y_).sum()
    Sxx, Sxy = (w * x_ * x_).sum(), (w * x_ * y_).sum()
    det = S * Sxx - Sx * Sx
    b = (S * Sxy - Sx * Sy) / det
    a = (Sy - b * Sx) / S
    dof = x_.size - 2
    chi2 = float(np.sum(w * (y_ - a - b * x_) ** 2)) / dof if dof > 0 else float("nan")
    scale = math.sqrt(max(1.0, chi2)) if dof > 0 else 1.0
    return {
        "slope": float(b),
        "intercept": float(a),
        "slope_se": float(scale * math.sqrt(S / det)),
        "intercept_se": float(scale * math.sqrt(Sxx / det)),
        "chi2_dof": chi2,
    }


def fit_mean(y: ArrayLike, sd: ArrayLike) -> tuple[float, float, float]:
    """Weighted mean of y (weights 1/sd²), its standard error scaled by √max(1, χ²/dof), and χ²/dof."""
    y_, w = np.asarray(y, float), 1.0 / np.asarray(sd, float) ** 2
    mean = float(np.sum(w * y_) / np.sum(w))
    chi2 = float(np.sum(w * (y_ - mean) ** 2)) / (y_.size - 1) if y_.size > 1 else float("nan")
    se = math.sqrt(1.0 / float(np.sum(w))) * (math.sqrt(max(1.0, chi2)) if y_.size > 1 else 1.0)
    return mean, se, chi2


def log_sd(ci: Sequence[float]) -> float:
    """The standard deviation of ln x implied by a 95 % interval [value, low, high] of x (half the log width
    over 1.96); inf where the interval is open (NaN or inf)."""
    _, lo, hi = ci
    if not (lo > 0 and math.isfinite(hi) and hi > lo):
        return math.inf
    return (math.log(hi) - math.log(lo)) / (2 * Z95)


def dmmse_threshold(M: np.ndarray, err: np.ndarray, sem: np.ndarray, ridge: float, ridge_sem: float) -> list[float]:
    """dMMSE's M* (its fresh-task error within ``THRESHOLD`` × ridge's, log-log interpolated) and its 95 %
    interval: a parametric bootstrap, each M's error and ridge's redrawn from normals of their means and
    standard errors (``td.BOOTSTRAPS`` draws from seed 0; a draw that never crosses counts as beyond every
    crossing).  [value, low, high]."""
    value = threshold_crossing(M, err / ridge, td.THRESHOLD)
    rng = np.random.default_rng(0)
    e = err + sem * rng.standard_normal((td.BOOTSTRAPS, M.size))
    r = ridge + ridge_sem * rng.standard_normal(td.BOOTSTRAPS)
    samples = np.array([threshold_crossing(M, e[b] / r[b], td.THRESHOLD) for b in range(td.BOOTSTRAPS)])
    return [value, *td.percentile_interval(samples)]


def _by_D(records: Sequence[Record]) -> dict[int, dict[str, list[Record]]]:
    out: dict[int, dict[str, list[Record]]] = {}
    for r in sorted(records, key=lambda r: (int(r["D"]), str(r["model"]), int(r.get("M", 0)))):
        out.setdefault(int(r["D"]), {}).setdefault(str(r["model"]), []).append(r)
    return out


def _theory_m_star(D: int, N: int, P: int, noise: float) -> float:
    """Lu et al.'s κ-theory M* (same rule) on a fine grid, M = 2^(k/16) up to 2^16."""
    Ms = 2.0 ** (np.arange(0, 16 * 16 + 1) / 16)
    curve = np.asarray(icl_error_theory(D, N, P, noise, pool=Ms)) / float(icl_error_theory(D, N, P, noise))
    return threshold_crossing(Ms, curve, td.THRESHOLD)


def _per_D(D: int, recs: Mapping[str, list[Record]]) -> dict[str, Any]:
    """One D's thresholds: the ground state's (with its bootstrap interval) and its κ-theory's, dMMSE's
    (with its interval), ridge's exact error and the information."""
    r4 = td._round
    out: dict[str, Any] = {}
    gs = [{**r, "batch": 0} for r in recs.get("ground_state", [])]
    if gs:
        ci = td.bootstrap(gs, [("ground_state", "ood")], lambda c: td.m_star(c, "ground_state"))
        out["gs_M_star_ci"] = [r4(x) for x in ci]
        first = gs[0]
        out["gs_ood_at_inf"] = r4(next((r["ood_mean"] for r in gs if int(r["M"]) == 0), float("nan")))
        m_th = _theory_m_star(D, int(first["N"]), int(first["P"]), float(first["noise"]))
        out.update(theory_M_star=r4(m_th), P=int(first["P"]))
    if "ridge" in recs:
        rr = recs["ridge"][0]
        out.update(ridge=r4(rr["ridge"]), information=r4(rr["information"]), information_sem=r4(rr["information_sem"]))
        dm = recs.get("dmmse", [])
        if dm:
            M = np.array([r["M"] for r in dm], float)
            err, sem = (np.array([r[k] for r in dm], float) for k in ("ood_mean", "ood_sem"))
            dci = dmmse_threshold(M, err, sem, float(rr["ridge"]), float(rr["ridge_sem"]))
            out.update(dmmse_M_star_ci=[r4(x) for x in dci], dmmse_M_max=int(M.max()))
            out["dmmse_ood_over_ridge_at_M_max"] = r4(err[-1] / rr["ridge"])
    return out


def _linear_law(Ds: np.ndarray, cis: list[list[float]]) -> dict[str, Any]:
    """κ* = M*/D (weighted mean in log), the exponent β of M* ∝ D^β and the slope κ∞ of M* = c + κ∞·D, each
    [value, low, high] (95 %), with the fits' χ²/dof."""
    ok = [i for i, ci in enumerate(cis) if math.isfinite(log_sd(ci)) and ci[0] > 0]
    if len(ok) < 2:
        return {}
    m = np.array([cis[i][0] for i in ok])
    sd = np.array([log_sd(cis[i]) for i in ok])
    lk, se, chi2 = fit_mean(np.log(m / Ds[ok]), sd)
    power = fit_line(np.log(Ds[ok]), np.log(m), sd)
    b, bse = power["slope"], power["slope_se"]
    affine = fit_line(Ds[ok], m, m * sd)  # M* = c + κ∞·D: a finite-D offset beside the slope
    ka, kse = affine["slope"], affine["slope_se"]
    return {
        "affine_slope_ci": [round(ka, 4), round(ka - Z95 * kse, 4), round(ka + Z95 * kse, 4)],
        "affine_intercept": round(affine["intercept"], 4),
        "affine_chi2_dof": round(affine["chi2_dof"], 3),
        "kappa_star_ci": [round(math.exp(lk), 4), round(math.exp(lk - Z95 * se), 4), round(math.exp(lk + Z95 * se), 4)],
        "kappa_chi2_dof": round(chi2, 3),
        "power_ci": [round(b, 4), round(b - Z95 * bse, 4), round(b + Z95 * bse, 4)],
    }


def _exp_law(Ds: np.ndarray, cis: list[list[float]], info: np.ndarray) -> dict[str, Any]:
    """ln M* = a + b·D fitted where M* and both ends of its interval are measured (b [value, low, high], per
    dimension), ln M* − I per D, and the law's M* where M* is beyond the grid (``extrapolated``); a D whose
    interval is open (its M* measured, its upper end beyond the grid) is left out of the fit
    (``dmmse_open``)."""
    ok = [i for i, ci in enumerate(cis) if math.isfinite(log_sd(ci)) and ci[0] > 0]
    if len(ok) < 2:
        return {}
    m, sd = np.array([cis[i][0] for i in ok]), np.array([log_sd(cis[i]) for i in ok])
    f = fit_line(Ds[ok], np.log(m), sd)
    b, se = f["slope"], f["slope_se"]
    missing = [i for i, ci in enumerate(cis) if not math.isfinite(ci[0])]  # open intervals: measured, not fitted
    return {
        "dmmse_rate_ci": [round(b, 4), round(b - Z95 * se, 4), round(b + Z95 * se, 4)],
        "dmmse_intercept": round(f["intercept"], 4),
        "dmmse_chi2_dof": round(f["chi2_dof"], 3),
        "dmmse_log_M_star_minus_I": [
            round(math.log(ci[0]) - info[i], 3) if math.isfinite(ci[0]) else None for i, ci in enumerate(cis)
        ],
        "dmmse_extrapolated": {str(int(Ds[i])): round(math.exp(f["intercept"] + b * Ds[i]), 1) for i in missing},
        "dmmse_open": [int(Ds[i]) for i in range(len(Ds)) if i not in ok and i not in missing],
    }


def summary(records: list[Record], params: Mapping[str, Any]) -> dict[str, Any]:
    """Per D (``D=<D>``): ``_per_D``; over D: the thresholds as lists, the linear law of the ground state
    and of the κ-theory, the exponential law of dMMSE against the information's rate dI/dD (fitted) and
    Jensen's bound ½ ln(1 + α/σ²)."""
    by = _by_D(records)
    per = {D: _per_D(D, recs) for D, recs in by.items()}
    out: dict[str, Any] = {f"D={D}": v for D, v in per.items()}
    Ds = np.array(sorted(per), float)
    gs = [per[int(D)].get("gs_M_star_ci", [math.nan] * 3) for D in Ds]
    dm = [per[int(D)].get("dmmse_M_star_ci", [math.nan] * 3) for D in Ds]
    info = np.array([per[int(D)].get("information", math.nan) for D in Ds])
    out.update(D=[int(D) for D in Ds], gs_M_star=[c[0] for c in gs], dmmse_M_star=[c[0] for c in dm])
    out["theory_M_star"] = [per[int(D)].get("theory_M_star", math.nan) for D in Ds]
    out["gs"] = _linear_law(Ds, gs)
    theory = np.array(out["theory_M_star"], float)
    if np.isfinite(theory).sum() >= 1:
        k = theory / Ds
        out["theory_kappa_star"] = [
            round(float(np.nanmean(k)), 4),
            round(float(np.nanmin(k)), 4),
            round(float(np.nanmax(k)), 4),
        ]
    out["dmmse"] = _exp_law(Ds, dm, info)
    out["dmmse_not_reached"] = [int(D) for D, c in zip(Ds, dm) if not math.isfinite(c[0])]
    sems = np.array([per[int(D)].get("information_sem", math.nan) for D in Ds])
    if np.isfinite(info).sum() >= 2:
        f = fit_line(Ds, info, np.maximum(sems, 1e-9))
        out["information_rate_ci"] = [
            round(f["slope"], 4),
            round(f["slope"] - Z95 * f["slope_se"], 4),
            round(f["slope"] + Z95 * f["slope_se"], 4),
        ]
    out["information_per_D"] = [round(float(i / D), 4) for i, D in zip(info, Ds)]
    out["jensen_rate"] = round(jensen_rate(float(params["c_N"]), float(params["noise"])), 4)
    return out


# -- figure ------------------------------------------------------------------------------------------
def _errorbars(ax: Any, Ds: np.ndarray, cis: list[list[float]], **kw: Any) -> None:
    """Markers at the values with their 95 % intervals; a value whose interval is open above (its upper end
    beyond the grid) is drawn hollow with an arrow up from its lower end."""
    v, lo, hi = (np.array([c[i] for c in cis], float) for i in range(3))
    closed, open_ = np.isfinite(v) & np.isfinite(hi), np.isfinite(v) & ~np.isfinite(hi)
    yerr = np.vstack([np.maximum(v - lo, 0), np.maximum(hi - v, 0)])
    ax.errorbar(Ds[closed], v[closed], yerr=yerr[:, closed], ls="none", capsize=2, ms=4, **kw)
    if open_.any():
        label = f"{kw.pop('label', '')}: interval open above"
        ax.errorbar(
            Ds[open_],
            v[open_],
            yerr=[v[open_] - lo[open_], v[open_]],
            lolims=True,
            ls="none",
            capsize=2,
            ms=4,
            mfc="none",
            label=label,
            **kw,
        )


def _curves(ax: Any, by: Mapping[int, Mapping[str, list[Record]]]) -> None:
    """(b): each D's fresh-task error over its M = ∞ value against M: ground state (dashed), dMMSE (solid)."""
    for i, (D, recs) in enumerate(by.items()):
        col = f"C{i % 10}"
        gs = [r for r in recs.get("ground_state", []) if int(r["M"]) > 0]
        inf = next((r["ood_mean"] for r in recs.get("ground_state", []) if int(r["M"]) == 0), math.nan)
        if gs and math.isfinite(inf):
            ax.plot([r["M"] for r in gs], [r["ood_mean"] / inf for r in gs], "--", color=col, lw=1)
        dm, rr = recs.get("dmmse", []), recs.get("ridge", [])
        if dm and rr:
            ax.plot(
                [r["M"] for r in dm], [r["ood_mean"] / rr[0]["ridge"] for r in dm], "-", color=col, lw=1, label=f"D={D}"
            )
    ax.axhline(td.THRESHOLD, color="k", lw=0.6, ls=":", label=f"{td.THRESHOLD:g} × M = ∞")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="distinct tasks M in the pool",
        ylabel="fresh-task error / its M = ∞ value",
        title="(b) dMMSE (solid, ÷ ridge); ground state (dashed)",
    )


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    """(a) M* against D (log y): the ground state's and the κ-theory's with the linear law κ*·D, dMMSE's with
    its exponential law and the information's rate; 95 % intervals as error bars.  (b) the curves behind them."""
    s = summary(records, params)
    Ds = np.array(s["D"], float)
    fig, ax = plotting.figure(2, 1, width=4.8, height=3.8)
    a, b = ax[0]
    x = np.linspace(Ds.min(), Ds.max(), 50) if Ds.size else np.array([])
    gs = [s[f"D={int(D)}"].get("gs_M_star_ci", [math.nan] * 3) for D in Ds]
    dm = [s[f"D={int(D)}"].get("dmmse_M_star_ci", [math.nan] * 3) for D in Ds]
    _errorbars(a, Ds, gs, marker="*", color="C7", label="spin-glass ground state")
    kt = s.get("theory_kappa_star", [math.nan])[0]
    a.plot(Ds, s["theory_M_star"], "o", mfc="none", color="C0", ms=4, label=f"κ-theory (Lu et al.): M*/D = {kt:.2f}")
    if s["gs"]:
        k = s["gs"]["kappa_star_ci"]
        a.plot(x, k[0] * x, "-", color="C7", lw=1, label=f"M* = κ*·D, κ* = {k[0]:.2f} [{k[1]:.2f}, {k[2]:.2f}]")
    _errorbars(a, Ds, dm, marker="s", color="k", label="dMMSE")
    if s["dmmse"]:
        r, c = s["dmmse"]["dmmse_rate_ci"], s["dmmse"]["dmmse_intercept"]
        a.plot(
            x, np.exp(c + r[0] * x), "-", color="k", lw=1, label=f"M* ∝ e^(bD), b = {r[0]:.2f} [{r[1]:.2f}, {r[2]:.2f}]"
        )
        for D, m in s["dmmse"]["dmmse_extrapolated"].items():
            a.plot([int(D)], [m], "s", mfc="none", color="0.5", ms=4)
        offsets = [v for v in s["dmmse"]["dmmse_log_M_star_minus_I"] if v is not None]
        info = np.array([s[f"D={int(D)}"].get("information", math.nan) for D in Ds])
        if offsets and np.isfinite(info).all():
            slope = s.get("information_rate_ci", [math.nan])[0]
            a.plot(
                Ds,
                np.exp(float(np.mean(offsets)) + info),
                ":",
                color="C3",
                lw=1.2,
                label=f"∝ e^I (information, dI/dD = {slope:.2f})",
            )
    a.set(yscale="log", xlabel="token dimension D", ylabel="threshold M* (pool size)")
    a.set_xticks([int(D) for D in Ds])
    a.set_title(f"(a) M*: error within {td.THRESHOLD - 1:.0%} of its M = ∞ value")
    _curves(b, _by_D(records))
    for axis in (a, b):
        panels.legend(axis)
    fig.suptitle(
        f"Thresholds over D: N = {params['c_N']}·D, σ = {params['noise']:g}, ground state P = "
        f"{params['tau']:g}·D(D+1), λ0 = {params['lambda0']:g}; error bars 95 %",
        fontsize=8,
    )
    return fig


COLUMNS = {
    "model": "ground_state (spin glass), dmmse or ridge",
    "D": "token dimension",
    "N": "context length N = c_N·D",
    "noise": "label noise standard deviation σ",
    "M": "task-pool size (ground state: 0 = M = ∞, a fresh task per prompt)",
    "P": "ground state: training prompts per repeat, round(τ·D(D+1))",
    "repeats": "ground state: training sets",
    "lambda0": "ground state: λ0",
    "samples": "dmmse: prompts of the error estimate; ridge: Wishart spectra",
    "ood_mean": (
        "fresh-task error E(y_q − ŷ)² (ground state: exact population error, mean over repeats; dmmse: "
        "Monte-Carlo estimate) [E[y²] = 1]"
    ),
    "ood_std": "ground state: its standard deviation over repeats [E[y²] = 1]",
    "ood_sem": "dmmse: its standard error (pool-to-pool spread included) [E[y²] = 1]",
    "theory_ood": "ground state: Lu et al.'s κ-theory at κ = M/D, τ = P/(D(D+1)), α = N/D [E[y²] = 1]",
    "ridge": "ridge's exact error (Monte-Carlo over Wishart spectra) = dMMSE at M = ∞ [E[y²] = 1]",
    "ridge_sem": "its standard error [E[y²] = 1]",
    "information": "mutual information I between task and context = expected KL(posterior ‖ prior) [nats]",
    "information_sem": "its standard error [nats]",
}

SUMMARY_KEYS = {
    "D=*.gs_M_star_ci": (
        "[M*, low, high]: the ground state's threshold and its 95 % bootstrap interval over repeats [count]"
    ),
    "D=*.gs_ood_at_inf": "the ground state's fresh-task error at M = ∞ [E[y²] = 1]",
    "D=*.theory_M_star": "the κ-theory's M* (same 10 % rule, fine grid) [count]",
    "D=*.P": "the ground state's training prompts [count]",
    "D=*.ridge": "ridge's exact error [E[y²] = 1]",
    "D=*.information": "information I = ½ E log det(I + XᵀX/(Dσ²)) [nats]",
    "D=*.information_sem": "its standard error [nats]",
    "D=*.dmmse_M_star_ci": (
        "[M*, low, high]: dMMSE's threshold (fresh-task error within 10 % of ridge's) and its 95 % parametric "
        "bootstrap interval (NaN: beyond its grid; inf: beyond it in more than 2.5 % of the draws) [count]"
    ),
    "D=*.dmmse_M_max": "the largest pool of dMMSE's grid at this D [count]",
    "D=*.dmmse_ood_over_ridge_at_M_max": "dMMSE's fresh-task error over ridge's there [1]",
    "D": "the token dimensions (the lists below line up with them) [1]",
    "gs_M_star": "the ground state's M* per D [count]",
    "dmmse_M_star": "dMMSE's M* per D (NaN: not reached on its grid) [count]",
    "theory_M_star": "the κ-theory's M* per D [count]",
    "gs.kappa_star_ci": "[κ*, low, high]: M* = κ*·D fitted to the ground state (weighted in log; 95 %) [1]",
    "gs.kappa_chi2_dof": "χ²/dof of that fit (> 1: the scatter widened the interval) [1]",
    "gs.affine_slope_ci": "[κ∞, low, high]: slope of M* = c + κ∞·D fitted to the ground state (95 %) [1]",
    "gs.affine_intercept": "c of that fit [count]",
    "gs.affine_chi2_dof": "χ²/dof of that fit [1]",
    "gs.power_ci": "[β, low, high]: exponent of M* ∝ D^β fitted to the ground state (1: linear in D) [1]",
    "theory_kappa_star": "[mean, min, max] over D of the κ-theory's M*/D [1]",
    "dmmse.dmmse_rate_ci": "[b, low, high]: ln M* = a + b·D fitted to dMMSE where measured [nats per dimension]",
    "dmmse.dmmse_intercept": "a of that fit [1]",
    "dmmse.dmmse_chi2_dof": "χ²/dof of that fit [1]",
    "dmmse.dmmse_log_M_star_minus_I": "ln M* − I per D (constant if M* ∝ e^I; null: not reached) [nats]",
    "dmmse.dmmse_extrapolated.*": "the fitted law's M* at a D where it was not reached on the grid [count]",
    "dmmse_not_reached": "the D where dMMSE's threshold lies beyond its grid [1]",
    "dmmse.dmmse_open": "the D where dMMSE's M* is measured but its interval open (left out of the fit) [1]",
    "information_rate_ci": "[dI/dD, low, high]: the information's rate, a line fitted to I(D) [nats per dimension]",
    "information_per_D": "I/D per D [nats]",
    "jensen_rate": "Jensen's bound on I/D, ½ ln(1 + α/σ²) [nats]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="thresholds",
    title="Beyond the paper: how the task-diversity thresholds of the ground state and dMMSE scale with D",
)
