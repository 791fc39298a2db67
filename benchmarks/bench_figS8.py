"""Cost of one full-size figS8 point per model, before (the old recipes) and after (the registry's), side by side.

A point = one model, one N, one batch of 5 repeats at D=20, P=10000, P_test=1000, float32, one torch
thread, as ``reproduce figS8 --full`` computes it.  ``setup`` (drawing the prompts, their features
or statistics, the exact ground state) is measured per point; training is timed for at most ``--cap``
epochs (the first epoch included) and scaled linearly to the recipe's epochs -- the time per epoch of a
fixed-size step does not depend on the learning rate or schedule.  Rows whose training was scaled are
marked ``*``.  AMP and SLA are run whole.

    python benchmarks/bench_figS8.py                 # N = 100 and 200
    python benchmarks/bench_figS8.py --N 100 --cap 3
"""

from __future__ import annotations

import argparse
import time

import torch

from spinglass_icl.experiments._threads import torch_threads
from spinglass_icl.experiments.catalog import figS8
from spinglass_icl.experiments.draws import generators
from spinglass_icl.experiments.trained_models import draw_data
from spinglass_icl.models import get, make_model
from spinglass_icl.solvers import solve_exact
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.training import Budget, HeldOut, context_prefix, curriculum_context, fit

# The recipes figS8 used before the registry (commit ce341af): the linear models fig4b's 5000 full-batch
# epochs; SA and TF their minibatch budgets, weight decay 0.01 for all.
OLD = {
    "sla": Budget(lr=1e-3, epochs=5000),
    "fla": Budget(lr=1e-3, epochs=5000),
    "mhla": Budget(lr=1e-3, epochs=5000),
    "sa": Budget(lr=1e-2, epochs=200, batch_size=500, schedule="cosine"),
    "tf": Budget(lr=1e-3, epochs=50, batch_size=250, schedule="cosine"),
}
OLD_OPTIONS = {"tf": {"d_model": 32}, "mhla": {"heads": 2}}


def point(N: int, model: str, *, repeats: int = 5, quick: bool = False) -> dict:
    p = figS8.EXPERIMENT.params("quick" if quick else "full", {"N": N, "repeats": repeats, "models": model})
    return figS8.points(p)[0]


def clock(device: str) -> float:
    """CPU time of this process on the CPU; wall time after a synchronisation on a GPU."""
    if device == "cpu":
        return time.process_time()
    torch.cuda.synchronize()
    return time.perf_counter()


def train_seconds(pt: dict, name: str, b: Budget, options: dict, cap: int, device: str = "cpu") -> tuple[float, bool]:
    """Seconds of training ``name`` with budget b on the point's data, each stage (a curriculum's cut
    prompts, then the whole prompts) timed for ≤ cap epochs and scaled to its epochs."""
    rng, tgen = generators(0)
    arch = get(name)
    (_, X, y), _, *held_out = draw_data(pt, rng, arch, torch.float32, device)
    val = HeldOut(held_out[0][1], held_out[0][2]) if held_out else None  # evaluated every epoch
    model = make_model(name, pt["D"], pt["repeats"], generator=tgen, device=device, **options)
    chunk = None if arch.accepts_stats else 1000
    stages = [(X, b.epochs)]
    if b.curriculum_epochs:
        stages.insert(0, (context_prefix(X, curriculum_context(pt["N"], b.curriculum_frac)), b.curriculum_epochs))
    total, scaled = 0.0, False
    for Xs, epochs in stages:
        run = Budget(**{**b.__dict__, "epochs": min(epochs, cap), "warmup": 0, "curriculum_epochs": 0})
        t0 = clock(device)
        fit(model, Xs, y, run, generator=tgen, held_out=val, prompt_block=chunk)
        total += (clock(device) - t0) * epochs / run.epochs
        scaled |= run.epochs < epochs
    return total, scaled


def setup_seconds(pt: dict) -> float:
    """Drawing the prompts (features, statistics or explicit) and the exact ground state."""
    rng, _ = generators(0)
    t0 = time.process_time()
    (f, _, _), *_ = draw_data(pt, rng, get(pt["model"]) if pt["model"] != "amp" else None, torch.float32, "cpu")
    solve_exact(SpinGlass(f, pt["weight_decay"] / 2))
    return time.process_time() - t0


def main(
    Ns=(100, 200),
    cap: int = 2,
    quick: bool = False,
    device: str = "cpu",
    models=("amp", "sla", "fla", "mhla", "sa", "tf"),
) -> list[dict]:
    rows = []
    with torch_threads(1):
        for N in Ns:
            for name in models:
                pt = point(N, name, quick=quick)
                if name in ("amp", "sla"):  # cheap: the whole point, same recipe before and after (SLA: Gram form)
                    t0 = clock(device)
                    figS8.compute(pt, 0, device)
                    old = new = clock(device) - t0
                    scaled = (False, False)
                else:
                    setup = setup_seconds(pt)
                    b_new = figS8_budget(pt, name)
                    opts_new = {k: pt[f"{name}_{k}"] for k in get(name).full_options if pt.get(f"{name}_{k}")}
                    old_b = OLD[name] if not quick else Budget(**{**OLD[name].__dict__, "batch_size": 0})
                    t_old, s_old = train_seconds(pt, name, old_b, OLD_OPTIONS.get(name, {}), cap, device)
                    t_new, s_new = train_seconds(pt, name, b_new, opts_new, cap, device)
                    old, new, scaled = setup + t_old, setup + t_new, (s_old, s_new)
                rows.append({"N": N, "model": name, "old": old, "new": new, "scaled": scaled})
                print(
                    f"N={N:4d} {name:5s} before {old:9.1f}{'*' if scaled[0] else ' '} s   after {new:9.1f}"
                    f"{'*' if scaled[1] else ' '} s   ratio {old / new:6.1f}",
                    flush=True,
                )
    return rows


def figS8_budget(pt: dict, name: str) -> Budget:
    from spinglass_icl.experiments.trained_models import budget

    return budget(name, pt)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--N", default="100,200")
    ap.add_argument("--cap", type=int, default=2, help="train at most this many epochs and scale (default 2)")
    ap.add_argument("--device", default="cpu", help="cpu (CPU seconds) or cuda (wall seconds)")
    ap.add_argument("--models", default="amp,sla,fla,mhla,sa,tf", help="comma list (default: all six)")
    a = ap.parse_args()
    print(
        f"one figS8 point = 5 repeats, D=20, P=10000, float32, 1 thread, {a.device}; seconds (* = training scaled "
        f"from <= {a.cap} epochs)"
    )
    rows = main(tuple(int(n) for n in a.N.split(",")), a.cap, device=a.device, models=tuple(a.models.split(",")))
    for N in sorted({r["N"] for r in rows}):
        old = sum(r["old"] for r in rows if r["N"] == N)
        new = sum(r["new"] for r in rows if r["N"] == N)
        print(f"N={N}: {a.models} {old:.0f} s before, {new:.0f} s after")
