"""Training: the one Adam (:mod:`.adam`), full-batch Adam on the Gram form of simplified linear
attention (:mod:`.gram`), and Adam for any stacked-repeat torch model (:mod:`.fit`)."""

from .adam import Adam, adam_update
from .fit import FitResult, context_prefix, curriculum_context, fit, lr_factor, mse
from .gram import DTYPES, MODELS, GramData, TrainResult, adam_explicit, adam_gram

__all__ = [
    "Adam",
    "DTYPES",
    "FitResult",
    "GramData",
    "MODELS",
    "TrainResult",
    "adam_explicit",
    "adam_gram",
    "adam_update",
    "context_prefix",
    "curriculum_context",
    "fit",
    "lr_factor",
    "mse",
]
