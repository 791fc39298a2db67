"""Beyond-the-paper experiments `phase` (collapse at τ = P/(D(D+1))) and `pool` (finite task pool):
their helpers against exact answers, and their quick runs' qualitative results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinglass_icl.experiments import registry
from spinglass_icl.experiments.catalog import phase, pool
from spinglass_icl.experiments.draws import pool_sets
from spinglass_icl.experiments.reference import icl_solution, population_rows
from spinglass_icl.features import predict
from spinglass_icl.metrics import query_error
from spinglass_icl.prompts import Features, PromptSpec, sample_features
from spinglass_icl.spinglass import SpinGlass


@pytest.fixture(scope="module")
def runs(quick_run) -> dict:
    """Both experiments at their quick size through the runner (the session's shared runs): (summary, records)."""
    return {i: (quick_run(i)[0].summary, quick_run(i)[1]) for i in ("phase", "pool")}


@pytest.fixture(scope="module")
def summaries(runs) -> dict:
    return {i: v[0] for i, v in runs.items()}


def test_registered():
    assert registry.get("phase") is phase.EXPERIMENT and registry.get("pool") is pool.EXPERIMENT
    pts = phase.points(phase.EXPERIMENT.params("full"))
    assert {p["D"] for p in pts} == {5, 10, 20, 40} and all(p["N"] == 5 * p["D"] for p in pts)
    assert [p["P"] for p in pts if p["D"] == 10 and p["tau"] == 1.0] == [110]  # τ = 1 is on the grid
    full = pool.EXPERIMENT.params("full")
    assert (full["D"], full["c_N"], full["P"]) == ([5, 10, 20], 5, 4000)
    pts = pool.points(full)
    assert [p["T"] for p in pts if p["D"] == 10][-1] == 0  # the fresh-task reference point
    assert max(p["T"] for p in pts) == 4000 and all(p["N"] == 5 * p["D"] for p in pts)


def test_icl_solution_is_the_least_squares_scalar():
    f = sample_features(PromptSpec(D=4, N=12), 300, np.random.default_rng(0))
    E = np.diag([1.0] * 4 + [0.0])
    exact = Features(a=f.a, b=f.b, y=2.5 * predict(E, f), N=f.N)  # labels exactly 2.5·u
    np.testing.assert_allclose(icl_solution(exact), 2.5 * E, rtol=1e-12)
    W = icl_solution(f)  # on real labels: no other multiple of E fits the training set better
    assert np.count_nonzero(W) == 4 and W[0, 0] > 0
    best = query_error(W, f)
    for scale in (0.9, 1.1):
        assert query_error(scale * W, f) > best


@given(P=st.integers(1, 30), seed=st.integers(0, 2**31))
def test_flat_fraction_is_one_minus_rank_over_K(P, seed):
    f = sample_features(PromptSpec(D=3, N=6), P, np.random.default_rng(seed))  # K_eff = 12
    assert SpinGlass(f).flat_fraction() == pytest.approx(1 - min(P, 12) / 12, abs=1e-12)


def test_pool_features_sizes_and_shared_task():
    rng = np.random.default_rng(3)
    spec = PromptSpec(D=4, N=20, task_pool=1)
    (train, test), _ = pool_sets(spec, (2000, 1000), rng)
    assert train.a.shape == (2000, 5) and test.a.shape == (1000, 5) and test.y.shape == (1000,)
    # one task w: E[a_{1..D}] = N·w/√D for train and test alike (fresh tasks would give 0)
    m_train, m_test = train.a[:, :4].mean(0), test.a[:, :4].mean(0)
    assert np.linalg.norm(m_train - m_test) < 0.15 * np.linalg.norm(m_train)
    (other, _), _ = pool_sets(spec, (2000, 1), np.random.default_rng(4))
    assert np.linalg.norm(other.a[:, :4].mean(0) - m_train) > 0.15 * np.linalg.norm(m_train)


def test_single_task_leaves_exactly_D_flat_directions():
    # With one task w, a_{1..D}·w = √D·a_{D+1} for every prompt, so M = [w zᵀ; −√D zᵀ] never
    # enters a prediction: D flat directions remain however many prompts there are.
    D = 4
    (train,), _ = pool_sets(PromptSpec(D=D, N=10, task_pool=1), (500,), np.random.default_rng(1))
    assert SpinGlass(train).flat_fraction() == pytest.approx(D / (D * (D + 1)))
    (two,), _ = pool_sets(PromptSpec(D=D, N=10, task_pool=2), (500,), np.random.default_rng(1))
    assert SpinGlass(two).flat_fraction() == 0.0


def test_phase_collapse(summaries):
    s = summaries["phase"]
    assert s["max_peak_rel_offset"] <= 0.15  # the min-norm interpolation peak is at τ = 1 for every D
    for D in (4, 6, 8):
        d = s[f"D={D}"]
        assert d["max_flat_fraction_gap"] < 0.02  # flat fraction = 1 − min(τ, 1)
        assert d["contrast_minnorm_at_tau_max"] > 0.8
        # at τ = 10 the ground state approaches the ICL solution c*·I from above
        assert (
            d["test_error_icl_at_tau_max"] < d["test_error_minnorm_at_tau_max"] < 1.5 * d["test_error_icl_at_tau_max"]
        )
        assert d["test_error_at_tau_min"] > 3 * d["test_error_minnorm_at_tau_max"]


def test_pool_needs_order_D_distinct_tasks(summaries):
    s = summaries["pool"]
    for D in (3, 6):
        g = s[f"D={D}"]
        fresh, in_pool, ref = np.array(g["gs_fresh"]), np.array(g["gs_pool"]), g["fresh_reference_gs"]
        # one task: memorised (pool error far below the fresh one), no ICL (fresh error ≈ the trivial 1)
        assert in_pool[0] < 0.3 * fresh[0] and fresh[0] > 3 * ref
        # many tasks: both errors reach the fresh-task-per-prompt reference (seeds 0-5: within 15 %)
        assert abs(fresh[-1] - ref) < 0.25 * ref and abs(in_pool[-1] - ref) < 0.25 * ref
        assert g["contrast"][0] < 0.5 < g["contrast"][-1]
        # ICL needs a few times D distinct tasks -- far fewer than the D(D+1) the prompts must exceed
        assert 1.0 <= g["T_star_over_D"] <= 8.0
        # one task leaves exactly D flat directions (see above); two or more none
        assert g["rank"][0] == g["D(D+1)"] - D and all(r == g["D(D+1)"] for r in g["rank"][1:])
    # in units of D(D+1) the threshold moves down as D grows (it scales like D, not D²)
    assert s["D=6"]["T_star_over_DD1"] < s["D=3"]["T_star_over_DD1"] and s["D=6"]["T_star_over_DD1"] < 1.0


def test_threshold_interpolation():
    T = np.array([1.0, 10.0, 100.0])
    assert pool.threshold_T(T, np.array([4.0, 2.0, 1.0]), level=2.0) == pytest.approx(10.0)
    assert pool.threshold_T(T, np.array([4.0, 4.0, 1.0]), level=2.0) == pytest.approx(100**0.5 * 10**0.5)
    assert np.isnan(pool.threshold_T(T, np.array([4.0, 3.0, 2.0]), level=1.5))


@pytest.mark.parametrize(
    "exp_id, keys",
    [
        ("phase", ("ridge_test_error", "minnorm_test_error", "icl_test_error")),
        ("pool", ("gs_fresh", "icl_fresh", "gs_pool", "icl_pool")),  # pool: the in-distribution ``tasks=`` form
    ],
)
def test_exact_population_error_is_the_mean_of_the_monte_carlo_one(runs, exp_id, keys):
    """Given W, the Monte-Carlo test error on P_test prompts is an unbiased estimate of the exact population
    error of the same W (same normalisation: mean squared error of the query, SPEC §8).  Pooled over every
    repeat of the quick run, their relative difference averages to 0 within 5 standard errors and 2.5 %; a
    normalisation off by (N+1)/N (≥ 2.5 % at these N ≤ 40) or a missing term would fail."""
    _, recs = runs[exp_id]
    for key in keys:
        mc = np.concatenate([np.asarray(r[f"{key}_per_repeat"], float) for r in recs])
        exact = np.concatenate([np.asarray(r[f"{key}_population_per_repeat"], float) for r in recs])
        assert np.all(np.isfinite(exact)) and mc.shape == exact.shape and mc.size >= 100
        rel = mc / exact - 1.0
        sem = rel.std(ddof=1) / np.sqrt(rel.size)
        assert abs(rel.mean()) < 5 * sem and abs(rel.mean()) < 0.025, (key, rel.mean(), sem)
        assert np.median(np.abs(rel)) < 0.15  # each repeat: P_test prompts' worth of Monte-Carlo noise


def test_pool_sets_returns_the_tasks_of_its_prompts():
    """The tasks returned are those the prompts were drawn with (the draws themselves are pinned by the
    pool experiment's golden quick results, tests/data/golden/pool.csv)."""
    spec = PromptSpec(D=3, N=8, task_pool=40)  # 40 tasks, 30 + 20 prompts: some tasks drawn by neither set
    sets, tasks = pool_sets(spec, (30, 20), np.random.default_rng(5))
    assert [f.P for f in sets] == [30, 20]
    seen = np.all(np.isfinite(tasks), axis=1)
    assert tasks.shape == (40, 3) and 0 < seen.sum() < 40 and np.all(np.isnan(tasks[~seen]))
    for f in sets:  # noiseless: every query label is w·x_q/√D for one of the drawn tasks
        pred = f.b[:, :3] @ tasks[seen].T / np.sqrt(3)
        assert np.all(np.min(np.abs(pred - f.y[:, None]), axis=1) < 1e-10)


def test_population_rows_nan_weights_unseen_tasks_and_correlated_tokens():
    from spinglass_icl.theory import population_error
    from spinglass_icl.validation import InputError

    D, spec = 3, PromptSpec(D=3, N=5, noise=0.5)
    W = np.random.default_rng(0).standard_normal((2, D + 1, D + 1))
    W[1, 0, 0] = np.nan  # a failed AMP run
    out = population_rows(W, spec)
    assert out[0] == pytest.approx(float(population_error(W[0], D, 5, 0.5))) and np.isnan(out[1])
    tasks = np.random.default_rng(1).standard_normal((2, 4, D))
    tasks[:, 3] = np.nan  # one pool task never drawn: it counts as a fresh task
    got = population_rows(W[:1], spec, tasks[:1])[0]
    want = (3 * population_error(W[0], D, 5, 0.5, tasks[0, :3]) + population_error(W[0], D, 5, 0.5)) / 4
    assert got == pytest.approx(float(want))
    with pytest.raises(InputError, match="iid tokens"):
        population_rows(W[:1], PromptSpec(D=3, N=5, correlation=0.3))
