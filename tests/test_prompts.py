"""Prompts (SPEC §1), the direct feature sampler and the feature map (SPEC §2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import make_explicit, make_features, stack
from spinglass_icl.features import effective_index, embed_effective, feature_matrix, n_effective, n_spins, predict
from spinglass_icl.models import MergedSLA, SeparateSLA
from spinglass_icl.prompts import (
    PromptSpec,
    correlation_cholesky,
    features_from_prompts,
    sample_features,
    sample_prompts,
)
from spinglass_icl.validation import InputError

sizes = st.integers(min_value=1, max_value=6)


# -- explicit sampler -----------------------------------------------------------------------------
@given(D=sizes, N=sizes, P=sizes, seed=st.integers(0, 2**32 - 1), noise=st.sampled_from([0.0, 0.3]))
def test_explicit_prompt_shapes_and_labels(D, N, P, seed, noise):
    spec = PromptSpec(D=D, N=N, noise=noise)
    pr = sample_prompts(spec, P, np.random.default_rng(seed))
    assert pr.X.shape == (P, D + 1, N + 1) and pr.y.shape == (P,) and pr.w.shape == (P, D)
    assert pr.N == N
    assert np.all(pr.X[:, D, N] == 0.0), "the query label must be hidden"
    if noise == 0.0:
        labels = np.einsum("pd,pdi->pi", pr.w, pr.X[:, :D, :]) / np.sqrt(D)
        np.testing.assert_allclose(pr.X[:, D, :N], labels[:, :N], rtol=0, atol=1e-12)
        np.testing.assert_allclose(pr.y, labels[:, N], rtol=0, atol=1e-12)


def test_label_noise_variance():
    sigma = 0.5
    pr = sample_prompts(PromptSpec(D=4, N=5, noise=sigma), 20000, np.random.default_rng(1))
    clean = np.einsum("pd,pdi->pi", pr.w, pr.X[:, :4, :]) / 2.0
    eps = np.concatenate([pr.X[:, 4, :5] - clean[:, :5], (pr.y - clean[:, 5])[:, None]], axis=1)
    n = eps.size
    assert abs(eps.mean()) < 5 * sigma / np.sqrt(n)
    # var of a sample variance of Gaussians: 2σ⁴/n
    assert abs(eps.var() - sigma**2) < 5 * np.sqrt(2 / n) * sigma**2


def _token_covariance(cholesky: str, c: float, n_tok: int = 4) -> np.ndarray:
    """Empirical covariance of the n_tok values of one token coordinate (pooled over prompts and D)."""
    pr = sample_prompts(PromptSpec(D=5, N=n_tok - 1, correlation=c, cholesky=cholesky), 20000, np.random.default_rng(7))
    x = pr.X[:, :5, :].reshape(-1, n_tok)  # rows: one coordinate of one prompt
    return x.T @ x / x.shape[0]


@pytest.mark.parametrize("cholesky", ["correct", "paper"])
def test_correlated_token_covariance(cholesky):
    c, n_tok = 0.5, 4
    L = correlation_cholesky(n_tok, c)
    np.testing.assert_allclose(L @ L.T, (1 - c) * np.eye(n_tok) + c, atol=1e-12)
    C = _token_covariance(cholesky, c, n_tok)
    want, other = (L @ L.T, L.T @ L) if cholesky == "correct" else (L.T @ L, L @ L.T)
    # 100 000 samples: standard error of each entry < 0.005
    assert np.max(np.abs(C - want)) < 0.03
    assert np.max(np.abs(C - other)) > 0.1, "LLᵀ and LᵀL must be distinguishable"


def test_task_pool():
    K = 3
    pr = sample_prompts(PromptSpec(D=4, N=3, task_pool=K), 300, np.random.default_rng(2))
    assert len(np.unique(pr.w, axis=0)) == K  # 300 uniform picks of 3 tasks hit all of them
    f = sample_features(PromptSpec(D=4, N=3, task_pool=K), 300, np.random.default_rng(2))
    assert f.a.shape == (300, 5)
    fresh = sample_prompts(PromptSpec(D=4, N=3), 300, np.random.default_rng(2))
    assert len(np.unique(fresh.w, axis=0)) == 300
    assert PromptSpec(D=4, N=3, task_pool=K).fresh_tasks().task_pool is None


@given(K=st.integers(1, 8), P=st.integers(1, 40), seed=st.integers(0, 1000))
def test_task_pool_size_bound(K, P, seed):
    pr = sample_prompts(PromptSpec(D=2, N=2, task_pool=K), P, np.random.default_rng(seed))
    assert len(np.unique(pr.w, axis=0)) <= min(K, P)


# -- direct sampler vs explicit prompts ------------------------------------------------------------
def _statistics(f) -> tuple[np.ndarray, list[str]]:
    """Per-prompt statistics whose means must agree between the two samplers: (P, n_stats)."""
    a, b, y = f.a, f.b, f.y
    D1 = a.shape[1]
    cols, names = [], []

    def add(v, name):
        cols.append(v)
        names.append(name)

    add(y, "y")
    add(y**2, "y^2")
    add(y**4, "y^4")
    for i in range(D1):
        add(a[:, i], f"a{i}")
        add(b[:, i], f"b{i}")
        add(y * a[:, i], f"y a{i}")
        for j in range(i, D1):
            add(a[:, i] * a[:, j], f"a{i} a{j}")
            add(b[:, i] * b[:, j], f"b{i} b{j}")
        for j in range(D1):
            add(a[:, i] * b[:, j], f"a{i} b{j}")
            add(y * a[:, i] * b[:, j], f"y a{i} b{j}")  # the fields h
            add((a[:, i] * b[:, j]) ** 2, f"(a{i} b{j})^2")  # the Gram diagonal
    add(np.einsum("pi,pi->p", a[:, :-1], b[:, :-1]) * y, "y (a.b)")
    add(a[:, -1] * y**2, "|y_ctx|^2 y^2")
    return np.stack(cols, axis=1), names


def _zscores(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """Two-sample z-scores of the column means; constant columns (b's zero entry) must agree exactly."""
    diff = s1.mean(0) - s2.mean(0)
    se = np.sqrt(s1.var(0) / len(s1) + s2.var(0) / len(s2))
    const = se == 0
    assert np.all(diff[const] == 0)
    return np.where(const, 0.0, np.abs(diff) / np.where(const, 1.0, se))


@pytest.mark.parametrize(
    "N,kw",
    [
        (5, {}),
        (5, {"noise": 0.4}),
        (5, {"correlation": 0.4}),
        (5, {"noise": 0.3, "correlation": 0.7}),
        (5, {"sigma_x": 1.5, "sigma_w": 0.7}),
        (1, {}),
        (1, {"noise": 0.5, "correlation": 0.5}),
        (2, {"noise": 0.5}),
        (2, {"noise": 0.2, "correlation": 0.3}),
        (40, {"noise": 0.3, "correlation": 0.2}),
    ],
)
def test_direct_sampler_moments_match_explicit(N, kw):
    # (a task pool is left out: its moments are conditional on the drawn pool, which differs per seed)
    D, P = 3, 30000
    f_direct = make_features(D, N, P, seed=11, **kw)
    _, f_expl = make_explicit(D, N, P, seed=12, **kw)
    assert f_direct.a.shape == f_expl.a.shape and f_direct.b.shape == f_expl.b.shape
    assert np.all(f_direct.b[:, D] == 0) and np.all(f_expl.b[:, D] == 0)
    s1, names = _statistics(f_direct)
    s2, _ = _statistics(f_expl)
    z = _zscores(s1, s2)
    worst = int(np.argmax(z))
    # ~200 statistics, two-sample z-scores: 5.5 would be exceeded by chance with probability ~1e-6
    assert z[worst] < 5.5, f"{names[worst]}: direct {s1.mean(0)[worst]:.4g} vs explicit {s2.mean(0)[worst]:.4g}"


def test_direct_sampler_detects_a_wrong_distribution():
    """The moment test above has power: a 10% change of the token scale fails it."""
    D, N, P = 3, 5, 30000
    s1, _ = _statistics(make_features(D, N, P, seed=11, sigma_x=1.1))
    s2, _ = _statistics(make_explicit(D, N, P, seed=12)[1])
    assert _zscores(s1, s2).max() > 8


def test_direct_sampler_rejects_paper_cholesky():
    with pytest.raises(InputError):
        sample_features(PromptSpec(D=2, N=3, correlation=0.5, cholesky="paper"), 4, np.random.default_rng(0))


@pytest.mark.parametrize("kw", [{}, {"noise": 0.1, "correlation": 0.3, "task_pool": 4}])
def test_seeds_reproduce_exactly(kw):
    spec = PromptSpec(D=3, N=4, **kw)
    f1, f2 = (sample_features(spec, 50, np.random.default_rng(5)) for _ in range(2))
    for x, y in [(f1.a, f2.a), (f1.b, f2.b), (f1.y, f2.y)]:
        assert np.array_equal(x, y)
    p1, p2 = (sample_prompts(spec, 50, np.random.default_rng(5)) for _ in range(2))
    assert np.array_equal(p1.X, p2.X) and np.array_equal(p1.y, p2.y) and np.array_equal(p1.w, p2.w)
    f3 = sample_features(spec, 50, np.random.default_rng(6))
    assert not np.array_equal(f1.a, f3.a)


# -- features ---------------------------------------------------------------------------------------
def test_features_from_prompts_definition():
    pr, f = make_explicit(3, 4, 20, seed=3)
    for mu in range(20):
        X = pr.X[mu]
        np.testing.assert_allclose(f.a[mu], (X @ X.T)[3, :], atol=1e-12)
        np.testing.assert_array_equal(f.b[mu], X[:, 4])
    assert f.N == 4 and f.D == 3 and f.P == 20


@given(D=sizes, N=sizes, P=sizes, seed=st.integers(0, 10_000), batch=st.sampled_from([(), (2,)]))
def test_feature_matrix_and_predict(D, N, P, seed, batch):
    rng = np.random.default_rng(seed)
    fs = [make_features(D, N, P, seed=seed + r) for r in range(max(1, int(np.prod(batch))))]
    f = stack(fs) if batch else fs[0]
    S = feature_matrix(f)
    K = n_spins(D)
    assert S.shape == batch + (P, K)
    s = S.reshape(batch + (P, D + 1, D + 1))
    assert np.all(s[..., :, D] == 0), "last column of s is a zero mode"
    # s = a ⊗ b / (N+1), written out
    for idx in np.ndindex(*batch, P):
        np.testing.assert_allclose(s[idx], np.outer(f.a[idx], f.b[idx]) / (N + 1), atol=1e-12)
    Se = feature_matrix(f, effective=True)
    assert Se.shape == batch + (P, n_effective(D))
    np.testing.assert_array_equal(Se, S[..., effective_index(D)])
    W = rng.standard_normal(batch + (D + 1, D + 1))
    want = np.einsum("...pk,...k->...p", S, W.reshape(batch + (K,)))
    np.testing.assert_allclose(predict(W, f), want, rtol=1e-12, atol=1e-12)
    m = rng.standard_normal(n_effective(D))
    full = embed_effective(m, D)
    np.testing.assert_array_equal(full[effective_index(D)], m)
    assert np.count_nonzero(np.delete(full, effective_index(D))) == 0


def test_models_forward_equals_feature_prediction():
    D, N, P, R = 3, 6, 25, 2
    prompts = [make_explicit(D, N, P, seed=20 + r)[0] for r in range(R)]
    X = torch.tensor(np.stack([p.X for p in prompts]))
    fs = [features_from_prompts(p) for p in prompts]
    gen = torch.Generator().manual_seed(0)
    merged = MergedSLA(D, R, generator=gen, dtype=torch.float64)
    sep = SeparateSLA(D, R, d_k=2, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        for model in (merged, sep):
            out = model(X).numpy()
            W = model.merged_weight().numpy()
            assert out.shape == (R, P) and W.shape == (R, D + 1, D + 1)
            for r in range(R):
                np.testing.assert_allclose(out[r], predict(W[r], fs[r]), rtol=1e-12, atol=1e-12)
                np.testing.assert_allclose(out[r], feature_matrix(fs[r]) @ W[r].ravel(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            sep.merged_weight().numpy(), np.swapaxes(sep.Wq.numpy(), -1, -2) @ sep.Wk.numpy(), atol=1e-14
        )
