"""Calibration of spinglass_icl.resources: estimated vs measured peak memory and CPU time per point.

Each case runs one experiment point in a fresh process (``runner.run``, no figure) and reads that
process's own peak RSS and user+system CPU time (``os.wait4``); the estimate is
``resources.estimate`` of the same point.  The constants in resources.py (BASE_BYTES, FLOPS,
MATRIX_MARGIN) come from this table; BENCHMARKS.md ("Resources known up front") records it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from _common import cli, fmt_bytes, fmt_ratio, machine, print_table
from spinglass_icl import resources as R
from spinglass_icl.experiments.runner import estimate as run_estimate

CHILD = """
import json, sys
from spinglass_icl.experiments.runner import run
exp, sets, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
run(exp, overrides=sets, out=out, progress=False, make_plot=False)
"""

FIG4B = {"N": 10, "P": 2000, "P_test": 100, "repeats": 1, "chunk": 1, "epochs": 10}
CASES = [
    ("fig4b", {**FIG4B, "D": 10}),
    ("fig4b", {**FIG4B, "D": 30}),
    ("fig4b", {**FIG4B, "D": 50}),
    ("fig4b", {**FIG4B, "D": 60}),
    ("demo", {"D": 30, "N": 50, "P": 3000, "P_test": 200, "repeats": 2, "epochs": 50}),
    ("figS7", {"D": 40, "P": 1500, "spectrum_P": 100, "spectrum_D": 10, "spectrum_draws": 1, "chunk": 1}),
]


def measure(exp_id: str, sets: dict) -> tuple[int, float]:
    """(peak RSS bytes, CPU seconds) of one run of ``exp_id`` with ``sets`` in a fresh process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.Popen([sys.executable, "-c", CHILD, exp_id, json.dumps(sets), out], env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{exp_id} {sets} failed ({proc.returncode})")
    return usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def estimate(exp_id: str, sets: dict) -> R.Total:
    return run_estimate(exp_id, "quick", sets)


def main(quick: bool = False) -> list[dict]:
    rows = []
    base_rss, base_cpu = measure("fig4b", {**FIG4B, "D": 2, "P": 10})  # imports and one tiny point
    for exp_id, sets in CASES[:1] if quick else CASES:
        est = estimate(exp_id, sets)
        rss, cpu = measure(exp_id, sets)
        rows.append(
            {
                "case": f"{exp_id} " + " ".join(f"{k}={v}" for k, v in sets.items() if k in ("D", "P", "repeats")),
                "estimated peak": fmt_bytes(est.peak.bytes),
                "measured peak RSS": fmt_bytes(rss),
                "estimate / measured": fmt_ratio(est.peak.bytes / rss),
                "estimated CPU s": f"{est.seconds:.3g}",
                "measured CPU s (less imports)": f"{max(cpu - base_cpu, 0.0):.3g}",
                "est_over_rss": est.peak.bytes / rss,
            }
        )
    print(machine())
    print(f"baseline process (imports, one tiny point): {fmt_bytes(base_rss)}, {base_cpu:.3g} CPU s; 1 thread")
    cols = ["case", "estimated peak", "measured peak RSS", "estimate / measured", "estimated CPU s"]
    print_table("resources.estimate vs measured", rows, [*cols, "measured CPU s (less imports)"])
    return rows


if __name__ == "__main__":
    cli(main, __doc__.splitlines()[0])
