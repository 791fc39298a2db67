"""Models of in-context linear regression, stacked over R independent repeats.

* :mod:`.layers`: initialisation (:func:`~spinglass_icl.paper_init`), the base class, stacked layers,
  :class:`PromptStats`;
* :mod:`.sla`: simplified linear attention (merged / separate), the spin model's own architecture;
* :mod:`.linear`: full and multi-head linear attention (FLA, MHLA), the L-layer linear transformer;
* :mod:`.softmax`: softmax attention (SA) and a small transformer (TF);
* :mod:`.registry`: one :class:`~spinglass_icl.Architecture` entry per model, :func:`~spinglass_icl.make_model` by
  name (training
  recipes and evaluation live in :mod:`spinglass_icl.training`).
"""

from .layers import PromptStats, StackedModel, as_dtype, normal, paper_init
from .linear import FLA, MHLA, LinearTransformer
from .registry import (
    Architecture,
    architectures,
    effective_weight,
    get,
    make_model,
    names,
    register,
    unregister,
)
from .sla import MergedSLA, SeparateSLA
from .softmax import SA, TF

__all__ = [
    "FLA",
    "MHLA",
    "LinearTransformer",
    "SA",
    "TF",
    "MergedSLA",
    "SeparateSLA",
    "PromptStats",
    "StackedModel",
    "Architecture",
    "architectures",
    "as_dtype",
    "effective_weight",
    "get",
    "make_model",
    "names",
    "normal",
    "paper_init",
    "register",
    "unregister",
]
