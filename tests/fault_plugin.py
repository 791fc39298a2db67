"""A plugin experiment for the fault tests (tests/test_faults.py): points that sleep (no CPU burnt),
return a seeded number and an array, and -- when FAULT_KILL says so -- kill the worker computing them.

FAULT_KILL="N": the point n=N ends its process (os._exit) every time it runs;
FAULT_KILL="N:PATH": only the first time (PATH marks that it happened).  Only with worker processes.
FAULT_STARTED=FOLDER: each process that starts a point writes its pid there.
"""

from __future__ import annotations

import os
import time

import numpy as np

from spinglass_icl.experiments.registry import register
from spinglass_icl.experiments.spec import Experiment


def points(p):
    return [{"n": int(n), "sleep": float(p["sleep"])} for n in p["n"]]


def compute(point, seed, device):
    kill = os.environ.get("FAULT_KILL", "")
    if kill:
        n, _, mark = kill.partition(":")
        if int(n) == point["n"] and not (mark and os.path.exists(mark)):
            if mark:
                open(mark, "w").close()
            os._exit(9)  # as a worker killed by the OOM killer or a preempted node
    if os.environ.get("FAULT_STARTED"):  # a folder: the pid of each process that starts a point
        open(os.path.join(os.environ["FAULT_STARTED"], str(os.getpid())), "w").close()
    end = time.monotonic() + point["sleep"]
    while time.monotonic() < end:
        time.sleep(0.02)
    rng = np.random.default_rng(seed)
    return {"value": float(rng.standard_normal()), "trace": rng.standard_normal(500)}


def plot(records, params):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([r["n"] for r in records], [r["value"] for r in records], "o")
    return fig


EXPERIMENT = register(
    Experiment(
        id="faults",
        title="fault-test plugin (sleeping points)",
        quick={"n": [1, 2, 3, 4, 5, 6], "sleep": 0.0},
        full={"n": [1, 2, 3, 4, 5, 6], "sleep": 0.0},
        points=points,
        compute=compute,
        plot=plot,
    )
)
