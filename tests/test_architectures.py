"""Architectures of figS8 (FLA, MHLA, SA, TF), their spin-model projection, and batched Adam."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spinglass_icl.features import predict
from spinglass_icl.metrics import contrast_ratio
from spinglass_icl.models import (
    FLA,
    MHLA,
    Architecture,
    PromptStats,
    StackedModel,
    effective_weight,
    get,
    make_model,
    names,
    normal,
    paper_init,
    register,
    unregister,
)
from spinglass_icl.prompts import Prompts, PromptSpec, features_from_prompts, sample_prompts
from spinglass_icl.solvers import solve_exact
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.training import (
    Adam,
    Budget,
    HeldOut,
    as_budget,
    context_prefix,
    fit,
    lr_factor,
    mse,
    projection_report,
    recipe,
)
from spinglass_icl.validation import InputError

F64 = torch.float64


def adam(lr: float, epochs: int, **fields) -> Budget:
    """A Budget without weight decay unless asked for (the registry's recipes default to 0.01)."""
    return Budget(lr=lr, epochs=epochs, **{"weight_decay": 0.0, **fields})


def prompts(D: int, N: int, P: int, R: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, object]:
    """R stacked explicit prompt sets: X (R, P, D+1, N+1), y (R, P) as float64 tensors, and features."""
    rng = np.random.default_rng(seed)
    ps = [sample_prompts(PromptSpec(D=D, N=N), P, rng) for _ in range(R)]
    stacked = Prompts(X=np.stack([p.X for p in ps]), y=np.stack([p.y for p in ps]), w=np.stack([p.w for p in ps]))
    return torch.tensor(stacked.X), torch.tensor(stacked.y), features_from_prompts(stacked)


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


SMALL_TF = dict(d_model=8, layers=2, heads=2)


def kwargs_for(name: str) -> dict:
    return SMALL_TF if name == "tf" else {}


# -- interface ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", names())
def test_output_shape_and_shared_prompts(name):
    X, _, _ = prompts(D=3, N=5, P=4, R=2, seed=1)
    model = make_model(name, 3, 2, generator=gen(), dtype=F64, **kwargs_for(name))
    out = model(X)
    assert out.shape == (2, 4) and torch.isfinite(out).all()
    # a leading 1 is shared by all repeats: same as passing the prompts twice
    shared = model(X[:1])
    assert torch.allclose(shared, model(X[:1].expand(2, -1, -1, -1)))
    assert all(p.shape[0] == 2 for p in model.parameters())


def test_repeats_are_independent_models():
    """Repeat r's output depends only on repeat r's parameters and prompts."""
    X, _, _ = prompts(D=3, N=5, P=4, R=3, seed=2)
    for name in ("fla", "mhla", "sa", "tf"):
        model = make_model(name, 3, 3, generator=gen(3), dtype=F64, **kwargs_for(name))
        before = model(X).detach()
        with torch.no_grad():
            for p in model.parameters():
                p[1] += 0.3
        after = model(X).detach()
        assert torch.equal(before[[0, 2]], after[[0, 2]]), name
        assert not torch.allclose(before[1], after[1]), name


def test_bad_input():
    with pytest.raises(InputError):
        make_model("lstm", 3, generator=gen())
    with pytest.raises(InputError):
        make_model("fla", 3, generator=gen(), value="half")
    with pytest.raises(InputError):
        make_model("fla", 3, 2, generator=gen())(torch.zeros(3, 4, 4, 6))  # 3 repeats of prompts for 2 models
    with pytest.raises(InputError):
        make_model("sa", 3, generator=gen())(torch.zeros(1, 4, 5, 6))  # token dimension 4 ≠ D
    with pytest.raises(InputError):
        effective_weight(make_model("sa", 3, generator=gen()))


@pytest.mark.parametrize("cls", [FLA, MHLA])
@pytest.mark.parametrize("value", ["full", "label"])
def test_readout_is_the_layer_output_entry(cls, value):
    """forward() (right-to-left mat-vecs) == F(X)[D+1, N+1] of the written definition."""
    X, _, _ = prompts(D=4, N=6, P=5, R=2, seed=4)
    model = cls(4, 2, value=value, generator=gen(5), dtype=F64)
    F = model.full_output(X)
    assert F.shape == X.shape
    assert torch.allclose(model(X), F[..., -1, -1], atol=1e-12, rtol=0)


def test_softmax_attention_definition():
    """SA against a literal loop over prompts: α = softmax((W^K X_i)·(W^Q b)/√d_k), ŷ = Σ α_i (W^V X_i)[D+1]."""
    D, N = 3, 5
    X, _, _ = prompts(D=D, N=N, P=3, R=2, seed=6)
    model = make_model("sa", D, 2, d_k=2, generator=gen(7), dtype=F64)
    for r in range(2):
        for p in range(3):
            Xp = X[r, p]
            s = (model.Wk[r] @ Xp[:, :N]).T @ (model.Wq[r] @ Xp[:, N]) / np.sqrt(2)
            out = (model.Wv[r] @ Xp[:, :N] @ torch.softmax(s, 0))[D]
            assert torch.allclose(model(X)[r, p], out, atol=1e-12)


def test_transformer_query_readout_ignores_nothing_it_should_see():
    """The TF prediction changes with context labels and with the query token (it reads both)."""
    X, _, _ = prompts(D=3, N=5, P=2, R=1, seed=8)
    model = make_model("tf", 3, 1, generator=gen(9), dtype=F64, **SMALL_TF)
    base = model(X)
    X2 = X.clone()
    X2[..., -1, 0] += 1.0  # a context label
    X3 = X.clone()
    X3[..., 0, -1] += 1.0  # the query token
    assert not torch.allclose(model(X2), base) and not torch.allclose(model(X3), base)


# -- projection onto the spin model --------------------------------------------------------------------


@settings(max_examples=10)
@given(D=st.integers(1, 5), N=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_projection_exact_for_label_value(D, N, seed):
    """value="label": predict(W_eff, features) == model output to 1e-10 (float64)."""
    X, _, f = prompts(D=D, N=N, P=6, R=2, seed=seed)
    for cls, kw in ((FLA, {}), (MHLA, {"heads": 3, "d_k": 2})):
        model = cls(D, 2, value="label", generator=gen(seed), dtype=F64, **kw)
        out = model(X).detach().numpy()
        assert np.allclose(predict(effective_weight(model), f), out, atol=1e-10, rtol=0)
        assert np.all(model.off_spin(X).detach().numpy() == 0)


@pytest.mark.parametrize("cls", [FLA, MHLA])
def test_projection_full_value_is_spin_part_plus_off_spin(cls):
    X, _, f = prompts(D=4, N=8, P=10, R=2, seed=10)
    model = cls(4, 2, value="full", generator=gen(11), dtype=F64)
    out = model(X).detach().numpy()
    off = model.off_spin(X).detach().numpy()
    assert np.abs(off).max() > 1e-3  # the off-spin term is really there for a full value matrix ...
    assert np.allclose(predict(effective_weight(model), f) + off, out, atol=1e-10, rtol=0)  # ... and exact
    # zeroing the value's token columns of the label row removes it
    with torch.no_grad():
        if cls is FLA:
            model.Wpv[:, 4, :4] = 0
        else:
            model.Wv[..., :4] = 0
    assert np.allclose(predict(effective_weight(model), f), model(X).detach().numpy(), atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", ["sla", "sla-separate"])
def test_sla_projection_is_exact(name):
    X, _, f = prompts(D=3, N=6, P=8, R=2, seed=12)
    model = make_model(name, 3, 2, generator=gen(13), dtype=F64)
    assert np.allclose(predict(effective_weight(model), f), model(X).detach().numpy(), atol=1e-10, rtol=0)


def test_projection_report_against_ground_state():
    D = 3
    X, y, f = prompts(D=D, N=10, P=80, R=2, seed=14)
    _, _, f_test = prompts(D=D, N=10, P=50, R=2, seed=15)
    ground = solve_exact(SpinGlass(f, 0.01)).mean.reshape(2, D + 1, D + 1)
    model = FLA(D, 2, value="label", generator=gen(16), dtype=F64)
    with torch.no_grad():  # put the ground state into the model: W_eff = 1 · W^{KQ}
        model.Wpv[:, D, D] = 1.0
        model.Wkq.copy_(torch.tensor(ground))
    rep = projection_report(model, f_test, ground)
    assert np.allclose(rep["distance"], 0, atol=1e-12)
    assert np.allclose(rep["contrast"], contrast_ratio(ground))
    # the report's test error is the spin model's test error on those features
    assert np.allclose(rep["proj_test"], np.mean((predict(ground, f_test) - f_test.y) ** 2, axis=-1))


# -- training ---------------------------------------------------------------------------------------


def test_adam_is_torch_adam():
    """One repeat, full batch, weight decay: same trajectory as torch.optim.Adam (float64)."""
    X, y, _ = prompts(D=3, N=6, P=12, R=1, seed=20)
    a = make_model("mhla", 3, 1, generator=gen(21), dtype=F64)
    b = make_model("mhla", 3, 1, generator=gen(21), dtype=F64)
    fit(a, X, y, adam(0.01, 15, weight_decay=0.05), generator=gen())
    opt = torch.optim.Adam(b.parameters(), lr=0.01, weight_decay=0.05)
    for _ in range(15):
        opt.zero_grad()
        torch.mean((b(X) - y) ** 2, dim=-1).sum().backward()
        opt.step()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ["fla", "mhla", "sa", "tf"])
def test_batched_training_equals_separate_trainings(name):
    """R=3 trained at once == 3 single-repeat trainings from the same initial parameters (float64),
    with minibatches, a cosine schedule and weight decay."""
    R = 3
    X, y, _ = prompts(D=3, N=5, P=10, R=R, seed=22)
    budget = adam(0.01, 6, weight_decay=0.01, batch_size=4, schedule="cosine")
    batched = make_model(name, 3, R, generator=gen(23), dtype=F64, **kwargs_for(name))
    init = [p.detach().clone() for p in batched.parameters()]
    res = fit(batched, X, y, budget, generator=gen(24))
    assert res.steps == 6 * 3 and res.train_loss.shape == (R, 6)
    for r in range(R):
        single = make_model(name, 3, 1, generator=gen(0), dtype=F64, **kwargs_for(name))
        with torch.no_grad():
            for p, p0 in zip(single.parameters(), init):
                p.copy_(p0[r : r + 1])
        one = fit(single, X[r : r + 1], y[r : r + 1], budget, generator=gen(24))
        for p, pb in zip(single.parameters(), batched.parameters()):
            assert torch.allclose(p[0], pb[r], atol=1e-10, rtol=0), (name, r)
        assert np.allclose(one.train_loss[0], res.train_loss[r], atol=1e-12)


def test_prompt_blocks_give_the_full_batch_gradient():
    X, y, _ = prompts(D=3, N=5, P=11, R=2, seed=25)
    a = make_model("sa", 3, 2, generator=gen(26), dtype=F64)
    b = make_model("sa", 3, 2, generator=gen(26), dtype=F64)
    ra = fit(a, X, y, adam(0.02, 5), generator=gen())
    rb = fit(b, X, y, adam(0.02, 5), generator=gen(), prompt_block=4)
    assert np.allclose(ra.train_loss, rb.train_loss, atol=1e-12)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-12)


def test_the_old_prompt_block_keywords_still_work_with_a_deprecation_warning():
    """``fit(grad_chunk=)`` and ``mse(chunk=)``: ``prompt_block`` under its old names (until DEPRECATED_UNTIL)."""
    X, y, _ = prompts(D=3, N=5, P=11, R=2, seed=25)
    a = make_model("sa", 3, 2, generator=gen(26), dtype=F64)
    b = make_model("sa", 3, 2, generator=gen(26), dtype=F64)
    ra = fit(a, X, y, adam(0.02, 3), generator=gen(), prompt_block=4)
    with pytest.warns(DeprecationWarning, match=r"fit\(grad_chunk=\.\.\.\) is deprecated .* use prompt_block="):
        rb = fit(b, X, y, adam(0.02, 3), generator=gen(), grad_chunk=4)
    assert np.array_equal(ra.train_loss, rb.train_loss)
    with pytest.warns(DeprecationWarning, match=r"mse\(chunk=\.\.\.\) is deprecated .* use prompt_block="):
        old = mse(a, X, y, chunk=4)
    assert torch.equal(old, mse(a, X, y, prompt_block=4))
    with pytest.raises(InputError, match="prompt_block"):
        fit(a, X, y, adam(0.02, 1), generator=gen(), prompt_block=0)
    with pytest.raises(TypeError, match="grad_chunks"):
        fit(a, X, y, adam(0.02, 1), generator=gen(), grad_chunks=4)


def test_training_reduces_loss_and_learns_icl():
    """Full-batch Adam on FLA lowers train and test error well below the trivial ŷ = 0."""
    X, y, _ = prompts(D=3, N=20, P=300, R=2, seed=27)
    Xt, yt, _ = prompts(D=3, N=20, P=300, R=2, seed=28)
    model = make_model("fla", 3, 2, generator=gen(29), dtype=F64)
    res = fit(model, X, y, adam(0.02, 150), generator=gen())
    assert np.all(res.train_loss[:, -1] < 0.6 * res.train_loss[:, 0])
    assert np.all(mse(model, Xt, yt).numpy() < 0.7 * np.mean(yt.numpy() ** 2, axis=-1))


def test_minibatch_uses_the_generator():
    X, y, _ = prompts(D=2, N=4, P=9, R=1, seed=30)
    runs = []
    for seed in (1, 1, 2):
        m = make_model("fla", 2, 1, generator=gen(31), dtype=F64)
        fit(m, X, y, adam(0.05, 3, batch_size=2), generator=gen(seed))
        runs.append(m.Wkq.detach().clone())
    assert torch.equal(runs[0], runs[1]) and not torch.allclose(runs[0], runs[2])


def test_early_stopping_per_repeat_and_restore_best():
    """Repeat 0 validates on its training data (keeps improving); repeat 1 on sign-flipped labels
    (soon gets worse): only repeat 1 stops, and its parameters are those after its best epoch."""
    X, y, _ = prompts(D=3, N=10, P=60, R=2, seed=32)
    y_val = y.clone()
    y_val[1] = -y[1]
    model = make_model("fla", 3, 2, generator=gen(33), dtype=F64)
    init = [p.detach().clone() for p in model.parameters()]
    res = fit(model, X, y, adam(0.02, 40), generator=gen(), held_out=HeldOut(X, y_val, patience=3))
    assert res.stopped_epoch[0] == 40 and res.stopped_epoch[1] < 40
    best = int(res.best_epoch[1])
    assert res.best_epoch[0] > 30 and best < res.stopped_epoch[1]
    assert res.val_loss.shape[0] == 2 and res.val_epochs[0] == 0
    # repeat 1 trained alone for exactly its best number of epochs lands on the restored parameters
    single = make_model("fla", 3, 1, generator=gen(), dtype=F64)
    with torch.no_grad():
        for p, p0 in zip(single.parameters(), init):
            p.copy_(p0[1:2])
    if best:
        fit(single, X[1:2], y[1:2], adam(0.02, best), generator=gen())
    for p, pb in zip(single.parameters(), model.parameters()):
        assert torch.allclose(p[0], pb[1], atol=1e-10)


def test_early_stopping_all_stopped_ends_the_loop():
    X, y, _ = prompts(D=2, N=6, P=30, R=2, seed=34)
    model = make_model("sa", 2, 2, generator=gen(35), dtype=F64)
    res = fit(model, X, y, adam(0.05, 200), generator=gen(), held_out=HeldOut(X, -y, patience=2))
    assert res.train_loss.shape[1] < 200 and np.all(res.stopped_epoch < 200)


def test_schedules():
    assert lr_factor(None, 5, 10) == 1.0 and lr_factor("constant", 3, 10) == 1.0
    assert lr_factor("cosine", 0, 10) == 1.0 and np.isclose(lr_factor("cosine", 5, 10), 0.5)
    assert np.isclose(lr_factor("linear", 5, 10), 0.5)
    with pytest.raises(InputError):
        lr_factor("step", 1, 10)
    # a zero learning-rate factor leaves the parameters where they are
    X, y, _ = prompts(D=2, N=4, P=8, R=1, seed=36)
    m = make_model("fla", 2, 1, generator=gen(37), dtype=F64)
    w0 = m.Wkq.detach().clone()
    fit(m, X, y, adam(0.1, 3, schedule=lambda e, n: 0.0), generator=gen())
    assert torch.equal(m.Wkq, w0)


def test_fit_bad_input():
    X, y, _ = prompts(D=2, N=4, P=8, R=2, seed=38)
    m = make_model("fla", 2, 2, generator=gen(), dtype=F64)
    with pytest.raises(InputError):
        fit(m, X, y, adam(0.1, 2), generator=gen(), held_out=HeldOut(X, y, patience=0))
    with pytest.raises(InputError):
        fit(m, X, y[:, :3], adam(0.1, 2), generator=gen())
    with pytest.raises(InputError):
        fit(m, X, y, adam(-1, 2), generator=gen())
    with pytest.raises(InputError):
        fit(m, X, y, adam(0.1, 2, schedule="warmup"), generator=gen())
    with pytest.raises(InputError, match="Budget"):
        fit(m, X, y, {"lr": 0.1, "epochs": 2}, generator=gen())  # a dict is not a Budget
    with pytest.raises(InputError):
        fit(m, X, y, adam(0.1, 2), generator=gen(), held_out=HeldOut(X[:, :3], y))  # held-out X and y disagree


def test_adam_inactive_repeats_frozen():
    p = torch.nn.Parameter(torch.ones(2, 3, dtype=F64))
    opt = Adam([p], lr=0.1)
    p.grad = torch.ones_like(p)
    opt.step(active=torch.tensor([True, False]))
    assert torch.all(p[0] < 1) and torch.all(p[1] == 1) and torch.all(opt.m[0][1] == 0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_models_and_training():
    X, y, _ = prompts(D=3, N=5, P=16, R=2, seed=40)
    for name in names():
        cpu = make_model(name, 3, 2, generator=gen(41), dtype=F64, **kwargs_for(name))
        gpu = make_model(name, 3, 2, generator=gen(41), dtype=F64, device="cuda", **kwargs_for(name))
        assert torch.allclose(cpu(X), gpu(X.cuda()).cpu(), atol=1e-10)
        fit(gpu, X, y, adam(0.01, 3), generator=gen())
        if name in ("fla", "mhla"):  # reduced input built on the GPU, and CPU statistics moved by fit
            assert torch.allclose(cpu(X), gpu(PromptStats.from_prompts(X.cuda())).cpu(), atol=1e-10)
            fit(gpu, PromptStats.from_prompts(X), y, adam(0.01, 3), generator=gen())


def test_benchmark_smoke():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_batching.py"
    spec = importlib.util.spec_from_file_location("bench_batching", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(quick=True)
    assert {r["model"] for r in rows} == {"fla", "sa"}
    assert all(np.isfinite(r["ratio"]) for r in rows)
    rows = bench.main_reduced(quick=True)
    assert {(r["P"], r["R"], r["path"]) for r in rows} == {
        (P, R, path) for P, R in ((64, 1), (64, 4), (128, 1)) for path in ("explicit", "reduced")
    }
    assert all(np.isfinite(r["ratio"]) == (r["R"] > 1) for r in rows)
    rows = bench.main_figS8(quick=True)
    assert [(r["model"], r["path"], r["N"]) for r in rows if r["model"] == "fla"] == [
        ("fla", "reduced", 8),
        ("fla", "reduced", 16),
        ("fla", "explicit", 8),
    ]
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_figS8.py"
    spec = importlib.util.spec_from_file_location("bench_figS8", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main((10,), cap=1, quick=True)
    assert [r["model"] for r in rows] == ["amp", "sla", "fla", "mhla", "sa", "tf"]
    assert all(r["scaled"] == (False, False) for r in rows[:2]) and all(r["scaled"][0] for r in rows[2:])
    # a budget with a curriculum and held-out prompts (as TF's full one): both stages timed and scaled
    from spinglass_icl.experiments import trained_models
    from spinglass_icl.experiments.catalog import figS8

    over = {"models": "tf", "N": [10], "tf_curriculum_epochs": 3, "tf_val_prompts": 20}
    pt = figS8.points(figS8.EXPERIMENT.params("quick", over))[0]
    seconds, scaled = bench.train_seconds(pt, "tf", trained_models.budget("tf", pt), {"d_model": 8}, cap=1)
    assert seconds > 0 and scaled


# -- reduced input (PromptStats) for FLA / MHLA --------------------------------------------------------


def _models_pair(cls, value, R, seed):
    """Two identical float64 models (same initial parameters)."""
    kw = {"heads": 3, "d_k": 2} if cls is MHLA else {}
    return (
        cls(3, R, value=value, generator=gen(seed), dtype=F64, **kw),
        cls(3, R, value=value, generator=gen(seed), dtype=F64, **kw),
    )


@pytest.mark.parametrize("cls", [FLA, MHLA])
@pytest.mark.parametrize("value", ["full", "label"])
@pytest.mark.parametrize("shared", [False, True])
def test_prompt_stats_predictions_and_gradients_equal_explicit(cls, value, shared):
    """model(PromptStats(X)) == model(X) and their gradients agree to 1e-12 (float64), also for
    prompts shared by all repeats (leading 1) and for the off-spin part."""
    X, y, _ = prompts(D=3, N=9, P=7, R=1 if shared else 3, seed=50)
    stats = PromptStats.from_prompts(X)
    assert stats.C.shape == (X.shape[0], 7, 4, 4) and stats.b.shape == (X.shape[0], 7, 4) and stats.N == 9
    assert torch.allclose(stats.C, stats.C.transpose(-1, -2), atol=1e-12)
    a, b = _models_pair(cls, value, 3, 51)
    out_a, out_b = a(X), b(stats)
    assert out_a.shape == (3, 7)
    assert torch.allclose(out_a, out_b, atol=1e-12, rtol=0)
    assert torch.allclose(a.off_spin(X), b.off_spin(stats), atol=1e-12, rtol=0)
    yy = y.expand(3, -1)
    ((out_a - yy) ** 2).mean(-1).sum().backward()
    ((out_b - yy) ** 2).mean(-1).sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert pa.grad.abs().max() > 1e-6  # the gradient is really there (label value: masked columns 0)
        assert torch.allclose(pa.grad, pb.grad, atol=1e-12, rtol=0)


@pytest.mark.parametrize("cls", [FLA, MHLA])
@pytest.mark.parametrize("value", ["full", "label"])
def test_prompt_stats_training_equals_explicit(cls, value):
    """A few Adam steps with minibatches, chunks, weight decay and a held-out set: same trajectory,
    losses and early-stopping bookkeeping on PromptStats as on explicit prompts (float64)."""
    X, y, _ = prompts(D=3, N=8, P=10, R=2, seed=52)
    Xv, yv, _ = prompts(D=3, N=8, P=6, R=2, seed=53)
    a, b = _models_pair(cls, value, 2, 54)
    budget = adam(0.02, 4, weight_decay=0.01, batch_size=4)
    ra = fit(a, X, y, budget, held_out=HeldOut(Xv, yv, every=2), generator=gen(55), prompt_block=3)
    stats = HeldOut(PromptStats.from_prompts(Xv), yv, every=2)
    rb = fit(b, PromptStats.from_prompts(X), y, budget, held_out=stats, generator=gen(55), prompt_block=3)
    assert ra.steps == rb.steps == 12
    assert np.allclose(ra.train_loss, rb.train_loss, atol=1e-12, rtol=0)
    assert np.allclose(ra.val_loss, rb.val_loss, atol=1e-12, rtol=0)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa, pb, atol=1e-12, rtol=0)
    assert torch.allclose(mse(a, Xv, yv), mse(b, PromptStats.from_prompts(Xv), yv, prompt_block=4), atol=1e-12, rtol=0)


@pytest.mark.parametrize("cls", [FLA, MHLA])
def test_prompt_stats_batched_product_branch(cls):
    """The one-kernel torch.bmm branch of gram_matvec (used on GPUs) gives the same predictions
    and gradients as explicit prompts (asked for here on the CPU)."""
    X, y, _ = prompts(D=3, N=6, P=5, R=3, seed=59)
    a, b = _models_pair(cls, "full", 3, 60)
    st = PromptStats.from_prompts(X)
    st = PromptStats(st.C, st.b, st.N, batched=True)
    assert st.take(slice(0, 4)).batched and st.to("float64").batched  # the choice travels with the data
    out_a, out_b = a(X), b(st)
    assert torch.allclose(out_a, out_b, atol=1e-12, rtol=0)
    ((out_a - y) ** 2).sum().backward()
    ((out_b - y) ** 2).sum().backward()
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-12, rtol=0)


def test_prompt_stats_cast_and_float32():
    """Statistics computed in float64 and cast to float32 give float32 predictions close to the
    float64 ones; a float32 model gets float32 statistics through fit."""
    X, y, _ = prompts(D=3, N=6, P=5, R=2, seed=56)
    st32 = PromptStats.from_prompts(X, dtype="float32")
    assert st32.C.dtype == torch.float32 and st32.b.dtype == torch.float32
    m64 = FLA(3, 2, generator=gen(57), dtype=F64)
    m32 = FLA(3, 2, generator=gen(57), dtype=torch.float32)
    assert torch.allclose(m32(st32).double(), m64(X), atol=1e-5)
    # float64 statistics cast to the model's dtype
    res = fit(m32, PromptStats.from_prompts(X), y, adam(0.01, 2), generator=gen())
    assert np.all(np.isfinite(res.train_loss))


def test_prompt_stats_bad_input():
    X, y, _ = prompts(D=3, N=5, P=4, R=2, seed=58)
    st = PromptStats.from_prompts(X)
    for name in ("sa", "tf", "sla"):
        model = make_model(name, 3, 2, generator=gen(), dtype=F64, **kwargs_for(name))
        with pytest.raises(InputError):
            fit(model, st, y, adam(0.01, 1), generator=gen())
    with pytest.raises(InputError):
        make_model("sa", 3, 2, generator=gen(), dtype=F64)(st)
    with pytest.raises(InputError):
        FLA(4, 2, generator=gen(), dtype=F64)(st)  # D mismatch
    with pytest.raises(InputError):
        FLA(3, 3, generator=gen(), dtype=F64)(st)  # 2 repeats of statistics for 3 models
    with pytest.raises(InputError):
        fit(FLA(3, 2, generator=gen(), dtype=F64), st, y[:, :3], adam(0.01, 1), generator=gen())
    with pytest.raises(InputError):
        PromptStats.from_prompts(X[0])  # not (R, P, D+1, N+1)
    with pytest.raises(InputError):
        PromptStats(st.C, st.b[:, :2], 5)


# -- registry, required generators, budgets --------------------------------------------------------------


def test_registry_entries_match_their_classes():
    """Every flag of a registry entry is what its model really does (so figS8 can trust them)."""
    X, _, _ = prompts(D=3, N=4, P=5, R=2, seed=70)
    st = PromptStats.from_prompts(X)
    for name in names():
        arch = get(name)
        model = make_model(name, 3, 2, generator=gen(), dtype=F64, **kwargs_for(name))
        assert model.name == name and model.repeats == 2
        assert hasattr(model, "merged_weight") == arch.projected
        assert model.accepts_stats == arch.accepts_stats
        if arch.accepts_stats:
            assert torch.allclose(model(st), model(X), atol=1e-12)
        else:
            with pytest.raises(InputError):
                model(st)
        assert len(arch.marker) == 1 and arch.label
        for size in ("quick", "full"):
            recipe(arch, size).check(600 if size == "quick" else 10000)
    # the package's own six come first (in this order); a plugin's architectures may follow
    assert names(in_figure=True)[:5] == ("sla", "fla", "mhla", "sa", "tf")
    assert names(linear=True)[:4] == ("sla", "sla-separate", "fla", "mhla")


def test_unknown_model_lists_the_registered_names():
    with pytest.raises(InputError, match="registered architectures: " + ", ".join(names())):
        make_model("lstm", 3, generator=gen())


class Scaled(StackedModel):
    """A user's architecture, defined outside the package: ŷ = θ·(a·b)/(N+1), one parameter per repeat."""

    name = "user-scaled"

    def __init__(self, D: int, repeats: int = 1, *, generator: torch.Generator, dtype=F64, device="cpu"):
        super().__init__(D, repeats)
        self.theta = torch.nn.Parameter(normal((repeats,), 0.1, generator, dtype, device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        a = X[..., :-1] @ X[..., -1, :-1, None]  # Σ_i y_i x_i (and y_i²): (R, P, D+1, 1)
        return self.theta[:, None] * (a[..., :-1, 0] * X[..., :-1, -1]).sum(-1) / X.shape[-1]


@pytest.fixture
def user_architecture():
    """Register :class:`Scaled` as a user would (its recipes as plain dicts), unregister it afterwards."""
    arch = register(
        Architecture(
            "user-scaled",
            "user (θ·a·b)",
            "*",
            Scaled,
            linear=True,
            projected=False,
            accepts_stats=False,
            quick={"lr": 0.05, "epochs": 30, "weight_decay": 0.0},
            full=Budget(lr=0.05, epochs=60, batch_size=8),
        )
    )
    yield arch
    unregister(arch.name)


def test_a_registered_user_architecture_trains_with_its_recipe(user_architecture):
    """register(...) is all a user architecture needs: it is listed, built by name, and fit runs its
    declared recipe (a dict or a Budget) -- nothing in the package lists the architectures."""
    name = user_architecture.name
    assert name in names() and name in names(in_figure=True, linear=True)
    quick, full = recipe(name, "quick"), recipe(user_architecture, "full")
    assert quick == Budget(lr=0.05, epochs=30, weight_decay=0.0) and full.batch_size == 8
    X, y, _ = prompts(D=3, N=20, P=40, R=2, seed=90)
    model = make_model(name, 3, 2, generator=gen(91), dtype=F64)
    res = fit(model, X, y, quick, generator=gen(92))
    assert res.train_loss.shape == (2, 30) and np.all(res.train_loss[:, -1] < 0.5 * res.train_loss[:, 0])
    assert np.all(mse(model, X, y).numpy() < np.mean(y.numpy() ** 2, axis=-1))
    with pytest.raises(InputError, match="already registered"):
        register(user_architecture)


def test_recipes_are_read_and_checked():
    with pytest.raises(InputError, match="unknown fields"):
        as_budget({"lr": 0.1, "epochs": 2, "momentum": 0.9})
    with pytest.raises(InputError, match="lr"):
        as_budget({"epochs": 2})
    with pytest.raises(InputError, match="size"):
        recipe("fla", "huge")
    assert as_budget({"lr": 0.1, "epochs": 2}) == Budget(lr=0.1, epochs=2)


def test_random_draws_need_a_generator():
    with pytest.raises(InputError, match="Generator"):
        paper_init((2, 3), 2, None)
    with pytest.raises(TypeError):  # no hidden default: the keyword is required
        make_model("fla", 3)
    X, y, _ = prompts(D=2, N=3, P=4, R=1, seed=71)
    with pytest.raises(InputError, match="Generator"):
        fit(make_model("fla", 2, 1, generator=gen(), dtype=F64), X, y, adam(0.1, 1), generator=None)
    # the values are a function of the generator's seed only
    a, b = paper_init((3, 3), 2, gen(5)), paper_init((3, 3), 2, gen(5))
    assert torch.equal(a, b) and not torch.equal(a, paper_init((3, 3), 2, gen(6)))


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(epochs=0), "epochs"),
        (dict(lr=0.0), "lr"),
        (dict(lr=-1e-3), "lr"),
        (dict(batch_size=601), "batch_size"),
        (dict(batch_size=-1), "batch_size"),
        (dict(schedule="warp"), "schedule"),
        (dict(warmup=5, epochs=5), "warmup"),
        (dict(weight_decay=-0.1), "weight_decay"),
        (dict(curriculum_epochs=-1), "curriculum_epochs"),
        (dict(curriculum_epochs=2, curriculum_frac=0.0), "curriculum_frac"),
        (dict(curriculum_epochs=2, curriculum_frac=1.5), "curriculum_frac"),
        (dict(curriculum_epochs=2, warmup=2), "curriculum_epochs"),
    ],
)
def test_budget_refuses_what_cannot_run(bad, match):
    with pytest.raises(InputError, match=match):
        Budget(**{**dict(lr=0.01, epochs=5), **bad}).check(600, who="sa")


def test_warmup_then_schedule():
    """Linear warm-up over the first epochs, then the schedule runs over the remaining ones."""
    f = [lr_factor("cosine", e, 10, warmup=2) for e in range(10)]
    assert f[:3] == [0.5, 1.0, 1.0] and np.isclose(f[6], 0.5) and f[-1] > 0
    assert np.allclose(f[2:], [lr_factor("cosine", e, 8) for e in range(8)])
    X, y, _ = prompts(D=2, N=4, P=8, R=1, seed=72)
    with pytest.raises(InputError, match="warmup"):
        fit(make_model("fla", 2, 1, generator=gen(), dtype=F64), X, y, adam(0.1, 3, warmup=3), generator=gen())


def test_context_prefix_keeps_the_first_examples_and_the_query():
    X, _, _ = prompts(D=2, N=6, P=4, R=2, seed=80)
    Xs = context_prefix(X, 2)
    assert Xs.shape == (2, 4, 3, 3)
    assert torch.equal(Xs[..., :2], X[..., :2]) and torch.equal(Xs[..., -1], X[..., -1])
    assert context_prefix(X, 6) is X and context_prefix(X, 9) is X
    with pytest.raises(InputError):
        context_prefix(X, 0)


@pytest.mark.parametrize("name, held_out", [("sa", False), ("tf", False), ("tf", True)])
def test_curriculum_is_a_first_stage_on_cut_prompts(name, held_out):
    """fit(curriculum_epochs=E1) = fit on the prompts cut to round(frac·N) examples for E1 epochs, then
    fit on the whole prompts, each stage with its own Adam and schedule (float64, to the last digit);
    with held-out prompts each stage keeps its best epoch and the second starts from the first's."""
    X, y, _ = prompts(D=2, N=8, P=12, R=2, seed=81)
    recipe_ = dict(lr=0.02, batch_size=4, schedule="cosine", warmup=1)
    watch = HeldOut(*prompts(D=2, N=8, P=6, R=2, seed=83)[:2]) if held_out else None
    a = make_model(name, 2, 2, generator=gen(3), dtype=F64, **kwargs_for(name))
    b = make_model(name, 2, 2, generator=gen(3), dtype=F64, **kwargs_for(name))
    ra = fit(
        a, X, y, adam(epochs=3, curriculum_epochs=4, curriculum_frac=0.25, **recipe_), generator=gen(4), held_out=watch
    )
    g = gen(4)
    r1 = fit(b, X[..., [0, 1, 8]], y, adam(epochs=4, **recipe_), generator=g, held_out=watch)
    r2 = fit(b, X, y, adam(epochs=3, **recipe_), generator=g, held_out=watch)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
    assert ra.train_loss.shape == (2, 7) and ra.steps == r1.steps + r2.steps == 7 * 3
    assert np.array_equal(ra.train_loss, np.concatenate([r1.train_loss, r2.train_loss], axis=1))


def test_curriculum_needs_explicit_prompts():
    X, y, _ = prompts(D=2, N=4, P=8, R=1, seed=82)
    m = make_model("fla", 2, 1, generator=gen(), dtype=F64)
    with pytest.raises(InputError, match="explicit prompts"):
        fit(m, PromptStats.from_prompts(X), y, adam(0.1, 2, curriculum_epochs=2), generator=gen())
    with pytest.raises(InputError, match="curriculum_frac"):
        fit(m, X, y, adam(0.1, 2, curriculum_epochs=2, curriculum_frac=2.0), generator=gen())


# -- the L-layer linear transformer ------------------------------------------------------------------------


def test_linear_transformer_is_its_definition_layer_by_layer():
    """ŷ = Z^L[D+1, N+1] with Z^{l+1} = Z^l + W^{PV}_l Z_c (Z_cᵀ W^{KQ}_l Z^l)/N (Z_c: the N context columns),
    written out with numpy per prompt; the last layer evaluated at the query only changes nothing."""
    from spinglass_icl.models import LinearTransformer

    X, _, _ = prompts(D=3, N=5, P=4, R=2, seed=81)
    for L in (1, 3):
        m = LinearTransformer(3, 2, generator=gen(82), layers=L, dtype=F64)
        pv, kq = m.Wpv.detach().numpy(), m.Wkq.detach().numpy()
        want = np.empty((2, 4))
        for r in range(2):
            for p in range(4):
                Z = X[r, p].numpy().copy()
                for layer in range(L):
                    ctx = Z[:, :5]
                    Z = Z + pv[r, layer] @ ctx @ (ctx.T @ kq[r, layer] @ Z) / 5
                want[r, p] = Z[3, 5]
        np.testing.assert_allclose(m(X).detach().numpy(), want, rtol=1e-12, atol=1e-13)
    with pytest.raises(InputError, match="layers"):
        LinearTransformer(3, 1, generator=gen(), layers=0)
    with pytest.raises(InputError, match="layers"):
        LinearTransformer(3, 1, generator=gen(), layers=LinearTransformer.MAX_LAYERS + 1)
    assert get("lintf").option_ranges["layers"] == (1, LinearTransformer.MAX_LAYERS) and not get("lintf").in_figure


def test_registry_options_are_ranged_and_default_to_the_class():
    """Every ranged option of an architecture becomes a parameter ``<name>_<option>`` (0 = the class default,
    left out of the model options); values outside the range are refused with the parameter's name."""
    from spinglass_icl.experiments import trained_models

    p = trained_models.registry_params({"D": 4, "P": 600}, "full")
    assert p["tf_layers"] == 0 and p["tf_heads"] == 0 and p["tf_d_model"] == 32 and p["lintf_layers"] == 2
    assert trained_models.options("tf", p) == {"d_model": 32}
    assert trained_models.options("tf", {**p, "tf_layers": 4}) == {"d_model": 32, "layers": 4}
    with pytest.raises(InputError, match="tf_layers"):
        trained_models.options("tf", {**p, "tf_layers": 17})
    with pytest.raises(InputError, match="heads"):
        trained_models.check_model("tf", {**p, "tf_heads": 3})
    assert "tf_layers" not in trained_models.own_keys("tf", p)  # 0: the point's key is the one it had before
    assert "tf_layers" in trained_models.own_keys("tf", {**p, "tf_layers": 4})
