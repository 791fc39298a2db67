"""Recipe study for figS8's softmax models (SA, TF) at the full data size (D=20, P=10000, fresh test tasks).

Every variant trains R stacked repeats (seeds 0..R-1 of the data) at each N and prints, per N, the
test error of every repeat, the ŷ = 0 error of the same test set, the number of stuck repeats
(test >= 0.8 × trivial) and the CPU seconds.  Results are appended as JSON lines to ``--log``.

    python benchmarks/bench_figS8_recipe.py --variants sa_base,sa_wd0 --N 40,100,200 --repeats 3

A variant is a name in VARIANTS (a training budget plus model options, optionally a curriculum over N
``curr=(frac, epochs)`` and held-out prompts ``val``), or ``sa_registry`` / ``tf_registry`` for the budget
the registry declares; the data of (N, seed) -- training, test and held-out prompts -- are drawn once and
shared by all variants.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from spinglass_icl.models import make_model
from spinglass_icl.prompts import PromptSpec, sample_prompts
from spinglass_icl.training import Budget, HeldOut, context_prefix, curriculum_context, fit, mse, recipe

_TF = dict(model="tf", lr=3e-3, epochs=8, batch=250, warm=1, wd=0.0, kw=dict(d_model=32))


def _tf(**changes) -> dict:
    """A TF variant: the first-round budget (lr 3e-3, 8 epochs of 250, 1 warm-up, wd 0, d_model 32) with changes."""
    return {**_TF, **changes}


_CURR = dict(epochs=6, curr=(0.25, 16))  # 16 epochs on the first N/4 context examples, then 6 on whole prompts
_ES2 = dict(val=True, val_first=True)  # the epoch of lowest loss on P_test held-out prompts, in both stages

VARIANTS: dict[str, dict] = {
    # the old SA budget (shorter): lr 1e-2, batch 500, cosine, wd 0.01
    "sa_base": dict(model="sa", lr=1e-2, epochs=30, batch=500, warm=0, wd=0.01),
    "sa_wd0": dict(model="sa", lr=1e-2, epochs=30, batch=500, warm=0, wd=0.0),
    "sa_warm": dict(model="sa", lr=3e-2, epochs=30, batch=500, warm=3, wd=0.0),
    "sa_b100": dict(model="sa", lr=3e-3, epochs=30, batch=100, warm=0, wd=0.0),
    "sa_vy": dict(model="sa", lr=1e-2, epochs=30, batch=500, warm=0, wd=0.01, init="vy"),
    "sa_vy_wd0": dict(model="sa", lr=1e-2, epochs=30, batch=500, warm=0, wd=0.0, init="vy"),
    "sa_kq3": dict(model="sa", lr=1e-2, epochs=30, batch=500, warm=0, wd=0.0, init="kq3"),
    "sa_vy_short": dict(model="sa", lr=1e-2, epochs=10, batch=500, warm=1, wd=0.0, init="vy"),
    "tf_base": _tf(lr=1e-3, warm=0, wd=0.01),
    "tf_warm": _tf(),
    "tf_d16": _tf(kw=dict(d_model=16)),
    "tf_d16_b100": _tf(lr=1e-3, batch=100, kw=dict(d_model=16)),
    "tf_lr1e2": _tf(lr=1e-2),
    "tf_b100": _tf(lr=2e-3, batch=100),
    "tf_curr": _tf(**_CURR),
    "tf_curr_b100": _tf(lr=2e-3, batch=100, **_CURR),
    "tf_curr_b100_es": _tf(lr=2e-3, batch=100, val=True, **_CURR),  # held out in the second stage only
    "tf_curr_b100_es2": _tf(lr=2e-3, batch=100, **_CURR, **_ES2),
    "tf_es2_lr3e3": _tf(batch=100, **_CURR, **_ES2),  # = the registry's TF budget
}


def registry_variant(model: str) -> dict:
    """The registry's declared full-size budget and options of ``model`` as a variant."""
    from spinglass_icl.models import get

    arch = get(model)
    b = recipe(arch, "full")
    v = dict(
        model=model,
        lr=b.lr,
        epochs=b.epochs,
        batch=b.batch_size or None,
        warm=b.warmup,
        wd=b.weight_decay,
        schedule=b.schedule,
        kw=dict(arch.full_options),
    )
    if b.curriculum_epochs:
        v["curr"] = (b.curriculum_frac, b.curriculum_epochs)
    if b.val_prompts:  # held-out prompts (this script draws P_test of them) watched in every stage
        v.update(val=True, val_first=True)
    return v


def data(N: int, seeds: list[int], P: int, P_test: int, D: int = 20):
    spec = PromptSpec(D=D, N=N)
    out = []
    for n, off in ((P, 0), (P_test, 1000), (P_test, 2000)):
        Xs, ys = [], []
        for s in seeds:
            q = sample_prompts(spec, n, np.random.default_rng([N, s, off]))
            Xs.append(torch.as_tensor(q.X, dtype=torch.float32))
            ys.append(torch.as_tensor(q.y, dtype=torch.float32))
        out.append((torch.stack(Xs), torch.stack(ys)))
    return out


def run(name: str, v: dict, N: int, train, test, seed: int, D: int = 20, val=None) -> dict:
    (X, y), (Xt, yt) = train, test
    R = X.shape[0]
    g = torch.Generator().manual_seed(seed)
    model = make_model(v["model"], D, R, generator=g, dtype=torch.float32, **v.get("kw", {}))
    with torch.no_grad():
        if v.get("init") == "vy":  # the value's label row reads the label: W^V[D+1, :] = e_{D+1}
            model.Wv[:, D, :] = 0
            model.Wv[:, D, D] = 1
        if v.get("init") == "kq3":
            model.Wq.mul_(3**0.5)
            model.Wk.mul_(3**0.5)
    t0 = time.process_time()
    if "curr" in v:  # a first stage on prompts cut to the first frac·N context examples
        frac, e1 = v["curr"]
        Xs = context_prefix(X, curriculum_context(N, frac))
        first = Budget(
            lr=v["lr"], epochs=e1, batch_size=v["batch"] or 0, schedule="cosine", warmup=v["warm"], weight_decay=v["wd"]
        )
        fit(model, Xs, y, first, generator=g, held_out=HeldOut(*val) if v.get("val_first") else None, prompt_block=1000)
    res = fit(
        model,
        X,
        y,
        Budget(
            lr=v["lr"],
            epochs=v["epochs"],
            weight_decay=v["wd"],
            batch_size=v["batch"] or 0,
            schedule=v.get("schedule", "cosine") or "constant",
            warmup=v["warm"],
        ),
        generator=g,
        held_out=HeldOut(val[0], val[1]) if v.get("val") else None,
        prompt_block=1000,
    )
    test_err = mse(model, Xt, yt, prompt_block=1000).double().numpy()
    sec = time.process_time() - t0
    trivial = (yt.double() ** 2).mean(-1).numpy()
    stuck = int(np.sum(test_err >= 0.8 * trivial))
    return dict(
        variant=name,
        N=N,
        test=test_err.round(4).tolist(),
        trivial=trivial.round(4).tolist(),
        stuck=stuck,
        train=res.train_loss[:, -1].round(4).tolist(),
        cpu_s=round(sec, 1),
        best_epoch=res.best_epoch.tolist(),
        **{k: str(x) for k, x in v.items()},
    )


def main(argv: list[str] | None = None, quick: bool = False) -> list[dict]:
    """Run the variants of ``argv`` (command-line flags); ``quick``: a tiny smoke size (D=20 kept)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", required=not quick, default="sa_registry,tf_registry")
    ap.add_argument("--N", default="40,100,200")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--P", type=int, default=10000)
    ap.add_argument("--P-test", type=int, default=1000)
    ap.add_argument("--log", default=None)
    a = ap.parse_args([] if quick and argv is None else argv)
    if quick:  # one short epoch on a few prompts: the script's plumbing, not its numbers
        a.N, a.repeats, a.P, a.P_test = "10", 2, 300, 100
    torch.set_num_threads(1)
    rows = []
    for N in [int(n) for n in a.N.split(",")]:
        train, test, val = data(N, list(range(a.repeats)), a.P, a.P_test)
        for name in a.variants.split(","):
            v = registry_variant(name.split("_")[0]) if name.endswith("_registry") else VARIANTS[name]
            if quick:
                v = {**v, "epochs": 1, "batch": 100, "warm": 0}
            r = run(name, v, N, train, test, seed=17, val=val)
            rows.append(r)
            line = (
                f"{name:14s} N={N:4d} stuck {r['stuck']}/{a.repeats} test {r['test']} trivial "
                f"{[round(t, 3) for t in r['trivial']]} train {r['train']} {r['cpu_s']} cpu-s"
            )
            print(line, flush=True)
            if a.log:
                with open(a.log, "a") as fh:
                    fh.write(json.dumps(r) + "\n")
    return rows


if __name__ == "__main__":
    main()
