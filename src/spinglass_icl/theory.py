"""Theory beside the experiments: exact population error, asymptotic ICL error, finite temperature.

Derived in docs/theory.md#theory-beyond-the-paper.

* :func:`population_error` -- the exact expected query error of a merged W on fresh tasks (or on a given
  finite pool of tasks), a quadratic form c − 2gᵀvec(W) + vec(W)ᵀQ vec(W) with the pieces from
  :func:`population_pieces`.  Replaces Monte-Carlo test prompts wherever the error of a known W is wanted.
* :func:`icl_error_asymptotic` -- Lu, Letey, Zavatone-Veth, Maiti, Pehlevan (2024), Result 1: the error of
  the ridgeless (minimum-norm) ground state in the limit D → ∞ at fixed τ, α, ρ, κ.
* :func:`gibbs_error` / :func:`thermal_error` -- the expected population error of a Boltzmann sample
  W ~ N(m*, (βA)⁻¹): error(m*) + tr(Q (βA)⁻¹).

Derivation of the population error (σ_x = σ_w = 1, label noise σ on every label).  The prediction is
ŷ = aᵀ V x_q/(N+1) with V = W[:, :D] and a = (Σ y_i x_i ; Σ y_i²).  Averaging over the query first,
E(y_q − ŷ)² = σ² + E|w/√D − Vᵀa/(N+1)|².  Given the task w (s² = |w|²/D + σ²), by Isserlis:

    E[a_x|w] = N w/√D,   E[a_y|w] = N s²,
    E[a_x a_xᵀ|w] = N s² I + N(N+1) wwᵀ/D,   E[a_y a_x|w] = N(N+2) s² w/√D,   E[a_y²|w] = N(N+2) s⁴.

Averaged over w ~ N(0, I_D): E[aaᵀ] = diag(c_x I_D, c_y) with c_x = N(1 + σ²) + N(N+1)/D and
c_y = N(N+2)((1 + σ²)² + 2/D), and E[a_x wᵀ] = N I/√D.  Hence, with V_x = W[:D, :D], v_y = W[D, :D],

    error = 1 + σ² − 2N tr(V_x)/(D(N+1)) + (c_x |V_x|²_F + c_y |v_y|²)/(N+1)²,

i.e. c = 1 + σ², g = N/(D(N+1)) on the diagonal spins W_mm (m < D), and Q = E[aaᵀ] ⊗ E[bbᵀ]/(N+1)² is
diagonal in the spin basis: c_x/(N+1)² on W[:D, :D], c_y/(N+1)² on W[D, :D], 0 on the zero modes W[:, D].
For a finite pool the conditional error is averaged over the pool's tasks instead (same moments).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import validation as V
from .metrics import as_matrix
from .solvers import solve_exact
from .spinglass import SpinGlass
from .validation import InputError

__all__ = [
    "population_pieces",
    "population_error",
    "icl_error_asymptotic",
    "icl_error_theory",
    "finite_sizes",
    "gibbs_error",
    "thermal_error",
    "thermal_directions",
    "marchenko_M",
]


# -- population error ----------------------------------------------------------------------------------
def _moments(D: int, N: Any, noise: Any) -> tuple[np.ndarray, np.ndarray]:
    """(c_x, c_y): the diagonal of E[aaᵀ] over fresh tasks (broadcast over N and noise)."""
    N = np.asarray(N, dtype=float)
    s2 = 1.0 + np.asarray(noise, dtype=float) ** 2
    return N * s2 + N * (N + 1) / D, N * (N + 2) * (s2**2 + 2.0 / D)


def _check_sizes(D: Any, N: Any, noise: Any) -> tuple[int, np.ndarray, np.ndarray]:
    D = V.positive_int("D", D)
    try:
        N_arr, noise_arr = np.asarray(N, dtype=float), np.asarray(noise, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"N and noise must be numbers, got N={N!r}, noise={noise!r}") from None
    if N_arr.size == 0 or not np.all(np.isfinite(N_arr)) or np.any(N_arr < 1) or np.any(N_arr != np.round(N_arr)):
        raise InputError(f"N must be an integer >= 1 (or an array of them), got {N!r}")
    if not np.all(np.isfinite(noise_arr)) or np.any(noise_arr < 0):
        raise InputError(f"noise must be a finite standard deviation >= 0, got {noise!r}")
    return D, N_arr.astype(float), noise_arr


def population_pieces(
    D: int, N: int, noise: float = 0.0, *, dense: bool = False
) -> tuple[float, np.ndarray, np.ndarray]:
    """The pieces (c, g, Q) of the population error c − 2gᵀw + wᵀQw over the (D+1)² spins (row-major).

    c: float; g: (K,); Q: its diagonal (K,) -- Q is diagonal in the spin basis -- or, with ``dense=True``,
    the K×K matrix (K = (D+1)², O(K²) memory: only for small D).
    """
    D, N_arr, noise_arr = _check_sizes(D, N, noise)
    if N_arr.ndim or noise_arr.ndim:
        raise InputError("population_pieces takes scalar N and noise (population_error broadcasts over them)")
    n = float(N_arr)
    cx, cy = _moments(D, n, noise_arr)
    g = np.zeros((D + 1, D + 1))
    g[np.arange(D), np.arange(D)] = n / (D * (n + 1))
    q = np.zeros((D + 1, D + 1))
    q[:D, :D] = cx / (n + 1) ** 2
    q[D, :D] = cy / (n + 1) ** 2
    Q = np.diag(q.ravel()) if dense else q.ravel()
    return 1.0 + float(noise_arr) ** 2, g.ravel(), Q


def population_error(W: np.ndarray, D: int, N: Any, noise: Any = 0.0, tasks: np.ndarray | None = None) -> np.ndarray:
    """Exact expected query error E(y_q − ŷ)² of weights W on fresh prompts, in O(D²) per W.

    W: (..., D+1, D+1) or flat (..., (D+1)²); N (context length) and noise (label-noise std σ, query
    included) broadcast against W's leading shape.  tasks=None: fresh tasks w ~ N(0, I_D) (tokens
    x ~ N(0, I_D), docs/theory.md#data).  tasks (T, D): the in-distribution error of a finite pool -- each test prompt
    takes one of these T task vectors uniformly (fresh tokens and noise); cost O(T D²) per W.
    Returns shape (...).
    """
    D, N_arr, noise_arr = _check_sizes(D, N, noise)
    W = as_matrix(V.array("W", W, min_ndim=1))
    if W.shape[-2:] != (D + 1, D + 1):
        raise InputError(f"W of shape {W.shape} does not match D = {D}: expected (..., {D + 1}, {D + 1})")
    Vx, vy = W[..., :D, :D], W[..., D, :D]
    n, s2n = N_arr, noise_arr**2
    if tasks is None:
        cx, cy = _moments(D, n, noise_arr)
        return (
            1.0
            + s2n
            - 2.0 * n * np.trace(Vx, axis1=-2, axis2=-1) / (D * (n + 1))
            + (cx * np.sum(Vx**2, axis=(-2, -1)) + cy * np.sum(vy**2, axis=-1)) / (n + 1) ** 2
        )
    w = V.array("tasks", tasks, ndim=2)
    if w.shape[1] != D or w.shape[0] < 1:
        raise InputError(f"tasks must have shape (T, {D}) with T >= 1, got {w.shape}")
    n, s2n = n[..., None], s2n[..., None]  # broadcast over the task axis
    s2 = np.sum(w**2, axis=1) / D + s2n  # (..., T)
    Vtw = np.einsum("...mn,tm->...tn", Vx, w)  # V_xᵀ w per task
    wVw = np.einsum("tn,...tn->...t", w, Vtw)
    vyw = np.einsum("...n,tn->...t", vy, w)
    vyVw = np.einsum("...n,...tn->...t", vy, Vtw)
    err = (
        s2n
        + np.sum(w**2, axis=1) / D
        - 2.0 * n * (wVw / D + s2 * vyw / math.sqrt(D)) / (n + 1)
        + (
            n * s2 * np.sum(Vx**2, axis=(-2, -1))[..., None]
            + n * (n + 1) * np.sum(Vtw**2, axis=-1) / D
            + 2.0 * n * (n + 2) * s2 * vyVw / math.sqrt(D)
            + n * (n + 2) * s2**2 * np.sum(vy**2, axis=-1)[..., None]
        )
        / (n + 1) ** 2
    )
    return np.mean(err, axis=-1)


# -- asymptotic ICL error (Lu et al. 2024, Result 1) ---------------------------------------------------------
def marchenko_M(x: Any, kappa: Any) -> np.ndarray:
    """M_κ(x) = 2 / ((x + 1 − 1/κ) + sqrt((x + 1 − 1/κ)² + 4x/κ)); M_∞(x) = 1/(1 + x)."""
    x = np.asarray(x, dtype=float)
    ik = 1.0 / np.asarray(kappa, dtype=float)  # 1/inf = 0: the κ = ∞ limit needs no branch
    u = x + 1.0 - ik
    return 2.0 / (u + np.sqrt(u * u + 4.0 * x * ik))


def _positive_array(name: str, value: Any, *, allow_inf: bool = False, allow_zero: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    bad = np.isnan(arr) | (arr < 0) | (~allow_zero & (arr == 0)) | (~allow_inf & np.isinf(arr))
    if arr.size == 0 or np.any(bad):
        want = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{name} must be {want}{' (inf allowed)' if allow_inf else ' and finite'}, got {value!r}")
    return arr


def icl_error_asymptotic(tau: Any, alpha: Any, rho: Any = 0.0, kappa: Any = math.inf) -> np.ndarray:
    """Asymptotic test error of the ridgeless (min-norm) linear-attention ground state (Lu et al.'s Result 1,
    docs/theory.md#asymptotic-icl-error).

    D → ∞ with τ = P/D² (pre-training prompts), α = N/D (context length), ρ = σ² (label-noise variance,
    the query's included in the error) and κ = (distinct pre-training tasks)/D (κ = inf: a fresh task per
    prompt) fixed; test on fresh tasks.  All arguments broadcast.  For ρ = 0, κ = ∞, τ > 1 the error is
    τ/((τ − 1)(1 + α)).  At τ = 1 exactly (P at the number of effective spins, the interpolation threshold)
    the min-norm interpolator's norm, and so its error, diverges: the result is ``inf`` there (both
    branches have a 1/|τ − 1| factor), never NaN.  Finite-size convention used in this project:
    τ = P/(D(D+1)), α = N/D, κ = K/D (measured by the ``asymptotics`` experiment; see README "Theory").
    """
    tau = _positive_array("tau", tau)
    alpha = _positive_array("alpha", alpha)
    rho = _positive_array("rho", rho, allow_zero=True)
    kappa = _positive_array("kappa", kappa, allow_inf=True)
    tau, alpha, rho, kappa = np.broadcast_arrays(tau, alpha, rho, kappa)
    x = (1.0 + rho) / alpha
    m = marchenko_M(x, kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = x * marchenko_M(x, kappa / tau)
        below = (
            tau * (1.0 + x) / (1.0 - tau) * (1.0 - tau * (1.0 - mu) ** 2 - (x - rho) / x * mu)
            - 2.0 * tau * (1.0 - mu)
            + rho
            + 1.0
        )
        ik = 1.0 / kappa
        k = 1.0 / (1.0 - ik * m * m / (1.0 + ik * m) ** 2)  # κ(m/(κ+m))² written to be finite at κ = ∞
        t1 = tau - 1.0
        above = (
            (k - 1.0 / t1) * (1.0 + x) * (x * m) ** 2
            + (3.0 - 2.0 * tau) / t1 * m * x * x
            + ((1.0 + rho) * m / t1 + 1.0) * x
            + rho * m / t1
            + rho
        )
    out = np.where(tau < 1.0, below, above)
    return np.where(tau == 1.0, np.inf, out)


def icl_error_theory(D: Any, N: Any, P: Any, noise: Any = 0.0, pool: Any = None) -> np.ndarray:
    """:func:`icl_error_asymptotic` at finite sizes, with this project's finite-size convention (one place):
    τ = P/(D(D+1)), α = N/D, ρ = noise², κ = pool/D (pool: number of distinct tasks; None or 0: a fresh
    task per prompt, κ = ∞).  τ = P/(D(D+1)) puts the divergence at the finite-D interpolation threshold
    P = D(D+1) and converges faster than P/D² above it (``asymptotics`` experiment).  Broadcasts."""
    D = _positive_array("D", D)
    kappa = math.inf if pool is None else np.where(np.asarray(pool, float) == 0, np.inf, np.asarray(pool, float) / D)
    return icl_error_asymptotic(
        _positive_array("P", P) / (D * (D + 1)),
        _positive_array("N", N) / D,
        _positive_array("noise", noise, allow_zero=True) ** 2,
        kappa,
    )


def finite_sizes(D: int, tau: float, alpha: float, kappa: float = math.inf) -> tuple[int, int, int | None]:
    """(N, P, pool) at token dimension D for given asymptotic ratios: the inverse of the convention of
    :func:`icl_error_theory`, N = round(αD), P = round(τD(D+1)), pool = round(κD) (None for κ = ∞), each ≥ 1."""
    N = max(1, int(round(alpha * D)))
    P = max(1, int(round(tau * D * (D + 1))))
    return N, P, None if math.isinf(kappa) else max(1, int(round(kappa * D)))


# -- finite temperature ----------------------------------------------------------------------------------
def _effective_q(D: int, N: int, noise: float) -> np.ndarray:
    q = population_pieces(D, N, noise)[2].reshape(D + 1, D + 1)
    return q[:, :D].ravel()


def thermal_error(sg: SpinGlass, beta: Any, noise: float = 0.0) -> np.ndarray:
    """tr(Q (βA)⁻¹): the excess population error of a Boltzmann sample over its mean, shape broadcast(batch, β).

    Needs λ0 > 0 (at λ0 = 0 the flat directions of a singular A make it infinite).  Zero modes do not
    enter (Q vanishes on them).  Costs one eigendecomposition of A per problem
    (:meth:`~spinglass_icl.SpinGlass.hessian_inverse_diagonal`).
    """
    beta = _positive_array("beta", beta)
    if sg.lambda0 <= 0:
        raise InputError("thermal_error needs lambda0 > 0: at lambda0 = 0 the Boltzmann law is improper")
    q = _effective_q(sg.D, sg.N, noise)
    tr = np.sum(q * sg.hessian_inverse_diagonal(), axis=-1)  # Q is diagonal: tr(Q A⁻¹) = Σ_k q_k (A⁻¹)_kk
    return tr / beta


def thermal_directions(sg: SpinGlass, noise: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues λ_k of A on the effective spins (ascending, one problem: no batch) and each eigen-
    direction's part u_kᵀQu_k/λ_k of tr(Q A⁻¹) (they sum to β·:func:`thermal_error`): which directions --
    flat ones (λ_k ≈ λ0) below P = D(D+1) -- make a Boltzmann sample worse than its mean."""
    if sg.batch_shape:
        raise InputError(f"thermal_directions takes one problem, got a batch of shape {sg.batch_shape}")
    lam, U = np.linalg.eigh(sg.hessian_effective())
    return lam, (U**2 * _effective_q(sg.D, sg.N, noise)[:, None]).sum(axis=0) / lam


def gibbs_error(sg: SpinGlass, beta: Any, noise: float = 0.0) -> np.ndarray:
    """Expected population error of a Boltzmann sample W ~ N(m*, (βA)⁻¹) of ``sg`` at inverse temperature β:
    population_error(m*) + tr(Q (βA)⁻¹).  Fresh test tasks, label noise std ``noise``; needs λ0 > 0.
    Shape broadcast(batch, β)."""
    thermal = thermal_error(sg, beta, noise)
    mean = solve_exact(sg, "cholesky").mean
    return population_error(mean, sg.D, sg.N, noise) + thermal
