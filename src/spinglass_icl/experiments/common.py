"""Building blocks shared by several experiments (one place for each)."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .. import validation as V
from ..features import predict
from ..metrics import test_error
from ..models import paper_init
from ..prompts import Features, PromptSpec, features_from_prompts, sample_features, sample_prompts
from ..solvers.amp import amp
from ..solvers.exact import solve_exact
from ..spinglass import SpinGlass
from ..training import GramData, adam_gram
from ..validation import InputError


def generators(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """The numpy and torch generators of one point (independent streams from one seed)."""
    ss = np.random.SeedSequence(seed)
    np_seed, torch_seed = ss.spawn(2)
    return np.random.default_rng(np_seed), torch.Generator().manual_seed(int(torch_seed.generate_state(1)[0]))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Limit torch's intra-op threads to ``n`` inside the block, restoring them after.  Loops of
    many tiny tensor ops run ~20× slower with 2 OpenMP threads on a busy 2-core machine."""
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


def stack_features(fs: Sequence[Features]) -> Features:
    """Stack same-sized feature sets along a new leading (repeat) axis."""
    return Features(a=np.stack([f.a for f in fs]), b=np.stack([f.b for f in fs]),
                    y=np.stack([f.y for f in fs]), N=fs[0].N)


def draw_features(spec: PromptSpec, P: int, rng: np.random.Generator, *, chunk: int = 2000) -> Features:
    """P prompts' features (P, D+1): the direct sampler, or -- for the authors' correlated-token
    sampler (``cholesky="paper"``, which only the explicit sampler has) -- explicit prompts built
    ``chunk`` at a time so that memory stays at chunk·(D+1)·(N+1) numbers."""
    if spec.correlation > 0.0 and spec.cholesky == "paper":
        parts = [features_from_prompts(sample_prompts(spec, min(chunk, P - s), rng)) for s in range(0, P, chunk)]
        return Features(a=np.concatenate([f.a for f in parts]), b=np.concatenate([f.b for f in parts]),
                        y=np.concatenate([f.y for f in parts]), N=spec.N)
    return sample_features(spec, P, rng)


def draw_repeats(spec: PromptSpec, P: int, repeats: int, rng: np.random.Generator) -> Features:
    """``repeats`` independent training sets of P prompts, features (R, P, D+1)."""
    return stack_features([draw_features(spec, P, rng) for _ in range(repeats)])


def with_gram(sg: SpinGlass, gram: np.ndarray) -> SpinGlass:
    """``sg`` with its Gram matrix SᵀS/P (…, K, K) supplied instead of computed (it is a cached
    property; the caller guarantees it belongs to ``sg.features``).  Lets sweeps over nested
    prompt sets reuse running sums instead of one Gram per set."""
    sg.__dict__["gram"] = gram  # fills functools.cached_property's slot (frozen dataclass)
    return sg


def nested_spinglasses(features: Features, Ps: Sequence[int], lambda0: float) -> Iterator[SpinGlass]:
    """Spin glasses of the nested prefixes ``features[..., :P, :]`` for ascending P in ``Ps``.

    The Gram matrices come from running sums over the prompt chunks between consecutive P, so
    the whole sweep costs one Gram of the largest set (not one per P).  Prefixes share prompts
    (common random numbers across P), yet each one alone is an iid sample of P prompts.
    """
    Ps = [int(p) for p in Ps]
    if any(b <= a for a, b in zip(Ps, Ps[1:])) or Ps[0] < 1 or Ps[-1] > features.P:
        raise InputError(f"Ps must ascend within 1..{features.P}, got {Ps}")
    total, prev = 0.0, 0
    for P in Ps:
        chunk = Features(a=features.a[..., prev:P, :], b=features.b[..., prev:P, :],
                         y=features.y[..., prev:P], N=features.N)
        total = total + SpinGlass(chunk).gram * (P - prev)
        prev = P
        prefix = Features(a=features.a[..., :P, :], b=features.b[..., :P, :], y=features.y[..., :P],
                          N=features.N)
        yield with_gram(SpinGlass(prefix, lambda0), total / P)


def ground_states(sg: SpinGlass, lambdas: Sequence[float]) -> dict[float, np.ndarray]:
    """Exact ground states (…, K) at several λ0, all from the batch's couplings computed once
    (λ0 = 0: the minimum-norm ground state)."""
    return {float(lam): solve_exact(sg.at(V.nonneg("lambda0", lam)),
                                    "cholesky" if lam > 0 else "auto").mean for lam in lambdas}


def amp_and_adam_test_errors(spec: PromptSpec, *, P: int, P_test: int, repeats: int, lambda0: float,
                             beta: float, damping: float, steps: int, lr: float, epochs: int,
                             weight_decay: float, rng: np.random.Generator, torch_gen: torch.Generator,
                             device: str = "cpu", chunk: int = 10, pairing: str = "paired",
                             exact_lambdas: Sequence[float] = ()) -> dict[str, np.ndarray]:
    """Test errors of theory and training (fig4b, figS4, figS8), arrays of length R:

    ``amp`` the paper's AMP mean at ``lambda0`` (NaN where it did not converge; ``amp_converged``
    flags), ``exact`` the exact ground state at ``lambda0``, ``exact@<λ>`` the exact ground state at
    each extra λ0 of ``exact_lambdas`` (e.g. wd/2, the minimiser Adam's weight decay targets), and
    ``adam`` the merged model trained with full-batch Adam (Gram form, paper init).  All on the same
    fresh test prompts of each repeat.

    pairing="paired" (default, the clean experiment): AMP, exact and Adam all use the same training
    set.  pairing="unpaired" reproduces the paper's fig4b code: AMP is fitted on a training set of
    its own, independent of the one Adam trains on (the exact ground states stay on Adam's set).
    """
    V.choice("pairing", pairing, ("paired", "unpaired"))
    out: dict[str, list] = defaultdict(list)
    test_spec = spec.fresh_tasks()
    lambdas = [lambda0] + [float(x) for x in exact_lambdas]
    for start in range(0, repeats, chunk):
        r = min(chunk, repeats - start)
        train = draw_repeats(spec, P, r, rng)
        test = draw_repeats(test_spec, P_test, r, rng)
        sg = SpinGlass(train, lambda0)
        sg_amp = sg if pairing == "paired" else SpinGlass(draw_repeats(spec, P, r, rng), lambda0)
        res = amp(sg_amp, beta=beta, damping=damping, steps=steps, seed=rng)
        exact = ground_states(sg, lambdas)
        W0 = paper_init((r, spec.D + 1, spec.D + 1), spec.D, torch_gen, torch.float64)
        tr = adam_gram(GramData.from_spinglass(sg, device=device), [W0], lr=lr, epochs=epochs,
                       weight_decay=weight_decay)
        with np.errstate(invalid="ignore", over="ignore"):
            out["amp"].append(np.where(res.converged, test_error(np.where(res.converged[..., None], res.mean, 0.0),
                                                                 test), np.nan))
        out["amp_converged"].append(res.converged)
        out["exact"].append(test_error(exact[float(lambda0)], test))
        for lam in exact_lambdas:
            out[f"exact@{float(lam):g}"].append(test_error(exact[float(lam)], test))
        out["adam"].append(test_error(tr.W, test))
    return {k: np.concatenate(v) for k, v in out.items()}


def theory_vs_training_point(spec: PromptSpec, pt: Mapping[str, Any], seed: int, device: str,
                             pairing: str = "paired") -> dict[str, Any]:
    """One point of a theory-vs-training sweep (fig4b, figS4): :func:`amp_and_adam_test_errors` on
    ``pt``'s settings, returned as per-repeat arrays (``<series>_per_repeat``), their nan-mean/std
    (``<series>_mean``, ``<series>_std``) for series amp, adam, exact (λ0) and exact_wd2 (λ0 = wd/2,
    the minimiser Adam's weight decay targets), the AMP converged fraction, and paired differences."""
    rng, tgen = generators(seed)
    wd2 = pt["weight_decay"] / 2
    out = amp_and_adam_test_errors(
        spec, P=pt["P"], P_test=pt["P_test"], repeats=pt["repeats"], lambda0=pt["lambda0"], beta=pt["beta"],
        damping=pt["damping"], steps=pt["steps"], lr=pt["lr"], epochs=pt["epochs"],
        weight_decay=pt["weight_decay"], rng=rng, torch_gen=tgen, device=device, chunk=pt["chunk"],
        pairing=pairing, exact_lambdas=[wd2])
    arrays = {"amp": out["amp"], "adam": out["adam"], "exact": out["exact"],
              "exact_wd2": out[f"exact@{float(wd2):g}"]}
    res: dict[str, Any] = {f"{k}_per_repeat": v for k, v in arrays.items()}
    res["amp_converged_per_repeat"] = out["amp_converged"].astype(float)
    res["amp_converged"] = float(np.mean(out["amp_converged"]))
    for k, v in arrays.items():
        res[f"{k}_mean"], res[f"{k}_std"] = nan_mean_std(v)
    # paired differences: their spread is far below the spread across training sets
    for k in ("amp", "exact_wd2", "exact"):
        res[f"adam_minus_{k}_mean"] = nan_mean_std(arrays["adam"] - arrays[k])[0]
    return res


THEORY_SERIES = ("amp", "adam", "exact", "exact_wd2")


def plot_theory_vs_training(ax, records: Sequence[Mapping[str, Any]], x: str, params: Mapping[str, Any]) -> None:
    """Paper AMP and Adam (mean ± std over repeats) and the exact ground states at λ0 and wd/2,
    against the sweep variable ``x`` of :func:`theory_vs_training_point` records."""
    from .. import plotting

    recs = sorted(records, key=lambda r: r[x])
    xs = np.array([r[x] for r in recs], float)

    def col(key: str) -> np.ndarray:
        return np.array([r[key] for r in recs], float)

    wd = params["weight_decay"]
    plotting.band(ax, xs, col("amp_mean"), col("amp_std"), label=f"paper AMP (λ0={params['lambda0']:g})")
    plotting.band(ax, xs, col("adam_mean"), col("adam_std"), marker="^", label=f"Adam (lr={params['lr']:g}, wd={wd:g})")
    ax.plot(xs, col("exact_mean"), "k--", lw=1, label=f"ground state λ0={params['lambda0']:g}")
    ax.plot(xs, col("exact_wd2_mean"), "k:", lw=1.2, label=f"ground state λ0=wd/2={wd / 2:g}")


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


def nan_mean_std(x: np.ndarray) -> tuple[float, float]:
    """Mean and std over the finite entries of ``x`` (NaN, without a warning, if there are none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return (float(np.mean(x)), float(np.std(x))) if x.size else (float("nan"), float("nan"))


def group_mean_std(records: Iterable[Mapping[str, Any]], x: str, y: str,
                   where: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group records by ``x`` and return (sorted x values, nan-mean of y, nan-std of y).

    ``y`` may be scalar or array valued per record (arrays are pooled)."""
    groups: dict[float, list] = defaultdict(list)
    for rec in records:
        if where and any(rec.get(k) != v for k, v in where.items()):
            continue
        groups[rec[x]].append(np.ravel(np.asarray(rec[y], dtype=float)))
    xs = np.array(sorted(groups))
    vals = [np.concatenate(groups[k]) for k in xs]
    with np.errstate(invalid="ignore"):
        mean = np.array([np.nanmean(v) if np.isfinite(v).any() else np.nan for v in vals])
        std = np.array([np.nanstd(v) if np.isfinite(v).any() else np.nan for v in vals])
    return xs, mean, std


def icl_solution(train: Features) -> np.ndarray:
    """The in-context-learning solution W = c*·diag(I_D, 0), shape (…, D+1, D+1), with the scalar
    c* fitted by least squares on the prompts ``train`` (…, P, D+1): ŷ = c·u with u = aᵀdiag(I_D, 0)b/(N+1),
    so c* = Σ u y / Σ u²  (the asymptote of the ground state at large task diversity)."""
    D = train.D
    E = np.zeros((D + 1, D + 1))
    E[:D, :D] = np.eye(D)
    u = predict(E, train)
    c = np.sum(u * train.y, axis=-1) / np.sum(u * u, axis=-1)
    return c[..., None, None] * E


def effective_flat_fraction(sg: SpinGlass) -> np.ndarray:
    """Fraction (…,) of the D(D+1) effective directions along which SᵀS/P is numerically zero
    (eigenvalue below K·eps·λ_max, numpy's rank rule -- scale-free, unlike a fixed 1e-5)."""
    lam = np.linalg.eigvalsh(sg.gram_effective)
    K = lam.shape[-1]
    tol = K * np.finfo(float).eps * np.max(np.abs(lam), axis=-1, keepdims=True)
    return np.mean(lam < tol, axis=-1)
