"""Persistence of a run's folder: config.json, results.csv, and the store opened and checked.

The folder of one experiment holds store.sqlite (+ arrays/, see :mod:`.store`), config.json (the
last run's parameters and point keys), results.csv and the figures.  Every file is written
atomically (``_io.write_atomic``).
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .. import validation as V
from .._io import write_atomic
from .store import BadFile, Store, StoreDamaged


def read_config(folder: Path, experiment_id: str) -> dict:
    """The folder's config.json, or an InputError naming the command that writes it."""
    path = folder / "config.json"
    if not path.exists():
        raise V.InputError(
            f"no results for {experiment_id} in {folder}; run {reproduce_command(experiment_id, folder)} first"
        )
    try:
        cfg = json.loads(path.read_text())
        kinds = {"keys": list, "params": dict, "plugins": list, "overrides": dict, "experiment": str}
        for name, kind in kinds.items():
            if (name in ("keys", "params") or name in cfg) and not isinstance(cfg[name], kind):
                raise TypeError(f"{name} is not a {kind.__name__}")
        if not all(isinstance(x, str) for x in cfg["keys"] + cfg.get("plugins", [])):
            raise TypeError("keys and plugins must be strings")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise V.InputError(
            f"{path} cannot be read ({type(exc).__name__}); run "
            f"{reproduce_command(experiment_id, folder)} with the same options to rewrite it"
        ) from None
    return cfg


def write_config(folder: Path, config: dict[str, Any]) -> None:
    write_atomic(folder / "config.json", json.dumps(config, indent=1, default=float))


def space_needed(folder: Path, n_points: int) -> float:
    """Bytes a run of ``n_points`` still needs in ``folder``, estimated from the points stored so far:
    the mean arrays file times the points without one, plus a tenth of the database and 1 MiB."""
    files = [f.stat().st_size for f in (folder / "arrays").glob("*.npz") if f.is_file()]
    per = sum(files) / len(files) if files else 64 * 2**10
    db = folder / "store.sqlite"
    size = db.stat().st_size if db.exists() else 0
    return per * max(1, n_points - len(files)) + size / 10 + 2**20


def reproduce_command(experiment_id: str, folder: Path) -> str:
    """The command that writes ``folder`` (the user's ``--out`` repeated, so that following it lands there)."""
    return f"`spinglass-icl reproduce {experiment_id} --out {folder.parent}`"


def heal_command(experiment_id: str, folder: Path) -> str:
    return f"{reproduce_command(experiment_id, folder)} with the run's options"


def refuse_read_only(folder: Path, experiment_id: str) -> None:
    """InputError if nothing can be written in ``folder`` (a read-only mount, no permission): the
    figure goes elsewhere with ``plot --to DIR``; nothing is changed."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".write-test.")
    except OSError as exc:
        if exc.errno not in (errno.EROFS, errno.EACCES, errno.EPERM):
            raise
        raise V.InputError(
            f"{folder} is read-only ({exc.strerror}); nothing was changed -- write the figure elsewhere with "
            f"`spinglass-icl plot {experiment_id} --out {folder.parent} --to DIR`"
        ) from None
    os.close(fd)
    os.unlink(tmp)


def open_for_reading(folder: Path, experiment_id: str) -> Store:
    """The folder's store for a reader (plot, records): a damaged database is an InputError that names
    the file and the command that heals it, and is left where it is."""
    try:
        return Store(folder, repair=False)
    except StoreDamaged as exc:
        raise V.InputError(
            f"the results store {exc.path} is damaged ({exc.reason}); it was left as it is -- "
            f"{heal_command(experiment_id, folder)} sets it aside and recomputes the points"
        ) from None


def describe_bad(bad: list[BadFile], limit: int = 3) -> str:
    """``arrays/x.npz (missing), ...`` for a note or an error line."""
    shown = ", ".join(f"{b.path} ({b.why})" for b in bad[:limit])
    return shown + (f" and {len(bad) - limit} more" if len(bad) > limit else "")


def bad_files_error(bad: list[BadFile], folder: Path, experiment_id: str) -> V.InputError:
    return V.InputError(
        f"{len(bad)} finished point(s) in {folder} have an arrays file that cannot be trusted: "
        f"{describe_bad(bad)}; {heal_command(experiment_id, folder)} recomputes them"
    )


def refuse_bad_files(store: Store, keys: list[str], experiment_id: str) -> None:
    """InputError if a finished point's arrays file is missing, damaged or swapped (readers only)."""
    bad = store.verify(keys)
    if bad:
        raise bad_files_error(bad, store.folder, experiment_id)


def export_csv(store: Store, keys: list[str], path: Path) -> None:
    """results.csv: one row per point -- parameters, scalar results, status, seconds, arrays file."""
    rows = store.rows(keys)
    cols: list[str] = []
    for r in rows:
        for k in list(r["config"]) + list(r["scalars"]):
            if k not in cols:
                cols.append(k)
    fixed = ["key", "seed", "status", "seconds", "arrays", "error"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(fixed + cols)
    for r in rows:
        vals = {**r["config"], **r["scalars"]}
        w.writerow(
            [r[k] for k in fixed]
            + [json.dumps(vals[c]) if isinstance(vals.get(c), (list, dict)) else vals.get(c, "") for c in cols]
        )
    write_atomic(path, buf.getvalue())
