"""Solvers of the spin glass: the exact ground state (Cholesky, dual, minimum-norm lstsq, matrix-free CG),
the paper's AMP and Onsager AMP, and Boltzmann sampling (exact and Langevin).

The implementation modules are private (``_exact``, ``_amp``, ``_sampling``, ``_result``); every public
name is imported from here, e.g. ``from spinglass_icl.solvers import amp, solve_exact``.
"""

from ._amp import CRITERIA, INITS, STEPS, AmpConfig, Couplings, RawCouplings, amp, amp_paper_reference, initial_state
from ._exact import EXACT_TOL, METHODS, auto_method, solve_cg, solve_exact
from ._result import SolverExtra, SolverResult
from ._sampling import MIN_ACCEPTANCE, langevin, sample_exact

__all__ = [
    "CRITERIA",
    "EXACT_TOL",
    "INITS",
    "METHODS",
    "MIN_ACCEPTANCE",
    "STEPS",
    "AmpConfig",
    "Couplings",
    "RawCouplings",
    "SolverExtra",
    "SolverResult",
    "amp",
    "amp_paper_reference",
    "auto_method",
    "initial_state",
    "langevin",
    "sample_exact",
    "solve_cg",
    "solve_exact",
]
