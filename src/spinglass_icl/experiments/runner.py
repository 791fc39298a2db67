"""Run an experiment: expand its points, compute the missing ones, store, export, plot.

Execution goes through a ``concurrent.futures`` executor: inline for one worker, a local
process pool for several, or a dask.distributed cluster (``scheduler=ADDRESS``; optional extra
``spinglass-icl[dask]``).  Workers only compute and return; the main process alone writes the
store, so a point's result is durable the moment the main process receives it.  Each point's
seed is derived from the run seed and the point's own parameters (:meth:`.spec.Experiment.seed`),
so results do not depend on the number of workers, the executor or the order of completion.
"""

from __future__ import annotations

import concurrent.futures as cf
import csv
import json
import multiprocessing as mp
import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .. import __version__
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


def compute_point(experiment_id: str, point: dict, seed: int, device: str) -> tuple[str, float, Any]:
    """Worker side: compute one point -> ("done", seconds, result) or ("failed", seconds, message)."""
    import torch

    if os.environ.get("SPINGLASS_ICL_WORKER_THREADS"):
        torch.set_num_threads(int(os.environ["SPINGLASS_ICL_WORKER_THREADS"]))
    t0 = time.perf_counter()
    try:
        result = registry.get(experiment_id).compute(point, seed, device)
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


def _executor(workers: int, scheduler: str | None):
    if scheduler:
        try:
            from distributed import Client
        except ImportError:
            raise V.InputError("--scheduler needs dask.distributed: pip install 'spinglass-icl[dask]'") from None
        try:
            client = Client(scheduler, timeout=30)
        except Exception as exc:
            raise V.InputError(f"cannot reach the dask scheduler at {scheduler}: {exc}") from None
        return client.get_executor(), client.close
    if workers == 1:
        return _Inline(), lambda: None
    # spawn, not fork: a forked child inherits torch/OpenMP thread pools (deadlock-prone) and BLAS
    # thread counts fixed before our per-worker limits were set
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn")), lambda: None


def _progress(total: int, show: bool, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not show, desc=desc, unit="pt", dynamic_ncols=True)


def records(folder: str | os.PathLike, keys: list[str] | None = None) -> list[Record]:
    """Finished points stored in an experiment folder, as records (parameters + results + arrays),
    by default those of the folder's last run (its config.json)."""
    folder = Path(folder)
    store = Store(folder)
    try:
        if keys is None:
            keys = json.loads((folder / "config.json").read_text())["keys"]
        rows = [r for r in store.rows(keys) if r["status"] == "done"]
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
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(fixed + cols)
        for r in rows:
            vals = {**r["config"], **r["scalars"]}
            w.writerow([r[k] for k in fixed] + [json.dumps(vals[c]) if isinstance(vals.get(c), (list, dict))
                                                 else vals.get(c, "") for c in cols])


def plot(experiment_id: str, out: str | os.PathLike = "results", folder: str | os.PathLike | None = None) -> list[str]:
    """Draw DIR/ID/ID.png and .pdf from the stored results of the folder's last run (finished
    points only, e.g. of an interrupted run), and rewrite its results.csv from the store."""
    from ..plotting import save, style

    exp = registry.get(experiment_id)
    folder = Path(folder) if folder is not None else Path(out) / experiment_id
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        raise V.InputError(f"no results for {experiment_id} in {folder}; run `spinglass-icl reproduce {experiment_id}` first")
    cfg = json.loads(cfg_path.read_text())
    recs = records(folder, cfg["keys"])
    if not recs:
        raise V.InputError(f"no finished points for {experiment_id} in {folder}")
    store = Store(folder)
    try:
        export_csv(store, cfg["keys"], folder / "results.csv")
    finally:
        store.close()
    with style():
        fig = exp.plot(recs, cfg["params"])
        return save(fig, str(folder / experiment_id))


def run(experiment_id: str, size: str = "quick", out: str | os.PathLike = "results",
        overrides: Mapping[str, Any] | None = None, workers: int = 1, seed: int = 0, device: str = "cpu",
        scheduler: str | None = None, progress: bool = True, make_plot: bool = True,
        folder: str | os.PathLike | None = None) -> RunSummary:
    """Reproduce ``experiment_id``: compute missing points, export results.csv, config.json, plots.

    Output goes to ``out/ID`` (or ``folder``): store.sqlite, arrays/, results.csv, config.json,
    ID.png, ID.pdf.  Finished points found in the store are not recomputed.
    """
    t0 = time.perf_counter()
    exp = registry.get(experiment_id)
    workers = V.positive_int("workers", workers)
    seed = int(V.finite_float("seed", seed, low=0))
    device = V.device(device)
    params = exp.params(size, overrides)
    points = exp.points(params)
    folder = Path(folder) if folder is not None else Path(out) / experiment_id
    store = Store(folder)
    seeds = [exp.seed(seed, p) for p in points]
    keys = [point_key(experiment_id, p, s) for p, s in zip(points, seeds)]
    if len(set(keys)) != len(keys):
        raise V.InputError(f"{experiment_id}: two points have the same parameters; make them distinct")
    done = store.done_keys()
    todo = [i for i, k in enumerate(keys) if k not in done]
    config = {"experiment": experiment_id, "title": exp.title, "size": size, "params": params,
              "overrides": dict(overrides or {}), "seed": seed, "device": device, "n_points": len(points),
              "version": __version__, "keys": keys}
    (folder / "config.json").write_text(json.dumps(config, indent=1, default=float))
    failed: list[tuple[dict, str]] = []
    saved_env = {k: os.environ.get(k) for k in _THREAD_VARS + ("SPINGLASS_ICL_WORKER_THREADS",)}
    if workers > 1 and not scheduler:
        per = str(max(1, (os.cpu_count() or 1) // workers))  # no oversubscription in process workers
        os.environ.update({k: per for k in _THREAD_VARS + ("SPINGLASS_ICL_WORKER_THREADS",)})
    executor, close = _executor(workers, scheduler)
    try:
        with _progress(len(points), progress, experiment_id) as bar:
            bar.update(len(points) - len(todo))
            futures = {}
            if isinstance(executor, _Inline):
                # inline: compute and store one point at a time so progress and durability are live
                for i in todo:
                    _record(store, experiment_id, points[i], seeds[i], keys[i],
                            compute_point(experiment_id, points[i], seeds[i], device), failed)
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
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
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
    return RunSummary(experiment=experiment_id, folder=str(folder), n_points=len(points), n_computed=len(todo),
                      n_cached=len(points) - len(todo), failed=failed, seconds=time.perf_counter() - t0,
                      files=files, summary=summary)


def _record(store: Store, experiment_id: str, point: dict, seed: int, key: str, outcome, failed: list) -> None:
    status, seconds, payload = outcome
    if status == "done":
        store.put(key, experiment_id, point, seed, seconds=seconds, result=payload)
    else:
        store.put(key, experiment_id, point, seed, seconds=seconds, error=payload)
        failed.append((point, payload))
