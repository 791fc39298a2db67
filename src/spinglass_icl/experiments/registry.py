"""Which experiments exist: the catalog's modules, and experiments and architectures from plugins.

An experiment is a module of :mod:`.catalog` that defines ``EXPERIMENT`` (built from the module's own names by
:meth:`~spinglass_icl.Experiment.from_module`): adding one is adding the module
(it is found by its file; nothing else lists it).  Modules are imported only when asked for, so ``list``
and ``--help`` read ids and titles without numpy or torch.

Code outside the package joins in three ways, all of which reach the runner's workers and Dask:

- :func:`register` an :class:`~spinglass_icl.Experiment` from Python (a notebook, a script);
- a *plugin module* that registers experiments (:func:`register`) and/or architectures
  (:func:`spinglass_icl.models.registry.register`) when imported, named with ``--plugin MODULE`` on the
  command line, in the environment variable ``SPINGLASS_ICL_PLUGINS`` (comma list), or in
  :func:`load_plugins`;
- an installed distribution that declares such a module as an entry point of the group
  ``spinglass_icl.experiments`` or ``spinglass_icl.architectures`` (loaded on first use).

The runner records the plugin modules of a run in its config.json and hands them to every worker, so
``plot`` and remote workers see what the run saw.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.metadata
import importlib.util
import os
import pkgutil
import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from ..validation import InputError

if TYPE_CHECKING:  # imported lazily (see the module docstring)
    from .spec import Experiment

CATALOG = f"{__package__}.catalog"
ENTRY_POINT_GROUPS = ("spinglass_icl.experiments", "spinglass_icl.architectures")
PLUGINS_ENV = "SPINGLASS_ICL_PLUGINS"
_PAPER_ORDER = ("demo", "fig", "figS")  # then every other experiment, alphabetically

_registered: dict[str, Experiment] = {}  # experiments registered from outside the catalog
_plugins: list[str] = []  # plugin modules imported so far, in order
_entry_points_loaded = False


def _catalog_modules() -> list[str]:
    package = importlib.util.find_spec(CATALOG)
    paths = package.submodule_search_locations if package is not None else None
    return [m.name for m in pkgutil.iter_modules(paths or []) if not m.name.startswith("_")]


def _order(experiment_id: str) -> tuple[int, int, str]:
    """Paper order: demo, fig1 … fig4b, figS1 … figS8, then the rest alphabetically."""
    match = re.fullmatch(r"(fig|figS)(\d+)([a-z]?)", experiment_id)
    if experiment_id == "demo":
        return (0, 0, "")
    if match:
        return (_PAPER_ORDER.index(match[1]), int(match[2]), match[3])
    return (len(_PAPER_ORDER), 0, experiment_id)


def ids() -> list[str]:
    """Every experiment id, in paper order: the catalog's, the registered ones and the plugins'."""
    load_plugins()
    return sorted({*_catalog_modules(), *_registered}, key=_order)


def register(experiment: Experiment) -> Experiment:
    """Make ``experiment`` (defined outside the catalog) known to ``reproduce``, ``plot`` and the runner.
    Its id must be new; returns it, so a plugin module can write ``EXPERIMENT = register(Experiment(...))``."""
    if experiment.id in _catalog_modules() or _registered.get(experiment.id, experiment) is not experiment:
        raise InputError(f"an experiment {experiment.id!r} exists already; choose another id")
    _registered[experiment.id] = experiment
    return experiment


def unregister(experiment_id: str) -> None:
    """Forget an experiment registered with :func:`register` (tests, notebooks)."""
    _registered.pop(experiment_id, None)


def _import_plugin(module: str) -> None:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise InputError(
            f"plugin {module!r} cannot be imported ({exc}); put its folder on PYTHONPATH or install it"
        ) from None


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for group in ENTRY_POINT_GROUPS:
        for ep in importlib.metadata.entry_points(group=group):
            if ep.module not in _plugins:
                _import_plugin(ep.module)
                _plugins.append(ep.module)


def load_plugins(modules: Iterable[str] = ()) -> tuple[str, ...]:
    """Import the plugin modules ``modules``, those named in ``SPINGLASS_ICL_PLUGINS`` and the installed
    entry points (each once); returns every plugin module imported so far, to hand to workers."""
    _load_entry_points()
    named = [*modules, *os.environ.get(PLUGINS_ENV, "").split(",")]
    for module in (m.strip() for m in named):
        if module and module not in _plugins:
            _import_plugin(module)
            _plugins.append(module)
    return tuple(_plugins)


def plugins() -> tuple[str, ...]:
    """The plugin modules imported so far (what a run records and its workers import)."""
    return tuple(_plugins)


def get(experiment_id: str) -> Experiment:
    """The spec of ``experiment_id``; an unknown id is an :class:`~spinglass_icl.InputError` that lists the known
    ones."""
    if experiment_id in _registered:
        return _registered[experiment_id]
    if experiment_id not in ids():
        raise InputError(f"unknown experiment {experiment_id!r}; known: {', '.join(ids())}")
    module = importlib.import_module(f"{CATALOG}.{experiment_id}")
    experiment: Experiment = module.EXPERIMENT
    return experiment


def catalog_path(experiment_id: str) -> Path | None:
    """The source file of a catalog experiment (None for a registered one)."""
    spec = importlib.util.find_spec(f"{CATALOG}.{experiment_id}") if experiment_id in _catalog_modules() else None
    return Path(spec.origin) if spec is not None and spec.origin else None


def _literal_title(tree: ast.Module) -> str | None:
    """The ``title=`` string literal of ``EXPERIMENT = Experiment.from_module(...)`` (or ``Experiment(...)``) in a
    catalog module's AST."""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "EXPERIMENT" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            for kw in node.value.keywords:
                if kw.arg == "title" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str):
                    return kw.value.value
    return None


def titles() -> dict[str, str]:
    """{id: title} of every experiment, read from the catalog modules' source (no import, so ``list``
    and ``--help`` never load torch); a module whose title is not a literal is imported instead."""
    out = {}
    for i in ids():
        path = catalog_path(i)
        title = _source_title(str(path), path.stat().st_mtime_ns) if path is not None else None
        out[i] = title if title is not None else get(i).title
    return out


@functools.lru_cache(maxsize=256)
def _source_title(path: str, mtime_ns: int) -> str | None:
    """The literal title of the catalog module at ``path`` (parsed once per version of the file)."""
    return _literal_title(ast.parse(Path(path).read_text(encoding="utf-8")))
