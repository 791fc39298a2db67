"""Training: the one Adam (:mod:`.adam`), training recipes (:mod:`.recipes`: schedules, :class:`Budget`,
each architecture's recipe), full-batch Adam on the Gram form of simplified linear attention (:mod:`.gram`),
Adam for any stacked-repeat torch model (:mod:`.fit`) and the evaluation of trained models (:mod:`.evaluation`)."""

from .adam import Adam, AdamOptions, adam_update
from .evaluation import mse, projection_report
from .fit import FitResult, HeldOut, context_prefix, curriculum_context, fit
from .gram import DTYPES, MODELS, GramData, TrainResult, adam_explicit, adam_gram
from .recipes import BUDGET_FIELDS, SCHEDULES, Budget, as_budget, lr_factor, recipe

__all__ = [
    "Adam",
    "AdamOptions",
    "BUDGET_FIELDS",
    "Budget",
    "DTYPES",
    "FitResult",
    "GramData",
    "HeldOut",
    "MODELS",
    "SCHEDULES",
    "TrainResult",
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
]
