"""figS2 -- how the distributions of the fields and couplings change with the context length N.

For every draw index d and every N, one independent training set of P prompts gives h and J.  The
entries of h1 (off-diagonal entries of the D×D field block), h2, J1, J2, J3 are counted as the authors
count them (every off-diagonal entry of the symmetric J, both (i, j) and (j, i); exact zeros left out;
see :mod:`~spinglass_icl.experiments.histograms`), histogrammed per draw on the paper's fixed 100-bin ranges with 1
added to every bin,
and normalised to p_N.  The divergence (bits) is set by the option ``direction``:

- ``"ref_to_N"`` (default, the paper's): KL(p_ref ‖ p_N) = Σ_bins p_ref log₂(p_ref / p_N), as the authors'
  per-draw ``scipy.stats.entropy(counts_N20 + 1, counts_N + 1, base=2)``;
- ``"N_to_ref"``: the reverse, KL(p_N ‖ p_ref) = Σ_bins p_N log₂(p_N / p_ref) (the default before issue 12).

p_ref is the N = N_ref (= 20) histogram of the **same draw index** (one reference set per draw, shared by all
N; KL = 0 at N = N_ref, N = 21 shows the noise floor).  Mean ± std over draws; x-axis N/D; values outside a
range are not counted.  Points are chunks of draws, each computing every N for its draws and storing both
directions (``direction`` re-plots from the store).  ``convention`` as in fig1.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting
from ...prompts import PromptSpec
from ...validation import InputError, choice, positive_int
from .. import histograms, panels
from ..draws import generators
from ..histograms import QUANTITIES, draw_counts
from ..params import CONVENTIONS, Rule
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

RANGES = {"h1": (-0.2, 0.4), "h2": (-0.3, 0.3), "J1": (-0.1, 0.1), "J2": (-0.3, 0.3), "J3": (-0.5, 0.5)}  # the paper's
DIRECTIONS = {"ref_to_N": "KL($p_{{{ref}}}\\,\\|\\,p_N$)", "N_to_ref": "KL($p_N\\,\\|\\,p_{{{ref}}}$)"}


def divergence(ref: np.ndarray, counts_N: np.ndarray, direction: str) -> np.ndarray:
    """Per-draw KL in bits between raw histograms (..., bins), 1 added to every bin, shape (...): ``"ref_to_N"``
    KL(p_ref ‖ p_N) = scipy.stats.entropy(ref + 1, counts_N + 1, base=2); ``"N_to_ref"`` the reverse."""
    p, q = ref + 1, counts_N + 1
    return histograms.kl_bits(*((p, q) if choice("direction", direction, tuple(DIRECTIONS)) == "ref_to_N" else (q, p)))


def points(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    choice("convention", params["convention"], CONVENTIONS)
    choice("direction", params["direction"], tuple(DIRECTIONS))  # not part of a point: both are stored
    Ns = [positive_int("N", n) for n in np.atleast_1d(params["N"])]
    if params["N_ref"] not in Ns:
        raise InputError(f"N_ref={params['N_ref']} must be one of N={Ns}; add it to N or choose another N_ref")
    total, chunk = positive_int("draws", params["draws"]), positive_int("chunk", params["chunk"])
    base = {**{k: params[k] for k in ("P", "D", "N_ref", "convention", "bins")}, "N": Ns}
    return [dict(base, block=i, draws=min(chunk, total - start)) for i, start in enumerate(range(0, total, chunk))]


def count(p: Mapping[str, Any]) -> int:
    """One point per chunk of draws."""
    return -(-p["draws"] // p["chunk"])


def compute(point: Point, seed: int, device: str) -> Result:
    """KL in both directions (len(N), 5, draws) of one chunk of draws, summed raw histograms
    (len(N), 5, bins), outside counts; scalars: entries per draw and each direction's mean KL at the last N."""
    rng, _ = generators(seed)
    Ns, n, bins = [int(N) for N in point["N"]], int(point["draws"]), int(point["bins"])
    P, D, convention = point["P"], point["D"], point["convention"]

    def draw(N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # every N draws from the same stream, in order
        return draw_counts(PromptSpec(D=D, N=N), P, convention, n, RANGES, bins, rng)

    ref, out_ref, entries = draw(point["N_ref"])
    kl = {d: np.zeros((len(Ns), len(QUANTITIES), n)) for d in DIRECTIONS}
    hist, outside = np.zeros((len(Ns), len(QUANTITIES), bins), np.int64), np.zeros((len(Ns), len(QUANTITIES)), np.int64)
    for k, N in enumerate(Ns):
        h, o = (ref, out_ref) if N == point["N_ref"] else draw(N)[:2]
        for d in DIRECTIONS:
            kl[d][k] = divergence(ref, h, d).T  # (draws, 5) -> (5, draws)
        hist[k], outside[k] = h.sum(axis=0), o
    out: dict[str, Any] = {f"kl_{d}": v for d, v in kl.items()} | {"hist": hist, "outside": outside, "Ns": np.array(Ns)}
    for i, q in enumerate(QUANTITIES):
        out[f"entries_{q}"] = int(entries[i])
        out.update({f"KL_{q}_bits_Nmax_{d}": float(v[-1, i].mean()) for d, v in kl.items()})
    return out


def aggregate(records: list[Record], direction: str) -> dict[str, Any]:
    """KL of ``direction`` pooled over chunks: Ns, mean and std (len(N), 5), mean histograms, outside fractions."""
    if any(f"kl_{direction}" not in r for r in records):
        raise InputError(
            f"no KL for direction={direction!r} in these records: use one of {list(DIRECTIONS)} "
            "(records from before issue 12 need a rerun into a new folder)"
        )
    Ns = np.asarray(records[0]["Ns"])
    kl = np.concatenate([np.asarray(r[f"kl_{direction}"]) for r in records], axis=-1)
    hist = np.sum([r["hist"] for r in records], axis=0)
    outside = np.sum([r["outside"] for r in records], axis=0)
    return {
        "Ns": Ns,
        "mean": kl.mean(axis=-1),
        "std": kl.std(axis=-1),
        "hist": hist,
        "draws": int(kl.shape[-1]),
        "outside_fraction": outside / np.maximum(hist.sum(axis=-1) + outside, 1),
    }


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    agg = aggregate(records, params["direction"])
    Ns, D = agg["Ns"], float(params["D"])
    label = DIRECTIONS[params["direction"]].format(ref=params["N_ref"]) + " [bits]"
    fig, ax = plotting.figure(len(QUANTITIES), 2, width=2.7, height=2.5)
    show = sorted({int(Ns[0]), int(Ns[len(Ns) // 2]), int(Ns[-1])})
    for i, q in enumerate(QUANTITIES):
        plotting.band(ax[0, i], Ns / D, agg["mean"][:, i], agg["std"][:, i])
        ax[0, i].set(title=q, xlabel="N / D", ylabel=label)
        e = histograms.edges(*RANGES[q], int(params["bins"]))
        for N in show:
            c = agg["hist"][int(np.flatnonzero(Ns == N)[0]), i].astype(float)
            ax[1, i].stairs(c / max(c.sum(), 1) / np.diff(e)[0], e, label=f"N={N}")
        ax[1, i].set(title=f"{q}, pooled", xlabel=q, ylabel="density")
    panels.legend(ax[1, -1])
    fig.suptitle(
        f"figS2: {label} per draw vs N/D (P={params['P']}, D={params['D']}, {agg['draws']} draws, "
        f"convention={params['convention']})"
    )
    return fig


def summary(records: list[Record], params: Mapping[str, Any]) -> dict[str, Any]:
    agg = aggregate(records, params["direction"])
    out: dict[str, Any] = {"direction": params["direction"], "draws": agg["draws"], "N": [int(n) for n in agg["Ns"]]}
    for i, q in enumerate(QUANTITIES):
        out[f"KL_{q}_bits"] = [round(float(x), 4) for x in agg["mean"][:, i]]
        out[f"KL_{q}_std"] = [round(float(x), 4) for x in agg["std"][:, i]]
        out[f"{q}_outside_fraction_max"] = float(agg["outside_fraction"][:, i].max())
        out[f"{q}_entries_per_draw"] = int(records[0][f"entries_{q}"])
    return out


_COMMON = dict(P=1000, D=20, N_ref=20, convention="correct", direction="ref_to_N", bins=100)
QUICK = dict(_COMMON, N=[20, 21, 40, 80, 120, 200], draws=16, chunk=8)
FULL = dict(_COMMON, N=[20, 21] + list(range(40, 201, 20)), draws=1000, chunk=25)
RENAMED = {"convention": "builder", "block": "chunk"}

RULES = {
    "convention": Rule(doc="coupling builder: correct or paper, as in fig1"),
    "N_ref": Rule(low=1, doc="context length of the reference histograms p_ref"),
    "direction": Rule(doc="ref_to_N: KL(p_ref ‖ p_N), the paper's; N_to_ref: KL(p_N ‖ p_ref)"),
}


COLUMNS = {
    "block": "index of the point's block of ``chunk`` draws [count]",
    "entries_*": "entries of the block quantity * (h1, h2, J1, J2, J3) histogrammed per draw [count]",
    "KL_*_bits_Nmax_ref_to_N": (
        "KL(p_ref ‖ p_N) of quantity * at the largest N (the paper's direction), mean over the point's draws;"
        " every N is in the arrays [bits]"
    ),
    "KL_*_bits_Nmax_N_to_ref": (
        "the reverse KL(p_N ‖ p_ref) of quantity * at the largest N, mean over the point's draws [bits]"
    ),
}

SUMMARY_KEYS = {
    "direction": "the KL direction: ref_to_N (KL(p_ref ‖ p_N), the paper's) or N_to_ref [text]",
    "draws": "independent draws per N [count]",
    "N": "the N grid (the KL lists line up with it) [tokens]",
    "KL_{h1,h2,J1,J2,J3}_bits": (
        "KL divergence of that quantity's histogram from the reference N, per N, mean over draws [bits]"
    ),
    "KL_{h1,h2,J1,J2,J3}_std": "its standard deviation over draws, per N [bits]",
    "{h1,h2,J1,J2,J3}_outside_fraction_max": "largest fraction of its entries outside the histogram range over N [1]",
    "{h1,h2,J1,J2,J3}_entries_per_draw": "entries of that quantity histogrammed per draw [count]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="figS2",
    title="KL divergence between the J/h histograms at N=20 and at N, vs N/D",
)
