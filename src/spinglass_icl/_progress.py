"""The one progress bar of the project: tqdm for long loops, silent unless asked for."""

from __future__ import annotations

from typing import Any


def progress(total: int, show: bool, desc: str) -> Any:
    """A tqdm bar over ``total`` steps labelled ``desc`` (a context manager with ``update()``); with
    ``show=False`` a disabled one (no output, near-zero cost), so loops need no branch.  Not left on
    screen when closed: nested loops (points, then epochs) keep one line each."""
    from tqdm.auto import tqdm  # deferred: tqdm.auto probes for a notebook front end on import

    return tqdm(total=total, disable=not show, desc=desc, leave=False)
