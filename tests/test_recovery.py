"""Issue 10, item 4: a damaged results folder heals itself -- a missing or unreadable arrays file is
recomputed, an unreadable store.sqlite is set aside (timestamped, never deleted) and its points are
recomputed -- and says so; writes stay atomic."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from spinglass_icl.experiments.runner import plot, records, run
from spinglass_icl.experiments.store import Store
from spinglass_icl.validation import InputError

SMALL = {"D": 3, "N": 10, "P": [5, 12, 40], "P_test": 100, "repeats": 2, "epochs": 30}


def _numbers(folder: Path) -> dict[int, tuple]:
    with open(folder / "results.csv") as fh:
        rows = list(csv.DictReader(fh))
    return {int(r["P"]): (r["status"], float(r["exact_test_error"]), float(r["adam_test_error"])) for r in rows}


@pytest.fixture
def done_run(tmp_path):
    s = run("demo", out=tmp_path, overrides=SMALL, progress=False, make_plot=False)
    assert s.n_computed == 3 and not s.failed and not s.notes
    return tmp_path, tmp_path / "demo", _numbers(tmp_path / "demo")


def _arrays(folder: Path) -> list[Path]:
    return sorted((folder / "arrays").glob("*.npz"))


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage"])
def test_damaged_arrays_file_is_recomputed(done_run, damage):
    out, folder, before = done_run
    victim = _arrays(folder)[0]
    if damage == "missing":
        victim.unlink()
    elif damage == "truncated":
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    else:
        victim.write_bytes(b"not a zip file at all")
    with pytest.raises(InputError, match=f"cannot be trusted: .*arrays/{victim.name}.*reproduce demo"):
        records(folder)  # a reader names the file and the fix instead of a FileNotFoundError/BadZipFile
    s = run("demo", out=out, overrides=SMALL, progress=False, make_plot=False)
    assert s.n_computed == 1 and s.n_cached == 2 and not s.failed
    assert len(s.notes) == 1 and f"replacing their files: arrays/{victim.name}" in s.notes[0]
    assert _numbers(folder) == before  # the same seed gives the same numbers
    assert len(records(folder)) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty-header"])
def test_unreadable_store_is_set_aside_and_recomputed(done_run, damage):
    out, folder, before = done_run
    db = folder / "store.sqlite"
    original = db.read_bytes()
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    elif damage == "truncated":
        db.write_bytes(original[: len(original) // 2])
    else:
        db.write_bytes(original[:100] + b"\0" * (len(original) - 100))
    s = run("demo", out=out, overrides=SMALL, progress=False, make_plot=False)
    assert s.n_computed == 3 and not s.failed
    assert any("set aside as store.sqlite.corrupt-" in n for n in s.notes), s.notes
    aside = list(folder.glob("store.sqlite.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() != b""  # kept, never deleted
    assert _numbers(folder) == before


def test_cli_reports_the_repair_and_succeeds(done_run):
    out, folder, before = done_run
    _arrays(folder)[1].unlink()
    (folder / "store.sqlite").write_bytes(b"garbage")
    sets = [f"--set={k}={','.join(map(str, v)) if isinstance(v, list) else v}" for k, v in SMALL.items()]
    p = run_cli("reproduce", "demo", "--out", str(out), *sets)
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Traceback" not in p.stderr and "note: " in p.stderr and "set aside" in p.stderr
    assert _numbers(folder) == before


def test_plot_recomputes_a_missing_npz_and_says_so(done_run):
    out, folder, before = done_run
    victim = _arrays(folder)[0]
    victim.unlink()
    p = run_cli("plot", "demo", "--out", str(out))
    assert p.returncode == 0 and "Traceback" not in p.stderr, p.stderr[-2000:]
    assert f"note: recomputing 1 point(s) and replacing their files: arrays/{victim.name} (missing)" in p.stderr
    assert victim.exists() and (folder / "demo.png").exists()
    assert _numbers(folder) == before  # the same options and seed: the same numbers


def test_corrupt_config_json_names_the_fix(done_run):
    out, folder, _ = done_run
    (folder / "config.json").write_text('{"keys": [')
    with pytest.raises(InputError, match="config.json cannot be read.*reproduce demo"):
        plot("demo", out=out)


def test_interrupted_array_write_leaves_no_half_point(tmp_path):
    """A kill between writing the temporary arrays file and the rename leaves only the temporary file:
    the point is not in the store (so it is recomputed) and the next open removes the leftover."""
    store = Store(tmp_path)
    store.put("k1", "demo", {"P": 1}, 0, seconds=0.1, result={"x": np.arange(3.0), "s": 1.0})
    (tmp_path / "arrays" / ".k2.npz.x1y2.tmp").write_bytes(b"half written")  # _io.atomic_file's name
    (tmp_path / "arrays" / ".k3.tmp.npz").write_bytes(b"half written")  # the name before it
    store.close()
    store = Store(tmp_path)
    assert store.done_keys() == {"k1"} and sorted(p.name for p in (tmp_path / "arrays").iterdir()) == ["k1.npz"]
    row = store.rows(["k1"])[0]
    assert store.arrays_ok(row) and np.array_equal(store.load_arrays(row)["x"], np.arange(3.0))
    assert store.damaged() == []
    store.close()


def test_store_open_reports_nothing_when_healthy(tmp_path):
    store = Store(tmp_path)
    assert store.recovered is None
    store.close()
