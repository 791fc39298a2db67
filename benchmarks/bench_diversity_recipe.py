"""Recipe study for the diversity experiment at Raventós's signal-to-noise ratio (σ = 0.5/√D): which model and
budget reaches ridge at M = ∞ (fresh tasks) and dMMSE on pool tasks at small M, under the fresh protocol.

Every variant trains R stacked repeats with :func:`spinglass_icl.training.train` on a
:class:`~spinglass_icl.training.PoolSampler` (P fresh prompts from the pool before every epoch) and prints,
per M, the pool-task (id) error over dMMSE's and the fresh-task (ood) error over ridge's, with dMMSE/ridge
computed on the same test prompts (:mod:`spinglass_icl.bayes`), and the CPU seconds.  JSON lines to ``--log``.

    python benchmarks/bench_diversity_recipe.py --D 4 --N 8 --M 1,4,16,0 --variants lintf2,tf32 --repeats 2

A variant is a name in VARIANTS: an architecture, its options and a Budget (epochs of P prompts).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch

from spinglass_icl.bayes import dmmse_predict, ridge_predict
from spinglass_icl.prompts import PromptSpec, prompts_for_tasks
from spinglass_icl.training import Budget, PoolSampler, train

# study round 1 (REPRODUCTION.md, diversity): 3000 Adam steps of 100 fresh prompts (150 epochs of P = 2000)
_LIN = dict(lr=1e-2, epochs=150, batch_size=100, schedule="cosine", warmup=5, weight_decay=0.0)
_TF = dict(lr=3e-3, epochs=150, batch_size=100, schedule="cosine", warmup=5, weight_decay=0.0)
VARIANTS: dict[str, dict] = {
    "fla": dict(model="fla", opts={}, budget=_LIN),
    "lintf1": dict(model="lintf", opts={"layers": 1}, budget=_LIN),
    "lintf2": dict(model="lintf", opts={"layers": 2}, budget=_LIN),
    "lintf4": dict(model="lintf", opts={"layers": 4}, budget=_LIN),
    "tf32": dict(model="tf", opts={"d_model": 32}, budget=_TF),
    "tf32_l4": dict(model="tf", opts={"d_model": 32, "layers": 4}, budget=_TF),
}


def test_sets(spec: PromptSpec, pools: np.ndarray | None, R: int, n: int, rng: np.random.Generator) -> dict:
    """Pool-task (id) and fresh-task (ood) test prompts per repeat, with dMMSE and ridge predictions."""
    out: dict = {}
    for split in ("id", "ood"):
        Xs, ys, dm = [], [], []
        for r in range(R):
            if split == "id" and pools is not None:
                w = pools[r][rng.integers(0, pools.shape[1], size=n)]
            else:
                w = rng.standard_normal((n, spec.D))
            q = prompts_for_tasks(spec, w, rng)
            Xs.append(q.X)
            ys.append(q.y)
            dm.append(dmmse_predict(q.X, pools[r], spec.noise) if pools is not None else ridge_predict(q.X, spec.noise))
        X, y = np.stack(Xs), np.stack(ys)
        out[split] = (X, y, np.stack(dm), ridge_predict(X, spec.noise))
    return out


# the smoke test's size (tests/test_benchmarks_smoke.py): a few steps of one small variant
QUICK = ["--D", "2", "--N", "4", "--M", "1,0", "--P", "50", "--epochs", "6", "--repeats", "1", "--P_test", "50"]


def main(quick: bool = False, argv: list[str] | None = None) -> list[dict]:
    """Train every variant at every M; the rows printed (also returned)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=4)
    ap.add_argument("--N", type=int, default=8)
    ap.add_argument("--M", default="1,4,16,0", help="pool sizes (0: M = ∞)")
    ap.add_argument("--P", type=int, default=2000, help="prompts per epoch")
    ap.add_argument("--epochs", type=int, default=0, help="override every variant's epochs (0: keep)")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--P_test", type=int, default=1000)
    ap.add_argument("--variants", default="lintf2,tf32")
    ap.add_argument("--log", default="")
    a = ap.parse_args([*QUICK, "--variants", "lintf2"] if quick else argv)
    rows = []
    torch.set_num_threads(1)
    noise = 0.5 / math.sqrt(a.D)
    spec = PromptSpec(D=a.D, N=a.N, noise=noise)
    for M in (int(m) for m in a.M.split(",")):
        rng = np.random.default_rng(1000 + M)
        pools = rng.standard_normal((a.repeats, M, a.D)) if M else None
        tests = test_sets(spec, pools, a.repeats, a.P_test, rng)
        for name in a.variants.split(","):
            v = VARIANTS[name]
            budget = Budget(**{**v["budget"], **({"epochs": a.epochs} if a.epochs else {})})
            sampler = PoolSampler(spec, pools, a.P, a.repeats, np.random.default_rng(M + 7))
            t0, c0 = time.perf_counter(), time.process_time()
            tr = train(v["model"], sampler, budget, generator=torch.Generator().manual_seed(M), options=v["opts"])
            row = {"variant": name, "D": a.D, "N": a.N, "noise": noise, "M": M, "P": a.P, "epochs": budget.epochs}
            for split, (X, y, dm, ri) in tests.items():
                yhat = tr.predict(X, prompt_block=1000)
                err = np.mean((yhat - y) ** 2, axis=1)
                row[f"{split}_over_dmmse"] = (err / np.mean((dm - y) ** 2, axis=1)).round(3).tolist()
                row[f"{split}_over_ridge"] = (err / np.mean((ri - y) ** 2, axis=1)).round(3).tolist()
                row[f"{split}_closer_to_ridge"] = bool(np.mean((yhat - ri) ** 2) < np.mean((yhat - dm) ** 2))
            row.update(seconds=round(time.perf_counter() - t0, 1), cpu=round(time.process_time() - c0, 1))
            row["sequences"] = tr.sequences
            rows.append(row)
            print(json.dumps(row), flush=True)
            if a.log:
                with open(a.log, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
    return rows


if __name__ == "__main__":
    main()
