"""Resources a computation needs, known before it starts: memory (bytes) and the machine's share.

The checks here run before anything large is allocated, so a request that cannot fit ends at once
with the estimate and the limit (an :class:`~spinglass_icl.validation.InputError`, CLI exit 2)
instead of swapping for minutes and dying in numpy or BLAS.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._limits import memory_limit
from .validation import InputError, option


def available_memory(processes: int = 1) -> int:
    """Bytes each of ``processes`` processes may allocate: the smallest of available RAM (MemAvailable)
    and the room under the cgroup's memory limit, shared by the processes, and the room under the
    address-space limit (RLIMIT_AS), each process's own (``_limits.memory_limit``)."""
    return memory_limit(processes=processes).bytes


def gib(nbytes: float) -> str:
    """``nbytes`` for a message: "1.5 GiB" (bytes beyond an exbibyte)."""
    return f"{nbytes / 2**30:.3g} GiB" if nbytes < 2**60 else f"{nbytes:.3g} bytes"


_gib = gib


def memory(
    what: str, nbytes: float, *, force: bool = False, hint: str = "use smaller sizes", processes: int = 1
) -> None:
    """Refuse a request whose estimated memory ``nbytes`` (per process, for each of ``processes`` running at
    once) exceeds what each may allocate (:func:`available_memory`; the message names the limit: RAM,
    RLIMIT_AS or the cgroup's).

    Done before allocating, so a request that cannot fit ends at once with the estimate and the limit
    instead of swapping for minutes and dying with numpy's MemoryError.  ``force`` skips the check.
    """
    if force:
        return
    avail = available_memory(processes)
    if nbytes > avail:
        limit = memory_limit(processes=processes)  # which limit (read again: RAM moves; a test may replace it)
        which = f" (the tightest limit: {limit.source})" if abs(limit.bytes - avail) <= 0.05 * avail else ""
        each = " per process" if processes > 1 else ""
        raise InputError(
            f"{what} needs about {_gib(nbytes)} of memory{each} but {_gib(avail)} are available{each}{which}; "
            f"{hint}, or pass {option('force')} to try anyway"
        )


def spin_glass_bytes(D: int, P: int, *, test_prompts: int = 0, matrix: str = "effective") -> float:
    """Lower estimate of the memory (bytes, float64) to sample P (+ test) prompts' features and build
    and solve one spin glass: features a, b (P, D+1) with temporaries, a few vectors over the
    K = (D+1)² spins (fields h, mean, residual), and three dense n×n matrices (couplings, a copy, a
    factor) with n = D(D+1) (``matrix="effective"``), (D+1)² (``"full"``), min(P, D(D+1))
    (``"dual"``: the cheaper of the primal and kernel forms) or none (``"none"``)."""
    D1 = float(D) + 1.0  # floats: the estimate of an absurd request must not overflow
    n = {"effective": D1 * (D1 - 1), "full": D1 * D1, "dual": min(float(P), D1 * (D1 - 1)), "none": 0.0}[matrix]
    return 8.0 * (3.0 * (float(P) + float(test_prompts)) * D1 + 3.0 * D1 * D1 + 3.0 * n * n)


# -- estimates of one experiment point ------------------------------------------------------------
# Calibrated by benchmarks/bench_resources.py (BENCHMARKS.md, "Resources known up front") on the
# project's shared machine: 2 cores (Linux, x86-64), 23 GiB; CPU seconds = flops / FLOPS.
MACHINE = "2-core shared Linux x86-64 VM, 23 GiB, numpy/scipy OpenBLAS"
BASE_BYTES = 350 * 2**20  # interpreter, numpy/scipy/torch/matplotlib and the figure: measured 298 MiB
MATRIX_MARGIN = 1.25  # temporaries beside the counted arrays (measured peak/counted <= 1.1)
FLOPS = 1.0e10  # float64 flop/s of one point's mix of BLAS work (Gram, Cholesky, mat-vec), all threads
POINT_SECONDS = 0.5  # fixed cost of a point (imports are paid once per process)
# the Bayes-optimal pool predictor (``bayes.dmmse_predict``, ``bayes.dmmse_error``): CPU seconds per prompt · pool
# task · log-likelihood feature (K = D(D+1)/2 + D of them), measured 2026-12-06 on the shared 2-core VM:
# dmmse_error 2.4e-10 to 3.1e-10 (D = 4 … 12, M up to 2^16), dmmse_predict ≈ 3e-10 (D = 8, M = 2^15)
DMMSE_SECONDS = 3.5e-10
CPU_LIMIT_SECONDS = 365.25 * 86400.0  # a CPU-year: totals beyond it need --force
HISTOGRAMS = 16  # histograms of ``bins`` counts a point holds at once (a few quantities, with their edges)


@dataclass(frozen=True)
class Estimate:
    """Peak memory (bytes, whole process) and CPU seconds of one point; ``parts`` names the largest
    arrays by the parameter that sizes them ({parameter: bytes}), for a refusal that says what to change."""

    bytes: float
    seconds: float
    parts: dict[str, float] = field(default_factory=dict)
    slow: str = ""  # the parameter whose work dominates the CPU estimate ("": the memory driver's)

    def driver(self) -> str:
        """The parameter whose arrays dominate the memory estimate."""
        return max(self.parts, key=lambda k: self.parts[k]) if self.parts else "D"


def _ints(point: dict[str, Any], name: str) -> list[int]:
    v = point.get(name)
    items = v if isinstance(v, list) else [v]
    return [int(x) for x in items if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)]


def largest(point: dict[str, Any], name: str, default: int = 0) -> int:
    """The largest finite number of ``point[name]`` (one value or a list), else ``default``."""
    vals = _ints(point, name)
    return max(vals) if vals else default


def count_of(point: dict[str, Any], *names: str) -> int:
    """The first of ``names`` present (e.g. repeats or draws), at least 1."""
    for n in names:
        if _ints(point, n):
            return max(1, largest(point, n))
    return 1


def _batch(point: dict[str, Any]) -> int:
    """Repeats solved together in memory: the chunk of repeats, else all repeats."""
    reps = count_of(point, "repeats")
    if largest(point, "chunk") >= 1 and "repeats" in point:
        return min(reps, largest(point, "chunk"))
    return reps


def _epochs(point: dict[str, Any]) -> int:
    return max([largest(point, k) for k in point if k == "epochs" or k.endswith("_epochs")] or [0])


def dmmse_seconds(prompts: float, tasks: float, D: int) -> float:
    """CPU seconds of the dMMSE posterior of ``prompts`` prompts over a pool of ``tasks`` tasks in dimension D."""
    return DMMSE_SECONDS * float(prompts) * max(float(tasks), 1.0) * (D * (D + 1) / 2 + D)


def generic(point: dict[str, Any], *, matrix_free: bool = False) -> Estimate:
    """Estimate of a point from the catalog's shared names (D, N, P, P_test, repeats/draws, chunk, epochs,
    steps, samples, beta, bins: the vocabulary of :data:`spinglass_icl.experiments.params.SHARED`, one
    meaning each): per repeat in memory at once, the primal Gram D(D+1)² (Gram, factor, copy) and the
    dual P² when P < D(D+1), AMP's (D+1)² couplings J, J² and Hessian, features and test prompts; CPU:
    forming the Gram (P·n²), factorising it, AMP sweeps, Adam epochs on the Gram and exact samples, times
    every repeat or draw; and a few histograms of ``bins`` counts.  An experiment whose points it does not
    describe gives its own estimator (``Experiment.resources``), built on this one."""
    est = _spin_glass(point, matrix_free=matrix_free)
    bins = 8.0 * HISTOGRAMS * largest(point, "bins")  # histograms of the point's quantities
    if not bins:
        return est
    parts = {**est.parts, "bins": bins}
    return Estimate(est.bytes + MATRIX_MARGIN * bins, est.seconds, parts, est.slow)


def _spin_glass(point: dict[str, Any], *, matrix_free: bool = False) -> Estimate:
    D, N = largest(point, "D"), largest(point, "N", 1)
    if D <= 0:  # no spin glass in this point: only the process and its small arrays
        return Estimate(BASE_BYTES, POINT_SECONDS)
    if not _ints(point, "P"):
        return _token_matrices(point, D, N)
    n, K = float(D) * (D + 1), (D + 1.0) ** 2
    Ps = _ints(point, "P")
    P, P_test, b = float(max(Ps)), float(largest(point, "P_test")), _batch(point)
    amp = "beta" in point and "steps" in point
    parts: dict[str, float] = {}
    if not matrix_free:
        parts["D"] = 8.0 * b * (3 * n * n + (3 * K * K if amp else 0.0))
        if P < n:
            parts["P"] = 8.0 * b * 3 * P * P
    parts["P_test"] = 8.0 * b * 4 * (P + P_test) * (D + 1)
    beta = point.get("beta")
    samples = largest(point, "samples") * (len(beta) if isinstance(beta, list) else 1)
    parts["samples"] = 8.0 * samples * n
    flops = 0.0
    for p in Ps:
        flops += (p * n + 30 * n) * (D + 1) if matrix_free else p * n * n + (n**3 + min(p, n) ** 3) / 3
        flops += largest(point, "steps") * 4 * K * K if amp else 0.0
        flops += _epochs(point) * 2 * n * n + (P_test + samples) * n * 2 + 8 * D * D * N
    reps = count_of(point, "repeats", "draws")
    mem = BASE_BYTES + MATRIX_MARGIN * sum(parts.values())
    return Estimate(mem, POINT_SECONDS + reps * flops / FLOPS, {k: v for k, v in parts.items() if v > 0})


def _token_matrices(point: dict[str, Any], D: int, N: int) -> Estimate:
    """A point without prompts (P): random D × N token matrices and their spectra, one draw at a time
    (spectra of Wishart matrices): a few D × N arrays in memory, D²·N flops per draw."""
    nbytes = 8.0 * 3 * D * max(N, D)
    flops = count_of(point, "draws", "repeats") * float(D) * D * max(N, D)
    return Estimate(BASE_BYTES + MATRIX_MARGIN * nbytes, POINT_SECONDS + flops / FLOPS, {"N": nbytes})


def estimate(point: dict[str, Any], custom: Callable[[dict[str, Any]], Estimate] | None = None) -> Estimate:
    """Estimate of one point: the experiment's own ``resources`` (``custom``), else :func:`generic`."""
    return (custom or generic)(point)


@dataclass(frozen=True)
class Total:
    """A run's estimate: the largest point's memory and the sum of CPU seconds."""

    peak: Estimate
    worst: dict[str, Any]  # the point of the peak
    seconds: float
    points: int
    slowest: Estimate = Estimate(0.0, 0.0)  # the point of the most CPU time

    def line(self) -> str:
        return (
            f"estimate: {self.points} point(s), peak memory about {_gib(self.peak.bytes)} per process, "
            f"about {_duration(self.seconds)} of CPU time in all (calibrated on {MACHINE})"
        )


def _duration(s: float) -> str:
    for unit, size in (("years", 365.25 * 86400), ("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def total(points: list[dict[str, Any]], custom: Callable[[dict[str, Any]], Estimate] | None = None) -> Total:
    """The estimate of a run of ``points``: each point's (:func:`estimate`), the largest memory and the CPU sum."""
    ests = [estimate(p, custom) for p in points]
    i = max(range(len(ests)), key=lambda j: ests[j].bytes)
    slowest = max(ests, key=lambda e: e.seconds)
    return Total(ests[i], points[i], sum(e.seconds for e in ests), len(points), slowest)


def check_total(experiment_id: str, tot: Total, *, force: bool = False, workers: int = 1) -> None:
    """Refuse a run whose largest point does not fit in the memory each of its ``workers`` may take (the RAM
    and the cgroup's limit are shared by the workers, RLIMIT_AS is each one's own) or whose CPU total exceeds
    ``CPU_LIMIT_SECONDS``; ``force`` skips both."""
    if force:
        return
    name = tot.peak.driver()
    where = ", ".join(f"{k}={tot.worst[k]}" for k in ("D", "N", "P", "repeats", "chunk") if k in tot.worst)
    memory(
        f"{experiment_id} at {where}" + (f" ({workers} workers)" if workers > 1 else ""),
        tot.peak.bytes,
        processes=workers,
        hint=f"use a smaller {name} ({option('set', f'{name}=...')})"
        + (f" or fewer workers ({option('workers')})" if workers > 1 else ""),
    )
    if tot.seconds > CPU_LIMIT_SECONDS:
        slow = tot.slowest.slow or tot.slowest.driver()
        raise InputError(
            f"{experiment_id} would take about {_duration(tot.seconds)} of CPU time (more than a CPU-year); "
            f"use a smaller {slow} ({option('set', f'{slow}=...')}), smaller sizes or fewer repeats, "
            f"or pass {option('force')} to start anyway"
        )
