"""figS8 experiment: parameters from the registry, points, one quick point, plot, repeats.csv, a toy 7th model."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from spinglass_icl.experiments import registry, trained_models
from spinglass_icl.experiments.catalog import figS8
from spinglass_icl.models import Architecture, StackedModel, names, normal, register, unregister
from spinglass_icl.training import Budget
from spinglass_icl.validation import InputError

# what the shipped full run (docs/data/figS8-full) holds; every other test reads the registry, so an
# architecture registered in the package or by a plugin is tested with the same assertions
PAPER_MODELS = ("amp", "sla", "fla", "mhla", "sa", "tf")
MODELS = trained_models.model_names()
LINEAR = names(in_figure=True, linear=True)


@pytest.fixture(scope="module")
def quick_records(quick_run) -> list[dict]:
    """The quick points (one per model) of N=20 from the session's shared quick run."""
    return [r for r in quick_run("figS8")[1] if r["N"] == 20]


@pytest.fixture(scope="module")
def quick_record(quick_records) -> dict:
    merged: dict = {}
    for r in quick_records:
        merged.update(r)
    return merged


def test_registered_and_sizes():
    exp = registry.get("figS8")
    assert exp is figS8.EXPERIMENT
    full, quick = exp.params("full"), exp.params("quick")
    assert (full["D"], full["P"], full["N"], full["weight_decay"]) == (20, 10000, list(range(10, 201, 10)), 0.01)
    assert (full["lambda0"], full["beta"], full["damping"]) == (0.01, 100.0, 0.9)
    assert full["models"].split(",") == list(MODELS) == ["amp", *names(in_figure=True)]
    assert set(PAPER_MODELS) <= set(MODELS)
    assert quick["P"] > quick["D"] * (quick["D"] + 1)  # the ICL side of the transition
    sla = trained_models.budget("sla", full)  # the paper's fig4b optimiser: Adam lr 1e-3, wd 0.01, full batch
    assert (sla.lr, sla.epochs, sla.weight_decay, sla.batch_size) == (1e-3, 5000, 0.01, 0)
    for name in ("fla", "mhla", "sa", "tf"):  # minibatch Adam with a cosine decay at full size
        b = trained_models.budget(name, full)
        assert b.batch_size and b.schedule == "cosine" and b.weight_decay == (0.01 if name in ("fla", "mhla") else 0.0)
    assert full["tf_d_model"] == 32 and quick["tf_d_model"] == 8


def test_points_one_per_model_and_every_repeat_once():
    params = figS8.EXPERIMENT.params("full")
    pts = figS8.points(params)
    assert len(pts) == 20 * 2 * len(MODELS)
    for N in params["N"]:
        for name in MODELS:
            mine = [p for p in pts if p["N"] == N and p["model"] == name]
            assert sum(p["repeats"] for p in mine) == params["repeats"]
            assert len({p["batch"] for p in mine}) == len(mine)
    # a point carries only what its model needs: changing the transformer's budget leaves FLA's keys alone
    fla = [p for p in pts if p["model"] == "fla"]
    assert "tf_epochs" not in fla[0] and "lambda0" not in fla[0] and "grad_chunk" not in fla[0]
    assert "tf_epochs" in next(p for p in pts if p["model"] == "tf")
    assert fla == [p for p in figS8.points({**params, "tf_epochs": 7}) if p["model"] == "fla"]
    # a model without a curriculum or held-out prompts leaves those fields out (its key predates them)
    assert not any("curriculum" in k or "val_prompts" in k for p in pts if p["model"] != "tf" for k in p)
    tf = next(p for p in pts if p["model"] == "tf")
    assert (tf["tf_curriculum_epochs"], tf["tf_val_prompts"]) == (16, 1000)
    sa = next(p for p in figS8.points({**params, "sa_curriculum_epochs": 5}) if p["model"] == "sa")
    assert (sa["sa_curriculum_epochs"], sa["sa_curriculum_frac"]) == (5, 0.25)
    assert trained_models.budget("sa", sa).curriculum_epochs == 5
    assert trained_models.budget("fla", fla[0]).curriculum_epochs == 0
    # AMP's points have the layout of the stored full run (docs/data/figS8-full): their keys are reusable
    amp = next(p for p in pts if p["model"] == "amp")
    assert sorted(amp) == sorted(
        [
            "N",
            "batch",
            "repeats",
            "D",
            "P",
            "P_test",
            "weight_decay",
            "dtype",
            "lambda0",
            "beta",
            "damping",
            "steps",
            "model",
        ]
    )
    # the models of one data set share the seed (the same prompts), different data sets do not
    seeds = {(p["N"], p["batch"], p["model"]): figS8.EXPERIMENT.seed(0, p) for p in pts}
    assert len({seeds[(10, 0, m)] for m in MODELS}) == 1
    assert seeds[(10, 0, "fla")] != seeds[(10, 1, "fla")] != seeds[(20, 1, "fla")]
    as_list = figS8.points({**params, "models": ["amp", "fla"]})  # the CLI parses a,b into a list
    assert [p["model"] for p in as_list[:2]] == ["amp", "fla"] and len(as_list) == 20 * 2 * 2
    odd = figS8.points({**params, "repeats": 7, "chunk": 3, "models": "amp"})
    assert [p["repeats"] for p in odd if p["N"] == 10] == [3, 3, 1]


@pytest.mark.parametrize(
    "override, match",
    [
        # every registered architecture may be asked for (sla-separate too: in_figure decides only the default)
        ({"models": "amp,rnn"}, "choose from: amp, sla, sla-separate, fla, mhla, sa, tf"),
        ({"models": ""}, "models"),
        ({"sa_epochs": 0}, "sa epochs"),
        ({"tf_batch_size": 20000}, "larger than P"),
        ({"fla_lr": 0.0}, "fla lr"),
        ({"tf_schedule": "warp"}, "schedule"),
        ({"sa_warmup": 40}, "warmup"),
        ({"sla_batch_size": 100}, "Gram form"),
        ({"sla_curriculum_epochs": 2}, "Gram form"),
        ({"sla_val_prompts": 100}, "Gram form"),
        ({"fla_curriculum_epochs": 2}, "prompt statistics"),
        ({"sa_curriculum_epochs": 2, "sa_curriculum_frac": 1.5}, "curriculum_frac"),
    ],
)
def test_bad_models_and_budgets_refused_before_any_point(override, match):
    params = figS8.EXPERIMENT.params("full", override)
    with pytest.raises(InputError, match=match):
        figS8.EXPERIMENT.check(params)
    with pytest.raises(InputError, match=match):
        figS8.points(params)


def test_quick_point_finite_and_linear_models_beat_trivial(quick_record):
    rec = quick_record
    for name in MODELS:
        v = np.asarray(rec[f"{name}_test"])
        assert v.shape == (2,)
        if name != "amp":  # AMP may flag a non-converged run as NaN (the paper's convention)
            assert np.all(np.isfinite(v)), name
    trivial = np.asarray(rec["trivial_test"])
    assert np.all(np.abs(trivial - 1) < 0.3)  # E[y²] = 1
    for name in LINEAR:
        assert np.all(np.asarray(rec[f"{name}_test"]) < trivial), name
        assert np.all(np.asarray(rec[f"{name}_contrast"]) > 0), name
        assert np.all(np.isfinite(rec[f"{name}_distance"])), name
    # the merged model trained on the Gram form ends near the ground state of the wd-regularised loss
    assert np.all(np.asarray(rec["sla_distance"]) < 0.2) and np.all(np.asarray(rec["sla_contrast"]) > 0.5)
    assert abs(rec["sla_mean"] - rec["exact_mean"]) < 0.05


def test_compute_is_deterministic_and_models_share_the_data():
    params = figS8.EXPERIMENT.params(
        "quick",
        {
            "models": "sla,fla,sa",
            "fla_epochs": 5,
            "sa_epochs": 3,
            "sa_batch_size": 200,
            "sa_schedule": "cosine",
            "sla_epochs": 5,
        },
    )
    sla, fla, sa = figS8.points(params)[:3]
    a, b = figS8.compute(fla, 3, "cpu"), figS8.compute(fla, 3, "cpu")
    c = figS8.compute(fla, 4, "cpu")
    assert np.array_equal(a["fla_test"], b["fla_test"]) and not np.array_equal(a["fla_test"], c["fla_test"])
    s, m = figS8.compute(sla, 3, "cpu"), figS8.compute(sa, 3, "cpu")
    for other in (s, m):
        assert np.array_equal(other["exact_test"], a["exact_test"])
        assert np.array_equal(other["trivial_test"], a["trivial_test"])
    assert np.all(np.isfinite(m["sa_test"])) and m["sa_train"].shape == (sa["repeats"],)


def _fake(records: list[dict]) -> list[dict]:
    """quick_records at N=20 plus copies at N=30 with all errors × 0.8, and one stuck SA repeat."""
    others = [{**r, "N": 30, **{k: np.asarray(v) * 0.8 for k, v in r.items() if k.endswith("_test")}} for r in records]
    for r in others:
        if r["model"] == "sa":
            r["sa_test"] = np.array([0.9 * r["trivial_test"][0], r["sa_test"][1]])
    return records + others


def test_repeat_rows_are_the_stored_arrays(quick_records):
    records = _fake(quick_records)
    rows = trained_models.repeat_rows(records)
    assert len(rows) == 6 * 2 * 2 and list(rows[0]) == ["model", "N", "repeat", "test_error", "trivial_error"]
    for r in records:
        mine = [x for x in rows if x["model"] == r["model"] and x["N"] == r["N"]]
        assert [x["repeat"] for x in mine] == [0, 1]
        assert [x["test_error"] for x in mine] == list(np.asarray(r[f"{r['model']}_test"], float))
        assert [x["trivial_error"] for x in mine] == list(np.asarray(r["trivial_test"], float))
    # a second batch continues the numbering
    second = [{**r, "batch": 1} for r in quick_records if r["model"] == "fla"]
    more = trained_models.repeat_rows([r for r in quick_records if r["model"] == "fla"] + second)
    assert [x["repeat"] for x in more] == [0, 1, 2, 3]


def test_plot_and_summary(quick_records, quick_record):
    params = figS8.EXPERIMENT.params("quick")
    records = _fake(quick_records)
    fig = figS8.EXPERIMENT.plot(records, params)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len([t for t in labels if t.split(" (")[0] in ("AMP", "SLA", "FLA", "MHLA", "SA", "TF")]) == 6
    assert "SA (softmax) (1 stuck)" in labels and not any("best" in t for t in labels)
    from matplotlib.collections import PathCollection

    dots = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(dots) == 1 and len(dots[0].get_offsets()) == 1
    x, y = dots[0].get_offsets()[0]
    assert x == 30 and y == pytest.approx(0.9 * 0.8 * quick_record["trivial_test"][0])
    s = figS8.EXPERIMENT.summary(records, params)
    for name in MODELS:
        assert f"mean_test_{name}" in s and f"test_at_N30_{name}" in s
    assert np.isclose(s["test_at_N30_fla"], 0.8 * np.mean(quick_record["fla_test"]), atol=1e-4)
    # N <= 30 here: "stuck at N >= 40" does not apply, so it is None (printed "–"), not a misleading 0
    assert s["all_linear_beat_trivial"] is True and s["stuck_N40plus_sa"] is None


class _Toy(StackedModel):
    """A seventh architecture defined here only: ŷ = θ_r Σ_i y_i x_i·x_q/(N+1), one scalar per repeat."""

    name = "toy"

    def __init__(
        self,
        D: int,
        repeats: int = 1,
        *,
        generator: torch.Generator,
        dtype=torch.float32,
        device: str = "cpu",
        scale: float = 1.0,
    ):
        super().__init__(D, repeats)
        self.theta = nn.Parameter(scale * normal((repeats, 1), 1.0, generator, dtype, device))

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        X = self._check(X)
        a = (X[..., :-1, :-1] * X[..., -1:, :-1]).sum(-1)  # Σ_i y_i x_i: (R, P, D)
        return self.theta * (a * X[..., :-1, -1]).sum(-1) / X.shape[-1]


def test_a_seventh_architecture_from_this_file_alone(tmp_path):
    """Register a toy model here, run figS8 at quick size through the real runner: it gets its own
    parameters, points, curve, legend entry and repeats.csv rows, with no project file touched."""
    from spinglass_icl.experiments.runner import run

    budget = Budget(lr=0.05, epochs=40, weight_decay=0.0)
    register(
        Architecture(
            "toy",
            "toy (θ·linear)",
            "*",
            _Toy,
            linear=True,
            projected=False,
            accepts_stats=False,
            quick=budget,
            full=budget,
            quick_options={"scale": 0.5},
            full_options={"scale": 0.5},
        )
    )
    try:
        params = figS8.EXPERIMENT.params("quick")
        assert params["models"].endswith(",toy") and params["toy_lr"] == 0.05 and params["toy_scale"] == 0.5
        res = run(
            "figS8", "quick", out=str(tmp_path), overrides={"models": "sla,toy", "sla_epochs": 100}, progress=False
        )
        assert not res.failed and res.n_points == 3 * 2
        assert res.summary["mean_test_toy"] < res.summary["mean_test_trivial"]  # it learned in context
        with open(tmp_path / "figS8" / "repeats.csv") as fh:
            rows = list(csv.DictReader(fh))
        assert {(r["model"], r["N"]) for r in rows} == {(m, str(n)) for m in ("sla", "toy") for n in (10, 20, 30)}
        assert len(rows) == 2 * 3 * 2 and any(f.endswith("figS8.png") for f in res.files)
    finally:
        unregister("toy")
    assert "toy" not in figS8.EXPERIMENT.params("quick")["models"]


def test_quick_run_through_the_runner(quick_run):
    res = quick_run("figS8")[0]
    assert not res.failed and res.summary["all_linear_beat_trivial"]
    assert any(f.endswith("figS8.png") for f in res.files) and any(f.endswith("repeats.csv") for f in res.files)


def test_linear_attention_trains_on_prompt_statistics():
    """FLA/MHLA are trained and tested on PromptStats (C = X Xᵀ, b of the same prompts); SA on X; the
    Gram-form SLA on neither (its data are the features).  Read through draw_data, the point's data."""
    from spinglass_icl.experiments.draws import generators
    from spinglass_icl.models import PromptStats, get

    params = figS8.EXPERIMENT.params("quick", {"models": "sla,fla,mhla,sa"})
    for pt in figS8.points(params)[:4]:
        arch = get(pt["model"])
        (f, X, y), (f_test, X_test, y_test), *_ = trained_models.draw_data(
            pt, generators(3)[0], arch, torch.float32, "cpu"
        )
        assert f.a.shape == (pt["repeats"], pt["P"], pt["D"] + 1) and y.shape == (pt["repeats"], pt["P"])
        if arch.accepts_stats:
            assert isinstance(X, PromptStats) and isinstance(X_test, PromptStats) and X.N == pt["N"]
            assert X.C.shape == (pt["repeats"], pt["P"], pt["D"] + 1, pt["D"] + 1) and X.C.dtype == torch.float32
        elif arch.gram:
            assert X is None and X_test is None
        else:
            assert isinstance(X, torch.Tensor) and X.shape == (pt["repeats"], pt["P"], pt["D"] + 1, pt["N"] + 1)


def test_held_out_prompts_are_drawn_last():
    """A budget with val_prompts draws them after the training and test sets, which stay the same."""
    from spinglass_icl.experiments.draws import generators

    params = figS8.EXPERIMENT.params("quick", {"sa_val_prompts": 50})
    pt = next(p for p in figS8.points(params) if p["model"] == "sa" and p["N"] == 10)
    plain = {k: v for k, v in pt.items() if k != "sa_val_prompts"}
    with_val = trained_models.draw_data(pt, generators(3)[0], trained_models.get("sa"), torch.float64, "cpu")
    without = trained_models.draw_data(plain, generators(3)[0], trained_models.get("sa"), torch.float64, "cpu")
    assert len(with_val) == 3 and len(without) == 2 and with_val[2][1].shape[:2] == (2, 50)
    for a, b in zip(with_val, without):
        assert torch.equal(a[1], b[1]) and torch.equal(a[2], b[2])
    rec = figS8.compute(pt, seed=5, device="cpu")
    assert np.all(np.isfinite(rec["sa_test"]))


def test_shipped_full_run_matches_the_declared_recipes():
    """docs/data/figS8-full holds every point of ``reproduce figS8 --full`` (same keys: a changed budget needs a
    rerun), one repeats.csv row per (model, N, repeat), and at most 1 of 10 stuck SA/TF repeats at every N >= 40."""
    import sqlite3
    from pathlib import Path

    from spinglass_icl.experiments.spec import point_key

    folder = Path(__file__).resolve().parents[1] / "docs" / "data" / "figS8-full"
    exp = figS8.EXPERIMENT
    shipped = figS8.points({**exp.params("full"), "models": ",".join(PAPER_MODELS)})
    want = {point_key("figS8", pt, exp.seed(0, pt)) for pt in shipped}
    with sqlite3.connect(folder / "store.sqlite") as db:
        have = {k for (k,) in db.execute("select key from points where status = 'done'")}
    assert want <= have
    with open(folder / "repeats.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(PAPER_MODELS) * 20 * 10
    for model in ("sa", "tf"):
        for N in range(40, 201, 10):
            mine = [r for r in rows if r["model"] == model and int(r["N"]) == N]
            stuck = sum(float(r["test_error"]) >= trained_models.STUCK * float(r["trivial_error"]) for r in mine)
            assert len(mine) == 10 and stuck <= 1, (model, N, stuck)
