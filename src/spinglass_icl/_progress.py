"""The one progress bar of the project: tqdm for long loops, silent unless asked for."""

from __future__ import annotations

from typing import Any


def progress(total: int, show: bool, desc: str, *, unit: str = "it", leave: bool = False) -> Any:
    """A tqdm bar with an ETA over ``total`` steps labelled ``desc`` (a context manager with ``update()``);
    with ``show=False`` a disabled one (no output, near-zero cost), so loops need no branch.  Inner loops
    (epochs) are not left on screen when closed, so nested loops keep one line each; a run's bar over its
    points is (``leave=True``)."""
    from tqdm.auto import tqdm  # deferred: tqdm.auto probes for a notebook front end on import

    return tqdm(total=total, disable=not show, desc=desc, unit=unit, leave=leave, dynamic_ncols=True)
