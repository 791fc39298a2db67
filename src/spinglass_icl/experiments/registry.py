"""Experiment ids and where their specs live; modules are imported only when asked for."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: `list` and `--help` read ids and titles without numpy or torch
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
    "asymptotics": "asymptotics",
    "temperature": "temperature",
}


def ids() -> list[str]:
    """All registered experiment ids that have an implementation, in paper order."""
    return [i for i in _MODULES if importlib.util.find_spec(f"{__package__}.catalog.{_MODULES[i]}") is not None]


def get(experiment_id: str) -> Experiment:
    """The spec of ``experiment_id``; an unknown id is an :class:`InputError`."""
    from ..validation import InputError

    if experiment_id not in ids():
        raise InputError(f"unknown experiment {experiment_id!r}; known: {', '.join(ids())}")
    module = importlib.import_module(f"{__package__}.catalog.{_MODULES[experiment_id]}")
    return module.EXPERIMENT


def _catalog_source(experiment_id: str) -> tuple[ast.Module, str] | None:
    spec = importlib.util.find_spec(f"{__package__}.catalog.{_MODULES[experiment_id]}")
    if spec is None or not spec.origin:
        return None
    text = Path(spec.origin).read_text(encoding="utf-8")
    return ast.parse(text), text


def _literal_title(tree: ast.Module) -> str | None:
    """The ``title=`` string literal of ``EXPERIMENT = Experiment(...)`` in a catalog module's AST."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "EXPERIMENT" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            for kw in node.value.keywords:
                if kw.arg == "title" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    return kw.value.value
            args = node.value.args
            if len(args) > 1 and isinstance(args[1], ast.Constant) and isinstance(args[1].value, str):
                return args[1].value
    return None


def titles() -> dict[str, str]:
    """{id: title} of every experiment, read from the catalog modules' source (no import, so ``list``
    and ``--help`` never load torch); a module whose title is not a literal is imported instead."""
    out = {}
    for i in ids():
        parsed = _catalog_source(i)
        title = _literal_title(parsed[0]) if parsed else None
        out[i] = title if title is not None else get(i).title
    return out


def parameter_docs(experiment_id: str) -> dict[str, str]:
    """Meanings of an experiment's parameters, if its catalog module declares them: a module-level
    ``PARAMETER_DOCS`` / ``PARAMS_DOC`` / ``DOC`` mapping, or ``doc`` on the Experiment; else {}."""
    module = importlib.import_module(f"{__package__}.catalog.{_MODULES[get(experiment_id).id]}")
    for source in (
        getattr(get(experiment_id), "doc", None),
        getattr(module, "PARAMETER_DOCS", None),
        getattr(module, "PARAMS_DOC", None),
        getattr(module, "DOC", None),
    ):
        if isinstance(source, dict):
            return {str(k): str(v) for k, v in source.items()}
    return {}
