"""Command-line interface: ``spinglass-icl {demo, ground-state, list, params, reproduce, plot}``.

Every user error (bad size, λ0 < 0, β ≤ 0, unknown experiment, malformed or out-of-range --set,
an --out that is a file, a request larger than the machine's memory, a scheduler that does not
answer …) ends with one ``error: …`` line on stderr and exit code 2, never a traceback; it is
checked before anything runs.  ``--json`` output is strict JSON (NaN and inf become null).

Imports are lazy: ``--help`` and ``list`` must start in well under half a second, so nothing here
imports numpy, torch, scipy or matplotlib at module level.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, NoReturn

from ._io import strict_json

SOLVERS = ("exact", "cg", "amp", "amp-onsager")
_CONVERGE_HINT = {  # the option that helps when a solver does not converge (ground-state exit 3)
    "exact": "raise --lambda0 (the Hessian is singular to working precision)",
    "cg": "raise --lambda0 (CG needs a positive definite Hessian) or use --solver exact",
    "amp": "raise --damping or --steps, or use --solver amp-onsager or exact",
    "amp-onsager": "raise --steps or --lambda0, or use --solver exact",
}
# the one stated demo time (README quotes it, a test checks): `time spinglass-icl demo` took 7.3 s and
# 8.9 s wall on the shared 2-core machine (load ~4) at quick size, importing torch included
DEMO_TIME = "about 10 s on 2 CPU cores"


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
    each against its parameter's type and range (``validation.experiment_param``).  A key given twice
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


def cmd_ground_state(args: argparse.Namespace) -> int:
    from . import resources as R
    from . import validation as V

    V.device(args.device)
    D, N = V.positive_int("D", args.D), V.positive_int("N", args.N)
    P, T = V.positive_int("P", args.P), V.positive_int("test-prompts", args.test_prompts)
    lambda0 = V.nonneg("lambda0", args.lambda0)
    if args.seed < 0:
        raise V.InputError(f"seed must be >= 0, got {args.seed}")
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
    R.memory(
        f"ground-state --D {D} --P {P} ({args.solver})",
        need,
        force=args.force,
        hint="use a smaller --D/--P (or --solver cg, which never forms the K×K matrix)",
    )

    import numpy as np

    from .metrics import contrast_ratio, query_error
    from .prompts import PromptSpec, sample_features
    from .solvers.amp import amp
    from .solvers.exact import auto_method, solve_cg, solve_exact
    from .spinglass import SpinGlass

    spec = PromptSpec(D=D, N=N)
    rng = np.random.default_rng(args.seed)
    train = sample_features(spec, P, rng)
    test = sample_features(spec, T, rng)
    # build the couplings/fields the solver reads first, so `seconds` is the solver's own time
    t0 = time.perf_counter()
    sg = SpinGlass(train, lambda0)
    _ = sg.h
    if args.solver.startswith("amp"):
        _ = sg.J
    elif args.solver == "exact" and auto_method(sg) == "cholesky":
        _ = sg.gram_effective
    couplings_seconds = time.perf_counter() - t0
    if args.solver == "exact":
        res = solve_exact(sg)
    elif args.solver == "cg":
        res = solve_cg(sg)
    else:
        # the paper's AMP runs as published; the Onsager version is run to an exact-solution residual
        kw = dict(beta=args.beta, damping=args.damping, steps=args.steps, rng=rng)
        if args.solver == "amp-onsager":
            res = amp(sg, **kw, onsager=True, init="cavity", criterion="residual", tol=1e-10, step="conjugate")
        else:
            res = amp(sg, **kw)
    ok = bool(res.converged)
    out = {
        "solver": res.solver,
        "D": D,
        "N": N,
        "P": P,
        "lambda0": lambda0,
        "seed": args.seed,
        "test_error": float(query_error(res.mean, test)) if ok else None,
        "contrast_ratio": float(contrast_ratio(res.mean)) if ok else None,
        "converged": ok,
        "iterations": int(res.iterations),
        "residual": float(res.residual),
        "seconds": res.seconds,
        "couplings_seconds": couplings_seconds,
        "message": res.message,
    }
    if args.solver.startswith("amp"):
        exact = solve_exact(sg).mean
        out["distance_to_exact"] = float(np.linalg.norm(res.mean - exact) / np.linalg.norm(exact)) if ok else None
    if args.json:
        _print_json(out)
    else:
        for k, v in out.items():
            print(f"{k:>17}: {v}")
    if not ok:  # exit 3: a script can tell a result that must not be used
        print(f"error: {args.solver} did not converge ({res.message}); {_CONVERGE_HINT[args.solver]}", file=sys.stderr)
        return 3
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .experiments import registry

    titles = registry.titles()
    w = max(map(len, titles), default=0)
    for i, title in titles.items():
        print(f"{i:<{w}}  {title}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from . import validation as V
    from .experiments import registry

    exp = registry.get(args.id)
    docs = registry.parameter_docs(args.id)
    rows = []
    for key in exp.quick:
        q, f = exp.quick[key], exp.full[key]
        kind, is_list = V.param_kind(key, q, f)
        rule = V.param_rule(key, kind, q, f)
        allowed = rule.describe() if kind in ("int", "float") else ""
        typ = f"{'list of ' if is_list else ''}{kind}{' ' + allowed if allowed else ''}"
        meaning = docs.get(key) or V.PARAMETER_RULES.get(key, V.Rule()).doc or "(not described in the catalog module)"
        rows.append((key, typ, json.dumps(q), json.dumps(f), meaning))
    print(f"{exp.id}: {exp.title}")
    print(f"override with: spinglass-icl reproduce {exp.id} --set KEY=VALUE (lists: --set KEY=a,b,c)\n")
    w = [max(len(r[i]) for r in rows + [("parameter", "type", "quick", "full", "")]) for i in range(3)]
    print(f"{'parameter':<{w[0]}}  {'type':<{w[1]}}  {'quick':<{w[2]}}  full | meaning")
    for key, typ, q, f, meaning in rows:
        print(f"{key:<{w[0]}}  {typ:<{w[1]}}  {q:<{w[2]}}  {f} | {meaning}")
    return 0


def _run(exp_id: str, args: argparse.Namespace, folder: str | None = None):
    from . import validation as V
    from .experiments.runner import run

    size = "full" if getattr(args, "full", False) else "quick"
    return run(
        exp_id,
        size=size,
        out=args.out,
        overrides=parse_set(args.set),
        workers=args.workers,
        seed=args.seed,
        device=V.device(args.device),
        scheduler=getattr(args, "scheduler", None),
        progress=not args.json,
        folder=folder,
        force=args.force,
        wait=getattr(args, "wait", False),
        dry_run=getattr(args, "dry_run", False),
        log=lambda line: print(line, file=sys.stderr),
    )


def _report(s, as_json: bool) -> None:
    _notes(s.notes)
    for point, err in s.failed:
        print(f"  FAILED {point}: {err}", file=sys.stderr)
    if as_json:
        return
    print(
        f"{s.experiment}: {s.n_points} points ({s.n_computed} computed, {s.n_cached} from the store) "
        f"in {s.seconds:.1f} s -> {s.folder}"
    )
    for k, v in s.summary.items():
        print(f"  {k}: {v}")


def cmd_reproduce(args: argparse.Namespace) -> int:
    s = _run(args.id, args)
    if args.dry_run:  # checked and estimated (printed on stderr by the runner); nothing started
        print(s.estimate)
        return 0
    _report(s, args.json)
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
            }
        )
    return 1 if s.failed else 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .experiments.runner import plot

    if not args.out.strip():
        raise _input_error()("--out is empty; give the folder given to reproduce --out, e.g. --out results")
    for path in plot(args.id, args.out):
        print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .experiments.runner import records

    s = _run("demo", args, folder=args.out)
    _notes(s.notes)
    for point, err in s.failed:
        print(f"  FAILED {point}: {err}", file=sys.stderr)
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
    if args.json:
        _print_json([{c: r[c] for c in cols} for r in recs])
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
    print("  ".join(f"{h:>13}" for h in head))
    for r in recs:
        amp_s = f"{r['amp_test_error']:.4f}" if r["amp_converged"] > 0 else "no converge"
        if 0 < r["amp_converged"] < 1:
            amp_s += "*"
        vals = [
            f"{r['P']}",
            f"{r['exact_test_error']:.4f}",
            amp_s,
            f"{r['adam_test_error']:.4f}",
            f"{r['exact_contrast']:.3f}",
            f"{r['adam_contrast']:.3f}",
            f"{r['zero_mode_fraction']:.3f}",
            f"{r['zero_mode_theory']:.3f}",
        ]
        print("  ".join(f"{v:>13}" for v in vals))
    print("(* AMP converged in only some of the training sets; the paper discards the others)")
    print(f"wrote {', '.join(s.files)}")
    return 1 if s.failed else 0


# -- parser ----------------------------------------------------------------------------------------


def _run_options(p: argparse.ArgumentParser, out_default: str) -> None:
    p.add_argument("--out", default=out_default, metavar="DIR", help="output folder (created; must not be a file)")
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
        "--force", action="store_true", help="run even if the memory or CPU estimate is beyond the machine or a CPU-year"
    )
    p.add_argument("--wait", action="store_true", help="if another run writes the same folder, wait for it to end")
    p.add_argument("--dry-run", action="store_true", help="check the inputs, print the resource estimate, run nothing")
    p.add_argument("--json", action="store_true", help="print strict JSON on stdout (NaN/inf as null)")


def _experiment_table() -> str:
    from .experiments import registry

    titles = registry.titles()
    w = max(map(len, titles), default=0)
    return "experiments (`spinglass-icl params ID` lists an experiment's --set keys):\n" + "\n".join(
        f"  {i:<{w}}  {t}" for i, t in titles.items()
    )


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(
        prog="spinglass-icl",
        formatter_class=_Formatter,
        description="Spin-glass theory of in-context learning (arXiv:2408.02288).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    def add(name: str, help: str, **kw) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, formatter_class=_Formatter, **kw)

    p = add("demo", f"main job: ICL emerging with task diversity ({DEMO_TIME})")
    _run_options(p, "results/demo")
    p.set_defaults(func=cmd_demo)

    p = add("ground-state", "build one spin glass from fresh prompts, solve it, report test error")
    p.add_argument("--D", type=int, default=20, help="token dimension D (K = (D+1)² spins)")
    p.add_argument("--N", type=int, default=100, help="context length N")
    p.add_argument("--P", type=int, default=10000, help="pre-training prompts P (one task each)")
    p.add_argument("--lambda0", type=float, default=0.01, help="L2 strength λ0 (0 = min-norm ground state)")
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
    p.add_argument(
        "--json",
        action="store_true",
        help="one strict JSON object; seconds = solver time, couplings_seconds = building J, h",
    )
    p.set_defaults(func=cmd_ground_state)

    p = add("list", "list the experiments (ids and titles)")
    p.set_defaults(func=cmd_list)

    p = add("params", "list an experiment's parameters: type, range, quick and full value, meaning")
    p.add_argument("id", help="experiment id (spinglass-icl list)")
    p.set_defaults(func=cmd_params)

    p = add("reproduce", "run an experiment (resumable) and draw its figure", epilog=_experiment_table())
    p.add_argument("id", help="experiment id (listed below)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about a minute on a laptop CPU (the default size)")
    size.add_argument("--full", action="store_true", help="the paper's sizes")
    _run_options(p, "results")
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler address tcp://host:port (from `dask scheduler`); "
        "one that does not answer in 5 s is an error",
    )
    p.set_defaults(func=cmd_reproduce)

    p = add("plot", "redraw an experiment's figure from its stored results")
    p.add_argument("id", help="experiment id")
    p.add_argument("--out", default="results", metavar="DIR", help="the folder given to reproduce --out")
    p.set_defaults(func=cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except Exception as exc:
        if not isinstance(exc, _input_error()):  # imported here: `list` and `--help` never load numpy
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished points are in the store; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
