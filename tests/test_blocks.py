"""The catalog's building blocks (experiments/sweep.py, panels.py, spec.py) and explicit randomness."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from conftest import make_spinglass
from spinglass_icl import plotting
from spinglass_icl.experiments import panels
from spinglass_icl.experiments.catalog import figS1, phase
from spinglass_icl.experiments.points import grid, pick
from spinglass_icl.experiments.records import column, groups, nan_mean_std, repeat_stats, select
from spinglass_icl.experiments.spec import point_seed
from spinglass_icl.prompts import PromptSpec, sample_features, sample_prompts
from spinglass_icl.solvers import amp, langevin, sample_exact
from spinglass_icl.spinglass import flat_mask
from spinglass_icl.validation import InputError


def test_grid_is_the_product_with_fixed_and_derived_entries():
    pts = grid(
        {"D": [2, 3], "x": [0.5, 1.0]},
        {"R": 4},
        derive=lambda p: {"P": int(p["x"] * p["D"] ** 2)},
        where=lambda p: p["P"] != 2,
    )
    assert pts == [
        {"D": 2, "x": 1.0, "P": 4, "R": 4},
        {"D": 3, "x": 0.5, "P": 4, "R": 4},
        {"D": 3, "x": 1.0, "P": 9, "R": 4},
    ]
    assert pick({"a": 1, "b": 2, "c": 3}, ("a", "c")) == {"a": 1, "c": 3}


def test_repeat_stats_ignore_non_finite_repeats():
    out = repeat_stats({"e": np.array([1.0, 3.0, np.nan])})
    assert out["e_mean"] == 2.0 and out["e_std"] == 1.0 and out["e_per_repeat"].shape == (3,)
    assert all(np.isnan(nan_mean_std([np.nan, np.inf])))


def test_groups_select_column():
    recs = [{"D": 3, "t": 2.0, "y": 1.0}, {"D": 2, "t": 1.0, "y": 2.0}, {"D": 3, "t": 1.0, "y": 3.0}]
    g = groups(recs, "D", sort="t")
    assert list(g) == [2, 3] and [r["t"] for r in g[3]] == [1.0, 2.0]
    assert column(select(recs, "t", D=3), "y").tolist() == [3.0, 1.0]
    assert list(groups(recs, "D", where={"t": 2.0})) == [3]


def test_renamed_parameters_keep_their_seeds():
    """phase's tau and figS1's P_over_D2 were published as alpha: the same points draw the same data."""
    for exp, new in ((phase.EXPERIMENT, "tau"), (figS1.EXPERIMENT, "P_over_D2")):
        pt = next(p for p in exp.points(exp.params("quick")) if new in p)
        old = {("alpha" if k == new else k): v for k, v in pt.items()}
        assert exp.seed(7, pt) == point_seed(7, old) != point_seed(7, pt)


def test_panels_letter_label_and_keep_legends_off_the_data():
    fig = Figure()
    a, b = fig.subplots(1, 2)
    a.set_title("(z) first")
    panels.weights(b, np.eye(3), "W", label="weight")
    a.plot([0, 1], [0, 1], label="line")
    panels.legend(a)
    panels.letters([a, b])
    panels.finish(fig)
    assert [a.get_title(), b.get_title()] == ["(a) first", "(b) W"]
    cbar_axes = [ax for ax in fig.axes if ax not in (a, b)]
    assert [ax.get_ylabel() for ax in cbar_axes] == ["weight"]
    assert a.get_legend() is not None and not plotting.covers_data(a, a.get_legend())  # inside, off the line


def test_flat_mask_rules():
    lam = np.array([-1e-18, 1e-17, 1e-3, 2.0])
    assert flat_mask(lam).tolist() == [True, True, False, False]  # rank rule: n·eps·λ_max ≈ 1.8e-15
    assert flat_mask(lam, 1e-2).tolist() == [True, True, True, False]
    assert flat_mask(lam, rtol=1e-2).tolist() == [True, True, True, False]  # 1e-3 < 1e-2·2
    # Hessian eigenvalues λ0 + (Gram eigenvalue): the shift takes λ0 off before the rule
    assert flat_mask(lam + 0.5, shift=0.5).tolist() == [True, True, False, False]
    assert not flat_mask(lam + 0.5).any()


@pytest.mark.parametrize("bad", [0, 1.5, None, "seed"])
def test_randomness_is_an_explicit_generator(bad):
    sg = make_spinglass(D=2, N=5, P=20, lambda0=0.1, seed=0)
    spec = PromptSpec(D=2, N=5)
    for call in (
        lambda: amp(sg, rng=bad),
        lambda: sample_features(spec, 3, bad),
        lambda: sample_prompts(spec, 3, bad),
        lambda: sample_exact(sg, 10.0, 2, bad),
        lambda: langevin(sg, 10.0, steps=3, burn_in=1, rng=bad),
    ):
        with pytest.raises(InputError, match="numpy Generator"):
            call()
    with pytest.raises(TypeError):
        amp(sg)  # no hidden default
