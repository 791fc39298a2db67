"""Issue 18, item 4: one writer per results folder -- raced, stopped and killed for real (subprocesses).

Run A is started, and stopped with SIGSTOP once it holds the lock (its owner file appears), so the
race is deterministic: run B into the same folder is refused at once (exit 2, naming A's pid and
start time); B with --wait starts when A ends; after SIGKILL of A, the next run takes the lock over
and says so, and A's finished points stay intact.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spinglass_icl.experiments._lock import OWNER_NAME, FolderLock
from spinglass_icl.validation import InputError

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
SETS = ["--set", "D=3", "--set", "N=10", "--set", "P=5,12", "--set", "P_test=50", "--set", "repeats=2"]
SETS += ["--set", "epochs=30"]


def _start(out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "spinglass_icl", "reproduce", "demo", "--out", str(out), *SETS, *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def _run(out: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "spinglass_icl", "reproduce", "demo", "--out", str(out), *SETS, *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=300)


def _holding(proc: subprocess.Popen, folder: Path) -> dict:
    """Wait until ``proc`` holds the folder's lock (its owner file names it); returns the owner record."""
    owner = folder / OWNER_NAME
    for _ in range(3000):
        if owner.exists():
            data = json.loads(owner.read_text())
            if data.get("pid") == proc.pid:
                return data
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.02)
    raise AssertionError("the run never took the lock")


@pytest.fixture
def stopped_run(tmp_path):
    """Run A, stopped (SIGSTOP) while it holds the lock of tmp_path/demo; killed at teardown."""
    proc = _start(tmp_path)
    owner = _holding(proc, tmp_path / "demo")
    os.kill(proc.pid, signal.SIGSTOP)
    yield proc, owner
    if proc.poll() is None:
        proc.kill()
    proc.communicate(timeout=60)


def test_second_run_is_refused_at_once_naming_the_first(tmp_path, stopped_run):
    proc, owner = stopped_run
    p = _run(tmp_path)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    err = p.stderr.strip().splitlines()[-1]
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(owner["started"]))
    assert f"pid {proc.pid}" in err and started in err and "--wait" in err
    assert json.loads((tmp_path / "demo" / OWNER_NAME).read_text())["pid"] == proc.pid  # A still owns it


def test_wait_starts_when_the_other_run_ends(tmp_path, stopped_run):
    proc, _ = stopped_run
    waiting = _start(tmp_path, "--wait")
    time.sleep(3.0)  # B is queued behind the stopped A, not refused
    assert waiting.poll() is None
    os.kill(proc.pid, signal.SIGCONT)
    assert proc.wait(timeout=300) == 0
    out, err = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err[-2000:]
    assert "2 points (0 computed, 2 from the store)" in out  # B found A's finished results


def test_killed_run_lock_is_taken_over(tmp_path, stopped_run):
    proc, owner = stopped_run
    proc.kill()  # SIGKILL: no cleanup; the owner file stays behind
    proc.wait(timeout=60)
    assert (tmp_path / "demo" / OWNER_NAME).exists()
    p = _run(tmp_path)
    assert p.returncode == 0, p.stderr[-2000:]
    assert f"took over the lock of an earlier run that did not finish (pid {owner['pid']}" in p.stderr
    assert not (tmp_path / "demo" / OWNER_NAME).exists()  # released at the end of the run


def test_lock_in_process_refuses_a_second_holder(tmp_path):
    with FolderLock(tmp_path) as first:
        assert first.took_over is None
        with pytest.raises(InputError, match=f"pid {os.getpid()}"), FolderLock(tmp_path):
            pass
    with FolderLock(tmp_path):  # released: free again
        pass
