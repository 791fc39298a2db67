"""Reference solutions a point compares with: exact ground states, the ICL solution, the landscape
around the ground state, and exact population errors of weights (beside their Monte-Carlo test errors).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from .. import validation as V
from ..features import effective_index, predict
from ..metrics import contrast_ratio
from ..prompts import Features, PromptSpec, sample_features
from ..solvers import sample_exact, solve_cg, solve_exact
from ..spinglass import Diagonal, SpinGlass, flat_mask
from ..theory import population_error
from ..validation import InputError
from .records import nan_sem


def population_rows(W: np.ndarray, spec: PromptSpec, tasks: np.ndarray | None = None) -> np.ndarray:
    """Per repeat (R,): the exact population error (:func:`~spinglass_icl.theory.population_error`, no
    test-prompt noise) of weights W (R, D+1, D+1) or (R, (D+1)²) on fresh prompts of ``spec`` -- the exact
    counterpart of ``query_error`` on Monte-Carlo test prompts; label noise ``spec.noise`` included.
    ``tasks`` (R, T, D): per repeat the pool of an in-distribution test (the ``tasks=`` form; NaN rows count
    as fresh tasks).  NaN weights (AMP runs that did not converge) give NaN, as in :func:`~spinglass_icl.query_error`.
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
        out["sample_error_sem"].append(nan_sem(e))
        out["sample_contrast"].append(float(np.mean(contrast_ratio(W))))
    return {k: np.asarray(v) for k, v in out.items()}


def ground_states(sg: SpinGlass, lambdas: Sequence[float]) -> dict[float, np.ndarray]:
    """Exact ground states (…, K) at several λ0, all from the batch's couplings computed once
    (λ0 = 0: the minimum-norm ground state)."""
    return {
        float(lam): solve_exact(sg.at(V.nonneg("lambda0", lam)), "cholesky" if lam > 0 else "auto").mean
        for lam in lambdas
    }


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


def landscape_directions(sg: SpinGlass, diagonal: Diagonal = "once") -> dict[str, np.ndarray]:
    """The landscape around the ground state of ``sg.energy(diagonal=diagonal)`` (one problem):
    ground state m* (K,), Hessian eigenvalues on the effective spins (ascending) and the
    softest/stiffest eigenvectors embedded in K spins (the dead column's spins stay at 0).

    m* comes from the same eigendecomposition (a pseudo-inverse at λ0 = 0), not from
    :func:`~spinglass_icl.solve_exact`: the directions need it anyway, and ``diagonal="twice"``
    is a Hessian that the solvers do not know."""
    idx = effective_index(sg.D)
    H = sg.hessian(diagonal=diagonal)[np.ix_(idx, idx)]
    mu, V = np.linalg.eigh(H)
    keep = ~flat_mask(mu, rtol=1e-12)  # pseudo-inverse at λ0 = 0 (minimum-norm ground state)
    m = np.zeros(sg.K)
    m[idx] = V[:, keep] @ ((V[:, keep].T @ sg.h[idx]) / mu[keep])
    u_soft, u_stiff = np.zeros(sg.K), np.zeros(sg.K)
    u_soft[idx], u_stiff[idx] = V[:, 0], V[:, -1]
    return {"ground": m, "eigenvalues": mu, "soft": u_soft, "stiff": u_stiff}
