"""Models of in-context linear regression, stacked over R independent repeats.

* :mod:`.layers`: initialisation (:func:`~spinglass_icl.paper_init`), the base class, stacked layers,
  :class:`PromptStats`;
* :mod:`.sla`: simplified linear attention (merged / separate), the spin model's own architecture;
* :mod:`.linear`: full and multi-head linear attention (FLA, MHLA), the L-layer linear transformer;
* :mod:`.softmax`: softmax attention (SA) and a small transformer (TF);
* :mod:`.registry`: one :class:`~spinglass_icl.Architecture` entry per model, :func:`~spinglass_icl.make_model` by
  name (training
  recipes and evaluation live in :mod:`spinglass_icl.training`); it imports no torch, the model classes
  are imported when a model is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_names
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

# The model classes and layer helpers need torch: imported on first use (PEP 562), so the registry's
# declarations (names, labels, recipes, option ranges) are read without torch.
_LAZY = {
    "PromptStats": ".layers",
    "StackedModel": ".layers",
    "as_dtype": ".layers",
    "normal": ".layers",
    "paper_init": ".layers",
    "FLA": ".linear",
    "MHLA": ".linear",
    "LinearTransformer": ".linear",
    "MergedSLA": ".sla",
    "SeparateSLA": ".sla",
    "SA": ".softmax",
    "TF": ".softmax",
}

if TYPE_CHECKING:
    from .layers import PromptStats, StackedModel, as_dtype, normal, paper_init
    from .linear import FLA, MHLA, LinearTransformer
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

# the torch classes are imported on first access (PEP 562)
__getattr__, __dir__ = lazy_names(__name__, _LAZY, __all__)
