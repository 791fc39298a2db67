"""Issue 27: faults of long runs, tried for real -- signals sent to a real CLI run, worker processes that
die, a main process killed by SIGKILL, a disk that fills, memory limits that are not the machine's,
read-only folders and hand-edited config.json.  Whatever happens: no traceback, no hang, nothing
finished lost, the store healthy, and the same command run again ends as an undisturbed run.

The points are those of ``tests/fault_plugin.py`` (they sleep, so the tests burn little CPU).  The
slow ones (``-m slow``): a real dask scheduler and workers with one killed, a real tmpfs that fills.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spinglass_icl import _limits as L
from spinglass_icl.experiments import registry
from spinglass_icl.experiments._lock import OWNER_NAME
from spinglass_icl.experiments.runner import plot, run
from spinglass_icl.experiments.store import Store
from spinglass_icl.validation import InputError

TESTS = Path(__file__).parent
SRC = TESTS.parent / "src"
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join([str(SRC), str(TESTS)]),
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
ENV.pop("FAULT_KILL", None)


@pytest.fixture(autouse=True, scope="module")
def _plugin():
    """The fault plugin registered for this module's tests only (tests/ is on sys.path: spawned
    workers import it too), forgotten after them."""
    registry.load_plugins(("fault_plugin",))
    yield
    registry.unregister("faults")
    if "fault_plugin" in registry._plugins:
        registry._plugins.remove("fault_plugin")
    sys.modules.pop("fault_plugin", None)


def _cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "spinglass_icl", "--plugin", "fault_plugin", "reproduce", "faults", "--out", str(out)]


def _start(out: Path, *extra: str, **env: str) -> subprocess.Popen:
    cmd = [*_cmd(out), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**ENV, **env})


def _run(out: Path, *extra: str, **env: str) -> subprocess.CompletedProcess:
    cmd = [*_cmd(out), *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env={**ENV, **env}, timeout=300)


def _done(db: Path) -> dict[str, float]:
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=1)) as con:
            return dict(con.execute("SELECT key, finished_at FROM points WHERE status='done'"))
    except sqlite3.Error:
        return {}


def _wait_done(proc: subprocess.Popen, db: Path, n: int) -> dict[str, float]:
    """Wait until ``proc`` stored at least ``n`` finished points; returns them."""
    for _ in range(3000):
        done = _done(db) if db.exists() else {}
        if len(done) >= n:
            return done
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no point finished in time")


def _healthy(folder: Path) -> None:
    """SQLite's full integrity check passes, no temporary file is left, no lock owner is recorded,
    and every finished point's arrays file matches its recorded hash."""
    with contextlib.closing(sqlite3.connect(folder / "store.sqlite")) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list((folder / "arrays").glob(".*.tmp*"))
    assert not (folder / OWNER_NAME).exists()
    store = Store(folder, repair=False)
    try:
        assert store.verify() == []
    finally:
        store.close()


def _values(folder: Path) -> dict[str, str]:
    with open(folder / "results.csv") as fh:
        return {r["n"]: r["value"] for r in csv.DictReader(fh) if r["status"] == "done"}


def _last_line(err: str) -> str:
    assert "Traceback" not in err, err
    return [ln for ln in err.replace("\r", "\n").splitlines() if ln.strip()][-1]


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory) -> dict[str, str]:
    """Results of the points (sleep 0.4) of an undisturbed run, for comparison."""
    out = tmp_path_factory.mktemp("undisturbed")
    s = run("faults", out=out, overrides={"sleep": 0.4}, progress=False, make_plot=False)
    assert s.n_computed == 6 and not s.missing
    return _values(out / "faults")


# -- 1. SIGTERM, SIGHUP, --time-limit -------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGHUP, marks=pytest.mark.slow)])
def test_a_signal_ends_the_run_like_ctrl_c_and_the_same_command_resumes(tmp_path, sig, undisturbed):
    proc = _start(tmp_path, "--set", "sleep=0.4")
    folder = tmp_path / "faults"
    _wait_done(proc, folder / "store.sqlite", 1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig
    line = _last_line(err)
    assert line.startswith(f"stopped by {signal.Signals(sig).name}:") and "run the same command again" in line
    kept = _done(folder / "store.sqlite")
    assert 1 <= len(kept) < 6
    _healthy(folder)  # the lock released, the store whole
    p = _run(tmp_path, "--set", "sleep=0.4", "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    assert report["cached"] == len(kept) and report["computed"] == 6 - len(kept)
    assert all(_done(folder / "store.sqlite")[k] == t for k, t in kept.items())  # finished points kept as they were
    assert _values(folder) == undisturbed


def test_time_limit_stops_running_points_at_its_end(tmp_path, undisturbed):
    """The points are estimated at 0.5 s and take 0.4 s plus the first one's imports: a limit of 1.5 s
    ends while points run (SIGALRM, in the main process); the next run computes the rest."""
    s = run("faults", out=tmp_path, overrides={"sleep": 0.4}, progress=False, time_limit=1.5)
    assert 1 <= s.missing < 6 and s.n_computed == 6 - s.missing and s.stopped
    _healthy(tmp_path / "faults")
    again = run("faults", out=tmp_path, overrides={"sleep": 0.4}, progress=False, make_plot=False)
    assert again.n_computed == s.missing and not again.missing
    assert _values(tmp_path / "faults") == undisturbed


@pytest.mark.slow
def test_time_limit_stops_in_time_and_the_next_run_computes_only_the_rest(tmp_path, undisturbed):
    p = _run(tmp_path, "--set", "sleep=0.4", "--time-limit", "2")  # the estimate says 0.5 s a point
    assert p.returncode == L.EXIT_INCOMPLETE, p.stderr
    line = _last_line(p.stderr)
    assert line.startswith("incomplete: ") and "of 6 points are missing" in line and "run the same command" in line
    missing = int(line.split()[1])
    assert 1 <= missing <= 6
    _healthy(tmp_path / "faults")
    p = _run(tmp_path, "--set", "sleep=0.4", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["computed"] == missing
    assert _values(tmp_path / "faults") == undisturbed


def test_time_limit_starts_no_point_that_does_not_fit(tmp_path):
    s = run("faults", out=tmp_path, overrides={"sleep": 0.0}, progress=False, time_limit=0.2)
    assert s.missing == 6 and s.n_computed == 0 and "too little time" in s.stopped
    assert s.files and not any(f.endswith(".png") for f in s.files)  # no plot of an incomplete run


def test_time_limit_must_be_positive(tmp_path):
    with pytest.raises(InputError, match="time-limit"):
        run("faults", out=tmp_path, progress=False, time_limit=-1.0)
    p = _run(tmp_path, "--time-limit", "soon")
    assert p.returncode == 2 and _last_line(p.stderr).startswith("error: ")


# -- 2. worker death ------------------------------------------------------------------------------


def test_a_dead_worker_s_point_is_computed_again(tmp_path, monkeypatch, undisturbed):
    monkeypatch.setenv("FAULT_KILL", f"3:{tmp_path / 'killed-once'}")
    s = run("faults", out=tmp_path, overrides={"sleep": 0.4}, workers=2, progress=False, make_plot=False)
    assert (tmp_path / "killed-once").exists()  # the worker of point 3 did die
    assert s.n_computed == 6 and not s.missing and not s.failed
    assert _values(tmp_path / "faults") == undisturbed  # identical to one worker, undisturbed


@pytest.mark.slow
def test_a_point_that_kills_every_worker_is_missing_and_the_next_run_computes_only_it(tmp_path, undisturbed):
    p = _run(tmp_path, "--set", "sleep=0.4", "--workers", "2", FAULT_KILL="3")
    assert p.returncode == L.EXIT_INCOMPLETE, p.stderr
    line = _last_line(p.stderr)
    assert line.startswith("incomplete: 1 of 6 points are missing") and "died 3 times" in line
    _healthy(tmp_path / "faults")
    p = _run(tmp_path, "--set", "sleep=0.4", "--workers", "2", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["computed"] == 1
    assert _values(tmp_path / "faults") == undisturbed


# -- 3. no orphans --------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    """The pids still alive (not zombies) after ``seconds``."""
    end = time.monotonic() + seconds
    alive = pids
    while alive and time.monotonic() < end:
        time.sleep(0.1)
        alive = [p for p in alive if _alive(p)]
    return alive


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_worker_exits_when_its_main_process_is_killed():
    """die_with_parent: a child of a process killed by SIGKILL exits within seconds (no torch: fast)."""
    code = (
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import sys, time; "
        "from spinglass_icl.experiments._execution import die_with_parent; "
        'die_with_parent(int(sys.argv[1])); print("ready", flush=True); time.sleep(600)\', str(os.getpid())], '
        "stdout=subprocess.PIPE, text=True)\n"
        "child.stdout.readline(); print(child.pid, flush=True); time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait()
    assert _gone_within([child], 10.0) == []


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_no_worker_outlives_a_run_killed_by_sigkill(tmp_path):
    started = tmp_path / "started"
    started.mkdir()
    proc = _start(tmp_path, "--set", "sleep=60", "--workers", "2", FAULT_STARTED=str(started))
    for _ in range(1500):  # both workers compute a point (each writes its pid when it starts one)
        workers = [int(p.name) for p in started.iterdir()]
        if len(workers) == 2:
            break
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    assert len(workers) == 2 and all(_alive(w) for w in workers)
    proc.kill()
    proc.wait()  # (not communicate: an orphan would hold its pipes open)
    left = _gone_within(workers, 10.0)
    for pid in left:  # a failed test leaves nothing behind either
        os.kill(pid, signal.SIGKILL)
    assert left == [], "worker processes outlived the main process"


# -- 4. disk full -------------------------------------------------------------------------------------


def test_disk_full_ends_with_one_line_leaves_the_store_whole_and_the_same_run_completes(
    tmp_path, monkeypatch, undisturbed
):
    real_put, calls = Store.put, []

    def put(self, *args, **kwargs):  # the third point's arrays file finds no space
        calls.append(1)
        if len(calls) == 3:
            from spinglass_icl import _io

            real_atomic = _io.atomic_file

            def full(path, mode="w"):
                cm = real_atomic(path, mode)
                fh = cm.__enter__()
                fh.write(b"half a file")
                cm.__exit__(OSError, OSError(errno.ENOSPC, "No space left on device"), None)
                raise OSError(errno.ENOSPC, "No space left on device")

            monkeypatch.setattr("spinglass_icl.experiments.store.atomic_file", full)
        return real_put(self, *args, **kwargs)

    monkeypatch.setattr(Store, "put", put)
    with pytest.raises(L.Incomplete) as info:
        run("faults", out=tmp_path, overrides={"sleep": 0.4}, progress=False)
    msg = str(info.value)
    assert "\n" not in msg and str(tmp_path / "faults") in msg and "MiB more are needed" in msg
    folder = tmp_path / "faults"
    _healthy(folder)
    assert len(_done(folder / "store.sqlite")) == 2 and len(list((folder / "arrays").iterdir())) == 2
    monkeypatch.undo()  # space freed
    s = run("faults", out=tmp_path, overrides={"sleep": 0.4}, progress=False, make_plot=False)
    assert s.n_cached == 2 and s.n_computed == 4
    assert _values(folder) == undisturbed


def test_sqlite_full_is_a_disk_full_too(tmp_path, monkeypatch):
    """SQLite's own "database or disk is full" (its page limit reached: SQLITE_FULL) ends the same way."""
    real_open = Store._open

    def small(self):
        db = real_open(self)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + 1}")
        return db

    monkeypatch.setattr(Store, "_open", small)
    with pytest.raises(L.Incomplete, match="no space left"):
        run("faults", out=tmp_path, overrides={"sleep": 0.0, "n": list(range(1, 60))}, progress=False)
    monkeypatch.undo()
    _healthy(tmp_path / "faults")
    s = run("faults", out=tmp_path, overrides={"sleep": 0.0, "n": list(range(1, 60))}, progress=False)
    assert s.n_cached + s.n_computed == 59 and s.n_computed > 0 and not s.missing


def test_cli_disk_full_is_one_error_line(tmp_path, monkeypatch, capsys):
    from spinglass_icl import cli

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Store, "put", full)
    rc = cli.main(["--plugin", "fault_plugin", "reproduce", "faults", "--out", str(tmp_path), "--quiet"])
    assert rc == L.EXIT_INCOMPLETE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no space left on the device of ")


@pytest.mark.slow
def test_a_real_small_filesystem_that_fills(tmp_path, undisturbed):
    """A 1 MiB tmpfs (root, mount allowed): filled up mid-run, then space freed."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        filler = mnt / "filler"
        filler.write_bytes(b"\0" * (1024 * 1024 - 64 * 1024))  # leaves 64 KiB: the store and a point or two
        p = _run(mnt, "--set", "sleep=0.4", "--set", "n=" + ",".join(map(str, range(1, 7))))
        assert p.returncode == L.EXIT_INCOMPLETE, p.stderr
        line = _last_line(p.stderr)
        assert line.startswith(f"error: no space left on the device of {mnt / 'faults'}"), line
        _healthy(mnt / "faults")
        filler.unlink()
        p = _run(mnt, "--set", "sleep=0.4")
        assert p.returncode == 0, p.stderr
        assert _values(mnt / "faults") == undisturbed
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


# -- 5. memory limits that are not the machine's ------------------------------------------------------


def _limit_in_child(*prefix: str) -> str:
    code = "from spinglass_icl._limits import memory_limit; m = memory_limit(); print(m.bytes, m.source)"
    return subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, env=ENV).stdout


@pytest.mark.skipif(not Path("/usr/bin/prlimit").exists(), reason="no prlimit")
def test_an_address_space_limit_is_the_limit_under_prlimit():
    bytes_, _, source = _limit_in_child("prlimit", f"--as={3 * 2**30}").partition(" ")
    assert "RLIMIT_AS" in source and int(bytes_) < 3 * 2**30


@pytest.mark.skipif(not Path("/usr/bin/prlimit").exists(), reason="no prlimit")
def test_a_run_beyond_the_address_space_limit_is_refused_naming_it():
    cmd = [sys.executable, "-m", "spinglass_icl", "ground-state", "--D", "120", "--P", "20000", "--solver", "amp"]
    p = subprocess.run(["prlimit", f"--as={2 * 2**30}", *cmd], capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 2 and _last_line(p.stderr).startswith("error: ") and "RLIMIT_AS" in p.stderr


@pytest.mark.skipif(not Path("/usr/bin/prlimit").exists(), reason="no prlimit")
def test_an_allocation_that_fails_anyway_is_one_line():
    cmd = [sys.executable, "-m", "spinglass_icl", "ground-state", "--D", "120", "--P", "20000", "--solver", "amp"]
    p = subprocess.run(
        ["prlimit", f"--as={2 * 2**30}", *cmd, "--force"], capture_output=True, text=True, env=ENV, timeout=120
    )
    assert p.returncode == 2, p.stderr
    line = _last_line(p.stderr)
    assert line.startswith("error: out of memory") and "RLIMIT_AS" in line
    assert len([ln for ln in p.stderr.splitlines() if ln.strip()]) == 1


def _cgroup_tree(tmp_path: Path, version: int, limit: int, usage: int) -> tuple[Path, Path]:
    root, proc = tmp_path / "cgroup", tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: {64 * 2**20} kB\nMemAvailable: {32 * 2**20} kB\n")
    (proc / "self" / "status").write_text("VmSize: 1000 kB\n")
    if version == 2:
        (proc / "self" / "cgroup").write_text("0::/job/step\n")
        parent, leaf = root / "job", root / "job" / "step"
        files = ("memory.max", "memory.current", "inactive_file")
    else:
        (proc / "self" / "cgroup").write_text("5:cpu:/\n4:memory:/job/step\n")
        parent, leaf = root / "memory" / "job", root / "memory" / "job" / "step"
        files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
    leaf.mkdir(parents=True)
    (leaf / files[0]).write_text("max\n" if version == 2 else f"{2**63 - 4096}\n")  # the leaf: unlimited
    (parent / files[0]).write_text(f"{limit}\n")  # the job's limit is on the parent
    (parent / files[1]).write_text(f"{usage}\n")
    (parent / "memory.stat").write_text(f"anon 1\n{files[2]} {2**20}\n")
    return root, proc


@pytest.mark.parametrize("version", [1, 2])
def test_a_cgroup_limit_below_the_ram_is_the_limit(tmp_path, version):
    root, proc = _cgroup_tree(tmp_path, version, limit=4 * 2**30, usage=2**30)
    m = L.memory_limit(root, proc)
    assert m.bytes == 3 * 2**30 + 2**20  # limit - usage + reclaimable page cache
    assert "cgroup" in m.source and str(root) in m.source and "4 GiB" in m.source


def test_without_limits_the_available_ram_is_the_limit(tmp_path):
    root, proc = _cgroup_tree(tmp_path, 2, limit=2**62, usage=0)
    m = L.memory_limit(root, proc)
    if m.source == "available RAM":  # (the test process itself may run under RLIMIT_AS)
        assert m.bytes == 32 * 2**30


@pytest.mark.parametrize("version", [1, 2])
def test_workers_share_the_ram_and_the_cgroup_but_each_has_its_own_address_space(tmp_path, version, monkeypatch):
    root, proc = _cgroup_tree(tmp_path, version, limit=4 * 2**30, usage=2**30)
    room = 3 * 2**30 + 2**20
    assert L.memory_limit(root, proc, processes=2).bytes == room // 2  # the cgroup's room, halved
    assert "shared by 2 processes" in L.memory_limit(root, proc, processes=2).source
    monkeypatch.setattr(L, "_address_space", lambda proc: 2**30)  # RLIMIT_AS: 1 GiB left in every process
    monkeypatch.setattr(L.resource, "getrlimit", lambda which: (2 * 2**30, 2 * 2**30))
    one, four = L.memory_limit(root, proc), L.memory_limit(root, proc, processes=4)
    assert one.bytes == 2**30 and "RLIMIT_AS" in one.source  # tighter than the cgroup for one process
    assert four.bytes == room // 4 and "cgroup" in four.source  # not × 4: each worker has its own 1 GiB


# -- 6. read-only folders, hand-edited config.json ------------------------------------------------


@pytest.fixture
def finished(tmp_path) -> Path:
    run("faults", out=tmp_path / "res", overrides={"n": [1, 2]}, progress=False, make_plot=False)
    return tmp_path / "res" / "faults"


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture
def read_only(finished, tmp_path, monkeypatch) -> Path:
    """``finished`` seen through a read-only bind mount (root), else with EROFS simulated at the seam
    (the write test of ``plot``): chmod does not stop root."""
    view = tmp_path / "ro"
    view.mkdir()
    ok = subprocess.run(["mount", "--bind", str(finished.parent), str(view)], capture_output=True).returncode == 0
    if ok and subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], capture_output=True).returncode == 0:
        yield view / "faults"
        subprocess.run(["umount", "-l", str(view)], check=False)
        return
    if ok:
        subprocess.run(["umount", "-l", str(view)], check=False)

    def erofs(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("spinglass_icl.experiments._persist.tempfile.mkstemp", erofs)
    yield finished


def test_plot_on_a_read_only_folder_refuses_or_writes_where_told(read_only, tmp_path):
    before = _snapshot(read_only)
    with pytest.raises(InputError, match="read-only") as info:
        plot("faults", folder=read_only)
    assert "--to DIR" in str(info.value) and "\n" not in str(info.value)
    files = plot("faults", folder=read_only, to=tmp_path / "figures")
    assert {Path(f).name for f in files} == {"faults.png", "faults.pdf"}
    assert all(Path(f).parent == tmp_path / "figures" for f in files)
    assert (tmp_path / "figures" / "results.csv").exists()
    assert _snapshot(read_only) == before  # nothing changed


@pytest.mark.parametrize(
    "edit",
    [
        lambda c: c["params"].update(n=[1, 3]),  # parameters changed by hand
        lambda c: c.update(seed=7),
        lambda c: c.update(keys=c["keys"][:1]),
        lambda c: c.update(params="n=1,2"),  # wrong types
        lambda c: c.update(experiment="demo"),
        lambda c: c.update(plugins=5),
        lambda c: c.update(keys=[1, 2]),
        lambda c: c.pop("keys"),
    ],
)
def test_a_hand_edited_config_is_refused_naming_it(finished, edit):
    path = finished / "config.json"
    cfg = json.loads(path.read_text())
    edit(cfg)
    path.write_text(json.dumps(cfg))
    before = _snapshot(finished)
    with pytest.raises(InputError) as info:
        plot("faults", folder=finished)
    msg = str(info.value)
    assert str(path) in msg and "reproduce faults" in msg and "\n" not in msg
    assert _snapshot(finished) == before


def test_cli_plot_read_only_and_to(read_only, tmp_path):
    if not str(read_only).startswith(str(tmp_path / "ro")):
        pytest.skip("no read-only mount here (the seam test above covers it)")
    base = [sys.executable, "-m", "spinglass_icl", "plot", "faults", "--out", str(read_only.parent)]
    p = subprocess.run(base, capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 2 and _last_line(p.stderr).startswith("error: ") and "--to DIR" in p.stderr
    p = subprocess.run([*base, "--to", str(tmp_path / "figs")], capture_output=True, text=True, env=ENV, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "figs" / "faults.png").exists()


# -- 2 on Dask: a real scheduler and workers, one killed ------------------------------------------------


@pytest.mark.slow
def test_a_dask_worker_killed_mid_run_loses_nothing(tmp_path):
    dask = Path(sys.executable).parent / "dask"
    if not dask.exists():
        pytest.skip("no dask CLI")
    port = 20000 + os.getpid() % 20000
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [str(dask), "scheduler", "--port", str(port), "--dashboard-address", ":0"],
            env=ENV,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        time.sleep(3)
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [str(dask), "worker", address, "--nthreads", "1", "--no-nanny"],
                    env=ENV,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        time.sleep(5)
        run_ = _start(tmp_path / "dask", "--set", "sleep=1", "--scheduler", address)
        _wait_done(run_, tmp_path / "dask" / "faults" / "store.sqlite", 1)
        procs[1].kill()  # a worker dies while it holds a point: the scheduler gives it to the other
        _, err = run_.communicate(timeout=300)
        assert run_.returncode == 0, err
        assert "Traceback" not in err
    finally:
        for p in procs:
            p.kill()
            p.wait()
    _healthy(tmp_path / "dask" / "faults")
    s = run("faults", out=tmp_path / "inline", overrides={"sleep": 1.0}, progress=False, make_plot=False)
    assert s.n_computed == 6
    assert _values(tmp_path / "dask" / "faults") == _values(tmp_path / "inline" / "faults")


def test_nohup_keeps_sighup_ignored(tmp_path):
    """A run started under ``nohup`` (SIGHUP ignored) is not stopped when its terminal closes."""
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGHUP, signal.SIG_IGN)\n"
        "from spinglass_icl._limits import stop_on_signals\n"
        "stop_on_signals()\n"
        "print(signal.getsignal(signal.SIGHUP) == signal.SIG_IGN, signal.getsignal(signal.SIGTERM) != signal.SIG_DFL)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=60)
    assert p.stdout.split() == ["True", "True"], p.stderr


def test_a_full_disk_at_the_start_never_sets_the_store_aside(finished, monkeypatch):
    """SQLite's "database or disk is full" while the store opens is no damage: the store stays."""
    import sqlite3 as sq

    real_connect = sq.connect

    class Full:
        def __init__(self, *a, **k):
            self.db = real_connect(*a, **k)

        def execute(self, sql, *a):
            if sql.startswith("PRAGMA quick_check"):
                raise sq.OperationalError("database or disk is full")
            return self.db.execute(sql, *a)

        def close(self):
            self.db.close()

    monkeypatch.setattr("spinglass_icl.experiments.store.sqlite3.connect", Full)
    with pytest.raises(L.Incomplete, match="no space left"):
        run("faults", out=finished.parent, overrides={"n": [1, 2]}, progress=False)
    monkeypatch.undo()
    assert not list(finished.glob("store.sqlite.corrupt-*"))
    assert len(_done(finished / "store.sqlite")) == 2
