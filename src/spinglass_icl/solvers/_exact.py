"""Exact ground state m* = A⁻¹h of the spin glass (docs/theory.md#solvers) and its marginal variances.

Only the D(D+1) effective spins are solved for; the D+1 zero modes W_{m,D+1} have no data term,
so their mean is 0 and their variance 1/(βλ0).  Methods:

* ``cholesky`` -- primal: Cholesky of A (K×K), O(P K² + K³);
* ``dual``     -- kernel form m* = Sᵀ(SSᵀ/P + λ0 I)⁻¹ y/P, with SSᵀ = (a·a')(b·b')/(N+1)² formed in
  O(P² D), cheaper when P < K;
* ``lstsq``    -- minimum-norm least squares (the λ0 = 0 ground state when A is singular);
* ``cg``       -- matrix-free conjugate gradients on A·vec(M) = (1/P)Σ(aᵀMb) a bᵀ/(N+1)² + λ0 M,
  O(P D²) per iteration and memory O(P D), preconditioned by the Kronecker factorisation
  E[(aaᵀ)⊗(bbᵀ)] = E[aaᵀ]⊗E[bbᵀ] (a and b are independent: b is the fresh query token).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Literal

import numpy as np

from .. import validation as V
from ..features import embed_effective, feature_matrix, n_effective
from ..spinglass import SpinGlass
from ._result import SolverResult

if TYPE_CHECKING:  # scipy is imported by the functions that solve (importing the solvers stays cheap)
    import scipy.sparse.linalg as spla

Method = Literal["auto", "cholesky", "dual", "lstsq", "cg"]
METHODS: tuple[Method, ...] = ("auto", "cholesky", "dual", "lstsq", "cg")
EXACT_TOL = 1e-6  # a direct solve whose relative residual exceeds this is reported as failed


def _residual(sg1: SpinGlass, m_eff: np.ndarray) -> float:
    """Relative residual |A m − h|/|h| on the effective spins, matrix-free."""
    D = sg1.D
    M = m_eff.reshape(D + 1, D)
    r = sg1.hessian_matvec(M) - sg1.h.reshape(D + 1, D + 1)[:, :D]
    hn = np.linalg.norm(sg1.h)
    return float(np.linalg.norm(r) / hn) if hn > 0 else float(np.linalg.norm(r))


def _single(sg1: SpinGlass, method: str) -> tuple[np.ndarray, int, bool]:
    """Ground state of one (unbatched) problem on the effective spins -> (m_eff, iterations, ok)."""
    import scipy.linalg as sla

    lam0, P, K = sg1.lambda0, sg1.P, n_effective(sg1.D)
    f = sg1.features
    if method == "cholesky":
        try:
            return sla.cho_solve(sla.cho_factor(sg1.hessian_effective()), sg1.h_effective), 1, True
        except np.linalg.LinAlgError:
            return np.full(K, np.nan), 1, False
    if method == "lstsq":
        S = feature_matrix(f, effective=True)
        if lam0 > 0:  # ridge as an augmented least-squares problem keeps the conditioning of S
            S = np.vstack([S / np.sqrt(P), np.sqrt(lam0) * np.eye(K)])
            rhs = np.concatenate([f.y / np.sqrt(P), np.zeros(K)])
        else:
            rhs = f.y
        return sla.lstsq(S, rhs, lapack_driver="gelsd")[0], 1, True
    if method == "dual":
        kern = sg1.kernel()
        if lam0 > 0:
            alpha = sla.cho_solve(sla.cho_factor(kern + lam0 * np.eye(P)), f.y / P)
        else:
            alpha = sla.lstsq(kern, f.y / P, lapack_driver="gelsd")[0]
        m = (f.a * alpha[:, None]).T @ f.b[:, :-1] / (f.N + 1)
        return m.ravel(), 1, True
    raise AssertionError(method)


def auto_method(sg: SpinGlass) -> Method:
    """The direct method ``solve_exact(sg, "auto")`` uses: ``lstsq`` at λ0 = 0 (the minimum-norm ground
    state), else ``cholesky`` when P ≥ D(D+1) and ``dual`` (the P×P kernel) below."""
    if sg.lambda0 == 0.0:
        return "lstsq"
    return "cholesky" if sg.P >= n_effective(sg.D) else "dual"


def solve_exact(sg: SpinGlass, method: Method = "auto", *, beta: float | None = None) -> SolverResult:
    """Ground state m* (min-norm at λ0 = 0) for every problem of ``sg``.

    With ``beta`` the marginal variances diag((βA)⁻¹) are returned too (K³; zero modes get
    1/(βλ0), inf at λ0 = 0, as do flat directions of a singular A).
    """
    V.choice("method", method, METHODS)
    if method == "cg":
        return solve_cg(sg, beta=beta)
    if beta is not None:
        beta = V.positive("beta", beta)
    method = auto_method(sg) if method == "auto" else method
    t0 = time.perf_counter()
    batch = sg.batch_shape
    Ke = n_effective(sg.D)
    m_eff = np.empty(batch + (Ke,))
    ok = np.empty(batch, dtype=bool)
    for idx in np.ndindex(*batch):
        # the problem's own view keeps couplings already computed for the batch (no rebuild)
        m_eff[idx], _, ok[idx] = _single(sg.select(idx), method)
    seconds = time.perf_counter() - t0
    variance = _variance(sg, beta) if beta is not None else None
    res = np.empty(batch)
    for idx in np.ndindex(*batch):
        res[idx] = _residual(sg.select(idx), m_eff[idx])
    ok &= np.isfinite(m_eff).all(axis=-1) & (res < EXACT_TOL)
    msg = "" if ok.all() else _failure_message(res[~ok])
    return SolverResult(
        solver=f"exact-{method}",
        mean=embed_effective(m_eff, sg.D),
        converged=ok,
        iterations=np.ones(batch, dtype=int),
        residual=res,
        seconds=seconds,
        variance=variance,
        message=msg,
    )


def _failure_message(res_bad: np.ndarray) -> str:
    """One line for the failed solves; a failed factorisation leaves a NaN residual (no nanmax warning)."""
    finite = res_bad[np.isfinite(res_bad)]
    detail = (
        f"relative residual up to {finite.max():.1e}"
        if finite.size
        else "factorisation failed (A singular or not positive definite)"
    )
    return f"{res_bad.size} solve(s) failed: {detail} (try method='lstsq' or 'cg')"


def _variance(sg: SpinGlass, beta: float) -> np.ndarray:
    """diag((βA)⁻¹) on all K spins, shape (..., K): the effective spins' from
    :meth:`~spinglass_icl.SpinGlass.hessian_inverse_diagonal`, 1/(βλ0) (inf at λ0 = 0) on the zero modes."""
    D, lam0 = sg.D, sg.lambda0
    var_eff = sg.hessian_inverse_diagonal() / beta
    zero = np.inf if lam0 == 0 else 1.0 / (beta * lam0)
    out = np.full(sg.batch_shape + (D + 1, D + 1), zero)
    out[..., :, :D] = var_eff.reshape(sg.batch_shape + (D + 1, D))
    return out.reshape(sg.batch_shape + (sg.K,))


def _kron_preconditioner(a: np.ndarray, b: np.ndarray, N: int, lam0: float) -> spla.LinearOperator:
    """vec(M) ↦ vec((Ĉa ⊗ Ĉb/(N+1)² + λ0)⁻¹ M) with Ĉa = ⟨aaᵀ⟩, Ĉb = ⟨bbᵀ⟩ over the prompts;
    a (P, D+1), b (P, D) the effective query tokens."""
    import scipy.sparse.linalg as spla

    P = a.shape[0]
    la, Ua = np.linalg.eigh(a.T @ a / P)
    lb, Ub = np.linalg.eigh(b.T @ b / P)
    denom = np.outer(la, lb) / (N + 1) ** 2 + lam0
    denom = np.maximum(denom, np.max(denom) * 1e-12)

    def apply(r: np.ndarray) -> np.ndarray:
        R = r.reshape(denom.shape)
        return (Ua @ ((Ua.T @ R @ Ub) / denom) @ Ub.T).ravel()

    return spla.LinearOperator((denom.size, denom.size), matvec=apply, dtype=float)


def solve_cg(
    sg: SpinGlass,
    *,
    tol: float = 1e-10,
    maxiter: int | None = None,
    precondition: bool | None = None,
    beta: float | None = None,
) -> SolverResult:
    """Matrix-free (preconditioned) conjugate gradients for A m = h, never forming a K×K matrix.

    ``scipy.sparse.linalg.cg`` on :meth:`~spinglass_icl.SpinGlass.hessian_matvec` (a LinearOperator on the
    effective spins), preconditioned by the Kronecker factorisation as M.
    tol: relative residual |A m − h|/|h| to stop at.  At λ0 = 0 with P < D(D+1) the plain CG from
    zero is used (its iterates stay in the range of Sᵀ, so it converges to the min-norm state).
    ``beta`` adds marginal variances (these do form A: K³).
    """
    import scipy.sparse.linalg as spla

    V.positive("tol", tol)
    maxiter = V.positive_int("maxiter", maxiter) if maxiter is not None else 10 * n_effective(sg.D) + 100
    D, N, lam0 = sg.D, sg.N, sg.lambda0
    Ke = n_effective(D)
    if precondition is None:
        precondition = lam0 > 0 or sg.P >= Ke
    t0 = time.perf_counter()
    batch = sg.batch_shape
    m_out = np.empty(batch + (Ke,))
    its = np.zeros(batch, dtype=int)
    res = np.empty(batch)
    h_eff = sg.h_effective
    for idx in np.ndindex(*batch):
        sg1 = sg.select(idx)
        A = spla.LinearOperator(
            (Ke, Ke), matvec=lambda x, s=sg1: s.hessian_matvec(x.reshape(D + 1, D)).ravel(), dtype=float
        )
        f = sg1.features
        M = _kron_preconditioner(f.a, f.b[:, :D], N, lam0) if precondition else None
        h = h_eff[idx]

        def count(_x: np.ndarray, idx: tuple = idx) -> None:
            its[idx] += 1

        x, _ = spla.cg(A, h, rtol=tol, atol=0.0, maxiter=maxiter, M=M, callback=count)
        # report the true residual (the recursive one drifts from it)
        m_out[idx], res[idx] = x, _residual(sg1, x)
    seconds = time.perf_counter() - t0
    conv = (res <= max(10 * tol, 1e-12)) & np.isfinite(m_out).all(axis=-1)
    msg = (
        "" if conv.all() else f"CG stopped at relative residual {np.max(res):.2e} > tol after {np.max(its)} iterations"
    )
    return SolverResult(
        solver="exact-cg",
        mean=embed_effective(m_out, D),
        converged=conv,
        iterations=its,
        residual=res,
        seconds=seconds,
        variance=_variance(sg, V.positive("beta", beta)) if beta is not None else None,
        message=msg,
    )
