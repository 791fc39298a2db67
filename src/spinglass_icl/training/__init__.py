"""Training: the one Adam (:class:`Adam`, :func:`adam_update`), training recipes (:class:`~spinglass_icl.Budget`,
schedules,
each architecture's recipe via :func:`recipe`), full-batch Adam on the Gram form of simplified linear attention
(:func:`~spinglass_icl.adam_gram`), Adam for any stacked-repeat torch model (:func:`~spinglass_icl.fit`), the
evaluation of trained models (:func:`mse`, :func:`projection_report`), and the one entry point that trains any
registered architecture on a fixed training set or on fresh prompts (:func:`train`, :class:`FixedSet`,
:class:`PoolSampler`).

The implementation modules are private (``_adam``, ``_recipes``, ``_gram``, ``_fit``, ``_evaluation``); every
public name is imported from here, e.g. ``from spinglass_icl.training import fit, Budget``, on first use:
the recipes need no torch, so the CLI reads them without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names

# name -> the private module defining it, imported on first use (PEP 562): the recipes (``Budget``,
# ``recipe``) are read without torch, everything else imports it.
_LAZY = {
    "Adam": "._adam",
    "AdamOptions": "._adam",
    "adam_update": "._adam",
    "mse": "._evaluation",
    "projection_report": "._evaluation",
    "FitResult": "._fit",
    "HeldOut": "._fit",
    "context_prefix": "._fit",
    "curriculum_context": "._fit",
    "fit": "._fit",
    "DTYPES": "._gram",
    "MODELS": "._gram",
    "GramData": "._gram",
    "TrainResult": "._gram",
    "adam_explicit": "._gram",
    "adam_gram": "._gram",
    "BUDGET_FIELDS": "._recipes",
    "SCHEDULES": "._recipes",
    "Budget": "._recipes",
    "as_budget": "._recipes",
    "lr_factor": "._recipes",
    "recipe": "._recipes",
    "PROTOCOLS": "._train",
    "FixedSet": "._train",
    "PoolSampler": "._train",
    "Trained": "._train",
    "train": "._train",
    "training_inputs": "._train",
}

if TYPE_CHECKING:
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

__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
