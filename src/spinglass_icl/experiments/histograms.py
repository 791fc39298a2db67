"""Block entries of h and J counted as the authors count them (figS2), and per-draw histograms of them.

The authors histogram blocks of the full fields h ((D+1)×(D+1) after reshaping) and couplings J (K×K,
K = (D+1)²) and drop exact zeros.  Here, with block 𝒜 = the first D(D+1) spins (rows 1..D of W) and
ℬ = the last D+1 spins (row D+1):

- h1: the D×D block of h, off-diagonal entries;  h2: row D+1 of h;
- J1: J within 𝒜, every entry (i, j) with i ≠ j -- both (i, j) and (j, i) of the symmetric J;
- J2: J between 𝒜 and ℬ, the block J[𝒜, ℬ] (every pair of spins once: i and j lie in different blocks);
- J3: J within ℬ, every (i, j) with i ≠ j, both triangles;

and exact zeros are left out when counting -- the zero modes (the last column of W, whose feature is
always 0) give exactly-zero fields and couplings.  For D = 20 a draw has 380 (h1), 20 (h2),
400·399 (J1), 400·20 (J2) and 20·19 (J3) non-zero entries.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..prompts import PromptSpec
from ..spinglass import SpinGlass
from . import stats
from .draws import draw_repeats

QUANTITIES = ("h1", "h2", "J1", "J2", "J3")
# fig1's quantities: the diagonal and off-diagonal entries of h1 apart, and every block of h and J
BLOCK_VALUES = ("h1_diag", "h1_off", "h2", "J1", "J2", "J3")
_DRAW_BATCH = 250  # draws per SpinGlass batch: bounds memory at ~R·K² doubles


def block_entries(h: np.ndarray, J: np.ndarray, D: int) -> dict[str, np.ndarray]:
    """Entries (R, n) of every quantity for R draws: h (R, K), J (R, K, K), K = (D+1)²; exact zeros
    are kept here (their positions are fixed) and left out by :func:`counts`."""
    K, nA = (D + 1) ** 2, D * (D + 1)
    if h.shape[-1] != K or J.shape[-2:] != (K, K):
        raise ValueError(f"h (R, {K}) and J (R, {K}, {K}) expected for D={D}, got {h.shape} and {J.shape}")
    H = h.reshape(h.shape[:-1] + (D + 1, D + 1))
    off_h, off_A, off_B = (~np.eye(n, dtype=bool) for n in (D, nA, D + 1))
    return {
        "h1": H[..., :D, :D][..., off_h],
        "h2": H[..., D, :],
        "J1": J[..., :nA, :nA][..., off_A],
        "J2": J[..., :nA, nA:].reshape(J.shape[:-2] + (-1,)),
        "J3": J[..., nA:, nA:][..., off_B],
    }


def counts(values: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, int, np.ndarray]:
    """Per-row histograms (R, bins) of the non-zero entries of ``values`` (R, n) on equal-width
    ``edges`` (np.histogram's bins), the number of non-zero entries outside the range, and the
    number of non-zero entries per row (R,)."""
    v = np.asarray(values, dtype=float)
    c = stats.binned_rows(v, edges)
    zeros = np.count_nonzero(v == 0, axis=-1)
    out = stats.outside(v, edges)
    if edges[0] <= 0.0 <= edges[-1]:  # the zeros were counted in 0's bin (same binning rule): take them out
        c[:, int(np.argmax(stats.binned_rows(np.zeros((1, 1)), edges)[0]))] -= zeros
    else:  # the zeros were counted as outside
        out -= int(zeros.sum())
    return c, out, v.shape[-1] - zeros


def draw_counts(
    spec: PromptSpec,
    P: int,
    convention: str,
    draws: int,
    ranges: Mapping[str, tuple[float, float]],
    bins: int,
    rng: np.random.Generator,
    batch: int = 25,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``draws`` independent training sets of P prompts (λ0 = 0), ``batch`` per SpinGlass (memory ~ 3·batch·K²
    doubles): per-draw counts (draws, 5, bins) of the five quantities on ``bins`` equal bins over their
    ``ranges``, outside counts (5,) and non-zero entries per draw (5,) (the same for every draw)."""
    hists, out, entries = [], np.zeros(len(QUANTITIES), np.int64), np.zeros(len(QUANTITIES), np.int64)
    for start in range(0, draws, batch):
        sg = SpinGlass(draw_repeats(spec, P, min(batch, draws - start), rng), 0.0, convention)
        vals, per = block_entries(sg.h, sg.J, spec.D), []
        for i, q in enumerate(QUANTITIES):
            c, o, n = counts(vals[q], stats.edges(*ranges[q], bins))
            per.append(c)
            out[i], entries[i] = out[i] + o, n.max()
        hists.append(np.stack(per, axis=1))
    return np.concatenate(hists), out, entries


def draw_block_values(
    spec: PromptSpec, P: int, lambda0: float, convention: str, draws: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], SpinGlass]:
    """``draws`` independent draws (batched) of the block entries of h and J (docs/theory.md#the-spin-glass) at
    the sizes
    of ``spec``, P, λ0 and the builder ``convention`` (fig1), each pooled
    into one flat array: h1 diagonal and off-diagonal, h2, J1, J2, J3 (off-diagonal, each pair once,
    zero modes out); also the first batch's SpinGlass (for the example images)."""
    parts: dict[str, list[np.ndarray]] = {q: [] for q in BLOCK_VALUES}
    first = None
    for start in range(0, draws, _DRAW_BATCH):
        f = draw_repeats(spec, P, min(_DRAW_BATCH, draws - start), rng)
        sg = SpinGlass(f, lambda0, convention)
        b = sg.blocks()
        b.update(h1_diag=np.diagonal(b["h1"], axis1=-2, axis2=-1), h1_off=b["h1"][..., ~np.eye(sg.D, dtype=bool)])
        for q in BLOCK_VALUES:
            parts[q].append(b[q].ravel())
        first = sg if first is None else first
    assert first is not None  # draws >= 1
    return {q: np.concatenate(v) for q, v in parts.items()}, first
