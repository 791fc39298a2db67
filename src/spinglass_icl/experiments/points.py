"""Points of a sweep: the parameter grid an experiment's ``points()`` declares.

A point is a JSON-able dict carrying every parameter its computation needs (its seed hashes them), so
values are cast (int/float) before they go in.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..validation import InputError
from .spec import Point


def pick(params: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The entries ``keys`` of ``params`` (the parameters every point carries unchanged)."""
    return {k: params[k] for k in keys}


def grid(
    axes: Mapping[str, Iterable[Any]],
    fixed: Mapping[str, Any] | None = None,
    *,
    derive: Callable[[dict[str, Any]], Mapping[str, Any]] | None = None,
    where: Callable[[dict[str, Any]], bool] | None = None,
) -> list[Point]:
    """One point per combination of the ``axes`` values (first axis slowest), each carrying
    ``fixed`` and what ``derive(point)`` adds (e.g. N = c_N·D); points failing ``where`` are dropped.

    Values are stored as given: cast them (int/float) before, since a point's seed hashes them.
    """
    names = list(axes)
    out = []
    for values in itertools.product(*(list(axes[n]) for n in names)):
        pt: dict[str, Any] = dict(zip(names, values))
        if derive is not None:
            pt.update(derive(pt))
        pt.update(fixed or {})
        if where is None or where(pt):
            out.append(pt)
    return out


def zipped(params: Mapping[str, Any], keys: Sequence[str], exp_id: str) -> list[tuple]:
    """The lists ``params[k]`` for k in ``keys`` zipped into tuples (e.g. the cases of a sweep);
    InputError naming the lengths unless all have one length."""
    lengths = {k: len(params[k]) for k in keys}
    if len(set(lengths.values())) != 1:
        raise InputError(f"{exp_id}: {', '.join(keys)} are zipped: give them one length, got {lengths}")
    return list(zip(*(params[k] for k in keys)))
