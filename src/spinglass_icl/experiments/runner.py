"""Run an experiment: expand its points, compute the missing ones, store, export, plot.

Execution goes through a ``concurrent.futures`` executor: inline for one worker, a local
process pool for several, or a dask.distributed cluster (``scheduler=ADDRESS``; optional extra
``spinglass-icl[dask]``).  Workers only compute and return; the main process alone writes the
store, so a point's result is durable the moment the main process receives it.  Each point's
seed is derived from the run seed and the point's own parameters (:meth:`.spec.Experiment.seed`),
so results do not depend on the number of workers, the executor or the order of completion.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import csv
import io
import json
import multiprocessing as mp
import os
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import __version__
from .. import resources as R
from .. import validation as V
from . import registry
from .spec import Record, point_key
from .store import Store

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass
class RunSummary:
    """What a run did: point counts, wall time, output paths and the experiment's key numbers."""

    experiment: str
    folder: str
    n_points: int
    n_computed: int
    n_cached: int
    failed: list[tuple[dict, str]]
    seconds: float
    files: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the run repaired (damaged store or arrays)


def compute_point(experiment_id: str, point: dict, seed: int, device: str) -> tuple[str, float, Any]:
    """Worker side: compute one point -> ("done", seconds, result) or ("failed", seconds, message)."""
    import torch

    from ._threads import torch_threads

    exp = registry.get(experiment_id)
    # the one place torch threads are limited: the experiment's own choice, else the worker's share
    threads = exp.threads or int(os.environ.get("SPINGLASS_ICL_WORKER_THREADS") or torch.get_num_threads())
    t0 = time.perf_counter()
    try:
        with torch_threads(threads):
            result = exp.compute(point, seed, device)
        return "done", time.perf_counter() - t0, result
    except Exception as exc:  # a failed point is stored with its message, never dropped
        where = traceback.extract_tb(exc.__traceback__)[-1]
        msg = f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        return "failed", time.perf_counter() - t0, msg.replace("\n", " ")


class _Inline(cf.Executor):
    """Runs each task at submit time; the futures it returns are already done."""

    def submit(self, fn, /, *args, **kwargs):
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
    import asyncio

    from distributed.core import rpc

    async def identity() -> None:
        async with rpc(address, timeout=timeout) as r:
            await r.identity()

    asyncio.run(asyncio.wait_for(identity(), timeout))


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


def _executor(workers: int, scheduler: str | None):
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
    if workers == 1:
        return _Inline(), lambda: None
    # spawn, not fork: a forked child inherits torch/OpenMP thread pools (deadlock-prone) and BLAS
    # thread counts fixed before our per-worker limits were set.  Spawned workers re-import the main
    # module, so a script that calls run(..., workers>1) needs an ``if __name__ == "__main__":`` guard.
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")), lambda: None


def _write_atomic(path: Path, text: str) -> None:
    """Write ``path`` via a temporary file and a rename: a kill leaves the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _read_config(folder: Path, experiment_id: str) -> dict:
    path = folder / "config.json"
    if not path.exists():
        raise V.InputError(
            f"no results for {experiment_id} in {folder}; run `spinglass-icl reproduce {experiment_id}` first"
        )
    try:
        cfg = json.loads(path.read_text())
        cfg["keys"], cfg["params"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise V.InputError(
            f"{path} cannot be read ({type(exc).__name__}); run "
            f"`spinglass-icl reproduce {experiment_id}` with the same options to rewrite it"
        ) from None
    return cfg


def check_parameters(experiment_id: str, size: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The experiment's parameters at ``size`` with ``overrides`` converted to each parameter's type
    and checked against its range (:func:`..validation.experiment_param`) and the experiment's own
    ``check``; raises a one-line :class:`InputError` before anything runs."""
    exp = registry.get(experiment_id)
    V.choice("size", size, ("quick", "full"))
    checked = {}
    for key, value in (overrides or {}).items():
        if key not in exp.quick:
            raise V.InputError(
                f"{experiment_id} has no parameter {key!r}; it has: {', '.join(sorted(exp.quick))} "
                f"(spinglass-icl params {experiment_id})"
            )
        checked[key] = V.experiment_param(key, value, exp.quick[key], exp.full[key], experiment=experiment_id)
    params = exp.params(size, checked)
    if exp.check is not None:
        exp.check(params)
    return params


def _points(experiment_id: str, params: dict[str, Any]) -> list[dict]:
    exp = registry.get(experiment_id)
    try:
        points = exp.points(params)
    except V.InputError:
        raise
    except Exception as exc:  # parameters that passed the generic checks but do not make points
        raise V.InputError(
            f"{experiment_id}: these parameters do not expand into points "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if not points:
        raise V.InputError(f"{experiment_id}: these parameters give no points; give at least one value per list")
    return points


def _memory_guard(experiment_id: str, points: list[dict], force: bool) -> None:
    """Refuse points whose spin glass cannot fit in memory (a lower estimate: the couplings on the
    D(D+1) effective spins and the features of the P prompts, see resources.spin_glass_bytes)."""
    worst, where = 0.0, None
    for p in points:
        D, P = p.get("D"), p.get("P")
        if isinstance(D, int) and isinstance(P, int):
            need = R.spin_glass_bytes(D, P, matrix="dual")
            if need > worst:
                worst, where = need, p
    if where is not None:
        R.memory(
            f"{experiment_id} at D={where['D']}, P={where['P']}", worst, force=force, hint="use smaller D or P (--set)"
        )


def _progress(total: int, show: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not show, desc=desc, unit="pt", dynamic_ncols=True)


def records(folder: str | os.PathLike, keys: list[str] | None = None) -> list[Record]:
    """Finished points stored in an experiment folder, as records (parameters + results + arrays),
    by default those of the folder's last run (its config.json).  A point whose arrays file is missing
    or unreadable is an :class:`InputError` naming the fix (rerun ``reproduce``, which recomputes it)."""
    folder = Path(folder)
    if not (folder / "store.sqlite").exists():
        raise V.InputError(f"no results in {folder}; run `spinglass-icl reproduce ID` first")
    store = Store(folder)
    try:
        cfg = _read_config(folder, folder.name) if keys is None or (folder / "config.json").exists() else {}
        exp_id = cfg.get("experiment", folder.name)
        if keys is None:
            keys = cfg["keys"]
        rows = [r for r in store.rows(keys) if r["status"] == "done"]
        bad = [r["arrays"] for r in rows if not store.arrays_ok(r)]
        if bad:
            raise V.InputError(
                f"{len(bad)} finished point(s) in {folder} have a missing or unreadable arrays file "
                f"({bad[0]}{', ...' if len(bad) > 1 else ''}); run `spinglass-icl reproduce {exp_id}` "
                f"with the same options: it recomputes them"
            )
        return [{**r["config"], **r["scalars"], **store.load_arrays(r)} for r in rows]
    finally:
        store.close()


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
    _write_atomic(path, buf.getvalue())


def plot(experiment_id: str, out: str | os.PathLike = "results", folder: str | os.PathLike | None = None) -> list[str]:
    """Draw DIR/ID/ID.png and .pdf from the stored results of the folder's last run (finished
    points only, e.g. of an interrupted run), and rewrite its results.csv from the store."""
    from ..plotting import save, style

    exp = registry.get(experiment_id)
    folder = Path(folder) if folder is not None else Path(out) / experiment_id
    cfg = _read_config(folder, experiment_id)
    recs = records(folder, cfg["keys"])
    if not recs:
        raise V.InputError(f"no finished points for {experiment_id} in {folder}")
    store = Store(folder)
    try:
        export_csv(store, cfg["keys"], folder / "results.csv")
    finally:
        store.close()
    extra = exp.export(recs, cfg["params"], folder) if exp.export is not None else []
    with style():
        fig = exp.plot(recs, cfg["params"])
        return extra + save(fig, str(folder / experiment_id))


def run(
    experiment_id: str,
    size: str = "quick",
    out: str | os.PathLike = "results",
    overrides: Mapping[str, Any] | None = None,
    workers: int = 1,
    seed: int = 0,
    device: str = "cpu",
    scheduler: str | None = None,
    progress: bool = True,
    make_plot: bool = True,
    folder: str | os.PathLike | None = None,
    force: bool = False,
) -> RunSummary:
    """Reproduce ``experiment_id``: compute missing points, export results.csv, config.json, plots.

    Output goes to ``out/ID`` (or ``folder``): store.sqlite, arrays/, results.csv, config.json,
    ID.png, ID.pdf.  Finished points found in the store are not recomputed; a damaged store or arrays
    file is repaired by recomputing (``RunSummary.notes`` says what).  Everything the user gave is
    checked before any point runs (InputError); ``force`` skips the memory estimate only.
    """
    t0 = time.perf_counter()
    if scheduler:  # first, before the experiment's imports: an unreachable scheduler fails within seconds
        check_scheduler(scheduler)
    exp = registry.get(experiment_id)
    workers = V.positive_int("workers", workers)
    seed = int(V.finite_float("seed", seed, low=0))
    device = V.device(device)
    params = check_parameters(experiment_id, size, overrides)
    points = _points(experiment_id, params)
    _memory_guard(experiment_id, points, force)
    # the output folder must be creatable (not a file, not "", writable) before anything runs
    folder = V.out_folder(folder if folder is not None else V.out_folder(out) / experiment_id)
    seeds = [exp.seed(seed, p) for p in points]
    keys = [point_key(experiment_id, p, s) for p, s in zip(points, seeds)]
    if len(set(keys)) != len(keys):
        raise V.InputError(f"{experiment_id}: two points have the same parameters; make them distinct")
    failed: list[tuple[dict, str]] = []
    saved_env = {k: os.environ.get(k) for k in _THREAD_VARS + ("SPINGLASS_ICL_WORKER_THREADS",)}
    if workers > 1 and not scheduler:
        per = str(max(1, (os.cpu_count() or 1) // workers))  # no oversubscription in process workers
        os.environ.update(dict.fromkeys(_THREAD_VARS + ("SPINGLASS_ICL_WORKER_THREADS",), per))
    try:
        executor, close = _executor(workers, scheduler)  # first: an unreachable scheduler changes nothing
    except BaseException:
        _restore_env(saved_env)
        raise
    store = Store(folder)
    notes = [store.recovered] if store.recovered else []
    damaged = set(store.damaged(keys))
    if damaged:
        notes.append(
            f"{len(damaged)} finished point(s) had a missing or unreadable arrays file in "
            f"{folder / 'arrays'}; recomputing them"
        )
    done = store.done_keys() - damaged
    todo = [i for i, k in enumerate(keys) if k not in done]
    config = {
        "experiment": experiment_id,
        "title": exp.title,
        "size": size,
        "params": params,
        "overrides": {k: params[k] for k in (overrides or {})},
        "seed": seed,
        "device": device,
        "n_points": len(points),
        "version": __version__,
        "keys": keys,
    }
    _write_atomic(folder / "config.json", json.dumps(config, indent=1, default=float))
    try:
        with _progress(len(points), progress, experiment_id) as bar:
            bar.update(len(points) - len(todo))
            futures = {}
            if isinstance(executor, _Inline):
                # inline: compute and store one point at a time so progress and durability are live
                for i in todo:
                    _record(
                        store,
                        experiment_id,
                        points[i],
                        seeds[i],
                        keys[i],
                        compute_point(experiment_id, points[i], seeds[i], device),
                        failed,
                    )
                    bar.update()
            else:
                for i in todo:
                    futures[executor.submit(compute_point, experiment_id, points[i], seeds[i], device)] = i
                for fut in cf.as_completed(futures):
                    i = futures[fut]
                    _record(store, experiment_id, points[i], seeds[i], keys[i], fut.result(), failed)
                    bar.update()
    finally:
        if isinstance(executor, cf.ProcessPoolExecutor):
            executor.shutdown(wait=True, cancel_futures=True)
        close()
        _restore_env(saved_env)
    export_csv(store, keys, folder / "results.csv")
    store.close()
    files = [str(folder / "results.csv"), str(folder / "config.json")]
    recs = records(folder, keys)
    summary: dict[str, Any] = {}
    if recs:
        if exp.summary is not None:
            summary = exp.summary(recs, params)
        if make_plot:
            files += plot(experiment_id, folder=folder)
    return RunSummary(
        experiment=experiment_id,
        folder=str(folder),
        n_points=len(points),
        n_computed=len(todo),
        n_cached=len(points) - len(todo),
        failed=failed,
        seconds=time.perf_counter() - t0,
        files=files,
        summary=summary,
        notes=notes,
    )


def _restore_env(saved: dict[str, str | None]) -> None:
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _record(store: Store, experiment_id: str, point: dict, seed: int, key: str, outcome, failed: list) -> None:
    status, seconds, payload = outcome
    if status == "done":
        store.put(key, experiment_id, point, seed, seconds=seconds, result=payload)
    else:
        store.put(key, experiment_id, point, seed, seconds=seconds, error=payload)
        failed.append((point, payload))
