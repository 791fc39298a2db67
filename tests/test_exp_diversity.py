"""The `diversity` experiment (task diversity across every architecture, against the Bayes-optimal predictors):
its declaration, the data of a point, the reference predictors against exact answers, the tidy table and M*,
and the quick run's figure and summary."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

from spinglass_icl.experiments import registry
from spinglass_icl.experiments import task_diversity as td
from spinglass_icl.experiments.catalog import diversity
from spinglass_icl.experiments.draws import generators
from spinglass_icl.experiments.records import threshold_crossing
from spinglass_icl.models import names
from spinglass_icl.theory import icl_error_theory
from spinglass_icl.validation import InputError

TINY = dict(D=2, N=4, noise=0.5, P=60, P_val=10, P_test=200, repeats=2, batch=0, lambda0=0.005)


@pytest.fixture(scope="module")
def quick(quick_run: Callable[[str], tuple]) -> tuple:
    return quick_run("diversity")


def test_registered_with_the_issue_sizes() -> None:
    exp = registry.get("diversity")
    assert exp is diversity.EXPERIMENT
    full = exp.params("full")
    assert (full["D"], full["N"], full["noise"], full["M"]) == (8, 16, 0.5, [2**k for k in range(16)])
    assert full["repeats"] >= 5
    assert full["models"].split(",") == [*names(in_figure=True), "ground_state", "dmmse", "ridge"]
    for name in names(in_figure=True):  # every architecture with its registered full recipe
        assert f"{name}_lr" in full and f"{name}_epochs" in full
    assert exp.columns is not None and set(exp.columns) >= {
        "model",
        "M",
        "id_mean",
        "ood_mean",
        "dist_dmmse_*_mean",
        "dist_ridge_*_mean",
    }


def test_points_every_model_M_and_repeat_once_and_models_share_the_data() -> None:
    exp = diversity.EXPERIMENT
    p = exp.params("full")
    pts = diversity.points(p)
    models = p["models"].split(",")
    assert len(pts) == (len(p["M"]) + 1) * len(models)
    assert {pt["M"] for pt in pts} == set(p["M"]) | {0}
    by_data: dict = {}
    for pt in pts:
        by_data.setdefault((pt["M"], pt["batch"]), set()).add(exp.seed(0, pt))
    assert all(len(seeds) == 1 for seeds in by_data.values())  # one seed per (M, batch): same pools and prompts
    assert [pt["model"] for pt in pts[:3]] == ["ground_state"] * 3 and pts[0]["M"] == 0  # cheap ones first
    for n in (1, 2, 5, 16):
        assert sorted(diversity.coarse_to_fine(n)) == list(range(n))


@pytest.mark.parametrize(
    ("override", "match"),
    [({"models": "ridge,gpt"}, "unknown model"), ({"P_val": 10}, "held-out"), ({"dtype": "float16"}, "dtype")],
)
def test_bad_input_refused_before_any_point(override: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        diversity.points(diversity.EXPERIMENT.params("full", override))


def test_pool_tasks_are_shared_by_training_and_in_distribution_test() -> None:
    rng, _ = generators(3)
    data = td.draw({**TINY, "M": 3}, rng)
    assert data.pools is not None and data.pools.shape == (2, 3, 2)
    for r in range(2):
        pool = data.pools[r]
        for split in ("train", "val", "id"):
            w = data.sets[split].w[r]
            assert np.all(np.min(np.linalg.norm(w[:, None] - pool[None], axis=-1), axis=1) == 0)
        fresh = data.sets["ood"].w[r]
        assert np.all(np.min(np.linalg.norm(fresh[:, None] - pool[None], axis=-1), axis=1) > 0)
    assert td.draw({**TINY, "M": 0}, rng).pools is None


def test_reference_points_against_exact_answers() -> None:
    """One-task pool: dMMSE knows the task, so its pool-task error is the query noise alone; distances to itself
    vanish; at M = ∞ dMMSE is ridge; the ground state and the κ-theory are finite."""
    pt = {**TINY, "M": 1}
    out = {m: td.compute({**pt, "model": m}, 11, "cpu") for m in td.REFERENCE}
    rng, _ = generators(11)
    data = td.draw(pt, rng)
    q = data.sets["id"]
    noise_only = np.mean((q.y - np.einsum("rpd,rpd->rp", q.X[..., :-1, -1], q.w) / math.sqrt(2)) ** 2, axis=1)
    np.testing.assert_allclose(out["dmmse"]["id_per_repeat"], noise_only, rtol=1e-9)
    assert out["dmmse"]["dist_dmmse_ood_mean"] == 0.0 and out["ridge"]["dist_ridge_id_mean"] == 0.0
    assert out["dmmse"]["ood_mean"] > out["ridge"]["ood_mean"]  # one task cannot solve fresh ones
    assert np.isfinite(out["ground_state"]["theory_ood"]) and out["ground_state"]["id_mean"] < 0.6
    inf = {m: td.compute({**pt, "M": 0, "model": m}, 11, "cpu") for m in td.BAYES}
    assert inf["dmmse"]["ood_mean"] == inf["ridge"]["ood_mean"] and inf["dmmse"]["dist_ridge_ood_mean"] == 0.0


def _rows(model: str, Ms: list[int], ood: list[float]) -> list[dict]:
    rows = []
    for M, e in zip(Ms, ood):
        for split in td.SPLITS:
            rows.append({"model": model, "M": M, "split": split, "error_mean": e, "dist_dmmse": 0.0, "dist_ridge": 0.0})
    return rows


def test_transition_interpolates_on_the_log_grid() -> None:
    rows = _rows("x", [1, 2, 4, 8, 0], [4.0, 2.0, 1.0, 1.0, 1.0])  # ratio 2 at M=2, 1 at M=4: crosses 1.1 between
    expected = 2 * 2 ** (math.log(1.1 / 2) / math.log(1 / 2))
    assert td.transition(rows, "x") == pytest.approx(expected, rel=1e-12)
    assert math.isnan(td.transition(_rows("y", [1, 2, 0], [4.0, 3.0, 1.0]), "y"))  # never within 10 %
    assert math.isnan(td.transition(_rows("z", [1, 2], [4.0, 3.0]), "z"))  # no M = ∞ point


def test_quick_run_tidy_table_summary_and_figure(quick: tuple) -> None:
    s, records = quick
    folder = Path(s.folder)
    with open(folder / "diversity.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == list(td.TIDY_COLUMNS)
    p = diversity.EXPERIMENT.params("quick")
    models = p["models"].split(",")
    assert len(rows) == len(models) * (len(p["M"]) + 1) * 2
    assert {r["model"] for r in rows} == set(models) and {int(r["M"]) for r in rows} == set(p["M"]) | {0}
    assert all(int(r["repeats"]) == p["repeats"] for r in rows)
    summary = s.summary
    for m in models:
        assert {"ood", "id", "dist_dmmse_at_M1", "dist_ridge_at_inf"} <= set(summary[m])
        assert ({"M_star", "M_star_over_D", "M_star_over_DD1"} <= set(summary[m])) == (m != "ridge")  # flat in M
    gs = summary["ground_state"]
    assert gs["M_star_over_DD1"] == pytest.approx(gs["M_star"] / (p["D"] * (p["D"] + 1)), abs=1e-3)
    fig = diversity.plot(records, p)
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert all(ax.get_ylabel() and ax.get_xlabel() for ax in fig.axes)


def test_shipped_full_run_is_the_declared_one() -> None:
    """docs/data/diversity.csv: every (model, M, split) of the full size with its repeats; the ground state's
    M* agrees with Lu et al.'s κ-theory (same 10 % rule) within 10 %, and it lies far below dMMSE's."""
    path = Path(__file__).parents[1] / "docs" / "data" / "diversity.csv"
    with open(path, newline="") as fh:
        rows = [
            {**r, "M": int(r["M"]), **{k: float(r[k]) for k in ("error_mean", "dist_dmmse", "dist_ridge")}}
            for r in csv.DictReader(fh)
        ]
    p = diversity.EXPERIMENT.params("full")
    models = p["models"].split(",")
    assert len(rows) == len(models) * (len(p["M"]) + 1) * 2
    assert all(int(r["repeats"]) == p["repeats"] and int(r["D"]) == p["D"] for r in rows)
    M = np.array(p["M"], float)
    theory = icl_error_theory(p["D"], p["N"], p["P"], p["noise"], pool=M)
    inf = icl_error_theory(p["D"], p["N"], p["P"], p["noise"])
    kappa_star = threshold_crossing(M, theory / inf, td.THRESHOLD)
    assert td.transition(rows, "ground_state") == pytest.approx(kappa_star, rel=0.1)
    assert td.transition(rows, "dmmse") > 100 * td.transition(rows, "ground_state")
