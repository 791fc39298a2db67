"""figS2 -- how the distributions of the fields and couplings change with the context length N.

For every draw index d and every N, one independent training set of P prompts gives the block
entries h1 (off-diagonal entries of the D×D field block), h2, J1, J2, J3 (see fig1).  Each is
histogrammed per draw on SPEC's fixed 100-bin ranges, 1 is added to every bin (so no bin is
empty), and the histogram is normalised to p_N.  The plotted quantity is

    KL_N = KL(p_N || p_ref) = Σ_bins p_N log₂(p_N / p_ref)   (bits),

the divergence of the reference (N = N_ref = 20) histogram *from* the N histogram, with p_ref
from the reference training set of the **same draw index** (one reference set per draw, shared
by all N; at N = N_ref the reference itself is used, so KL = 0 exactly there and N = 21 shows
the draw-to-draw noise floor).  Mean ± std over draws; x-axis N/D.  Values outside a range are
not counted (SPEC's ranges; their fraction is reported).

Points are chunks of draws, each computing every N for its draws (which is what pairs them).
Option ``builder`` as in fig1 (``"paper"``: the authors' transposed, /N builder).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ... import plotting
from ...prompts import PromptSpec
from ...spinglass import SpinGlass
from ...validation import InputError, choice, positive_int
from .. import stats
from ..common import draw_repeats, generators
from ..spec import Experiment
from .fig1 import BUILDERS, block_values

QUANTITIES = ("h1", "h2", "J1", "J2", "J3")
RANGES = {"h1": (-0.2, 0.4), "h2": (-0.3, 0.3), "J1": (-0.1, 0.1), "J2": (-0.3, 0.3), "J3": (-0.5, 0.5)}  # SPEC §5
_BATCH = 25  # draws per SpinGlass batch (memory ~ 3·R·K² doubles)


def _values(sg: SpinGlass) -> dict[str, np.ndarray]:
    """Per-draw values (R, n) of the five quantities (h1 = off-diagonal entries only)."""
    v = block_values(sg)
    return {"h1": v["h1_off"], "h2": v["h2"], "J1": v["J1"], "J2": v["J2"], "J3": v["J3"]}


def histograms(spec: PromptSpec, P: int, builder: str, draws: int, bins: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Raw per-draw counts (draws, 5, bins) on the fixed ranges, and outside counts (5,)."""
    counts, out = [], np.zeros(len(QUANTITIES), dtype=np.int64)
    for start in range(0, draws, _BATCH):
        r = min(_BATCH, draws - start)
        vals = _values(SpinGlass(draw_repeats(spec, P, r, rng), 0.0, paper_builder=builder == "paper"))
        per = []
        for i, q in enumerate(QUANTITIES):
            e = stats.edges(*RANGES[q], bins)
            per.append(stats.binned_rows(vals[q], e))
            out[i] += stats.outside(vals[q], e)
        counts.append(np.stack(per, axis=1))
    return np.concatenate(counts), out


def points(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    choice("builder", params["builder"], BUILDERS)
    Ns = [positive_int("N", n) for n in np.atleast_1d(params["N"])]
    if params["N_ref"] not in Ns:
        raise InputError(f"N_ref={params['N_ref']} must be one of N={Ns}")
    total, chunk = positive_int("draws", params["draws"]), positive_int("chunk", params["chunk"])
    base = {"P": params["P"], "D": params["D"], "N": Ns, "N_ref": params["N_ref"], "builder": params["builder"],
            "bins": params["bins"]}
    return [dict(base, chunk=i, draws=min(chunk, total - start)) for i, start in enumerate(range(0, total, chunk))]


def compute(point: Mapping[str, Any], seed: int, device: str = "cpu") -> dict[str, Any]:
    """KL (len(N), 5, draws) of one chunk of draws, plus summed raw histograms (len(N), 5, bins)."""
    rng, _ = generators(seed)
    Ns, n, bins = list(point["N"]), int(point["draws"]), int(point["bins"])
    P, D, builder = point["P"], point["D"], point["builder"]
    ref, out_ref = histograms(PromptSpec(D=D, N=point["N_ref"]), P, builder, n, bins, rng)
    kl = np.zeros((len(Ns), len(QUANTITIES), n))
    hist = np.zeros((len(Ns), len(QUANTITIES), bins), dtype=np.int64)
    outside = np.zeros((len(Ns), len(QUANTITIES)), dtype=np.int64)
    for k, N in enumerate(Ns):
        if N == point["N_ref"]:
            h, o = ref, out_ref
        else:
            h, o = histograms(PromptSpec(D=D, N=N), P, builder, n, bins, rng)
        kl[k] = np.moveaxis(stats.kl_bits(h + 1, ref + 1), 0, -1)
        hist[k] = h.sum(axis=0)
        outside[k] = o
    return {"kl": kl, "hist": hist, "outside": outside, "Ns": np.array(Ns)}


def aggregate(records: list[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """KL pooled over chunks: Ns, mean and std (len(N), 5), mean histograms, outside fractions."""
    Ns = np.asarray(records[0]["Ns"])
    kl = np.concatenate([np.asarray(r["kl"]) for r in records], axis=-1)
    hist = sum(np.asarray(r["hist"]) for r in records)
    outside = sum(np.asarray(r["outside"]) for r in records)
    totals = hist.sum(axis=-1) + outside
    return {"Ns": Ns, "mean": kl.mean(axis=-1), "std": kl.std(axis=-1), "hist": hist, "draws": kl.shape[-1],
            "outside_fraction": outside / np.maximum(totals, 1)}


def plot(records: list[Mapping[str, Any]], params: Mapping[str, Any]):
    agg = aggregate(records)
    Ns, D = agg["Ns"], float(params["D"])
    with plotting.style():
        fig, ax = plotting.figure(len(QUANTITIES), 2, width=2.7, height=2.5)
        show = sorted({int(Ns[0]), int(Ns[len(Ns) // 2]), int(Ns[-1])})
        for i, q in enumerate(QUANTITIES):
            plotting.band(ax[0, i], Ns / D, agg["mean"][:, i], agg["std"][:, i])
            ax[0, i].set_title(f"{q}")
            ax[0, i].set_xlabel("N / D")
            ax[0, i].set_ylabel(rf"KL($p_N\,\|\,p_{{{params['N_ref']}}}$) [bits]")
            e = stats.edges(*RANGES[q], int(params["bins"]))
            for N in show:
                k = int(np.flatnonzero(Ns == N)[0])
                c = agg["hist"][k, i].astype(float)
                ax[1, i].stairs(c / max(c.sum(), 1) / np.diff(e)[0], e, label=f"N={N}")
            ax[1, i].set_xlabel(q)
            ax[1, i].set_ylabel("density (pooled)")
        ax[1, 0].legend(frameon=False)
        fig.suptitle(f"figS2: distance of the J/h distributions from N={params['N_ref']} "
                     f"(P={params['P']}, D={params['D']}, {agg['draws']} draws, builder={params['builder']})")
    return fig


def summary(records: list[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    agg = aggregate(records)
    out: dict[str, Any] = {"draws": int(agg["draws"]), "N": [int(n) for n in agg["Ns"]]}
    for i, q in enumerate(QUANTITIES):
        out[f"KL_{q}_bits"] = [round(float(x), 4) for x in agg["mean"][:, i]]
        out[f"KL_{q}_std"] = [round(float(x), 4) for x in agg["std"][:, i]]
        out[f"{q}_outside_fraction_max"] = float(agg["outside_fraction"][:, i].max())
    return out


_N_PAPER = [20, 21] + list(range(40, 201, 20))

EXPERIMENT = Experiment(
    id="figS2",
    title="KL divergence of the J/h histograms from their N=20 shape, vs N/D",
    quick=dict(P=1000, D=20, N=[20, 21, 40, 80, 120, 200], N_ref=20, draws=16, chunk=8, builder="correct", bins=100),
    full=dict(P=1000, D=20, N=_N_PAPER, N_ref=20, draws=1000, chunk=25, builder="correct", bins=100),
    points=points,
    compute=compute,
    plot=plot,
    summary=summary,
    notes="KL(p_N || p_20) in bits, +1 pseudo-count per bin, reference from the same draw index.",
)
