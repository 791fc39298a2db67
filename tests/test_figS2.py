"""figS2 (issue 12): the divergence's direction, the authors' entry counting, and the runner path.

The direction is pinned against ``scipy.stats.entropy`` (what the authors call per draw), the counting
against a brute-force loop over a tiny J, and the experiment end to end through the runner.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from spinglass_icl.experiments import histograms
from spinglass_icl.experiments.catalog import figS2
from spinglass_icl.experiments.draws import draw_repeats, generators
from spinglass_icl.experiments.histograms import QUANTITIES, block_values, draw_counts
from spinglass_icl.experiments.registry import get
from spinglass_icl.experiments.runner import run
from spinglass_icl.prompts import PromptSpec
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.validation import InputError


# -- the direction ---------------------------------------------------------------------------------
def test_divergence_is_scipy_entropy_of_ref_against_N():
    ref = np.array([[30, 10, 0, 5], [1, 2, 3, 4]])  # (draws, bins) raw counts; an empty bin in one
    hN = np.array([[5, 20, 15, 5], [9, 3, 2, 1]])
    got = figS2.divergence(ref, hN, "ref_to_N")
    want = [sps.entropy(r + 1, n + 1, base=2) for r, n in zip(ref, hN, strict=True)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    rev = figS2.divergence(ref, hN, "N_to_ref")
    np.testing.assert_allclose(
        rev, [sps.entropy(n + 1, r + 1, base=2) for r, n in zip(ref, hN, strict=True)], rtol=1e-12
    )
    assert np.all(np.abs(got - rev) > 0.01)  # the two directions differ for these histograms
    # by hand for the first draw: p = (31, 11, 1, 6)/49, q = (6, 21, 16, 6)/49
    p, q = np.array([31, 11, 1, 6]) / 49, np.array([6, 21, 16, 6]) / 49
    assert got[0] == pytest.approx(float(np.sum(p * np.log2(p / q))), rel=1e-12)
    with pytest.raises(InputError, match="direction"):
        figS2.divergence(ref, hN, "forward")


def test_compute_stores_both_directions_per_draw():
    """compute() from its seed, re-derived here histogram by histogram and pinned against scipy."""
    point = dict(P=60, D=3, N=[20, 21, 40], N_ref=20, convention="paper", bins=100, block=0, draws=3)
    rec = figS2.compute(point, seed=11, device="cpu")
    rng, _ = generators(11)
    ref, h21, h40 = (draw_counts(PromptSpec(D=3, N=N), 60, "paper", 3, figS2.RANGES, 100, rng)[0] for N in (20, 21, 40))
    for k, h in ((1, h21), (2, h40)):
        for d in range(3):
            for i in range(len(QUANTITIES)):
                r, n = ref[d, i] + 1, h[d, i] + 1
                assert rec["kl_ref_to_N"][k, i, d] == pytest.approx(sps.entropy(r, n, base=2), rel=1e-10)
                assert rec["kl_N_to_ref"][k, i, d] == pytest.approx(sps.entropy(n, r, base=2), rel=1e-10)
    assert np.all(rec["kl_ref_to_N"][0] == 0) and np.all(rec["kl_N_to_ref"][0] == 0)  # N = N_ref: itself
    assert rec["KL_J1_bits_Nmax_ref_to_N"] == pytest.approx(rec["kl_ref_to_N"][-1, 2].mean())


# -- the entries ------------------------------------------------------------------------------------
def _brute(h: np.ndarray, J: np.ndarray, D: int, r: int) -> dict[str, list[float]]:
    """Draw r's entries by explicit loops over spin pairs (block 𝒜 = first D(D+1) spins, ℬ = the rest)."""
    K, nA = (D + 1) ** 2, D * (D + 1)
    H = h[r].reshape(D + 1, D + 1)
    A, B = range(nA), range(nA, K)
    out = {
        "h1": [H[a, b] for a in range(D) for b in range(D) if a != b],
        "h2": list(H[D, :]),
        "J1": [J[r, i, j] for i in A for j in A if i != j],
        "J2": [J[r, i, j] for i in A for j in B],
        "J3": [J[r, i, j] for i in B for j in B if i != j],
    }
    return {q: [v for v in vals if v != 0.0] for q, vals in out.items()}


@pytest.mark.parametrize("D", [2, 3])
@pytest.mark.parametrize("feature_map", ["correct", "paper"])
def test_entries_are_the_authors_non_zero_entries(D, feature_map):
    """SpinGlass.blocks(pairs="both") is the authors' counting: every entry of their blocks but the exact zeros."""
    sg = SpinGlass(draw_repeats(PromptSpec(D=D, N=10), 40, 2, np.random.default_rng(D)), 0.0, feature_map)
    vals = block_values(sg, pairs="both")
    vals["h1"] = vals["h1_off"]
    for q in QUANTITIES:
        for r in range(2):
            want = np.sort(_brute(sg.h, sg.J, D, r)[q])
            np.testing.assert_array_equal(np.sort(vals[q][r]), want)


def test_spin_glass_entries_are_the_non_zero_modes():
    D = 3
    f = draw_repeats(PromptSpec(D=D, N=10), 40, 2, np.random.default_rng(0))
    for paper in (False, True):
        sg = SpinGlass(f, 0.0, "paper" if paper else "correct")
        both = block_values(sg, pairs="both")
        nA = D * D
        assert {q: both[q].shape[-1] for q in ("h1_off", "h2", "J1", "J2", "J3")} == {
            "h1_off": D * (D - 1),
            "h2": D,
            "J1": nA * (nA - 1),
            "J2": nA * D,
            "J3": D * (D - 1),
        }
        upper = sg.blocks()["J1"]  # each pair once: the histogram of both triangles is twice its histogram
        e = histograms.edges(-0.5, 0.5, 50)
        np.testing.assert_array_equal(histograms.binned_rows(both["J1"], e), 2 * histograms.binned_rows(upper, e))


# -- through the runner ---------------------------------------------------------------------------
def test_quick_figS2_through_the_runner_in_both_directions(tmp_path):
    small = {"draws": 4, "chunk": 2, "N": [20, 21, 200]}
    s1 = run("figS2", "quick", out=tmp_path, overrides=small, progress=False)
    s2 = run("figS2", "quick", out=tmp_path, overrides={**small, "direction": "N_to_ref"}, progress=False)
    assert not s1.failed and s1.n_computed == 2
    assert s2.n_computed == 0 and s2.n_cached == 2  # both directions are stored with every point
    a, b = s1.summary, s2.summary
    assert a["direction"] == "ref_to_N" and b["direction"] == "N_to_ref"
    assert a["N"] == b["N"] == [20, 21, 200] and a["draws"] == b["draws"] == 4
    for q in QUANTITIES:
        assert a[f"KL_{q}_bits"][0] == b[f"KL_{q}_bits"][0] == 0.0
        assert len(a[f"KL_{q}_std"]) == 3
    assert a["J1_entries_per_draw"] == 400 * 399 and a["J2_entries_per_draw"] == 400 * 20
    assert a["KL_J1_bits"][2] > 1.3 * b["KL_J1_bits"][2] > 0  # the paper's direction is the larger one
    assert a["KL_J1_bits"][2] > a["KL_J1_bits"][1]
    header = (tmp_path / "figS2" / "results.csv").read_text().splitlines()[0].split(",")
    assert {"entries_J1", "KL_J1_bits_Nmax_ref_to_N", "KL_J1_bits_Nmax_N_to_ref"} <= set(header)
    cfg = json.loads((tmp_path / "figS2" / "config.json").read_text())
    assert cfg["params"]["direction"] == "N_to_ref"
    assert (tmp_path / "figS2" / "figS2.png").exists()
    with pytest.raises(InputError, match="direction"):
        run("figS2", "quick", out=tmp_path, overrides={**small, "direction": "both"}, progress=False)


def test_figS2_declares_the_papers_direction_by_default():
    E = get("figS2")
    assert E.quick["direction"] == E.full["direction"] == "ref_to_N"
    assert E.full["draws"] == 1000 and E.full["N"] == [20, 21, *range(40, 201, 20)]
