"""The experiment layer: store, resume after SIGKILL, worker/executor independence, failures."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from spinglass_icl.experiments import registry
from spinglass_icl.experiments.runner import plot, records, run
from spinglass_icl.experiments.spec import point_key, point_seed
from spinglass_icl.validation import InputError

SMALL = {"D": 3, "N": 10, "P": [5, 12, 40], "P_test": 100, "repeats": 2, "epochs": 50}


def _csv(path: Path) -> list[dict]:
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _numbers(rows: list[dict]) -> np.ndarray:
    cols = ["exact_test_error", "adam_test_error", "exact_contrast", "zero_mode_fraction"]
    return np.array([[float(r[c]) for c in cols] for r in sorted(rows, key=lambda r: int(r["P"]))])


def test_run_writes_outputs_and_reuses_the_store(tmp_path):
    s = run("demo", out=tmp_path, overrides=SMALL, progress=False)
    folder = tmp_path / "demo"
    assert s.n_points == 3 and s.n_computed == 3 and not s.failed
    for name in ("results.csv", "config.json", "demo.png", "demo.pdf", "store.sqlite"):
        assert (folder / name).exists(), name
    rows = _csv(folder / "results.csv")
    assert [int(r["P"]) for r in rows] == [5, 12, 40] and all(r["status"] == "done" for r in rows)
    assert all((folder / r["arrays"]).exists() for r in rows)  # array results beside the CSV
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["params"]["D"] == 3 and cfg["seed"] == 0 and len(cfg["keys"]) == 3
    again = run("demo", out=tmp_path, overrides=SMALL, progress=False)
    assert again.n_computed == 0 and again.n_cached == 3
    np.testing.assert_array_equal(_numbers(_csv(folder / "results.csv")), _numbers(rows))
    recs = records(folder)
    assert len(recs) == 3 and recs[0]["exact_test_error_per_repeat"].shape == (2,)


def test_point_seed_depends_only_on_point_and_run_seed():
    p = {"P": 10, "D": 3}
    assert point_seed(0, p) == point_seed(0, dict(reversed(list(p.items()))))
    assert point_seed(0, p) != point_seed(1, p)
    assert point_seed(0, p) != point_seed(0, {"P": 11, "D": 3})
    assert point_key("demo", p, 5) != point_key("fig1", p, 5)


def test_seed_params_share_a_seed_between_points_that_differ_elsewhere():
    from dataclasses import replace

    exp = registry.get("demo")
    a, b = {"P": 10, "D": 3, "model": "x"}, {"P": 10, "D": 3, "model": "y"}
    assert exp.seed(0, a) == point_seed(0, a) != exp.seed(0, b)  # default: every parameter
    shared = replace(exp, seed_params=("P", "D"))
    assert shared.seed(0, a) == shared.seed(0, b) == point_seed(0, {"D": 3, "P": 10})
    assert shared.seed(0, a) != shared.seed(0, {**a, "P": 11}) and shared.seed(0, a) != shared.seed(1, a)


def test_one_value_for_a_list_parameter_is_a_list_of_one():
    exp = registry.get("fig4b")
    assert isinstance(exp.params("quick")["N"], list)
    assert exp.params("quick", {"N": 30})["N"] == [30] and exp.params("quick", {"N": [30, 40]})["N"] == [30, 40]


def test_results_do_not_depend_on_worker_count(tmp_path):
    env = dict(os.environ)
    one = run("demo", out=tmp_path / "a", overrides=SMALL, workers=1, progress=False)
    two = run("demo", out=tmp_path / "b", overrides=SMALL, workers=2, progress=False)
    assert not one.failed and not two.failed
    assert dict(os.environ) == env  # thread limits are set in the workers, never in the caller
    # identical up to BLAS summation order (threads differ between the two executors)
    np.testing.assert_allclose(
        _numbers(_csv(tmp_path / "b/demo/results.csv")),
        _numbers(_csv(tmp_path / "a/demo/results.csv")),
        rtol=1e-9,
        atol=1e-12,
    )


def test_dask_local_cluster_gives_the_same_results(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        s = run("demo", out=tmp_path / "dask", overrides=SMALL, scheduler=cluster.scheduler_address, progress=False)
    assert s.n_computed == 3 and not s.failed
    ref = run("demo", out=tmp_path / "ref", overrides=SMALL, progress=False)
    assert not ref.failed
    np.testing.assert_allclose(
        _numbers(_csv(tmp_path / "dask/demo/results.csv")),
        _numbers(_csv(tmp_path / "ref/demo/results.csv")),
        rtol=1e-9,
        atol=1e-12,
    )


@pytest.fixture
def variant():
    """``variant(**fields)``: the demo experiment with ``fields`` replaced, registered under its own id
    (the public seam for user experiments) and unregistered after the test."""
    from dataclasses import replace

    made: list[str] = []

    def make(**fields):
        exp = replace(registry.get("demo"), id=f"demo_variant{len(made)}", **fields)
        made.append(exp.id)
        return registry.register(exp).id

    yield make
    for exp_id in made:
        registry.unregister(exp_id)


def test_failed_point_is_stored_and_reported(tmp_path, variant):
    demo = registry.get("demo")

    def compute(point, seed, device):  # a point that fails while computing (inputs were valid)
        if point["P"] == 5:
            raise FloatingPointError("diverged on purpose")
        return demo.compute(point, seed, device)

    exp_id = variant(compute=compute)
    s = run(exp_id, out=tmp_path, overrides={**SMALL, "P": [5, 12]}, progress=False)
    assert len(s.failed) == 1 and "diverged on purpose" in s.failed[0][1]
    rows = {int(r["P"]): r for r in _csv(tmp_path / exp_id / "results.csv")}
    assert rows[5]["status"] == "failed" and "FloatingPointError: diverged on purpose" in rows[5]["error"]
    assert rows[12]["status"] == "done"


def test_bad_parameters_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="no parameter"):
        run("demo", out=tmp_path, overrides={"nonsense": 1}, progress=False)
    with pytest.raises(InputError, match="unknown experiment"):
        run("fig99", out=tmp_path)
    with pytest.raises(InputError):
        run("demo", out=tmp_path, workers=0)
    with pytest.raises(InputError, match="duplicate|same parameters"):
        run("demo", out=tmp_path, overrides={**SMALL, "P": [5, 5]}, progress=False)
    with pytest.raises(InputError, match="demo P=\\[0, 12\\]: out of range"):
        run("demo", out=tmp_path / "p0", overrides={**SMALL, "P": [0, 12]}, progress=False)
    assert not (tmp_path / "p0").exists()  # refused before anything was written
    with pytest.raises(InputError, match="repeats=0"):
        run("demo", out=tmp_path, overrides={**SMALL, "repeats": 0}, progress=False)


def test_experiment_check_runs_before_any_point(tmp_path, variant):
    def check(params):
        if params["P_test"] > 50:
            raise InputError("P_test must be <= 50 here")

    exp_id = variant(check=check)
    with pytest.raises(InputError, match="P_test must be <= 50"):
        run(exp_id, out=tmp_path, overrides={**SMALL, "P_test": 100}, progress=False)
    assert not (tmp_path / exp_id).exists()


def test_points_failure_is_an_input_error(tmp_path, variant):
    exp_id = variant(points=lambda p: [][0])  # IndexError while expanding
    with pytest.raises(InputError, match="do not expand into points"):
        run(exp_id, out=tmp_path, overrides=SMALL, progress=False)


def test_every_registered_experiment_has_a_complete_spec():
    for exp_id in registry.ids():
        exp = registry.get(exp_id)
        assert exp.id == exp_id and exp.title and "\n" not in exp.title
        assert set(exp.quick) == set(exp.full), exp_id
        assert exp.points(exp.params("quick")), exp_id


def test_resume_after_sigkill(tmp_path):
    """Kill a run with SIGKILL mid-way; the rerun keeps finished points and recomputes the rest."""
    slow = {**SMALL, "P": [5, 6, 7, 8, 9, 10, 11, 12], "epochs": 4000, "repeats": 4}
    sets = [f"--set={k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in slow.items()]
    cmd = [sys.executable, "-m", "spinglass_icl", "reproduce", "demo", "--out", str(tmp_path), *sets]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    db = tmp_path / "demo" / "store.sqlite"
    done_before: dict[str, float] = {}
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as con:
                    done_before = dict(con.execute("SELECT key, finished_at FROM points WHERE status='done'"))
            except sqlite3.OperationalError:
                pass
            if len(done_before) >= 2:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 2 <= len(done_before) < 8, "the run should have been killed part-way"
    # the interrupted run's finished points can be drawn and exported before resuming
    assert any(f.endswith("demo.png") for f in plot("demo", out=tmp_path))
    done_csv = [r for r in _csv(tmp_path / "demo" / "results.csv") if r["status"] == "done"]
    assert len(done_before) <= len(done_csv) < 8
    s = run("demo", out=tmp_path, overrides=slow, progress=False)
    assert s.n_cached >= len(done_before) and s.n_cached + s.n_computed == 8 and not s.failed
    assert any("took over the lock of an earlier run" in n for n in s.notes)  # the killed run's lock
    with sqlite3.connect(db) as con:
        rows = dict(con.execute("SELECT key, finished_at FROM points"))
    assert len(rows) == 8
    assert all(rows[k] == t for k, t in done_before.items())  # finished points were not recomputed


def test_workers_beyond_the_cores_are_capped_with_a_note(tmp_path):
    from spinglass_icl.experiments._execution import plan, usable_cores

    cores = usable_cores()
    s = run("demo", out=tmp_path, overrides=SMALL, workers=cores + 3, dry_run=True)
    assert any(f"workers={cores + 3} is more than the {cores} cores" in n for n in s.notes)  # Python's name
    assert not (tmp_path / "demo").exists()  # a dry run starts nothing
    for workers in range(1, cores + 4):
        p = plan(workers)
        assert p.workers <= cores and p.workers * p.threads <= cores
