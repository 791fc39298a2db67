"""figS8's machinery: parameters generated from the architecture registry, one point's data and
training, and the per-repeat table behind the figure.

Every registered architecture gets the figS8 parameters ``<name>_<field>``
for each :class:`~spinglass_icl.Budget` field (lr, epochs, batch_size, schedule, warmup,
weight_decay) and each of its model options (e.g. ``tf_d_model``), with its declared quick/full
defaults.  :func:`registry_params` computes them when read, so an architecture registered after
import (a test's toy model) is part of figS8 at once.  ``in_figure`` decides only the default ``models``.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import validation as V
from ..models import Architecture, architectures, get, make_model, names
from ..prompts import Features, PromptSpec, features_from_prompts, sample_prompts
from ..training import Budget, recipe
from .params import Rule, named_rule
from .records import nan_mean_std

if TYPE_CHECKING:  # torch and matplotlib are imported by the functions that train or draw
    import torch
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

BUDGET_FIELDS = tuple(f.name for f in dataclasses.fields(Budget))
STUCK = 0.8  # a repeat is "stuck" on the plateau when its test error >= STUCK × that of ŷ = 0


def arch_params(arch: Architecture, size: str) -> dict[str, Any]:
    """The figS8 parameters of one architecture at ``size``: its budget fields and model options."""
    b = recipe(arch, size)
    own = {f"{arch.name}_{k}": getattr(b, k) for k in BUDGET_FIELDS}
    ranged = {f"{arch.name}_{k}": 0 for k in arch.option_ranges}  # 0: the class default (left out of points)
    return {**own, **ranged, **{f"{arch.name}_{k}": v for k, v in arch.options(size).items()}}


class Live(Mapping[str, Any]):
    """A mapping computed when read (``build()``), so that an architecture registered after import (a
    test's toy model, a plugin) is part of the experiments that iterate the registry at once."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self.build = build
        self._built: tuple[tuple[Any, ...], dict[str, Any]] | None = None

    def _current(self) -> dict[str, Any]:
        """``build()``, rebuilt only when the registry changed (reading every key was quadratic)."""
        state = architectures()
        if self._built is None or self._built[0] != state:
            self._built = (state, self.build())
        return self._built[1]

    def __getitem__(self, key: str) -> Any:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


def registry_params(base: Mapping[str, Any], size: str) -> Live:
    """``base`` plus, for every registered architecture, :func:`arch_params`; ``models`` (the default set)
    lists AMP and the architectures in the figure.  Read live from the registry."""

    def build() -> dict[str, Any]:
        out = {**base, "models": ",".join(model_names())}
        for arch in architectures():  # every registered one can be run; in_figure decides the default models
            out.update(arch_params(arch, size))
        return out

    return Live(build)


BUDGET_DOCS = {
    "lr": "Adam learning rate",
    "epochs": "passes over the P training prompts",
    "batch_size": "minibatch size (0 = full batch)",
    "schedule": "lr schedule after the warm-up: constant, cosine or linear",
    "warmup": "epochs of linear lr warm-up",
    "weight_decay": "Adam weight decay (PyTorch convention: gradient += wd·θ)",
    "curriculum_epochs": "first epochs on prompts cut to their first curriculum_frac·N examples (0 = none)",
    "curriculum_frac": "fraction of N kept by the curriculum's first stage",
    "val_prompts": "held-out prompts (fresh tasks); the epoch of lowest held-out loss is kept (0 = none)",
}
# Fields a point leaves out while their switch is off (0), so that its key is the one it had before they existed.
OPTIONAL_FIELDS = {"curriculum_epochs": ("curriculum_epochs", "curriculum_frac"), "val_prompts": ("val_prompts",)}


# ranges of the budget fields that no shared rule covers (0 means "off" or "the default" for each)
_BUDGET_RULES = {"batch_size": Rule(low=0), "warmup": Rule(low=0), "val_prompts": Rule(low=0), "schedule": Rule()}


def parameter_rules(own: Mapping[str, Rule]) -> Live:
    """``own`` plus the rule and meaning of every generated parameter ``<model>_<field>`` (live)."""

    def build() -> dict[str, Any]:
        out: dict[str, Any] = {}
        for arch in architectures():
            for k, doc in BUDGET_DOCS.items():
                base = _BUDGET_RULES.get(k) or named_rule(k) or Rule()
                out[f"{arch.name}_{k}"] = replace(base, doc=f"{arch.label}: {doc}")
            for k in {**arch.quick_options, **arch.full_options, **arch.option_ranges}:
                high = arch.option_ranges.get(k, (0, None))[1]
                out[f"{arch.name}_{k}"] = Rule(
                    low=0, high=high, doc=f"{arch.label}: model option {k} (0 = the class default)"
                )
        return {**out, **own}

    return Live(build)


def model_names() -> tuple[str, ...]:
    """What figS8 can draw: the paper's AMP and every registered architecture in the figure."""
    return ("amp",) + names(in_figure=True)


def parse_models(value: str | Sequence[str], known: Sequence[str] | None = None) -> list[str]:
    """The ``models`` parameter (comma-separated string or list) as names, each one checked against
    ``known`` (default: AMP and every registered architecture; ``in_figure`` decides only the default set,
    :func:`model_names`)."""
    choices = tuple(known) if known is not None else ("amp", *names())
    out = [m.strip() for m in (value.split(",") if isinstance(value, str) else value) if str(m).strip()]
    if not out:
        raise V.InputError("models is empty; choose from: " + ", ".join(choices))
    for m in out:
        if m not in choices:
            raise V.InputError(f"unknown model {m!r} in models; choose from: {', '.join(choices)}")
    return out


def budget(name: str, p: Mapping[str, Any]) -> Budget:
    """Architecture ``name``'s budget from parameters or a point, checked against P (a field a point
    leaves out takes the :class:`~spinglass_icl.Budget` default)."""
    b = Budget(**{k: p[f"{name}_{k}"] for k in BUDGET_FIELDS if f"{name}_{k}" in p})
    if get(name).gram and (
        b.batch_size or b.schedule != "constant" or b.warmup or b.curriculum_epochs or b.val_prompts
    ):
        raise V.InputError(
            f"{name} trains full-batch on the Gram form: set {name}_batch_size=0, {name}_schedule=constant, "
            f"{name}_warmup=0, {name}_curriculum_epochs=0, {name}_val_prompts=0"
        )
    if get(name).accepts_stats and b.curriculum_epochs:
        raise V.InputError(
            f"{name} trains on prompt statistics, which cannot be cut to fewer context examples: "
            f"set {name}_curriculum_epochs=0"
        )
    return b.check(int(p["P"]), who=name)


def options(name: str, p: Mapping[str, Any]) -> dict[str, Any]:
    """Model options of architecture ``name`` from a point (0 means the class default, e.g. d_k)."""
    a = get(name)
    keys = a.full_options.keys() | a.quick_options.keys() | a.option_ranges.keys()
    out = {k: p[f"{name}_{k}"] for k in keys if p.get(f"{name}_{k}")}
    for k, v in out.items():
        if k not in a.option_ranges:  # a declared option of any type: its class checks it
            continue
        low, high = a.option_ranges[k]
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not low <= v <= high:
            raise V.InputError(f"{name}_{k}={v!r} must be an integer in [{low}, {high}] (0: the class default)")
    return out


def check_budgets(p: Mapping[str, Any]) -> None:
    """Refuse a bad ``<name>_*`` budget parameter of any registered architecture, drawn or not (a parameter
    that is set must be valid)."""
    for name in names():
        budget(name, p)


def check_model(name: str, p: Mapping[str, Any]) -> None:
    """Refuse, before any point runs, a model whose budget or options cannot run: its :func:`budget` and a
    one-repeat model built with its :func:`options` (the class checks them, e.g. TF's heads divide d_model)."""
    import torch

    budget(name, p)
    try:
        make_model(name, int(p["D"]), 1, generator=torch.Generator().manual_seed(0), **options(name, p))
    except V.InputError as err:
        raise V.InputError(f"{name}'s options: {err}") from None


def own_keys(name: str, p: Mapping[str, Any]) -> list[str]:
    """Parameters a point of model ``name`` carries beyond the data ones."""
    if name == "amp":
        return ["lambda0", "beta", "damping", "steps"]
    keys = [k for k in p if k.startswith(f"{name}_")]
    # a model option left at 0 (the class default) stays out of the point: its key is the one it had before
    keys = [k for k in keys if k.removeprefix(f"{name}_") not in get(name).option_ranges or p.get(k)]
    for switch, fields in OPTIONAL_FIELDS.items():
        if not p.get(f"{name}_{switch}"):
            keys = [k for k in keys if k.removeprefix(f"{name}_") not in fields]
    return keys + ([] if get(name).accepts_stats or get(name).gram else ["grad_chunk"])


def draw_data(
    pt: Mapping[str, Any], rng: np.random.Generator, arch: Architecture | None, dtype: torch.dtype, device: str
) -> list[tuple[Features, Any, torch.Tensor]]:
    """Training, test and (if the architecture's budget asks for them) held-out data of a point, repeat
    by repeat (so at most one repeat's float64 prompts are held at a time): Features (R, P, ·) for the
    spin glass and, for a trained architecture, PromptStats (if it accepts them) or explicit prompts X
    on ``device``, and labels y (R, P).  The held-out sets are drawn last: the others do not change."""
    import torch

    from ..models import PromptStats
    from ..training import training_inputs

    spec = PromptSpec(D=pt["D"], N=pt["N"])
    sizes = [pt["P"], pt["P_test"]]  # all training sets first, then all test sets, then held-out ones
    held_out = budget(arch.name, pt).val_prompts if arch is not None else 0  # 0 for Gram-form models
    if held_out:
        sizes.append(held_out)
    out = []
    for n in sizes:
        feats, xs, ys = [], [], []
        for _ in range(pt["repeats"]):
            q = sample_prompts(spec, n, rng)
            feats.append(features_from_prompts(q))
            if arch is not None and (x := training_inputs(arch, q.X[None], dtype, device)) is not None:
                xs.append(x)
            ys.append(q.y)
        X = (PromptStats.cat(xs) if isinstance(xs[0], PromptStats) else torch.cat(xs)) if xs else None
        out.append((Features.stack(feats), X, torch.as_tensor(np.stack(ys), dtype=dtype, device=device)))
    return out


def repeat_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, N, repeat): test error and the ŷ = 0 error of the same test set.
    Repeats are numbered 0, 1, ... through a model's batches of an N in batch order."""
    rows = []
    done: dict[tuple[str, int], int] = {}
    for r in sorted(records, key=lambda r: (model_order(r["model"]), int(r["N"]), int(r["batch"]))):
        test, trivial = np.ravel(r[f"{r['model']}_test"]), np.ravel(r["trivial_test"])
        first = done.get((r["model"], int(r["N"])), 0)
        done[(r["model"], int(r["N"]))] = first + len(test)
        rows += [
            {
                "model": r["model"],
                "N": int(r["N"]),
                "repeat": first + i,
                "test_error": float(t),
                "trivial_error": float(z),
            }
            for i, (t, z) in enumerate(zip(test, trivial))
        ]
    return rows


def model_order(name: str) -> int:
    order = model_names()
    return order.index(name) if name in order else len(order)


def write_repeats_csv(records: Sequence[Mapping[str, Any]], params: Mapping[str, Any], folder: str | Path) -> list[str]:
    """Write FOLDER/repeats.csv (model, N, repeat, test_error, trivial_error); returns its path."""
    path = Path(folder) / "repeats.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["model", "N", "repeat", "test_error", "trivial_error"])
        w.writeheader()
        w.writerows(repeat_rows(records))
    return [str(path)]


def per_model(rows: Sequence[Mapping[str, Any]], model: str) -> dict[str, np.ndarray]:
    """Sorted N, nan-mean and nan-std of the test error over repeats, the stuck repeats' (N, error)."""
    mine = [r for r in rows if r["model"] == model]
    Ns = np.array(sorted({r["N"] for r in mine}), float)
    vals = [np.array([r["test_error"] for r in mine if r["N"] == n]) for n in Ns]
    with np.errstate(invalid="ignore"):
        mean, std = np.array([nan_mean_std(v) for v in vals]).T
    stuck = [(r["N"], r["test_error"]) for r in mine if r["test_error"] >= STUCK * r["trivial_error"]]
    return {"N": Ns, "mean": mean, "std": std, "stuck": np.array(stuck, float).reshape(-1, 2)}


def label(name: str) -> str:
    return "AMP (paper)" if name == "amp" else get(name).label


def budget_text(p: Mapping[str, Any], models: Sequence[str]) -> str:
    """The Adam budgets of the trained models, one line per distinct budget, for a figure title."""
    groups: dict[str, list[str]] = {}
    for n in models:
        if n != "amp":
            b = budget(n, p)
            batch = f"batch {b.batch_size}" if b.batch_size else "full batch"
            warm = f", {b.warmup} warm-up" if b.warmup else ""
            curr = f"{b.curriculum_epochs} ep at {b.curriculum_frac:g}·N + " if b.curriculum_epochs else ""
            val = f", best of {b.val_prompts} held out" if b.val_prompts else ""
            text = f"lr={b.lr:g}×{curr}{b.epochs} ep, {batch}, {b.schedule}{warm}, wd={b.weight_decay:g}{val}"
            groups.setdefault(text, []).append(n.upper())
    return "\n".join(f"Adam {'/'.join(names)}: {text}" for text, names in groups.items())


def draw(ax: Axes, records: Sequence[Mapping[str, Any]], models: Sequence[str], weight_decay: float) -> None:
    """Mean ± std over repeats per model (stuck repeats as dots, counted in the label) and the
    reference lines (ground state at λ0 = weight_decay/2, ŷ = 0), taken once per data set."""
    from .. import plotting

    rows = repeat_rows(records)
    for name in models:
        m = per_model(rows, name)
        if not m["N"].size:
            continue
        n_stuck = len(m["stuck"])
        text = label(name) + (f" ({n_stuck} stuck)" if n_stuck else "")
        line = plotting.band(
            ax, m["N"], m["mean"], m["std"], marker="o" if name == "amp" else get(name).marker, label=text
        )
        if n_stuck:
            ax.scatter(m["stuck"][:, 0], m["stuck"][:, 1], s=9, color=line.get_color(), lw=0, alpha=0.7)
    ref = list({(int(r["N"]), int(r["batch"])): r for r in records}.values())
    Ns = sorted({int(r["N"]) for r in ref})
    styles: tuple[tuple[str, dict[str, Any], str], ...] = (
        ("exact", dict(color="k", ls=":", lw=1.2), f"ground state (λ0={weight_decay / 2:g})"),
        ("trivial", dict(color="0.6", ls="--", lw=0.8), "ŷ = 0"),
    )
    for key, style, text in styles:
        ax.plot(
            Ns,
            [np.mean(np.concatenate([np.ravel(r[f"{key}_test"]) for r in ref if int(r["N"]) == n])) for n in Ns],
            label=text,
            **style,
        )


def plot(records: list[dict], params: Mapping[str, Any]) -> Figure:
    """Every model as mean ± std over repeats; stuck repeats (test ≥ 0.8 × ŷ=0's) as dots, counted in the legend."""
    models = parse_models(params["models"])
    from .. import plotting

    with plotting.style():
        fig, ax = plotting.figure(1, 1, width=6.4, height=3.8)
        draw(ax[0, 0], records, models, params["weight_decay"])
        ax[0, 0].set(
            xlabel="context length N",
            ylabel="test error (fresh tasks)",
            yscale="log",
            title=f"S8: other architectures, P={params['P']}, D={params['D']}\n" + budget_text(params, models),
        )
        ax[0, 0].title.set_fontsize(6)
        plotting.legend(ax[0, 0])
    return plotting.finish(fig)


def summary(records: list[dict], params: Mapping[str, Any]) -> dict:
    """Per model: mean test error over all N and repeats, at the largest N, stuck repeats at N ≥ 40."""
    rows = repeat_rows(records)
    out: dict[str, Any] = {}
    n_max = max(r["N"] for r in rows)
    models = parse_models(params["models"])
    for name in models:
        m = per_model(rows, name)
        if m["N"].size:
            out[f"mean_test_{name}"] = round(float(np.nanmean(m["mean"])), 4)
            out[f"test_at_N{n_max}_{name}"] = round(float(m["mean"][-1]), 4)
            # None (printed "–") where the run has no N >= 40: the count does not apply
            out[f"stuck_N40plus_{name}"] = int(np.sum(m["stuck"][:, 0] >= 40)) if n_max >= 40 else None
    out["mean_test_trivial"] = round(float(np.mean([r["trivial_error"] for r in rows])), 4)
    out["all_linear_beat_trivial"] = all(
        out[f"mean_test_{n}"] < out["mean_test_trivial"]
        for n in models
        if n != "amp" and get(n).linear and f"mean_test_{n}" in out
    )
    return out
