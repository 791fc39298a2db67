"""figS8 experiment: points, one quick point computed, plot and summary."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from spinglass_icl.experiments import registry
from spinglass_icl.experiments.catalog import figS8
from spinglass_icl.validation import InputError

LINEAR = ("sla", "fla", "mhla")


@pytest.fixture(scope="module")
def quick_records() -> list[dict]:
    """The six quick points (one per model) of N=20, 2 repeats: the records the runner would store."""
    params = figS8.EXPERIMENT.params("quick")
    pts = [p for p in figS8.points(params) if p["N"] == 20]
    return [{**pt, **figS8.compute(pt, seed=figS8.EXPERIMENT.seed(7, pt), device="cpu")} for pt in pts]


@pytest.fixture(scope="module")
def quick_record(quick_records) -> dict:
    """The six points of N=20 merged into one dict."""
    merged: dict = {}
    for r in quick_records:
        merged.update(r)
    return merged


def test_registered_and_sizes():
    exp = registry.get("figS8")
    assert exp is figS8.EXPERIMENT and exp.uses_device
    full, quick = exp.params("full"), exp.params("quick")
    assert (full["D"], full["P"], full["N"], full["lr"], full["weight_decay"], full["epochs"]) == \
        (20, 10000, list(range(10, 201, 10)), 1e-3, 0.01, 5000)
    assert (full["lambda0"], full["beta"], full["damping"]) == (0.01, 100.0, 0.9)
    assert set(full["models"].split(",")) == {"amp", "sla", "fla", "mhla", "sa", "tf"}
    assert quick["P"] > quick["D"] * (quick["D"] + 1)  # the ICL side of the transition
    for name in ("sla", "fla", "mhla"):  # the paper's fig4b budget
        assert figS8.training_budget(name, full) == {"lr": 1e-3, "epochs": 5000, "batch_size": None, "schedule": None}
    for name in ("sa", "tf"):  # minibatch Adam with a cosine decay at full size, full batch at quick size
        b = figS8.training_budget(name, full)
        assert b["batch_size"] and b["schedule"] == "cosine" and b["epochs"] < 5000
        assert figS8.training_budget(name, quick)["batch_size"] is None


def test_points_one_per_model_and_every_repeat_once():
    params = figS8.EXPERIMENT.params("full")
    pts = figS8.points(params)
    assert len(pts) == 20 * 2 * 6
    for N in params["N"]:
        for name in figS8.MODELS:
            mine = [p for p in pts if p["N"] == N and p["model"] == name]
            assert sum(p["repeats"] for p in mine) == params["repeats"]
            assert len({p["batch"] for p in mine}) == len(mine)
    # a point carries only what its model needs: changing the transformer's budget leaves FLA's keys alone
    fla = [p for p in pts if p["model"] == "fla"]
    assert "tf_epochs" not in fla[0] and "lambda0" not in fla[0] and "tf_epochs" in next(p for p in pts if p["model"] == "tf")
    assert fla == [p for p in figS8.points({**params, "tf_epochs": 7}) if p["model"] == "fla"]
    # the models of one data set share the seed (the same prompts), different data sets do not
    seeds = {(p["N"], p["batch"], p["model"]): figS8.EXPERIMENT.seed(0, p) for p in pts}
    assert len({seeds[(10, 0, m)] for m in figS8.MODELS}) == 1
    assert seeds[(10, 0, "fla")] != seeds[(10, 1, "fla")] != seeds[(20, 1, "fla")]
    as_list = figS8.points({**params, "models": ["amp", "fla"]})  # the CLI parses a,b into a list
    assert [p["model"] for p in as_list[:2]] == ["amp", "fla"] and len(as_list) == 20 * 2 * 2
    with pytest.raises(InputError):
        figS8.points({**params, "models": "amp,rnn"})
    with pytest.raises(InputError):
        figS8.points({**params, "tf_schedule": "warp"})
    odd = figS8.points({**params, "repeats": 7, "batch_repeats": 3, "models": "amp"})
    assert [p["repeats"] for p in odd if p["N"] == 10] == [3, 3, 1]
    with pytest.raises(InputError):
        figS8.EXPERIMENT.params("quick", {"no_such": 1})


def test_quick_point_finite_and_linear_models_beat_trivial(quick_record):
    rec = quick_record
    for name in figS8.MODELS:
        v = np.asarray(rec[f"{name}_test"])
        assert v.shape == (2,)
        if name != "amp":  # AMP may flag a non-converged run as NaN (the paper's convention)
            assert np.all(np.isfinite(v)), name
    assert np.isfinite(rec["amp_mean"])
    trivial = np.asarray(rec["trivial_test"])
    assert np.all(np.abs(trivial - 1) < 0.3)  # E[y²] = 1
    for name in LINEAR:
        assert np.all(np.asarray(rec[f"{name}_test"]) < trivial), name
        assert np.all(np.asarray(rec[f"{name}_contrast"]) > 0), name  # towards the identity (FLA is slow)
        assert np.all(np.isfinite(rec[f"{name}_distance"])), name
    # the merged model trained on the Gram form ends near the ground state of the wd-regularised loss
    assert np.all(np.asarray(rec["sla_distance"]) < 0.2) and np.all(np.asarray(rec["sla_contrast"]) > 0.5)
    assert abs(rec["sla_mean"] - rec["exact_mean"]) < 0.05


def test_compute_is_deterministic_and_models_share_the_data():
    params = figS8.EXPERIMENT.params("quick", {"models": "sla,fla,sa", "epochs": 5, "sa_batch_size": 200,
                                               "sa_schedule": "cosine"})
    sla, fla, sa = figS8.points(params)[:3]
    a, b = figS8.compute(fla, 3, "cpu"), figS8.compute(fla, 3, "cpu")
    c = figS8.compute(fla, 4, "cpu")
    assert np.array_equal(a["fla_test"], b["fla_test"]) and not np.array_equal(a["fla_test"], c["fla_test"])
    # same seed, another model: the same prompts, hence the same ground state and reference errors
    s, m = figS8.compute(sla, 3, "cpu"), figS8.compute(sa, 3, "cpu")
    for other in (s, m):
        assert np.array_equal(other["exact_test"], a["exact_test"])
        assert np.array_equal(other["trivial_test"], a["trivial_test"])
    assert np.all(np.isfinite(m["sa_test"])) and m["sa_train"].shape == (sa["repeats"],)
    with pytest.raises(InputError):
        figS8.compute({**fla, "model": "rnn"}, 3, "cpu")


def test_plot_and_summary(quick_records, quick_record):
    params = figS8.EXPERIMENT.params("quick")
    others = [{**r, "N": 30, **{k: np.asarray(v) * 0.8 for k, v in r.items() if k.endswith("_test")}}
              for r in quick_records]
    records = quick_records + others
    fig = figS8.plot(records, params)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len([t for t in labels if any(t.startswith(figS8.LABELS[m]) for m in figS8.MODELS)]) == 6
    assert len(fig.axes[0].collections) >= 2  # SA and TF: every repeat as a dot
    s = figS8.summary(records, params)
    for name in figS8.MODELS:
        assert f"mean_test_{name}" in s and f"test_at_N30_{name}" in s
    assert np.isclose(s["test_at_N30_fla"], 0.8 * np.mean(quick_record["fla_test"]), atol=1e-4)
    assert s["all_linear_beat_trivial"] is True
    # the reference errors are taken once per data set, not once per model
    assert np.isclose(s["test_at_N30_exact"], 0.8 * np.mean(quick_record["exact_test"]), atol=1e-4)
    assert len(figS8._per_data_set(records)) == 2


@pytest.mark.slow
def test_quick_run_through_the_runner(tmp_path):
    from spinglass_icl.experiments.runner import run

    res = run("figS8", "quick", out=str(tmp_path), progress=False)
    assert not res.failed and res.summary["all_linear_beat_trivial"]
    assert any(f.endswith("figS8.png") for f in res.files)


def test_linear_attention_trains_on_prompt_statistics(monkeypatch):
    """FLA/MHLA are trained and tested on PromptStats (C = X Xᵀ, b of the same prompts); SA on X."""
    import torch

    from spinglass_icl.architectures import PromptStats

    seen: dict = {}
    real_fit, real_mse = figS8.fit, figS8.mse

    def fit(model, X, y, **kw):
        seen[model.name] = X
        return real_fit(model, X, y, **kw)

    def mse(model, X, y, **kw):
        seen[model.name + "_test"] = X
        return real_mse(model, X, y, **kw)

    monkeypatch.setattr(figS8, "fit", fit)
    monkeypatch.setattr(figS8, "mse", mse)
    params = figS8.EXPERIMENT.params("quick", {"models": "fla,mhla,sa", "epochs": 2})
    pts = figS8.points(params)[:3]
    for pt in pts:
        out = figS8.compute(pt, 3, "cpu")
        name = pt["model"]
        assert np.all(np.isfinite(out[f"{name}_test"]))
        if name in ("fla", "mhla"):
            st = seen[name]
            assert isinstance(st, PromptStats) and isinstance(seen[name + "_test"], PromptStats)
            assert st.C.shape == (pt["repeats"], pt["P"], pt["D"] + 1, pt["D"] + 1) and st.N == pt["N"]
            assert st.C.dtype == torch.float32
    sa = pts[2]
    assert isinstance(seen["sa"], torch.Tensor) and seen["sa"].shape == (sa["repeats"], sa["P"], sa["D"] + 1, sa["N"] + 1)
