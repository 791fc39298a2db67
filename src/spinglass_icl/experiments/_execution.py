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
import time
import traceback
from collections.abc import Callable, Iterator
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


def _worker_init(threads: int) -> None:
    """Runs first in each spawned worker process (its own environment, not the caller's): fixes the
    OpenMP/BLAS pools before torch or numpy start them, and makes idle OpenMP threads sleep."""
    os.environ.update(dict.fromkeys(_THREAD_VARS, str(threads)))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


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


def executor(pl: Plan, scheduler: str | None) -> tuple[cf.Executor, Callable[[], None]]:
    """(executor, close) for a plan: dask if ``scheduler``, inline for one worker, else processes."""
    if scheduler:
        address = check_scheduler(scheduler)
        from distributed import Client

        try:
            client = Client(address, timeout=f"{_SCHEDULER_TIMEOUT}s")
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise _no_scheduler(address, exc) from None
        return client.get_executor(), client.close
    if pl.workers == 1:
        return Inline(), lambda: None
    # spawn, not fork: a forked child inherits torch/OpenMP thread pools (deadlock-prone) and BLAS
    # thread counts fixed before our per-worker limits were set.  Spawned workers re-import the main
    # module, so a script that calls run(..., workers>1) needs an ``if __name__ == "__main__":`` guard.
    pool = cf.ProcessPoolExecutor(
        max_workers=pl.workers, mp_context=mp.get_context("spawn"), initializer=_worker_init, initargs=(pl.threads,)
    )
    return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)


Task = tuple[str, dict, int, str, tuple[str, ...], "int | None"]  # experiment, point, seed, device, plugins, threads
SMALL_POINT_SECONDS = 2.0  # estimated CPU seconds below which a point runs on one thread


def point_threads(estimated_seconds: float, pl: Plan) -> int:
    """Threads for one point: the plan's share where the point is large enough to use them, else one
    (a small point's intra-op threads mostly wait, and on a busy machine they spin)."""
    return pl.threads if estimated_seconds >= SMALL_POINT_SECONDS else 1


def outcomes(ex: cf.Executor, tasks: list[Task]) -> Iterator[tuple[int, Outcome]]:
    """(index into ``tasks``, outcome) as points finish: one at a time inline (so progress and
    durability are live), else in order of completion.  threads None: the worker's own default (dask)."""
    if isinstance(ex, Inline):
        for i, task in enumerate(tasks):
            yield i, compute_point(*task)
        return
    futures = {ex.submit(compute_point, *task): i for i, task in enumerate(tasks)}
    for fut in cf.as_completed(futures):
        yield futures[fut], fut.result()
