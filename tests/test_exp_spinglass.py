"""Experiments fig1, fig3, figS2, figS3, figS5, figS7 and their statistics helpers.

Each experiment test calls ``compute`` on one or two small points directly, draws its figure and
asserts the experiment's qualitative result; the helpers are checked against exact answers.
"""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure
from scipy import stats as sps

from spinglass_icl.experiments import histograms, mixtures, wishart
from spinglass_icl.experiments.registry import get
from spinglass_icl.experiments.spec import point_seed
from spinglass_icl.prompts import PromptSpec, sample_features
from spinglass_icl.spinglass import SpinGlass, flat_fraction_theory


def _run(eid: str, overrides: dict, keep=lambda p: True) -> tuple[list[dict], dict, Figure]:
    """Compute the (filtered) points of ``eid`` at quick size with overrides; records + figure."""
    E = get(eid)
    params = E.params("quick", overrides)
    records = []
    for pt in E.points(params):
        if keep(pt):
            records.append({**pt, **E.compute(pt, point_seed(7, pt), "cpu")})
    fig = E.plot(records, params)
    assert isinstance(fig, Figure)
    assert E.summary(records, params)
    return records, params, fig


# -- helpers -------------------------------------------------------------------------------------
def test_kl_bits_exact():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert histograms.kl_bits(p, q) == pytest.approx(0.5 * np.log2(2) + 0.5 * np.log2(0.5 / 0.75))
    assert histograms.kl_bits(p, p) == 0.0
    assert histograms.kl_bits([2, 2], [1, 3]) == pytest.approx(histograms.kl_bits(p, q))  # normalises


def test_binned_rows_matches_numpy():
    rng = np.random.default_rng(0)
    v = np.round(rng.normal(size=(4, 500)), 1)  # many values exactly on bin edges
    e = histograms.edges(-2.0, 2.0, 40)
    assert np.array_equal(histograms.binned_rows(v, e), np.stack([histograms.binned(x, e) for x in v]))


def test_mixture_fit_recovers_components():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0.0, 1.0, 8000), rng.normal(4.0, 0.5, 2000)])
    e = histograms.edges(-5, 7, 120)
    w, mu, sd = mixtures.fit_mixture(histograms.centers(e), histograms.binned(x, e), 2)
    assert w == pytest.approx([0.8, 0.2], abs=0.02)
    assert mu == pytest.approx([0.0, 4.0], abs=0.05)
    assert sd == pytest.approx([1.0, 0.5], abs=0.05)


def test_mp_density_normalised_with_exact_moments():
    for q in (0.1, 0.5, 1.0):
        e = histograms.edges(0, wishart.mp_edges(q)[1], 400)
        p = wishart.mp_bin_probabilities(e, q)
        c = histograms.centers(e)
        assert p.sum() == pytest.approx(1.0, abs=1e-6)
        assert np.dot(p, c) == pytest.approx(1.0, abs=5e-3)  # E λ = 1
        assert np.dot(p, c**2) == pytest.approx(1.0 + q, abs=2e-2)  # E λ² = 1 + q


@pytest.mark.parametrize("method", ["bidiagonal", "bartlett"])
def test_wishart_samplers_match_explicit(method):
    """Structured Wishart samplers: exact moments E tr W/D = N, E tr W²/D = N(N+D+1), and the
    same eigenvalue distribution as explicit X Xᵀ (two-sample KS)."""
    D, N, n = 8, 12, 3000
    fast = wishart.wishart_eigenvalues(D, N, n, np.random.default_rng(2), method)
    slow = wishart.wishart_eigenvalues(D, N, n, np.random.default_rng(3), "explicit")
    for ev in (fast, slow):
        m1, m2 = ev.sum(-1) / D, (ev**2).sum(-1) / D
        assert m1.mean() == pytest.approx(N, abs=4 * m1.std() / np.sqrt(n))
        assert m2.mean() == pytest.approx(N * (N + D + 1), abs=4 * m2.std() / np.sqrt(n))
    # largest and smallest eigenvalues are the most structure-sensitive statistics
    for k in (0, D - 1):
        assert sps.ks_2samp(fast[:, k], slow[:, k]).pvalue > 1e-3


# -- experiments ---------------------------------------------------------------------------------
def test_fig1_h1_diagonal_carries_the_signal():
    recs, params, _ = _run("fig1", {"draws": 120, "chunk": 60})
    s = get("fig1").summary(recs, params)
    assert s["h1_diag_mean"] == pytest.approx(1 / params["D"], rel=0.05)  # E h_mm = E w_m²/D = 1/D
    assert abs(s["h1_off_mean"]) < 0.1 * s["h1_diag_mean"]
    for q in ("h2", "J1", "J2", "J3"):
        assert abs(s[f"{q}_mean"]) < 0.2 * s[f"{q}_std"]
    assert s["h1_mixture_weights"] == pytest.approx([1 - 1 / params["D"], 1 / params["D"]], abs=0.02)


def test_fig1_paper_builder_changes_J_not_h1():
    (c,), _, _ = _run("fig1", {"draws": 30, "chunk": 30})
    (p,), _, _ = _run("fig1", {"draws": 30, "chunk": 30, "convention": "paper"})
    assert p["mean_h1_diag"] == pytest.approx(c["mean_h1_diag"], rel=0.1)


def test_figS2_kl_grows_away_from_reference():
    recs, params, _ = _run("figS2", {"draws": 6, "chunk": 6, "N": [20, 21, 60, 200]})
    s = get("figS2").summary(recs, params)
    for q in ("J1", "J2"):  # the many-valued couplings: clean monotone growth with N
        kl = s[f"KL_{q}_bits"]
        assert kl[0] == 0.0
        assert kl[1] < kl[2] < kl[3]
    assert s["KL_h1_bits"][3] > s["KL_h1_bits"][1]


def test_fig3_flat_valley_only_below_D_D_plus_1():
    recs, params, _ = _run("fig3", {"samples": 80, "grid": 20, "plane_grid": 41, "embedding": "pca"})
    by_P = {r["P"]: r for r in recs}
    lo, hi = by_P[10], by_P[1000]
    assert lo["flat_directions"] == 110 - 10 and hi["flat_directions"] == 0
    assert lo["soft_eigenvalue"] == pytest.approx(params["lambda0"])
    assert lo["flat_fraction"] > hi["flat_fraction"]
    assert lo["valley_fraction"] == 1.0 > hi["valley_fraction"]
    assert lo["energy_std"] > hi["energy_std"]  # random W: energy spread larger when degenerate


def test_figS3_amp_on_synthetic_couplings():
    recs, params, _ = _run("figS3", {"repeats": 1, "fit_draws": 20})
    r = recs[0]
    assert r["mu_h1_diag"] == pytest.approx(0.2, abs=0.02)  # fig1 settings: 1/D with D=5
    assert r["converged"]
    assert np.all(np.asarray(r["v"]) > 0)
    assert r["contrast_amp"] > 0.5 and r["contrast_exact"] > 0.5  # identity-like mean
    assert r["rel_diff_to_exact"] < 0.5


def test_figS5_marchenko_pastur_fits():
    recs, params, _ = _run("figS5", {"N": [100, 1000], "draws": 300, "chunk": 300})
    s = get("figS5").summary(recs, params)
    for key, g in s.items():
        assert g["KS_to_MP"] < 0.02, key
        assert g["mean"] == pytest.approx(1.0, abs=0.01)
        assert g["mean_sq"] == pytest.approx(g["mean_sq_exact"], rel=0.01)


def test_figS7_zero_modes_closed_form():
    Ps, Ds = [40, 150, 300, 600], [10, 15]
    recs, params, _ = _run("figS7", {"P": Ps, "D": Ds, "spectrum_P": [100], "spectrum_draws": 2, "chunk": 2})
    for r in recs:
        assert r["zero_count_min"] == r["zero_count_max"] == r["theory_count"], (r["D"], r["P"])
        assert r["zero_fraction"] == pytest.approx(flat_fraction_theory(r["P"], r["D"], effective=False), abs=1e-12)


@pytest.mark.parametrize("P", [30, 200])
def test_figS7_small_spectrum_equals_full(P):
    f = sample_features(PromptSpec(D=6, N=20), P, np.random.default_rng(P))
    small, full = SpinGlass(f).gram_spectrum(small=True), SpinGlass(f).gram_spectrum()
    assert np.allclose(small, full, atol=1e-10)
    assert np.allclose(full, np.linalg.eigvalsh(SpinGlass(f).hessian()), atol=1e-10)  # λ0 = 0: A = SᵀS/P
