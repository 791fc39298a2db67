"""Results store: one SQLite row per computed point, written the moment the point finishes.

Rows are keyed by a hash of the point's full configuration (experiment, parameters, seed), so a
run that is killed at any moment -- SIGKILL included: SQLite commits are atomic -- and started
again skips every finished point and never duplicates one.  Array-valued results go to
``arrays/<key>.npz`` beside the database, written atomically (``_io.atomic_file``) before the row
that references them is committed; the same transaction records the file's SHA-256 and the point
it belongs to (table ``files``).

Nothing damaged is trusted (README, "Reliability"): :meth:`Store.verify` checks every finished
point's file against its recorded hash, so a missing, damaged or swapped file makes its point count
as not done and the run recomputes it (and says which files it replaced).  A database that SQLite
cannot read is, for a run (``repair=True``), set aside as ``store.sqlite.corrupt-<timestamp>``
(never deleted) and a fresh one started; for a reader (``repair=False``: ``plot``, ``records``) it
is a :class:`StoreDamaged` error that leaves the file where it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._io import atomic_file, jsonable, unjson_number
from .._limits import is_disk_full

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
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    sha256 TEXT NOT NULL
);
"""


class StoreDamaged(Exception):
    """The SQLite file of a store cannot be read (``path``: the file; ``reason``: SQLite's words)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path} cannot be read ({reason})")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class BadFile:
    """A finished point's arrays file that cannot be trusted: ``why`` is missing, damaged or changed
    (its SHA-256 is not the one recorded: overwritten, or swapped with another point's file)."""

    key: str
    path: str
    why: str


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def split_results(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Separate scalar results (CSV columns) from array results (.npz)."""
    scalars, arrays = {}, {}
    for k, v in result.items():
        if isinstance(v, np.ndarray) and v.ndim > 0:
            arrays[k] = v
        elif isinstance(v, (list, tuple)):
            arrays[k] = np.asarray(v)
        elif isinstance(v, np.ndarray):
            scalars[k] = jsonable(v.item(), nonfinite="text")
        else:
            scalars[k] = jsonable(v, nonfinite="text")
    return scalars, arrays


def _zip_ok(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return z.testzip() is None and bool(z.namelist())
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return False


class Store:
    """The store of one experiment's output folder.

    repair: a run's store (True) sets an unreadable database aside and starts afresh (``recovered``
    then holds a one-line note); a reader's (False) raises :class:`StoreDamaged` and changes nothing.
    """

    def __init__(self, folder: str | os.PathLike, *, repair: bool = True) -> None:
        self.folder = Path(folder)
        self.path = self.folder / "store.sqlite"
        self.recovered: str | None = None
        if repair:
            (self.folder / "arrays").mkdir(parents=True, exist_ok=True)
            for pattern in (".*.tmp", ".*.tmp.npz"):  # left by a run killed mid-write (new, old names)
                for stale in (self.folder / "arrays").glob(pattern):
                    stale.unlink(missing_ok=True)
        try:
            self.db = self._open()
        except sqlite3.DatabaseError as exc:
            if is_disk_full(exc):  # a full disk is no damage: never set a healthy store aside for it
                raise
            if not repair:
                raise StoreDamaged(self.path, str(exc)) from None
            self.recovered = self._set_aside(exc)
            self.db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            # a truncated or overwritten file may still open; quick_check reads every page once
            verdict = db.execute("PRAGMA quick_check").fetchone()
            if not verdict or verdict[0] != "ok":
                raise sqlite3.DatabaseError(f"integrity check failed: {verdict[0] if verdict else 'no answer'}")
            db.executescript(SCHEMA)
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
        """Record a finished (``result``) or failed (``error``) point; arrays first, then the row and
        the file's hash in one transaction."""
        scalars, arrays = split_results(result or {})
        rel = f"arrays/{key}.npz" if arrays else None
        digest = None
        if rel is not None:
            with atomic_file(self.folder / rel, "wb") as fh:
                np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub misreads **kw
            digest = sha256_file(self.folder / rel)
        row = (key, experiment, json.dumps(config, sort_keys=True), seed, "failed" if error else "done")
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*row, seconds, json.dumps(scalars), rel, error, time.time()),
            )
            if rel is not None:
                self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (rel, key, digest))

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
                "scalars": {k: unjson_number(v) for k, v in json.loads(scalars or "{}").items()},
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

    def _hashes(self) -> dict[str, tuple[str, str]]:
        return {p: (k, h) for p, k, h in self.db.execute("SELECT path, key, sha256 FROM files")}

    def check_file(self, row: dict[str, Any], recorded: tuple[str, str] | None) -> str | None:
        """Why the arrays file of a finished ``row`` cannot be trusted (None if it can)."""
        rel = row["arrays"]
        path = self.folder / rel
        if not path.is_file():
            return "missing"
        if recorded is None:  # written before hashes were recorded: trust a readable zip, record it
            if not _zip_ok(path):
                return "damaged"
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO files VALUES (?, ?, ?)", (rel, row["key"], sha256_file(path)))
            return None
        key, digest = recorded
        if key != row["key"]:
            return "recorded for another point"
        return None if sha256_file(path) == digest else "changed: damaged, overwritten or swapped"

    def verify(self, keys: list[str] | None = None) -> list[BadFile]:
        """The finished points (among ``keys``) whose arrays file is missing, damaged or swapped."""
        recorded = self._hashes()
        bad = []
        for r in self.rows(keys):
            if r["status"] == "done" and r["arrays"]:
                why = self.check_file(r, recorded.get(r["arrays"]))
                if why is not None:
                    bad.append(BadFile(r["key"], r["arrays"], why))
        return bad

    def damaged(self, keys: list[str] | None = None) -> list[str]:
        """Keys of finished points (among ``keys``) whose arrays file cannot be trusted."""
        return [b.key for b in self.verify(keys)]

    def arrays_ok(self, row: dict[str, Any]) -> bool:
        """Whether the arrays file of ``row`` exists and matches its recorded hash."""
        return not row["arrays"] or self.check_file(row, self._hashes().get(row["arrays"])) is None
