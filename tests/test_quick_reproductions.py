"""Every experiment at its --quick size through the real runner, asserting its qualitative result and
that its results.csv is the one recorded in tests/data/golden (same seed -> same numbers).

This is the "quick reproductions" part of `make test` (about five minutes on 2 cores); the quick runs are
the session's shared ones (conftest.quick_run), which the finer tests in tests/test_exp_*.py read too.
"""

from __future__ import annotations

import csv
import fnmatch
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from spinglass_icl.experiments import registry

GOLDEN = Path(__file__).parent / "data" / "golden"
# results.csv columns renamed on purpose since the golden files were recorded: {experiment: {old: new}}
# (REPRODUCTION.md, "Changes to stored results", states each one)
RENAMED: dict[str, dict[str, str]] = {
    "fig1": {"builder": "convention", "chunk": "block"},
    "figS2": {"builder": "convention", "chunk": "block"},
    "fig3": {"energy": "convention"},
    "figS4": {"cholesky": "convention"},
    "fig4a": {"amp_batch": "chunk"},
    "figS5": {"chunk": "block"},
    "figS7": {"chunk": "block"},
}
# Which golden columns are exact and which come out of training, and the tolerance each gets:
# tests/data/golden_tolerances.csv (experiment, models, column: fnmatch patterns; the first matching row wins).
# exact: solvers, theory, data -- the same arithmetic up to BLAS rounding, compared at 1e-6.  trained: what
# Adam produces, where rounding (CPU kind, BLAS and torch threads) is amplified by training -- a relative
# tolerance measured and stated there (REPRODUCTION.md, "What reproducible means here").  diagnostic: an
# iterative solver's own counters, which depend on the rounding of every product.
TOLERANCES = GOLDEN.parent / "golden_tolerances.csv"  # beside the golden folder, whose *.csv are runs


@dataclass(frozen=True)
class Tolerance:
    experiment: str
    models: str
    column: str
    kind: str
    rtol: float
    atol: float  # absolute, for statistics of trained quantities whose value can be near 0 (e.g. a spread)
    why: str

    def matches(self, exp_id: str, model: str, column: str) -> bool:
        return (
            fnmatch.fnmatchcase(exp_id, self.experiment)
            and any(fnmatch.fnmatchcase(model, m) for m in self.models.split("|"))
            and fnmatch.fnmatchcase(column, self.column)
        )


def tolerances() -> list[Tolerance]:
    with open(TOLERANCES, newline="") as f:
        return [Tolerance(**{**r, "rtol": float(r["rtol"]), "atol": float(r["atol"])}) for r in csv.DictReader(f)]


def tolerance(exp_id: str, model: str, column: str, table: list[Tolerance]) -> Tolerance:
    """The first row of ``table`` that matches the column (of a row with ``model``) of ``exp_id``."""
    return next(t for t in table if t.matches(exp_id, model, column))


def _increasing_overall(xs) -> bool:
    x = np.array([v for v in xs if v is not None and math.isfinite(v)], float)
    return x.size >= 2 and x[-1] > x[0]


CHECKS = {
    "demo": lambda s: (
        s["exact_test_error"][0] > 0.9 and s["exact_test_error"][-1] < 0.3 and _increasing_overall(s["exact_contrast"])
    ),
    "fig1": lambda s: abs(s["h1_diag_mean"] - 0.2) < 0.02 and abs(s["h1_off_mean"]) < 0.005,
    "fig2": lambda s: s["amp_converged"] and s["P1000_final_test_loss"] < 0.3 * s["P10_final_test_loss"],
    "fig3": lambda s: (
        s["P=10"]["flat_directions"] > 0
        and s["P=1000"]["flat_directions"] == 0
        and s["P=10"]["flat_fraction"] > s["P=1000"]["flat_fraction"]
    ),
    "fig4a": lambda s: (
        _increasing_overall(s["contrast_vs_P_at_largest_N"]) and _increasing_overall(s["contrast_vs_N_at_largest_P"])
    ),
    "fig4b": lambda s: (
        s["mean_rel_gap_adam_exact_wd2"] < 0.01
        and all(abs(a - b) < max(sd, 0.1 * b) for a, b, sd in zip(s["amp_mean"], s["adam_mean"], s["adam_std"]))
    ),
    "figS1": lambda s: abs(s["merged_peak_rel_offset"]) <= 0.1 and abs(s["separate_peak_rel_offset"]) <= 0.1,
    "figS2": lambda s: s["KL_J1_bits"][-1] > s["KL_J1_bits"][2] > s["KL_J1_bits"][1],
    "figS3": lambda s: s["converged"] >= 1,
    "figS4": lambda s: s["max_rel_gap_adam_exact_wd2"] < 0.01 and s["max_rel_gap_adam_amp_where_converged"] < 0.1,
    "figS5": lambda s: all(v["KS_to_MP"] < 0.01 for k, v in s.items() if k.startswith("N=")),
    "figS6": lambda s: (
        s["final_dist_mean"] < 0.5 * s["initial_dist_mean"]
        and abs(s["final_dist_mean"] - s["exact_min_dist_mean"]) < 0.05 * s["exact_min_dist_mean"]
    ),
    "figS7": lambda s: (
        s["zero_points_exactly_on_theory"] >= 0.95 * s["zero_points"]
        and all(abs(v["zero_fraction"] - v["theory"]) < 1e-12 for k, v in s.items() if k.startswith("spectrum_P="))
    ),
    "figS8": lambda s: (  # every linear model and the paper's AMP beat the trivial predictor ŷ = 0
        s["all_linear_beat_trivial"] and s["mean_test_amp"] < s["mean_test_trivial"]
    ),
    "phase": lambda s: (
        s["max_peak_rel_offset"] <= 0.15
        and all(v["contrast_minnorm_at_tau_max"] > 0.8 for k, v in s.items() if k.startswith("D="))
    ),
    "pool": lambda s: all(
        v["gs_pool"][0] < 0.3 * v["gs_fresh"][0] and v["contrast"][0] < 0.5 < v["contrast"][-1]
        for k, v in s.items()
        if k.startswith("D=")
    ),
    "asymptotics": lambda s: s["max_abs_ratio_minus_1_at_largest_D"] < 0.15,
    "diversity": lambda s: (  # the ground state memorises one task and crosses over; dMMSE beats ridge on the pool
        s["ground_state"]["id"][0] < 0.5 * s["ground_state"]["ood"][0]
        and s["ground_state"]["ood"][0] > 2 * s["ground_state"]["ood_at_inf"]
        and math.isfinite(s["ground_state"]["M_star"])
        and s["dmmse"]["id"][0] < s["ridge"]["id"][0]
        and s["dmmse"]["ood"][0] > s["ridge"]["ood"][0]
    ),
    "thresholds": lambda s: (  # dMMSE needs far more tasks than the ground state; the κ-theory's M*/D is constant
        all(d > 5 * g for d, g in zip(s["dmmse_M_star"], s["gs_M_star"]) if math.isfinite(d))
        and s["theory_kappa_star"][2] - s["theory_kappa_star"][1] < 1e-3 * s["theory_kappa_star"][0]
        and s["information_rate_ci"][0] < s["jensen_rate"]
    ),
    "temperature": lambda s: all(
        v["max_abs_z"] < 5 and v["sample_error"][-1] < 1.01 * v["ground_error"]
        for k, v in s.items()
        if k.startswith("P=")
    ),
}


@pytest.mark.parametrize("exp_id", registry.ids())
def test_quick_reproduction(exp_id, quick_run):
    s, _ = quick_run(exp_id)
    for name in ("results.csv", "config.json", f"{exp_id}.png", f"{exp_id}.pdf"):
        assert (Path(s.folder) / name).exists(), name
    check = CHECKS.get(exp_id)
    assert check is not None, f"no qualitative check for {exp_id}"
    assert check(s.summary), s.summary


def _rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(path, newline="") as f:
        return {(r["seed"], r.get("model", "")): r for r in csv.DictReader(f)}


def _same(a: str, b: str, rtol: float, atol: float = 0.0) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=rtol, abs_tol=max(atol, 1e-12))


def test_every_golden_column_is_stated_exact_or_trained_with_its_tolerance():
    table = tolerances()
    assert (table[-1].experiment, table[-1].models, table[-1].column, table[-1].kind) == ("*", "*", "*", "exact")
    assert table[-1].rtol <= 1e-6  # exact quantities are compared tightly
    assert all(t.kind in ("exact", "trained", "diagnostic") and t.why for t in table)
    assert all(t.rtol <= 1e-6 and t.atol == 0 for t in table if t.kind == "exact")
    for t in table[:-1]:  # every row but the default is used by some golden column
        used = any(
            t.matches(p.stem, row.get("model", ""), col) and tolerance(p.stem, row.get("model", ""), col, table) == t
            for p in GOLDEN.glob("*.csv")
            for row in _rows(p).values()
            for col in row
        )
        assert used, t


def _tol(exp_id: str, model: str, column: str, table: list[Tolerance]) -> tuple[float, float]:
    t = tolerance(exp_id, model, column, table)
    return t.rtol, t.atol


@pytest.mark.parametrize("exp_id", sorted(p.stem for p in GOLDEN.glob("*.csv")))
def test_quick_results_unchanged(exp_id, quick_run):
    """Every golden column of every golden point, in the current quick run (a point's seed hashes its
    parameters, so a changed default or a renamed parameter shows up as a missing point), within the
    tolerance golden_tolerances.csv states for it; timings (columns named ``*seconds*``) are the only columns
    left out."""
    renamed = RENAMED.get(exp_id, {})
    table = tolerances()
    now = _rows(Path(quick_run(exp_id)[0].folder) / "results.csv")
    before = _rows(GOLDEN / f"{exp_id}.csv")
    assert sorted(now) == sorted(before)
    diffs = [
        (key, col, old, now[key].get(renamed.get(col, col)))
        for key, row in before.items()
        for col, old in row.items()
        if not col.endswith("seconds")
        and not _same(old, now[key].get(renamed.get(col, col), "<missing>"), *_tol(exp_id, key[1], col, table))
    ]
    assert not diffs, diffs[:10]
