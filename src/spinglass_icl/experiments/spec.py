"""What an experiment is: a small declarative spec.

An :class:`Experiment` names its parameters at two sizes (``quick``: about a minute on a laptop
CPU; ``full``: the paper's values), expands parameters into independent *points* (JSON-able
dicts), computes one point as a pure function of ``(point, seed, device)``, and draws a figure
from the stored records.  Everything else -- seeding, storing, resuming, parallel execution,
export, plotting to PNG/PDF -- is shared and lives in :mod:`.runner`.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import math
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rules import Rule

#: One point -- its parameters, JSON scalars and lists.
Point = dict[str, Any]
#: A point's parameters merged with its results (arrays as numpy).
Record = dict[str, Any]
#: What ``compute`` returns -- scalars become CSV columns, arrays go to .npz.
Result = dict[str, Any]

#: The module names :meth:`~spinglass_icl.Experiment.from_module` reads, by the :class:`Experiment` field each one
#: fills: tables in capitals, functions in lower case (the estimator is ``cost``: ``resources`` names the module
#: :mod:`spinglass_icl.resources` its estimate is built from).
MODULE_NAMES: dict[str, str] = {
    "quick": "QUICK",
    "full": "FULL",
    "points": "points",
    "compute": "compute",
    "plot": "plot",
    "summary": "summary",
    "check": "check",
    "export": "export",
    "count": "count",
    "resources": "cost",
    "columns": "COLUMNS",
    "summary_keys": "SUMMARY_KEYS",
    "rules": "RULES",
    "seed_params": "SEED_PARAMS",
    "renamed": "RENAMED",
    "threads": "THREADS",
}
#: The fields every experiment must have (from its module or a keyword of
#: :meth:`~spinglass_icl.Experiment.from_module`).
REQUIRED = ("quick", "full", "points", "compute", "plot")


@dataclass(frozen=True)
class Experiment:
    """A reproducible experiment: built from a module's own names with
    :meth:`~spinglass_icl.Experiment.from_module` (how every catalog module declares itself), or field by field.

    points(params) -> list of point dicts (JSON scalars/lists).  Each point must carry every
      parameter its computation needs; the runner adds nothing but the seed.

    compute(point, seed, device) -> dict of results: floats/ints/strs/bools become CSV columns,
      numpy arrays are stored beside the CSV in .npz files.  Must be deterministic given its
      arguments and draw all randomness from ``seed``.

    plot(records, params) -> matplotlib Figure, from stored records only.

    summary(records, params) -> dict of key numbers (printed by the CLI, quoted in REPRODUCTION.md).

    seed_params: the point parameters its seed is derived from (None: all of them).  Points that
      agree on these draw the same data -- e.g. figS8's one point per model, whose models must see
      the same prompts -- while their keys (which hash every parameter) stay distinct.

    renamed: {new name: old name} of point parameters renamed after results were published; the
      seed hashes the old name, so a renamed parameter draws the same data as before (the key, which
      names the stored files, hashes today's names).

    rules: the ranges and meanings (:class:`~spinglass_icl.experiments.rules.Rule`) of the parameters that
      are this experiment's own; names shared across the catalog are declared once in
      :data:`~spinglass_icl.experiments.params.SHARED`.

    threads: torch intra-op threads ``compute`` runs with (None: the runner's default); the runner
      sets them around each point (``_threads.torch_threads``), experiments never do it themselves.
    """

    id: str
    title: str
    quick: Mapping[str, Any]
    full: Mapping[str, Any]
    # params are the dict :meth:`params` returns; a callable may declare them as Mapping
    points: Callable[[dict[str, Any]], list[Point]]
    compute: Callable[[Point, int, str], Result]
    plot: Callable[[list[Record], dict[str, Any]], Any]
    summary: Callable[[list[Record], dict[str, Any]], dict[str, Any]] | None = None
    seed_params: tuple[str, ...] | None = None
    renamed: Mapping[str, str] | None = None
    rules: Mapping[str, Rule] | None = None
    threads: int | None = None
    # optional stricter checks of the merged parameters (params -> None, raising InputError), run by
    # the runner before any point, after the generic type/range checks of params.check
    check: Callable[[dict[str, Any]], None] | None = None
    # optional extra tables from the records (records, params, folder) -> paths written, called by the
    # runner whenever it exports results.csv (e.g. figS8's per-repeat repeats.csv)
    export: Callable[[list[Record], dict[str, Any], Any], list[str]] | None = None
    # meaning and unit of each results.csv column ({column: "meaning [unit]"}); a column family may be
    # declared once with a ``*`` wildcard (e.g. ``"<series>_mean"`` as ``"*_mean"``); printed by
    # ``spinglass-icl columns ID`` and the experiment's gallery page
    columns: Mapping[str, str] | None = None
    # meaning and unit of each key of ``summary`` ({key: "meaning [unit]"}, patterns as for columns; a key of
    # a nested section as ``SECTION.key``); printed by ``spinglass-icl columns ID`` and the gallery page
    summary_keys: Mapping[str, str] | None = None
    # optional estimate of one point's peak memory and CPU seconds (point -> resources.Estimate) where
    # resources.generic does not describe it; read by the runner before anything starts
    resources: Callable[[Point], Any] | None = None
    # optional number of points ``points(params)`` makes, by arithmetic on the parameters (never by building
    # the list), where it is not the product of the list parameters' lengths (:meth:`n_points`): e.g. one
    # point per chunk of draws.  The runner refuses a run of more than MAX_POINTS before expanding it.
    count: Callable[[dict[str, Any]], int] | None = None

    @classmethod
    def from_module(
        cls, module: str | ModuleType, *, id: str, title: str, finish: bool = True, **fields: Any
    ) -> Experiment:
        """The experiment a module declares by its own names: ``EXPERIMENT = Experiment.from_module(__name__,
        id=..., title=...)`` at the end of a catalog (or plugin) module.

        Each field is read from the module name :data:`~spinglass_icl.experiments.spec.MODULE_NAMES` gives
        it -- ``QUICK``, ``FULL``, ``points``, ``compute``, ``plot`` (required), and where the module defines them
        ``summary``, ``check``, ``export``, ``count``, ``cost`` (the ``resources`` field), ``COLUMNS``,
        ``SUMMARY_KEYS``, ``RULES``, ``SEED_PARAMS``, ``RENAMED``, ``THREADS`` (see the fields above for what each
        means).  A keyword in ``fields`` overrides the module's name (e.g. ``compute=shared.compute``).
        ``COLUMNS`` maps each results.csv column that is not a parameter to its meaning and unit,
        ``SUMMARY_KEYS`` each key ``summary`` returns (what ``reproduce`` prints after the run); both are printed
        by ``spinglass-icl columns ID`` and the experiment's gallery page.

        ``finish``: ``plot`` draws the panels and returns the figure; the experiment's plot then letters its
        panels (a), (b), ... and finishes it (:func:`~spinglass_icl.plotting.complete`).  False: the
        module's ``plot`` returns a finished figure itself.

        A required name missing, or a public module name that looks like a misspelt one (``SUMARY_KEYS``,
        ``columns``) is a :class:`~spinglass_icl.InputError` naming the module and the name: a misspelt name
        would otherwise be ignored silently.  A helper whose name is that close to one starts with ``_``."""
        from ..validation import InputError

        mod = sys.modules.get(module) if isinstance(module, str) else module
        if mod is None:
            raise InputError(f"Experiment.from_module: no module {module!r} is being imported; pass __name__")
        unknown = sorted(set(fields) - set(MODULE_NAMES))
        if unknown:
            raise TypeError(f"Experiment.from_module: unknown field(s) {unknown}; fields: {sorted(MODULE_NAMES)}")
        misspelt = _misspelt(mod)
        if misspelt:
            raise InputError(f"{mod.__name__} defines {'; '.join(misspelt)}")
        found = {f: getattr(mod, name) for f, name in MODULE_NAMES.items() if hasattr(mod, name)}
        found.update(fields)
        missing = [MODULE_NAMES[f] for f in REQUIRED if f not in found]
        if missing:
            raise InputError(f"{mod.__name__} defines no {', '.join(missing)} (Experiment.from_module needs them)")
        if finish:
            found["plot"] = _completed(found["plot"])
        return cls(id=id, title=title, **found)

    def params(self, size: str = "quick", overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Parameters at ``size`` with ``overrides`` applied (unknown keys are an error; a single value
        for a list parameter becomes a list of one)."""
        from ..validation import InputError, choice

        base = dict(self.quick if choice("size", size, ("quick", "full")) == "quick" else self.full)
        for key, value in (overrides or {}).items():
            if key not in base:
                raise InputError(f"{self.id} has no parameter {key!r}; it has: {', '.join(sorted(base))}")
            # a list parameter given one value (``--set N=100``) is a list of one
            base[key] = [value] if isinstance(base[key], list) and not isinstance(value, (list, tuple)) else value
        return base

    def n_points(self, params: Mapping[str, Any]) -> int:
        """How many points ``params`` make, without making them: ``count(params)`` where declared, else
        the product of (length + 1) over the list parameters: a grid over every list with one extra value
        per axis (a reference point, e.g. fig2's AMP panel or pool's fresh tasks), an upper bound of any sweep."""
        if self.count is not None:
            return int(self.count(dict(params)))
        return math.prod(len(v) + 1 for v in params.values() if isinstance(v, (list, tuple)))

    def seed(self, run_seed: int, point: Point) -> int:
        """The seed of ``point`` in a run seeded ``run_seed`` (:func:`~spinglass_icl.experiments.spec.point_seed` of
        its seed_params)."""
        keys = self.seed_params
        pt = point if keys is None else {k: point[k] for k in keys}
        return point_seed(run_seed, self.stored(pt))

    def stored(self, point: Point) -> Point:
        """``point`` under the parameter names it was published with (see ``renamed``)."""
        return {self.renamed.get(k, k): v for k, v in point.items()} if self.renamed else dict(point)

    def key(self, point: Point, seed: int) -> str:
        """The store key of ``point`` run with ``seed`` (:func:`~spinglass_icl.experiments.spec.point_key`)."""
        return point_key(self.id, point, seed)


def point_key(experiment_id: str, point: Point, seed: int) -> str:
    """Stable key of a point: a hash of its full configuration (experiment, parameters, seed)."""
    blob = json.dumps(
        {"experiment": experiment_id, "point": point, "seed": seed},
        sort_keys=True,
        separators=(",", ":"),
        default=float,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def point_seed(run_seed: int, point: Point) -> int:
    """The seed of one point: derived from the run seed and the point's own parameters only, so it
    does not depend on execution order, worker count or the other points of the sweep."""
    blob = json.dumps(point, sort_keys=True, separators=(",", ":"), default=float)
    digest = hashlib.sha256(f"{run_seed}:{blob}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def _misspelt(module: ModuleType) -> list[str]:
    """``"NAME (did you mean CONVENTIONAL?)"`` for each public name of ``module`` that is not one of
    :data:`MODULE_NAMES` but differs from one only in case or by a letter or two."""
    names = list(MODULE_NAMES.values())
    folded = {n.casefold(): n for n in names}
    out = []
    for name, value in vars(module).items():
        if name.startswith("_") or name in names or isinstance(value, ModuleType):
            continue
        near = folded.get(name.casefold()) or next(iter(difflib.get_close_matches(name, names, 1, 0.85)), None)
        if near is not None:
            out.append(f"{name} (did you mean {near}?)")
    return out


def _completed(plot: Callable[[list[Record], dict[str, Any]], Any]) -> Callable[[list[Record], dict[str, Any]], Any]:
    """``plot`` followed by the tail of every catalog figure (:func:`~spinglass_icl.plotting.complete`)."""

    @functools.wraps(plot)
    def completed(records: list[Record], params: dict[str, Any]) -> Any:
        from ..plotting import complete

        return complete(plot(records, params))

    return completed
