"""Memory and CPU estimates known before a run (spinglass_icl.resources)."""

from __future__ import annotations

import pytest

from conftest import raises_one_line
from spinglass_icl import resources as R
from spinglass_icl import validation as V


def test_memory_guard(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda processes=1: 2**30)
    R.memory("x", 2**29)
    msg = raises_one_line(R.memory, "ground-state --D 9", 3 * 2**30, match="needs about 3 GiB")
    assert "1 GiB are available" in msg and "force=True" in msg  # from Python: the Python argument
    with V.command_line():
        assert "--force" in raises_one_line(R.memory, "ground-state --D 9", 3 * 2**30)
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


# -- the estimator against measured peaks (a subprocess reads its own high-water RSS) -------------------------
# VmHWM of /proc/self/status belongs to the process image after exec; the rusage maxrss of a child would not do:
# Linux carries the parent's RSS at fork into it, so a test run late in a large suite would measure pytest.
CHILD = """
import json, sys
from spinglass_icl.experiments.runner import run
run(sys.argv[1], overrides=json.loads(sys.argv[2]), out=sys.argv[3], progress=False, make_plot=False)
with open("/proc/self/status") as fh:
    print(next(line.split()[1] for line in fh if line.startswith("VmHWM:")))
"""
FIG4B = {"N": 10, "P": 2000, "P_test": 100, "repeats": 1, "chunk": 1, "epochs": 10}


def _peak_rss(exp_id: str, sets: dict, out) -> int:
    import json
    import os
    import subprocess
    import sys

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, exp_id, json.dumps(sets), str(out)], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout.split()[-1]) * 1024


@pytest.mark.parametrize("D", [20, 50])
def test_memory_estimate_is_an_upper_bound_within_a_factor_2(tmp_path, D):
    from spinglass_icl.experiments.runner import estimate

    sets = {**FIG4B, "D": D}
    est = estimate("fig4b", "quick", sets).peak.bytes
    rss = _peak_rss("fig4b", sets, tmp_path)
    assert rss <= est <= 2 * rss, (est / 2**20, rss / 2**20)


def test_an_experiments_own_estimator_is_an_upper_bound_within_a_factor_2(tmp_path):
    """figS6 declares its estimator beside its compute (its arrays are per repeat and epoch, no spin glass)."""
    from spinglass_icl.experiments.runner import estimate

    sets = {"repeats": 20000, "epochs": 10}
    est = estimate("figS6", "quick", sets).peak.bytes
    rss = _peak_rss("figS6", sets, tmp_path)
    assert rss <= est <= 2 * rss, (est / 2**20, rss / 2**20)


def test_estimate_grows_with_the_primal_gram_and_names_the_parameter():
    small = R.estimate({"D": 20, "N": 10, "P": 10000, "repeats": 1, "chunk": 1, "beta": 1.0, "steps": 1})
    big = R.estimate({"D": 200, "N": 10, "P": 10000, "repeats": 1, "chunk": 1, "beta": 1.0, "steps": 1})
    n = 200 * 201
    assert big.bytes > 3 * 8 * n * n  # the D(D+1)² Gram the segfault allocated, and its factor
    assert big.driver() == "D" and small.bytes < big.bytes / 100


def test_refusals_name_the_estimate_and_the_parameter(monkeypatch):
    monkeypatch.setattr(R, "available_memory", lambda processes=1: 2**30)
    tot = R.total([{"D": 60, "N": 10, "P": 2000, "repeats": 8, "chunk": 8, "beta": 1.0, "steps": 1}])
    msg = raises_one_line(R.check_total, "fig4b", tot, match="fig4b at D=60")
    assert "needs about" in msg and "use a smaller D (overrides={'D': ...})" in msg  # Python's names
    assert "force=True" in msg
    with V.command_line():  # the CLI's names
        msg = raises_one_line(R.check_total, "fig4b", tot, match="fig4b at D=60")
    assert "use a smaller D (--set D=...)" in msg and "--force" in msg
    R.check_total("fig4b", tot, force=True)
    years = R.Total(R.Estimate(1.0, 2 * R.CPU_LIMIT_SECONDS), {"D": 3}, 2 * R.CPU_LIMIT_SECONDS, 1)
    assert "CPU-year" in raises_one_line(R.check_total, "x", years)


@pytest.mark.parametrize(("name", "value"), [("repeats", 99999999999), ("P_test", 10**9), ("curve_epochs", 10**9)])
def test_ranges_refuse_absurd_integers(name, value):
    from spinglass_icl.experiments.params import check_sizes

    assert "beyond the sensible range" in raises_one_line(check_sizes, "x", {name: value})
    check_sizes("x", {name: 1})


def test_ground_state_that_only_fits_matrix_free_is_solved_by_cg(monkeypatch, capsys):
    import json

    from spinglass_icl.cli import main

    args = ["ground-state", "--D", "20", "--N", "50", "--P", "3000", "--test-prompts", "10", "--json"]
    exact = R.spin_glass_bytes(20, 3000, test_prompts=10, matrix="dual")
    free = R.spin_glass_bytes(20, 3000, test_prompts=10, matrix="none")
    assert main(args) == 0
    reference = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(R, "available_memory", lambda processes=1: int((exact + free) / 2))  # fits only matrix-free
    assert main(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert "solving matrix-free (--solver cg)" in captured.err and out["solver"] == "exact-cg"
    assert out["test_error"] == pytest.approx(reference["test_error"], rel=1e-6)
    monkeypatch.setattr(R, "available_memory", lambda processes=1: int(free / 2))  # not even that: refused
    assert main(args) == 2 and "needs about" in capsys.readouterr().err
