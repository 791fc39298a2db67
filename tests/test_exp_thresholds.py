"""The thresholds experiment (issue 24, item 6): its grids, the information formula, the threshold and its
interval, the law fits, bad input, and the quick run's summary and figure."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from spinglass_icl.experiments import runner
from spinglass_icl.experiments import task_diversity as td
from spinglass_icl.experiments.catalog import thresholds as th
from spinglass_icl.validation import InputError


def test_half_octave_grid() -> None:
    assert th.half_octaves(64) == [1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64]
    assert th.half_octaves(1) == [1]
    assert th.half_octaves(2**20)[-1] == 2**20


def test_dmmse_grid_stops_at_the_smaller_cap() -> None:
    p = {**th.FULL}
    assert th.dmmse_grid(4, p)[-1] == 2**10  # 2^(1.5·4 + 4)
    assert th.dmmse_grid(12, p)[-1] == 2**20  # 2^22 capped by dmmse_M_max
    assert th.dmmse_grid(5, p)[-1] == round(2**11.5)


@pytest.mark.parametrize("size", ["quick", "full"])
def test_points_and_count_agree(size: str) -> None:
    p = th.EXPERIMENT.params(size)
    pts = th.points(p)
    assert len(pts) == th.count(p) == th.EXPERIMENT.n_points(p)
    for D in p["D"]:
        mine = [q for q in pts if q["D"] == D]
        assert sum(q["model"] == "ridge" for q in mine) == 1
        assert [q["M"] for q in mine if q["model"] == "ground_state"] == [0] + sorted(p["M"])
        assert [q["M"] for q in mine if q["model"] == "dmmse"] == th.dmmse_grid(D, p)
        assert all(q["N"] == p["c_N"] * D for q in mine)
    gs8 = next(q for q in th.points(th.EXPERIMENT.params("full")) if q["model"] == "ground_state" and q["D"] == 8)
    assert gs8["P"] == 10008  # τ = 139: the diversity run's P ≈ 10 000 at D = 8


@pytest.mark.parametrize(
    "override, match",
    [
        ({"dmmse_M_max": 0}, "dmmse_M_max"),
        ({"dmmse_samples": 1}, "dmmse_samples"),
        ({"noise": -0.1}, "noise"),
        ({"noise": 0.0}, "noise > 0"),
        ({"tau": 0.0}, "tau"),
        ({"dmmse_log2_per_D": 0.0}, "dmmse_log2_per_D"),
        ({"D": 0}, "D"),
        ({"M": 0}, "M"),
    ],
)
def test_bad_input_is_one_error(override: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        runner.estimate("thresholds", "quick", override)


def test_information_against_the_likelihood_ratio_monte_carlo() -> None:
    """I = E[ln p(y | X, w) − ln p(y | X)], p(y | X) = N(0, σ² I + XXᵀ/D): sampled directly at D = 2, N = 4."""
    D, N, s = 2, 4, 0.5
    rng = np.random.default_rng(1)
    n = 200_000
    X = rng.standard_normal((n, N, D))
    w = rng.standard_normal((n, D))
    eps = s * rng.standard_normal((n, N))
    y = np.einsum("bnd,bd->bn", X, w) / math.sqrt(D) + eps
    C = s**2 * np.eye(N) + X @ np.swapaxes(X, 1, 2) / D
    _, logdet = np.linalg.slogdet(C)
    quad = np.einsum("bn,bn->b", y, np.linalg.solve(C, y[..., None])[..., 0])
    llr = -0.5 * np.sum(eps**2, axis=1) / s**2 - N * math.log(s) + 0.5 * logdet + 0.5 * quad
    mc, mc_sem = float(np.mean(llr)), float(np.std(llr) / math.sqrt(n))
    info, sem = th.information(D, N, s, samples=200_000, seed=2)
    assert abs(info - mc) < 4 * math.hypot(sem, mc_sem)


def test_information_at_D1_against_quadrature_and_below_jensen() -> None:
    """D = 1: I = ½ E ln(1 + χ²_N/σ²) (a one-dimensional integral); every D: I ≤ D·½ ln(1 + α/σ²)."""
    N, s = 3, 0.5
    exact = integrate.quad(lambda x: 0.5 * math.log1p(x / s**2) * stats.chi2.pdf(x, N), 0, np.inf)[0]
    info, sem = th.information(1, N, s, samples=200_000, seed=0)
    assert abs(info - exact) < 4 * sem
    for D in (2, 4, 8):
        assert th.information(D, 2 * D, s, samples=20_000)[0] < D * th.jensen_rate(2.0, s)
    assert th.jensen_rate(2.0, 0.5) == pytest.approx(0.5 * math.log(9.0), rel=1e-12)
    with pytest.raises(InputError, match="noise"):
        th.information(2, 4, 0.0)


def test_threshold_interpolation_by_hand() -> None:
    """err/ridge = 4, 2, 1 at M = 1, 2, 4: the 1.1 crossing lies on the log-log segment from (2, 2) to (4, 1),
    at M = 4/1.1; with zero standard errors the interval is that point."""
    M, err = np.array([1.0, 2.0, 4.0]), np.array([4.0, 2.0, 1.0])
    v, lo, hi = th.dmmse_threshold(M, err, np.zeros(3), 1.0, 0.0)
    assert v == pytest.approx(4 / 1.1, rel=1e-12) and lo == pytest.approx(v) and hi == pytest.approx(v)
    v, lo, hi = th.dmmse_threshold(M, err * 2.0, np.zeros(3), 1.0, 0.0)  # never within 10 %: not reached
    assert math.isnan(v) and lo == hi == math.inf
    _, lo, hi = th.dmmse_threshold(M, err, np.full(3, 0.05), 1.0, 0.001)
    assert lo < 4 / 1.1 < hi


def test_percentile_interval() -> None:
    x = np.arange(1000, dtype=float)
    assert td.percentile_interval(x) == (24.0, 975.0)  # (1 − 0.95)/2 · 999 = 24.975: rounded outwards
    x[:30] = np.nan  # undefined: beyond every defined value
    assert td.percentile_interval(x)[1] == math.inf


def test_line_fit_recovers_its_parameters() -> None:
    x = np.arange(4.0, 13.0)
    f = th.fit_line(x, 1.5 + 0.97 * x, np.full(x.size, 0.1))
    assert f["slope"] == pytest.approx(0.97, abs=1e-12) and f["intercept"] == pytest.approx(1.5, abs=1e-12)
    assert f["chi2_dof"] == pytest.approx(0.0, abs=1e-20)
    assert f["slope_se"] == pytest.approx(0.1 / math.sqrt(np.sum((x - x.mean()) ** 2)), rel=1e-12)
    rng = np.random.default_rng(0)  # noisy data: the 95 % interval covers the truth about 95 % of the time
    hits = 0
    for _ in range(400):
        sd = rng.uniform(0.05, 0.2, x.size)
        g = th.fit_line(x, 1.5 + 0.97 * x + sd * rng.standard_normal(x.size), sd)
        hits += abs(g["slope"] - 0.97) < th.Z95 * g["slope_se"]
    assert 0.9 < hits / 400 <= 1.0
    with pytest.raises(InputError):
        th.fit_line([1.0, 1.0], [1.0, 2.0], [1.0, 1.0])


def test_weighted_mean_and_log_sd() -> None:
    m, se, chi2 = th.fit_mean([1.0, 3.0], [1.0, 1.0])
    assert (m, chi2) == (2.0, 2.0) and se == pytest.approx(math.sqrt(0.5) * math.sqrt(2.0))
    assert th.log_sd([2.0, 1.0, 4.0]) == pytest.approx(math.log(4.0) / (2 * th.Z95))
    assert th.log_sd([2.0, 1.0, math.inf]) == math.inf


def test_laws_on_synthetic_thresholds() -> None:
    """M* = 2.2·D (ground state) and M* = e^(1 + 0.98 D) (dMMSE) with 10 % log intervals: the fits return them."""
    Ds = np.arange(4.0, 13.0)
    k = math.exp(0.1 * th.Z95)
    lin = th._linear_law(Ds, [[2.2 * D, 2.2 * D / k, 2.2 * D * k] for D in Ds])
    assert lin["kappa_star_ci"][0] == pytest.approx(2.2, rel=1e-3) and lin["power_ci"][0] == pytest.approx(1.0)
    mstar = [[math.exp(1 + 0.98 * D), math.exp(1 + 0.98 * D) / k, math.exp(1 + 0.98 * D) * k] for D in Ds]
    mstar[-1] = [math.nan, math.inf, math.inf]  # not reached: extrapolated from the law, not fitted
    law = th._exp_law(Ds, mstar, 0.98 * Ds)
    assert law["dmmse_rate_ci"][0] == pytest.approx(0.98, abs=1e-3)
    assert law["dmmse_extrapolated"] == {"12": pytest.approx(math.exp(1 + 0.98 * 12), rel=1e-3)}
    assert law["dmmse_log_M_star_minus_I"][0] == pytest.approx(1.0, abs=1e-3)
    assert law["dmmse_log_M_star_minus_I"][-1] is None


def test_quick_run_summary_and_figure(quick_run) -> None:
    s, records = quick_run("thresholds")
    summ = s.summary
    assert summ["D"] == [3, 4, 5]
    for D in summ["D"]:
        v = summ[f"D={D}"]
        gs, dm = v["gs_M_star_ci"], v["dmmse_M_star_ci"]
        assert 1 < gs[0] < 64 and gs[1] <= gs[0] <= gs[2]
        assert v["ridge"] < v["gs_ood_at_inf"]  # the linear-attention plateau lies above the Bayes error
        assert math.isnan(dm[0]) or dm[1] <= dm[0] <= dm[2]
    # the κ-theory is a function of κ = M/D alone at fixed τ, α, σ: its M*/D is the same at every D
    k = summ["theory_kappa_star"]
    assert k[2] - k[1] < 1e-3 * k[0]
    # dMMSE needs orders of magnitude more tasks than the ground state, more at every larger D
    dm = [x for x in summ["dmmse_M_star"] if math.isfinite(x)]
    assert len(dm) >= 2 and all(b > 2 * a for a, b in zip(dm, dm[1:]))
    assert all(d > 5 * g for d, g in zip(summ["dmmse_M_star"], summ["gs_M_star"]) if math.isfinite(d))
    # the information's rate lies below Jensen's bound and near the Marchenko–Pastur value (≈ 0.98)
    rate = summ["information_rate_ci"][0]
    assert 0.9 < rate < summ["jensen_rate"] == pytest.approx(1.0986, abs=1e-4)
    assert Path(s.folder, "thresholds.png").exists()
    assert {r["model"] for r in records} == {"ground_state", "dmmse", "ridge"}


def test_shipped_full_run() -> None:
    """docs/data/thresholds-full holds every point of ``reproduce thresholds --full`` (same keys), and its summary
    is the one REPRODUCTION.md quotes: dMMSE's rate near the information's and below Jensen's bound, the
    κ-theory exactly linear, the ground state above it by a factor that falls with D."""
    import sqlite3

    from spinglass_icl.experiments.runner import records
    from spinglass_icl.experiments.spec import point_key

    folder = Path(__file__).resolve().parents[1] / "docs" / "data" / "thresholds-full"
    exp = th.EXPERIMENT
    want = {point_key("thresholds", pt, exp.seed(0, pt)) for pt in th.points(exp.params("full"))}
    with sqlite3.connect(folder / "store.sqlite") as db:
        have = {k for (k,) in db.execute("select key from points where status = 'done'")}
    assert want <= have
    s = th.summary(records(folder), exp.params("full"))
    assert s["D"] == list(range(4, 13)) and s["dmmse_not_reached"] == [] and s["dmmse"]["dmmse_open"] == [12]
    rate, info, jensen = s["dmmse"]["dmmse_rate_ci"], s["information_rate_ci"], s["jensen_rate"]
    assert rate == pytest.approx([0.9326, 0.893, 0.9721], abs=1e-4)
    assert rate[2] < jensen and abs(rate[0] - info[0]) < 0.1
    assert s["gs"]["kappa_star_ci"] == pytest.approx([2.7583, 2.6116, 2.9132], abs=1e-4)
    k = s["theory_kappa_star"]
    assert k[2] - k[1] < 1e-3
    ratio = np.array(s["gs_M_star"]) / np.array(s["theory_M_star"])
    assert np.all(ratio > 1) and ratio[-1] < ratio[0]
