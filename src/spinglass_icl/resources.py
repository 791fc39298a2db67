"""Resources a computation needs, known before it starts: memory (bytes) and the machine's share.

The checks here run before anything large is allocated, so a request that cannot fit ends at once
with the estimate and the limit (an :class:`~spinglass_icl.validation.InputError`, CLI exit 2)
instead of swapping for minutes and dying in numpy or BLAS.
"""

from __future__ import annotations

import os

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


def _gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.3g} GiB" if nbytes < 2**60 else f"{nbytes:.3g} bytes"


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
