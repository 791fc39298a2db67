"""Solvers (SPEC §4): exact ground state, AMP (paper and Onsager), Boltzmann sampling."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import make_features, make_spinglass, stack
from spinglass_icl.features import effective_index, feature_matrix, n_effective, n_spins
from spinglass_icl.solvers import SolverResult, amp, amp_paper_reference, langevin, sample_exact, solve_cg, solve_exact
from spinglass_icl.spinglass import SpinGlass

METHODS = ["cholesky", "dual", "lstsq", "cg"]


def rel(x: np.ndarray, ref: np.ndarray) -> float:
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


def dense_ground_state(sg: SpinGlass) -> np.ndarray:
    """m* = A⁻¹h on all K spins by a dense solve of the full Hessian (λ0 > 0)."""
    return np.linalg.solve(sg.hessian(), sg.h)


def _solve(sg: SpinGlass, method: str) -> SolverResult:
    # CG is asked for a tighter residual than its default so that all methods agree to 1e-10
    return solve_cg(sg, tol=1e-13) if method == "cg" else solve_exact(sg, method)


# -- exact ground state ------------------------------------------------------------------------------
@pytest.mark.parametrize("P", [5, 11, 40, 200])  # K_eff = 12: below and above
@pytest.mark.parametrize("method", METHODS)
def test_exact_methods_agree(P, method):
    sg = make_spinglass(D=3, N=8, P=P, lambda0=0.1, seed=P)
    ref = dense_ground_state(sg)
    res = _solve(sg, method)
    assert res.converged.all() and res.mean.shape == (n_spins(3),)
    assert rel(res.mean, ref) < 1e-10
    assert res.residual < 1e-10
    assert res.W.shape == (4, 4) and np.all(res.W[:, 3] == 0)


@pytest.mark.parametrize("P", [4, 9, 30])
@pytest.mark.parametrize("method", ["auto", "lstsq", "cg", "dual"])
def test_min_norm_at_lambda0_zero(P, method):
    f = make_features(3, 8, P, seed=P)
    sg = SpinGlass(f, 0.0)
    want = np.linalg.pinv(feature_matrix(f)) @ f.y
    res = _solve(sg, method) if method != "auto" else solve_exact(sg)
    assert res.converged.all(), res.message
    assert rel(res.mean, want) < 1e-9
    if P < n_effective(3):  # degenerate: the min-norm state interpolates the data
        np.testing.assert_allclose(feature_matrix(f) @ res.mean, f.y, rtol=1e-8, atol=1e-10)


def test_cholesky_on_singular_problem_is_not_reported_converged():
    sg = SpinGlass(make_features(3, 8, 4, seed=0), 0.0)
    res = solve_exact(sg, "cholesky")
    assert not res.converged.all()
    assert res.message
    assert np.isnan(res.masked_mean()).all()


def test_cg_never_forms_a_KxK_matrix():
    D = 30
    Ke = n_effective(D)
    sg = make_spinglass(D=D, N=20, P=2 * Ke, lambda0=0.01, seed=1)
    tracemalloc.start()
    try:
        res = solve_cg(sg)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.converged.all() and res.residual < 1e-9
    assert peak < Ke * Ke * 8 / 4, f"peak {peak / 1e6:.1f} MB vs K_eff² doubles {Ke * Ke * 8 / 1e6:.1f} MB"
    assert "gram" not in sg.__dict__ and "gram_effective" not in sg.__dict__  # cached_property untouched
    # (its speed at D = 60 is measured by benchmarks/bench_cg.py, not asserted here)


def test_hessian_matvec_equals_dense_hessian():
    sg = make_spinglass(D=3, N=8, P=30, lambda0=0.2, seed=9)
    M = np.random.default_rng(0).standard_normal((4, 3))
    want = sg.hessian_effective() @ M.ravel()
    np.testing.assert_allclose(sg.hessian_matvec(M).ravel(), want, rtol=1e-12, atol=1e-14)
    full = np.random.default_rng(1).standard_normal((4, 4))
    np.testing.assert_allclose(
        sg.hessian_matvec(full, effective=False).ravel(), sg.hessian() @ full.ravel(), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("lambda0", [0.05, 1.0])
def test_marginal_variances(lambda0):
    beta = 3.0
    sg = make_spinglass(D=2, N=5, P=30, lambda0=lambda0)
    want = np.diag(np.linalg.inv(beta * sg.hessian()))
    for res in (solve_exact(sg, beta=beta), solve_cg(sg, beta=beta), solve_exact(sg, "dual", beta=beta)):
        np.testing.assert_allclose(res.variance, want, rtol=1e-10)
    zero = np.setdiff1d(np.arange(sg.K), effective_index(2))
    np.testing.assert_allclose(want[zero], 1 / (beta * lambda0), rtol=1e-12)


def test_marginal_variances_at_lambda0_zero_are_infinite_on_flat_directions():
    sg = SpinGlass(make_features(2, 5, 3, seed=0), 0.0)
    var = solve_exact(sg, beta=1.0).variance
    assert np.all(np.isinf(var))  # P < K_eff: every effective spin overlaps a flat direction
    sg = SpinGlass(make_features(2, 5, 50, seed=0), 0.0)
    var = solve_exact(sg, beta=1.0).variance
    assert np.all(np.isfinite(var[effective_index(2)]))
    assert np.all(np.isinf(np.delete(var, effective_index(2))))


@pytest.mark.parametrize("method", METHODS)
def test_batched_exact_equals_loop(method):
    fs = [make_features(2, 5, P, seed=s) for s, P in enumerate([8, 8, 8])]
    sgb = SpinGlass(stack(fs), 0.2)
    rb = _solve(sgb, method)
    assert rb.mean.shape == (3, 9) and rb.converged.shape == (3,) and rb.residual.shape == (3,)
    for r, f in enumerate(fs):
        r1 = _solve(SpinGlass(f, 0.2), method)
        np.testing.assert_allclose(rb.mean[r], r1.mean, rtol=1e-12, atol=1e-14)
        assert rb.converged[r] == r1.converged


# -- AMP -----------------------------------------------------------------------------------------------
def _reference_inputs(sg: SpinGlass, seed: int):
    rng = np.random.default_rng(seed)
    m0, v0 = rng.standard_normal(sg.K), rng.standard_normal(sg.K)  # amp(init="paper"): m first, then v
    t = lambda x: torch.tensor(np.asarray(x), dtype=torch.float64)  # noqa: E731
    return t(sg.J), t(sg.h), t(sg.lam), t(m0), t(v0)


@pytest.mark.parametrize("steps,tol", [(200, 1e-6), (15, 1e-30)])
def test_paper_amp_equals_literal_loop(steps, tol):
    sg = make_spinglass(D=2, N=10, P=500, lambda0=0.1, seed=4)
    seed = 17
    vec = amp(sg, beta=100.0, damping=0.9, steps=steps, tol=tol, rng=np.random.default_rng(seed))
    m, v, t, err = amp_paper_reference(*_reference_inputs(sg, seed), beta=100.0, damping=0.9, steps=steps, tol=tol)
    np.testing.assert_allclose(vec.mean, m.numpy(), rtol=1e-12, atol=1e-12 * np.abs(m.numpy()).max())
    np.testing.assert_allclose(vec.variance, v.numpy(), rtol=1e-12, atol=1e-12 * np.abs(v.numpy()).max())
    assert int(vec.iterations) == t
    assert float(vec.extra["error"]) == pytest.approx(err, rel=1e-9)
    if tol == 1e-6:
        assert vec.converged and t < steps


def test_paper_amp_fixed_point_equation_and_distance_from_exact():
    sg = make_spinglass(D=4, N=20, P=2000, lambda0=0.01, seed=5)
    beta = 100.0
    res = amp(
        sg, beta=beta, steps=3000, tol=1e-30, rng=np.random.default_rng(0)
    )  # run to the fixed point, not the paper's stop
    m, v = res.mean, res.variance
    assert np.all(np.isfinite(m)) and np.all(v > 0)
    J = sg.J
    Joff = J - np.diag(np.diag(J))
    J2v = (Joff**2) @ v
    lhs = (np.diag(sg.lam - beta * J2v) - Joff) @ m
    np.testing.assert_allclose(lhs, sg.h, rtol=0, atol=1e-10 * np.abs(sg.h).max())
    np.testing.assert_allclose(v, 1.0 / (beta * sg.lam - beta**2 * J2v), rtol=1e-10)
    exact = dense_ground_state(sg)
    assert 1e-3 < rel(m, exact) < 0.2, "the paper's AMP is close to, but not at, m*"


@pytest.mark.parametrize("init", ["cavity", "paper"])
def test_onsager_amp_fixed_point_is_exact(init):
    sg = make_spinglass(D=4, N=20, P=2000, lambda0=0.01, seed=5)
    res = amp(
        sg,
        beta=100.0,
        onsager=True,
        init=init,
        criterion="residual",
        tol=1e-12,
        steps=5000,
        rng=np.random.default_rng(1),
    )
    assert res.converged and res.residual < 1e-12
    assert rel(res.mean, dense_ground_state(sg)) < 1e-10


def test_amp_batched_equals_single():
    fs = [make_features(3, 20, 600, seed=s) for s in range(3)]
    sgb = SpinGlass(stack(fs), 0.05)
    rng_seed = 3
    rb = amp(sgb, steps=150, rng=np.random.default_rng(rng_seed))
    m0 = np.random.default_rng(rng_seed).standard_normal((3, sgb.K))
    v0 = np.random.default_rng(rng_seed).standard_normal((6, sgb.K))[3:]
    assert rb.mean.shape == (3, 16) and rb.converged.shape == (3,)
    for r, f in enumerate(fs):
        sg1 = SpinGlass(f, 0.05)
        ref = amp_paper_reference(
            *(torch.tensor(x) for x in (sg1.J, sg1.h, sg1.lam, m0[r], v0[r])), beta=100.0, damping=0.9, steps=150
        )
        np.testing.assert_allclose(rb.mean[r], ref[0].numpy(), rtol=1e-10, atol=1e-12)
        assert rb.iterations[r] == ref[2]  # each problem stops on its own


@pytest.mark.parametrize("onsager", [False, True])
@pytest.mark.parametrize("init", ["paper", "cavity"])
def test_diverging_amp_is_never_reported_converged(onsager, init):
    sg = make_spinglass(D=3, N=8, P=5, lambda0=1e-6, seed=0)
    res = amp(sg, onsager=onsager, init=init, steps=300, rng=np.random.default_rng(0))
    assert not res.converged
    assert res.message
    assert np.isnan(res.masked_mean()).all()


@given(
    P=st.integers(1, 400),
    lambda0=st.sampled_from([1e-6, 0.01, 1.0]),
    seed=st.integers(0, 100),
    onsager=st.booleans(),
    damping=st.sampled_from([0.0, 0.5, 0.9]),
)
def test_amp_converged_implies_finite_and_positive(P, lambda0, seed, onsager, damping):
    sg = make_spinglass(D=2, N=10, P=P, lambda0=lambda0, seed=seed)
    res = amp(sg, onsager=onsager, damping=damping, steps=60, rng=np.random.default_rng(seed))
    if res.converged:
        assert np.all(np.isfinite(res.mean)) and np.all(res.variance > 0)
    else:
        assert res.message


# -- sampling ----------------------------------------------------------------------------------------------
def _whiten(sg: SpinGlass, beta: float, X: np.ndarray) -> np.ndarray:
    """Map samples of the effective spins to N(0, I) under the exact law N(A⁻¹h, (βA)⁻¹)."""
    Ke = n_effective(sg.D)
    A = sg.gram_effective + sg.lambda0 * np.eye(Ke)
    m = np.linalg.solve(A, sg.h_effective)
    L = np.linalg.cholesky(beta * A)  # βA = L Lᵀ  ⇒  Lᵀ(x − m) ~ N(0, I)
    return (X - m) @ L


def test_sample_exact_moments():
    beta, n = 2.0, 100_000
    sg = make_spinglass(D=2, N=6, P=40, lambda0=0.3, seed=6)
    X = sample_exact(sg, beta, n, np.random.default_rng(0))
    assert X.shape == (n, sg.K)
    Z = _whiten(sg, beta, X[:, effective_index(2)])
    assert np.abs(Z.mean(0)).max() < 5 / np.sqrt(n)
    assert np.abs(np.cov(Z.T) - np.eye(Z.shape[1])).max() < 5 * np.sqrt(2 / n)
    zero = np.delete(X, effective_index(2), axis=1)
    assert abs(zero.var() - 1 / (beta * 0.3)) < 5 * np.sqrt(2 / zero.size) / (beta * 0.3)
    X2 = sample_exact(sg, beta, n, np.random.default_rng(0))
    assert np.array_equal(X, X2)


@pytest.mark.parametrize("metropolis,dt", [(True, None), (False, None)])
def test_langevin_moments(metropolis, dt):
    beta = 1.0
    sg = make_spinglass(D=2, N=6, P=40, lambda0=0.5, seed=6)
    res = langevin(
        sg, beta, chains=256, steps=3000, burn_in=500, metropolis=metropolis, dt=dt, rng=np.random.default_rng(1)
    )
    Ke = n_effective(2)
    A = sg.gram_effective + sg.lambda0 * np.eye(Ke)
    L = np.linalg.cholesky(beta * A)
    exact = np.linalg.solve(A, sg.h_effective)
    # whitened mean error and covariance: exact law gives 0 and I
    dm = (res.mean[effective_index(2)] - exact) @ L
    C = L.T @ res.extra["cov"] @ L
    assert np.abs(dm).max() < 0.05
    assert np.abs(C - np.eye(Ke)).max() < 0.1
    if metropolis:
        assert 0.2 < res.extra["acceptance"] <= 1.0
    np.testing.assert_allclose(np.delete(res.variance, effective_index(2)), 1 / (beta * 0.5))
    assert res.residual < 0.1


def test_unadjusted_langevin_with_large_step_is_biased():
    """The moment test has power: an unadjusted chain with a large step has the wrong covariance."""
    beta = 1.0
    sg = make_spinglass(D=2, N=6, P=40, lambda0=0.5, seed=6)
    Ke = n_effective(2)
    A = sg.gram_effective + sg.lambda0 * np.eye(Ke)
    lmax = np.linalg.eigvalsh(A)[-1]
    res = langevin(
        sg, beta, chains=128, steps=1500, burn_in=300, metropolis=False, dt=1.0 / lmax, rng=np.random.default_rng(1)
    )
    L = np.linalg.cholesky(beta * A)
    assert np.abs(L.T @ res.extra["cov"] @ L - np.eye(Ke)).max() > 0.2


def test_langevin_divergence_and_stuck_chains_are_not_converged():
    sg = make_spinglass(D=2, N=6, P=40, lambda0=0.5, seed=6)
    Ke = n_effective(2)
    lmax = np.linalg.eigvalsh(sg.gram_effective + sg.lambda0 * np.eye(Ke))[-1]
    # unadjusted Euler with dt > 2/λ_max blows up
    res = langevin(
        sg, 1.0, chains=8, steps=3000, burn_in=10, metropolis=False, dt=3 / lmax, rng=np.random.default_rng(0)
    )
    assert not res.converged and "diverged" in res.message and int(res.iterations) < 3000
    assert np.isnan(res.masked_mean()).all()
    # MALA with an absurd step rejects everything: the chains never leave their start
    res = langevin(sg, 1.0, chains=8, steps=200, burn_in=10, dt=1e4 / lmax, rng=np.random.default_rng(0))
    assert not res.converged and "acceptance" in res.message
    assert res.extra["acceptance"] < 0.01
