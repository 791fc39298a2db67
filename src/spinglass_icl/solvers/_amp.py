"""The paper's AMP (cavity) iteration and its Onsager-corrected TAP version (docs/theory.md#solvers).

Paper (Li, Bai, Huang), for every spin i, from the previous (m, v):

    denom_i = β λ_i − β² Σ_{j≠i} J_ij² v_j
    m_i ← (β h_i + β Σ_{j≠i} J_ij m_j) / denom_i,     v_i ← 1 / denom_i

then error = mean((m_new − m)²) + mean((v_new − v)²) (before damping), damping
x ← θ x + (1−θ) x_new, and stop when error < tol.  Its fixed point solves
(diag(λ − βJ²v) − J_offdiag) m = h, close to but not A m = h.

With the Onsager reaction term −β² (Σ_j J_ij² v_j) m_i added to the numerator the update becomes

    m_i ← m_i + (h − A m)_i / (λ_i − β Σ_{j≠i} J_ij² v_j),

a diagonally preconditioned Richardson step whose fixed point is exactly m* = A⁻¹h.

Both are run on the scaled variances u = βv, in which β cancels (m_i ← (h_i + Σ_j J_ij m_j)/
(λ_i − Σ_j J_ij² u_j), u_i ← 1/(λ_i − Σ_j J_ij² u_j)): the same iterates without forming β², so any
finite β > 0 is accepted (β enters only the paper's random start u = βv and its step error).
The damped Onsager iteration diverges where the TAP variances have no positive fixed point (e.g.
D = 20, P = 1000); ``step="conjugate"`` converges there (BENCHMARKS.md, "Onsager AMP").

Both run vectorised over all spins and over any batch of independent problems (each problem
stops on its own); :func:`~spinglass_icl.solvers.amp_paper_reference` is a literal per-spin transcription used by the
tests and the benchmark.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from .. import validation as V
from ..validation import array
from ._result import SolverExtra, SolverResult

Init = Literal["paper", "cavity"]
Criterion = Literal["step", "residual"]
Step = Literal["damped", "conjugate"]
INITS: tuple[Init, ...] = ("paper", "cavity")


class Couplings(Protocol):
    """What AMP reads: a :class:`~spinglass_icl.spinglass.SpinGlass`, or any (J, h, λ) problem such as
    :class:`~spinglass_icl.solvers.RawCouplings`."""

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


CRITERIA: tuple[Criterion, ...] = ("step", "residual")
STEPS: tuple[Step, ...] = ("damped", "conjugate")


@dataclass(frozen=True)
class AmpConfig:
    """Options of :func:`~spinglass_icl.amp` (checked on construction; an out-of-range value is an InputError).

    beta: inverse temperature, any finite β > 0 (the iteration runs on the scaled variances u = βv,
    in which β cancels, so no power of β is ever formed).  damping θ: x ← θx + (1−θ)x_new.
    steps: iterations at most.  tol: see ``criterion``.  onsager: add the Onsager term (fixed point =
    exact m*).  init: see :func:`~spinglass_icl.solvers.initial_state`.  criterion: ``"step"`` is the paper's
    mean-squared-step error < tol; ``"residual"`` stops when |h − A m|/|h| < tol.
    step: ``"damped"`` is the published update; ``"conjugate"`` (Onsager only) keeps its direction
    (h − A m)/(λ − Σ_j J_ij² u_j) but takes conjugate directions with exact step lengths and restarts
    the TAP variances at 1/λ whenever they lose positivity -- the same fixed point, convergent wherever
    A is positive definite (BENCHMARKS.md, "Onsager AMP").
    """

    beta: float = 100.0
    damping: float = 0.9
    steps: int = 100
    tol: float = 1e-6
    onsager: bool = False
    init: Init = "paper"
    criterion: Criterion = "step"
    step: Step = "damped"

    def __post_init__(self) -> None:
        V.positive("beta", self.beta)
        V.damping(self.damping)
        V.positive_int("steps", self.steps)
        V.positive("tol", self.tol)
        V.choice("init", self.init, INITS)
        V.choice("criterion", self.criterion, CRITERIA)
        V.choice("step", self.step, STEPS)
        if self.step == "conjugate" and not self.onsager:
            raise V.InputError("step='conjugate' needs onsager=True (the paper's AMP has no exact fixed point)")


def _mv(M: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Batched matrix-vector product through BLAS (einsum would not batch gemv)."""
    return (M @ x[..., None])[..., 0]


def _scaled_start(
    shape: tuple[int, ...], init: Init, rng: np.random.Generator, beta: float, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Starting (m, u = βv): ``"paper"`` draws m and v from N(0, 1); ``"cavity"`` m = 0, u = 1/λ."""
    V.choice("init", init, INITS)
    with np.errstate(divide="ignore", over="ignore"):
        if init == "paper":
            m, v = rng.standard_normal(shape), rng.standard_normal(shape)
            return m, beta * v  # overflows only for β near the float limit: flagged as diverged
        return np.zeros(shape), np.broadcast_to(1.0 / lam, shape).copy()


def initial_state(
    shape: tuple[int, ...], init: Init, rng: np.random.Generator, beta: float, lam: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Starting (m, v), each of ``shape``: ``"paper"`` draws both from N(0, 1) with ``rng`` (v can be
    negative, as published); ``"cavity"`` starts from m = 0, v = 1/(βλ) (``rng`` unused)."""
    m, u = _scaled_start(shape, init, rng, beta, lam)
    return m, u / beta


@dataclass(frozen=True)
class _Problem:
    """What the iteration reads, with the squared couplings and diagonals computed once."""

    J: np.ndarray  # (..., K, K)
    J2: np.ndarray
    Jd: np.ndarray  # (..., K) diagonals, left out of every sum over j != i
    J2d: np.ndarray
    h: np.ndarray
    lam: np.ndarray
    hn: np.ndarray  # |h| per problem (1 where h = 0)
    A: np.ndarray | None  # the Hessian, where the criterion or the step needs it

    @classmethod
    def of(cls, sg: Couplings, cfg: AmpConfig) -> _Problem:
        J = sg.J
        Jd = np.diagonal(J, axis1=-2, axis2=-1)
        hn = np.linalg.norm(sg.h, axis=-1)
        need_A = cfg.criterion == "residual" or cfg.step == "conjugate"
        return cls(J, J * J, Jd, Jd * Jd, sg.h, sg.lam, np.where(hn > 0, hn, 1.0), sg.hessian() if need_A else None)

    def hessian(self) -> np.ndarray:
        assert self.A is not None  # built in of() for the options that read it
        return self.A

    def cavity_field(self, m: np.ndarray) -> np.ndarray:
        return _mv(self.J, m) - self.Jd * m

    def reaction(self, u: np.ndarray) -> np.ndarray:
        """Σ_{j≠i} J_ij² u_j: the Onsager/TAP reaction on the scaled variances u = βv."""
        return _mv(self.J2, u) - self.J2d * u


@dataclass
class _State:
    m: np.ndarray  # (..., K) means
    u: np.ndarray  # (..., K) scaled variances βv
    active: np.ndarray  # (...) still iterating
    iters: np.ndarray
    err: np.ndarray
    p: np.ndarray | None = None  # conjugate step: the search direction and r·z of the last step
    rz: np.ndarray | None = None
    restarts: int = 0


def _damped(pr: _Problem, st: _State, cfg: AmpConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The published update (paper or Onsager), damped: new (m, u) and the paper's step error."""
    reaction = pr.reaction(st.u)
    d = pr.lam - reaction  # = denom/β of the paper's equations
    num = pr.h + pr.cavity_field(st.m)
    if cfg.onsager:
        num = num - reaction * st.m
    m_new, u_new = num / d, 1.0 / d
    step_err = np.mean((m_new - st.m) ** 2, axis=-1) + np.mean(((u_new - st.u) / cfg.beta) ** 2, axis=-1)
    th = cfg.damping
    return th * st.m + (1 - th) * m_new, th * st.u + (1 - th) * u_new, step_err


def _conjugate(pr: _Problem, st: _State, cfg: AmpConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Onsager AMP's preconditioned direction with conjugate directions and exact step lengths."""
    A = pr.hessian()
    d = pr.lam - pr.reaction(st.u)
    lost = st.active & ~np.all(d > 0, axis=-1)  # TAP variances without a positive fixed point here
    if lost.any():
        st.restarts += int(np.count_nonzero(lost))
        st.u = np.where(lost[..., None], 1.0 / pr.lam, st.u)
        d = np.where(lost[..., None], pr.lam, d)
    r = pr.h - _mv(A, st.m)
    z = r / d
    rz = np.sum(r * z, axis=-1)
    if st.p is None or st.rz is None:
        p = z
    else:
        restart = ~(st.rz > 0)[..., None]  # not on a variance restart: measured to slow it ~10x
        p = np.where(restart, z, z + (rz / st.rz)[..., None] * st.p)
    alpha = rz / np.sum(p * _mv(A, p), axis=-1)
    m_new = st.m + alpha[..., None] * p
    st.p, st.rz = p, rz
    u_new = cfg.damping * st.u + (1 - cfg.damping) / d
    step_err = np.mean((m_new - st.m) ** 2, axis=-1) + np.mean(((u_new - st.u) / cfg.beta) ** 2, axis=-1)
    return m_new, u_new, step_err


def _advance(pr: _Problem, st: _State, cfg: AmpConfig, new: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    m_new, u_new, step_err = new
    a = st.active[..., None]
    st.m = np.where(a, m_new, st.m)
    st.u = np.where(a, u_new, st.u)
    st.iters = st.iters + st.active
    if cfg.criterion == "step":
        st.err = np.where(st.active, step_err, st.err)
    else:
        r = np.linalg.norm(pr.h - _mv(pr.hessian(), st.m), axis=-1) / pr.hn
        st.err = np.where(st.active, r, st.err)
    finite = np.isfinite(st.m).all(axis=-1) & np.isfinite(st.u).all(axis=-1)
    st.active = st.active & finite & ~(st.err < cfg.tol)


def _failure(converged: np.ndarray, finite: np.ndarray, positive: np.ndarray, met: np.ndarray, steps: int) -> str:
    """One line saying how many runs failed and why ("" if none)."""
    n_bad = int(np.size(converged) - np.count_nonzero(converged))
    if not n_bad:
        return ""
    reasons = []
    if not finite.all():
        reasons.append(f"{np.count_nonzero(~finite)} diverged to inf/NaN")
    if not (positive | ~finite).all():
        reasons.append(f"{np.count_nonzero(finite & ~positive)} with negative variances")
    if (finite & positive & ~met).any():
        reasons.append(f"{np.count_nonzero(finite & positive & ~met)} not converged in {steps} steps")
    return f"{n_bad} of {np.size(converged)} runs failed: " + ", ".join(reasons)


def amp(  # noqa: PLR0913  (AmpConfig's eight fields as typed keywords)
    sg: Couplings,
    *,
    rng: np.random.Generator,
    beta: float = AmpConfig.beta,
    damping: float = AmpConfig.damping,
    steps: int = AmpConfig.steps,
    tol: float = AmpConfig.tol,
    onsager: bool = AmpConfig.onsager,
    init: Init = AmpConfig.init,
    criterion: Criterion = AmpConfig.criterion,
    step: Step = AmpConfig.step,
) -> SolverResult:
    """Run AMP on every problem of ``sg`` (batch dims allowed); means and variances (..., K).

    rng: draws the paper's random initial state (required, explicit randomness).  The other keywords
    are the fields of :class:`~spinglass_icl.solvers.AmpConfig` (beta, damping, steps, tol, onsager, init, criterion,
    step),
    with its defaults.  A problem is ``converged`` only if it met the criterion with finite values and
    positive variances; otherwise its result is flagged (and its mean may be inf/NaN), and ``message``
    says why.
    """
    cfg = AmpConfig(
        beta=beta, damping=damping, steps=steps, tol=tol, onsager=onsager, init=init, criterion=criterion, step=step
    )
    rng = V.generator("rng", rng)
    t0 = time.perf_counter()
    pr = _Problem.of(sg, cfg)
    batch = sg.batch_shape
    m, u = _scaled_start(batch + (sg.K,), cfg.init, rng, cfg.beta, pr.lam)
    st = _State(m, u, np.ones(batch, dtype=bool), np.zeros(batch, dtype=int), np.full(batch, np.inf))
    update = _conjugate if cfg.step == "conjugate" else _damped
    with np.errstate(all="ignore"):
        for _ in range(cfg.steps):
            if not st.active.any():
                break
            _advance(pr, st, cfg, update(pr, st, cfg))
        finite = np.isfinite(st.m).all(axis=-1) & np.isfinite(st.u).all(axis=-1)
        positive = np.all(st.u > 0, axis=-1)
        met = st.err < cfg.tol
        converged = met & finite & positive
        A = pr.A if pr.A is not None else sg.hessian()
        residual = np.linalg.norm(pr.h - _mv(A, np.where(np.isfinite(st.m), st.m, 0.0)), axis=-1) / pr.hn
        variance = st.u / cfg.beta
    return SolverResult(
        solver="amp-onsager" if cfg.onsager else "amp-paper",
        mean=st.m,
        variance=variance,
        converged=converged,
        iterations=st.iters,
        residual=residual,
        seconds=time.perf_counter() - t0,
        message=_failure(converged, finite, positive, met, cfg.steps),
        extra=SolverExtra(error=st.err, variance_restarts=st.restarts),
    )


def amp_paper_reference(  # noqa: PLR0913  (the inputs and four AmpConfig fields as typed keywords)
    J: Any,
    h: Any,
    lam: Any,
    m0: Any,
    v0: Any,
    *,
    beta: float = AmpConfig.beta,
    damping: float = AmpConfig.damping,
    steps: int = AmpConfig.steps,
    tol: float = AmpConfig.tol,
) -> tuple[Any, Any, int, float]:
    """Literal per-spin loop of the paper's AMP equations, in torch as the authors wrote it.

    J (K, K), h, lam, m0, v0 (K,) torch tensors; beta, damping, steps, tol as in
    :class:`~spinglass_icl.solvers.AmpConfig`.
    Returns (m, v, iterations, error).  O(K²) Python work per sweep: for tests and the benchmark only.
    """
    import torch

    cfg = AmpConfig(beta=beta, damping=damping, steps=steps, tol=tol)
    beta, damping = cfg.beta, cfg.damping
    m, v = m0.clone(), v0.clone()
    K = len(h)
    err = float("inf")
    t = 0
    for t in range(1, cfg.steps + 1):  # noqa: B007  (t, the sweeps done, is returned)
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
        if err < cfg.tol:
            break
    return m, v, t, err
