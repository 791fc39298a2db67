"""Training (SPEC §3 training correspondence): Gram-form Adam vs torch.optim.Adam on the explicit model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import make_explicit, make_features, stack
from spinglass_icl.features import feature_matrix
from spinglass_icl.metrics import contrast_ratio, query_error, relative_distance
from spinglass_icl.models import MergedSLA, SeparateSLA, make_model, paper_init
from spinglass_icl.prompts import Features, PromptSpec, features_from_prompts, sample_prompts
from spinglass_icl.solvers import solve_exact
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.training import (
    Adam,
    Budget,
    FixedSet,
    GramData,
    PoolSampler,
    adam_explicit,
    adam_gram,
    fit,
    train,
)
from spinglass_icl.validation import InputError

D, N, P, R = 3, 6, 40, 2


@pytest.fixture(scope="module")
def data():
    """R explicit training sets and R test sets (float64)."""
    train = [make_explicit(D, N, P, seed=100 + r)[0] for r in range(R)]
    test = [make_explicit(D, N, 30, seed=200 + r)[0] for r in range(R)]
    ftr = stack([features_from_prompts(p) for p in train])
    fte = stack([features_from_prompts(p) for p in test])
    X = torch.tensor(np.stack([p.X for p in train]))
    y = torch.tensor(np.stack([p.y for p in train]))
    Xt = torch.tensor(np.stack([p.X for p in test]))
    yt = torch.tensor(np.stack([p.y for p in test]))
    return ftr, fte, X, y, Xt, yt


@pytest.mark.parametrize("wd", [0.0, 0.05])
@pytest.mark.parametrize("model", ["merged", "separate"])
def test_gram_adam_follows_explicit_adam(data, model, wd):
    ftr, fte, X, y, Xt, yt = data
    gen = torch.Generator().manual_seed(3)
    epochs, lr = 60, 0.02
    if model == "merged":
        net = MergedSLA(D, R, generator=gen, dtype=torch.float64)
        init = [net.W.detach().clone()]
    else:
        net = SeparateSLA(D, R, d_k=3, generator=gen, dtype=torch.float64)
        init = [net.Wq.detach().clone(), net.Wk.detach().clone()]
    ex = adam_explicit(net, X, y, lr=lr, epochs=epochs, weight_decay=wd, X_test=Xt, y_test=yt)
    tr = GramData.from_spinglass(SpinGlass(ftr, 0.0), dtype="float64")
    te = GramData.from_spinglass(SpinGlass(fte, 0.0), dtype="float64")
    gr = adam_gram(tr, init, model=model, lr=lr, epochs=epochs, weight_decay=wd, test=te)
    assert gr.W.shape == (R, D + 1, D + 1) and gr.train_loss.shape == (R, epochs)
    scale = np.abs(ex.W).max()
    np.testing.assert_allclose(gr.W, ex.W, rtol=0, atol=1e-10 * scale)
    np.testing.assert_allclose(gr.train_loss, ex.train_loss, rtol=1e-9)
    # test loss recorded before each step (every epoch here) plus once after the last one
    assert list(gr.test_epochs) == list(range(epochs + 1))
    np.testing.assert_allclose(gr.test_loss[:, :-1], ex.test_loss, rtol=1e-9)
    np.testing.assert_allclose(gr.test_loss[:, -1], query_error(gr.W, fte), rtol=1e-9)
    assert not np.allclose(gr.W, init[0].numpy() if model == "merged" else 0.0)  # it did train


def test_train_loss_is_the_mse(data):
    ftr, *_ = data
    W0 = paper_init((R, D + 1, D + 1), D, torch.Generator().manual_seed(0), torch.float64)
    gr = adam_gram(GramData.from_spinglass(SpinGlass(ftr, 0.0), dtype="float64"), [W0], lr=0.01, epochs=1)
    np.testing.assert_allclose(gr.train_loss[:, 0], query_error(W0.numpy(), ftr), rtol=1e-11)


def test_batched_repeats_equal_separate_runs(data):
    ftr, fte, *_ = data
    W0 = paper_init((R, D + 1, D + 1), D, torch.Generator().manual_seed(1), torch.float64)
    kw = dict(lr=0.01, epochs=40, weight_decay=0.01, record_every=7)
    both = adam_gram(
        GramData.from_spinglass(SpinGlass(ftr, 0.0), dtype="float64"),
        [W0],
        test=GramData.from_spinglass(SpinGlass(fte, 0.0), dtype="float64"),
        **kw,
    )
    assert list(both.test_epochs) == [0, 7, 14, 21, 28, 35, 40]
    for r in range(R):
        one = lambda f, r=r: Features(f.a[r : r + 1], f.b[r : r + 1], f.y[r : r + 1], f.N)  # noqa: E731
        single = adam_gram(
            GramData.from_spinglass(SpinGlass(one(ftr), 0.0), dtype="float64"),
            [W0[r : r + 1]],
            test=GramData.from_spinglass(SpinGlass(one(fte), 0.0), dtype="float64"),
            **kw,
        )
        np.testing.assert_allclose(both.W[r], single.W[0], rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(both.train_loss[r], single.train_loss[0], rtol=1e-13)
        np.testing.assert_allclose(both.test_loss[r], single.test_loss[0], rtol=1e-13)


def test_weight_decay_minimiser_is_ground_state_at_half_lambda():
    """Weight decay wd (gradient += wd·W) minimises MSE + (wd/2)|W|² = 2·E(W; λ0 = wd/2) (SPEC §3)."""
    wd = 0.2
    f = make_features(2, 5, 30, seed=8)
    sg = SpinGlass(f, wd / 2)
    m = solve_exact(sg).mean
    # gradient of the training objective (MSE gradient + wd·W) vanishes at m*(λ0 = wd/2) ...
    S = feature_matrix(f)
    grad = 2 * S.T @ (S @ m - f.y) / f.P + wd * m
    assert np.abs(grad).max() < 1e-12 * max(1.0, np.abs(S.T @ f.y / f.P).max())
    # ... but not at m*(λ0 = wd), the paper's identification
    m_paper = solve_exact(SpinGlass(f, wd)).mean
    assert np.abs(2 * S.T @ (S @ m_paper - f.y) / f.P + wd * m_paper).max() > 1e-3
    # and Adam, run to convergence with a decreasing learning rate, lands on m*(wd/2)
    train = GramData.from_spinglass(SpinGlass(stack([f]), 0.0), dtype="float64")
    W = np.zeros((1, 3, 3))
    for lr, epochs in [(0.05, 3000), (5e-3, 3000), (5e-4, 3000), (5e-5, 2000)]:
        W = adam_gram(train, [W], lr=lr, epochs=epochs, weight_decay=wd).W
    assert relative_distance(W[0], m.reshape(3, 3)) < 1e-4
    assert relative_distance(W[0], m_paper.reshape(3, 3)) > 1e-2


def _same_training_two_ways(data, seed: int, epochs: int, one: dict, other: dict) -> tuple:
    """adam_gram from one initial W on the training data's GramData built with options ``one`` and ``other``."""
    sg = SpinGlass(data[0], 0.0)
    W0 = paper_init((R, D + 1, D + 1), D, torch.Generator().manual_seed(seed), torch.float64)
    kw = dict(lr=0.01, epochs=epochs, weight_decay=0.01)
    return tuple(adam_gram(GramData.from_spinglass(sg, **opts), [W0], **kw) for opts in (one, other))


def test_float32_close_to_float64(data):
    w64, w32 = _same_training_two_ways(data, 2, 200, dict(dtype="float64"), dict(dtype="float32"))
    assert relative_distance(w32.W, w64.W).max() < 1e-4
    np.testing.assert_allclose(w32.train_loss, w64.train_loss, rtol=1e-4)


def test_adam_class_matches_torch_optim():
    """The arithmetic-only Adam equals torch.optim.Adam step by step (with weight decay)."""
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((2, 3))
    grads = rng.standard_normal((25, 2, 3))
    t = torch.tensor(p0, requires_grad=True)
    opt = torch.optim.Adam([t], lr=0.03, weight_decay=0.1)
    ours = Adam([p0.copy()], lr=0.03, weight_decay=0.1)
    for g in grads:
        t.grad = torch.tensor(g)
        opt.step()
        (p,) = ours.step([g])
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-13, atol=1e-15)


def test_gram_loss_is_never_negative():
    """The Gram form wᵀGw − 2cᵀw + ⟨y²⟩ of a mean of squares can round below 0 at an interpolating
    minimum (demo printed -5.2e-08); the loss is clamped there and otherwise equals the direct mean."""
    # G, c, y2 as rounding leaves them for one prompt s = 1, y = 1: ⟨y²⟩ a hair below cᵀG⁻¹c
    gram = GramData(G=np.ones((1, 1, 1)), c=np.ones((1, 1)), y2=np.array([1 - 1e-9]))
    assert float((1 * (1 - 2 * 1)) + gram.y2[0]) < 0
    assert gram.loss(np.ones((1, 1)))[0] == 0.0
    t = GramData(G=torch.ones((1, 1, 1)), c=torch.ones((1, 1)), y2=torch.tensor([1 - 1e-6]))
    assert float(t.loss(torch.ones((1, 1)))[0]) == 0.0
    f = make_features(3, 5, 30, seed=9)
    S = feature_matrix(f)
    v = np.random.default_rng(1).standard_normal((1, 16))
    gram = GramData.from_spinglass(SpinGlass(stack([f]), 0.0), dtype="float64")
    np.testing.assert_allclose(gram.loss(v), np.mean((S @ v[0] - f.y) ** 2), rtol=1e-12)


def test_merged_model_reaches_ground_state_many_tasks():
    """Above the threshold P ≫ D(D+1) gradient training finds W ≈ c·I (positive contrast ratio)."""
    f = make_features(3, 30, 400, seed=3)
    train = GramData.from_spinglass(SpinGlass(stack([f]), 0.0), dtype="float64")
    W0 = paper_init((1, 4, 4), 3, torch.Generator().manual_seed(0), torch.float64)
    W = adam_gram(train, [W0], lr=0.01, epochs=1500).W
    exact = solve_exact(SpinGlass(f, 0.0)).W
    # the zero-mode column keeps its initial values (no gradient reaches it); compare the rest
    assert np.linalg.norm(W[0][:, :3] - exact[:, :3]) < 0.05 * np.linalg.norm(exact)
    assert float(contrast_ratio(exact)) > 0.8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gram_adam_on_cuda_matches_cpu(data):
    cpu, gpu = _same_training_two_ways(data, 4, 100, dict(dtype="float64"), dict(dtype="float64", device="cuda"))
    np.testing.assert_allclose(gpu.W, cpu.W, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gpu.train_loss, cpu.train_loss, rtol=1e-9)


# -- metrics ------------------------------------------------------------------------------------------
def test_metrics_exact_values():
    f = make_features(3, 5, 50, seed=4)
    W = np.random.default_rng(0).standard_normal((2, 4, 4))
    S = feature_matrix(f)
    for r in range(2):
        want = np.mean((S @ W[r].ravel() - f.y) ** 2)
        assert float(query_error(W[r], f)) == pytest.approx(want, rel=1e-13)
        assert float(query_error(W[r].ravel(), f)) == pytest.approx(want, rel=1e-13)
    assert query_error(W, f).shape == (2,)
    # contrast ratio: cosine similarity with the identity
    assert float(contrast_ratio(np.eye(4))) == pytest.approx(1.0, abs=1e-15)
    assert float(contrast_ratio(-2 * np.eye(4))) == pytest.approx(-1.0, abs=1e-15)
    icl = np.diag([1.0, 1.0, 1.0, 0.0]) * 0.7  # c·diag(I_D, 0)
    assert float(contrast_ratio(icl)) == pytest.approx(np.sqrt(3 / 4), rel=1e-14)
    assert float(contrast_ratio(icl.ravel())) == pytest.approx(np.sqrt(3 / 4), rel=1e-14)
    off = np.ones((4, 4)) - np.eye(4)
    assert float(contrast_ratio(off)) == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(contrast_ratio(W), [np.trace(w) / (np.linalg.norm(w) * 2) for w in W], rtol=1e-14)
    ref = np.eye(4)
    assert float(relative_distance(2 * ref, ref)) == pytest.approx(1.0)
    assert float(relative_distance(ref.ravel(), ref)) == 0.0


def test_icl_solution_predicts_fresh_tasks():
    """W = (N+1)/N·diag(I_D, 0) predicts ŷ = x_qᵀ(Σ_i y_i x_i)/N → w·x_q/√D = y (error ~ (D+1)/N)."""
    D, N = 3, 400
    f = make_features(D, N, 2000, seed=6)
    W = np.diag([1.0] * D + [0.0]) * (N + 1) / N
    err = float(query_error(W, f))
    assert err < 0.03 * float(np.mean(f.y**2))
    assert float(query_error(2 * W, f)) > 0.5 * float(np.mean(f.y**2))


# -- the one entry point: training.train --------------------------------------------------------------


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_train_gram_architecture_is_adam_gram_from_the_paper_init(data):
    """train("sla", fixed set) = adam_gram on the set's Gram form from paper_init drawn first from the generator."""
    ftr, fte, *_ = data
    budget = Budget(lr=0.01, epochs=30, weight_decay=0.02)
    got = train("sla", FixedSet(features=ftr), budget, generator=_gen(5), dtype="float64")
    W0 = paper_init((R, D + 1, D + 1), D, _gen(5), torch.float64)
    gram = GramData.from_spinglass(SpinGlass(ftr, 0.0), dtype="float64")
    ref = adam_gram(gram, [W0], lr=0.01, epochs=30, weight_decay=0.02)
    np.testing.assert_array_equal(got.W, ref.W)
    np.testing.assert_array_equal(got.error(features=fte), query_error(ref.W, fte))
    assert got.sequences == 30 * P and got.model is None


@pytest.mark.parametrize("name", ["fla", "tf", "lintf"])
def test_train_torch_architecture_is_fit_on_the_model_built_first(name, data):
    """train(name, fixed set) = make_model from the generator, then fit with the same generator (PromptStats
    for FLA); its error and predictions are the model's on the test prompts."""
    _, _, X, y, Xt, yt = data
    budget = Budget(lr=0.01, epochs=3, batch_size=20, schedule="cosine")
    got = train(name, FixedSet(X.numpy(), y.numpy()), budget, generator=_gen(6), dtype="float64")
    g = _gen(6)
    model = make_model(name, D, R, generator=g, dtype=torch.float64)
    fit(model, X, y, budget, generator=g)
    with torch.no_grad():
        ref = model(Xt).numpy()
    np.testing.assert_allclose(got.predict(Xt.numpy()), ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got.error(Xt, yt), np.mean((ref - yt.numpy()) ** 2, axis=1), rtol=1e-10)


def test_pool_sampler_draws_fresh_prompts_from_each_repeats_pool():
    spec = PromptSpec(D=3, N=5, noise=0.1)
    pools = np.random.default_rng(0).standard_normal((2, 4, 3))
    s = PoolSampler(spec, pools, P=50, repeats=2, rng=np.random.default_rng(1))
    X1, y1 = s()
    X2, _ = s()
    assert X1.shape == (2, 50, 4, 6) and y1.shape == (2, 50) and not np.allclose(X1, X2)
    again = PoolSampler(spec, pools, P=50, repeats=2, rng=np.random.default_rng(1))()
    np.testing.assert_array_equal(again[0], X1)  # the point's generator alone decides the draws
    assert s.draws == 2 and s.sequences_per_task() == 2 * 50 / 4
    # every prompt's labels are those of one pool task of its repeat (noise aside: 0.1)
    for r in range(2):
        x, lab = X1[r, :, :3, :5], X1[r, :, 3, :5]
        fits = np.einsum("kd,pdn->pkn", pools[r], x) / np.sqrt(3)
        assert np.all(np.min(np.abs(fits - lab[:, None]).max(-1), axis=1) < 0.6)
    fresh = PoolSampler(spec, None, P=5, repeats=2, rng=np.random.default_rng(1))
    assert fresh.M == 0 and np.isnan(fresh.sequences_per_task()) and fresh()[0].shape == (2, 5, 4, 6)
    with pytest.raises(InputError, match="pools"):
        PoolSampler(spec, pools[:1], P=5, repeats=2, rng=np.random.default_rng(1))


def test_fit_with_a_sampler_of_one_set_is_fit_on_that_set(data):
    """A sampler that returns the same set every epoch trains exactly as the fixed set (float64): the only
    difference of the fresh protocol is the data."""
    _, _, X, y, *_ = data
    budget = Budget(lr=0.02, epochs=4, batch_size=10, curriculum_epochs=2)
    a = make_model("tf", D, R, generator=_gen(3), dtype=torch.float64, d_model=4)
    b = make_model("tf", D, R, generator=_gen(3), dtype=torch.float64, d_model=4)
    ra = fit(a, X, y, budget, generator=_gen(4))
    calls = []
    rb = fit(b, lambda: calls.append(1) or (X, y), None, budget, generator=_gen(4))
    np.testing.assert_array_equal(ra.train_loss, rb.train_loss)
    assert len(calls) == 2 + 4  # one set per epoch of both stages


def test_fresh_training_sees_new_prompts_every_epoch():
    spec = PromptSpec(D=2, N=4, noise=0.1)
    s = PoolSampler(spec, None, P=30, repeats=1, rng=np.random.default_rng(2))
    got = train("fla", s, Budget(lr=0.02, epochs=5, batch_size=10), generator=_gen(1), dtype="float64")
    assert s.draws == 5 and got.sequences == 150
    test = sample_prompts(spec, 200, np.random.default_rng(9))
    assert got.error(test.X[None], test.y[None])[0] < np.mean(test.y**2)  # it learnt something


def test_train_refuses_what_cannot_run(data):
    _, _, X, y, *_ = data
    with pytest.raises(InputError, match="FixedSet or a PoolSampler"):
        train("fla", (X, y), Budget(lr=0.1, epochs=1), generator=_gen(0))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="dtype"):
        train("fla", FixedSet(X, y), Budget(lr=0.1, epochs=1), generator=_gen(0), dtype="float16")
    with pytest.raises(InputError, match="unknown model"):
        train("gpt", FixedSet(X, y), Budget(lr=0.1, epochs=1), generator=_gen(0))
