"""One writer per results folder: a lock held for the whole run.

The lock is an OS file lock (``filelock``: ``flock`` on Linux) on ``FOLDER/.run.lock``: the kernel
drops it the moment its process ends, SIGKILL included, so a lock left by a killed run is never
"held" and the next run takes it over at once -- safely, because taking it is one atomic system
call.  Beside it, ``FOLDER/.run.owner.json`` names the run holding it (pid, start time, host) for
the refusal message; a leftover owner file is how a killed run is recognised and reported.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout

from .._io import write_atomic
from ..validation import InputError, option

LOCK_NAME = ".run.lock"
OWNER_NAME = ".run.owner.json"


def _describe(owner: dict) -> str:
    started = owner.get("started")
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if isinstance(started, (int, float)) else "?"
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}, started {when}"


class FolderLock:
    """Context manager: hold the run lock of ``folder`` or raise a one-line :class:`~spinglass_icl.InputError`.

    wait: block until the other run ends (``--wait``) instead of refusing at once.
    ``took_over``: a note when the lock of a run that ended without releasing it (killed) was taken.
    """

    def __init__(self, folder: str | os.PathLike, *, wait: bool = False) -> None:
        self.folder = Path(folder)
        self.wait = wait
        self.took_over: str | None = None
        self._lock = FileLock(self.folder / LOCK_NAME, timeout=-1 if wait else 0)

    def owner(self) -> dict:
        """The owner record of the folder's lock ({} if none or unreadable)."""
        try:
            data = json.loads((self.folder / OWNER_NAME).read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def __enter__(self) -> FolderLock:
        try:
            self._lock.acquire()
        except Timeout:
            raise InputError(
                f"{self.folder} is being written by another run ({_describe(self.owner())}); wait for it "
                f"to finish, pass {option('wait')} to start when it does, or choose another {option('out')}"
            ) from None
        stale = self.owner()
        if stale:  # we hold the OS lock, so the run that wrote this ended without releasing it
            self.took_over = f"took over the lock of an earlier run that did not finish ({_describe(stale)})"
        me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
        write_atomic(self.folder / OWNER_NAME, json.dumps(me))
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            (self.folder / OWNER_NAME).unlink(missing_ok=True)
        finally:
            self._lock.release()
