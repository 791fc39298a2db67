"""Experiment ids and where their specs live; modules are imported only when asked for."""

from __future__ import annotations

import importlib
import importlib.util

from ..validation import InputError
from .spec import Experiment

_MODULES = {
    "demo": "demo",
    "fig1": "fig1",
    "fig2": "fig2",
    "fig3": "fig3",
    "fig4a": "fig4a",
    "fig4b": "fig4b",
    "figS1": "figS1",
    "figS2": "figS2",
    "figS3": "figS3",
    "figS4": "figS4",
    "figS5": "figS5",
    "figS6": "figS6",
    "figS7": "figS7",
    "figS8": "figS8",
    "phase": "phase",
    "pool": "pool",
}


def ids() -> list[str]:
    """All registered experiment ids that have an implementation, in paper order."""
    return [i for i in _MODULES if importlib.util.find_spec(f"{__package__}.catalog.{_MODULES[i]}") is not None]


def get(experiment_id: str) -> Experiment:
    """The spec of ``experiment_id``; an unknown id is an :class:`InputError`."""
    if experiment_id not in ids():
        raise InputError(f"unknown experiment {experiment_id!r}; known: {', '.join(ids())}")
    module = importlib.import_module(f"{__package__}.catalog.{_MODULES[experiment_id]}")
    return module.EXPERIMENT
