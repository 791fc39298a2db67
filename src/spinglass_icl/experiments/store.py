"""Results store: one SQLite row per computed point, written the moment the point finishes.

Rows are keyed by a hash of the point's full configuration (experiment, parameters, seed), so a
run that is killed at any moment -- SIGKILL included: SQLite commits are atomic -- and started
again skips every finished point and never duplicates one.  Array-valued results go to
``arrays/<key>.npz`` beside the database, written (via a temporary file, fsync and an atomic rename)
before the row that references them is committed.

Damage heals itself (README, "Bad input and damaged results"): a store that SQLite cannot read is
set aside as ``store.sqlite.corrupt-<timestamp>`` (never deleted) and a fresh one is started, so the
run recomputes its points; a finished point whose arrays file is missing or unreadable counts as not
done (:meth:`Store.damaged`), so the run recomputes it.  Both are reported, never silent.
"""

from __future__ import annotations

import json
import math
import os
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    experiment TEXT NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    seconds REAL,
    scalars TEXT,
    arrays TEXT,
    error TEXT,
    finished_at REAL NOT NULL
)
"""


def _jsonable(x: Any) -> Any:
    """Scalars as plain JSON (non-finite floats as strings, which JSON cannot hold)."""
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


def _unjson(x: Any) -> Any:
    if isinstance(x, str) and x in ("nan", "inf", "-inf"):
        return float(x)
    return x


def split_results(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Separate scalar results (CSV columns) from array results (.npz)."""
    scalars, arrays = {}, {}
    for k, v in result.items():
        if isinstance(v, np.ndarray) and v.ndim > 0:
            arrays[k] = v
        elif isinstance(v, (list, tuple)):
            arrays[k] = np.asarray(v)
        elif isinstance(v, np.ndarray):
            scalars[k] = _jsonable(v.item())
        else:
            scalars[k] = _jsonable(v)
    return scalars, arrays


class Store:
    """The store of one experiment's output folder.

    ``recovered``: a one-line note when the database was unreadable and was set aside (else None).
    """

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        (self.folder / "arrays").mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "store.sqlite"
        self.recovered: str | None = None
        for stale in (self.folder / "arrays").glob(".*.tmp.npz"):  # left by a run killed mid-write
            stale.unlink(missing_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            self.recovered = self._set_aside(exc)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute(SCHEMA)
            db.commit()
            # a truncated or overwritten file may still open; quick_check reads every page once
            verdict = db.execute("PRAGMA quick_check").fetchone()
            if not verdict or verdict[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {verdict[0] if verdict else 'no answer'}")
            db.execute("SELECT COUNT(*) FROM points").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _set_aside(self, exc: Exception) -> str:
        """Rename the unreadable database (and its journal) with a timestamp; never delete it."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        os.replace(self.path, target)
        for suffix in ("-journal", "-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        return (
            f"{self.path} could not be read ({exc}); it was set aside as {target.name} and a new store "
            f"was started, so its points are recomputed"
        )

    def close(self) -> None:
        self.db.close()

    def status(self, key: str) -> str | None:
        row = self.db.execute("SELECT status FROM points WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def done_keys(self) -> set[str]:
        return {k for (k,) in self.db.execute("SELECT key FROM points WHERE status = 'done'")}

    def put(
        self,
        key: str,
        experiment: str,
        config: dict,
        seed: int,
        *,
        seconds: float,
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Record a finished (``result``) or failed (``error``) point; arrays first, then the row."""
        scalars, arrays = split_results(result or {})
        rel = None
        if arrays:
            rel = f"arrays/{key}.npz"
            tmp = self.folder / f"arrays/.{key}.tmp.npz"
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub misreads **kw
                fh.flush()
                os.fsync(fh.fileno())  # on disk before the rename makes it visible
            os.replace(tmp, self.folder / rel)
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    experiment,
                    json.dumps(config, sort_keys=True),
                    seed,
                    "failed" if error else "done",
                    seconds,
                    json.dumps(scalars),
                    rel,
                    error,
                    time.time(),
                ),
            )

    def rows(self, keys: list[str] | None = None) -> list[dict[str, Any]]:
        """Rows as dicts (config and scalars decoded), in the order of ``keys`` when given."""
        cur = self.db.execute(
            "SELECT key, config, seed, status, seconds, scalars, arrays, error, finished_at FROM points"
        )
        rows = {}
        for key, config, seed, status, seconds, scalars, arrays, error, finished in cur:
            rows[key] = {
                "key": key,
                "config": json.loads(config),
                "seed": seed,
                "status": status,
                "seconds": seconds,
                "scalars": {k: _unjson(v) for k, v in json.loads(scalars or "{}").items()},
                "arrays": arrays,
                "error": error,
                "finished_at": finished,
            }
        if keys is None:
            return list(rows.values())
        return [rows[k] for k in keys if k in rows]

    def load_arrays(self, row: dict[str, Any]) -> dict[str, np.ndarray]:
        """The array results of ``row`` (OSError / ValueError / zipfile.BadZipFile if damaged)."""
        if not row["arrays"]:
            return {}
        with np.load(self.folder / row["arrays"]) as z:
            return {k: z[k] for k in z.files}

    def arrays_ok(self, row: dict[str, Any]) -> bool:
        """Whether the arrays file of ``row`` exists and is a readable zip (its directory and CRCs)."""
        if not row["arrays"]:
            return True
        try:
            with zipfile.ZipFile(self.folder / row["arrays"]) as z:
                return z.testzip() is None and bool(z.namelist())
        except (OSError, zipfile.BadZipFile, ValueError, EOFError):
            return False

    def damaged(self, keys: list[str] | None = None) -> list[str]:
        """Keys of finished points (among ``keys``) whose arrays file is missing or unreadable."""
        return [r["key"] for r in self.rows(keys) if r["status"] == "done" and not self.arrays_ok(r)]
