"""Experiments fig2, fig4a, fig4b, figS1, figS4, figS6: quick computations on small overrides, their
plots, and each experiment's qualitative result (plus the shared helpers they rely on)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from spinglass_icl.experiments import draws, reference
from spinglass_icl.experiments.registry import get
from spinglass_icl.prompts import PromptSpec
from spinglass_icl.solvers import solve_exact
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.validation import InputError


def run_points(exp_id: str, overrides: dict, seed: int = 0) -> tuple[list[dict], dict]:
    """Compute every point of ``exp_id`` at quick size with ``overrides``; records as the runner makes them."""
    exp = get(exp_id)
    params = exp.params("quick", overrides)
    records = []
    for i, pt in enumerate(exp.points(params)):
        res = exp.compute(pt, seed + i, "cpu")
        records.append({**pt, **{k: (np.asarray(v) if isinstance(v, np.ndarray) else v) for k, v in res.items()}})
    return records, params


def check_plot(exp_id: str, records: list[dict], params: dict) -> None:
    exp = get(exp_id)
    fig = exp.plot(records, params)
    assert isinstance(fig, Figure) and fig.axes
    for ax in fig.axes:
        if ax.get_visible() and ax.get_label() != "<colorbar>" and ax.images == [] and ax.lines:
            assert ax.get_xlabel() and ax.get_ylabel()
    assert isinstance(exp.summary(records, params), dict)


# -- shared helpers -----------------------------------------------------------------------------


def test_nested_spinglasses_match_direct_grams():
    rng = np.random.default_rng(3)
    f = draws.draw_repeats(PromptSpec(D=3, N=7), 40, 2, rng)
    for sg in draws.nested_spinglasses(f, [5, 17, 40], 0.2):
        prefix = type(f)(a=f.a[:, : sg.P], b=f.b[:, : sg.P], y=f.y[:, : sg.P], N=f.N)
        ref = SpinGlass(prefix, 0.2)
        np.testing.assert_allclose(sg.gram, ref.gram, atol=1e-13)
        np.testing.assert_allclose(sg.h, ref.h)
    with pytest.raises(InputError):
        list(draws.nested_spinglasses(f, [10, 5], 0.2))


def test_ground_states_match_solve_exact():
    rng = np.random.default_rng(4)
    sg = SpinGlass(draws.draw_repeats(PromptSpec(D=3, N=7), 30, 2, rng), 0.05)
    gs = reference.ground_states(sg, [0.05, 0.0])
    np.testing.assert_allclose(gs[0.05], solve_exact(sg).mean, atol=1e-10)
    np.testing.assert_allclose(gs[0.0], solve_exact(SpinGlass(sg.features, 0.0)).mean, atol=1e-10)


def test_paper_cholesky_goes_through_explicit_prompts():
    """The authors' X·L sampler has covariance LᵀL: the query token's variance is L[-1]·L[-1] = 1 but
    the first token's is (LᵀL)_11 ≠ 1; draw_repeats must route it to the explicit sampler."""
    rng = np.random.default_rng(5)
    spec = PromptSpec(D=2, N=3, correlation=0.6, cholesky="paper")
    f = draws.draw_repeats(spec, 4000, 1, rng)
    L = np.linalg.cholesky(np.full((4, 4), 0.6) + 0.4 * np.eye(4))
    # b = query token: covariance (LᵀL)[N, N] per coordinate
    assert np.var(f.b[0, :, 0]) == pytest.approx((L.T @ L)[3, 3], rel=0.1)
    assert (L.T @ L)[3, 3] < 0.8  # distinguishes it from the correct unit variance


# -- experiments ---------------------------------------------------------------------------------


def test_fig2_large_P_generalises():
    records, params = run_points("fig2", {"repeats": 2, "epochs": 150, "amp_P": 3000})
    by = {(r["panel"], r["P"]): r for r in records}
    small, large = by[("train", 10)], by[("train", 1000)]
    assert large["final_test_loss"] < 0.2 * small["final_test_loss"]
    assert small["final_train_loss"] < 1e-3  # P=10 is memorised
    amp_rec = by[("amp", 3000)]
    assert amp_rec["converged"] and 0 < amp_rec["rel_dist_m_exact"] < 0.1
    assert amp_rec["contrast"] > 0.8
    check_plot("fig2", records, params)


def test_fig4a_contrast_grows_with_P_and_N():
    records, params = run_points("fig4a", {"N": [20, 100], "P": [300, 1000], "repeats": 2})
    recs = sorted(records, key=lambda r: r["N"])
    C = np.array([r["contrast"] for r in recs])  # (N, P)
    assert np.isfinite(C).all()
    assert C[0, 1] > C[0, 0] and C[1, 1] > C[1, 0]  # grows with P
    assert C[1, 0] > C[0, 0] and C[1, 1] > C[0, 1]  # grows with N
    check_plot("fig4a", records, params)


def test_fig4b_amp_matches_training():
    records, params = run_points("fig4b", {"N": [20, 150], "repeats": 4, "chunk": 4, "P_test": 400})
    for r in records:
        assert r["amp_converged"] == 1.0
        # within the paper's error bar (std over training sets), and the paired gap is small
        assert abs(r["amp_mean"] - r["adam_mean"]) < max(r["adam_std"], 0.1 * r["adam_mean"])
        # Adam with wd trains to the ground state at λ0 = wd/2
        assert abs(r["adam_mean"] - r["exact_wd2_mean"]) < 0.01 * r["adam_mean"]
    recs = sorted(records, key=lambda r: r["N"])
    assert recs[1]["adam_mean"] < recs[0]["adam_mean"]
    check_plot("fig4b", records, params)
    assert get("fig4b").summary(records, params)["better_match_for_adam"] == "exact at λ0=wd/2"


def test_fig4b_unpaired_option_runs():
    records, _ = run_points(
        "fig4b", {"N": [50], "repeats": 2, "chunk": 2, "P_test": 200, "P": 8000, "epochs": 500, "pairing": "unpaired"}
    )
    assert np.isfinite(records[0]["adam_mean"]) and np.isfinite(records[0]["exact_mean"])


def test_figS1_peak_at_interpolation_threshold():
    D = 16
    grid = [0.1, 0.5, 0.9, 1.0, 1.05, 1.1, 1.2, 1.5, 2.0]
    records, params = run_points(
        "figS1",
        {
            "D": D,
            "P_over_D2": grid,
            "models": ["merged"],
            "repeats": 4,
            "chunk": 4,
            "curve_P": [435],
            "curve_lr": [0.02],
            "curve_epochs": 50,
            "curve_repeats": 2,
        },
    )
    from spinglass_icl.experiments.catalog.figS1 import peak_P

    assert abs(peak_P(records, "merged") / (D * (D + 1)) - 1) <= 0.10
    check_plot("figS1", records, params)


def test_figS4_finite_and_amp_matches_adam():
    records, params = run_points("figS4", {"c": [0.05, 0.15, 0.8], "repeats": 2, "chunk": 2, "P_test": 300})
    for r in records:
        assert np.isfinite(r["adam_mean"]) and np.isfinite(r["exact_mean"])
        assert abs(r["adam_mean"] - r["exact_wd2_mean"]) < 0.01 * r["adam_mean"]
    for r in (r for r in records if r["c"] <= 0.15):  # where the paper's AMP converges
        assert r["amp_converged"] == 1.0
        assert abs(r["amp_mean"] - r["adam_mean"]) < 0.1 * r["adam_mean"]
    check_plot("figS4", records, params)


def test_figS4_paper_cholesky_option():
    records, _ = run_points(
        "figS4",
        {"c": [0.5], "repeats": 1, "chunk": 1, "P": 1500, "P_test": 200, "epochs": 200, "convention": "paper", "N": 30},
    )
    assert np.isfinite(records[0]["adam_mean"])


def test_figS6_loss_forms_agree_and_distance_decreases():
    from spinglass_icl.experiments.catalog.figS6 import loss_direct, loss_terms

    g = torch.Generator().manual_seed(0)
    W11, W21 = (
        torch.randn(5, 4, 4, generator=g, dtype=torch.float64),
        torch.randn(5, 1, 4, generator=g, dtype=torch.float64),
    )
    X = torch.randn(5, 4, 9, generator=g, dtype=torch.float64)
    C, w = X @ X.transpose(-1, -2) / 9, torch.randn(5, 3, 4, generator=g, dtype=torch.float64)
    torch.testing.assert_close(loss_terms(W11, W21, C, w), loss_direct(W11, W21, C, w))
    records, params = run_points("figS6", {"repeats": 50, "epochs": 400})
    r = records[0]
    assert r["final_dist_mean"] < 0.5 * r["initial_dist_mean"]
    # Adam reaches the unique minimiser (W11 = C⁻¹, W21 = 0)
    assert r["final_W21_rms"] < 0.05
    assert r["final_dist_mean"] == pytest.approx(r["exact_min_dist_mean"], rel=0.2)
    check_plot("figS6", records, params)
