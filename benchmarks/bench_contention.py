"""figS8 at quick size on an idle machine and beside busy processes (issue 18, item 5).

Each run is ``spinglass-icl reproduce figS8`` in a fresh process and folder; its wall time and
user+system CPU time come from ``os.wait4``.  The busy processes are single-threaded Python loops
started here (a minute before the run, so that the load average -- which the runner reads to choose
its threads -- sees them) and ended by pid.  Fair share: a run among L other runnable processes on C
cores gets C/(L+1) cores, so needing the idle run's CPU seconds it should take idle_cpu·(L+1)/C of
wall time, with L the 1-minute load average just before the run (on a shared machine it counts the
other users too); the goal is a wall time within 1.5× of that and CPU seconds within 20 % of the idle
run's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time

from _common import cli, machine, print_table

BUSY = "while True: pass"


def run_figS8(sets: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one figS8 run in a fresh process and folder."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "spinglass_icl", "reproduce", "figS8", "--out", out, "--json", *sets]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"figS8 failed ({os.waitstatus_to_exitcode(status)})")
    return wall, usage.ru_utime + usage.ru_stime


def beside_busy(n_busy: int, sets: list[str], settle: float) -> tuple[float, float, float]:
    """(wall s, CPU s, load average just before) of figS8 beside ``n_busy`` busy processes."""
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n_busy)]
    try:
        time.sleep(settle if n_busy else 0.0)  # let the load average see them
        load = os.getloadavg()[0]
        return (*run_figS8(sets), load)
    finally:
        for p in busy:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def main(quick: bool = False) -> list[dict]:
    sets = ["--set", "N=10", "--set", "repeats=1"] if quick else []
    cores = len(os.sched_getaffinity(0))
    rows = []
    settle = 1.0 if quick else 60.0
    idle = beside_busy(0, sets, settle)
    for n_busy in (0,) if quick else (0, 3):
        wall, cpu, load = idle if n_busy == 0 else beside_busy(n_busy, sets, settle)
        fair = idle[1] * (load + 1) / cores
        rows.append(
            {
                "busy processes": n_busy,
                "load average before": f"{load:.1f}",
                "wall s": f"{wall:.1f}",
                "CPU s": f"{cpu:.1f}",
                "CPU / idle CPU": f"{cpu / idle[1]:.2f}",
                "fair-share wall s": f"{fair:.1f}",
                "wall / fair share": f"{wall / fair:.2f}",
            }
        )
    print(machine())
    print_table("figS8 quick, idle vs beside busy processes", rows, list(rows[0]))
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
