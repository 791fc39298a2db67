"""The spin glass (SPEC §3): couplings, fields, energy, Hessian, spectrum, blocks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import make_features, stack
from spinglass_icl.features import effective_index, feature_matrix, n_effective, n_spins, zero_mode_index
from spinglass_icl.prompts import Features
from spinglass_icl.spinglass import SpinGlass, effective_gram, flat_fraction_theory, inverse_diagonal
from spinglass_icl.validation import InputError


def brute_force(f, lambda0: float, *, paper: bool = False):
    """J, h, λ from an explicit P×K×K sum over prompts (small cases only)."""
    D, N, P = f.D, f.N, f.P
    K = n_spins(D)
    s = np.empty((P, K))
    for mu in range(P):
        outer = np.outer(f.a[mu], f.b[mu])
        if paper:  # the authors' fig1/figS2 builder: D×D block transposed, divided by N
            outer[:D, :D] = outer[:D, :D].T
            outer = outer / N
        else:
            outer = outer / (N + 1)
        s[mu] = outer.ravel()
    T = np.einsum("pi,pj->pij", s, s)  # the P×K×K tensor the library never builds
    G = T.mean(axis=0)
    h = (f.y[:, None] * s).mean(axis=0)
    return -G, h, lambda0 + np.diag(G), s


@pytest.mark.parametrize("D,N,P", [(1, 3, 5), (2, 4, 7), (3, 5, 40)])
@pytest.mark.parametrize("paper", [False, True])
def test_couplings_fields_vs_brute_force(D, N, P, paper):
    f = make_features(D, N, P, seed=D * 100 + P)
    sg = SpinGlass(f, 0.3, "paper" if paper else "correct")
    J, h, lam, _ = brute_force(f, 0.3, paper=paper)
    scale = np.abs(J).max()
    np.testing.assert_allclose(sg.J, J, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(sg.gram, -J, rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(sg.h, h, rtol=0, atol=1e-13 * np.abs(h).max())
    np.testing.assert_allclose(sg.lam, lam, rtol=1e-13)
    np.testing.assert_allclose(sg.y2, np.mean(f.y**2), rtol=1e-14)
    assert np.array_equal(sg.J, sg.J.T)
    idx = effective_index(D)
    if not paper:
        np.testing.assert_allclose(sg.gram_effective, -J[np.ix_(idx, idx)], rtol=0, atol=1e-13 * scale)
        np.testing.assert_allclose(sg.h_effective, h[idx], rtol=0, atol=1e-13 * np.abs(h).max())


def test_paper_builder_differs_from_model_builder():
    f = make_features(3, 5, 30, seed=1)
    a, b = SpinGlass(f, 0.0), SpinGlass(f, 0.0, feature_map="paper")
    assert not np.allclose(a.h, b.h)
    # the transposition moves the signal-carrying diagonal nowhere, but off-diagonal entries swap
    Ha = a.h.reshape(4, 4)[:3, :3] * 6 / 5
    Hb = b.h.reshape(4, 4)[:3, :3]
    np.testing.assert_allclose(Hb, Ha.T, rtol=1e-12)


def test_gram_chunking_over_prompts():
    """The chunked syrk gives the same Gram matrix as one dense product, across chunk boundaries."""
    f = make_features(2, 3, 25, seed=2)
    S = feature_matrix(f, effective=True)
    want = S.T @ S / 25
    for block in (7, 25, 2048):
        np.testing.assert_allclose(effective_gram(f.a, f.b, f.N, prompt_block=block) / 25, want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(SpinGlass(f, 0.0).gram_effective, want, rtol=1e-13, atol=1e-15)


def test_batched_spinglass_equals_single():
    fs = [make_features(2, 4, 15, seed=s) for s in range(3)]
    sgb = SpinGlass(stack(fs), 0.2)
    assert sgb.batch_shape == (3,)
    assert sgb.gram.shape == (3, 9, 9) and sgb.h.shape == (3, 9) and sgb.lam.shape == (3, 9)
    W = np.random.default_rng(0).standard_normal((3, 9))
    E = sgb.energy(W)
    for r, f in enumerate(fs):
        s1 = SpinGlass(f, 0.2)
        np.testing.assert_allclose(sgb.gram[r], s1.gram, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(sgb.h[r], s1.h, rtol=1e-14)
        np.testing.assert_allclose(E[r], s1.energy(W[r]), rtol=1e-13)


# -- energy ------------------------------------------------------------------------------------------
def literal_energy(sg: SpinGlass, w: np.ndarray) -> float:
    """−½ Σ_{i≠j} J_ij W_i W_j − Σ h_i W_i + ½ Σ λ_i W_i² + ½⟨y²⟩, written out term by term."""
    J, h, lam = sg.J, sg.h, sg.lam
    K = len(h)
    e = 0.0
    for i in range(K):
        for j in range(K):
            if i != j:
                e -= 0.5 * J[i, j] * w[i] * w[j]
        e -= h[i] * w[i]
        e += 0.5 * lam[i] * w[i] ** 2
    return e + 0.5 * float(sg.y2)


@given(
    seed=st.integers(0, 10_000), lambda0=st.sampled_from([0.0, 0.01, 1.0]), D=st.integers(1, 3), P=st.integers(1, 30)
)
def test_energy_identity(seed, lambda0, D, P):
    f = make_features(D, 4, P, seed=seed)
    sg = SpinGlass(f, lambda0)
    W = np.random.default_rng(seed + 1).standard_normal((D + 1, D + 1))
    w = W.ravel()
    S = feature_matrix(f)
    direct = 0.5 * np.mean((f.y - S @ w) ** 2) + 0.5 * lambda0 * np.sum(w**2)
    scale = max(1.0, abs(direct))
    for e in (sg.energy(W), sg.energy(w), sg.training_energy(W), sg.training_energy(w), literal_energy(sg, w)):
        assert abs(float(e) - direct) <= 1e-12 * scale
    # the paper's fig3 energy counts the diagonal of J twice
    extra = 0.5 * np.sum(np.diag(sg.gram) * w**2)
    assert abs(float(sg.energy(W, diagonal="twice")) - direct - extra) <= 1e-12 * max(scale, extra)


def test_feature_map_and_energy_are_separate_choices():
    """The authors' feature map changes J and h only; how the energy counts J's diagonal is chosen apart."""
    f = make_features(3, 5, 30, seed=4)
    W = np.random.default_rng(5).standard_normal((4, 4))
    paper_map = SpinGlass(f, 0.1, feature_map="paper")
    extra = 0.5 * np.sum(np.diag(paper_map.gram) * W.ravel() ** 2)
    assert float(paper_map.energy(W, diagonal="twice")) == pytest.approx(float(paper_map.energy(W)) + extra, rel=1e-12)
    A = paper_map.hessian(diagonal="twice") - paper_map.hessian()
    np.testing.assert_allclose(A, np.diag(np.diag(paper_map.gram)), rtol=0, atol=1e-15)


def test_renamed_keywords_still_work_with_a_deprecation_warning():
    f = make_features(3, 5, 30, seed=4)
    W = np.random.default_rng(5).standard_normal((4, 4))
    with pytest.warns(DeprecationWarning, match="feature_map"):
        old = SpinGlass(f, 0.1, convention="paper")
    assert old.feature_map == "paper"
    np.testing.assert_array_equal(old.h, SpinGlass(f, 0.1, feature_map="paper").h)
    with pytest.warns(DeprecationWarning, match="diagonal"):
        assert float(old.energy(W, convention="paper")) == float(old.energy(W, diagonal="twice"))
    with pytest.warns(DeprecationWarning, match="diagonal"):
        np.testing.assert_array_equal(old.hessian(convention="correct"), old.hessian())
    with pytest.warns(DeprecationWarning, match="feature_map"):
        np.testing.assert_array_equal(feature_matrix(f, convention="paper"), feature_matrix(f, feature_map="paper"))


def test_energy_is_minimised_by_ground_state():
    sg = SpinGlass(make_features(2, 4, 40, seed=3), 0.05)
    A = sg.hessian()
    m = np.linalg.solve(A, sg.h)
    E0 = sg.energy(m)
    rng = np.random.default_rng(0)
    for _ in range(5):
        d = rng.standard_normal(m.shape) * 1e-3
        # E(m + d) − E(m) = ½ dᵀ A d exactly for a quadratic
        np.testing.assert_allclose(sg.energy(m + d) - E0, 0.5 * d @ A @ d, rtol=1e-6)


# -- Hessian -----------------------------------------------------------------------------------------
@given(seed=st.integers(0, 10_000), D=st.integers(1, 4), P=st.integers(1, 40), lambda0=st.sampled_from([0.0, 0.1]))
def test_hessian_matvec(seed, D, P, lambda0):
    sg = SpinGlass(make_features(D, 5, P, seed=seed), lambda0)
    rng = np.random.default_rng(seed)
    A = sg.hessian()
    assert A.shape == (n_spins(D),) * 2
    np.testing.assert_allclose(A, sg.gram + lambda0 * np.eye(n_spins(D)), rtol=0, atol=0)
    M = rng.standard_normal((D + 1, D + 1))
    scale = np.abs(A).max() * np.abs(M).max() * n_spins(D)
    np.testing.assert_allclose(sg.hessian_matvec(M, effective=False).ravel(), A @ M.ravel(), rtol=0, atol=1e-12 * scale)
    Me = M[:, :D]
    Ae = sg.gram_effective + lambda0 * np.eye(n_effective(D))
    np.testing.assert_allclose(sg.hessian_matvec(Me).ravel(), Ae @ Me.ravel(), rtol=0, atol=1e-12 * scale)


# -- spectrum and zero modes ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "D,P", [(2, 1), (2, 3), (2, 6), (2, 20), (3, 5), (3, 11), (3, 13), (3, 60), (4, 8), (4, 100), (5, 12), (5, 200)]
)
def test_flat_fraction_closed_form(D, P):
    sg = SpinGlass(make_features(D, 10, P, seed=P), 0.0)
    want = 1.0 - min(P, D * (D + 1)) / (D + 1) ** 2
    assert flat_fraction_theory(P, D, effective=False) == pytest.approx(want, abs=1e-15)
    want_eff = 1.0 - min(P, D * (D + 1)) / (D * (D + 1))
    assert flat_fraction_theory(P, D) == pytest.approx(want_eff, abs=1e-15)
    assert float(sg.flat_fraction()) == pytest.approx(want_eff, abs=1e-15)  # default: the rank rule
    # spectra of SᵀS/P are O(1) here; a relative threshold keeps the count scale-free
    spec = sg.gram_spectrum()
    assert spec.shape == (n_spins(D),)
    # the small-problem path (the P×P kernel below P = D(D+1), padded with the exact zeros) is the same spectrum
    np.testing.assert_allclose(sg.gram_spectrum(small=True), spec, rtol=0, atol=1e-12 * spec[-1])
    tol = 1e-9 * spec[-1]
    assert float(sg.flat_fraction(effective=False, tol=tol)) == pytest.approx(want, abs=1e-15)
    assert float(np.mean(spec < tol)) == pytest.approx(want, abs=1e-15)


def test_flat_fraction_spec_tolerance_paper_sizes():
    """SPEC's |λ| < 1e-5 threshold on all (D+1)² spins counts the flat directions correctly at D=20-like scales."""
    for P in (100, 600):
        sg = SpinGlass(make_features(8, 50, P, seed=P), 0.0)
        got = float(sg.flat_fraction(effective=False, tol=1e-5))
        assert got == pytest.approx(flat_fraction_theory(P, 8, effective=False), abs=1e-15)


# -- blocks ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("D", [1, 2, 4])
def test_blocks(D):
    sg = SpinGlass(make_features(D, 6, 30, seed=D), 0.0)
    bl = sg.blocks()
    nA = D * D
    assert bl["h1"].shape == (D, D) and bl["h2"].shape == (D,)
    assert bl["J1"].shape == (nA * (nA - 1) // 2,)
    assert bl["J2"].shape == (nA * D,)
    assert bl["J3"].shape == (D * (D - 1) // 2,)
    H = sg.h.reshape(D + 1, D + 1)
    np.testing.assert_array_equal(bl["h1"], H[:D, :D])
    np.testing.assert_array_equal(bl["h2"], H[D, :D])
    k = np.arange(sg.K).reshape(D + 1, D + 1)
    A_idx, B_idx = k[:D, :D].ravel(), k[D, :D]
    J = sg.J
    J1 = [J[A_idx[i], A_idx[j]] for i in range(nA) for j in range(i + 1, nA)]
    J2 = [J[i, j] for i in A_idx for j in B_idx]
    J3 = [J[B_idx[i], B_idx[j]] for i in range(D) for j in range(i + 1, D)]
    np.testing.assert_array_equal(bl["J1"], np.array(J1).reshape(bl["J1"].shape))
    np.testing.assert_array_equal(bl["J2"], np.array(J2).reshape(bl["J2"].shape))
    np.testing.assert_array_equal(bl["J3"], np.array(J3).reshape(bl["J3"].shape))
    # batched
    sgb = SpinGlass(stack([make_features(D, 6, 30, seed=s) for s in range(2)]), 0.0)
    for key, val in sgb.blocks().items():
        assert val.shape == (2,) + bl[key].shape


def test_fields_carry_the_signal_on_the_diagonal():
    """h1's diagonal is ≈ ⟨y a_d b_d⟩/(N+1) = N/(D(N+1)) (σ = 1), the rest ≈ 0 (SPEC §3, fig1)."""
    D, N = 4, 30
    sg = SpinGlass(make_features(D, N, 40000, seed=9), 0.0)
    h1 = sg.blocks()["h1"]
    np.testing.assert_allclose(np.diag(h1), N / (D * (N + 1)), rtol=0.06)
    assert np.abs(h1 - np.diag(np.diag(h1))).max() < 0.03


def test_kernel_is_the_feature_inner_product():
    """SSᵀ/P from the features, batched, and its non-zero spectrum is the Gram's."""
    f = stack([make_features(2, 5, 7, seed=s) for s in range(2)])
    sg = SpinGlass(f)
    S = feature_matrix(f)
    np.testing.assert_allclose(sg.kernel(), S @ np.swapaxes(S, -1, -2) / 7, rtol=1e-12, atol=1e-15)
    top = np.linalg.eigvalsh(sg.gram)[..., -7:]
    np.testing.assert_allclose(np.linalg.eigvalsh(sg.kernel()), top, rtol=1e-9, atol=1e-13)


def test_inverse_diagonal_against_inverse_and_on_flat_directions():
    rng = np.random.default_rng(3)
    B = rng.standard_normal((2, 5, 5))
    A = B @ np.swapaxes(B, -1, -2) + 0.1 * np.eye(5)
    np.testing.assert_allclose(inverse_diagonal(A), np.diagonal(np.linalg.inv(A), axis1=-2, axis2=-1), rtol=1e-10)
    # rank 3 < 5: every entry touches the flat directions, so diag(A⁻¹) is inf (not a huge finite number)
    C = B[0, :, :3] @ B[0, :, :3].T
    assert np.all(np.isinf(inverse_diagonal(C)))
    assert np.all(np.isfinite(inverse_diagonal(C + 1e-6 * np.eye(5))))
    sg = SpinGlass(make_features(2, 5, 30, seed=1), 0.3)
    want = np.diag(np.linalg.inv(sg.hessian_effective()))
    np.testing.assert_allclose(sg.hessian_inverse_diagonal(), want, rtol=1e-10)


def test_features_take_prefix_stack_concat():
    fs = [make_features(2, 5, 6, seed=s) for s in range(3)]
    f = Features.stack(fs)
    assert f.a.shape == (3, 6, 3) and f.y.shape == (3, 6) and f.N == 5 and f.batch_shape == (3,)
    one = f.take(1)
    assert np.array_equal(one.a, fs[1].a) and np.array_equal(one.y, fs[1].y) and one.N == 5
    assert f.take(slice(1, 3)).a.shape == (2, 6, 3) and f.take(()) is f
    pre = f.prefix(4)
    assert np.array_equal(pre.b, f.b[:, :4]) and np.array_equal(pre.y, f.y[:, :4]) and pre.P == 4
    joined = Features.concat([f.prefix(2), Features(a=f.a[:, 2:], b=f.b[:, 2:], y=f.y[:, 2:], N=5)])
    assert all(np.array_equal(getattr(joined, k), getattr(f, k)) for k in "aby")
    with pytest.raises(InputError):
        f.prefix(7)
    with pytest.raises(InputError):
        fs[0].take(0)  # no batch dims to index
    with pytest.raises(InputError):
        Features.stack([fs[0], make_features(2, 6, 6, seed=0)])  # different N
    with pytest.raises(InputError):
        Features.concat([])


@pytest.mark.parametrize("D", [1, 3])
def test_zero_modes_are_the_spins_no_feature_reads(D):
    """The zero modes are exactly the spins whose feature column is 0 for every prompt; with the
    effective spins they partition all (D+1)² spins."""
    S = feature_matrix(make_features(D, 5, 20, seed=D))
    dead = np.flatnonzero(np.all(S == 0, axis=0))
    np.testing.assert_array_equal(zero_mode_index(D), dead)
    both = np.sort(np.concatenate([effective_index(D), zero_mode_index(D)]))
    np.testing.assert_array_equal(both, np.arange(n_spins(D)))
