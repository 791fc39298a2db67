"""File and JSON helpers used by every layer: one atomic write, one JSON cleaner.

Nothing here imports numpy at module level (the CLI imports this module to print ``--json``).
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` for writing; on success it is fsynced and renamed over
    ``path`` (``os.replace``), so a kill at any moment leaves the old file or the new one, never a
    torn one.  On an exception the temporary file is removed and ``path`` is untouched."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        binary = "b" in mode
        with os.fdopen(fd, mode, newline=None if binary else "", encoding=None if binary else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write ``data`` (text or bytes) to ``path`` atomically (see :func:`atomic_file`)."""
    with atomic_file(path, "wb" if isinstance(data, bytes) else "w") as fh:
        fh.write(data)


def jsonable(x: Any, *, nonfinite: str = "null") -> Any:
    """``x`` as plain JSON values: numpy arrays/scalars converted, containers recursed.

    nonfinite: how NaN and ±inf are written, which JSON cannot hold: ``"null"`` (None; strict JSON
    for people and other programs) or ``"text"`` ("nan", "inf", "-inf"; lossless, read back by
    :func:`unjson_number`).  Anything else unknown becomes its ``str``."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): jsonable(v, nonfinite=nonfinite) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v, nonfinite=nonfinite) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist(), nonfinite=nonfinite)
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer, int)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        x = float(x)
        if math.isfinite(x):
            return x
        return None if nonfinite == "null" else str(x)
    if x is None or isinstance(x, str):
        return x
    return str(x)


def strict_json(x: Any) -> Any:
    """``x`` as strict JSON values (NaN and ±inf as null): :func:`jsonable` with its default."""
    return jsonable(x)


def unjson_number(x: Any) -> Any:
    """Inverse of ``jsonable(..., nonfinite="text")`` for one value."""
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return float(x)
    return x


def one_line(text: str) -> str:
    """``text`` with every line break and control character escaped (``\\n``, ``\\x1e``): a message
    that echoes user input stays one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
