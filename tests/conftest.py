"""Shared small fixtures for the core test suite (every random draw from an explicit seed)."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from spinglass_icl.prompts import Features, PromptSpec, features_from_prompts, sample_features, sample_prompts
from spinglass_icl.spinglass import SpinGlass

# Property tests: few examples and no per-example deadline (the 2-core CI machine is shared and
# numpy's first calls are slow); the suite's time budget is kept by the example counts.
settings.register_profile("core", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("core")


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m spinglass_icl ARGS`` in a fresh process (one BLAS/OpenMP thread), output captured as text."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "spinglass_icl", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


def raises_one_line(fn, *args, match: str | None = None, **kwargs) -> str:
    """Call ``fn``, expect an InputError matching ``match`` whose message is one line; return the message."""
    from spinglass_icl.validation import InputError

    with pytest.raises(InputError, match=match) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert msg and "\n" not in msg
    return msg


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh, seeded numpy generator per test."""
    return np.random.default_rng(12345)


@pytest.fixture
def small_spec() -> PromptSpec:
    """D=3, N=8: K = 16 spins, 12 effective ones."""
    return PromptSpec(D=3, N=8)


def make_features(D: int, N: int, P: int, seed: int, **spec_kwargs) -> Features:
    """Direct-sampler features of P prompts (single instance unless ``task_pool`` is given)."""
    return sample_features(PromptSpec(D=D, N=N, **spec_kwargs), P, np.random.default_rng(seed))


def make_explicit(D: int, N: int, P: int, seed: int, **spec_kwargs):
    """Explicit prompts and their features, drawn from one seed."""
    prompts = sample_prompts(PromptSpec(D=D, N=N, **spec_kwargs), P, np.random.default_rng(seed))
    return prompts, features_from_prompts(prompts)


def make_spinglass(D: int = 3, N: int = 8, P: int = 60, lambda0: float = 0.1, seed: int = 0) -> SpinGlass:
    """A small spin glass from direct-sampler features."""
    return SpinGlass(make_features(D, N, P, seed), lambda0)


def stack(fs: list[Features]) -> Features:
    """Stack feature sets along a new leading (repeat) axis."""
    return Features(
        a=np.stack([f.a for f in fs]), b=np.stack([f.b for f in fs]), y=np.stack([f.y for f in fs]), N=fs[0].N
    )


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory):
    """``quick_run(id) -> (RunSummary, records)``: experiment ``id`` at its quick size through the real
    runner, computed once per test session and shared by every test that reads it."""
    from spinglass_icl.experiments.runner import records, run

    out = tmp_path_factory.mktemp("quick")
    done: dict[str, tuple] = {}

    def get(exp_id: str) -> tuple:
        if exp_id not in done:
            s = run(exp_id, "quick", out=out, progress=False)
            assert not s.failed, s.failed
            done[exp_id] = (s, records(s.folder))
        return done[exp_id]

    return get
