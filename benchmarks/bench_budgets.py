"""Training budgets of figS8: minibatch Adam with a cosine decay vs the paper's full-batch budget.

For one model at D=20, P=10000 (one repeat, float32, explicit prompts, 1 torch thread): wall time
and held-out test error (1000 fresh prompts) of

* ``paper``: full-batch Adam, lr 1e-3, 5000 epochs, constant lr (fig4b's budget, which figS8 uses
  for SLA/FLA/MHLA);
* ``minibatch``: the budget figS8 gives SA and TF at full size (the registry's full budget,
  ``spinglass_icl.models.registry``): minibatches, cosine decay, far fewer passes over the data;

and the time ratio.  Held-out errors are printed every tenth of the run, so a plateau (or no
learning at all) is visible.  ``--paper-epochs`` shortens the paper budget (its time is then
scaled to 5000 epochs and marked so; the error is that of the shorter run).

    python benchmarks/bench_budgets.py --model fla --N 50
    python benchmarks/bench_budgets.py --model sa --N 50
    python benchmarks/bench_budgets.py --model tf --N 50 --paper-epochs 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from spinglass_icl.experiments._threads import torch_threads
from spinglass_icl.models import make_model
from spinglass_icl.prompts import PromptSpec, sample_prompts
from spinglass_icl.training import Budget, HeldOut, fit, recipe


def run(
    model: str,
    N: int,
    budget: dict,
    *,
    D: int = 20,
    P: int = 10000,
    P_test: int = 1000,
    seed: int = 0,
    weight_decay: float = 0.01,
) -> dict:
    """Train one repeat of ``model`` with ``budget`` (lr, epochs, batch_size, schedule); seconds,
    held-out error trajectory (10 evaluations) and final train loss."""
    rng, g = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    spec = PromptSpec(D=D, N=N)
    tr, te = sample_prompts(spec, P, rng), sample_prompts(spec, P_test, rng)
    t32 = lambda a: torch.as_tensor(a[None], dtype=torch.float32)  # noqa: E731
    m = make_model(model, D, 1, generator=g, dtype=torch.float32)
    t0 = time.perf_counter()
    res = fit(
        m,
        t32(tr.X),
        t32(tr.y),
        Budget(
            lr=budget["lr"],
            epochs=budget["epochs"],
            batch_size=budget["batch_size"] or 0,
            schedule=budget["schedule"] or "constant",
            weight_decay=weight_decay,
        ),
        held_out=HeldOut(t32(te.X), t32(te.y), every=max(1, budget["epochs"] // 10), restore_best=False),
        prompt_block=1000,
        generator=g,
    )
    return {"seconds": time.perf_counter() - t0, "val": res.val_loss[0], "train": float(res.train_loss[0, -1])}


def main(model: str = "fla", N: int = 50, paper_epochs: int = 5000, P: int = 10000, quick: bool = False) -> dict:
    paper = {"lr": 1e-3, "epochs": paper_epochs, "batch_size": None, "schedule": None}
    b = recipe(model if model in ("sa", "tf") else "sa", "full")  # the registry's full-size minibatch budget
    mini = {"lr": b.lr, "epochs": b.epochs, "batch_size": b.batch_size or None, "schedule": b.schedule}
    if quick:  # smoke test: tiny sizes, same code path
        paper, mini, N, P = {**paper, "epochs": 2}, {**mini, "epochs": 2, "batch_size": 20}, 10, 200
    with torch_threads(1):
        a = run(model, N, paper, P=P, D=4 if quick else 20, P_test=50 if quick else 1000)
        b = run(model, N, mini, P=P, D=4 if quick else 20, P_test=50 if quick else 1000)
    scale = 5000 / paper["epochs"] if not quick else 1.0
    t_paper = a["seconds"] * scale
    print(f"{model}, D=20, N={N}, P={P}, 1 repeat, float32, 1 thread")
    print(f"{'budget':>44} {'seconds':>9} {'final test':>10} {'train':>7}  held-out error every tenth")
    label = f"paper: full batch, lr 1e-3, {paper['epochs']} epochs" + (f" (time ×{scale:g})" if scale != 1 else "")
    for name, r, t in (
        (label, a, t_paper),
        (
            f"minibatch {mini['batch_size']}, lr {mini['lr']:g}, {mini['epochs']} epochs, {mini['schedule']}",
            b,
            b["seconds"],
        ),
    ):
        print(f"{name:>44} {t:9.1f} {r['val'][-1]:10.3f} {r['train']:7.3f}  {np.round(r['val'], 3).tolist()}")
    print(f"time ratio paper/minibatch: {t_paper / b['seconds']:.1f}")
    return {"paper": a, "minibatch": b, "ratio": t_paper / b["seconds"]}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="fla", choices=("fla", "mhla", "sa", "tf"))
    ap.add_argument("--N", type=int, default=50)
    ap.add_argument("--P", type=int, default=10000)
    ap.add_argument("--paper-epochs", type=int, default=5000)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    main(a.model, a.N, a.paper_epochs, a.P, a.quick)
