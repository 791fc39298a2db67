"""Every benchmark script runs at its tiny size (so the scripts cannot rot); no timing is asserted."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
# bench_batching has its own, stricter smoke test in test_architectures.py: not run twice
SCRIPTS = sorted(p.stem for p in BENCH.glob("bench_*.py") if p.stem != "bench_batching")
# the core benchmarks print a markdown table and the machine line through benchmarks/_common.py
CORE = {"bench_amp", "bench_cg", "bench_training", "bench_sampling", "bench_couplings"}


def load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))  # the scripts import their sibling _common
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_all_benchmarks_are_found():
    assert set(SCRIPTS) >= CORE


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_quick(name, capsys):
    rows = load(name).main(quick=True)
    out = capsys.readouterr().out
    assert rows and out
    if name not in CORE:
        return
    assert "machine:" in out and "|" in out
    for row in rows:  # every measured number is finite
        for key, value in row.items():
            if key.startswith("_") and isinstance(value, float):
                assert np.isfinite(value), (name, key)
    # the correctness side-checks printed next to the timings
    if name == "bench_amp":
        assert rows[0]["_diff"] < 1e-10
    if name == "bench_cg":
        assert rows[0]["_converged"] and rows[0]["_diff"] < 1e-8 and rows[0]["_cg_peak"] < rows[0]["_kk"] * 4
