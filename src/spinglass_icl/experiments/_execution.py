"""Execution of a run's points: workers, threads per process, dask.

Points go through a ``concurrent.futures`` executor: inline for one worker, a local process pool
for several, or a dask.distributed cluster (``scheduler=ADDRESS``; optional extra
``spinglass-icl[dask]``).  Workers only compute and return; the main process alone writes the store.

Threads: every process gets ``cores // workers`` torch/BLAS threads (at least one), where ``cores``
are those the process may run on (``os.sched_getaffinity``) less those other programs keep busy
(the load average at the start), so workers × threads never exceeds the cores the run gets: a
thread that waits for a core spins and steals time from the others (BENCHMARKS.md,
"Contention").  The caller's ``os.environ`` is never changed: limits are set in the worker
processes themselves and, inline, around each point (``torch.set_num_threads`` and threadpoolctl).
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import multiprocessing as mp
import os
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import validation as V
from . import registry

Outcome = tuple[str, float, Any]  # ("done", seconds, result) or ("failed", seconds, message)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity; the CPU count where that is unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def idle_cores(cores: int) -> int:
    """Of ``cores``, those not kept busy by other programs (1-minute load average), at least 1."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average
        return cores
    return max(1, min(cores, int(cores - load + 0.5)))


@dataclass(frozen=True)
class Plan:
    """How a run executes: worker processes, torch/BLAS threads per process, and what was capped."""

    workers: int
    threads: int
    notes: tuple[str, ...] = ()


def plan(workers: int, threads: int | None = None) -> Plan:
    """Workers capped at the usable cores (with a note saying so) and threads per process so that
    workers × threads ≤ the cores the run gets; ``threads`` (an experiment's own choice) wins."""
    cores = usable_cores()
    notes = []
    if workers > cores:
        notes.append(
            f"{V.option('workers', str(workers))} is more than the {cores} cores this process may use; using {cores}"
        )
        workers = cores
    free = idle_cores(cores)
    per = threads if threads is not None else max(1, free // workers)
    return Plan(workers, per, tuple(notes))


@contextlib.contextmanager
def thread_limits(n: int) -> Iterator[None]:
    """torch intra-op and BLAS/OpenMP threads limited to ``n`` inside the block, restored after."""
    from ._threads import torch_threads

    with contextlib.ExitStack() as stack:
        stack.enter_context(torch_threads(n))
        limits = _threadpool_limits()
        if limits is not None:
            stack.enter_context(limits(limits=n))
        yield


def _threadpool_limits() -> Any:
    """threadpoolctl's ``threadpool_limits`` (None if not installed), imported without the change
    its import makes to ``os.environ`` (KMP_DUPLICATE_LIB_OK): the caller's environment stays as it was."""
    saved = dict(os.environ)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional: torch's own limit still holds
        return None
    finally:
        if dict(os.environ) != saved:
            os.environ.clear()
            os.environ.update(saved)
    return threadpool_limits


def compute_point(
    experiment_id: str, point: dict, seed: int, device: str, plugins: tuple[str, ...], threads: int | None
) -> Outcome:
    """Worker side: compute one point -> ("done", seconds, result) or ("failed", seconds, message).
    threads: per-process limit (None on dask: the worker's own torch default)."""
    import torch

    registry.load_plugins(plugins)  # a fresh worker process knows only the catalog
    exp = registry.get(experiment_id)
    n = exp.threads or threads or torch.get_num_threads()
    t0 = time.perf_counter()
    try:
        with thread_limits(n):
            result = exp.compute(point, seed, device)
        return "done", time.perf_counter() - t0, result
    except Exception as exc:  # a failed point is stored with its message, never dropped
        where = traceback.extract_tb(exc.__traceback__)[-1]
        msg = f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        return "failed", time.perf_counter() - t0, msg.replace("\n", " ")


def _worker_init(threads: int, parent: int) -> None:
    """Runs first in each spawned worker process (its own environment, not the caller's): fixes the
    OpenMP/BLAS pools before torch or numpy start them, makes idle OpenMP threads sleep, and ties the
    worker's life to the main process ``parent`` (:func:`die_with_parent`)."""
    os.environ.update(dict.fromkeys(_THREAD_VARS, str(threads)))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    die_with_parent(parent)


PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 1.0  # how often a worker checks that its main process is alive


def die_with_parent(parent: int) -> None:
    """No orphans: end this worker when the main process ``parent`` dies, even by SIGKILL.  On Linux
    the kernel sends SIGKILL the moment the parent goes (``prctl(PR_SET_PDEATHSIG)``); everywhere a
    daemon thread checks the parent pid every :data:`WATCH_SECONDS` and exits when it changed."""
    with contextlib.suppress(OSError, AttributeError, TypeError):
        import ctypes
        import ctypes.util
        import signal

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request above: nobody to work for
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="spinglass-icl-parent-watch", daemon=True).start()


class Inline(cf.Executor):
    """Runs each task at submit time; the futures it returns are already done."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> cf.Future:
        fut: cf.Future = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # pragma: no cover - compute_point catches everything
            fut.set_exception(exc)
        return fut


_SCHEDULER_TIMEOUT = 4.0  # seconds: a scheduler that does not answer fails fast (dask's default is 30 s)


def _probe_scheduler(address: str, timeout: float) -> None:
    """Ask ``address`` for its identity with a hard deadline.  ``Client(timeout=...)`` alone bounds only
    the TCP connection: a service that accepts it but never speaks dask's protocol (an HTTP server)
    would hang forever, and one that answers with other bytes makes dask allocate absurd buffers."""
    from distributed.core import rpc

    async def identity() -> None:
        async with rpc(address, timeout=timeout) as r:
            await r.identity()

    # on a thread of its own: asyncio.run refuses to start inside a running event loop (Jupyter, IPython)
    with cf.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, asyncio.wait_for(identity(), timeout)).result()


def check_scheduler(scheduler: str) -> str:
    """The checked address of a dask scheduler that answers (within a few seconds), or InputError."""
    address = V.scheduler_address(scheduler)  # a malformed address is refused before any connection
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise V.InputError("--scheduler needs dask.distributed: pip install 'spinglass-icl[dask]'") from None
    try:
        _probe_scheduler(address, _SCHEDULER_TIMEOUT)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _no_scheduler(address, exc) from None
    return address


def _no_scheduler(address: str, exc: BaseException) -> V.InputError:
    if isinstance(exc, (OSError, asyncio.TimeoutError, TimeoutError)):
        reason = str(exc).splitlines()[0] if str(exc) else f"no answer within {_SCHEDULER_TIMEOUT:g} s"
    else:  # e.g. a MemoryError ("3.07 EiB") when something that is not dask answers with other bytes
        reason = f"the service there does not speak dask's protocol: {type(exc).__name__}"
    return V.InputError(
        f"no dask scheduler answered at {address} ({reason}); start one with `dask scheduler` "
        f"(and workers) and pass the address it prints to --scheduler"
    )


NO_WORKERS_SECONDS = 60.0  # a dask cluster without a single worker this long: its points are given up
RETRIES = 2  # a point whose worker died is computed again this many times before it is given up


class Workers:
    """The executor of a run, as the run loop needs it: how many points it takes at once, what a
    lost worker looks like, a rebuilt pool after one died, and an end that stops what still runs.

    Inline for one worker, a local process pool (spawned: see :meth:`_pool`) for several, or a
    dask.distributed cluster (``scheduler``)."""

    def __init__(self, pl: Plan, scheduler: str | None) -> None:
        self.plan = pl
        self.client: Any = None
        self._seen = time.monotonic()  # when a dask worker was last seen
        self.pool: cf.Executor
        if scheduler:
            self.client = _client(scheduler)
            self.pool = self.client.get_executor(pure=False)  # a retried point is a new task
        elif pl.workers == 1:
            self.pool = Inline()
        else:
            self.pool = self._pool()

    def _pool(self) -> cf.ProcessPoolExecutor:
        # spawn, not fork: a forked child inherits torch/OpenMP thread pools (deadlock-prone) and BLAS
        # thread counts fixed before our per-worker limits were set.  Spawned workers re-import the main
        # module, so a script that calls run(..., workers>1) needs an ``if __name__ == "__main__":`` guard.
        return cf.ProcessPoolExecutor(
            max_workers=self.plan.workers,
            mp_context=mp.get_context("spawn"),
            initializer=_worker_init,
            initargs=(self.plan.threads, os.getpid()),
        )

    def _threads(self) -> int:
        """Threads of the dask cluster's workers now (0 if none, or the scheduler does not answer)."""
        try:
            return int(sum(self.client.nthreads().values()))
        except Exception:  # the scheduler is gone or busy: counted as no worker, and alive() decides
            return 0

    def slots(self) -> int:
        """Points in flight at once: one per worker process, or per thread of the dask cluster."""
        if self.client is not None:
            return max(1, self._threads())
        return self.plan.workers

    def alive(self) -> bool:
        """False once a dask cluster has had no worker (or no scheduler) for :data:`NO_WORKERS_SECONDS`."""
        if self.client is None:
            return True
        now = time.monotonic()
        if self._threads():
            self._seen = now
        return now - self._seen < NO_WORKERS_SECONDS

    def lost(self, exc: BaseException) -> bool:
        """Whether ``exc`` (raised by a point's future) means its worker died, not the point."""
        if isinstance(exc, BrokenProcessPool):
            if isinstance(self.pool, cf.ProcessPoolExecutor) and getattr(self.pool, "_broken", False):
                self.pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._pool()  # a broken pool takes no more points: a fresh one
            return True
        return self.client is not None and not isinstance(exc, cf.CancelledError)

    def close(self, abort: bool = False) -> None:
        """Wait for the workers to end (``abort``: stop the points still running, at once)."""
        if self.client is not None:
            self.client.close()
            return
        if isinstance(self.pool, cf.ProcessPoolExecutor):
            if abort:
                for proc in list(getattr(self.pool, "_processes", {}).values()):
                    with contextlib.suppress(OSError, ValueError, AttributeError):
                        proc.kill()
            self.pool.shutdown(wait=True, cancel_futures=True)


def _client(scheduler: str) -> Any:
    address = check_scheduler(scheduler)
    from distributed import Client

    try:
        return Client(address, timeout=f"{_SCHEDULER_TIMEOUT}s")
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _no_scheduler(address, exc) from None


Task = tuple[str, dict, int, str, tuple[str, ...], "int | None"]  # experiment, point, seed, device, plugins, threads
SMALL_POINT_SECONDS = 2.0  # estimated CPU seconds below which a point runs on one thread


def point_threads(estimated_seconds: float, pl: Plan) -> int:
    """Threads for one point: the plan's share where the point is large enough to use them, else one
    (a small point's intra-op threads mostly wait, and on a busy machine they spin)."""
    return pl.threads if estimated_seconds >= SMALL_POINT_SECONDS else 1


def outcomes(
    workers: Workers, tasks: list[Task], admit: Callable[[int], bool] = lambda i: True
) -> Iterator[tuple[int, Outcome]]:
    """(index into ``tasks``, outcome) as points finish: one at a time inline (so progress and
    durability are live), else in order of completion, with at most :meth:`Workers.slots` in
    flight.  ``admit(i)`` False: task ``i`` and those after it are not started (a time limit).
    A point whose worker died is computed again (:data:`RETRIES`); after that it is
    ``("lost", 0, why)``, as is every point of a dask cluster left without workers."""
    if isinstance(workers.pool, Inline):
        for i, task in enumerate(tasks):
            if not admit(i):
                return
            yield i, compute_point(*task)
        return
    yield from _pooled(workers, tasks, admit)


def _fill(workers: Workers, tasks: list[Task], queue: deque, running: dict, tries: list[int], admit: Any) -> None:
    """Submit queued points while there are free slots and the next one is admitted."""
    while queue and len(running) < workers.slots() and admit(queue[0]):
        if running and (tries[queue[0]] or any(tries[j] for j in running.values())):
            break  # a point whose worker died runs alone: a death then tells which point it was
        try:
            fut = workers.pool.submit(compute_point, *tasks[queue[0]])
        except BrokenProcessPool as exc:  # a worker died since the last look: a fresh pool, then go on
            workers.lost(exc)
            continue
        running[fut] = queue.popleft()


def _pooled(workers: Workers, tasks: list[Task], admit: Callable[[int], bool]) -> Iterator[tuple[int, Outcome]]:
    queue, running, tries = deque(range(len(tasks))), dict[cf.Future, int](), [0] * len(tasks)
    while queue or running:
        _fill(workers, tasks, queue, running, tries, admit)
        if not running:
            return  # the rest were not admitted
        finished, _ = cf.wait(list(running), timeout=1.0, return_when=cf.FIRST_COMPLETED)
        for fut in finished:
            i = running.pop(fut)
            exc = fut.exception()
            if exc is None:
                yield i, fut.result()
                continue
            if not workers.lost(exc):
                raise exc
            tries[i] += 1
            if tries[i] <= RETRIES:
                queue.appendleft(i)
            else:
                yield i, ("lost", 0.0, f"the worker computing them died {tries[i]} times: {type(exc).__name__}")
        if not workers.alive():
            for i in [*running.values(), *queue]:
                yield i, ("lost", 0.0, f"no dask worker (or scheduler) answered for {NO_WORKERS_SECONDS:g} s")
            return
