"""Experiments and architectures defined outside the package, seen by the real CLI, its worker processes
and ``plot``: a plugin module named with ``--plugin``, and the same module as an installed entry point."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PLUGIN = '''
"""A user's plugin: one architecture (ŷ = θ Σ_i y_i x_i·x_q/(N+1)) and one experiment, registered on import."""
import numpy as np
import torch
from torch import nn

from spinglass_icl.experiments.registry import register as register_experiment
from spinglass_icl.experiments.spec import Experiment
from spinglass_icl.models import Architecture, StackedModel, normal, register
from spinglass_icl.training import Budget


class Toy(StackedModel):
    name = "toy"

    def __init__(self, D, repeats=1, *, generator, dtype=torch.float32, device="cpu", scale=1.0):
        super().__init__(D, repeats)
        self.theta = nn.Parameter(scale * normal((repeats, 1), 1.0, generator, dtype, device))

    def forward(self, X):
        X = self._check(X)
        a = (X[..., :-1, :-1] * X[..., -1:, :-1]).sum(-1)
        return self.theta * (a * X[..., :-1, -1]).sum(-1) / X.shape[-1]


BUDGET = Budget(lr=0.05, epochs=40, weight_decay=0.0)
register(Architecture("toy", "toy (θ·linear)", "*", Toy, linear=True, projected=False, accepts_stats=False,
                      quick=BUDGET, full=BUDGET, quick_options={"scale": 0.5}, full_options={"scale": 0.5}))


def points(p):
    return [{"n": int(n), "scale": p["scale"]} for n in p["n"]]


def compute(point, seed, device):
    rng = np.random.default_rng(seed)
    return {"mean": float(point["scale"] * rng.standard_normal(point["n"]).mean())}


def plot(records, params):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([r["n"] for r in records], [r["mean"] for r in records], "o")
    ax.set(xlabel="n", ylabel="mean")
    return fig


register_experiment(Experiment(id="toyexp", title="a plugin experiment", quick={"n": [10, 100], "scale": 1.0},
                               full={"n": [10, 100, 1000], "scale": 1.0}, points=points, compute=compute, plot=plot))
'''


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "sgi_toy_plugin.py").write_text(textwrap.dedent(PLUGIN))
    return folder


def cli(*args: str, path: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), os.environ.get("PYTHONPATH", "")]), **env}
    return subprocess.run(
        [sys.executable, "-m", "spinglass_icl", *args], capture_output=True, text=True, timeout=600, env=environ
    )


def test_plugin_experiment_runs_and_plots(plugin_dir, tmp_path):
    out = tmp_path / "res"
    proc = cli("--plugin", "sgi_toy_plugin", "reproduce", "toyexp", "--out", str(out), path=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    with open(out / "toyexp" / "results.csv") as fh:
        assert [r["n"] for r in csv.DictReader(fh)] == ["10", "100"]
    # plot reads the plugin list the run recorded: no --plugin needed
    (out / "toyexp" / "toyexp.png").unlink()
    proc = cli("plot", "toyexp", "--out", str(out), path=plugin_dir)
    assert proc.returncode == 0, proc.stderr
    assert (out / "toyexp" / "toyexp.png").exists()
    proc = cli("reproduce", "toyexp", "--out", str(tmp_path / "other"), path=plugin_dir)
    assert proc.returncode == 2 and "unknown experiment 'toyexp'" in proc.stderr


def test_plugin_architecture_in_figS8_with_worker_processes(plugin_dir, tmp_path):
    """The architecture trains in figS8 in two worker processes (which import the plugin themselves),
    and ``plot`` draws its curve from the store."""
    out = tmp_path / "res"
    sets = ["--set", "models=sla,toy", "--set", "N=10,20", "--set", "sla_epochs=100"]
    proc = cli(
        "--plugin", "sgi_toy_plugin", "reproduce", "figS8", *sets, "--workers", "2", "--out", str(out), path=plugin_dir
    )
    assert proc.returncode == 0, proc.stderr
    with open(out / "figS8" / "repeats.csv") as fh:
        assert {r["model"] for r in csv.DictReader(fh)} == {"sla", "toy"}
    proc = cli("plot", "figS8", "--out", str(out), path=plugin_dir)
    assert proc.returncode == 0, proc.stderr


def test_entry_point_plugin_is_listed(plugin_dir, tmp_path):
    """An installed distribution that declares the module in the group ``spinglass_icl.experiments``."""
    dist = tmp_path / "sgi_toy_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: sgi-toy-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[spinglass_icl.experiments]\ntoy = sgi_toy_plugin\n")
    proc = cli("list", path=plugin_dir, PYTHONPATH=os.pathsep.join([str(tmp_path), str(plugin_dir)]))
    assert proc.returncode == 0, proc.stderr
    assert "toyexp" in proc.stdout and "a plugin experiment" in proc.stdout


def test_environment_variable_names_plugins(plugin_dir):
    proc = cli("params", "toyexp", path=plugin_dir, SPINGLASS_ICL_PLUGINS="sgi_toy_plugin")
    assert proc.returncode == 0, proc.stderr
    assert "scale" in proc.stdout
    proc = cli("params", "figS8", path=plugin_dir, SPINGLASS_ICL_PLUGINS="no_such_plugin_module")
    assert proc.returncode == 2 and "plugin 'no_such_plugin_module' cannot be imported" in proc.stderr
