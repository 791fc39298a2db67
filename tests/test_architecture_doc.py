"""docs/architecture.md shows the whole diff of adding an experiment and an architecture: both code
blocks are taken from the page and run here, so the page cannot drift from the code."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import torch

PAGE = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.S)


def _module(name: str, package: str, source: str) -> types.ModuleType:
    """``source`` executed as module ``name`` inside ``package`` (its relative imports resolve there)."""
    module = types.ModuleType(name)
    module.__package__ = package
    sys.modules[name] = module
    exec(compile(source, str(PAGE), "exec"), module.__dict__)
    return module


def test_the_experiment_example_runs_through_the_runner(tmp_path):
    from spinglass_icl.experiments import registry
    from spinglass_icl.experiments.runner import run

    experiment, test = _blocks()[0], _blocks()[1]
    module = _module(
        "spinglass_icl.experiments.catalog._doc_ridgeline", "spinglass_icl.experiments.catalog", experiment
    )
    registry.register(module.EXPERIMENT)
    try:
        summary = run("ridgeline", "quick", out=tmp_path, progress=False)
        assert not summary.failed and summary.n_points == 3 * 2
        assert (tmp_path / "ridgeline" / "ridgeline.png").exists()
        check = _module("_doc_ridgeline_test", "", test)
        from spinglass_icl.experiments.runner import records

        check.test_error_falls_past_the_threshold(lambda exp_id: (summary, records(summary.folder)))
    finally:
        registry.unregister("ridgeline")
        sys.modules.pop("spinglass_icl.experiments.catalog._doc_ridgeline", None)


def test_the_architecture_example_predicts_per_repeat():
    model_source = _blocks()[2]
    module = _module("spinglass_icl.models._doc_twolayer", "spinglass_icl.models", model_source)
    gen = torch.Generator().manual_seed(0)
    model = module.TwoLayerLA(3, 2, generator=gen)
    X = torch.as_tensor(np.random.default_rng(0).standard_normal((2, 5, 4, 7)), dtype=torch.float32)
    y = model(X)
    assert y.shape == (2, 5) and torch.all(torch.isfinite(y))
    sys.modules.pop("spinglass_icl.models._doc_twolayer", None)
