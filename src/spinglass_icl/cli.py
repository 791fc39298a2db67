"""Command-line interface: ``spinglass-icl {demo, ground-state, list, params, reproduce, plot}``.

Every user error (bad size, λ0 < 0, β ≤ 0, unknown experiment, malformed or out-of-range --set,
an --out that is a file, a request larger than the machine's memory, a scheduler that does not
answer …) ends with one ``error: …`` line on stderr and exit code 2, never a traceback; it is
checked before anything runs (a bad ``--set`` value before the heavy imports, in well under a
second).  Output: aligned tables for people; ``--json``: strict JSON (NaN and inf become null);
``--quiet``: nothing on stdout but the output path(s) (ground-state: the measured error), on stderr
only errors.  ``--out DIR`` means the same for every command: the parent folder, results in DIR/ID.

Imports are lazy: ``--help`` and ``list`` must start in well under half a second, so nothing here
imports numpy, torch, scipy or matplotlib at module level.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from . import _table
from ._io import one_line, strict_json

SOLVERS = ("exact", "cg", "amp", "amp-onsager")
_CONVERGE_HINT = {  # the option that helps when a solver does not converge (ground-state exit 3)
    "exact": "raise --lambda0 (the Hessian is singular to working precision)",
    "cg": "raise --lambda0 (CG needs a positive definite Hessian) or use --solver exact",
    "amp": "raise --damping or --steps, or use --solver amp-onsager or exact",
    "amp-onsager": "raise --steps or --lambda0, or use --solver exact",
}
# the one stated demo time (README quotes it, a test checks).  Measured 2026-12-02 on the shared 2-core
# AMD EPYC machine, from a fresh clone (`git clone … && time nice -n 10 make demo`, wheels cached): 57.6 s
# at load ~1 (the install ~50 s, then the demo), 3 min 17 s at load 2-7; `spinglass-icl demo` alone into a
# fresh folder 5.6 s wall at load ~1 (41 s at load ~7), importing torch included
DEMO_TIME = "about 6 s on 2 idle CPU cores; a first `make demo` installs first: about 1 min, 3 min on a busy machine"
# the measured quick sizes (a test checks them against docs/figures/gallery.json, `make gallery` of 2026-12-02
# on the shared 2-core AMD EPYC machine, one worker: figS3 1.6 s ... figS8 34.8 s)
QUICK_TIME = "2-35 s per experiment on 2 CPU cores, measured (`make gallery`; the gallery lists each)"


def _input_error() -> type[Exception]:
    from .validation import InputError

    return InputError


class _Formatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows every option's default and keeps the epilog's line breaks (the experiment table)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse's own errors: one line, exit 2
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parse_set(items: Sequence[str] | None) -> dict[str, str]:
    """``--set key=value`` items -> {key: raw value text}.  Values stay text here: the runner parses
    each against its parameter's type and range (:func:`.experiments.params.check`).  A key given twice
    is refused (no silent "last wins")."""
    InputError = _input_error()
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set expects key=value, got {item!r}")
        if key in out:
            raise InputError(f"--set {key} given twice ({key}={out[key]} and {key}={raw}); give each key once")
        out[key] = raw
    return out


def _print_json(obj: Any) -> None:
    print(json.dumps(strict_json(obj), allow_nan=False))


def _notes(notes: Sequence[str]) -> None:
    for n in notes:
        print(f"note: {n}", file=sys.stderr)


# -- commands ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _GroundState:
    """The checked inputs of ``ground-state``."""

    D: int
    N: int
    P: int
    test_prompts: int
    lambda0: float
    noise: float
    pool: int | None
    seed: int


def _ground_state_inputs(args: argparse.Namespace) -> _GroundState:
    """Every ``ground-state`` option checked (InputError) and the memory it needs estimated, before
    anything is allocated."""
    from . import resources as R
    from . import validation as V
    from .experiments.params import check_sizes

    V.device(args.device)
    D, N = V.positive_int("D", args.D), V.positive_int("N", args.N)
    P, T = V.positive_int("P", args.P), V.positive_int("test-prompts", args.test_prompts)
    g = _GroundState(
        D=D,
        N=N,
        P=P,
        test_prompts=T,
        lambda0=V.nonneg("lambda0", args.lambda0),
        noise=V.nonneg("noise", args.noise),
        pool=None if args.pool is None else V.positive_int("pool", args.pool),
        seed=int(V.finite_float("seed", args.seed, low=0)),
    )
    V.positive("beta", args.beta)
    V.damping(args.damping)
    if args.steps is None:
        args.steps = 1000 if args.solver == "amp-onsager" else 100
    V.positive_int("steps", args.steps)
    # before allocating anything: AMP needs the full K×K couplings, the exact solver the cheaper of
    # the D(D+1)² primal and P² dual matrices (twice, for AMP's distance to it), CG neither
    matrix = {"exact": "dual", "cg": "none"}.get(args.solver, "full")
    need = R.spin_glass_bytes(D, P, test_prompts=T, matrix=matrix)
    if args.solver.startswith("amp"):
        need += R.spin_glass_bytes(D, P, matrix="dual")
    free = R.spin_glass_bytes(D, P, test_prompts=T, matrix="none")
    if args.solver == "exact" and not args.force and free <= R.available_memory() < need:
        # the matrix-free path: CG forms neither matrix and reaches the same ground state (to its tolerance)
        print(f"note: the exact solve needs about {R.gib(need)}; solving matrix-free (--solver cg)", file=sys.stderr)
        args.solver, need = "cg", free
    R.memory(
        f"ground-state --D {D} --P {P} ({args.solver})",
        need,
        force=args.force,
        hint="use a smaller --D/--P (or --solver cg, which never forms the K×K matrix)",
    )
    check_sizes("ground-state", {"D": D, "N": N, "P": P, "P_test": T, "steps": args.steps})
    return g


def _solve(sg: Any, args: argparse.Namespace, rng: Any) -> tuple[Any, float]:
    """(solver result, seconds spent building the couplings/fields the solver reads first, so that
    the result's ``seconds`` is the solver's own time)."""
    from .solvers import amp, auto_method, solve_cg, solve_exact

    t0 = time.perf_counter()
    _ = sg.h
    if args.solver.startswith("amp"):
        _ = sg.J
    elif args.solver == "exact" and auto_method(sg) == "cholesky":
        _ = sg.gram_effective
    couplings_seconds = time.perf_counter() - t0
    if args.solver == "exact":
        return solve_exact(sg), couplings_seconds
    if args.solver == "cg":
        return solve_cg(sg), couplings_seconds
    # the paper's AMP runs as published; the Onsager version is run to an exact-solution residual
    kw: dict[str, Any] = dict(beta=args.beta, damping=args.damping, steps=args.steps, rng=rng)
    if args.solver == "amp-onsager":
        kw.update(onsager=True, init="cavity", criterion="residual", tol=1e-10, step="conjugate")
    return amp(sg, **kw), couplings_seconds


def cmd_ground_state(args: argparse.Namespace) -> int:
    g = _ground_state_inputs(args)

    import numpy as np

    from .metrics import contrast_ratio, query_error, relative_distance
    from .prompts import PromptSpec, sample_features
    from .solvers import solve_exact
    from .spinglass import SpinGlass
    from .theory import icl_error_theory, population_error

    spec = PromptSpec(D=g.D, N=g.N, noise=g.noise, task_pool=g.pool)
    rng = np.random.default_rng(g.seed)
    tasks = None
    if g.pool is None:
        train = sample_features(spec, g.P, rng)
    else:  # the pool's tasks: the solution's in-distribution error is exact on them
        train, tasks, _ = sample_features(spec, g.P, rng, return_tasks=True)
    test = sample_features(PromptSpec(D=g.D, N=g.N, noise=g.noise), g.test_prompts, rng)  # fresh tasks
    sg = SpinGlass(train, g.lambda0)
    res, couplings_seconds = _solve(sg, args, rng)
    ok = bool(res.converged)
    W = res.mean

    def value(compute: Callable[[], Any]) -> float | None:  # numbers of a solution that did not converge: None
        return float(compute()) if ok else None

    out: dict[str, Any] = {
        "solver": res.solver,
        "D": g.D,
        "N": g.N,
        "P": g.P,
        "lambda0": g.lambda0,
        "noise": g.noise,
        "pool": g.pool,
        "seed": g.seed,
        "test_error": value(lambda: query_error(W, test)),
        "population_error": value(lambda: population_error(W, g.D, g.N, g.noise)),
        "population_error_pool": None
        if tasks is None
        else value(lambda: population_error(W, g.D, g.N, g.noise, tasks)),
        "theory_asymptotic": float(icl_error_theory(g.D, g.N, g.P, g.noise, g.pool)),
        "contrast_ratio": value(lambda: contrast_ratio(W)),
        "converged": ok,
        "iterations": int(res.iterations),
        "residual": float(res.residual),
        "seconds": res.seconds,
        "couplings_seconds": couplings_seconds,
        "message": res.message,
    }
    if args.solver.startswith("amp"):
        out["distance_to_exact"] = value(lambda: relative_distance(W, solve_exact(sg).mean))
    if args.json:
        _print_json(out)
    elif args.quiet:
        print(_table.cell(out["test_error"]))
    else:
        print("\n".join(_ground_state_text(out, g)))
    if not ok:  # exit 3: a script can tell a result that must not be used
        print(f"error: {args.solver} did not converge ({res.message}); {_CONVERGE_HINT[args.solver]}", file=sys.stderr)
        return 3
    return 0


def _ground_state_text(out: dict[str, Any], g: _GroundState) -> list[str]:
    """``ground-state``'s result for people: the measured error beside the exact population error
    of the same solution and Lu et al.'s asymptotic value, then the solver's own numbers."""
    tasks = "a fresh task per prompt" if g.pool is None else f"a pool of {g.pool} tasks"
    lines = [
        f"ground state of one spin glass: D={g.D}, N={g.N}, P={g.P} prompts ({tasks}), "
        f"λ0={g.lambda0:g}, label noise σ={g.noise:g}, seed {g.seed}",
        "",
    ]
    theory = "Lu et al. asymptotic theory at D, N, P" + ("" if g.pool is None else ", pool")
    rows = [
        (f"measured on {g.test_prompts} test prompts", out["test_error"]),
        ("population error of the solution (exact)", out["population_error"]),
        (theory, out["theory_asymptotic"]),
    ]
    if g.pool is None:
        lines += _table.table(["error E(y − ŷ)²", "fresh tasks"], rows)
    else:
        pool = [None, out["population_error_pool"], None]
        lines += _table.table(["error E(y − ŷ)²", "fresh tasks", "pool tasks"], [r + (p,) for r, p in zip(rows, pool)])
    solver = [
        ("solver", out["solver"]),
        (
            "converged",
            f"{_table.cell(out['converged'])} (iterations: {out['iterations']}, residual {out['residual']:.2g})",
        ),
        ("contrast ratio", out["contrast_ratio"]),
        ("seconds", f"{out['seconds']:.3g} solving, {out['couplings_seconds']:.3g} building J and h"),
    ]
    if "distance_to_exact" in out:
        solver.append(("distance to exact", out["distance_to_exact"]))
    return lines + [""] + _table.key_values(solver)


def cmd_list(args: argparse.Namespace) -> int:
    from .experiments import registry

    titles = registry.titles()
    w = max(map(len, titles), default=0)
    for i, title in titles.items():
        print(f"{i:<{w}}  {title}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from .experiments import params, registry

    exp = registry.get(args.id)
    rows = []
    for r in params.table(exp):
        q, f = exp.quick[r.name], exp.full[r.name]
        kind, _ = params.param_kind(r.name, q, f, own=exp.rules)
        span = params.param_rule(r.name, kind, q, f, own=exp.rules).describe() if kind in ("int", "float") else ""
        rows.append([r.name, f"{r.kind} {span}".strip(), r.quick, f"{r.full} | {r.meaning}"])  # long lists last
    print(f"{exp.id}: {exp.title}")
    print(f"override with: spinglass-icl reproduce {exp.id} --set KEY=VALUE (lists: --set KEY=a,b,c)\n")
    print("\n".join(_table.table(["parameter", "type", "quick", "full | meaning"], rows)))
    return 0


def cmd_columns(args: argparse.Namespace) -> int:
    from .experiments import columns, registry

    print("\n".join(columns.text(registry.get(args.id))))
    return 0


def old_form_folder(out: str, exp_id: str) -> str | None:
    """``--out OUT`` is the parent folder for every command: results go to OUT/ID.  The old form of
    ``demo --out`` (the experiment folder itself) still works, with a deprecation note: an OUT named
    after the experiment, or that already holds its run, is returned as the folder to use as is;
    None means the usual OUT/ID."""
    path = Path(out)
    if out.strip() and (path.name == exp_id or _holds_run(path, exp_id)):
        print(
            f"note: --out {out} names the {exp_id} folder itself (the old form of `demo --out`, deprecated); "
            f"--out is the parent folder now (results in OUT/{exp_id}): give --out {path.parent}",
            file=sys.stderr,
        )
        return str(path)
    return None


def _holds_run(path: Path, exp_id: str) -> bool:
    try:
        return json.loads((path / "config.json").read_text()).get("experiment") == exp_id
    except (OSError, ValueError, AttributeError):
        return False


def _size(args: argparse.Namespace) -> str:
    return "full" if getattr(args, "full", False) else "quick"


def _check_set(exp_id: str, args: argparse.Namespace) -> dict[str, str]:
    """``--set`` parsed, deprecated names replaced by their new ones (a note each), and checked against
    the parameters' types and ranges at once (on the experiment's module, which imports no torch or
    matplotlib until it computes or draws): a refused value is answered before anything runs.
    The runner checks everything again."""
    from .experiments import params, registry

    overrides = parse_set(args.set)
    if exp_id not in registry.ids():
        registry.get(exp_id)  # the unknown-experiment error
    if not overrides:
        return overrides
    exp = registry.get(exp_id)
    overrides = params.canonical(exp, overrides, note=lambda text: print(f"note: {text}", file=sys.stderr))
    params.check(exp, _size(args), overrides)
    return overrides


def _run(exp_id: str, args: argparse.Namespace) -> Any:
    overrides = _check_set(exp_id, args)
    folder = old_form_folder(args.out, exp_id)

    from . import validation as V
    from .experiments.runner import run

    return run(
        exp_id,
        size=_size(args),
        out=args.out,
        overrides=overrides,
        workers=args.workers,
        seed=args.seed,
        device=V.device(args.device),
        scheduler=getattr(args, "scheduler", None),
        progress=not (args.json or args.quiet),
        folder=folder,
        force=args.force,
        wait=getattr(args, "wait", False),
        dry_run=getattr(args, "dry_run", False),
        time_limit=getattr(args, "time_limit", None),
        log=None if args.quiet else lambda line: _log(line, args),
    )


def _log(line: str, args: argparse.Namespace) -> None:
    """The runner's progress lines on stderr; a dry run's estimate is its result, printed once on stdout."""
    if not (getattr(args, "dry_run", False) and line.startswith("estimate:")):
        print(line, file=sys.stderr)


def _report(s: Any, args: argparse.Namespace) -> None:
    if not args.quiet:
        _notes(s.notes)
    for point, err in s.failed:
        print(f"  FAILED {point}: {err}", file=sys.stderr)
    if args.json:
        return
    if args.quiet:
        print("\n".join(s.files))
        return
    print(
        f"{s.experiment}: {s.n_points} points ({s.n_computed} computed, {s.n_cached} from the store) "
        f"in {s.seconds:.1f} s -> {s.folder}"
    )
    print("\n".join(_table.summary(s.summary, "  ")))


def _incomplete(s: Any) -> int | None:
    """The line and exit status of a run that ended with points missing (None if none is)."""
    if not s.missing:
        return None
    from ._limits import EXIT_INCOMPLETE

    print(
        f"incomplete: {s.missing} of {s.n_points} points are missing ({s.stopped}); finished points are kept -- "
        f"run the same command again to compute only those",
        file=sys.stderr,
    )
    return EXIT_INCOMPLETE


def cmd_reproduce(args: argparse.Namespace) -> int:
    s = _run(args.id, args)
    if args.dry_run:  # checked and estimated (printed on stderr by the runner); nothing started
        print(s.estimate)
        return 0
    _report(s, args)
    incomplete = _incomplete(s)
    if args.json:
        _print_json(
            {
                "experiment": s.experiment,
                "folder": s.folder,
                "points": s.n_points,
                "computed": s.n_computed,
                "cached": s.n_cached,
                "failed": len(s.failed),
                "seconds": s.seconds,
                "summary": s.summary,
                "files": s.files,
                "notes": s.notes,
                "missing": s.missing,
            }
        )
    return incomplete if incomplete is not None else 1 if s.failed else 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .experiments.runner import plot

    if not args.out.strip():
        raise _input_error()("--out is empty; give the folder given to reproduce --out, e.g. --out results")
    folder = old_form_folder(args.out, args.id)
    for path in plot(args.id, args.out, folder=folder, log=lambda line: print(line, file=sys.stderr), to=args.to):
        print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .experiments.runner import records

    s = _run("demo", args)
    if args.dry_run:  # checked and estimated (printed on stderr by the runner); nothing started
        print(s.estimate)
        return 0
    if not args.quiet:
        _notes(s.notes)
    for point, err in s.failed:
        print(f"  FAILED {point}: {err}", file=sys.stderr)
    incomplete = _incomplete(s)
    if incomplete is not None:
        return incomplete
    recs = sorted(records(s.folder), key=lambda r: r["P"])
    if not recs:
        print("no point of the demo finished (see the FAILED lines above)", file=sys.stderr)
        return 1
    cols = [
        "P",
        "exact_test_error",
        "amp_test_error",
        "amp_converged",
        "adam_test_error",
        "exact_contrast",
        "adam_contrast",
        "zero_mode_fraction",
        "zero_mode_theory",
    ]
    if args.json or args.quiet:
        _print_json([{c: r[c] for c in cols} for r in recs]) if args.json else print("\n".join(s.files))
        return 1 if s.failed else 0
    D = recs[0]["D"]
    print(
        f"In-context learning vs task diversity P  (D={D}, N={recs[0]['N']}, D(D+1)={D * (D + 1)}, "
        f"{recs[0]['repeats']} training sets per P, test error on fresh tasks; E[y²] = 1)"
    )
    head = [
        "P",
        "ground state",
        "paper AMP",
        "Adam (merged)",
        "contrast GS",
        "contrast Adam",
        "flat fraction",
        "theory",
    ]
    rows = []
    for r in recs:
        amp_s = f"{r['amp_test_error']:.4f}" if r["amp_converged"] > 0 else "no converge"
        if 0 < r["amp_converged"] < 1:
            amp_s += "*"
        rows.append(
            [
                f"{r['P']}",
                f"{r['exact_test_error']:.4f}",
                amp_s,
                f"{r['adam_test_error']:.4f}",
                f"{r['exact_contrast']:.3f}",
                f"{r['adam_contrast']:.3f}",
                f"{r['zero_mode_fraction']:.3f}",
                f"{r['zero_mode_theory']:.3f}",
            ]
        )
    print("\n".join(_table.table(head, rows)))
    print("(* AMP converged in only some of the training sets; the paper discards the others)")
    print(f"wrote {', '.join(s.files)}")
    return 1 if s.failed else 0


# -- parser ----------------------------------------------------------------------------------------


OUT_HELP = (
    "parent folder of the results, for every command: they go to DIR/ID (created; must not be a file). "
    "Deprecated: a DIR named ID, or holding ID's results, is used as is (the old `demo --out`)"
)


def _output_options(p: argparse.ArgumentParser, json_help: str) -> None:
    """--json and --quiet (one or the other)."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--json", action="store_true", help=json_help)
    group.add_argument(
        "--quiet",
        action="store_true",
        help="for scripts: no progress, tables or notes; stdout only the final path(s) "
        "(ground-state: the measured test error), stderr only errors",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="results", metavar="DIR", help=OUT_HELP)
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a parameter, checked before anything runs; repeat for several keys, "
        "a list as KEY=a,b,c; `spinglass-icl params ID` lists the keys",
    )
    p.add_argument("--workers", type=int, default=1, help="local worker processes")
    p.add_argument("--seed", type=int, default=0, help="run seed (each point's seed derives from it)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (training only; the theory runs in float64 numpy)")
    p.add_argument(
        "--force",
        action="store_true",
        help="run even if the memory or CPU estimate is beyond the machine or a CPU-year",
    )
    p.add_argument("--wait", action="store_true", help="if another run writes the same folder, wait for it to end")
    p.add_argument("--dry-run", action="store_true", help="check the inputs, print the resource estimate, run nothing")
    p.add_argument(
        "--time-limit",
        type=_seconds,
        metavar="TIME",
        help="stop in time (e.g. a batch job's limit, less a margin): no point is started whose estimated time "
        "does not fit, points still running at TIME are stopped; exit 75, run again to go on (90, 30m, 2h)",
    )
    _output_options(p, "print strict JSON on stdout (NaN/inf as null)")


def _seconds(text: str) -> float:
    """A duration: seconds, or a number with s, m or h (``90``, ``30m``, ``1.5h``)."""
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}.get(text.strip()[-1:].lower(), 0.0)
    try:
        value = float(text.strip()[:-1] if scale else text) * (scale or 1.0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration (e.g. 90, 30m, 2h)") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive, finite duration")
    return value


def _experiment_table() -> str:
    from .experiments import registry

    titles = registry.titles()
    w = max(map(len, titles), default=0)
    return "experiments (`spinglass-icl params ID` lists an experiment's --set keys):\n" + "\n".join(
        f"  {i:<{w}}  {t}" for i, t in titles.items()
    )


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = _Parser(
        prog="spinglass-icl",
        formatter_class=_Formatter,
        description="Spin-glass theory of in-context learning (arXiv:2408.02288).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--plugin",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first: a plugin that registers experiments or architectures (repeatable; "
        "also SPINGLASS_ICL_PLUGINS=mod1,mod2 and installed entry points)",
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def add(name: str, help: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_Formatter, **kw)

    p = add("demo", f"main job: ICL emerging with task diversity ({DEMO_TIME})")
    _run_options(p)
    p.set_defaults(func=cmd_demo)

    p = add(
        "ground-state",
        "build one spin glass from fresh prompts, solve it, report its test error beside the exact population "
        "error of the solution and Lu et al.'s asymptotic theory",
    )
    p.add_argument("--D", type=int, default=20, help="token dimension D (K = (D+1)² spins)")
    p.add_argument("--N", type=int, default=100, help="context length N")
    p.add_argument("--P", type=int, default=10000, help="pre-training prompts P (one task each)")
    p.add_argument("--lambda0", type=float, default=0.01, help="L2 strength λ0 (0 = min-norm ground state)")
    p.add_argument("--noise", type=float, default=0.0, help="label noise σ of every label (query included)")
    p.add_argument(
        "--pool",
        type=int,
        default=None,
        help="task pool size: the P prompts share this many tasks (None: a fresh task each); the error on "
        "the pool's tasks is reported beside the fresh-task error",
    )
    p.add_argument("--beta", type=float, default=100.0, help="inverse temperature β (AMP solvers)")
    p.add_argument("--damping", type=float, default=0.9, help="AMP damping θ in [0, 1)")
    p.add_argument("--steps", type=int, default=None, help="AMP steps (None: 100; 1000 for amp-onsager)")
    p.add_argument(
        "--solver",
        choices=SOLVERS,
        default="exact",
        help="exact linear solve, matrix-free CG, the paper's AMP, or AMP with the Onsager term",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the training and test prompts (and AMP's start)")
    p.add_argument("--test-prompts", type=int, default=1000, help="fresh test prompts (fresh tasks)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (the solvers themselves run in float64 numpy)")
    p.add_argument("--force", action="store_true", help="run even if the memory estimate exceeds the available memory")
    _output_options(p, "one strict JSON object; seconds = solver time, couplings_seconds = building J, h")
    p.set_defaults(func=cmd_ground_state)

    p = add("list", "list the experiments (ids and titles)")
    p.set_defaults(func=cmd_list)

    p = add("params", "list an experiment's parameters: type, range, quick and full value, meaning")
    p.add_argument("id", help="experiment id (spinglass-icl list)")
    p.set_defaults(func=cmd_params)

    p = add("columns", "what each results.csv column and each printed summary key of an experiment means (unit)")
    p.add_argument("id", help="experiment id (spinglass-icl list)")
    p.set_defaults(func=cmd_columns)

    p = add("reproduce", "run an experiment (resumable) and draw its figure", epilog=_experiment_table())
    p.add_argument("id", help="experiment id (listed below)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help=f"small sizes: {QUICK_TIME} (the default size)")
    size.add_argument("--full", action="store_true", help="the paper's sizes")
    _run_options(p)
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler address tcp://host:port (from `dask scheduler`); "
        "one that does not answer in 5 s is an error",
    )
    p.set_defaults(func=cmd_reproduce)

    p = add("plot", "redraw an experiment's figure from its stored results")
    p.add_argument("id", help="experiment id")
    p.add_argument("--out", default="results", metavar="DIR", help=OUT_HELP)
    p.add_argument("--quiet", action="store_true", help="accepted as by the other commands (plot prints only paths)")
    p.add_argument(
        "--to",
        metavar="DIR",
        help="write the figure (and results.csv) into DIR and change nothing in the results folder "
        "(e.g. one published read-only); default: the results folder itself",
    )
    p.set_defaults(func=cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ._limits import STOP_SIGNALS, stop_on_signals

    handlers = _signal_handlers(STOP_SIGNALS)
    try:
        stop_on_signals()  # SIGTERM and SIGHUP end a run as Ctrl-C does: finished points kept, lock released
        args = build_parser().parse_args(argv)  # inside: the help text lists plugin experiments too
        if args.plugin:
            from .experiments import registry

            registry.load_plugins(args.plugin)
        from .validation import command_line  # messages name --options, not Python arguments

        with command_line():
            return args.func(args)
    except BrokenPipeError:  # stdout closed early (`spinglass-icl params ID | head`): stop without a traceback
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        return _one_line_error(exc)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP (_limits.Stopped): exit 128 + the signal
        import signal

        signum = getattr(exc, "signum", signal.SIGINT)
        how = "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"
        print(f"{how}: finished points are in the store; run the same command again to resume", file=sys.stderr)
        return 128 + signum
    finally:
        _restore(handlers)


def _one_line_error(exc: Exception) -> int:
    """The one ``error:`` line of an exception a user can act on, and its exit status; re-raises others."""
    from ._limits import Incomplete

    if isinstance(exc, MemoryError):  # an allocation failed although the estimate let it start (or --force)
        from ._limits import memory_limit

        what = str(exc).splitlines()[0] if str(exc) else "an allocation failed"
        print(
            f"error: out of memory ({what}); the tightest limit is {memory_limit().source}: "
            f"use smaller sizes or fewer --workers",
            file=sys.stderr,
        )
        return 2
    if not isinstance(exc, (_input_error(), Incomplete)):  # imported here: `list` and `--help` never load numpy
        raise exc
    print(f"error: {one_line(str(exc))}", file=sys.stderr)  # echoed input cannot break the line
    return exc.exit_code if isinstance(exc, Incomplete) else 2


def _signal_handlers(signals: Sequence[int]) -> dict[int, Any]:
    import signal

    return {s: signal.getsignal(s) for s in signals}


def _restore(handlers: dict[int, Any]) -> None:
    """The caller's signal handlers back (main() may run inside another program, e.g. a test)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for s, h in handlers.items():
        if h is not None:
            signal.signal(s, h)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
