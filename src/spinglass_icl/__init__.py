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

from typing import TYPE_CHECKING

from ._lazy import lazy_names
from ._version import __version__

# public name -> "module" (the name is the module's attribute of the same name) or "module:attribute"
_LAZY: dict[str, str] = {
    # data: prompts and their rank-one features
    "PromptSpec": ".prompts",
    "Features": ".prompts",
    "sample_features": ".prompts",
    "sample_prompts": ".prompts",
    "features_from_prompts": ".prompts",
    "feature_matrix": ".features",
    "predict": ".features",
    "query_error": ".metrics",
    "contrast_ratio": ".metrics",
    "relative_distance": ".metrics",
    # the spin glass and its solvers
    "SpinGlass": ".spinglass",
    "flat_fraction_theory": ".spinglass",
    "SolverResult": ".solvers",
    "solve_exact": ".solvers",
    "solve_cg": ".solvers",
    "amp": ".solvers",
    "sample_exact": ".solvers",
    "langevin": ".solvers",
    # architectures and training
    "Architecture": ".models",
    "StackedModel": ".models",
    "register_architecture": ".models:register",
    "make_model": ".models",
    "paper_init": ".models",
    "Budget": ".training",
    "GramData": ".training",
    "adam_gram": ".training",
    "fit": ".training",
    # theory: exact population errors, Lu et al.'s asymptotics, finite temperature, Bayes-optimal predictors
    "population_error": ".theory",
    "icl_error_asymptotic": ".theory",
    "icl_error_theory": ".theory",
    "marchenko_M": ".theory",
    "finite_sizes": ".theory",
    "thermal_error": ".theory",
    "thermal_directions": ".theory",
    "gibbs_error": ".theory",
    "ridge_predict": ".bayes",
    "ridge_error": ".bayes",
    "ridge_error_mp": ".bayes",
    "dmmse_predict": ".bayes",
    "dmmse_error": ".bayes",
    # experiments
    "Experiment": ".experiments.spec",
    "register_experiment": ".experiments.registry:register",
    "load_plugins": ".experiments.registry",
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
    "query_error",
    "contrast_ratio",
    "relative_distance",
    "SpinGlass",
    "flat_fraction_theory",
    "SolverResult",
    "solve_exact",
    "solve_cg",
    "amp",
    "sample_exact",
    "langevin",
    "Architecture",
    "StackedModel",
    "register_architecture",
    "make_model",
    "paper_init",
    "Budget",
    "GramData",
    "adam_gram",
    "fit",
    "population_error",
    "icl_error_asymptotic",
    "icl_error_theory",
    "marchenko_M",
    "finite_sizes",
    "thermal_error",
    "thermal_directions",
    "gibbs_error",
    "ridge_predict",
    "ridge_error",
    "ridge_error_mp",
    "dmmse_predict",
    "dmmse_error",
    "Experiment",
    "register_experiment",
    "load_plugins",
    "run",
    "records",
    "InputError",
]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time the names come from __getattr__
    from .bayes import dmmse_error, dmmse_predict, ridge_error, ridge_error_mp, ridge_predict
    from .experiments.registry import load_plugins
    from .experiments.registry import register as register_experiment
    from .experiments.runner import records, run
    from .experiments.spec import Experiment
    from .features import feature_matrix, predict
    from .metrics import contrast_ratio, query_error, relative_distance
    from .models import Architecture, StackedModel, make_model, paper_init
    from .models import register as register_architecture
    from .prompts import Features, PromptSpec, features_from_prompts, sample_features, sample_prompts
    from .solvers import SolverResult, amp, langevin, sample_exact, solve_cg, solve_exact
    from .spinglass import SpinGlass, flat_fraction_theory
    from .theory import (
        finite_sizes,
        gibbs_error,
        icl_error_asymptotic,
        icl_error_theory,
        marchenko_M,
        population_error,
        thermal_directions,
        thermal_error,
    )
    from .training import Budget, GramData, adam_gram, fit
    from .validation import InputError


assert set(__all__) == {"__version__", *_LAZY}  # one list of public names, checked at import

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
