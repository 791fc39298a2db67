"""Issue 18, item 6: hypothesis drives every experiment's ``reproduce --set`` and every
``ground-state`` option with hostile values (huge, tiny, negative, zero, non-finite, wrong types,
lists) through the real CLI entry point (a bounded number of examples, so it stays fast), in one worker
process under an address-space limit: an input that makes a run away (a point list of 10¹¹ entries) fails
the test with a MemoryError, or by the worker's timeout, instead of growing until the kernel kills the machine's
largest process.

Every outcome is exit 0, 2 (refused) or, for ground-state, 3 (solver did not converge); never a
traceback; a refusal is one ``error:`` line; and a refused or dry run starts nothing (its output
folder is never created).
"""

from __future__ import annotations

import json
import resource
import select
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spinglass_icl.experiments import registry

NASTY = [
    "0",
    "-1",
    "-0",
    "1",
    "2",
    "1.5",
    "1e300",
    "-1e300",
    "1e-300",
    "5e-324",
    "nan",
    "inf",
    "-inf",
    "NaN",
    "99999999999",
    "1e9",
    "10000000000000000000000",
]
NASTY += ["abc", "[1,2]", "1,2", "[]", "[", ",", "true", "None", "0x10", "1_000", "½", "3,nan", "-5,7"] + [
    "",
    " ",
    "a\nb",
]
VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.integers(-(10**12), 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.lists(st.integers(-5, 10**9), min_size=1, max_size=3).map(lambda xs: ",".join(map(str, xs))),
    st.text(max_size=6),
)
FUZZ = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


LIMIT = 4 * 2**30  # the worker's address space: the CLI with torch needs < 2 GiB
TIMEOUT = 120.0  # seconds one call may take in the worker (a dry run answers in well under one)
WORKER = r"""
import contextlib, io, json, sys
from spinglass_icl.cli import main
for line in sys.stdin:
    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            rc = main(json.loads(line))
        except SystemExit as exc:  # argparse's own refusals
            rc = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # a run-away (MemoryError under the limit) or a crash: the test fails
            rc = -1
            err.write(f"Traceback: {type(exc).__name__}: {exc}")
    sys.__stdout__.write(json.dumps([rc, err.getvalue(), out.getvalue()]) + "\n")
    sys.__stdout__.flush()
"""
_worker: list[subprocess.Popen] = []


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def _process() -> subprocess.Popen:
    if not _worker or _worker[0].poll() is not None:
        _worker[:] = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=_limit,
            )
        ]
    return _worker[0]


@pytest.fixture(scope="module", autouse=True)
def _close_worker():
    yield
    for proc in _worker:
        proc.stdin.close()
        proc.wait(timeout=30)


def _cli(*argv: str) -> tuple[int, str, str]:
    """(exit status, stderr, stdout) of the CLI run in the worker process (under the address-space limit)."""
    proc = _process()
    proc.stdin.write(json.dumps(list(argv)) + "\n")
    proc.stdin.flush()
    ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
    if not ready:
        proc.kill()
        pytest.fail(f"{' '.join(argv)} did not answer within {TIMEOUT:.0f} s")
    line = proc.stdout.readline()
    if not line:
        pytest.fail(f"{' '.join(argv)} ended the worker (exit {proc.wait()})")
    rc, err, out = json.loads(line)
    return rc, err, out


def _clean(rc: int, err: str, allowed: tuple[int, ...]) -> None:
    assert rc in allowed, err
    assert "Traceback" not in err, err
    if rc != 0:
        lines = [ln for ln in err.strip().splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and err.strip().splitlines()[-1] == lines[0], err


@pytest.mark.parametrize("exp_id", registry.ids())
@FUZZ
@given(data=st.data())
def test_reproduce_set_never_crashes_and_starts_nothing(exp_id, data):
    exp = registry.get(exp_id)
    keys = data.draw(st.lists(st.sampled_from(sorted(exp.quick)), min_size=1, max_size=2, unique=True))
    sets = [f"{k}={data.draw(VALUES, label=k)}" for k in keys]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        rc, err, std = _cli(
            "reproduce", exp_id, "--dry-run", "--out", str(out), *[a for s in sets for a in ("--set", s)]
        )
        _clean(rc, err, (0, 2))
        assert not out.exists()  # nothing started, nothing written
        if rc == 0:  # a dry run's estimate is its result, on stdout
            assert std.startswith("estimate: ")


GROUND = ["ground-state", "--D", "3", "--N", "6", "--P", "20", "--test-prompts", "10", "--json"]
OPTIONS = ["--D", "--N", "--P", "--lambda0", "--noise", "--pool", "--beta", "--damping", "--steps", "--seed"]
OPTIONS += ["--test-prompts", "--device", "--solver"]
SMALL_VALUES = st.one_of(st.sampled_from(NASTY), st.integers(-3, 40).map(str), st.floats(-2.0, 2.0).map(repr))


@settings(FUZZ, max_examples=16)
@given(
    option=st.sampled_from(OPTIONS),
    value=SMALL_VALUES,
    solver=st.sampled_from(["exact", "cg", "amp", "amp-onsager"]),
)
def test_ground_state_options_never_crash(option, value, solver):
    rc, err, _ = _cli(*GROUND, "--solver", solver, option, value)
    _clean(rc, err, (0, 2, 3))


@pytest.mark.parametrize(
    "sets",
    [["D=200", "N=10", "repeats=1", "chunk=1"], ["D=300"], ["repeats=99999999999"], ["P_test=1e9"], ["epochs=1e9"]],
)
def test_the_issues_runaway_inputs_are_refused_before_anything_starts(tmp_path, sets):
    out = tmp_path / "out"
    rc, err, _ = _cli("reproduce", "fig4b", "--out", str(out), *[a for s in sets for a in ("--set", s)])
    _clean(rc, err, (2,))
    assert not out.exists()
    key = sets[0].partition("=")[0]
    assert key in err.partition(";")[2] or "integer" in err  # names the parameter to change
