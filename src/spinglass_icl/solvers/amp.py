"""The paper's AMP (cavity) iteration and its Onsager-corrected TAP version (SPEC §4.2–4.3).

Paper (Li, Bai, Huang), for every spin i, from the previous (m, v):

    denom_i = β λ_i − β² Σ_{j≠i} J_ij² v_j
    m_i ← (β h_i + β Σ_{j≠i} J_ij m_j) / denom_i,     v_i ← 1 / denom_i

then error = mean((m_new − m)²) + mean((v_new − v)²) (before damping), damping
x ← θ x + (1−θ) x_new, and stop when error < tol.  Its fixed point solves
(diag(λ − βJ²v) − J_offdiag) m = h, close to but not A m = h.

With the Onsager reaction term −β² (Σ_j J_ij² v_j) m_i added to the numerator the update becomes

    m_i ← m_i + (h − A m)_i / (λ_i − β Σ_{j≠i} J_ij² v_j),

a diagonally preconditioned Richardson step whose fixed point is exactly m* = A⁻¹h.

Both run vectorised over all spins and over any batch of independent problems (each problem
stops on its own); :func:`amp_paper_reference` is a literal per-spin transcription used by the
tests and the benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from .. import validation as V
from ..validation import array
from .result import SolverResult

INITS = ("paper", "cavity")


class Couplings(Protocol):
    """What AMP reads: a :class:`~spinglass_icl.spinglass.SpinGlass`, or any (J, h, λ) problem such as
    :class:`RawCouplings`."""

    @property
    def J(self) -> np.ndarray: ...  # (..., K, K)

    @property
    def h(self) -> np.ndarray: ...  # (..., K)

    @property
    def lam(self) -> np.ndarray: ...  # (..., K)

    @property
    def K(self) -> int: ...

    @property
    def batch_shape(self) -> tuple[int, ...]: ...

    def hessian(self) -> np.ndarray: ...


@dataclass(frozen=True)
class RawCouplings:
    """Couplings J (K, K) (diagonal ignored), fields h (K,) and on-site terms λ (K,) of the energy
    E = −½Σ_{i≠j} J_ij W_i W_j − Σ h_i W_i + ½Σ λ_i W_i², in the interface the AMP solver reads
    (e.g. fig. S3's synthetic couplings)."""

    J: np.ndarray
    h: np.ndarray
    lam: np.ndarray

    def __post_init__(self) -> None:
        K = len(self.h)
        array("J", self.J, shape=(K, K))
        array("lam", self.lam, shape=(K,))

    @property
    def K(self) -> int:
        return len(self.h)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return ()

    def hessian(self) -> np.ndarray:
        """diag(λ) − J without its diagonal: the precision matrix of the Boltzmann law."""
        J = np.array(self.J, dtype=float)
        np.fill_diagonal(J, 0.0)
        return np.diag(self.lam) - J


CRITERIA = ("step", "residual")


def _mv(M: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Batched matrix-vector product through BLAS (einsum would not batch gemv)."""
    return (M @ x[..., None])[..., 0]


def _check(beta: float, damping: float, steps: int, tol: float) -> tuple[float, float, int, float]:
    return V.positive("beta", beta), V.damping(damping), V.positive_int("steps", steps), V.positive("tol", tol)


def initial_state(
    shape: tuple[int, ...], init: str, rng: np.random.Generator, beta: float, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Starting (m, v), each of ``shape``: ``"paper"`` draws both from N(0, 1) with ``rng`` (v can be
    negative, as published); ``"cavity"`` starts from m = 0, v = 1/(βλ) (``rng`` unused)."""
    V.choice("init", init, INITS)
    if init == "paper":
        return rng.standard_normal(shape), rng.standard_normal(shape)
    with np.errstate(divide="ignore"):
        return np.zeros(shape), 1.0 / (beta * lam)


def amp(
    sg: Couplings,
    *,
    rng: np.random.Generator,
    beta: float = 100.0,
    damping: float = 0.9,
    steps: int = 100,
    tol: float = 1e-6,
    onsager: bool = False,
    init: str = "paper",
    criterion: str = "step",
) -> SolverResult:
    """Run AMP on every problem of ``sg`` (batch dims allowed); means and variances (..., K).

    rng: draws the paper's random initial state (required, explicit randomness).

    onsager: add the Onsager term (fixed point = exact m*).  init: see :func:`initial_state`.
    criterion: ``"step"`` is the paper's mean-squared-step error < tol; ``"residual"`` stops when
    the relative residual |h − A m|/|h| < tol (what an exact solution needs).
    A problem is ``converged`` only if it met the criterion with finite values and positive
    variances; otherwise its result is flagged (and its mean may be inf/NaN).
    """
    beta, damping, steps, tol = _check(beta, damping, steps, tol)
    rng = V.generator("rng", rng)
    V.choice("criterion", criterion, CRITERIA)
    t0 = time.perf_counter()
    J = sg.J
    K = sg.K
    Jd = np.diagonal(J, axis1=-2, axis2=-1)
    J2 = J * J
    J2d = Jd * Jd
    h, lam = sg.h, sg.lam
    batch = sg.batch_shape
    m, v = initial_state(batch + (K,), init, rng, beta, lam)
    active = np.ones(batch, dtype=bool)
    iters = np.zeros(batch, dtype=int)
    err = np.full(batch, np.inf)
    hn = np.linalg.norm(h, axis=-1)
    hn = np.where(hn > 0, hn, 1.0)
    A = sg.hessian() if criterion == "residual" else None
    with np.errstate(all="ignore"):
        for _ in range(steps):
            if not active.any():
                break
            Jm = _mv(J, m) - Jd * m
            J2v = _mv(J2, v) - J2d * v
            denom = beta * lam - beta**2 * J2v
            num = beta * h + beta * Jm
            if onsager:
                num = num - beta**2 * J2v * m
            m_new, v_new = num / denom, 1.0 / denom
            step_err = np.mean((m_new - m) ** 2, axis=-1) + np.mean((v_new - v) ** 2, axis=-1)
            a = active[..., None]
            m = np.where(a, damping * m + (1 - damping) * m_new, m)
            v = np.where(a, damping * v + (1 - damping) * v_new, v)
            iters = iters + active
            if criterion == "step":
                err = np.where(active, step_err, err)
            else:
                assert A is not None  # built above for this criterion
                r = np.linalg.norm(h - _mv(A, m), axis=-1) / hn
                err = np.where(active, r, err)
            finite = np.isfinite(m).all(axis=-1) & np.isfinite(v).all(axis=-1)
            active = active & finite & ~(err < tol)
        finite = np.isfinite(m).all(axis=-1) & np.isfinite(v).all(axis=-1)
        positive = np.all(v > 0, axis=-1)
        converged = (err < tol) & finite & positive
        A_ = A if A is not None else sg.hessian()
        residual = np.linalg.norm(h - _mv(A_, np.where(np.isfinite(m), m, 0.0)), axis=-1) / hn
    n_bad = int(np.size(converged) - np.count_nonzero(converged))
    msg = ""
    if n_bad:
        reasons = []
        if not finite.all():
            reasons.append(f"{np.count_nonzero(~finite)} diverged to inf/NaN")
        if not (positive | ~finite).all():
            reasons.append(f"{np.count_nonzero(finite & ~positive)} with negative variances")
        if (finite & positive & ~(err < tol)).any():
            reasons.append(f"{np.count_nonzero(finite & positive & ~(err < tol))} not converged in {steps} steps")
        msg = f"{n_bad} of {np.size(converged)} runs failed: " + ", ".join(reasons)
    return SolverResult(
        solver="amp-onsager" if onsager else "amp-paper",
        mean=m,
        variance=v,
        converged=converged,
        iterations=iters,
        residual=residual,
        seconds=time.perf_counter() - t0,
        message=msg,
        extra={"error": err},
    )


def amp_paper_reference(J, h, lam, m0, v0, *, beta: float, damping: float, steps: int, tol: float = 1e-6):
    """Literal per-spin loop of the paper's AMP equations, in torch as the authors wrote it.

    J (K, K), h, lam, m0, v0 (K,) torch tensors.  Returns (m, v, iterations, error).  O(K²) Python
    work per sweep: for tests and the benchmark only.
    """
    import torch

    m, v = m0.clone(), v0.clone()
    K = len(h)
    err = float("inf")
    t = 0
    for t in range(1, steps + 1):  # noqa: B007  (t, the sweeps done, is returned)
        m_new = torch.empty_like(m)
        v_new = torch.empty_like(v)
        for i in range(K):
            mask = torch.ones(K, dtype=torch.bool)
            mask[i] = False
            denom = beta * lam[i] - beta**2 * torch.sum(J[i, mask] ** 2 * v[mask])
            m_new[i] = (beta * h[i] + beta * torch.sum(J[i, mask] * m[mask])) / denom
            v_new[i] = 1.0 / denom
        err = float(torch.mean((m_new - m) ** 2) + torch.mean((v_new - v) ** 2))
        m = damping * m + (1 - damping) * m_new
        v = damping * v + (1 - damping) * v_new
        if err < tol:
            break
    return m, v, t, err
