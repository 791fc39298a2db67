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
def quick_record() -> dict:
    """One quick point (N=20, 2 repeats), all six models: the record the runner would store."""
    params = figS8.EXPERIMENT.params("quick")
    pt = next(p for p in figS8.points(params) if p["N"] == 20)
    return {**pt, **figS8.compute(pt, seed=7, device="cpu")}


def test_registered_and_sizes():
    exp = registry.get("figS8")
    assert exp is figS8.EXPERIMENT and exp.uses_device
    full, quick = exp.params("full"), exp.params("quick")
    assert (full["D"], full["P"], full["N"], full["lr"], full["weight_decay"], full["epochs"]) == \
        (20, 10000, list(range(10, 201, 10)), 1e-3, 0.01, 5000)
    assert (full["lambda0"], full["beta"], full["damping"]) == (0.01, 100.0, 0.9)
    assert set(full["models"].split(",")) == {"amp", "sla", "fla", "mhla", "sa", "tf"}
    assert quick["P"] > quick["D"] * (quick["D"] + 1)  # the ICL side of the transition


def test_points_cover_every_repeat_once():
    params = figS8.EXPERIMENT.params("full")
    pts = figS8.points(params)
    assert len(pts) == 20 * 2
    for N in params["N"]:
        mine = [p for p in pts if p["N"] == N]
        assert sum(p["repeats"] for p in mine) == params["repeats"]
        assert len({p["batch"] for p in mine}) == len(mine)
    as_list = figS8.points({**params, "models": ["amp", "fla"]})  # the CLI parses a,b into a list
    assert as_list[0]["models"] == "amp,fla"
    with pytest.raises(InputError):
        figS8.points({**params, "models": "amp,rnn"})
    odd = figS8.points({**params, "repeats": 7, "batch_repeats": 3})
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


def test_compute_is_deterministic_for_cheap_models():
    params = figS8.EXPERIMENT.params("quick", {"models": "amp,sla,fla", "epochs": 5})
    pt = figS8.points(params)[0]
    a, b = figS8.compute(pt, 3, "cpu"), figS8.compute(pt, 3, "cpu")
    c = figS8.compute(pt, 4, "cpu")
    assert np.array_equal(a["fla_test"], b["fla_test"]) and np.array_equal(a["sla_test"], b["sla_test"])
    assert not np.array_equal(a["fla_test"], c["fla_test"])
    with pytest.raises(InputError):
        figS8.compute({**pt, "models": "amp,rnn"}, 3, "cpu")


def test_plot_and_summary(quick_record):
    params = figS8.EXPERIMENT.params("quick")
    other = {**quick_record, "N": 30}
    other.update({k: np.asarray(v) * 0.8 for k, v in quick_record.items() if k.endswith("_test")})
    records = [quick_record, other]
    fig = figS8.plot(records, params)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert len([t for t in labels if any(figS8.LABELS[m] == t for m in figS8.MODELS)]) == 6
    s = figS8.summary(records, params)
    for name in figS8.MODELS:
        assert f"mean_test_{name}" in s and f"test_at_N30_{name}" in s
    assert np.isclose(s["test_at_N30_fla"], 0.8 * np.mean(quick_record["fla_test"]), atol=1e-4)
    assert s["all_linear_beat_trivial"] is True


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
    pt = figS8.points(params)[0]
    out = figS8.compute(pt, 3, "cpu")
    for name in ("fla", "mhla"):
        st = seen[name]
        assert isinstance(st, PromptStats) and isinstance(seen[name + "_test"], PromptStats)
        assert st.C.shape == (pt["repeats"], pt["P"], pt["D"] + 1, pt["D"] + 1) and st.N == pt["N"]
        assert st.C.dtype == torch.float32 and np.all(np.isfinite(out[f"{name}_test"]))
    assert seen["mhla"] is seen["fla"]  # computed once, shared
    assert isinstance(seen["sa"], torch.Tensor) and seen["sa"].shape[-1] == pt["N"] + 1
