"""Full-size reproductions (the paper's protocols), behind the ``slow`` marker.

Run with ``make test-slow`` (``pytest -m slow``): about 10 minutes on 2 cores.  The quick sizes of
every experiment run in the default suite (tests/test_quick_reproductions.py).
"""

from __future__ import annotations

import numpy as np
import pytest

from spinglass_icl.experiments.runner import run

pytestmark = pytest.mark.slow


def test_fig4b_full_theory_matches_training(tmp_path):
    s = run("fig4b", "full", out=tmp_path, workers=2, progress=False).summary
    adam, amp, wd2 = (np.array(s[k]) for k in ("adam_mean", "amp_mean", "exact_wd2_mean"))
    assert np.all(np.abs(adam - wd2) < 0.01 * adam)  # Adam's minimiser is the ground state at λ0 = wd/2
    assert np.all(np.abs(adam - amp) < 0.1 * adam)  # the paper's AMP within 10 % at every N
    assert np.all(np.diff(adam) < 0)  # longer contexts, lower test loss


def test_fig4a_full_grid(tmp_path):
    s = run("fig4a", "full", out=tmp_path, workers=2, progress=False).summary
    assert s["n_amp_runs"] == 25000 and 0.7 < s["converged_fraction"] < 0.9
    along_p = np.array(s["contrast_vs_P_at_largest_N"], float)
    along_p = along_p[np.isfinite(along_p)]
    assert along_p[-1] > along_p[0] + 0.3 and s["contrast_largest_N_P"] > 0.7


def test_figS1_full_peak_at_interpolation_threshold(tmp_path):
    s = run("figS1", "full", out=tmp_path, workers=2, progress=False).summary
    assert abs(s["merged_peak_rel_offset"]) <= 0.1 and abs(s["separate_peak_rel_offset"]) <= 0.1


def test_figS7_full_zero_modes(tmp_path):
    s = run("figS7", "full", out=tmp_path, workers=2, progress=False).summary
    assert s["zero_points"] == 560 and s["zero_points_exactly_on_theory"] >= 0.95 * s["zero_points"]
