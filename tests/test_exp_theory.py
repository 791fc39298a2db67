"""The theory experiments `asymptotics` and `temperature`: quick runs through the runner, checked for physics."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from spinglass_icl.experiments import registry
from spinglass_icl.experiments.catalog import asymptotics, temperature
from spinglass_icl.experiments.records import fit_inverse_D
from spinglass_icl.validation import InputError


@pytest.fixture(scope="module")
def runs(quick_run) -> dict:
    """Both experiments at their quick size through the runner (the session's shared runs)."""
    return {i: quick_run(i) for i in ("asymptotics", "temperature")}


def test_registered_and_sizes():
    assert registry.get("asymptotics") is asymptotics.EXPERIMENT
    assert registry.get("temperature") is temperature.EXPERIMENT
    full = asymptotics.EXPERIMENT.params("full")
    assert min(full["D"]) == 10 and max(full["D"]) >= 120
    assert min(full["tau"]) < 1 < max(full["tau"]) and max(full["rho"]) > 0 and max(full["kappa"]) > 0
    P = sorted(p["P"] for p in temperature.points(temperature.EXPERIMENT.params("full")))
    D = temperature.EXPERIMENT.params("full")["D"]
    assert P[0] < D * (D + 1) == P[1] < P[2]  # below, at and above the number of effective spins


def test_asymptotics_csv_columns(runs):
    s, _ = runs["asymptotics"]
    with open(f"{s.folder}/results.csv") as fh:
        header = next(csv.reader(fh))
    for col in ("D", "tau", "alpha", "rho", "kappa", "error_mean", "theory", "ratio"):
        assert col in header


def test_asymptotics_ratio_approaches_one(runs):
    """At the largest quick D every case is within 15 % of the theory, and closer than at D = 10."""
    _, recs = runs["asymptotics"]
    Dmax = max(r["D"] for r in recs)
    for case in {r["case"] for r in recs}:
        mine = {r["D"]: r for r in recs if r["case"] == case}
        assert mine[Dmax]["converged"] == 1.0
        assert abs(mine[Dmax]["ratio"] - 1) < 0.15, (case, mine[Dmax]["ratio"])
        assert abs(mine[Dmax]["ratio"] - 1) < abs(mine[10]["ratio"] - 1)
    # the τ = 2, α = 1, ρ = 0, κ = ∞ case has the closed form τ/((τ−1)(1+α)) = 1
    two = [r for r in recs if r["tau_target"] == 2.0 and r["rho"] == 0 and math.isinf(r["kappa"])]
    assert two and all(r["theory"] == pytest.approx(1.0) for r in two)


def test_inverse_D_fit_recovers_a_known_law():
    D = np.array([10.0, 20, 40, 80])
    r_inf, b = fit_inverse_D(D, 1.02 + 3.0 / D, np.full(4, 0.01))
    assert (r_inf, b) == (pytest.approx(1.02), pytest.approx(3.0))
    y = 0.9 - 2.0 / D
    y[1] = np.nan  # a case whose solver failed at one D is fitted on the others
    assert fit_inverse_D(D, y) == (pytest.approx(0.9), pytest.approx(-2.0))


def test_asymptotics_bad_cases():
    for bad in ({"tau": [2.0]}, {"tau": [-1.0] * 8}, {"rho": [-0.1] * 8}, {"kappa": [-1.0] * 8}):
        with pytest.raises(InputError):
            asymptotics.points(asymptotics.EXPERIMENT.params("quick", bad))
    with pytest.raises(InputError):
        asymptotics.points(asymptotics.EXPERIMENT.params("quick", {"repeats": [1]}))


def test_temperature_samples_match_the_closed_form(runs):
    """Sampled mean population errors within 5 standard errors of gibbs_error at every β; the sample error
    falls to the ground state's as β grows; flat directions carry the thermal error below D(D+1) only."""
    _, recs = runs["temperature"]
    by_ratio = {r["P_over_DD1"]: r for r in recs}
    for r in recs:
        assert r["max_abs_z"] < 5
        se = np.asarray(r["sample_error"]).mean(0)
        assert np.all(np.diff(se) < 0.05 * se[1:])  # decreasing in β (up to noise at the plateau)
        assert se[-1] == pytest.approx(r["ground_error_mean"], rel=0.01)
        assert se[0] > 5 * r["ground_error_mean"]
        contrast = np.asarray(r["sample_contrast"]).mean(0)
        assert contrast[-1] == pytest.approx(r["ground_contrast_mean"], abs=0.01) and contrast[0] < contrast[-1]
    assert by_ratio[0.5]["flat_share_mean"] > 0.5 and by_ratio[4.0]["flat_share_mean"] == 0.0
    assert by_ratio[0.5]["trace_QAinv_mean"] > by_ratio[1.0]["trace_QAinv_mean"] > by_ratio[4.0]["trace_QAinv_mean"]


def test_building_blocks_for_exact_beside_monte_carlo():
    """sweep.zipped / nan_sem / column(default=) and panels.markers_and_line / bands with a population line."""
    from spinglass_icl.experiments import panels
    from spinglass_icl.experiments.points import zipped
    from spinglass_icl.experiments.records import column, nan_sem

    assert zipped({"a": [1, 2], "b": [3, 4]}, ("a", "b"), "x") == [(1, 3), (2, 4)]
    with pytest.raises(InputError, match="one length"):
        zipped({"a": [1, 2], "b": [3]}, ("a", "b"), "x")
    assert nan_sem([1.0, 3.0, np.nan]) == pytest.approx(1.0) and math.isnan(nan_sem([1.0, np.nan]))
    recs = [{"x": 1.0, "e_mean": 2.0, "e_std": 0.1, "e_population_mean": 2.1}, {"x": 2.0, "e_mean": 1.0, "e_std": 0.1}]
    np.testing.assert_array_equal(column(recs, "e_population_mean", default=np.nan), [2.1, np.nan])
    with pytest.raises(KeyError):
        column(recs, "e_population_mean")
    fig, ax = panels.figure(2, 1)
    a, b = ax[0]
    panels.markers_and_line(a, [1, 2], [2.0, 1.0], [2.1, 0.9], err=[0.1, 0.1], label="MC")
    markers, line = a.get_lines()[0], a.get_lines()[-1]
    assert markers.get_linestyle() == "None" and line.get_linestyle() == "-"
    assert markers.get_color() == line.get_color() and list(line.get_ydata()) == [2.1, 0.9]
    assert a.get_legend_handles_labels()[1] == ["MC"]  # only the markers are labelled
    panels.bands(b, recs[:1], "x", [("e", "series")])
    assert [ln.get_linestyle() for ln in b.get_lines()] == ["None", "-"]  # MC as markers, exact as line
