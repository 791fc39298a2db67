"""spinglass_icl.theory against Monte-Carlo with the project's own samplers, the closed form, the exact solver."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spinglass_icl.features import predict
from spinglass_icl.prompts import Features, PromptSpec, features_from_prompts, sample_features, sample_prompts
from spinglass_icl.solvers import sample_exact, solve_cg, solve_exact
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.theory import (
    finite_sizes,
    gibbs_error,
    icl_error_asymptotic,
    icl_error_theory,
    population_error,
    population_pieces,
    thermal_directions,
    thermal_error,
)
from spinglass_icl.validation import InputError

D, N = 4, 6


def _weights(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "icl":  # the ICL solution c·diag(I, 0)
        W = np.zeros((D + 1, D + 1))
        W[:D, :D] = 1.3 * np.eye(D)
        return W
    if kind == "random":
        return 0.5 * rng.standard_normal((D + 1, D + 1))
    W = 0.5 * rng.standard_normal((D + 1, D + 1))  # "yrow": a large label row v_y
    W[D, :D] += 1.0
    return W


def _monte_carlo(W: np.ndarray, noise: float, rng: np.random.Generator, P: int = 300_000) -> tuple[float, float]:
    f = sample_features(PromptSpec(D=D, N=N, noise=noise), P, rng)
    e = (predict(W, f) - f.y) ** 2
    return float(e.mean()), float(e.std() / math.sqrt(P))


@pytest.mark.parametrize("kind", ["icl", "random", "yrow"])
@pytest.mark.parametrize("noise", [0.0, 0.5])
def test_population_error_matches_monte_carlo(kind, noise):
    rng = np.random.default_rng(11)
    W = _weights(kind, rng)
    mc, sem = _monte_carlo(W, noise, rng)
    assert abs(mc - float(population_error(W, D, N, noise))) < 5 * sem


def test_population_error_matches_explicit_prompts():
    rng = np.random.default_rng(12)
    W = _weights("random", rng)
    pr = sample_prompts(PromptSpec(D=D, N=N, noise=0.3), 100_000, rng)
    e = (predict(W, features_from_prompts(pr)) - pr.y) ** 2
    assert abs(e.mean() - float(population_error(W, D, N, 0.3))) < 5 * e.std() / math.sqrt(e.size)


@pytest.mark.parametrize("wrong", ["drop_2_over_D", "drop_y_row"])
def test_a_wrong_formula_fails_the_same_check(wrong):
    """The Monte-Carlo check above can fail: two plausible mistakes are rejected at far beyond 5σ."""
    rng = np.random.default_rng(13)
    W = _weights("yrow", rng)
    mc, sem = _monte_carlo(W, 0.5, rng)
    Vx, vy = W[:D, :D], W[D, :D]
    if wrong == "drop_2_over_D":
        dropped = (2 * N / D * np.sum(Vx**2) + N * (N + 2) * 2 / D * np.sum(vy**2)) / (N + 1) ** 2
    else:
        cy = N * (N + 2) * ((1 + 0.25) ** 2 + 2 / D)
        dropped = cy * np.sum(vy**2) / (N + 1) ** 2
    wrong_value = float(population_error(W, D, N, 0.5)) - dropped
    assert abs(mc - wrong_value) > 5 * sem
    assert abs(mc - float(population_error(W, D, N, 0.5))) < 5 * sem


def test_pieces_batching_and_flat_weights():
    rng = np.random.default_rng(14)
    W = rng.standard_normal((3, 2, D + 1, D + 1))
    c, g, Q = population_pieces(D, N, 0.2, dense=True)
    w = W.reshape(3, 2, -1)
    quad = c - 2 * w @ g + np.einsum("...i,ij,...j->...", w, Q, w)
    np.testing.assert_allclose(population_error(W, D, N, 0.2), quad, rtol=1e-12)
    np.testing.assert_allclose(population_error(w, D, N, 0.2), quad, rtol=1e-12)
    np.testing.assert_allclose(population_pieces(D, N, 0.2)[2], np.diag(Q))
    # vectorised over N: one W at several context lengths
    Ns = np.array([3, 6, 50])
    np.testing.assert_allclose(population_error(W[0, 0], D, Ns), [population_error(W[0, 0], D, n) for n in Ns])
    # zero modes (last column) never matter
    W2 = W.copy()
    W2[..., :, D] += 7.0
    np.testing.assert_allclose(population_error(W2, D, N), population_error(W, D, N))


@pytest.mark.parametrize("kind", ["icl", "random", "yrow"])
def test_pool_in_distribution_error_matches_monte_carlo(kind):
    rng = np.random.default_rng(15)
    W = _weights(kind, rng)
    pr = sample_prompts(PromptSpec(D=D, N=N, noise=0.4, task_pool=3), 150_000, rng)
    e = (predict(W, features_from_prompts(pr)) - pr.y) ** 2
    exact = float(population_error(W, D, N, 0.4, tasks=pr.w))  # conditional error averaged over the drawn tasks
    assert abs(e.mean() - exact) < 5 * e.std() / math.sqrt(e.size)
    # averaging the conditional error over many fresh tasks gives back the population error
    many = rng.standard_normal((200_000, D))
    assert float(population_error(W, D, N, 0.4, tasks=many)) == pytest.approx(
        float(population_error(W, D, N, 0.4)), rel=0.02
    )


@pytest.mark.parametrize(
    "bad",
    [
        dict(W=np.zeros((4, 4))),
        dict(noise=-0.1),
        dict(N=0),
        dict(N=2.5),
        dict(N="ten"),
        dict(D=0),
        dict(tasks=np.zeros((3, D + 1))),
        dict(W=np.full((D + 1, D + 1), np.nan)),
    ],
)
def test_population_error_bad_input(bad):
    args = dict(W=np.zeros((D + 1, D + 1)), D=D, N=N, noise=0.0, tasks=None) | bad
    with pytest.raises(InputError):
        population_error(**args)


def test_asymptotic_closed_form_and_limits():
    tau = np.array([1.1, 1.5, 2.0, 4.0, 20.0])[:, None]
    alpha = np.array([0.3, 1.0, 5.0])[None, :]
    np.testing.assert_allclose(icl_error_asymptotic(tau, alpha), tau / ((tau - 1) * (1 + alpha)), rtol=1e-12)
    assert icl_error_asymptotic(tau, alpha).shape == (5, 3)
    for t in (0.5, 3.0):  # κ = ∞ and ρ = 0 are limits, not special cases
        assert float(icl_error_asymptotic(t, 1.0, 0.2, 1e12)) == pytest.approx(float(icl_error_asymptotic(t, 1.0, 0.2)))
        assert float(icl_error_asymptotic(t, 1.0, 1e-12, 3.0)) == pytest.approx(
            float(icl_error_asymptotic(t, 1.0, 0.0, 3.0))
        )
    assert float(icl_error_asymptotic(1e-9, 1.0, 0.3)) == pytest.approx(1.3)  # no training: predicts 0
    assert np.isinf(icl_error_asymptotic(1.0, 1.0, 0.1, 2.0))
    near = icl_error_asymptotic([0.99, 1.01], 1.0)
    assert np.all(near > 20) and np.all(np.isfinite(near))  # the interpolation peak
    # label noise and a finite pool can only hurt
    assert float(icl_error_asymptotic(2.0, 1.0, 0.25)) > float(icl_error_asymptotic(2.0, 1.0))
    assert float(icl_error_asymptotic(2.0, 1.0, 0.0, 2.0)) > float(icl_error_asymptotic(2.0, 1.0))


@pytest.mark.parametrize(
    "bad",
    [
        dict(tau=0.0),
        dict(tau=-1.0),
        dict(alpha=0.0),
        dict(rho=-0.1),
        dict(kappa=0.0),
        dict(kappa=-2.0),
        dict(tau=np.nan),
        dict(alpha=[1.0, -1.0]),
        dict(tau="two"),
    ],
)
def test_asymptotic_bad_input(bad):
    with pytest.raises(InputError):
        icl_error_asymptotic(**(dict(tau=2.0, alpha=1.0, rho=0.0, kappa=math.inf) | bad))


def test_exact_min_norm_error_approaches_the_theory_as_D_grows():
    """τ = 2, α = 1 (theory = 1): ratio − 1 shrinks roughly like 1/D (convention τ = P/(D(D+1)))."""
    rng = np.random.default_rng(16)
    excess = {}
    for D_, R in ((10, 24), (20, 8), (40, 2)):
        N_, P = D_, 2 * D_ * (D_ + 1)
        errs = []
        for _ in range(R):
            sg = SpinGlass(sample_features(PromptSpec(D=D_, N=N_), P, rng), 0.0)
            res = solve_cg(sg, tol=1e-9) if D_ == 40 else solve_exact(sg)
            assert bool(np.all(res.converged))
            errs.append(float(population_error(res.mean, D_, N_)))
        theory = float(icl_error_asymptotic(P / (D_ * (D_ + 1)), N_ / D_))
        excess[D_] = np.mean(errs) / theory - 1
    assert excess[10] > excess[20] > excess[40] > 0
    assert excess[40] < 0.15
    for D_, x in excess.items():  # (ratio − 1)·D of order a few, not growing
        assert 1.0 < x * D_ < 8.0


def test_min_norm_cg_and_lstsq_agree():
    rng = np.random.default_rng(17)
    sg = SpinGlass(sample_features(PromptSpec(D=8, N=8), 30, rng), 0.0)  # P < D(D+1): degenerate
    np.testing.assert_allclose(solve_cg(sg, tol=1e-12).mean, solve_exact(sg, "lstsq").mean, atol=1e-7)


@pytest.mark.parametrize("P", [6, 40])  # below and above D(D+1) = 12
def test_gibbs_error_matches_boltzmann_samples(P):
    rng = np.random.default_rng(18)
    D_, N_, beta = 3, 6, 30.0
    sg = SpinGlass(sample_features(PromptSpec(D=D_, N=N_, noise=0.2), P, rng), 0.05)
    draws = population_error(sample_exact(sg, beta, 40_000, rng), D_, N_, 0.2)
    mean, sem = draws.mean(), draws.std() / math.sqrt(draws.size)
    closed = float(gibbs_error(sg, beta, 0.2))
    assert abs(mean - closed) < 5 * sem
    # the thermal term is resolved (a formula without it fails), and it scales as 1/β
    assert float(thermal_error(sg, beta, 0.2)) > 10 * sem
    np.testing.assert_allclose(
        thermal_error(sg, np.array([1.0, 2.0]), 0.2), float(thermal_error(sg, 1.0, 0.2)) / np.array([1.0, 2.0])
    )


def test_gibbs_error_bad_input():
    rng = np.random.default_rng(19)
    f = sample_features(PromptSpec(D=3, N=5), 20, rng)
    with pytest.raises(InputError):
        gibbs_error(SpinGlass(f, 0.0), 10.0)
    for beta in (0.0, -1.0, np.nan):
        with pytest.raises(InputError):
            gibbs_error(SpinGlass(f, 0.1), beta)


def test_finite_size_convention_in_one_place():
    D_, N_, P_ = 20, 30, 1000
    t = icl_error_asymptotic(P_ / (D_ * (D_ + 1)), N_ / D_, 0.09, 40 / D_)
    assert float(icl_error_theory(D_, N_, P_, noise=0.3, pool=40)) == pytest.approx(float(t))
    fresh = icl_error_theory(D_, N_, np.array([100, 1000]), pool=np.array([0, 0]))
    np.testing.assert_allclose(fresh, icl_error_theory(D_, N_, np.array([100, 1000])))
    assert np.isinf(icl_error_theory(D_, N_, D_ * (D_ + 1)))  # the finite-D interpolation threshold


def test_finite_sizes_invert_the_convention():
    N_, P_, pool = finite_sizes(20, 2.0, 1.5, 2.0)
    assert (N_, P_, pool) == (30, 840, 40)
    assert finite_sizes(20, 2.0, 1.5) == (30, 840, None)  # κ = ∞: a fresh task per prompt
    assert float(icl_error_theory(20, N_, P_, pool=pool)) == pytest.approx(
        float(icl_error_asymptotic(2.0, 1.5, 0.0, 2.0))
    )


@pytest.mark.parametrize("P", [6, 40])  # below and above D(D+1) = 12
def test_thermal_directions_sum_to_the_trace_and_flat_ones_carry_it_below_DD1(P):
    sg = SpinGlass(sample_features(PromptSpec(D=3, N=6, noise=0.2), P, np.random.default_rng(20)), 0.01)
    lam, part = thermal_directions(sg, 0.2)
    assert lam.shape == part.shape == (12,) and np.all(part > 0)
    np.testing.assert_allclose(lam, np.linalg.eigvalsh(sg.hessian_effective()), rtol=1e-12)  # A's spectrum
    assert part.sum() == pytest.approx(float(thermal_error(sg, 1.0, 0.2)), rel=1e-10)
    flat = part[lam < 2 * sg.lambda0].sum() / part.sum()
    assert (flat > 0.5) if P < 12 else (flat == 0.0)
    f = sg.features  # a batch of two problems is refused: the eigen-directions are per problem
    batch = Features.stack([f, f])
    with pytest.raises(InputError):
        thermal_directions(SpinGlass(batch, 0.01))
