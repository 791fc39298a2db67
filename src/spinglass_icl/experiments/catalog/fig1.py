"""fig1 -- the spin glass itself: fields h and couplings J of pre-training, and their distributions.

Shows one draw's h ((D+1)×(D+1)) and J (K×K) as images with the blocks marked (𝒜 = rows 1..D of W,
ℬ = row D+1; 𝒞/𝒟/ℰ = J within 𝒜, between 𝒜 and ℬ, within ℬ), and histograms of h1 (diagonal and
off-diagonal entries of the D×D block), h2, J1, J2, J3 pooled over many draws, with a Gaussian fit
(exact pooled moments) and a two-component Gaussian mixture (EM on the counts).

Points are chunks of draws storing histograms on fixed bins (from a pilot of ``pilot_draws`` draws
with a constant seed, ±``range_sigmas`` pilot stds), raw moments and (block 0) one example draw.
``convention="paper"``: the authors' feature map (``feature_matrix(convention="paper")``, D×D block
transposed, /N) changes which spins of 𝒟 couple most strongly; the histograms only by (N+1)/N.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ... import plotting, resources
from ...prompts import PromptSpec
from ...spinglass import SpinGlass
from ...validation import choice, positive_int
from .. import histograms, mixtures, panels
from ..draws import generators
from ..histograms import BLOCK_VALUES, draw_block_values
from ..params import CONVENTIONS, Rule
from ..spec import Experiment, Point, Record, Result

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANELS = ("h1", "h2", "J1", "J2", "J3")  # h1 panel pools diag + off-diag
PILOT_SEED = 20240802  # constant: the bins must not depend on the run seed or the chunk
FULL = dict(P=1000, D=5, N=100, lambda0=0.0, draws=100_000, chunk=1000, convention="correct", bins=120)
FULL.update(range_sigmas=8.0, pilot_draws=20)
QUICK = {**FULL, "draws": 400, "chunk": 200, "bins": 80}
RENAMED = {"convention": "builder", "block": "chunk"}


def block_values(p: Mapping[str, Any], draws: int, rng: np.random.Generator) -> tuple[dict[str, Any], SpinGlass]:
    """:func:`~spinglass_icl.experiments.histograms.draw_block_values` at the sizes, λ0 and convention of ``p``."""
    return draw_block_values(PromptSpec(D=p["D"], N=p["N"]), p["P"], p["lambda0"], p["convention"], draws, rng)


def bin_edges(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Fixed bins of every quantity for these parameters (deterministic pilot, see module doc)."""
    vals, _ = block_values(params, params["pilot_draws"], np.random.default_rng(PILOT_SEED))
    k, bins = float(params["range_sigmas"]), int(params["bins"])
    lims = {q: (v.mean() - k * v.std(), v.mean() + k * v.std()) for q, v in vals.items()}
    joint = (min(lims["h1_diag"][0], lims["h1_off"][0]), max(lims["h1_diag"][1], lims["h1_off"][1]))
    lims["h1_diag"] = lims["h1_off"] = joint
    return {q: histograms.edges(lo, hi, bins) for q, (lo, hi) in lims.items()}


def points(params: dict) -> list[dict[str, Any]]:
    choice("convention", params["convention"], CONVENTIONS)
    total, chunk = positive_int("draws", params["draws"]), positive_int("chunk", params["chunk"])
    base = {k: params[k] for k in ("P", "D", "N", "lambda0", "convention", "bins", "range_sigmas", "pilot_draws")}
    return [dict(base, block=i, draws=min(chunk, total - start)) for i, start in enumerate(range(0, total, chunk))]


def count(p: Mapping[str, Any]) -> int:
    """One point per chunk of draws."""
    return -(-p["draws"] // p["chunk"])


def compute(point: Point, seed: int, device: str) -> Result:
    """Histograms (fixed bins), pooled moments and outside counts of one chunk of draws."""
    rng, _ = generators(seed)
    edges = bin_edges(point)
    vals, first = block_values(point, point["draws"], rng)
    out = {k: v for q in BLOCK_VALUES for k, v in histograms.histogram_record(q, vals[q], edges[q]).items()}
    if point["block"] == 0:
        out.update(h_example=first.h[0].reshape(first.D + 1, first.D + 1), J_example=first.J[0])
    return out


def pooled(records: list[dict]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every quantity's histogram pooled over the chunks (h1 = diagonal + off-diagonal), and its fits."""
    pool = histograms.pool_histograms(records, BLOCK_VALUES, merge={"h1": ("h1_diag", "h1_off")})
    return pool, histograms.fit_pooled(pool, PANELS + ("h1_diag", "h1_off"))


def plot(records: list[Record], params: Mapping[str, Any]) -> Figure:
    fig, ax = plotting.figure(4, 2, width=3.0, height=2.7)
    ex = min(records, key=lambda r: r["block"])
    D = int(params["D"])
    if "h_example" in ex:
        plotting.matrix(ax[0, 0], ex["h_example"], "h (one draw)", label="field h")
        panels.blocks(ax[0, 0], D, (D + 1) ** 2, "h")
        J = np.array(ex["J_example"], dtype=float)
        np.fill_diagonal(J, 0.0)  # the diagonal never enters E; it would swamp the colour scale
        plotting.matrix(ax[0, 1], J, "J (one draw, diagonal omitted)", label="coupling J")
        panels.blocks(ax[0, 1], D, J.shape[0], "J")
    pool, fit = pooled(records)
    for q, a in zip(PANELS, [ax[0, 2], ax[0, 3], ax[1, 0], ax[1, 1], ax[1, 2]]):
        e, c, f = pool[q]["edges"], pool[q]["counts"], fit[q]
        norm = c.sum() * np.diff(e)[0]
        if q == "h1":
            for part, col, lab in (("h1_off", "C0", "off-diagonal"), ("h1_diag", "C1", "diagonal")):
                a.stairs(pool[part]["counts"] / norm, e, fill=True, alpha=0.5, color=col, label=lab)
        else:
            a.stairs(c / norm, e, fill=True, alpha=0.5, color="C0", label="histogram")
        x = np.linspace(e[0], e[-1], 600)
        if q != "h1":  # h1 is bimodal by construction: only the mixture fit is meaningful
            a.plot(x, mixtures.gaussian_pdf(x, f["mean"], f["std"]), "k--", lw=0.9, label="Gaussian")
        mix = mixtures.mixture_pdf(x, f["mix_w"], f["mix_mean"], f["mix_std"])
        a.plot(x, mix, "r-", lw=0.9, label="2-Gaussian mixture")
        a.set(title=f"{q}: mean {f['mean']:.3g}, std {f['std']:.3g}", xlabel=q, ylabel="density")
    for a in (ax[0, 2], ax[1, 2]):
        panels.legend(a)
    ax[1, 3].axis("off")
    lines = [f"P={params['P']}, D={D}, N={params['N']}, λ0={params['lambda0']}"]
    lines += [f"convention={params['convention']}, {sum(int(r['draws']) for r in records)} draws"]
    lines += [f"{q}: N({fit[q]['mean']:.3g}, {fit[q]['std']:.3g}²)" for q in PANELS + ("h1_diag", "h1_off")]
    w, mu = (", ".join(f"{x:.3f}" for x in fit["h1"][k]) for k in ("mix_w", "mix_mean"))
    lines.append(f"h1 mixture: w={w} μ={mu}")
    ax[1, 3].text(0.0, 0.55, "\n".join(lines), va="top", ha="left", fontsize=7, transform=ax[1, 3].transAxes)
    fig.suptitle("fig1: fields and couplings of the pre-training spin glass")
    return fig


def summary(records: list[dict], params: dict) -> dict[str, Any]:
    pool, fit = pooled(records)
    out: dict[str, Any] = {"draws": sum(int(r["draws"]) for r in records)}
    for q in BLOCK_VALUES:
        out[f"{q}_mean"], out[f"{q}_std"] = round(fit[q]["mean"], 5), round(fit[q]["std"], 5)
        out[f"{q}_outside_fraction"] = float(pool[q]["outside"] / max(pool[q]["moments"][0], 1))
    out["h1_mixture_weights"] = [round(float(w), 4) for w in fit["h1"]["mix_w"]]
    return {**out, "h1_mixture_means": [round(float(m), 4) for m in fit["h1"]["mix_mean"]]}


RULES = {
    "convention": Rule(
        doc="coupling builder: correct (the model's feature map) or paper (the authors': D×D block transposed, / N)"
    ),
    "pilot_draws": Rule(low=1, doc="draws of a pilot run that fix the histogram ranges"),
    "range_sigmas": Rule(real=True, low=0, low_open=True, doc="histogram range in standard deviations"),
}


COLUMNS = {
    "block": "index of the point's block of ``chunk`` draws [count]",
    "outside_*": (
        "entries of the block quantity * that fall outside the histogram range, summed over the point's draws [count]"
    ),
    "mean_*": (
        "mean of the entries of the block quantity * (h1_diag, h1_off, h2, J1, J2, J3) over the point's draws"
        " [coupling units]"
    ),
    "std_*": "standard deviation of the entries of the block quantity * over the point's draws [coupling units]",
}


def cost(point: Point) -> resources.Estimate:
    """The generic estimate of the point's draws, the pilot run's draws (every chunk repeats it) included."""
    return resources.generic({**point, "draws": point["draws"] + point["pilot_draws"]})


SUMMARY_KEYS = {
    "draws": "draws pooled into the histograms, all points together [count]",
    "{h1_diag,h1_off,h2,J1,J2,J3}_mean": "mean of the pooled entries of that block quantity [coupling units]",
    "{h1_diag,h1_off,h2,J1,J2,J3}_std": (
        "standard deviation of the pooled entries of that block quantity [coupling units]"
    ),
    "{h1_diag,h1_off,h2,J1,J2,J3}_outside_fraction": "fraction of its entries outside the fixed histogram range [1]",
    "h1_mixture_weights": (
        "weights of the two-component Gaussian mixture fitted to h1 (diagonal and off-diagonal pooled) [1]"
    ),
    "h1_mixture_means": "means of the two mixture components [coupling units]",
}

EXPERIMENT = Experiment.from_module(
    __name__,
    id="fig1",
    title="fields h and couplings J of the pre-training spin glass, with their distributions",
)
