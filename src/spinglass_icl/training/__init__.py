"""Training: the one Adam (:class:`Adam`, :func:`adam_update`), training recipes (:class:`~spinglass_icl.Budget`,
schedules,
each architecture's recipe via :func:`recipe`), full-batch Adam on the Gram form of simplified linear attention
(:func:`~spinglass_icl.adam_gram`), Adam for any stacked-repeat torch model (:func:`~spinglass_icl.fit`), the
evaluation of trained models (:func:`mse`, :func:`projection_report`), and the one entry point that trains any
registered architecture on a fixed training set or on fresh prompts (:func:`train`, :class:`FixedSet`,
:class:`PoolSampler`).

The implementation modules are private (``_adam``, ``_recipes``, ``_gram``, ``_fit``, ``_evaluation``); every
public name is imported from here, e.g. ``from spinglass_icl.training import fit, Budget``.
"""

from ._adam import Adam, AdamOptions, adam_update
from ._evaluation import mse, projection_report
from ._fit import FitResult, HeldOut, context_prefix, curriculum_context, fit
from ._gram import DTYPES, MODELS, GramData, TrainResult, adam_explicit, adam_gram
from ._recipes import BUDGET_FIELDS, SCHEDULES, Budget, as_budget, lr_factor, recipe
from ._train import PROTOCOLS, FixedSet, PoolSampler, Trained, train, training_inputs

__all__ = [
    "Adam",
    "AdamOptions",
    "BUDGET_FIELDS",
    "Budget",
    "DTYPES",
    "FitResult",
    "FixedSet",
    "GramData",
    "HeldOut",
    "MODELS",
    "PROTOCOLS",
    "PoolSampler",
    "SCHEDULES",
    "TrainResult",
    "Trained",
    "adam_explicit",
    "adam_gram",
    "adam_update",
    "as_budget",
    "context_prefix",
    "curriculum_context",
    "fit",
    "lr_factor",
    "mse",
    "projection_report",
    "recipe",
    "train",
    "training_inputs",
]
