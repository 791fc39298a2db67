"""Shared helpers of the benchmark scripts: timing, peak memory, the machine line, table printing.

Each benchmark defines ``main(quick: bool = False) -> list[dict]`` (rows of its table) and accepts
``--quick`` on the command line; ``tests/test_benchmarks_smoke.py`` runs every ``main(quick=True)``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def machine() -> str:
    """One line naming the CPU, core count, thread settings and library versions."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = os.environ.get("OMP_NUM_THREADS", "default")
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {gpu}; OMP_NUM_THREADS={threads}, torch threads "
        f"{torch.get_num_threads()}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__}"
    )


def best_time(fn: Callable[[], Any], repeat: int = 3) -> tuple[float, Any]:
    """Smallest wall time of ``repeat`` calls (the least disturbed by other jobs) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_memory(fn: Callable[[], Any]) -> tuple[int, float, Any]:
    """Peak traced allocation in bytes above the starting level (numpy reports to tracemalloc),
    wall time of the same call, and its result."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        t0 = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return peak, seconds, out


def fmt_seconds(s: float) -> str:
    if s >= 100:
        return f"{s:.0f} s"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def fmt_ratio(r: float) -> str:
    return f"{r:.0f}×" if r >= 10 else f"{r:.2g}×"


def fmt_bytes(b: float) -> str:
    return f"{b / 2**20:.1f} MiB" if b >= 2**20 else f"{b / 2**10:.1f} KiB"


def print_table(title: str, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Markdown table of ``rows`` (dicts) restricted to ``columns``."""
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(x[i]) for x in cells)) for i, c in enumerate(columns)]
    print(f"\n### {title}\n")
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for x in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(x, widths)) + " |")
    print(f"\nmachine: {machine()}")


def cli(main: Callable[[bool], Any], description: str) -> None:
    """Command line of a benchmark script: ``--quick`` runs the tiny size."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds), for smoke tests")
    args = parser.parse_args()
    main(quick=args.quick)
