"""Theory against training, the computation fig4b and figS4 share: on each repeat's training set, the
paper's AMP mean, the exact ground states and the merged linear attention trained with full-batch Adam
(Gram form, paper init), all scored on the same fresh test prompts; and the panel and summary that
draw and quote them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .. import validation as V
from ..metrics import query_error
from ..prompts import PromptSpec
from ..solvers import amp
from ..spinglass import SpinGlass
from .draws import attention_init, draw_repeats, generators
from .records import nan_mean_std, repeat_stats
from .reference import ground_states, population_errors

if TYPE_CHECKING:
    import torch
    from matplotlib.axes import Axes

Pairing = Literal["paired", "unpaired"]  # AMP on the training set of exact and Adam, or on one of its own


# The paper's fig4b setting at full size (D = 20, P = 10000): AMP at λ0 = 0.01, β = 100, θ = 0.9; full-batch
# Adam with lr 1e-3, weight decay 0.01, 5000 epochs; 1000 fresh test prompts per repeat.
PAPER = dict(
    D=20,
    P=10000,
    P_test=1000,
    lambda0=0.01,
    beta=100.0,
    damping=0.9,
    steps=100,
    lr=1e-3,
    epochs=5000,
    weight_decay=0.01,
)


@dataclass(frozen=True)
class Setting:
    """The settings of one theory-vs-training point: data sizes, the paper's AMP (λ0, β, damping θ,
    at most ``steps`` iterations), full-batch Adam (lr, epochs, weight decay wd), repeats solved
    ``repeats_per_batch`` at a time (a point's ``chunk``), the pairing of AMP's training set and the extra
    λ0 of exact ground states.

    pairing="paired" (the clean experiment): AMP, exact and Adam all use the same training set;
    "unpaired" reproduces the paper's fig4b code, where AMP is fitted on a training set of its own.
    population=True adds the exact population error of every series (iid tokens only)."""

    P: int
    P_test: int
    repeats: int
    lambda0: float
    beta: float
    damping: float
    steps: int
    lr: float
    epochs: int
    weight_decay: float
    repeats_per_batch: int = 10
    pairing: Pairing = "paired"
    exact_lambdas: tuple[float, ...] = ()
    population: bool = False

    def __post_init__(self) -> None:
        V.choice("pairing", self.pairing, ("paired", "unpaired"))

    @classmethod
    def from_point(cls, pt: Mapping[str, Any], **extra: Any) -> Setting:
        """The setting a point declares (its keys named as the fields; its ``chunk``, repeats per batch, as
        ``repeats_per_batch``), plus ``extra`` fields."""
        pt = {"repeats_per_batch": pt["chunk"], **pt} if "chunk" in pt else pt
        names = [f.name for f in fields(cls) if f.name in pt and f.name not in extra]
        return cls(**{k: pt[k] for k in names}, **extra)


def _chunk_errors(
    spec: PromptSpec, s: Setting, r: int, rng: np.random.Generator, torch_gen: torch.Generator, device: str
) -> dict[str, np.ndarray]:
    """:func:`amp_and_adam_test_errors` of ``r`` repeats drawn together."""
    test_spec = spec.fresh_tasks()
    train = draw_repeats(spec, s.P, r, rng)
    test = draw_repeats(test_spec, s.P_test, r, rng)
    sg = SpinGlass(train, s.lambda0)
    from ..training import GramData, adam_gram

    sg_amp = sg if s.pairing == "paired" else SpinGlass(draw_repeats(spec, s.P, r, rng), s.lambda0)
    res = amp(sg_amp, beta=s.beta, damping=s.damping, steps=s.steps, rng=rng)
    exact = ground_states(sg, [s.lambda0, *s.exact_lambdas])
    tr = adam_gram(
        GramData.from_spinglass(sg, device=device),
        attention_init("merged", r, spec.D, torch_gen),
        lr=s.lr,
        epochs=s.epochs,
        weight_decay=s.weight_decay,
    )
    weights = {"amp": res.masked_mean(), "exact": exact[float(s.lambda0)], "adam": tr.W}
    weights.update({f"exact@{float(lam):g}": exact[float(lam)] for lam in s.exact_lambdas})
    out = {k: query_error(W, test) for k, W in weights.items()}  # AMP: NaN where it did not converge
    out["amp_converged"] = res.converged
    if s.population:
        out.update(population_errors(weights, test_spec))
    return out


def amp_and_adam_test_errors(
    spec: PromptSpec, setting: Setting, rng: np.random.Generator, torch_gen: torch.Generator, device: str = "cpu"
) -> dict[str, np.ndarray]:
    """Test errors of theory and training (fig4b, figS4), arrays of length R = ``setting.repeats``:

    ``amp`` the paper's AMP mean at λ0 (NaN where it did not converge; ``amp_converged`` flags),
    ``exact`` the exact ground state at λ0, ``exact@<λ>`` the exact ground state at each extra λ0 of
    ``setting.exact_lambdas`` (e.g. wd/2, the minimiser Adam's weight decay targets), and ``adam`` the
    merged model trained with full-batch Adam (Gram form, paper init).  All on the same fresh test
    prompts of each repeat; ``<series>_population`` the exact population error of the same weights
    (:func:`~spinglass_icl.experiments.reference.population_errors`) when ``setting.population``.
    """
    out: dict[str, list] = defaultdict(list)
    for start in range(0, setting.repeats, setting.repeats_per_batch):
        r = min(setting.repeats_per_batch, setting.repeats - start)
        for k, v in _chunk_errors(spec, setting, r, rng, torch_gen, device).items():
            out[k].append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def theory_vs_training_point(
    spec: PromptSpec,
    pt: Mapping[str, Any],
    seed: int,
    device: str,
    pairing: Pairing = "paired",
    population: bool = False,
) -> dict[str, Any]:
    """One point of a theory-vs-training sweep (fig4b, figS4): :func:`amp_and_adam_test_errors` on
    ``pt``'s settings, returned as per-repeat arrays (``<series>_per_repeat``), their nan-mean/std
    (``<series>_mean``, ``<series>_std``) for series amp, adam, exact (λ0) and exact_wd2 (λ0 = wd/2,
    the minimiser Adam's weight decay targets), the AMP converged fraction, and paired differences;
    population=True (iid tokens only) adds the same statistics of ``<series>_population``, the exact
    population error of the same weights beside their Monte-Carlo test error."""
    rng, tgen = generators(seed)
    wd2 = pt["weight_decay"] / 2
    setting = Setting.from_point(pt, pairing=pairing, exact_lambdas=(wd2,), population=population)
    out = amp_and_adam_test_errors(spec, setting, rng, tgen, device)
    src = {"amp": "amp", "adam": "adam", "exact": "exact", "exact_wd2": f"exact@{float(wd2):g}"}
    arrays = {k: out[v] for k, v in src.items()}
    res = repeat_stats(arrays)
    res["amp_converged_per_repeat"] = out["amp_converged"].astype(float)
    res["amp_converged"] = float(np.mean(out["amp_converged"]))
    # paired differences: their spread is far below the spread across training sets
    for k in ("amp", "exact_wd2", "exact"):
        res[f"adam_minus_{k}_mean"] = nan_mean_std(arrays["adam"] - arrays[k])[0]
    if population:
        res.update(repeat_stats({f"{k}_population": out[f"{v}_population"] for k, v in src.items()}))
    return res


THEORY_SERIES = ("amp", "adam", "exact", "exact_wd2")


def plot_theory_vs_training(ax: Axes, records: Sequence[Mapping[str, Any]], x: str, params: Mapping[str, Any]) -> None:
    """Paper AMP and Adam (mean ± std over repeats) and the exact ground states at λ0 and wd/2,
    against the sweep variable ``x`` of :func:`theory_vs_training_point` records.  Records with exact
    population errors: AMP and Adam's Monte-Carlo test errors as markers (± band), their exact population
    errors as lines, and the ground states' lines from their exact population errors."""
    from .. import plotting

    recs = sorted(records, key=lambda r: r[x])
    xs = np.array([r[x] for r in recs], float)

    def col(key: str) -> np.ndarray:
        return np.array([r[key] for r in recs], float)

    wd = params["weight_decay"]
    exact = "_population_mean" if "adam_population_mean" in recs[0] else "_mean"
    for k, mk, lab in (
        ("amp", "o", f"paper AMP (λ0={params['lambda0']:g})"),
        ("adam", "^", f"Adam (lr={params['lr']:g}, wd={wd:g})"),
    ):
        ls = "none" if exact != "_mean" else "-"  # markers: Monte-Carlo test error; line: the exact one
        line = plotting.band(ax, xs, col(f"{k}_mean"), col(f"{k}_std"), marker=mk, ls=ls, label=lab)
        if exact != "_mean":
            ax.plot(xs, col(f"{k}{exact}"), "-", lw=1, color=line.get_color())
    ax.plot(xs, col(f"exact{exact}"), "k--", lw=1, label=f"ground state λ0={params['lambda0']:g}")
    ax.plot(xs, col(f"exact_wd2{exact}"), "k:", lw=1.2, label=f"ground state λ0=wd/2={wd / 2:g}")


def theory_vs_training_summary(records: Sequence[Mapping[str, Any]], x: str) -> dict[str, Any]:
    """The sweep variable, the mean of every series, AMP/Adam stds and AMP's converged fraction."""
    recs = sorted(records, key=lambda r: r[x])
    out: dict[str, Any] = {x: [r[x] for r in recs]}
    for k in THEORY_SERIES:
        out[f"{k}_mean"] = [round(r[f"{k}_mean"], 4) for r in recs]
    for k in ("amp", "adam"):
        out[f"{k}_std"] = [round(r[f"{k}_std"], 4) for r in recs]
    out["amp_converged"] = [round(r["amp_converged"], 3) for r in recs]
    return out
