"""Issue 18, item 3: every arrays file is recorded with its SHA-256 and its point; a missing, damaged
or swapped file is found on resume (recomputed, the files named) and on plot (refused, the fix
named); plot never moves a damaged database."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from spinglass_icl.experiments.runner import plot, records, run
from spinglass_icl.experiments.store import Store, sha256_file
from spinglass_icl.validation import InputError

SMALL = {"D": 3, "N": 10, "P": [5, 12, 40], "P_test": 100, "repeats": 2, "epochs": 30}


@pytest.fixture
def done_run(tmp_path):
    s = run("demo", out=tmp_path, overrides=SMALL, progress=False, make_plot=False)
    assert s.n_computed == 3 and not s.failed
    return tmp_path, tmp_path / "demo"


def _csv(folder: Path) -> list[dict]:
    with open(folder / "results.csv") as fh:
        return list(csv.DictReader(fh))


def test_each_file_is_recorded_with_its_hash_and_point(done_run):
    _, folder = done_run
    store = Store(folder, repair=False)
    try:
        recorded = {p: (k, h) for p, k, h in store.db.execute("SELECT path, key, sha256 FROM files")}
        rows = [r for r in store.rows() if r["arrays"]]
        assert len(recorded) == len(rows) == 3
        for r in rows:
            assert recorded[r["arrays"]] == (r["key"], sha256_file(folder / r["arrays"]))
    finally:
        store.close()


def test_swapped_files_are_found_and_their_points_recomputed(done_run):
    out, folder = done_run
    a, b = sorted((folder / "arrays").glob("*.npz"))[:2]
    before = {p.name: p.read_bytes() for p in (a, b)}
    tmp = a.with_suffix(".swap")
    os.replace(a, tmp)
    os.replace(b, a)
    os.replace(tmp, b)  # each is a valid zip: only the recorded hashes can tell
    with pytest.raises(InputError, match=f"cannot be trusted: .*arrays/{a.name} \\(changed: .*reproduce demo"):
        records(folder)
    s = run("demo", out=out, overrides=SMALL, progress=False, make_plot=False)
    assert s.n_computed == 2 and s.n_cached == 1 and not s.failed
    assert len(s.notes) == 1 and a.name in s.notes[0] and b.name in s.notes[0] and "replacing" in s.notes[0]
    assert {p.name: p.read_bytes() for p in (a, b)} == before  # recomputed: the same seed, the same data
    assert len(records(folder)) == 3


def test_plot_of_a_damaged_store_exits_nonzero_and_leaves_the_file(done_run):
    out, folder = done_run
    db = folder / "store.sqlite"
    db.write_bytes(b"this is not a database" * 100)
    damaged = db.read_bytes()
    p = run_cli("plot", "demo", "--out", str(out))
    assert p.returncode == 2 and "Traceback" not in p.stderr and p.stderr.count("\n") == 1
    assert str(db) in p.stderr and f"spinglass-icl reproduce demo --out {out}" in p.stderr
    assert db.read_bytes() == damaged and not list(folder.glob("store.sqlite.corrupt-*"))  # left where it is


def test_a_file_overwritten_with_another_valid_zip_is_recomputed(done_run):
    out, folder = done_run
    victim = sorted((folder / "arrays").glob("*.npz"))[0]
    with open(victim, "wb") as fh:
        np.savez_compressed(fh, exact_errors=np.zeros(2))
    with pytest.raises(InputError, match="changed"):
        records(folder)
    notes: list[str] = []
    assert any(f.endswith("demo.png") for f in plot("demo", out=out, log=notes.append))  # plot heals first
    assert any(victim.name in n and "(changed" in n for n in notes), notes
    s = run("demo", out=out, overrides=SMALL, progress=False, make_plot=False)
    assert s.n_computed == 0 and not s.notes  # nothing left to repair
    assert all(r["status"] == "done" for r in _csv(folder))
