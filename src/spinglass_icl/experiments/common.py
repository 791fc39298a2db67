"""Compute building blocks shared by several experiments (one place for each).

Data: :func:`generators` (a point's numpy/torch streams), :func:`draw_repeats`, :func:`pool_features`,
:func:`nested_spinglasses` (prefix sweeps over P).  Solvers and training: :func:`ground_states`,
:func:`amp_and_adam_test_errors` and the theory-vs-training point/panel/summary of fig4b and figS4.
Reference solutions: :func:`icl_solution`, :func:`landscape_directions`.  Exact errors:
:func:`population_errors` (beside a Monte-Carlo test error), :func:`minnorm_population_errors`,
:func:`boltzmann_sample_errors`.  Threads: :func:`torch_threads`
(set by the runner around each point).  Sweeps and statistics are in :mod:`.sweep`, figure panels in
:mod:`.panels`, histogram statistics in :mod:`.stats`.
"""

from __future__ import annotations

import contextlib
import copy
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from .. import validation as V
from ..features import effective_index, predict
from ..metrics import contrast_ratio, query_error
from ..models import paper_init
from ..prompts import Features, PromptSpec, features_from_prompts, sample_features, sample_prompts
from ..solvers.amp import amp
from ..solvers.exact import solve_cg, solve_exact
from ..solvers.sampling import sample_exact
from ..spinglass import SpinGlass
from ..theory import population_error
from ..training import GramData, adam_gram
from ..validation import InputError
from .sweep import nan_mean_std, repeat_stats


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


def attention_init(model: str, R: int, D: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Paper init N(0, 1/(D+1)) of R linear attentions: [W] (R, D+1, D+1) for ``model="merged"``, or
    [W_q, W_k] (R, D+1, D+1) each for ``"separate"`` (d_k = D+1)."""
    V.choice("model", model, ("merged", "separate"))
    return [paper_init((R, D + 1, D + 1), D, gen, torch.float64) for _ in range(1 if model == "merged" else 2)]


def pool_sets(spec: PromptSpec, sizes: tuple[int, ...], rng: np.random.Generator) -> tuple[list[Features], np.ndarray]:
    """Prompt sets of sizes ``sizes`` (e.g. training, test) whose tasks all come from one pool of
    ``spec.task_pool`` tasks, each prompt's task picked uniformly; features (size, D+1) each.

    ``sample_features`` keeps a pool's tasks to itself, so the pool is sampled task by task: the
    numbers of prompts of each pool task in each set are multinomial, and the prompts of one task
    are one ``sample_features`` call with ``task_pool=1`` (one task, drawn with σ_w, shared by that
    call's prompts).  This is the distribution of ``PromptSpec(task_pool=T)`` up to the order of
    the prompts (shuffled anyway; the spin glass does not see it), with the tasks shared across sets.
    Returns the sets and the pool's tasks (T, D) (for the exact in-distribution error); a row of NaN is a
    pool task that none of the sets drew, whose vector was never sampled (to every set, a fresh task).
    """
    T = spec.task_pool
    if T is None:
        raise InputError("pool_features needs a PromptSpec with task_pool set")
    counts = np.stack([rng.multinomial(n, np.full(T, 1.0 / T)) for n in sizes], axis=1)  # (T, sets)
    one = replace(spec, task_pool=1)
    parts: list[list[Features]] = [[] for _ in sizes]
    tasks = np.full((T, spec.D), np.nan)
    for t, row in enumerate(counts):
        if row.sum() == 0:
            continue
        # the task sample_features is about to draw first (PromptSpec(task_pool=1): a pool of one), read from
        # a copy of the stream so that the draws stay those of the plain sampler (tested)
        tasks[t] = spec.sigma_w * copy.deepcopy(rng).standard_normal((1, spec.D))[0]
        f = sample_features(one, int(row.sum()), rng)  # one pool task shared by these prompts
        edges = np.concatenate([[0], np.cumsum(row)])
        for s in range(len(sizes)):
            sl = slice(edges[s], edges[s + 1])
            parts[s].append(Features(a=f.a[sl], b=f.b[sl], y=f.y[sl], N=f.N))
    out = []
    for s, n in enumerate(sizes):
        order = rng.permutation(n)
        out.append(
            Features(
                a=np.concatenate([p.a for p in parts[s]])[order],
                b=np.concatenate([p.b for p in parts[s]])[order],
                y=np.concatenate([p.y for p in parts[s]])[order],
                N=spec.N,
            )
        )
    return out, tasks


def pool_features(spec: PromptSpec, sizes: tuple[int, ...], rng: np.random.Generator) -> list[Features]:
    """The prompt sets of :func:`pool_sets` (without the tasks)."""
    return pool_sets(spec, sizes, rng)[0]


def stack_features(fs: Sequence[Features]) -> Features:
    """Stack same-sized feature sets along a new leading (repeat) axis."""
    return Features(
        a=np.stack([f.a for f in fs]), b=np.stack([f.b for f in fs]), y=np.stack([f.y for f in fs]), N=fs[0].N
    )


def draw_features(spec: PromptSpec, P: int, rng: np.random.Generator, *, chunk: int = 2000) -> Features:
    """P prompts' features (P, D+1): the direct sampler, or -- for the authors' correlated-token
    sampler (``cholesky="paper"``, which only the explicit sampler has) -- explicit prompts built
    ``chunk`` at a time so that memory stays at chunk·(D+1)·(N+1) numbers."""
    if spec.correlation > 0.0 and spec.cholesky == "paper":
        parts = [features_from_prompts(sample_prompts(spec, min(chunk, P - s), rng)) for s in range(0, P, chunk)]
        return Features(
            a=np.concatenate([f.a for f in parts]),
            b=np.concatenate([f.b for f in parts]),
            y=np.concatenate([f.y for f in parts]),
            N=spec.N,
        )
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
    total: Any = 0.0  # running sum of the chunks' Grams, (..., K, K) after the first
    prev = 0
    for P in Ps:
        chunk = Features(
            a=features.a[..., prev:P, :], b=features.b[..., prev:P, :], y=features.y[..., prev:P], N=features.N
        )
        total = total + SpinGlass(chunk).gram * (P - prev)
        prev = P
        prefix = Features(a=features.a[..., :P, :], b=features.b[..., :P, :], y=features.y[..., :P], N=features.N)
        yield with_gram(SpinGlass(prefix, lambda0), total / P)


def population_rows(W: np.ndarray, spec: PromptSpec, tasks: np.ndarray | None = None) -> np.ndarray:
    """Per repeat (R,): the exact population error (:func:`~spinglass_icl.theory.population_error`, no
    test-prompt noise) of weights W (R, D+1, D+1) or (R, (D+1)²) on fresh prompts of ``spec`` -- the exact
    counterpart of ``query_error`` on Monte-Carlo test prompts; label noise ``spec.noise`` included.
    ``tasks`` (R, T, D): per repeat the pool of an in-distribution test (the ``tasks=`` form; NaN rows count
    as fresh tasks).  NaN weights (AMP runs that did not converge) give NaN, as in :func:`query_error`.
    Needs iid tokens and σ_x = σ_w = 1 (the theory's setting)."""
    if spec.correlation != 0.0 or spec.sigma_x != 1.0 or spec.sigma_w != 1.0:
        raise InputError("the exact population error needs iid tokens and sigma_x = sigma_w = 1; use query_error")
    W = np.asarray(W, float)
    out = np.full(W.shape[0], np.nan)
    for r in np.nonzero(np.all(np.isfinite(W.reshape(W.shape[0], -1)), axis=1))[0]:
        fresh = population_error(W[r], spec.D, spec.N, spec.noise)
        if tasks is None:
            out[r] = fresh
            continue
        seen = np.all(np.isfinite(tasks[r]), axis=1)  # NaN rows: pool tasks never drawn (pool_sets) -- fresh ones
        pooled = population_error(W[r], spec.D, spec.N, spec.noise, tasks[r][seen]) if seen.any() else 0.0
        out[r] = (seen.sum() * pooled + (~seen).sum() * fresh) / seen.size
    return out


def population_errors(
    weights: Mapping[str, np.ndarray], spec: PromptSpec, tasks: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """``<name>_population``: :func:`population_rows` of each named weight batch, to store beside the
    Monte-Carlo test error ``<name>`` of the same weights."""
    return {f"{name}_population": population_rows(W, spec, tasks) for name, W in weights.items()}


def minnorm_population_errors(
    spec: PromptSpec, P: int, repeats: int, rng: np.random.Generator, *, cg_from_D: int, cg_tol: float
) -> dict[str, np.ndarray]:
    """Per repeat (R,): a fresh training set of P prompts, its exact minimum-norm ground state (λ0 = 0; lstsq
    below D = ``cg_from_D``, matrix-free CG to relative residual ``cg_tol`` from there on) and that ground
    state's exact population error (``error``, NaN where the solver did not converge), with the solver's
    relative ``residual`` and ``iterations``."""
    out: dict[str, list] = defaultdict(list)
    for _ in range(repeats):
        sg = SpinGlass(sample_features(spec, P, rng), 0.0)
        res = solve_cg(sg, tol=cg_tol) if spec.D >= cg_from_D else solve_exact(sg, "lstsq")
        ok = bool(np.all(res.converged))
        out["error"].append(float(population_error(res.mean, spec.D, spec.N, spec.noise)) if ok else np.nan)
        out["residual"].append(float(np.max(res.residual)))
        out["iterations"].append(int(np.max(res.iterations)))
    return {k: np.asarray(v) for k, v in out.items()}


def boltzmann_sample_errors(
    sg: SpinGlass, beta: Sequence[float] | np.ndarray, samples: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Per inverse temperature β (arrays (n_β,)): ``samples`` exact Boltzmann draws of ``sg`` (one problem,
    noiseless labels), their mean exact population error, its standard error and their mean contrast ratio."""
    out: dict[str, list] = defaultdict(list)
    for b in beta:
        W = sample_exact(sg, float(b), samples, rng)
        e = population_error(W, sg.D, sg.N)
        out["sample_error"].append(float(e.mean()))
        out["sample_error_sem"].append(float(e.std(ddof=1) / np.sqrt(e.size)))
        out["sample_contrast"].append(float(np.mean(contrast_ratio(W))))
    return {k: np.asarray(v) for k, v in out.items()}


def ground_states(sg: SpinGlass, lambdas: Sequence[float]) -> dict[float, np.ndarray]:
    """Exact ground states (…, K) at several λ0, all from the batch's couplings computed once
    (λ0 = 0: the minimum-norm ground state)."""
    return {
        float(lam): solve_exact(sg.at(V.nonneg("lambda0", lam)), "cholesky" if lam > 0 else "auto").mean
        for lam in lambdas
    }


def amp_and_adam_test_errors(
    spec: PromptSpec,
    *,
    P: int,
    P_test: int,
    repeats: int,
    lambda0: float,
    beta: float,
    damping: float,
    steps: int,
    lr: float,
    epochs: int,
    weight_decay: float,
    rng: np.random.Generator,
    torch_gen: torch.Generator,
    device: str = "cpu",
    chunk: int = 10,
    pairing: str = "paired",
    exact_lambdas: Sequence[float] = (),
    population: bool = False,
) -> dict[str, np.ndarray]:
    """Test errors of theory and training (fig4b, figS4, figS8), arrays of length R:

    ``amp`` the paper's AMP mean at ``lambda0`` (NaN where it did not converge; ``amp_converged``
    flags), ``exact`` the exact ground state at ``lambda0``, ``exact@<λ>`` the exact ground state at
    each extra λ0 of ``exact_lambdas`` (e.g. wd/2, the minimiser Adam's weight decay targets), and
    ``adam`` the merged model trained with full-batch Adam (Gram form, paper init).  All on the same
    fresh test prompts of each repeat.

    pairing="paired" (default, the clean experiment): AMP, exact and Adam all use the same training
    set.  pairing="unpaired" reproduces the paper's fig4b code: AMP is fitted on a training set of
    its own, independent of the one Adam trains on (the exact ground states stay on Adam's set).
    population=True adds ``<series>_population``: the exact population error of the same weights
    (:func:`population_errors`; iid tokens only).
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
        res = amp(sg_amp, beta=beta, damping=damping, steps=steps, rng=rng)
        exact = ground_states(sg, lambdas)
        W0 = paper_init((r, spec.D + 1, spec.D + 1), spec.D, torch_gen, torch.float64)
        tr = adam_gram(
            GramData.from_spinglass(sg, device=device), [W0], lr=lr, epochs=epochs, weight_decay=weight_decay
        )
        out["amp"].append(query_error(res.masked_mean(), test))  # NaN where AMP did not converge
        out["amp_converged"].append(res.converged)
        out["exact"].append(query_error(exact[float(lambda0)], test))
        for lam in exact_lambdas:
            out[f"exact@{float(lam):g}"].append(query_error(exact[float(lam)], test))
        out["adam"].append(query_error(tr.W, test))
        if population:
            weights = {"amp": res.masked_mean(), "exact": exact[float(lambda0)], "adam": tr.W}
            weights.update({f"exact@{float(lam):g}": exact[float(lam)] for lam in exact_lambdas})
            for k, v in population_errors(weights, test_spec).items():
                out[k].append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def theory_vs_training_point(
    spec: PromptSpec,
    pt: Mapping[str, Any],
    seed: int,
    device: str,
    pairing: str = "paired",
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
    out = amp_and_adam_test_errors(
        spec,
        P=pt["P"],
        P_test=pt["P_test"],
        repeats=pt["repeats"],
        lambda0=pt["lambda0"],
        beta=pt["beta"],
        damping=pt["damping"],
        steps=pt["steps"],
        lr=pt["lr"],
        epochs=pt["epochs"],
        weight_decay=pt["weight_decay"],
        rng=rng,
        torch_gen=tgen,
        device=device,
        chunk=pt["chunk"],
        pairing=pairing,
        exact_lambdas=[wd2],
        population=population,
    )
    src = {"amp": "amp", "adam": "adam", "exact": "exact", "exact_wd2": f"exact@{float(wd2):g}"}
    arrays = {k: out[v] for k, v in src.items()}
    res: dict[str, Any] = {f"{k}_per_repeat": v for k, v in arrays.items()}
    res["amp_converged_per_repeat"] = out["amp_converged"].astype(float)
    res["amp_converged"] = float(np.mean(out["amp_converged"]))
    for k, v in arrays.items():
        res[f"{k}_mean"], res[f"{k}_std"] = nan_mean_std(v)
    # paired differences: their spread is far below the spread across training sets
    for k in ("amp", "exact_wd2", "exact"):
        res[f"adam_minus_{k}_mean"] = nan_mean_std(arrays["adam"] - arrays[k])[0]
    if population:
        res.update(repeat_stats({f"{k}_population": out[f"{v}_population"] for k, v in src.items()}))
    return res


THEORY_SERIES = ("amp", "adam", "exact", "exact_wd2")


def plot_theory_vs_training(ax, records: Sequence[Mapping[str, Any]], x: str, params: Mapping[str, Any]) -> None:
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


def landscape_directions(sg: SpinGlass, energy: str) -> dict[str, np.ndarray]:
    """The landscape around the ground state of ``sg.energy(convention=energy)`` (one problem):
    ground state m* (K,), Hessian eigenvalues on the effective spins (ascending) and the
    softest/stiffest eigenvectors embedded in K spins (the dead column's spins stay at 0)."""
    idx = effective_index(sg.D)
    H = sg.hessian(convention=energy)[np.ix_(idx, idx)]
    mu, V = np.linalg.eigh(H)
    keep = mu > mu[-1] * 1e-12  # pseudo-inverse at λ0 = 0 (minimum-norm ground state)
    m = np.zeros(sg.K)
    m[idx] = V[:, keep] @ ((V[:, keep].T @ sg.h[idx]) / mu[keep])
    u_soft, u_stiff = np.zeros(sg.K), np.zeros(sg.K)
    u_soft[idx], u_stiff[idx] = V[:, 0], V[:, -1]
    return {"ground": m, "eigenvalues": mu, "soft": u_soft, "stiff": u_stiff}
