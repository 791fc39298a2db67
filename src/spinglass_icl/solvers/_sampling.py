"""Sampling the Boltzmann distribution p(W) ∝ exp(−βE(W)) = N(m*, (βA)⁻¹) (docs/theory.md#solvers).

* :func:`sample_exact` -- exact Gaussian draws through the Cholesky factor of A;
* :func:`langevin` -- Langevin dynamics dW = −∇E dt + sqrt(2/β) dB on E, as many independent
  chains in parallel; with ``metropolis=True`` (default) each Euler step is a MALA proposal that
  is accepted or rejected, so the chains sample p exactly whatever the step size.

Both need λ0 > 0: at λ0 = 0 the zero modes (and flat directions) make p improper.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import validation as V
from ..features import effective_index, embed_effective, n_effective, zero_mode_index
from ..spinglass import SpinGlass
from ._exact import solve_exact
from ._result import SolverExtra, SolverResult

MIN_ACCEPTANCE = 0.01  # a MALA run accepting fewer proposals has not sampled the law: not converged


def _single(sg: SpinGlass) -> SpinGlass:
    if sg.batch_shape:
        raise V.InputError("sampling takes one problem, not a batch")
    if sg.lambda0 <= 0:
        raise V.InputError("sampling needs lambda0 > 0: at lambda0 = 0 the Boltzmann law is improper")
    return sg


def _ground_state(sg: SpinGlass) -> np.ndarray:
    """m* = A⁻¹h on the effective spins (the law's mean), from the exact solver."""
    return solve_exact(sg, "cholesky").mean[effective_index(sg.D)]


def sample_exact(sg: SpinGlass, beta: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """n exact draws W ~ N(A⁻¹h, (βA)⁻¹), shape (n, K)."""
    import scipy.linalg as sla

    sg = _single(sg)
    beta, n = V.positive("beta", beta), V.positive_int("n", n)
    rng = V.generator("rng", rng)
    D, Ke = sg.D, n_effective(sg.D)
    A = sg.hessian_effective()
    L = np.linalg.cholesky(A)
    mean = _ground_state(sg)
    z = rng.standard_normal((Ke, n))
    eff = mean[:, None] + sla.solve_triangular(L.T, z, lower=False) / np.sqrt(beta)
    out = embed_effective(eff.T, D)
    zero_modes = zero_mode_index(D)
    out[:, zero_modes] = rng.standard_normal((n, len(zero_modes))) / np.sqrt(beta * sg.lambda0)
    return out


@dataclass(frozen=True)
class _Dynamics:
    """Langevin dynamics on E(x) = ½xᵀAx − hᵀx (the effective spins) at inverse temperature β, Euler
    step dt; with ``metropolis`` each step is a MALA proposal accepted or rejected."""

    A: np.ndarray
    h: np.ndarray
    beta: float
    dt: float
    metropolis: bool

    def energy(self, X: np.ndarray) -> np.ndarray:
        return 0.5 * np.einsum("ci,ci->c", X, X @ self.A) - X @ self.h

    def gradient(self, X: np.ndarray) -> np.ndarray:
        return X @ self.A - self.h

    def step(
        self, X: np.ndarray, E: np.ndarray, G: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """One step of every chain: the new (X, E, G) and the number of accepted proposals."""
        dt, beta = self.dt, self.beta
        Y = X - dt * G + np.sqrt(2.0 * dt / beta) * rng.standard_normal(X.shape)
        if not self.metropolis:
            return Y, E, self.gradient(Y), 0
        EY, GY = self.energy(Y), self.gradient(Y)
        # log q(X|Y) - log q(Y|X) for the Gaussian Euler proposal
        fwd = np.sum((Y - X + dt * G) ** 2, axis=1)
        bwd = np.sum((X - Y + dt * GY) ** 2, axis=1)
        log_acc = -beta * (EY - E) - (bwd - fwd) * beta / (4 * dt)
        acc = np.log(rng.random(X.shape[0])) < log_acc
        return np.where(acc[:, None], Y, X), np.where(acc, EY, E), np.where(acc[:, None], GY, G), int(acc.sum())


@dataclass
class _Tally:
    """Running sums over the kept samples of all chains, and the run's bookkeeping."""

    s1: np.ndarray
    s2: np.ndarray
    kept: int = 0
    accepted: int = 0
    done: int = 0
    finite: bool = True


def _run_chains(dyn: _Dynamics, chains: int, steps: int, burn_in: int, rng: np.random.Generator) -> _Tally:
    """Run ``chains`` chains from 0 for ``steps`` steps (stopping if one diverges), summing x and xxᵀ
    after ``burn_in`` steps."""
    Ke = dyn.h.shape[0]
    X = np.zeros((chains, Ke))
    E, G = dyn.energy(X), dyn.gradient(X)
    tally = _Tally(np.zeros(Ke), np.zeros((Ke, Ke)))
    # a too-large step overflows: MALA rejects such proposals (NaN log-acceptance compares False),
    # the unadjusted chain diverges and is stopped and flagged
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            X, E, G, acc = dyn.step(X, E, G, rng)
            tally.accepted += acc
            tally.done = t + 1
            if not np.isfinite(X).all():
                break
            if t >= burn_in:
                tally.s1 += X.sum(axis=0)
                tally.s2 += X.T @ X
                tally.kept += chains
    tally.finite = bool(np.isfinite(X).all()) and tally.kept > 0
    return tally


def langevin(
    sg: SpinGlass,
    beta: float,
    *,
    chains: int = 256,
    steps: int = 2000,
    burn_in: int = 500,
    dt: float | None = None,
    metropolis: bool = True,
    rng: np.random.Generator,
) -> SolverResult:
    """Langevin / MALA sampling of p(W) ∝ exp(−βE(W)) on the effective spins.

    dt defaults to 0.5/λ_max(A) (MALA) or 0.05/λ_max (unadjusted).  Returns a SolverResult whose
    mean and variance are the sample moments over chains × kept steps; ``extra`` holds the
    sample covariance ``cov`` (K_eff × K_eff) and the acceptance rate.  Zero modes are sampled
    analytically (independent N(0, 1/(βλ0))), reported with mean 0 and variance 1/(βλ0).
    ``converged`` is False (mean NaN) if the chains diverged, or if MALA accepted fewer than
    ``MIN_ACCEPTANCE`` of its proposals.
    """
    sg = _single(sg)
    beta = V.positive("beta", beta)
    chains, steps = V.positive_int("chains", chains), V.positive_int("steps", steps)
    rng = V.generator("rng", rng)
    if not 0 <= burn_in < steps:
        raise V.InputError(f"burn_in must be in [0, steps), got {burn_in}")
    t0 = time.perf_counter()
    D, Ke = sg.D, n_effective(sg.D)
    A = sg.hessian_effective()
    h = sg.h_effective
    lmax = float(np.linalg.eigvalsh(A)[-1])
    dt = V.positive("dt", dt) if dt is not None else (0.5 if metropolis else 0.05) / lmax
    tally = _run_chains(_Dynamics(A, h, beta, dt, metropolis), chains, steps, burn_in, rng)
    finite, kept, done = tally.finite, tally.kept, tally.done
    mean = tally.s1 / kept if finite else np.full(Ke, np.nan)
    cov = tally.s2 / kept - np.outer(mean, mean) if finite else np.full((Ke, Ke), np.nan)
    acceptance = tally.accepted / (chains * done) if metropolis else 1.0
    ok = finite and (not metropolis or acceptance >= MIN_ACCEPTANCE)
    var = embed_effective(np.diag(cov), D)
    var[zero_mode_index(D)] = 1.0 / (beta * sg.lambda0)
    exact = _ground_state(sg)
    res = float(np.linalg.norm(mean - exact) / (np.linalg.norm(exact) or 1.0))
    msg = "residual = relative distance of the sample mean from the exact mean"
    if not finite:
        msg = f"chains diverged (inf/NaN) after {done} steps: dt = {dt:.3g} is too large for 2/λ_max = {2 / lmax:.3g}"
    elif not ok:
        msg = f"acceptance rate {acceptance:.3g} < {MIN_ACCEPTANCE}: the chains barely moved (dt = {dt:.3g} too large)"
    return SolverResult(
        solver="langevin-mala" if metropolis else "langevin",
        mean=embed_effective(mean, D),
        variance=var,
        converged=np.array(ok),
        iterations=np.array(done),
        residual=np.array(res),
        seconds=time.perf_counter() - t0,
        message=msg,
        extra=SolverExtra(cov=cov, acceptance=acceptance, dt=dt, samples=kept),
    )
