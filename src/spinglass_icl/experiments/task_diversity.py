"""The task-diversity experiment's machinery (catalog ``diversity``): one point's data, the training of one
registered architecture on a pool of M tasks with its registered recipe, the spin-glass ground state and the
Bayes-optimal predictors on the same prompts, and the per-(model, M, split) tidy table.

Data of a point (every model of an (M, batch) sees the same): per repeat one pool of M tasks w ~ N(0, I_D)
(M = 0: a fresh task per prompt, M = ∞) and one draw of P + P_val + P_test prompts from it (``sample_prompts``
with ``return_tasks``), split into the training set, held-out prompts (the training distribution: pool tasks,
for a recipe that keeps its best epoch) and the in-distribution test set; then P_test prompts with fresh tasks
(the out-of-distribution test set).  Training (:func:`train`) follows the point's protocol: ``fixed`` -- the
training set above (the registered recipes count epochs over P) -- or ``fresh`` (Raventós et al.): a new set of
P prompts from the same pools before every epoch, drawn from the point's generator after the sets above (so
the test sets are the same under both protocols), every prompt seen once.

Errors are Monte-Carlo means of (ŷ − y_q)² over the test prompts (query noise included, like
:mod:`spinglass_icl.bayes`); distances are the mean squared differences of predictions, (ŷ − ŷ_dMMSE)² and
(ŷ − ŷ_ridge)², on the same prompts.  At M = ∞ the dMMSE predictor is the ridge one (the Gaussian prior).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..bayes import dmmse_predict, ridge_error, ridge_predict
from ..features import predict
from ..models import names
from ..prompts import Features, Prompts, PromptSpec, features_from_prompts, sample_prompts
from ..solvers import solve_exact
from ..spinglass import SpinGlass
from ..theory import icl_error_theory
from . import trained_models
from .draws import generators
from .records import nan_mean_std, threshold_crossing

if TYPE_CHECKING:  # torch is imported by the functions that train
    import torch

    from ..training import Trained

BAYES = ("dmmse", "ridge")
REFERENCE = ("ground_state",) + BAYES
SPLITS = ("id", "ood")
SEED_PARAMS = ("D", "N", "noise", "P", "P_val", "P_test", "M", "batch", "repeats")  # a point's data
THRESHOLD = 1.1  # M* is where the fresh-task error has come down to 1.1 × its M = ∞ value


def trained_names() -> tuple[str, ...]:
    """Every registered architecture (read live from the registry): each can be trained here."""
    return names()


def model_names() -> tuple[str, ...]:
    return trained_names() + REFERENCE


def default_models(extra: Sequence[str] = ()) -> tuple[str, ...]:
    """The models a run draws unless told otherwise: the architectures in the figure, ``extra`` ones, the
    references."""
    return names(in_figure=True) + tuple(extra) + REFERENCE


def parse_models(value: str | Sequence[str]) -> list[str]:
    """The ``models`` parameter (comma-separated or a list) as checked names."""
    return trained_models.parse_models(value, model_names())


@dataclass(frozen=True)
class PointData:
    """A point's prompts, R repeats stacked: :class:`~spinglass_icl.prompts.Prompts` (X (R, n, D+1, N+1),
    y (R, n), w (R, n, D)) of the training ("train"), held-out ("val"), in-distribution ("id": pool tasks) and
    out-of-distribution ("ood": fresh tasks) sets, and the pools (R, M, D) (None at M = ∞)."""

    sets: dict[str, Prompts]
    pools: np.ndarray | None

    @property
    def X(self) -> dict[str, np.ndarray]:
        return {k: v.X for k, v in self.sets.items()}

    @property
    def y(self) -> dict[str, np.ndarray]:
        return {k: v.y for k, v in self.sets.items()}

    def features(self, split: str) -> Features:
        return features_from_prompts(self.sets[split])


def draw(pt: Mapping[str, Any], rng: np.random.Generator) -> PointData:
    """The prompts of a point (see the module docstring), repeat by repeat."""
    M = int(pt["M"])
    spec = PromptSpec(D=pt["D"], N=pt["N"], noise=pt["noise"], task_pool=M or None)
    sizes = {"train": pt["P"], "val": pt["P_val"], "id": pt["P_test"]}
    parts: dict[str, list[Prompts]] = {k: [] for k in (*sizes, "ood")}
    pools = []
    for _ in range(pt["repeats"]):
        q, pool, _ = sample_prompts(spec, sum(sizes.values()), rng, return_tasks=True)
        start = 0
        for k, n in sizes.items():
            parts[k].append(Prompts(X=q.X[start : start + n], y=q.y[start : start + n], w=q.w[start : start + n]))
            start += n
        pools.append(pool)
        parts["ood"].append(sample_prompts(spec.fresh_tasks(), pt["P_test"], rng))
    sets = {k: Prompts(*(np.stack([getattr(p, f) for p in v]) for f in ("X", "y", "w"))) for k, v in parts.items()}
    return PointData(sets, np.stack(pools) if M else None)


def bayes_predictions(data: PointData, noise: float) -> dict[str, dict[str, np.ndarray]]:
    """{"dmmse"|"ridge": {split: ŷ (R, P_test)}} on the test sets (M = ∞: dMMSE is ridge)."""
    ridge = {s: ridge_predict(data.X[s], noise) for s in SPLITS}
    if data.pools is None:
        return {"dmmse": ridge, "ridge": ridge}
    dmmse = {s: np.stack([dmmse_predict(x, pool, noise) for x, pool in zip(data.X[s], data.pools)]) for s in SPLITS}
    return {"dmmse": dmmse, "ridge": ridge}


#: What a trained model predicts for a split (ŷ of shape (R, P_test)).
Predictor = Callable[[str], np.ndarray]


def ground_state(pt: Mapping[str, Any], data: PointData) -> Predictor:
    """The merged linear-attention spin glass's ground state at λ0 on the training set (R stacked)."""
    W = solve_exact(SpinGlass(data.features("train"), pt["lambda0"])).mean
    W = W.reshape(W.shape[:-1] + (pt["D"] + 1, pt["D"] + 1))
    return lambda split: predict(W, data.features(split))


def protocol(name: str, pt: Mapping[str, Any]) -> str:
    """The training protocol architecture ``name`` follows at a point: ``fresh`` (a new training set of P
    prompts from the pool before every epoch, Raventós et al. 2023) where the point asks for it and the
    recipe takes minibatch steps; ``fixed`` (the point's training set) otherwise -- a full-batch recipe (SLA
    on the Gram form) takes one step per epoch, so fresh prompts would only resample its Gram matrix."""
    fresh = pt.get("protocol", "fixed") == "fresh" and trained_models.budget(name, pt).batch_size > 0
    return "fresh" if fresh else "fixed"


def train(
    name: str, pt: Mapping[str, Any], data: PointData, rng: np.random.Generator, tgen: torch.Generator, device: str
) -> tuple[Predictor, Trained]:
    """Train the R repeats of registered architecture ``name`` with its recipe (the point's ``<name>_*``
    budget and options) on the point's training set or, with the fresh protocol, on prompts drawn from
    ``rng`` from the same pools (:class:`~spinglass_icl.training.PoolSampler`); returns its predictor of the
    test sets and the trained model."""
    from ..training import FixedSet, PoolSampler
    from ..training import train as train_architecture

    budget = trained_models.budget(name, pt)
    n_val = budget.val_prompts
    held = (data.X["val"][:, :n_val], data.y["val"][:, :n_val]) if n_val else None
    source: FixedSet | PoolSampler
    if protocol(name, pt) == "fresh":
        spec = PromptSpec(D=pt["D"], N=pt["N"], noise=pt["noise"])
        source = PoolSampler(spec, data.pools, int(pt["P"]), int(pt["repeats"]), rng, held_out=held)
    else:
        source = FixedSet(data.X["train"], data.y["train"], data.features("train"), held_out=held)
    trained = train_architecture(
        name,
        source,
        budget,
        generator=tgen,
        device=device,
        dtype=pt["dtype"],
        options=trained_models.options(name, pt),
        prompt_block=pt.get("grad_chunk") or None,
    )
    chunk = pt.get("grad_chunk") or pt["P_test"]
    return (lambda split: trained.predict(data.X[split], features=data.features(split), prompt_block=chunk)), trained


def _scores(yhat: dict[str, np.ndarray], data: PointData, bayes: Mapping[str, Mapping[str, np.ndarray]]) -> dict:
    """Per split and repeat (R,): error and squared distances to the dMMSE and ridge predictions."""
    out: dict[str, np.ndarray] = {}
    for s in SPLITS:
        out[f"{s}"] = np.mean((yhat[s] - data.y[s]) ** 2, axis=-1)
        for b in BAYES:
            out[f"dist_{b}_{s}"] = np.mean((yhat[s] - bayes[b][s]) ** 2, axis=-1)
    return out


def compute(pt: Mapping[str, Any], seed: int, device: str) -> dict[str, Any]:
    """One (model, M, batch of repeats) point: per repeat (arrays ``<k>_per_repeat``, R) and mean/std over
    repeats (``<k>_mean``, ``<k>_std``) of k = id, ood (errors on pool / fresh tasks), dist_dmmse_<split>,
    dist_ridge_<split>; ``seconds_model`` (training and predictions); the ground state adds ``theory_ood``
    (Lu et al.'s κ-theory at κ = M/D); trained models ``sequences`` (training sequences per repeat) and
    ``sequences_per_task`` (over M; NaN at M = ∞)."""
    name = pt["model"]
    parse_models([name])
    rng, tgen = generators(seed)
    t0 = time.perf_counter()
    data = draw(pt, rng)
    bayes = bayes_predictions(data, pt["noise"])
    out: dict[str, Any] = {}
    if name in BAYES:
        yhat = bayes[name]
    else:
        if name == "ground_state":
            run = ground_state(pt, data)
        else:
            run, trained = train(name, pt, data, rng, tgen, device)
            out["sequences"] = trained.sequences
            out["sequences_per_task"] = trained.sequences / int(pt["M"]) if int(pt["M"]) else float("nan")
        yhat = {s: run(s) for s in SPLITS}
    for k, v in _scores(yhat, data, bayes).items():
        out[f"{k}_per_repeat"] = v
        out[f"{k}_mean"], out[f"{k}_std"] = nan_mean_std(v)
    if name == "ground_state":
        out["theory_ood"] = float(icl_error_theory(pt["D"], pt["N"], pt["P"], pt["noise"], pool=int(pt["M"])))
    out["seconds_model"] = time.perf_counter() - t0
    return out


# -- tables and summary --------------------------------------------------------------------------------
#: The tidy table's columns (``diversity.csv``, one row per model, M, split) with their meanings [units];
#: intervals are LEVEL bootstrap intervals over repeats (:func:`ratio_interval`), seeded, so the file is
#: reproducible.  The ratios are paired: the model's and the reference's errors on the same prompts.
TIDY_COLUMNS: dict[str, str] = {
    "model": "registered architecture, ground_state (spin glass), dmmse or ridge",
    "M": "task-pool size (0: a fresh task per prompt, M = ∞)",
    "split": "id: test prompts with pool tasks; ood: with fresh tasks",
    "error_mean": "error (ŷ − y_q)², mean over all repeats [E[y²] = 1]",
    "error_std": "its standard deviation over repeats [E[y²] = 1]",
    "repeats": "repeats (over all batches)",
    "D": "token dimension",
    "N": "context length",
    "noise": "label noise standard deviation σ",
    "dist_dmmse": "mean squared distance (ŷ − ŷ_dMMSE)² on the split, mean over repeats [E[y²] = 1]",
    "dist_ridge": "mean squared distance (ŷ − ŷ_ridge)² on the split, mean over repeats [E[y²] = 1]",
    "error_lo": "low end of error_mean's 95 % bootstrap interval over repeats [E[y²] = 1]",
    "error_hi": "high end of that interval [E[y²] = 1]",
    "over_dmmse": "error over dMMSE's on the same prompts (ratio of the means over repeats; the target on id) [1]",
    "over_dmmse_lo": "low end of its 95 % bootstrap interval (repeats resampled in pairs) [1]",
    "over_dmmse_hi": "high end of that interval [1]",
    "over_ridge": "error over ridge's on the same prompts (ratio of the means over repeats; the target on ood) [1]",
    "over_ridge_lo": "low end of its 95 % bootstrap interval (repeats resampled in pairs) [1]",
    "over_ridge_hi": "high end of that interval [1]",
}
#: The thresholds table's columns (``diversity-thresholds.csv``, one row per model but ridge): each
#: statistic of :func:`thresholds` as value, low and high end of its LEVEL bootstrap interval over repeats
#: (``inf``: beyond every defined resample, e.g. never reached).
THRESHOLD_COLUMNS: dict[str, str] = {
    "model": "registered architecture, ground_state (spin glass) or dmmse",
    "D": "token dimension",
    "N": "context length",
    "noise": "label noise standard deviation σ",
    "repeats": "repeats at M = ∞ (over all batches)",
    "M_star": "M*: the fresh-task error within 10 % of its M = ∞ value (log-log interpolated) [count]",
    "M_star_lo": "low end of M*'s 95 % bootstrap interval over repeats [count]",
    "M_star_hi": "high end [count]",
    "M_cross": "Raventós's threshold: the M from which the fresh-task predictions are closer to ridge's than "
    "to dMMSE's [count]",
    "M_cross_lo": "low end of its 95 % bootstrap interval [count]",
    "M_cross_hi": "high end [count]",
    "width_octaves": "the transition's width: from 90 % to 10 % of the excess fresh-task error over M = ∞ "
    "[octaves of M]",
    "width_octaves_lo": "low end of its 95 % bootstrap interval [octaves]",
    "width_octaves_hi": "high end [octaves]",
    "ood_at_inf_over_ridge": "fresh-task error at M = ∞ over ridge's on the same prompts [1]",
    "ood_at_inf_over_ridge_lo": "low end of its 95 % bootstrap interval (paired) [1]",
    "ood_at_inf_over_ridge_hi": "high end [1]",
}


def _pooled_keys(split: str) -> tuple[str, ...]:
    return (split, f"dist_dmmse_{split}", f"dist_ridge_{split}")


def _tidy_row(model: str, M: int, split: str, mine: Mapping[str, np.ndarray], refs: Mapping[str, Any]) -> dict:
    """One row of the tidy table: ``mine`` {key: per-repeat values} of the model at M, ``refs`` {"dmmse"|
    "ridge": the reference's per-repeat errors on the same split and prompts, or None}."""
    err = mine[split]
    mean, std = nan_mean_std(err)
    lo, hi = ratio_interval(err, None, M)[1:]
    row: dict[str, Any] = {"model": model, "M": M, "split": split, "error_mean": mean, "error_std": std}
    row.update(repeats=len(err), error_lo=lo, error_hi=hi)
    row.update(dist_dmmse=float(np.mean(mine[f"dist_dmmse_{split}"])))
    row.update(dist_ridge=float(np.mean(mine[f"dist_ridge_{split}"])))
    for b in BAYES:
        ref = refs.get(b)
        paired = ref is not None and ref.size == err.size
        v = ratio_interval(err, ref, M) if paired else (float("nan"),) * 3
        row.update({f"over_{b}": v[0], f"over_{b}_lo": v[1], f"over_{b}_hi": v[2]})
    return row


def tidy_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per (model, M, split) (:data:`TIDY_COLUMNS`): error mean ± std over all repeats (pooled over
    batches) with its bootstrap interval, the repeat count, the mean squared distances to the dMMSE and
    ridge predictions, and the error over dMMSE's and over ridge's on the same prompts with their paired
    bootstrap intervals (M = 0 stands for M = ∞)."""
    present = sorted({r["model"] for r in records}, key=model_order)
    meta = {(r["model"], int(r["M"])): r for r in records}
    series = {(m, k): per_repeat(records, m, k) for m in present for s in SPLITS for k in _pooled_keys(s)}
    rows = []
    for model in present:
        for M in sorted(series[model, SPLITS[0]]):
            r = meta[(model, M)]
            for s in SPLITS:
                mine = {k: series[model, k][M] for k in _pooled_keys(s)}
                refs = {b: series[b, s].get(M) if (b, s) in series else None for b in BAYES}
                row = _tidy_row(model, M, s, mine, refs)
                rows.append({k: row[k] if k in row else r[k] for k in TIDY_COLUMNS})
    return rows


def model_order(name: str) -> int:
    order = model_names()
    return order.index(name) if name in order else len(order)


def threshold_rows(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per model but ridge (:data:`THRESHOLD_COLUMNS`): :func:`thresholds` as value, low, high."""
    present = sorted({r["model"] for r in records} - {"ridge"}, key=model_order)
    rows = []
    for m in present:
        r = next(x for x in records if x["model"] == m)
        row: dict[str, Any] = {"model": m, "D": r["D"], "N": r["N"], "noise": r["noise"]}
        row["repeats"] = int(per_repeat(records, m, "ood").get(0, np.empty(0)).size)
        for name, (value, lo, hi) in thresholds(records, m).items():
            row.update({name: value, f"{name}_lo": lo, f"{name}_hi": hi})
        rows.append({k: row.get(k, float("nan")) for k in THRESHOLD_COLUMNS})
    return rows


def _write_csv(path: Path, columns: Iterable[str], rows: Sequence[Mapping[str, Any]]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(columns))
        w.writeheader()
        w.writerows(rows)


def write_tidy_csv(records: list[dict], params: Mapping[str, Any], folder: str | Path) -> list[str]:
    """FOLDER/diversity.csv (:func:`tidy_rows`, shipped as docs/data/diversity.csv) and
    FOLDER/diversity-thresholds.csv (:func:`threshold_rows`): the run's export, rewritten from the stored
    records by ``spinglass-icl plot diversity`` without recomputing any point."""
    tidy, thr = Path(folder) / "diversity.csv", Path(folder) / "diversity-thresholds.csv"
    _write_csv(tidy, TIDY_COLUMNS, tidy_rows(records))
    _write_csv(thr, THRESHOLD_COLUMNS, threshold_rows(records))
    return [str(tidy), str(thr)]


def curves(rows: Sequence[Mapping[str, Any]], model: str, split: str, key: str = "error_mean") -> tuple:
    """(M grid of finite pools (ascending), ``key`` on it, ``key`` at M = ∞ or NaN) of one model and split."""
    mine = sorted((r for r in rows if r["model"] == model and r["split"] == split), key=lambda r: r["M"])
    finite = [r for r in mine if r["M"] > 0]
    inf = [r[key] for r in mine if r["M"] == 0]
    return (
        np.array([r["M"] for r in finite], float),
        np.array([r[key] for r in finite], float),
        float(inf[0]) if inf else float("nan"),
    )


def transition(rows: Sequence[Mapping[str, Any]], model: str) -> float:
    """M*: the pool size where the fresh-task error has come down to THRESHOLD × its M = ∞ value
    (log-log interpolated on the grid; NaN if it never does or there is no M = ∞ point)."""
    M, err, inf = curves(rows, model, "ood")
    if not M.size or not np.isfinite(inf):
        return float("nan")
    return threshold_crossing(M, err / inf, THRESHOLD)


def _side_means(M: np.ndarray, d: np.ndarray, m_star: float, below: bool) -> float:
    sel = (M < m_star) if below else (M > m_star)
    return float(np.mean(d[sel])) if np.isfinite(m_star) and sel.any() else float("nan")


def _round(x: float) -> float:
    return round(float(x), 4)


def model_summary(rows: Sequence[Mapping[str, Any]], model: str, D: int) -> dict[str, Any]:
    """M* (and over D, D(D+1); not for ridge, which does not depend on M); fresh/pool errors on the grid and
    the fresh-task error at M = ∞ over ridge's; mean squared distance of the fresh-task predictions to dMMSE
    below M* and at M = 1, to ridge above M* and at M = ∞."""
    M, ood, ood_inf = curves(rows, model, "ood")
    _, idd, _ = curves(rows, model, "id")
    m_star = transition(rows, model) if model != "ridge" else float("nan")
    _, d_dmmse, _ = curves(rows, model, "ood", "dist_dmmse")
    _, d_ridge, d_ridge_inf = curves(rows, model, "ood", "dist_ridge")
    r = _round
    out = {"M_star": r(m_star), "M_star_over_D": r(m_star / D), "M_star_over_DD1": r(m_star / (D * (D + 1)))}
    if model == "ridge":
        out = {}
    return {
        **out,
        "ood": [r(x) for x in ood],
        "id": [r(x) for x in idd],
        "ood_at_inf": r(ood_inf),
        "ood_at_inf_over_ridge": r(ood_inf / curves(rows, "ridge", "ood")[2]),
        "dist_dmmse_below": r(_side_means(M, d_dmmse, m_star, True)),
        "dist_ridge_above": r(_side_means(M, d_ridge, m_star, False)),
        "dist_dmmse_at_M1": r(d_dmmse[0]) if d_dmmse.size else float("nan"),
        "dist_ridge_at_inf": r(d_ridge_inf),
    }


# -- intervals: a bootstrap over repeats ----------------------------------------------------------------
BOOTSTRAPS = 1000  # resamples of the repeats (per M, with replacement; models paired on the same repeats)
LEVEL = 0.95
WIDTH_LEVELS = (0.9, 0.1)  # a transition's width: from 90 % to 10 % of the excess error over M = ∞, in octaves
Curves = dict[tuple[str, str], dict[int, np.ndarray]]  # (model, key) -> {M: per-repeat values}


def per_repeat(records: Sequence[Mapping[str, Any]], model: str, key: str) -> dict[int, np.ndarray]:
    """{M: the per-repeat values of ``key`` (e.g. ``ood``, ``dist_ridge_ood``) over all batches, in batch
    order} for one model (M = 0: M = ∞).  Every model of an (M, batch) sees the same prompts, so the
    arrays of two models are paired repeat by repeat."""
    acc: dict[int, list[float]] = {}
    for r in sorted((r for r in records if r["model"] == model), key=lambda r: (int(r["M"]), int(r["batch"]))):
        acc.setdefault(int(r["M"]), []).extend(np.ravel(r[f"{key}_per_repeat"]).tolist())
    return {M: np.array(v, float) for M, v in acc.items()}


def _grid(curves: Curves, key: tuple[str, str]) -> tuple[np.ndarray, np.ndarray, float]:
    """(finite M ascending, mean over repeats there, mean at M = ∞ or NaN) of one curve."""
    c = curves[key]
    Ms = np.array(sorted(M for M in c if M > 0), float)
    means = np.array([np.nanmean(c[int(M)]) for M in Ms])
    return Ms, means, float(np.nanmean(c[0])) if 0 in c else float("nan")


def m_star(curves: Curves, model: str) -> float:
    """M*: the fresh-task error within THRESHOLD × its M = ∞ value (log-log interpolated; NaN if never)."""
    Ms, err, inf = _grid(curves, (model, "ood"))
    return threshold_crossing(Ms, err / inf, THRESHOLD) if Ms.size and np.isfinite(inf) else float("nan")


def m_cross(curves: Curves, model: str) -> float:
    """Raventós et al.'s threshold: the M from which the model's fresh-task predictions are closer to ridge's
    than to dMMSE's (mean squared distances; log-log interpolated; NaN if never)."""
    Ms, d_ridge, _ = _grid(curves, (model, "dist_ridge_ood"))
    _, d_dmmse, _ = _grid(curves, (model, "dist_dmmse_ood"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return threshold_crossing(Ms, d_ridge / d_dmmse, 1.0) if Ms.size else float("nan")


def width(curves: Curves, model: str) -> float:
    """Width of the transition in octaves: log2 of the M where the excess fresh-task error over M = ∞ has
    fallen to WIDTH_LEVELS[1] of its value at the smallest M over the M where it has fallen to
    WIDTH_LEVELS[0] (NaN if either is not reached)."""
    Ms, err, inf = _grid(curves, (model, "ood"))
    if Ms.size < 2 or not np.isfinite(inf) or err[0] <= inf:
        return float("nan")
    excess = np.maximum((err - inf) / (err[0] - inf), 1e-12)
    hi, lo = (threshold_crossing(Ms, excess, level) for level in WIDTH_LEVELS)
    return float(np.log2(lo / hi))


def resample_indices(M: int, size: int, seed: int = 0) -> np.ndarray:
    """BOOTSTRAPS resamples with replacement of ``size`` repeats at pool size M, (BOOTSTRAPS, size), from a
    generator seeded by (seed, M, size) only: every statistic and every model at M gets the same resamples,
    so quantities on the same repeats stay paired and every table is reproducible."""
    return np.random.default_rng([seed, M, size]).integers(0, size, size=(BOOTSTRAPS, size))


def percentile_interval(samples: np.ndarray) -> tuple[float, float]:
    """The LEVEL percentile interval of bootstrap ``samples``; an undefined (NaN) sample counts as beyond
    every defined one (``inf``)."""
    ordered = np.sort(np.where(np.isfinite(samples), samples, np.inf))
    tail = (1 - LEVEL) / 2 * (ordered.size - 1)
    return float(ordered[int(np.floor(tail))]), float(ordered[int(np.ceil(ordered.size - 1 - tail))])


def bootstrap(
    records: Sequence[Mapping[str, Any]],
    keys: Sequence[tuple[str, str]],
    stat: Callable[[Curves], float],
    seed: int = 0,
) -> tuple[float, float, float]:
    """``stat`` of the curves ``keys`` ((model, key) pairs) and its LEVEL bootstrap interval (percentiles over
    BOOTSTRAPS resamples of the repeats of each M, :func:`resample_indices`, the same for every key: pairs
    stay paired).  Returns (value, low, high); a resample where the statistic is undefined (NaN) counts as
    outside."""
    curves = {k: per_repeat(records, *k) for k in keys}
    value = stat(curves)
    draws = {(M, v.size): resample_indices(M, v.size, seed) for c in curves.values() for M, v in c.items()}
    samples = np.array(
        [
            stat({k: {M: v[draws[M, v.size][b]] for M, v in c.items()} for k, c in curves.items()})
            for b in range(BOOTSTRAPS)
        ]
    )
    return (value, *percentile_interval(samples))


def ratio_interval(num: np.ndarray, den: np.ndarray | None, M: int, seed: int = 0) -> tuple[float, float, float]:
    """mean(num) / mean(den) over the repeats at pool size M (``den`` None: mean(num)), paired repeat by
    repeat, and its LEVEL bootstrap interval: the resamples of :func:`bootstrap` (:func:`resample_indices`),
    so it is :func:`bootstrap` of the same ratio, in one vectorised step."""
    idx = resample_indices(M, num.size, seed)
    value = float(np.nanmean(num) / (np.nanmean(den) if den is not None else 1.0))
    samples = np.nanmean(num[idx], axis=1) / (np.nanmean(den[idx], axis=1) if den is not None else 1.0)
    return (value, *percentile_interval(samples))


def thresholds(records: Sequence[Mapping[str, Any]], model: str) -> dict[str, tuple[float, float, float]]:
    """A model's transition statistics, each as (value, low, high) with its LEVEL bootstrap interval:
    ``M_star``, ``M_cross`` (Raventós's crossing), ``width_octaves``, and (with ridge in the run)
    ``ood_at_inf_over_ridge``, the fresh-task error at M = ∞ over ridge's on the same prompts."""
    ood, d_r, d_d = (model, "ood"), (model, "dist_ridge_ood"), (model, "dist_dmmse_ood")
    out = {
        "M_star": bootstrap(records, [ood], lambda c: m_star(c, model)),
        "M_cross": bootstrap(records, [d_r, d_d], lambda c: m_cross(c, model)),
        "width_octaves": bootstrap(records, [ood], lambda c: width(c, model)),
    }
    mine, ridge = per_repeat(records, model, "ood").get(0), per_repeat(records, "ridge", "ood").get(0)
    if mine is not None and ridge is not None and ridge.size == mine.size:
        out["ood_at_inf_over_ridge"] = ratio_interval(mine, ridge, 0)
    return out


def intervals(records: Sequence[Mapping[str, Any]], model: str) -> dict[str, Any]:
    """A trained model's or the ground state's statistics with their LEVEL bootstrap intervals ([value, low,
    high], rounded): :func:`thresholds` (``<name>_ci``) and the pool-task error over dMMSE's at each finite
    M (:func:`ratio_interval`, as in the tidy table)."""
    r = _round
    out: dict[str, Any] = {f"{k}_ci": [r(x) for x in v] for k, v in thresholds(records, model).items()}
    mine, ref = per_repeat(records, model, "id"), per_repeat(records, "dmmse", "id")
    if ref:
        out["id_over_dmmse_ci"] = {
            str(M): [r(x) for x in ratio_interval(v, ref[M], M)] for M, v in sorted(mine.items()) if M > 0 and M in ref
        }
    return out


def summary(records: list[dict], params: Mapping[str, Any]) -> dict[str, Any]:
    """Per model: :func:`model_summary` and (not for dMMSE and ridge) :func:`intervals`; the M grid; ridge's
    exact error (:func:`~spinglass_icl.bayes.ridge_error`);
    for the ground state Lu et al.'s κ-theory per M, at M = ∞, and the M* it predicts (same 10 % rule)."""
    rows = tidy_rows(records)
    D, N, noise = int(params["D"]), int(params["N"]), float(params["noise"])
    present = [m for m in model_names() if any(r["model"] == m for r in rows)]
    out: dict[str, Any] = {"M": [int(m) for m in curves(rows, present[0], "ood")[0]] if present else []}
    out["ridge_exact"] = _round(ridge_error(D, N, noise))
    for m in present:
        out[m] = model_summary(rows, m, D)
        if m not in BAYES:
            out[m].update(intervals(records, m))
    gs = sorted((r for r in records if r["model"] == "ground_state" and r["M"] > 0), key=lambda r: r["M"])
    if gs:
        theory = np.array([r["theory_ood"] for r in gs])
        inf = float(icl_error_theory(D, N, int(params["P"]), noise))
        m_star = threshold_crossing(np.array([r["M"] for r in gs], float), theory / inf, THRESHOLD)
        out["ground_state"].update(
            theory_ood=[_round(x) for x in theory], theory_ood_at_inf=_round(inf), theory_M_star=_round(m_star)
        )
        out["ground_state"]["theory_M_star_over_DD1"] = _round(m_star / (D * (D + 1)))
    return out
