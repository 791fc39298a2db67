"""Limits of the job a computation runs in, not of the machine: memory, disk, time and signals.

* :func:`memory_limit`: the bytes this process (or each of a run's workers) may still allocate -- the
  smallest of the available RAM (MemAvailable), the headroom under its address-space limit (RLIMIT_AS,
  ``ulimit -v``, ``prlimit --as``; each process's own) and under its cgroup's memory limit (v2
  ``memory.max``, v1 ``memory.limit_in_bytes``, the tightest of the cgroup and its ancestors), with which
  it is.
* :class:`Stopped`: what SIGTERM, SIGHUP (and a run's time limit) raise in the main process, a
  :class:`KeyboardInterrupt`, so every ``finally`` (the store closed, the folder's lock released)
  runs as for Ctrl-C; :func:`stop_on_signals` installs the handlers.
* :class:`Incomplete`: a run that ended before all its points were computed for a reason that the
  same command, run again, overcomes (disk full, workers lost, time limit): exit status
  :data:`EXIT_INCOMPLETE`.

Nothing here imports numpy: the CLI imports it before anything heavy.
"""

from __future__ import annotations

import errno
import os
import resource
import shutil
import signal
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

EXIT_INCOMPLETE = 75  # sysexits.h EX_TEMPFAIL: "a temporary failure; the user is invited to retry"
UNLIMITED = 1 << 62  # a limit at or above this is no limit (cgroup v1 writes 2^63 - 4096)


# -- memory -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryLimit:
    """Bytes a new allocation of this process may take, and which limit says so (for a message)."""

    bytes: int
    source: str


def _meminfo(proc: Path) -> int | None:
    try:
        for line in (proc / "meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - neither Linux nor POSIX
        return None


def _vm_size(proc: Path) -> int:
    """The process's present virtual size (VmSize): what RLIMIT_AS counts."""
    try:
        for line in (proc / "self" / "status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _address_space(proc: Path) -> int | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft >= UNLIMITED:
        return None
    return max(0, soft - _vm_size(proc))


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        value = int(text)
    except ValueError:
        return None
    return None if value >= UNLIMITED else value


def _stat(path: Path, *names: str) -> int:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name in names:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _ancestors(base: Path, rel: str) -> Iterator[Path]:
    """The cgroup folder of ``rel`` under ``base`` and each of its parents up to ``base``."""
    parts = [p for p in rel.strip().split("/") if p]
    for n in range(len(parts), -1, -1):
        yield base.joinpath(*parts[:n])


def _cgroup(root: Path, proc: Path) -> tuple[int, str] | None:
    """(headroom, which file) under the tightest cgroup memory limit of this process, if any.  The
    headroom is the limit less the usage, the reclaimable page cache (inactive files) counted free."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        _, controllers, rel = line.split(":", 2) if line.count(":") >= 2 else ("", "", "")
        if controllers == "":  # v2: one unified hierarchy
            files = [(root, "memory.max", "memory.current", ("inactive_file",))]
        elif "memory" in controllers.split(","):  # v1: the memory controller's own hierarchy
            files = [(root / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes", ("total_inactive_file",))]
        else:
            continue
        for base, limit_name, usage_name, cache in files:
            for folder in _ancestors(base, rel):
                limit = _read_int(folder / limit_name)
                if limit is None:
                    continue
                usage = _read_int(folder / usage_name) or 0
                room = max(0, limit - usage + _stat(folder / "memory.stat", *cache))
                if best is None or room < best[0]:
                    best = (room, f"{folder / limit_name} = {limit / 2**30:.3g} GiB")
    return best


def memory_limit(
    root: str | os.PathLike = "/sys/fs/cgroup", proc: str | os.PathLike = "/proc", *, processes: int = 1
) -> MemoryLimit:
    """The bytes each of ``processes`` processes like this one (a run's workers) may still allocate: the
    smallest of the available RAM and the room under the cgroup's memory limit, both shared by the
    processes, and the room under the address-space limit, which each process has for itself (a child
    inherits RLIMIT_AS), with which one it is."""
    root, proc, n = Path(root), Path(proc), max(1, int(processes))
    ram = _meminfo(proc)
    shared = f", shared by {n} processes" if n > 1 else ""
    candidates = [MemoryLimit(ram // n if ram is not None else UNLIMITED, f"available RAM{shared}")]
    room = _address_space(proc)
    if room is not None:
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        candidates.append(MemoryLimit(room, f"the address-space limit RLIMIT_AS = {soft / 2**30:.3g} GiB"))
    group = _cgroup(root, proc)
    if group is not None:
        candidates.append(MemoryLimit(group[0] // n, f"the cgroup limit {group[1]}{shared}"))
    return min(candidates, key=lambda c: c.bytes)


# -- signals and time -------------------------------------------------------------------------------


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP (``signum``), or a run's time limit (``signum`` SIGALRM), in the main process."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    for s in STOP_SIGNALS:  # a second SIGTERM must not interrupt the cleanup the first one starts
        signal.signal(s, signal.SIG_IGN)
    raise Stopped(signum)


STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def stop_on_signals(signals: Iterable[int] = STOP_SIGNALS) -> None:
    """Make ``signals`` raise :class:`Stopped` in the main thread (as SIGINT raises KeyboardInterrupt);
    nothing in another thread, where Python cannot set handlers.  A signal the process was started
    ignoring stays ignored (``nohup`` ignores SIGHUP: such a run outlives its terminal, as it should)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for s in signals:
        if signal.getsignal(s) != signal.SIG_IGN:
            signal.signal(s, _raise_stopped)


# -- disk -------------------------------------------------------------------------------------------


class Incomplete(Exception):
    """A run ended before all its points were computed; the same command, run again, goes on (one line)."""

    exit_code = EXIT_INCOMPLETE


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that failed for lack of space (or quota), from the OS or SQLite."""
    if isinstance(exc, OSError):
        return exc.errno in NO_SPACE
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        return code == sqlite3.SQLITE_FULL or "disk is full" in str(exc)
    return False


def free_bytes(folder: str | os.PathLike) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def disk_full(folder: str | os.PathLike, needed: float) -> Incomplete:
    """The one-line error of a write that found no space in ``folder`` (``needed``: bytes to free, estimated)."""
    free = free_bytes(folder)
    there = f" ({free / 2**20:.3g} MiB free there)" if free is not None else ""
    return Incomplete(
        f"no space left on the device of {folder}{there}; about {max(needed, 2**20) / 2**20:.3g} MiB more "
        f"are needed to finish -- free some space (or use another --out) and run the same command again: "
        f"finished points are kept"
    )
