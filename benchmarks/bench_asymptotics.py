"""Cost of the `asymptotics` experiment: one min-norm ground state + exact population error per (case, D).

For every D of the full size (quick: D ≤ 20) and every case of the grid, one repeat of the experiment's
own ``compute`` is timed (best of 1: a full run's points are single calls too); the serial cost of a run is
Σ_D repeats(D) · Σ_cases t(case, D), and with ``--workers 2`` about half of it (points are independent).
Wall and CPU time are both given: on a shared machine the CPU time (one thread) is the stable number.
The measured wall time of ``reproduce asymptotics --full --workers 2`` is recorded in BENCHMARKS.md.
"""

from __future__ import annotations

import time

from _common import cli, fmt_seconds, print_table
from spinglass_icl.experiments.catalog import asymptotics


def main(quick: bool = False) -> list[dict]:
    params = asymptotics.EXPERIMENT.params("full")
    Ds = [D for D in params["D"] if D <= 20] if quick else params["D"]
    repeats = dict(zip(params["D"], params["repeats"]))
    rows, total, total_cpu = [], 0.0, 0.0
    for D in Ds:
        per_case: list = []
        for pt in asymptotics.points(params):
            if pt["D"] != D:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            out = asymptotics.compute({**pt, "repeats": 1}, seed=0, device="cpu")
            per_case.append((time.perf_counter() - t0, out, time.process_time() - c0))
        one = sum(t for t, _, _ in per_case)
        cpu = sum(c for _, _, c in per_case)
        serial = repeats[D] * one
        total += serial
        total_cpu += repeats[D] * cpu
        slowest = max(per_case, key=lambda x: x[0])
        rows.append(
            {
                "D": D,
                "P max": max(o["P"] for _, o, _ in per_case),
                "repeats": repeats[D],
                "one repeat, all cases": fmt_seconds(one),
                "CPU": fmt_seconds(cpu),
                "slowest case": fmt_seconds(slowest[0]),
                "its (slowest)": slowest[1]["max_iterations"],
                "serial, all repeats": fmt_seconds(serial),
                "_seconds": serial,
            }
        )
    rows.append(
        {
            "D": "total",
            "serial, all repeats": fmt_seconds(total),
            "CPU": fmt_seconds(total_cpu),
            "_seconds": total,
            "one repeat, all cases": f"≈ {fmt_seconds(total / 2)} with 2 workers",
        }
    )
    print_table(
        "asymptotics: cost per D (one repeat of each case timed, × repeats)",
        rows,
        [
            "D",
            "P max",
            "repeats",
            "one repeat, all cases",
            "CPU",
            "slowest case",
            "its (slowest)",
            "serial, all repeats",
        ],
    )
    return rows


if __name__ == "__main__":
    cli(main, __doc__)
