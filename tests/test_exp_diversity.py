"""The `diversity` experiment (task diversity across every architecture, against the Bayes-optimal predictors):
its declaration, the data of a point, the reference predictors against exact answers, the tidy table and M*,
and the quick run's figure and summary."""

from __future__ import annotations

import csv
import json
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
    # Raventós et al.'s signal-to-noise ratio: their noise variance 0.25 with labels wᵀx is σ = 0.5/√D here
    assert (full["D"], full["N"], full["M"]) == (8, 16, [2**k for k in range(16)])
    assert full["noise"] == pytest.approx(0.5 / math.sqrt(8), rel=1e-15)
    assert full["repeats"] >= 10 and full["protocol"] == "fresh"
    assert full["models"].split(",") == [*names(in_figure=True), "lintf", "ground_state", "dmmse", "ridge"]
    assert exp.params("quick")["protocol"] == "fixed" and exp.params("quick")["noise"] == 0.5
    for name in names():  # every architecture with its registered full recipe
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
    batches = -(-p["repeats"] // p["chunk"])
    assert len(pts) == (len(p["M"]) + 1) * len(models) * batches
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
    [
        ({"models": "ridge,gpt"}, "unknown model"),
        ({"P_val": 10}, "held-out"),
        ({"dtype": "float16"}, "dtype"),
        ({"protocol": "online"}, "protocol"),
        ({"lintf_layers": 65}, "lintf_layers"),
        ({"tf_heads": 3}, "heads"),
    ],
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


DATA = Path(__file__).parents[1] / "docs" / "data"
# the shipped full runs: 0.2.0's σ = 0.5 run (8× Raventós's noise-to-signal ratio) and, once the lead copies it,
# the run at Raventós's ratio (docs/data/diversity-full, diversity.csv)
SHIPPED = sorted(p for p in DATA.glob("diversity*-full") if (p / "config.json").exists())


def _tidy(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return [
            {**r, "M": int(r["M"]), **{k: float(r[k]) for k in ("error_mean", "dist_dmmse", "dist_ridge")}}
            for r in csv.DictReader(fh)
        ]


@pytest.mark.parametrize("folder", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_full_runs_are_the_declared_ones(folder: Path) -> None:
    """Each shipped run (docs/data/diversity*-full, its tidy docs/data/<name>.csv and <name>-thresholds.csv,
    copies of the folder's export): every (model, M, split) of its config with its repeats, the export's
    declared columns, every interval around its value."""
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["experiment"] == "diversity" and cfg["size"] == "full"
    p = cfg["params"]
    stem = folder.name.removesuffix("-full")
    for name in ("diversity.csv", "diversity-thresholds.csv"):
        shipped = DATA / name.replace("diversity", stem, 1)
        assert shipped.read_bytes() == (folder / name).read_bytes(), shipped
    rows = _tidy(DATA / f"{stem}.csv")
    assert list(rows[0]) == list(td.TIDY_COLUMNS)
    models = p["models"].split(",")
    assert len(rows) == len(models) * (len(p["M"]) + 1) * 2
    assert all(int(r["repeats"]) == p["repeats"] and int(r["D"]) == p["D"] for r in rows)
    assert all(float(r["error_lo"]) <= r["error_mean"] <= float(r["error_hi"]) for r in rows)
    with open(DATA / f"{stem}-thresholds.csv", newline="") as fh:
        thr = list(csv.DictReader(fh))
    assert list(thr[0]) == list(td.THRESHOLD_COLUMNS)
    assert {r["model"] for r in thr} == set(models) - {"ridge"}
    for r in thr:  # a ratio of means lies inside its percentile interval (M*'s may not: not asserted)
        v, lo, hi = (
            float(r[k]) for k in ("ood_at_inf_over_ridge", "ood_at_inf_over_ridge_lo", "ood_at_inf_over_ridge_hi")
        )
        assert lo <= v <= hi, r["model"]
        m_star = float(r["M_star"])  # NaN: never within 10 % of its M = ∞ value
        assert float(r["M_star_lo"]) <= float(r["M_star_hi"]) and not m_star <= 0, r["model"]


def test_shipped_sigma_half_run_crosses_at_the_kappa_theory() -> None:
    """0.2.0's σ = 0.5 run (SIGMA_HALF): the ground state's M* agrees with Lu et al.'s κ-theory (same 10 %
    rule) within 10 %, and it lies far below dMMSE's."""
    rows = _tidy(DATA / "diversity-sigma0.5.csv")
    cfg = json.loads((DATA / "diversity-sigma0.5-full" / "config.json").read_text())
    p = diversity.EXPERIMENT.params("full", diversity.SIGMA_HALF)
    assert {k: cfg["params"][k] for k in td.SEED_PARAMS if k in p} == {k: p[k] for k in td.SEED_PARAMS if k in p}
    M = np.array(p["M"], float)
    theory = icl_error_theory(p["D"], p["N"], p["P"], p["noise"], pool=M)
    inf = icl_error_theory(p["D"], p["N"], p["P"], p["noise"])
    kappa_star = threshold_crossing(M, theory / inf, td.THRESHOLD)
    assert td.transition(rows, "ground_state") == pytest.approx(kappa_star, rel=0.1)
    assert td.transition(rows, "dmmse") > 100 * td.transition(rows, "ground_state")


def test_protocol_fresh_only_where_minibatches_and_only_then_in_the_point() -> None:
    """A fresh-protocol point carries ``protocol``; a fixed one (and a full-batch recipe: SLA on the Gram
    form) does not, so that every quick point keeps the key (and golden result) it had before."""
    pts = diversity.points(diversity.EXPERIMENT.params("full", {"M": [4]}))
    by_model = {pt["model"]: pt for pt in pts if pt["batch"] == 0 and pt["M"] == 4}
    assert by_model["fla"]["protocol"] == "fresh" and by_model["lintf"]["protocol"] == "fresh"
    assert "protocol" not in by_model["sla"] and "protocol" not in by_model["dmmse"]
    quick = diversity.points(diversity.EXPERIMENT.params("quick"))
    assert not any("protocol" in pt for pt in quick)


def test_fresh_protocol_point_trains_on_new_prompts_from_the_pool() -> None:
    """A tiny fresh-protocol point: a different trained model than the fixed one's, its sequences per task
    reported; reproducible from the seed."""
    base = {**TINY, "M": 4, "dtype": "float64", "grad_chunk": 0}
    recipe = {"fla_lr": 0.02, "fla_epochs": 4, "fla_batch_size": 20, "fla_schedule": "cosine", "fla_warmup": 0}
    pt = {**base, **recipe, "fla_weight_decay": 0.0, "model": "fla"}
    fixed = td.compute(pt, 5, "cpu")
    fresh = td.compute({**pt, "protocol": "fresh"}, 5, "cpu")
    assert fresh["sequences"] == 4 * TINY["P"] and fresh["sequences_per_task"] == 4 * TINY["P"] / 4
    assert not np.allclose(fresh["ood_per_repeat"], fixed["ood_per_repeat"])
    again = td.compute({**pt, "protocol": "fresh"}, 5, "cpu")
    np.testing.assert_array_equal(again["ood_per_repeat"], fresh["ood_per_repeat"])


def _records(model: str, ood: dict[int, list[float]], **other: dict[int, list[float]]) -> list[dict]:
    recs = []
    for M, v in ood.items():
        r = {"model": model, "M": M, "batch": 0, "ood_per_repeat": np.array(v)}
        r.update({f"{k}_per_repeat": np.array(o[M]) for k, o in other.items()})
        recs.append(r)
    return recs


def test_bootstrap_intervals_cover_the_value_and_shrink_with_repeats() -> None:
    """M*'s bootstrap interval holds its point value; identical repeats give a zero-width interval; more spread
    gives a wider one; Raventós's crossing from the distances; the width in octaves of a known transition."""
    rng = np.random.default_rng(0)
    Ms = [1, 2, 4, 8, 16, 0]
    mean = {1: 4.0, 2: 3.0, 4: 2.0, 8: 1.2, 16: 1.0, 0: 1.0}
    exact = _records("x", {M: [mean[M]] * 8 for M in Ms})
    v, lo, hi = td.bootstrap(exact, [("x", "ood")], lambda c: td.m_star(c, "x"))
    assert lo == hi == v == pytest.approx(td.m_star({("x", "ood"): {M: np.array([mean[M]]) for M in Ms}}, "x"))
    noisy = _records("x", {M: list(mean[M] + 0.1 * rng.standard_normal(8)) for M in Ms})
    v, lo, hi = td.bootstrap(noisy, [("x", "ood")], lambda c: td.m_star(c, "x"))
    assert lo < v < hi and hi / lo < 3
    d_dmmse = {M: [float(M)] * 4 for M in Ms}
    d_ridge = {M: [16.0 / max(M, 1)] * 4 for M in Ms}  # closer to ridge from M = 4 on
    cross = _records("x", {M: [1.0] * 4 for M in Ms}, dist_dmmse_ood=d_dmmse, dist_ridge_ood=d_ridge)
    v, lo, hi = td.bootstrap(cross, [("x", "dist_ridge_ood"), ("x", "dist_dmmse_ood")], lambda c: td.m_cross(c, "x"))
    assert v == lo == hi == pytest.approx(4.0)
    # excess over M = ∞ halves per octave: from 0.9 to 0.1 of its M = 1 value takes log2(9) octaves
    halving = {M: [1.0 + 2.0 ** -math.log2(M)] for M in [1, 2, 4, 8, 16, 32]} | {0: [1.0]}
    curves = {("h", "ood"): {M: np.array(v) for M, v in halving.items()}}
    assert td.width(curves, "h") == pytest.approx(math.log2(9), rel=1e-9)


def _paired_records() -> list[dict]:
    """A model x and the references on 6 paired repeats at M = 1, 4, ∞ (id and ood, distances)."""
    rng = np.random.default_rng(1)
    recs = []
    for model, scale in (("ground_state", 1.5), ("dmmse", 1.0), ("ridge", 1.2)):
        for M in (1, 4, 0):
            base = {"model": model, "M": M, "batch": 0, "D": 2, "N": 4, "noise": 0.5}
            for k in ("id", "ood", "dist_dmmse_id", "dist_ridge_id", "dist_dmmse_ood", "dist_ridge_ood"):
                base[f"{k}_per_repeat"] = scale * (1 + 0.1 * rng.standard_normal(6)) / (1 + M)
            recs.append(base)
    return recs


def test_tidy_intervals_are_the_bootstrap_of_the_same_ratio_and_reproducible() -> None:
    """Each tidy row's ratio is the paired ratio of the means with the summary's bootstrap interval (one
    resampling, :func:`td.ratio_interval` = :func:`td.bootstrap` of the same ratio); a reference's own
    ratio is 1 with a zero-width interval; the table is the same at every call (seeded)."""
    recs = _paired_records()
    rows = td.tidy_rows(recs)
    assert [list(r) for r in rows[:1]] == [list(td.TIDY_COLUMNS)] and len(rows) == 3 * 3 * 2
    row = next(r for r in rows if (r["model"], r["M"], r["split"]) == ("ground_state", 4, "id"))
    mine, ref = ("ground_state", "id"), ("dmmse", "id")

    def ratio(c: dict) -> float:
        return float(np.nanmean(c[mine][4]) / np.nanmean(c[ref][4]))

    v, lo, hi = td.bootstrap(recs, [mine, ref], ratio)
    assert (row["over_dmmse"], row["over_dmmse_lo"], row["over_dmmse_hi"]) == pytest.approx((v, lo, hi), rel=1e-12)
    assert lo < v < hi
    assert row["error_lo"] < row["error_mean"] < row["error_hi"]
    own = next(r for r in rows if (r["model"], r["M"], r["split"]) == ("dmmse", 1, "id"))
    assert own["over_dmmse"] == own["over_dmmse_lo"] == own["over_dmmse_hi"] == pytest.approx(1.0)
    assert td.tidy_rows(recs) == rows
    summary = td.intervals(recs, "ground_state")
    assert summary["id_over_dmmse_ci"]["4"] == [round(x, 4) for x in (v, lo, hi)]


def test_export_writes_the_tidy_and_thresholds_tables(tmp_path: Path) -> None:
    """write_tidy_csv writes diversity.csv and diversity-thresholds.csv with their declared columns; the
    thresholds are the summary's intervals."""
    recs = _paired_records()
    paths = td.write_tidy_csv(recs, {}, tmp_path)
    assert [Path(x).name for x in paths] == ["diversity.csv", "diversity-thresholds.csv"]
    with open(tmp_path / "diversity-thresholds.csv", newline="") as fh:
        thr = list(csv.DictReader(fh))
    assert list(thr[0]) == list(td.THRESHOLD_COLUMNS) and [r["model"] for r in thr] == ["ground_state", "dmmse"]
    ci = td.intervals(recs, "ground_state")["ood_at_inf_over_ridge_ci"]
    got = [float(thr[0][k]) for k in ("ood_at_inf_over_ridge", "ood_at_inf_over_ridge_lo", "ood_at_inf_over_ridge_hi")]
    assert [round(x, 4) for x in got] == ci
    assert all(meaning for meaning in {**td.TIDY_COLUMNS, **td.THRESHOLD_COLUMNS}.values())
