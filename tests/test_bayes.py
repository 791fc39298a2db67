"""Bayes-optimal predictors (ridge, dMMSE) and their errors against brute force on small cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from spinglass_icl.bayes import (
    POOLS,
    dmmse_error,
    dmmse_pools,
    dmmse_predict,
    ridge_error,
    ridge_error_mp,
    ridge_predict,
)
from spinglass_icl.prompts import Prompts, PromptSpec, sample_features, sample_prompts
from spinglass_icl.validation import InputError


def _prompts(
    D: int, N: int, noise: float, P: int, seed: int, pool: int | None = None
) -> tuple[Prompts, np.ndarray, np.ndarray]:
    spec = PromptSpec(D=D, N=N, noise=noise, task_pool=pool)
    return sample_prompts(spec, P, np.random.default_rng(seed), return_tasks=True)


def test_ridge_predict_is_the_gaussian_process_posterior_mean() -> None:
    """Function-space route: y_ctx, y_q jointly Gaussian with Cov = x_i·x_j/D + σ² δ_ij; E[y_q | y_ctx]."""
    D, N, noise = 3, 5, 0.4
    pr, _, _ = _prompts(D, N, noise, 7, 0)
    got = ridge_predict(pr.X, noise)
    for p in range(7):
        x, yc, xq = pr.X[p, :D, :N].T, pr.X[p, D, :N], pr.X[p, :D, N]
        K = x @ x.T / D + noise**2 * np.eye(N)
        assert got[p] == pytest.approx((xq @ x.T / D) @ np.linalg.solve(K, yc), rel=1e-10, abs=1e-12)


def test_ridge_predict_noiseless_interpolates_and_is_min_norm() -> None:
    """σ = 0, N ≥ D: the context determines w, so ŷ is the noiseless target; N < D: the min-norm solution."""
    pr, _, _ = _prompts(4, 6, 0.0, 20, 1)
    np.testing.assert_allclose(ridge_predict(pr.X, 0.0), pr.y, atol=1e-9)
    pr, _, _ = _prompts(5, 2, 0.0, 3, 2)
    for p in range(3):
        x, yc, xq = pr.X[p, :5, :2].T / math.sqrt(5), pr.X[p, 5, :2], pr.X[p, :5, 2]
        w = np.linalg.pinv(x) @ yc
        assert ridge_predict(pr.X[p], 0.0) == pytest.approx(w @ xq / math.sqrt(5), rel=1e-9)


def test_dmmse_predict_matches_direct_posterior() -> None:
    """Posterior over the pool from the product of the N Gaussian likelihoods, one task at a time."""
    D, N, noise, M = 3, 4, 0.7, 5
    pr, pool, _ = _prompts(D, N, noise, 6, 3, pool=M)
    got = dmmse_predict(pr.X, pool, noise)
    for p in range(6):
        x, yc, xq = pr.X[p, :D, :N].T, pr.X[p, D, :N], pr.X[p, :D, N]
        like = np.array([np.prod(stats.norm.pdf(yc, x @ w / math.sqrt(D), noise)) for w in pool])
        post = like / like.sum()
        assert got[p] == pytest.approx(post @ (pool @ xq) / math.sqrt(D), rel=1e-9)
    assert dmmse_predict(pr.X[0], pool, noise).shape == ()


def test_dmmse_predict_noiseless_picks_the_true_task() -> None:
    pr, pool, idx = _prompts(3, 4, 0.0, 10, 4, pool=50)
    np.testing.assert_allclose(dmmse_predict(pr.X, pool, 0.0), pr.y, atol=1e-12)
    np.testing.assert_allclose(pool[idx], pr.w)


def test_one_task_pool_knows_its_task() -> None:
    """M = 1: the posterior is the one task, so the in-distribution error is the query's noise σ² exactly;
    on fresh tasks it is σ² + E|w − w_1|²/D = σ² + 2 -- within 1 % and 4 standard errors, a pool per prompt."""
    assert dmmse_error(4, 6, 0.5, 1, "id", samples=500) == pytest.approx(0.25, abs=1e-12)
    e, se = dmmse_error(64, 2, 0.5, 1, "ood", samples=1600, sem=True)
    assert abs(e - 2.25) < 4 * se and se < 0.01 * 2.25
    e, se = dmmse_error(4, 8, 0.25, 1, "ood", sem=True)  # D = 4: σ² + 2 again, standard error < 1 %
    assert abs(e - 2.0625) < 4 * se and se < 0.01 * 2.0625


def test_dmmse_error_standard_error_includes_the_pool_to_pool_spread() -> None:
    """Estimates from independent seeds scatter as their standard error says, at an M where a few pools carry
    many prompts each (pools = POOLS) and where every prompt has its own pool."""
    for M, samples in ((64, 320), (2, 320)):
        assert dmmse_pools(M, samples) == (POOLS if M == 64 else samples) or M == 64
        est = np.array([dmmse_error(3, 4, 0.3, M, "ood", samples=samples, seed=s, sem=True) for s in range(40)])
        spread, sem = est[:, 0].std(ddof=1), est[:, 1].mean()
        assert 0.6 < spread / sem < 1.6, (M, spread, sem)


def test_noiseless_errors_vanish_when_the_context_determines_the_task() -> None:
    assert ridge_error(4, 6, 0.0) == 0.0
    assert ridge_error(4, 6, 1e-3) < 1e-5  # σ² + σ⁴ E[tr (XᵀX/D)⁻¹]/D + O(σ⁶)
    assert ridge_error(6, 2, 0.0) == pytest.approx(1 - 2 / 6)  # N < D: the unseen directions keep the prior
    assert dmmse_error(4, 6, 0.0, 64, "id", samples=400) == pytest.approx(0.0, abs=1e-18)


def test_ridge_error_exact_against_quadrature_at_D1() -> None:
    """D = 1: XᵀX = χ²_N, so the error is σ² + σ² E[1/(χ²_N + σ²)] -- one quadrature."""
    for N, noise in ((3, 0.5), (8, 1.0)):
        s2 = noise**2
        exact = s2 + integrate.quad(lambda x, s2=s2, N=N: s2 / (x + s2) * stats.chi2.pdf(x, N), 0, np.inf)[0]
        e, se = ridge_error(1, N, noise, sem=True)
        assert abs(e - exact) < 4 * se and abs(e / exact - 1) < 1e-3


def test_ridge_error_against_monte_carlo_of_its_predictor() -> None:
    """The spectral formula against the squared errors of ridge_predict on sampled prompts (query noise
    included)."""
    D, N, noise = 4, 6, 0.5
    pr, _, _ = _prompts(D, N, noise, 40_000, 5)
    sq = (ridge_predict(pr.X, noise) - pr.y) ** 2
    e, se = ridge_error(D, N, noise, sem=True)
    assert abs(sq.mean() - e) < 4 * math.hypot(sq.std() / math.sqrt(sq.size), se)


def test_ridge_error_large_D_approaches_marchenko_pastur() -> None:
    e = ridge_error(100, 200, 0.5, samples=40)  # finite-D excess ≈ 0.2/D relative
    assert e == pytest.approx(ridge_error_mp(100, 200, 0.5), rel=4e-3)
    assert ridge_error(8, 16, 0.5) > ridge_error_mp(8, 16, 0.5)  # finite D is worse (about 2 % at D = 8)
    assert ridge_error_mp(4, 2, 0.0) == pytest.approx(0.5)


def test_dmmse_between_memorising_and_ridge() -> None:
    """Small pools: better than ridge on pool tasks, worse on fresh ones; a large pool approaches ridge."""
    D, N, noise = 2, 4, 0.5
    ridge = ridge_error(D, N, noise)
    assert dmmse_error(D, N, noise, 4, "id", samples=2000) < ridge < dmmse_error(D, N, noise, 4, "ood", samples=2000)
    for split in ("id", "ood"):
        e = dmmse_error(D, N, noise, 2048, split, samples=4000)
        assert e == pytest.approx(ridge, rel=0.03)


def test_bad_input_is_refused() -> None:
    with pytest.raises(InputError, match="split"):
        dmmse_error(2, 3, 0.5, 4, "train")
    with pytest.raises(InputError, match="noise"):
        ridge_error(2, 3, -1.0)
    with pytest.raises(InputError, match="M"):
        dmmse_error(2, 3, 0.5, 0)
    with pytest.raises(InputError, match="tasks"):
        dmmse_predict(np.zeros((4, 3, 5)), np.zeros((6, 3)), 0.5)


@pytest.mark.parametrize("pool", [None, 5])
def test_samplers_return_the_pool_with_the_same_draws(pool: int | None) -> None:
    """return_tasks=True adds the pool and each prompt's index without changing a single draw."""
    spec = PromptSpec(D=3, N=4, noise=0.3, task_pool=pool)
    plain = sample_prompts(spec, 40, np.random.default_rng(9))
    pr, tasks, index = sample_prompts(spec, 40, np.random.default_rng(9), return_tasks=True)
    np.testing.assert_array_equal(pr.X, plain.X)
    np.testing.assert_array_equal(tasks[index], pr.w)
    assert tasks.shape == ((pool or 40), 3)
    f_plain = sample_features(spec, 40, np.random.default_rng(9))
    f, f_tasks, f_index = sample_features(spec, 40, np.random.default_rng(9), return_tasks=True)
    np.testing.assert_array_equal(f.a, f_plain.a)
    np.testing.assert_array_equal(f.y, f_plain.y)
    np.testing.assert_array_equal(f_tasks, tasks)  # same stream: the same tasks as the explicit sampler
    np.testing.assert_array_equal(f_index, index)
