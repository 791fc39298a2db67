"""Memory and CPU estimates known before a run (spinglass_icl.resources)."""

from __future__ import annotations

import pytest

from spinglass_icl import resources as R
from spinglass_icl import validation as V


def raises_one_line(fn, *args, match: str | None = None, **kwargs) -> str:
    with pytest.raises(V.InputError, match=match) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


def test_memory_guard(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda: 2**30)
    R.memory("x", 2**29)
    msg = raises_one_line(R.memory, "ground-state --D 9", 3 * 2**30, match="needs about 3 GiB")
    assert "1 GiB are available" in msg and "--force" in msg
    R.memory("x", 3 * 2**30, force=True)
    assert R.available_memory() == 2**30


def test_available_memory_is_positive():
    assert R.available_memory() > 0


def test_spin_glass_bytes_counts_features_spin_vectors_and_matrices():
    D, P = 3, 50  # D+1 = 4, K = 16, D(D+1) = 12
    base = 8 * (3 * P * 4 + 3 * 16)
    assert R.spin_glass_bytes(D, P, matrix="none") == base
    assert R.spin_glass_bytes(D, P, matrix="effective") == base + 8 * 3 * 12**2
    assert R.spin_glass_bytes(D, P, matrix="full") == base + 8 * 3 * 16**2
    assert R.spin_glass_bytes(D, 5, matrix="dual") == 8 * (3 * 5 * 4 + 3 * 16) + 8 * 3 * 25
    assert R.spin_glass_bytes(10**5, 10) > 2**40  # the 74.5 GiB case is refused, not attempted
