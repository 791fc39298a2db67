"""Run an experiment: expand its points, compute the missing ones, store, export, plot.

Orchestration only; the rooms it uses: ``_execution`` (workers, threads, dask),
``_persist`` and :mod:`.store` (config.json, results.csv, the integrity-checked store),
``_lock`` (one writer per folder) and :mod:`spinglass_icl.resources` (memory and CPU known up front).
Each point's seed is derived from the run seed and the point's own parameters
(:meth:`~spinglass_icl.Experiment.seed`), so results do not depend on the number of workers, the executor
or the order of completion.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .. import resources as R
from .. import validation as V
from .._limits import Stopped, disk_full, is_disk_full
from .._progress import progress
from .._version import __version__
from . import _execution as X
from . import _persist, registry
from ._lock import FolderLock
from .params import canonical
from .params import check as params_check
from .spec import Experiment, Record
from .store import Store


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
    notes: list[str] = field(default_factory=list)  # what the run repaired or capped (files replaced, workers)
    estimate: str = ""  # the resource estimate printed before the run (resources.Total.line)
    missing: int = 0  # points neither finished nor failed: a time limit, workers lost (run again for them)
    stopped: str = ""  # why points are missing, for the one line that says so


@dataclass(frozen=True)
class RunOptions:
    """Options of :func:`~spinglass_icl.run` (each may also be given to it as a keyword).

    out: parent folder (results go to ``out/ID``) unless ``folder`` is given.  workers: local
    processes (capped at the usable cores).  scheduler: a dask scheduler address.  force: run even
    if the memory or CPU estimate is beyond the machine or a CPU-year.  wait: queue behind another
    run writing the same folder instead of refusing.  dry_run: check everything, print the
    estimate, start nothing.  log: where one-line messages go before the run ends (None: silent).
    time_limit: seconds from the start after which no point is started whose estimated time does
    not fit, and at which the points still running are stopped (the run then ends with
    ``RunSummary.missing`` > 0; run it again for them).
    """

    size: str = "quick"
    out: str | os.PathLike = "results"
    overrides: Mapping[str, Any] | None = None
    workers: int = 1
    seed: int = 0
    device: str = "cpu"
    scheduler: str | None = None
    progress: bool = True
    make_plot: bool = True
    folder: str | os.PathLike | None = None
    force: bool = False
    wait: bool = False
    dry_run: bool = False
    log: Callable[[str], None] | None = None
    time_limit: float | None = None

    def say(self, message: str) -> None:
        if self.log is not None:
            self.log(message)


def check_parameters(experiment_id: str, size: str, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The experiment's parameters at ``size`` with ``overrides`` applied and checked
    (:func:`.params.check`); raises a one-line :class:`~spinglass_icl.InputError` before anything runs."""
    return params_check(registry.get(experiment_id), V.choice("size", size, ("quick", "full")), overrides)


# Points one run may have: beyond it the list itself (and the store's keys) would not be small, and no run of
# the catalog comes near it (the largest full run, figS7, has 572)
MAX_POINTS = 100_000


def check_count(exp: Experiment, params: dict[str, Any], overrides: Mapping[str, Any] | None = None) -> int:
    """The number of points ``params`` make (:meth:`~spinglass_icl.Experiment.n_points`,
    arithmetic), refused past ``MAX_POINTS`` with one line naming the parameters that make it large -- before
    anything is expanded."""
    n = exp.n_points(params)
    if n <= MAX_POINTS:
        return n
    quick = exp.params("quick")
    # the overrides that raise the count: with each at its quick value instead, fewer points
    blame = [k for k in overrides or {} if exp.n_points({**params, k: quick[k]}) < n] or sorted(overrides or {})
    shown = ", ".join(f"{k}={params[k]}" for k in blame)
    smaller = [k for k in blame if k != "chunk"] or ["sweep"]
    advice = " or ".join([f"a smaller {k}" for k in smaller] + (["a larger chunk"] if "chunk" in params else []))
    raise V.InputError(
        f"{exp.id}{' at ' + shown if shown else ''} makes {n:,} points (more than {MAX_POINTS:,}); use {advice}"
    )


def _points(experiment_id: str, params: dict[str, Any], overrides: Mapping[str, Any] | None = None) -> list[dict]:
    exp = registry.get(experiment_id)
    check_count(exp, params, overrides)
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


@dataclass(frozen=True)
class _Plan:
    """Everything checked before a run starts: its points, seeds, keys, execution and estimate."""

    exp: Experiment
    params: dict[str, Any]
    points: list[dict]
    seeds: list[int]
    keys: list[str]
    execution: X.Plan
    total: R.Total
    folder: Path


def _folder(experiment_id: str, opts: RunOptions) -> Path:
    """The run's folder, checked (not a file, not "", writable) -- created unless a dry run."""
    if opts.dry_run:
        target = Path(opts.folder) if opts.folder is not None else Path(opts.out) / experiment_id
        if str(opts.out).strip() == "" or any(p.exists() and not p.is_dir() for p in (target, *target.parents)):
            return V.out_folder(target)  # raises the one-line error of a bad --out
        return target
    return V.out_folder(opts.folder if opts.folder is not None else V.out_folder(opts.out) / experiment_id)


def _plan(experiment_id: str, opts: RunOptions) -> _Plan:
    """Check every input and estimate the run's resources; raises InputError before anything starts."""
    if opts.scheduler:  # first, before the experiment's imports: an unreachable scheduler fails within seconds
        X.check_scheduler(opts.scheduler)
    exp = registry.get(experiment_id)
    workers = V.positive_int("workers", opts.workers)
    seed = int(V.finite_float("seed", opts.seed, low=0))
    V.device(opts.device)
    params = check_parameters(experiment_id, opts.size, opts.overrides)  # ranges first: --force never lifts them
    points = _points(experiment_id, params, opts.overrides)  # counted before it is expanded
    execution = X.plan(workers, exp.threads)
    total = R.total(points, exp.resources)
    R.check_total(experiment_id, total, force=opts.force, workers=1 if opts.scheduler else execution.workers)
    seeds = [exp.seed(seed, p) for p in points]
    keys = [exp.key(p, s) for p, s in zip(points, seeds)]
    if len(set(keys)) != len(keys):
        raise V.InputError(f"{experiment_id}: two points have the same parameters; make them distinct")
    folder = _folder(experiment_id, opts)
    for note in execution.notes:  # only once every check passed: a refusal stays one line
        opts.say(f"warning: {note}")
    opts.say(total.line())
    return _Plan(exp, params, points, seeds, keys, execution, total, folder)


def _open_store(plan: _Plan, notes: list[str]) -> tuple[Store, list[int]]:
    """The run's store (a damaged database set aside) and the indices of the points still to compute:
    those not finished, and those whose arrays file is missing, damaged or swapped (noted)."""
    store = Store(plan.folder)
    if store.recovered:
        notes.append(store.recovered)
    bad = store.verify(plan.keys)
    if bad:
        notes.append(f"recomputing {len(bad)} point(s) and replacing their files: {_persist.describe_bad(bad, 10)}")
    done = store.done_keys() - {b.key for b in bad}
    return store, [i for i, k in enumerate(plan.keys) if k not in done]


def _config(experiment_id: str, plan: _Plan, opts: RunOptions) -> dict[str, Any]:
    return {
        "experiment": experiment_id,
        "title": plan.exp.title,
        "size": opts.size,
        "params": plan.params,
        "overrides": {k: plan.params[k] for k in canonical(plan.exp, opts.overrides, note=lambda _: None)},
        "seed": int(opts.seed),
        "device": opts.device,
        "n_points": len(plan.points),
        "version": __version__,
        "keys": plan.keys,
        "plugins": list(registry.plugins()),
    }


def _threads(plan: _Plan, i: int, opts: RunOptions) -> int | None:
    if opts.scheduler:
        return None  # a dask worker keeps its own
    return X.point_threads(R.estimate(plan.points[i], plan.exp.resources).seconds, plan.execution)


def _store_outcome(plan: _Plan, store: Store, i: int, status: str, seconds: float, payload: Any) -> None:
    key, point, seed = plan.keys[i], plan.points[i], plan.seeds[i]
    if status == "done":
        store.put(key, plan.exp.id, point, seed, seconds=seconds, result=payload)
    else:
        store.put(key, plan.exp.id, point, seed, seconds=seconds, error=payload)


def _compute(
    experiment_id: str, plan: _Plan, opts: RunOptions, store: Store, todo: list[int], deadline: float | None
) -> _Outcomes:
    """Compute the points ``todo`` and store each as it arrives.  A signal (SIGTERM, SIGHUP, Ctrl-C)
    stops the workers at once and propagates; the time limit stops them and returns."""
    out = _Outcomes()
    workers = X.Workers(plan.execution, opts.scheduler)
    plugins = registry.plugins()  # every worker imports them first (process pools, Dask)
    tasks: list[X.Task] = [
        (experiment_id, plan.points[i], plan.seeds[i], opts.device, plugins, _threads(plan, i, opts)) for i in todo
    ]
    admit = _admission(plan, todo, deadline, out)
    aborted = True
    try:
        with _alarm(deadline), progress(len(plan.points), opts.progress, experiment_id, unit="pt", leave=True) as bar:
            bar.update(len(plan.points) - len(todo))
            for j, (status, seconds, payload) in X.outcomes(workers, tasks, admit):
                if status == "lost":
                    out.lost.append(payload)
                    continue
                _store_outcome(plan, store, todo[j], status, seconds, payload)
                out.stored += 1
                if status != "done":
                    out.failed.append((plan.points[todo[j]], payload))
                bar.update()
        aborted = False
    except Stopped as exc:
        if exc.signum != signal.SIGALRM:
            raise
        out.stopped = f"--time-limit {opts.time_limit:g} s was reached while points ran"
    finally:
        workers.close(abort=aborted)
    return out


@dataclass
class _Outcomes:
    """What :func:`_compute` did: points stored, failed ones, lost ones, why it stopped early."""

    stored: int = 0
    failed: list[tuple[dict, str]] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    stopped: str = ""


def _admission(plan: _Plan, todo: list[int], deadline: float | None, out: _Outcomes) -> Callable[[int], bool]:
    """admit(j): whether point ``todo[j]`` may start -- before a deadline (``time.perf_counter``),
    only if its estimated time fits in what is left (the first refusal is noted in ``out.stopped``)."""
    if deadline is None:
        return lambda j: True

    def admit(j: int) -> bool:
        need = R.estimate(plan.points[todo[j]], plan.exp.resources).seconds
        if time.perf_counter() + need <= deadline:
            return True
        out.stopped = out.stopped or "the time limit leaves too little time for the next point (its estimate)"
        return False

    return admit


@contextlib.contextmanager
def _alarm(deadline: float | None) -> Iterator[None]:
    """Before a deadline (main thread only): SIGALRM at it raises Stopped in the run loop."""
    if deadline is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    before = signal.signal(signal.SIGALRM, lambda s, f: _raise_alarm())
    signal.setitimer(signal.ITIMER_REAL, max(0.001, deadline - time.perf_counter()))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)


def _raise_alarm() -> None:
    raise Stopped(signal.SIGALRM)


def estimate(experiment_id: str, size: str = "quick", overrides: Mapping[str, Any] | None = None) -> R.Total:
    """The resource estimate of a run (what ``reproduce --dry-run`` prints): its parameters checked, its
    points counted and expanded, each estimated by the experiment's own ``resources`` or the generic rule.
    Not compared with the machine (the run does that, unless forced)."""
    exp = registry.get(experiment_id)
    params = check_parameters(experiment_id, size, overrides)
    return R.total(_points(experiment_id, params, overrides), exp.resources)


def _options(size: str, options: RunOptions | None, kwargs: dict[str, Any]) -> RunOptions:
    known = {f.name for f in fields(RunOptions)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise TypeError(f"run() got unexpected option(s) {', '.join(unknown)}")
    base = options if options is not None else RunOptions(size=size)
    return replace(base, **kwargs)


def run(experiment_id: str, size: str = "quick", options: RunOptions | None = None, **kwargs: Any) -> RunSummary:
    """Reproduce ``experiment_id``: compute missing points, export results.csv, config.json, plots.

    Options: a :class:`~spinglass_icl.experiments.runner.RunOptions` and/or its fields as keywords (out,
    overrides, workers, seed, device, scheduler, progress, make_plot, folder, force, wait, dry_run, log,
    time_limit).  Output goes to
    ``out/ID`` (or ``folder``): store.sqlite, arrays/, results.csv, config.json, ID.png, ID.pdf.
    Finished points found in the store are not recomputed unless their files fail the integrity
    check (``RunSummary.notes`` names the files replaced).  Everything the user gave, the memory
    and CPU estimate and the folder's lock are checked before any point runs (InputError).
    A run stopped early by its time limit, or whose points' workers died past the retries, returns
    with ``missing`` > 0 (no summary, no plot); SIGTERM, SIGHUP and Ctrl-C raise KeyboardInterrupt
    after the workers are stopped and the lock released; a full disk raises
    ``Incomplete`` (``spinglass_icl._limits``) naming the folder and the space needed.  Finished points are kept.
    """
    t0 = time.perf_counter()
    opts = _options(size, options, kwargs)
    plan = _plan(experiment_id, opts)
    summary = RunSummary(experiment_id, str(plan.folder), len(plan.points), 0, 0, [], 0.0, estimate=plan.total.line())
    summary.notes.extend(plan.execution.notes)
    deadline = None if opts.time_limit is None else t0 + V.positive("--time-limit", opts.time_limit)
    if opts.dry_run:
        summary.seconds = time.perf_counter() - t0
        return summary
    try:
        _run_locked(experiment_id, plan, opts, summary, deadline)
    except Exception as exc:
        if not is_disk_full(exc):
            raise
        raise disk_full(plan.folder, _persist.space_needed(plan.folder, len(plan.points))) from None
    summary.seconds = time.perf_counter() - t0
    return summary


def _run_locked(experiment_id: str, plan: _Plan, opts: RunOptions, summary: RunSummary, deadline: float | None) -> None:
    with FolderLock(plan.folder, wait=opts.wait) as lock:
        if lock.took_over:
            summary.notes.append(lock.took_over)
        store, todo = _open_store(plan, summary.notes)
        try:
            _persist.write_config(plan.folder, _config(experiment_id, plan, opts))
            out = _compute(experiment_id, plan, opts, store, todo, deadline)
            _persist.export_csv(store, plan.keys, plan.folder / "results.csv")
        finally:
            store.close()
        summary.failed = out.failed
        summary.n_computed, summary.n_cached = out.stored, len(plan.points) - len(todo)
        summary.missing = len(todo) - out.stored
        if summary.missing:
            summary.stopped = out.stopped or (out.lost[0] if out.lost else "")
        summary.files = [str(plan.folder / "results.csv"), str(plan.folder / "config.json")]
        recs = records(plan.folder, plan.keys)
        if recs and plan.exp.summary is not None and not summary.missing:
            summary.summary = plan.exp.summary(recs, plan.params)
        if recs and opts.make_plot and not summary.missing:
            summary.files += plot(experiment_id, folder=plan.folder)


def records(folder: str | os.PathLike, keys: list[str] | None = None) -> list[Record]:
    """Finished points stored in an experiment folder, as records (parameters + results + arrays),
    by default those of the folder's last run (its config.json).  A damaged store, or a point whose
    arrays file is missing, damaged or swapped, is an :class:`~spinglass_icl.InputError` naming the file and the
    fix (rerun ``reproduce``, which recomputes it); nothing is changed."""
    folder = Path(folder)
    if not (folder / "store.sqlite").exists():
        raise V.InputError(f"no results in {folder}; run `spinglass-icl reproduce ID` first")
    has_config = (folder / "config.json").exists()
    cfg = _persist.read_config(folder, folder.name) if keys is None or has_config else {}
    exp_id = cfg.get("experiment", folder.name)
    store = _persist.open_for_reading(folder, exp_id)
    try:
        if keys is None:
            keys = cfg["keys"]
        _persist.refuse_bad_files(store, keys, exp_id)
        rows = [r for r in store.rows(keys) if r["status"] == "done"]
        return [{**r["config"], **r["scalars"], **store.load_arrays(r)} for r in rows]
    finally:
        store.close()


def _heal(experiment_id: str, folder: Path, cfg: dict, log: Callable[[str], None] | None) -> None:
    """Recompute the points of ``folder`` whose arrays file is missing, damaged or swapped, with the
    options of the folder's last run (its config.json), before a plot reads them."""
    store = _persist.open_for_reading(folder, experiment_id)  # a damaged database: InputError, left as is
    try:
        bad = store.verify(cfg["keys"])
    finally:
        store.close()
    if not bad:
        return
    keys = ("size", "seed", "device")
    if not all(k in cfg for k in keys):  # written by an older version: the user reruns it
        raise _persist.bad_files_error(bad, folder, experiment_id)
    options = RunOptions(folder=folder, overrides=cfg.get("overrides") or {}, make_plot=False, progress=False, log=log)
    s = run(experiment_id, cfg["size"], replace(options, seed=cfg["seed"], device=cfg["device"]))
    for note in s.notes:
        options.say(f"note: {note}")


def plot(
    experiment_id: str,
    out: str | os.PathLike = "results",
    folder: str | os.PathLike | None = None,
    log: Callable[[str], None] | None = None,
    to: str | os.PathLike | None = None,
) -> list[str]:
    """Draw DIR/ID/ID.png and .pdf from the stored results of the folder's last run (finished
    points only, e.g. of an interrupted run), and rewrite its results.csv from the store.  Every
    file is checked first: a point whose arrays file is missing, damaged or swapped is recomputed
    (``log`` gets the note naming the files replaced); a damaged store is an InputError naming the
    fix, and the file is left where it is.  ``to``: write the figure, results.csv and any extra
    files there instead and change nothing in the results folder (one published read-only); a
    read-only folder without ``to`` is an InputError, and so is a config.json edited by hand."""
    from ..plotting import save, style

    folder = Path(folder) if folder is not None else Path(out) / experiment_id
    cfg = _persist.read_config(folder, experiment_id)
    registry.load_plugins(cfg.get("plugins", ()))  # the plugins the run saw: its experiment, its models
    exp = registry.get(experiment_id)
    _check_config(exp, cfg, folder)
    if to is None:
        _persist.refuse_read_only(folder, experiment_id)
        _heal(experiment_id, folder, cfg, log)
    target = folder if to is None else V.out_folder(to, "--to")
    recs = records(folder, cfg["keys"])
    if not recs:
        raise V.InputError(f"no finished points for {experiment_id} in {folder}")
    store = _persist.open_for_reading(folder, experiment_id)
    try:
        _persist.export_csv(store, cfg["keys"], target / "results.csv")
    finally:
        store.close()
    extra = exp.export(recs, cfg["params"], target) if exp.export is not None else []
    with style():
        fig = exp.plot(recs, cfg["params"])
        return extra + save(fig, str(target / experiment_id))


def _check_config(exp: Experiment, cfg: dict, folder: Path) -> None:
    """Refuse a config.json that is not the one a run wrote (edited by hand, or of another
    experiment): its parameters and seed must give exactly the point keys it lists."""
    path = folder / "config.json"
    fix = f"run `spinglass-icl reproduce {exp.id} --out {folder.parent}` with the run's options to rewrite it"
    try:
        params, seed, keys = cfg["params"], cfg.get("seed", 0), cfg["keys"]
        if cfg.get("experiment", exp.id) != exp.id:
            raise ValueError(f"it is the config of {cfg.get('experiment')!r}")
        points = exp.points(params)
        derived = [exp.key(p, exp.seed(int(seed), p)) for p in points]
    except Exception as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise V.InputError(f"{path} does not describe a run of {exp.id} ({why}); {fix}") from None
    if derived != keys:
        raise V.InputError(
            f"{path} was changed after its run: its parameters and seed do not give the points it lists "
            f"(edited by hand?); {fix}"
        )
