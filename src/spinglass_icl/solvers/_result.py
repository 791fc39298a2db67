"""The result object every solver returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np


class SolverExtra(TypedDict, total=False):
    """What a solver reports beyond the common fields (each key only where that solver defines it)."""

    error: np.ndarray  # AMP: its stopping criterion's last value per problem (batch shape)
    variance_restarts: int  # AMP (step="conjugate"): restarts of the TAP variances, all problems together
    cov: np.ndarray  # Langevin: sample covariance of the effective spins (K_eff, K_eff)
    acceptance: float  # Langevin: fraction of MALA proposals accepted (1 unadjusted)
    dt: float  # Langevin: the step size used
    samples: int  # Langevin: samples kept (chains × steps after burn-in)


@dataclass
class SolverResult:
    """Outcome of a solver, for one problem or a batch of independent ones.

    mean: (..., K) spin means (the ground state for exact solvers); ``W`` reshapes it to
    (..., D+1, D+1).  variance: (..., K) marginal variances where the solver defines them.
    converged, iterations, residual: arrays of the batch shape (() for one problem); residual is
    the relative residual |A m − h|/|h| of the exact equations (AMP: at its last iterate) unless
    stated in ``message``.  seconds: solver wall time.  A result with ``converged`` False must not
    be used as a solution: its entries may be inf/NaN.
    """

    solver: str
    mean: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    residual: np.ndarray
    seconds: float
    variance: np.ndarray | None = None
    message: str = ""
    extra: SolverExtra = field(default_factory=lambda: SolverExtra())

    @property
    def D(self) -> int:
        return int(round(np.sqrt(self.mean.shape[-1]))) - 1

    @property
    def W(self) -> np.ndarray:
        """Means as weight matrices, shape (..., D+1, D+1)."""
        return self.mean.reshape(self.mean.shape[:-1] + (self.D + 1, self.D + 1))

    @property
    def all_converged(self) -> bool:
        return bool(np.all(self.converged))

    def masked_mean(self) -> np.ndarray:
        """Means (..., K) with non-converged problems replaced by NaN (the paper's convention).

        The one "NaN where the solver failed" helper: any metric of it, e.g.
        ``metrics.query_error(res.masked_mean(), test)``, is NaN exactly for the failed runs.
        """
        out = np.array(self.mean, dtype=float, copy=True)
        out[~np.asarray(self.converged, dtype=bool)] = np.nan
        return out
