"""spinglass-icl: the spin-glass theory of in-context learning (Li, Bai, Huang, arXiv:2408.02288).

Layers, each its own module: prompts (data) → features (the rank-one feature map) → spinglass
(J, h, λ, energy) → solvers (exact, AMP, sampling) → models/training → theory → experiments →
plotting → cli.  The main names are also here, flat::

    import spinglass_icl as sgi

    spec = sgi.PromptSpec(D=10, N=50)
    rng = np.random.default_rng(0)
    sg = sgi.SpinGlass(sgi.sample_features(spec, 1000, rng), lambda0=0.01)
    W = sgi.solve_exact(sg).W
    err = sgi.query_error(W, sgi.sample_features(spec, 500, rng))

They are imported lazily (PEP 562), on first use, so ``import spinglass_icl`` stays cheap (no
torch, scipy or matplotlib until a name that needs them is touched).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# public name -> module that defines it (relative to this package)
_LAZY: dict[str, str] = {
    "PromptSpec": ".prompts",
    "Features": ".prompts",
    "sample_features": ".prompts",
    "sample_prompts": ".prompts",
    "features_from_prompts": ".prompts",
    "feature_matrix": ".features",
    "predict": ".features",
    "SpinGlass": ".spinglass",
    "flat_fraction_theory": ".spinglass",
    "SolverResult": ".solvers.result",
    "solve_exact": ".solvers.exact",
    "solve_cg": ".solvers.exact",
    "amp": ".solvers.amp",
    "sample_exact": ".solvers.sampling",
    "langevin": ".solvers.sampling",
    "query_error": ".metrics",
    "contrast_ratio": ".metrics",
    "relative_distance": ".metrics",
    "paper_init": ".models",
    "make_model": ".models",
    "GramData": ".training",
    "adam_gram": ".training",
    "fit": ".training",
    "population_error": ".theory",
    "icl_error_asymptotic": ".theory",
    "gibbs_error": ".theory",
    "run": ".experiments.runner",
    "records": ".experiments.runner",
    "InputError": ".validation",
}

__all__ = [
    "__version__",
    "PromptSpec",
    "Features",
    "sample_features",
    "sample_prompts",
    "features_from_prompts",
    "feature_matrix",
    "predict",
    "SpinGlass",
    "flat_fraction_theory",
    "SolverResult",
    "solve_exact",
    "solve_cg",
    "amp",
    "sample_exact",
    "langevin",
    "query_error",
    "contrast_ratio",
    "relative_distance",
    "paper_init",
    "make_model",
    "GramData",
    "adam_gram",
    "fit",
    "population_error",
    "icl_error_asymptotic",
    "gibbs_error",
    "run",
    "records",
    "InputError",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names come from __getattr__
    from .experiments.runner import records, run
    from .features import feature_matrix, predict
    from .metrics import contrast_ratio, query_error, relative_distance
    from .models import make_model, paper_init
    from .prompts import Features, PromptSpec, features_from_prompts, sample_features, sample_prompts
    from .solvers.amp import amp
    from .solvers.exact import solve_cg, solve_exact
    from .solvers.result import SolverResult
    from .solvers.sampling import langevin, sample_exact
    from .spinglass import SpinGlass, flat_fraction_theory
    from .theory import gibbs_error, icl_error_asymptotic, population_error
    from .training import GramData, adam_gram
    from .training.fit import fit
    from .validation import InputError


assert set(__all__) == {"__version__", *_LAZY}  # one list of public names, checked at import


def __getattr__(name: str) -> Any:
    """Import the module defining ``name`` on first access and cache the name here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
