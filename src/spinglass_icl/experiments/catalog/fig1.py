"""fig1 -- the spin glass itself: fields h and couplings J of pre-training, and their distributions.

One draw of P prompts defines h ((D+1)×(D+1) after reshaping) and J (K×K, K = (D+1)²).  The
figure shows one draw's h and J as images (blocks 𝒜 = rows 1..D of W, ℬ = row D+1; couplings
𝒞 = J within 𝒜, 𝒟 = between 𝒜 and ℬ, ℰ = within ℬ) and the histograms of h1 (diagonal and
off-diagonal entries of the D×D block), h2, J1, J2, J3 pooled over many independent draws, with a
Gaussian fit (exact pooled moments) and a two-component Gaussian-mixture fit (EM on the counts).

Points are chunks of draws; each stores only histograms on fixed bins, pooled raw moments and
(chunk 0) one example draw, so 10⁵ draws cost a few MB.  The bins are fixed for the whole run by a
pilot of ``pilot_draws`` draws with a constant seed (±``range_sigmas`` pilot standard deviations
around the pilot mean; h1's diagonal and off-diagonal share one range); values outside are counted.

Option ``builder``: ``"correct"`` (the model's s = a⊗b/(N+1)) or ``"paper"`` (the authors'
builder: D×D block of s transposed, divided by N).  The transposition changes which spins of block
𝒟 couple most strongly (W_mn with W_{D+1,n} for the model, with W_{D+1,m} for the authors'); 𝒞 is
symmetric under m↔n and the histograms change only by the (N+1)/N scale (1-2 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ... import plotting
from ...prompts import PromptSpec
from ...spinglass import SpinGlass
from ...validation import choice, positive_int
from .. import stats
from ..common import draw_repeats, generators
from ..spec import Experiment

QUANTITIES = ("h1_diag", "h1_off", "h2", "J1", "J2", "J3")
PANELS = ("h1", "h2", "J1", "J2", "J3")  # h1 panel pools diag + off-diag
BUILDERS = ("correct", "paper")
PILOT_SEED = 20240802  # constant: the bins must not depend on the run seed or the chunk
_DRAW_BATCH = 250  # draws per SpinGlass batch: bounds memory at ~R·K² doubles


def block_values(sg: SpinGlass) -> dict[str, np.ndarray]:
    """Per-draw block entries of h and J (SPEC §3), each (*batch, n): h1 diagonal (D), h1
    off-diagonal (D(D−1)), h2 (D), J1, J2, J3 (off-diagonal, each pair once, zero modes out)."""
    b = sg.blocks()
    D = sg.D
    h1 = b["h1"]
    off = ~np.eye(D, dtype=bool)
    return {"h1_diag": np.diagonal(h1, axis1=-2, axis2=-1), "h1_off": h1[..., off],
            "h2": b["h2"], "J1": b["J1"], "J2": b["J2"], "J3": b["J3"]}


def draw_block_values(spec: PromptSpec, P: int, lambda0: float, builder: str, draws: int,
                      rng: np.random.Generator) -> tuple[dict[str, list[np.ndarray]], SpinGlass]:
    """``draws`` independent draws of the block entries, in batches; also returns the first
    batch's SpinGlass (for the example images)."""
    out: dict[str, list[np.ndarray]] = {q: [] for q in QUANTITIES}
    first = None
    for start in range(0, draws, _DRAW_BATCH):
        r = min(_DRAW_BATCH, draws - start)
        sg = SpinGlass(draw_repeats(spec, P, r, rng), lambda0, paper_builder=builder == "paper")
        for q, v in block_values(sg).items():
            out[q].append(v)
        if first is None:
            first = sg
    return out, first


def bin_edges(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Fixed bins of every quantity for these parameters (deterministic pilot, see module doc)."""
    rng = np.random.default_rng(PILOT_SEED)
    spec = PromptSpec(D=params["D"], N=params["N"])
    vals, _ = draw_block_values(spec, params["P"], params["lambda0"], params["builder"], params["pilot_draws"], rng)
    k, bins = float(params["range_sigmas"]), int(params["bins"])
    lims = {}
    for q in QUANTITIES:
        v = np.concatenate([x.ravel() for x in vals[q]])
        lims[q] = (v.mean() - k * v.std(), v.mean() + k * v.std())
    joint = (min(lims["h1_diag"][0], lims["h1_off"][0]), max(lims["h1_diag"][1], lims["h1_off"][1]))
    lims["h1_diag"] = lims["h1_off"] = joint
    return {q: stats.edges(lo, hi, bins) for q, (lo, hi) in lims.items()}


def points(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    choice("builder", params["builder"], BUILDERS)
    total, chunk = positive_int("draws", params["draws"]), positive_int("chunk", params["chunk"])
    base = {k: params[k] for k in ("P", "D", "N", "lambda0", "builder", "bins", "range_sigmas", "pilot_draws")}
    return [dict(base, chunk=i, draws=min(chunk, total - start))
            for i, start in enumerate(range(0, total, chunk))]


def compute(point: Mapping[str, Any], seed: int, device: str = "cpu") -> dict[str, Any]:
    """Histograms (fixed bins), pooled moments and outside counts of one chunk of draws."""
    rng, _ = generators(seed)
    spec = PromptSpec(D=point["D"], N=point["N"])
    edges = bin_edges(point)
    vals, first = draw_block_values(spec, point["P"], point["lambda0"], point["builder"], point["draws"], rng)
    out: dict[str, Any] = {}
    for q in QUANTITIES:
        v = np.concatenate([x.ravel() for x in vals[q]])
        out[f"hist_{q}"] = stats.binned(v, edges[q])
        out[f"edges_{q}"] = edges[q]
        out[f"moments_{q}"] = stats.moments(v)
        out[f"outside_{q}"] = stats.outside(v, edges[q])
        out[f"mean_{q}"] = float(v.mean())
        out[f"std_{q}"] = float(v.std())
    if point["chunk"] == 0:
        out["h_example"] = first.h[0].reshape(spec.D + 1, spec.D + 1)
        out["J_example"] = first.J[0]
    return out


def pooled(records: list[Mapping[str, Any]]) -> dict[str, dict[str, np.ndarray]]:
    """Counts, edges and raw moments of every quantity pooled over the chunks (bins must agree)."""
    out = {}
    for q in QUANTITIES:
        e = np.asarray(records[0][f"edges_{q}"])
        if any(not np.allclose(r[f"edges_{q}"], e) for r in records):
            raise ValueError(f"records of {q} were binned differently; rerun with one parameter set")
        out[q] = {"edges": e, "counts": sum(np.asarray(r[f"hist_{q}"]) for r in records),
                  "moments": sum(np.asarray(r[f"moments_{q}"], dtype=float) for r in records),
                  "outside": sum(int(r[f"outside_{q}"]) for r in records)}
    out["h1"] = {"edges": out["h1_diag"]["edges"], "counts": out["h1_diag"]["counts"] + out["h1_off"]["counts"],
                 "moments": out["h1_diag"]["moments"] + out["h1_off"]["moments"],
                 "outside": out["h1_diag"]["outside"] + out["h1_off"]["outside"]}
    return out


def fits(pool: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, dict[str, Any]]:
    """Gaussian (exact moments) and 2-component mixture (EM on counts) fit of every panel."""
    out = {}
    for q in PANELS + ("h1_diag", "h1_off"):
        mu, sd = stats.mean_std(pool[q]["moments"])
        w, m, s = stats.fit_mixture(stats.centers(pool[q]["edges"]), pool[q]["counts"], 2)
        out[q] = {"mean": mu, "std": sd, "mix_w": w, "mix_mean": m, "mix_std": s}
    return out


def _mark_blocks(ax, D: int, K: int, kind: str) -> None:
    """Lines and labels of the 𝒜/ℬ (h) or 𝒞/𝒟/ℰ (J) blocks."""
    if kind == "h":
        ax.axhline(D - 0.5, color="k", lw=0.8)
        tr = ax.get_yaxis_transform()  # x in axes units, y in data units
        ax.text(1.03, (D - 1) / 2, r"$\mathcal{A}$", ha="left", va="center", transform=tr)
        ax.text(1.03, D, r"$\mathcal{B}$", ha="left", va="center", transform=tr)
        return
    cut = D * (D + 1) - 0.5
    ax.axhline(cut, color="k", lw=0.8)
    ax.axvline(cut, color="k", lw=0.8)
    mid_a, mid_b = cut / 2, (cut + K - 0.5) / 2
    labels = ((mid_a, mid_a, r"$\mathcal{C}$"), (mid_b, mid_a, r"$\mathcal{D}$"), (mid_a, mid_b, r"$\mathcal{D}$"),
              (mid_b, mid_b, r"$\mathcal{E}$"))
    for x, y, lab in labels:
        ax.text(x, y, lab, ha="center", va="center", fontsize=11, color="0.25")


def plot(records: list[Mapping[str, Any]], params: Mapping[str, Any]):
    with plotting.style():
        fig, ax = plotting.figure(4, 2, width=3.0, height=2.7)
        ex = min(records, key=lambda r: r["chunk"])
        D = int(params["D"])
        if "h_example" in ex:
            plotting.matrix(ax[0, 0], ex["h_example"], "h (one draw)")
            _mark_blocks(ax[0, 0], D, (D + 1) ** 2, "h")
            J = np.array(ex["J_example"], dtype=float)
            np.fill_diagonal(J, 0.0)  # the diagonal never enters E; it would swamp the colour scale
            plotting.matrix(ax[0, 1], J, "J (one draw, diagonal omitted)")
            _mark_blocks(ax[0, 1], D, J.shape[0], "J")
        pool = pooled(records)
        fit = fits(pool)
        n_draws = sum(int(r["draws"]) for r in records)
        slots = {"h1": ax[0, 2], "h2": ax[0, 3], "J1": ax[1, 0], "J2": ax[1, 1], "J3": ax[1, 2]}
        for q, a in slots.items():
            e, c = pool[q]["edges"], pool[q]["counts"]
            width = np.diff(e)
            norm = c.sum() * width[0]
            if q == "h1":
                for part, col, lab in (("h1_off", "C0", "off-diagonal"), ("h1_diag", "C1", "diagonal")):
                    a.stairs(pool[part]["counts"] / norm, e, fill=True, alpha=0.5, color=col, label=lab)
            else:
                a.stairs(c / norm, e, fill=True, alpha=0.5, color="C0")
            x = np.linspace(e[0], e[-1], 600)
            f = fit[q]
            if q != "h1":  # h1 is bimodal by construction: only the mixture fit is meaningful
                a.plot(x, stats.gaussian_pdf(x, f["mean"], f["std"]), "k--", lw=0.9, label="Gaussian")
            a.plot(x, stats.mixture_pdf(x, f["mix_w"], f["mix_mean"], f["mix_std"]), "r-", lw=0.9,
                   label="2-Gaussian mixture")
            a.set_title(f"{q}: mean {f['mean']:.3g}, std {f['std']:.3g}")
            a.set_xlabel(q)
            a.set_ylabel("density")
            if q == "h1":
                a.legend(frameon=False, fontsize=6)
        ax[1, 3].axis("off")
        lines = [f"P={params['P']}, D={D}, N={params['N']}, λ0={params['lambda0']}",
                 f"builder={params['builder']}, {n_draws} draws", ""]
        for q in PANELS + ("h1_diag", "h1_off"):
            f = fit[q]
            lines.append(f"{q}: N({f['mean']:.3g}, {f['std']:.3g}²)")
        lines.append("h1 mixture: w=" + ", ".join(f"{w:.2f}" for w in fit["h1"]["mix_w"])
                     + " μ=" + ", ".join(f"{m:.3f}" for m in fit["h1"]["mix_mean"]))
        ax[1, 3].text(0.0, 1.0, "\n".join(lines), va="top", ha="left", fontsize=7, transform=ax[1, 3].transAxes)
        fig.suptitle("fig1: fields and couplings of the pre-training spin glass")
    return fig


def summary(records: list[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    pool = pooled(records)
    fit = fits(pool)
    out: dict[str, Any] = {"draws": sum(int(r["draws"]) for r in records)}
    for q in ("h1_diag", "h1_off", "h2", "J1", "J2", "J3"):
        out[f"{q}_mean"] = round(fit[q]["mean"], 5)
        out[f"{q}_std"] = round(fit[q]["std"], 5)
        out[f"{q}_outside_fraction"] = float(pool[q]["outside"] / max(pool[q]["moments"][0], 1))
    out["h1_mixture_weights"] = [round(float(w), 4) for w in fit["h1"]["mix_w"]]
    out["h1_mixture_means"] = [round(float(m), 4) for m in fit["h1"]["mix_mean"]]
    return out


EXPERIMENT = Experiment(
    id="fig1",
    title="fields h and couplings J of the pre-training spin glass, with their distributions",
    quick=dict(P=1000, D=5, N=100, lambda0=0.0, draws=400, chunk=200, builder="correct", bins=80,
               range_sigmas=8.0, pilot_draws=20),
    full=dict(P=1000, D=5, N=100, lambda0=0.0, draws=100_000, chunk=1000, builder="correct", bins=120,
              range_sigmas=8.0, pilot_draws=20),
    points=points,
    compute=compute,
    plot=plot,
    summary=summary,
    notes="builder=paper reproduces the authors' transposed /N field builder (changes the 𝒟 block of the J image).",
)
