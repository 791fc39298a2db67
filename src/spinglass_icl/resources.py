"""Resources a computation needs, known before it starts: memory (bytes) and the machine's share.

The checks here run before anything large is allocated, so a request that cannot fit ends at once
with the estimate and the limit (an :class:`~spinglass_icl.validation.InputError`, CLI exit 2)
instead of swapping for minutes and dying in numpy or BLAS.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .validation import InputError


def available_memory() -> int:
    """Bytes the OS can give a new allocation without swapping (MemAvailable; sysconf fallback)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - neither Linux nor POSIX
        return 1 << 62  # unknown: do not refuse


def gib(nbytes: float) -> str:
    """``nbytes`` for a message: "1.5 GiB" (bytes beyond an exbibyte)."""
    return f"{nbytes / 2**30:.3g} GiB" if nbytes < 2**60 else f"{nbytes:.3g} bytes"


_gib = gib


def memory(what: str, nbytes: float, *, force: bool = False, hint: str = "use smaller sizes") -> None:
    """Refuse a request whose estimated memory ``nbytes`` exceeds what the machine has available.

    Done before allocating, so a request that cannot fit ends at once with the estimate and the limit
    instead of swapping for minutes and dying with numpy's MemoryError.  ``force`` skips the check.
    """
    limit = available_memory()
    if not force and nbytes > limit:
        raise InputError(
            f"{what} needs about {_gib(nbytes)} of memory but {_gib(limit)} are available; "
            f"{hint}, or pass --force to try anyway"
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
CPU_LIMIT_SECONDS = 365.25 * 86400.0  # a CPU-year: totals beyond it need --force

# Physically sensible upper bounds of integer parameters by name (a prefixed name, e.g. curve_epochs,
# follows its last part); any other integer parameter is bounded by DEFAULT_MAX.  Lower bounds are
# validation.PARAMETER_RULES'.  Beyond these nothing in the project can finish on one machine.
RANGES: dict[str, int] = {
    "D": 2000,  # K = (D+1)² = 4·10⁶ spins
    "N": 10**6,
    "P": 10**8,
    "T": 10**8,
    "P_test": 10**7,
    "repeats": 10**6,
    "draws": 10**6,
    "samples": 10**7,
    "epochs": 10**7,
    "steps": 10**7,
    "chunk": 10**6,
    "batch": 10**8,
    "bins": 10**6,
    "grid": 10**5,
}
DEFAULT_MAX = 10**9


def _range_of(name: str) -> int:
    return RANGES.get(name) or RANGES.get(name.rpartition("_")[2]) or DEFAULT_MAX


def check_ranges(experiment_id: str, params: dict[str, Any]) -> None:
    """Refuse an integer parameter beyond its physically sensible bound (:data:`RANGES`)."""
    for name, value in params.items():
        for x in value if isinstance(value, list) else [value]:
            if isinstance(x, int) and not isinstance(x, bool) and x > _range_of(name):
                raise InputError(
                    f"{experiment_id} {name}={x} is beyond the sensible range of {name} (<= {_range_of(name):,}); "
                    f"choose a smaller {name}"
                )


@dataclass(frozen=True)
class Estimate:
    """Peak memory (bytes, whole process) and CPU seconds of one point; ``parts`` names the largest
    arrays by the parameter that sizes them ({parameter: bytes}), for a refusal that says what to change."""

    bytes: float
    seconds: float
    parts: dict[str, float] = field(default_factory=dict)

    def driver(self) -> str:
        """The parameter whose arrays dominate the memory estimate."""
        return max(self.parts, key=lambda k: self.parts[k]) if self.parts else "D"


def _ints(point: dict[str, Any], name: str) -> list[int]:
    v = point.get(name)
    items = v if isinstance(v, list) else [v]
    return [int(x) for x in items if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)]


def _one(point: dict[str, Any], name: str, default: int = 0) -> int:
    vals = _ints(point, name)
    return max(vals) if vals else default


def _count(point: dict[str, Any], *names: str) -> int:
    """The first of ``names`` present (e.g. repeats or draws), at least 1."""
    for n in names:
        if _ints(point, n):
            return max(1, _one(point, n))
    return 1


def _batch(point: dict[str, Any]) -> int:
    """Repeats solved together in memory: amp_batch, else the chunk of repeats, else all repeats."""
    reps = _count(point, "repeats")
    if _one(point, "amp_batch"):
        return min(reps, _one(point, "amp_batch"))
    if _one(point, "chunk") >= 1 and "repeats" in point:
        return min(reps, _one(point, "chunk"))
    return reps


def _epochs(point: dict[str, Any]) -> int:
    return max([_one(point, k) for k in point if k == "epochs" or k.endswith("_epochs")] or [0])


def generic(point: dict[str, Any], *, matrix_free: bool = False) -> Estimate:
    """Estimate of a point from the catalog's common names (D, N, P, P_test, repeats/draws, chunk,
    amp_batch, epochs, steps, samples, beta): per repeat in memory at once, the primal Gram
    D(D+1)² (Gram, factor, copy) and the dual P² when P < D(D+1), AMP's (D+1)² couplings J, J²
    and Hessian, features and test prompts; CPU: forming the Gram (P·n²), factorising it, AMP
    sweeps, Adam epochs on the Gram and exact samples, times every repeat or draw."""
    D, N = _one(point, "D"), _one(point, "N", 1)
    if D <= 0:  # no spin glass in this point: only the process and its small arrays
        return Estimate(BASE_BYTES, POINT_SECONDS)
    if not _ints(point, "P"):
        return _token_matrices(point, D, N)
    n, K = float(D) * (D + 1), (D + 1.0) ** 2
    Ps = _ints(point, "P")
    P, P_test, b = float(max(Ps)), float(_one(point, "P_test")), _batch(point)
    amp = "beta" in point and "steps" in point
    parts: dict[str, float] = {}
    if not matrix_free:
        parts["D"] = 8.0 * b * (3 * n * n + (3 * K * K if amp else 0.0))
        if P < n:
            parts["P"] = 8.0 * b * 3 * P * P
    parts["P_test"] = 8.0 * b * 4 * (P + P_test) * (D + 1)
    beta = point.get("beta")
    samples = _one(point, "samples") * (len(beta) if isinstance(beta, list) else 1)
    parts["samples"] = 8.0 * samples * n
    flops = 0.0
    for p in Ps:
        flops += (p * n + 30 * n) * (D + 1) if matrix_free else p * n * n + (n**3 + min(p, n) ** 3) / 3
        flops += _one(point, "steps") * 4 * K * K if amp else 0.0
        flops += _epochs(point) * 2 * n * n + (P_test + samples) * n * 2 + 8 * D * D * N
    reps = _count(point, "repeats", "draws")
    mem = BASE_BYTES + MATRIX_MARGIN * sum(parts.values())
    return Estimate(mem, POINT_SECONDS + reps * flops / FLOPS, {k: v for k, v in parts.items() if v > 0})


def _token_matrices(point: dict[str, Any], D: int, N: int) -> Estimate:
    """A point without prompts (P): random D × N token matrices and their spectra, one draw at a time
    (e.g. figS5): a few D × N arrays in memory, D²·N flops per draw."""
    nbytes = 8.0 * 3 * D * max(N, D)
    flops = _count(point, "draws", "repeats") * float(D) * D * max(N, D)
    return Estimate(BASE_BYTES + MATRIX_MARGIN * nbytes, POINT_SECONDS + flops / FLOPS, {"N": nbytes})


def _asymptotics(point: dict[str, Any]) -> Estimate:
    # no P in the point: P = τ·D(D+1); matrix-free CG from cg_from_D on (the experiment's own switch)
    D = _one(point, "D")
    tau = float(point.get("tau_target", 1.0) or 1.0)
    pt = {**point, "P": max(1, int(tau * D * (D + 1))), "N": 1}
    est = generic(pt, matrix_free=D >= _one(point, "cg_from_D", 10**9))
    if D >= _one(point, "cg_from_D", 10**9):
        return est
    parts = {("cg_from_D" if k == "D" else k): v for k, v in est.parts.items()}  # lower it: matrix-free
    return replace(est, parts=parts)


# CPU seconds per (repeat · prompt · token · (D+1)² · epoch) of figS8's trained models, fitted to the
# full run's measured 12 697 CPU-s (BENCHMARKS.md, "figS8 cost"): TF 10 875 s, the others 1 822 s
FIGS8_SECONDS = {"tf": 5.3e-9, "sa": 8.5e-11, "fla": 8.5e-11, "mhla": 8.5e-11, "lintf": 8.5e-11}
# the model sizes those constants were measured at (TF: d_model 32, 2 layers); a point's own options scale
# them -- TF's cost grows like d_model²·layers, the linear transformer's like its layers (per layer ≈ FLA)
_MEASURED_AT = {"tf": {"d_model": 32, "layers": 2}, "lintf": {"layers": 1}}


def model_size_factor(point: dict[str, Any], model: str) -> float:
    """Cost of ``model``'s options in ``point`` (``<model>_d_model``, ``<model>_layers``; 0 or absent: the
    measured size) relative to the size FIGS8_SECONDS was measured at."""
    base = _MEASURED_AT.get(model, {})
    width = float(point.get(f"{model}_d_model") or base.get("d_model", 1)) / base.get("d_model", 1)
    depth = float(point.get(f"{model}_layers") or base.get("layers", 1)) / base.get("layers", 1)
    return width * width * depth


def _figS8(point: dict[str, Any]) -> Estimate:
    # the spin-glass models (amp, sla on the Gram) follow the generic rule; trained attention models
    # hold the prompts' tokens (P + P_test, N+1, D+1) in float32 with their gradients
    model = str(point.get("model", ""))
    if model not in FIGS8_SECONDS:
        return generic(point)
    est = generic({k: v for k, v in point.items() if not k.endswith("_epochs")})
    D, N, P, reps = _one(point, "D"), _one(point, "N", 1), _one(point, "P"), _count(point, "repeats")
    tokens = 4.0 * 4 * (P + _one(point, "P_test")) * (N + 1) * (D + 1) * reps
    epochs = _one(point, f"{model}_epochs") + _one(point, f"{model}_curriculum_epochs")
    train = FIGS8_SECONDS[model] * model_size_factor(point, model) * reps * P * (N + 1) * (D + 1) ** 2 * epochs
    parts = {**est.parts, "P": est.parts.get("P", 0.0) + tokens}
    return Estimate(est.bytes + MATRIX_MARGIN * tokens, est.seconds + train, parts)


# experiments whose points the generic rule does not describe (keyed by experiment id)
ESTIMATORS: dict[str, Callable[[dict[str, Any]], Estimate]] = {"asymptotics": _asymptotics, "figS8": _figS8}


def estimate(experiment_id: str, point: dict[str, Any], custom: Callable[..., Estimate] | None = None) -> Estimate:
    """Estimate of one point: the experiment's own ``resources`` hook, else :data:`ESTIMATORS`, else
    :func:`generic`."""
    fn = custom or ESTIMATORS.get(experiment_id, generic)
    return fn(point)


@dataclass(frozen=True)
class Total:
    """A run's estimate: the largest point's memory and the sum of CPU seconds."""

    peak: Estimate
    worst: dict[str, Any]  # the point of the peak
    seconds: float
    points: int

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


def total(experiment_id: str, points: list[dict[str, Any]], custom: Callable[..., Estimate] | None = None) -> Total:
    ests = [estimate(experiment_id, p, custom) for p in points]
    i = max(range(len(ests)), key=lambda j: ests[j].bytes)
    return Total(ests[i], points[i], sum(e.seconds for e in ests), len(points))


def check_total(experiment_id: str, tot: Total, *, force: bool = False, workers: int = 1) -> None:
    """Refuse a run whose largest point does not fit in the available memory (× the workers that hold
    points at once) or whose CPU total exceeds :data:`CPU_LIMIT_SECONDS`; ``force`` skips both."""
    if force:
        return
    name = tot.peak.driver()
    where = ", ".join(f"{k}={tot.worst[k]}" for k in ("D", "N", "P", "repeats", "chunk") if k in tot.worst)
    memory(
        f"{experiment_id} at {where}" + (f" ({workers} workers)" if workers > 1 else ""),
        tot.peak.bytes * workers,
        hint=f"use a smaller {name} (--set {name}=...)" + (" or fewer --workers" if workers > 1 else ""),
    )
    if tot.seconds > CPU_LIMIT_SECONDS:
        raise InputError(
            f"{experiment_id} would take about {_duration(tot.seconds)} of CPU time (more than a CPU-year); "
            f"use smaller sizes or fewer repeats, or pass --force to start anyway"
        )
