"""How fast a refused or estimated run answers (issues 23 and 26): dry runs at absurd sizes and bad ``--set``.

First table: every integer parameter of every experiment at 10⁹ and 10¹¹ through ``reproduce ID --dry-run
--set name=value`` in one process (the experiment imported first, so the time is the dry run's own): the
slowest answer per experiment and how many were refused.  Second table: a bad ``--set`` (an integer parameter
at 0, below every range) in a fresh process, the whole command's wall time -- interpreter, imports and the
refusal -- as a user sees it.  The tests assert what the answers are (tests/test_dry_run_bounds.py), never
how fast.

    python benchmarks/bench_dry_run.py           # every experiment, 3 fresh processes each
    python benchmarks/bench_dry_run.py --quick   # two experiments, one process each
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time

from _common import cli, fmt_seconds, print_table
from spinglass_icl.cli import main as spinglass_icl
from spinglass_icl.experiments import params, registry

VALUES = (10**9, 10**11)


def _ints(exp_id: str) -> list[str]:
    exp = registry.get(exp_id)
    return [k for k in exp.full if params.param_kind(k, exp.quick[k], exp.full[k], own=exp.rules)[0] == "int"]


def _dry_run(exp_id: str, name: str, value: int, out: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        rc = spinglass_icl(["reproduce", exp_id, "--dry-run", "--out", out, "--set", f"{name}={value}"])
    return rc, time.perf_counter() - t0


def huge_values(ids: list[str]) -> list[dict]:
    rows = []
    out = tempfile.mkdtemp() + "/out"
    _dry_run(ids[0], _ints(ids[0])[0], VALUES[0], out)  # the CLI's first call reads the catalog's titles
    for exp_id in ids:
        registry.get(exp_id)
        runs = [(name, *_dry_run(exp_id, name, v, out)) for name in _ints(exp_id) for v in VALUES]
        slowest = max(runs, key=lambda r: r[2])
        rows.append(
            {
                "experiment": exp_id,
                "dry runs": str(len(runs)),
                "refused": str(sum(rc == 2 for _, rc, _ in runs)),
                "slowest": f"{fmt_seconds(slowest[2])} ({slowest[0]})",
                "_slowest": slowest[2],
            }
        )
    return rows


def bad_set(ids: list[str], repeat: int) -> list[dict]:
    rows = []
    for exp_id in ids:
        name = _ints(exp_id)[0]
        argv = [sys.executable, "-m", "spinglass_icl", "reproduce", exp_id, "--dry-run", "--set", f"{name}=0"]
        walls, cpus = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            with tempfile.TemporaryFile() as err:
                proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
                _, status, usage = os.wait4(proc.pid, 0)
                walls.append(time.perf_counter() - t0)
                cpus.append(usage.ru_utime + usage.ru_stime)
                err.seek(0)
                message = err.read().decode()
            assert os.waitstatus_to_exitcode(status) == 2 and message.startswith("error: "), message[-500:]
        rows.append(
            {
                "command": f"reproduce {exp_id} --set {name}=0",
                "wall s": ", ".join(f"{t:.2f}" for t in walls),
                "CPU s": ", ".join(f"{t:.2f}" for t in cpus),
                "_best": min(walls),
            }
        )
    return rows


def main(quick: bool = False) -> list[dict]:
    ids = ["fig1", "figS6"] if quick else registry.ids()
    rows = huge_values(ids)
    print_table(
        "dry runs at 10⁹ and 10¹¹ (one process, experiment imported)",
        rows,
        ["experiment", "dry runs", "refused", "slowest"],
    )
    bad = bad_set(ids, 1 if quick else 3)
    title = "bad --set, whole process (wall and user+system CPU seconds per run; wall includes waiting for a core)"
    print_table(title, bad, ["command", "wall s", "CPU s"])
    return rows + bad


if __name__ == "__main__":
    cli(main, __doc__ or "")
