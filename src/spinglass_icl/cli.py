"""Command-line interface: ``spinglass-icl {demo, ground-state, list, reproduce, plot}``.

Every user error (bad size, λ0 < 0, β ≤ 0, unknown experiment, malformed --set …) ends with a
one-line ``error: …`` on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from . import validation as V

SOLVERS = ("exact", "cg", "amp", "amp-onsager")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors: one line, exit 2
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def parse_set(items: Sequence[str] | None) -> dict[str, Any]:
    """``key=value`` pairs: values are JSON when they parse (1, 0.5, true, [1,2]), a comma list
    becomes a list (``N=20,100``), anything else stays a string."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise V.InputError(f"--set expects key=value, got {item!r}")

        def one(s: str) -> Any:
            try:
                return json.loads(s)
            except json.JSONDecodeError:
                return s

        out[key.strip()] = [one(s) for s in raw.split(",")] if "," in raw and not raw.lstrip().startswith("[") else one(raw)
    return out


def _json_default(x: Any) -> Any:
    import numpy as np

    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (np.floating, np.integer, np.bool_)):
        return x.item()
    return str(x)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, default=_json_default, allow_nan=True))


# -- commands ------------------------------------------------------------------------------------

def cmd_ground_state(args: argparse.Namespace) -> int:
    import numpy as np

    from .metrics import contrast_ratio, test_error
    from .prompts import PromptSpec, sample_features
    from .solvers.amp import amp
    from .solvers.exact import solve_cg, solve_exact
    from .spinglass import SpinGlass

    V.device(args.device)
    V.positive("beta", args.beta)
    V.damping(args.damping)
    if args.steps is None:
        args.steps = 1000 if args.solver == "amp-onsager" else 100
    V.positive_int("steps", args.steps)
    spec = PromptSpec(D=args.D, N=args.N)
    rng = np.random.default_rng(args.seed)
    train = sample_features(spec, V.positive_int("P", args.P), rng)
    test = sample_features(spec, V.positive_int("test-prompts", args.test_prompts), rng)
    sg = SpinGlass(train, V.nonneg("lambda0", args.lambda0))
    if args.solver == "exact":
        res = solve_exact(sg)
    elif args.solver == "cg":
        res = solve_cg(sg)
    else:
        # the paper's AMP runs as published; the Onsager version is run to an exact-solution residual
        careful = dict(init="cavity", criterion="residual", tol=1e-10) if args.solver == "amp-onsager" else {}
        res = amp(sg, beta=args.beta, damping=args.damping, steps=args.steps, seed=rng,
                  onsager=args.solver == "amp-onsager", **careful)
    ok = bool(res.converged)
    out = {
        "solver": res.solver, "D": args.D, "N": args.N, "P": args.P, "lambda0": args.lambda0, "seed": args.seed,
        "test_error": float(test_error(res.mean, test)) if ok else None,
        "contrast_ratio": float(contrast_ratio(res.mean)) if ok else None,
        "converged": ok, "iterations": int(res.iterations), "residual": float(res.residual),
        "seconds": res.seconds, "message": res.message,
    }
    if args.solver.startswith("amp"):
        exact = solve_exact(sg).mean
        out["distance_to_exact"] = float(np.linalg.norm(res.mean - exact) / np.linalg.norm(exact)) if ok else None
    if args.json:
        _print_json(out)
    else:
        for k, v in out.items():
            print(f"{k:>17}: {v}")
        if not ok:
            print(f"solver did not converge: {res.message}", file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from .experiments import registry

    for i in registry.ids():
        print(f"{i:<7} {registry.get(i).title}")
    return 0


def _run(exp_id: str, args: argparse.Namespace, folder: str | None = None):
    from .experiments.runner import run

    size = "full" if getattr(args, "full", False) else "quick"
    return run(exp_id, size=size, out=args.out, overrides=parse_set(args.set), workers=args.workers,
               seed=args.seed, device=V.device(args.device), scheduler=getattr(args, "scheduler", None),
               progress=not args.json, folder=folder)


def _report(s, as_json: bool) -> None:
    if as_json:
        return
    print(f"{s.experiment}: {s.n_points} points ({s.n_computed} computed, {s.n_cached} from the store) "
          f"in {s.seconds:.1f} s -> {s.folder}")
    for point, err in s.failed:
        print(f"  FAILED {point}: {err}", file=sys.stderr)
    for k, v in s.summary.items():
        print(f"  {k}: {v}")


def cmd_reproduce(args: argparse.Namespace) -> int:
    s = _run(args.id, args)
    _report(s, args.json)
    if args.json:
        _print_json({"experiment": s.experiment, "folder": s.folder, "points": s.n_points,
                     "computed": s.n_computed, "cached": s.n_cached, "failed": len(s.failed),
                     "seconds": s.seconds, "summary": s.summary, "files": s.files})
    return 1 if s.failed else 0


def cmd_plot(args: argparse.Namespace) -> int:
    from .experiments.runner import plot

    for path in plot(args.id, args.out):
        print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .experiments.runner import records

    s = _run("demo", args, folder=args.out)
    recs = sorted(records(s.folder), key=lambda r: r["P"])
    cols = ["P", "exact_test_error", "amp_test_error", "amp_converged", "adam_test_error", "exact_contrast",
            "adam_contrast", "zero_mode_fraction", "zero_mode_theory"]
    if args.json:
        _print_json([{c: r[c] for c in cols} for r in recs])
        return 0
    D = recs[0]["D"]
    print(f"In-context learning vs task diversity P  (D={D}, N={recs[0]['N']}, D(D+1)={D * (D + 1)}, "
          f"{recs[0]['repeats']} training sets per P, test error on fresh tasks; E[y²] = 1)")
    head = ["P", "ground state", "paper AMP", "Adam (merged)", "contrast GS", "contrast Adam", "flat fraction", "theory"]
    print("  ".join(f"{h:>13}" for h in head))
    for r in recs:
        amp_s = f"{r['amp_test_error']:.4f}" if r["amp_converged"] > 0 else "no converge"
        if 0 < r["amp_converged"] < 1:
            amp_s += "*"
        vals = [f"{r['P']}", f"{r['exact_test_error']:.4f}", amp_s, f"{r['adam_test_error']:.4f}",
                f"{r['exact_contrast']:.3f}", f"{r['adam_contrast']:.3f}", f"{r['zero_mode_fraction']:.3f}",
                f"{r['zero_mode_theory']:.3f}"]
        print("  ".join(f"{v:>13}" for v in vals))
    print("(* AMP converged in only some of the training sets; the paper discards the others)")
    print(f"wrote {', '.join(s.files)}")
    return 0


# -- parser ----------------------------------------------------------------------------------------

def _run_options(p: argparse.ArgumentParser, out_default: str) -> None:
    p.add_argument("--out", default=out_default, help=f"output folder (default {out_default})")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a parameter (repeatable)")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--seed", type=int, default=0, help="run seed (default 0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="spinglass-icl", description="Spin-glass theory of in-context learning (arXiv:2408.02288).")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("demo", help="main job: ICL emerging with task diversity (about a minute on a CPU)")
    _run_options(p, "results/demo")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ground-state", help="build one spin glass, solve it, report test error as JSON")
    p.add_argument("--D", type=int, default=20)
    p.add_argument("--N", type=int, default=100)
    p.add_argument("--P", type=int, default=10000)
    p.add_argument("--lambda0", type=float, default=0.01, help="L2 strength λ0 (0 = min-norm ground state)")
    p.add_argument("--beta", type=float, default=100.0)
    p.add_argument("--damping", type=float, default=0.9)
    p.add_argument("--steps", type=int, default=None, help="AMP steps (default 100; 1000 for amp-onsager)")
    p.add_argument("--solver", choices=SOLVERS, default="exact")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--test-prompts", type=int, default=1000)
    p.add_argument("--device", default="cpu", help="cpu or cuda (the solvers themselves run in float64 numpy)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ground_state)

    p = sub.add_parser("list", help="list the experiments")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("reproduce", help="run an experiment (resumable) and draw its figure")
    p.add_argument("id")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="about a minute on a laptop CPU (default)")
    size.add_argument("--full", action="store_true", help="the paper's sizes")
    _run_options(p, "results")
    p.add_argument("--scheduler", metavar="ADDRESS", help="dask.distributed scheduler address (tcp://host:8786)")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("plot", help="redraw an experiment's figure from its stored results")
    p.add_argument("id")
    p.add_argument("--out", default="results")
    p.set_defaults(func=cmd_plot)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except V.InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished points are in the store; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
