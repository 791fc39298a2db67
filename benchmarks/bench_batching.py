"""Batched training of R repeats vs R separate trainings (issue 4, "Performance"), and the
reduced (PromptStats) path of FLA/MHLA vs their explicit forward pass.

For FLA and SA at D=20, N=100, float32, full-batch Adam (:func:`spinglass_icl.training.fit`):
time per epoch of one model (R=1) and of R=50 stacked repeats, each repeat with its own prompts.
Prints the time per repeat-epoch and the ratio R·t(1)/t(R) (how many times cheaper batching is
than R separate trainings).  P is reduced from the issue's 10000 to 2000 by default: 50 repeats ×
10000 prompts × 21 × 101 float32 are 4.2 GB of prompts alone (plus the autograd buffers), too much
for the shared CPU machine; ``--P 10000`` runs the full size where memory allows.

    python benchmarks/bench_batching.py [--P 2000] [--R 50] [--epochs 3] [--threads 1] [--device cpu]

Second table (``--table reduced``, :func:`main_reduced`): FLA (and MHLA) trained on explicit
prompts X (R, P, D+1, N+1) vs on their statistics C = X Xᵀ, b
(:class:`spinglass_icl.models.PromptStats`, computed once -- its one-off cost is printed
too): seconds per repeat-epoch for R=1 and R=50 at P=2000 and for R=1 at P=10000, and the
batching ratio R·t(1)/t(R) on the reduced path.

    python benchmarks/bench_batching.py --table reduced [--P 2000] [--P-large 10000] [--R 50]

Third table (``--table figS8``, :func:`main_figS8`): seconds per repeat-epoch at the full figS8
size (D=20, P=10000, one point = 5 stacked repeats) for FLA/MHLA on the reduced path at N=100 and
N=200, and on explicit prompts (R=1, grad_chunk=1000) at N=100: the inputs of the CPU estimate in
REPRODUCTION.md (figS8).

    python benchmarks/bench_batching.py --table figS8

``main(quick=True)``, ``main_reduced(quick=True)``, ``main_figS8(quick=True)`` are tiny versions
used as smoke tests.
"""

from __future__ import annotations

import argparse
import time

import torch

from spinglass_icl.experiments._threads import torch_threads
from spinglass_icl.models import PromptStats, make_model
from spinglass_icl.training import Budget, fit


def _prompts(R: int, P: int, D: int, N: int, seed: int, device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Random Gaussian prompts with labels (timing only needs the shapes; query label zeroed)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn((R, P, D + 1, N + 1), generator=g)
    X[..., D, N] = 0
    return X.to(device), torch.randn((R, P), generator=g).to(device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_fit(
    name: str,
    R: int,
    *,
    D: int,
    N: int,
    P: int,
    epochs: int,
    device: str,
    seed: int = 0,
    grad_chunk: int | None = None,
    trials: int = 3,
    reduced: bool = False,
) -> float:
    """Seconds per epoch of full-batch Adam on R stacked repeats: the minimum over ``trials`` timed
    runs of ``epochs`` epochs after one warm-up epoch (the minimum is the least disturbed by the
    other jobs of a shared machine).  ``reduced``: train on PromptStats (FLA/MHLA only; the
    statistics are computed before the timing starts)."""
    X, y = _prompts(R, P, D, N, seed, device)
    if reduced:
        X = PromptStats.from_prompts(X)
    model = make_model(name, D, R, generator=torch.Generator().manual_seed(seed), device=device)
    warm_up = Budget(lr=1e-3, epochs=1, weight_decay=0.0)
    fit(model, X, y, warm_up, generator=torch.Generator().manual_seed(seed), prompt_block=grad_chunk)
    best = float("inf")
    for _ in range(trials):
        _sync(device)
        t0 = time.perf_counter()
        fit(
            model,
            X,
            y,
            Budget(lr=1e-3, epochs=epochs, weight_decay=0.01),
            generator=torch.Generator().manual_seed(seed),
            prompt_block=grad_chunk,
        )
        _sync(device)
        best = min(best, (time.perf_counter() - t0) / epochs)
    return best


def time_stats(R: int, *, D: int, N: int, P: int, device: str, seed: int = 0) -> float:
    """Seconds to compute PromptStats (C = X Xᵀ, b) of R × P prompts (the one-off cost)."""
    X, _ = _prompts(R, P, D, N, seed, device)
    _sync(device)
    t0 = time.perf_counter()
    PromptStats.from_prompts(X)
    _sync(device)
    return time.perf_counter() - t0


def main_reduced(
    quick: bool = False,
    *,
    P: int = 2000,
    P_large: int | None = 10000,
    R: int = 50,
    epochs: int = 3,
    D: int = 20,
    N: int = 100,
    threads: int | None = 1,
    device: str = "cpu",
    models: tuple[str, ...] = ("fla",),
    trials: int = 3,
) -> list[dict]:
    """Explicit vs reduced (PromptStats) full-batch Adam; returns and prints one row per
    (model, P, R, path) with s/epoch, s per repeat-epoch, the speed-up of the reduced path over the
    explicit one, and for R > 1 the batching ratio R·t(1)/t(R) of the same path."""
    if quick:
        P, P_large, R, epochs, D, N, trials = 64, 128, 4, 1, 3, 8, 1
    rows: list[dict] = []
    with torch_threads(threads or torch.get_num_threads()):
        print(
            f"device={device} threads={torch.get_num_threads()} D={D} N={N} epochs={epochs} float32, "
            f"min of {trials} trials"
        )
        print(
            f"{'model':6} {'P':>6} {'R':>4} {'path':9} {'s/epoch':>10} {'s/repeat-epoch':>15} "
            f"{'explicit/reduced':>17} {'R·t(1)/t(R)':>12}"
        )
        cases = [(P, 1), (P, R)] + ([(P_large, 1)] if P_large else [])
        for name in models:
            t1: dict[tuple[int, str], float] = {}
            for P_, R_ in cases:
                times = {}
                for path in ("explicit", "reduced"):
                    t = time_fit(
                        name, R_, D=D, N=N, P=P_, epochs=epochs, device=device, trials=trials, reduced=path == "reduced"
                    )
                    times[path] = t
                    if R_ == 1:
                        t1[(P_, path)] = t
                    ratio = R_ * t1[(P_, path)] / t if R_ > 1 and (P_, path) in t1 else float("nan")
                    row = {
                        "model": name,
                        "P": P_,
                        "R": R_,
                        "path": path,
                        "t": t,
                        "per_repeat": t / R_,
                        "speedup": times["explicit"] / t if path == "reduced" else 1.0,
                        "ratio": ratio,
                        "D": D,
                        "N": N,
                        "epochs": epochs,
                        "device": device,
                    }
                    rows.append(row)
                    print(
                        f"{name:6} {P_:6d} {R_:4d} {path:9} {t:10.5f} {t / R_:15.6f} {row['speedup']:17.1f} "
                        f"{ratio:12.2f}"
                    )
            for P_, R_ in cases:
                ts = time_stats(R_, D=D, N=N, P=P_, device=device)
                print(
                    f"PromptStats.from_prompts, P={P_}, R={R_}: {ts:.3f} s once "
                    f"(= {ts / t1[(P_, 'explicit')] / R_:.1f} explicit repeat-epochs)"
                )
    return rows


def main(
    quick: bool = False,
    *,
    P: int = 2000,
    R: int = 50,
    epochs: int = 3,
    D: int = 20,
    N: int = 100,
    threads: int | None = 1,
    device: str = "cpu",
    models: tuple[str, ...] = ("fla", "sa"),
    grad_chunk: int | None = None,
    trials: int = 3,
) -> list[dict]:
    """Measure and print; returns one row per model with t1, tR (s/epoch) and the ratio.

    ``grad_chunk`` (R > 1 only) accumulates each step's gradient over chunks of that many prompts,
    so that the chunk of all R repeats' prompts stays in cache between forward and backward."""
    if quick:
        P, R, epochs, D, N, trials = 64, 4, 1, 3, 8, 1
    rows = []
    with torch_threads(threads or torch.get_num_threads()):
        print(
            f"device={device} threads={torch.get_num_threads()} D={D} N={N} P={P} R={R} epochs={epochs} "
            f"grad_chunk={grad_chunk} float32, min of {trials} trials"
        )
        print(f"{'model':6} {'t(1) s/epoch':>13} {'t(R) s/epoch':>13} {'t(R)/R per repeat':>18} {'R·t(1)/t(R)':>12}")
        for name in models:
            kw = dict(D=D, N=N, P=P, epochs=epochs, device=device, trials=trials)
            t1 = time_fit(name, 1, **kw)
            tR = time_fit(name, R, grad_chunk=grad_chunk, **kw)
            row = {
                "model": name,
                "t1": t1,
                "tR": tR,
                "per_repeat": tR / R,
                "ratio": R * t1 / tR,
                "R": R,
                "P": P,
                "D": D,
                "N": N,
                "epochs": epochs,
                "device": device,
                "grad_chunk": grad_chunk,
            }
            rows.append(row)
            print(f"{name:6} {t1:13.4f} {tR:13.4f} {tR / R:18.5f} {row['ratio']:12.2f}")
    return rows


def main_figS8(
    quick: bool = False,
    *,
    P: int = 10000,
    R: int = 5,
    Ns: tuple[int, ...] = (100, 200),
    D: int = 20,
    epochs: int = 3,
    threads: int | None = 1,
    device: str = "cpu",
    models: tuple[str, ...] = ("fla", "mhla"),
    trials: int = 3,
    explicit_chunk: int = 1000,
) -> list[dict]:
    """Seconds per repeat-epoch at the figS8 size: reduced path with R stacked repeats for every N
    in ``Ns``, explicit path with R=1 and ``explicit_chunk`` at the first N; prints and returns rows."""
    if quick:
        P, R, Ns, D, epochs, trials, explicit_chunk = 64, 2, (8, 16), 3, 1, 1, 32
    rows: list[dict] = []
    with torch_threads(threads or torch.get_num_threads()):
        print(
            f"figS8 size: device={device} threads={torch.get_num_threads()} D={D} P={P} epochs={epochs} float32, "
            f"min of {trials} trials"
        )
        print(f"{'model':6} {'path':9} {'R':>3} {'N':>5} {'s/epoch':>10} {'s/repeat-epoch':>15}")
        for name in models:
            cases = [("reduced", R, N, None) for N in Ns] + [("explicit", 1, Ns[0], explicit_chunk)]
            for path, R_, N, chunk in cases:
                t = time_fit(
                    name,
                    R_,
                    D=D,
                    N=N,
                    P=P,
                    epochs=epochs,
                    device=device,
                    trials=trials,
                    grad_chunk=chunk,
                    reduced=path == "reduced",
                )
                rows.append(
                    {
                        "model": name,
                        "path": path,
                        "R": R_,
                        "N": N,
                        "P": P,
                        "D": D,
                        "t": t,
                        "per_repeat": t / R_,
                        "grad_chunk": chunk,
                        "device": device,
                    }
                )
                print(f"{name:6} {path:9} {R_:3d} {N:5d} {t:10.5f} {t / R_:15.6f}", flush=True)
    return rows


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--P", type=int, default=2000)
    ap.add_argument("--R", type=int, default=50)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (0: leave the default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--D", type=int, default=20)
    ap.add_argument("--N", type=int, default=100)
    ap.add_argument("--grad-chunk", type=int, default=0, help="prompts per gradient chunk for R > 1 (0: none)")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument(
        "--table",
        choices=("batching", "reduced", "figS8", "all"),
        default="batching",
        help="batching: FLA/SA R=1 vs R; reduced: FLA explicit vs PromptStats; figS8: costs at its size",
    )
    ap.add_argument("--P-large", type=int, default=10000, help="reduced table: extra R=1 case (0: none)")
    ap.add_argument("--models", default=None, help="comma-separated (default fla,sa / fla)")
    a = ap.parse_args()
    common = dict(
        P=a.P, R=a.R, epochs=a.epochs, D=a.D, N=a.N, threads=a.threads or None, device=a.device, trials=a.trials
    )
    if a.table in ("batching", "all"):
        main(
            a.quick,
            grad_chunk=a.grad_chunk or None,
            models=tuple(a.models.split(",")) if a.models else ("fla", "sa"),
            **common,
        )
    if a.table in ("reduced", "all"):
        main_reduced(
            a.quick, P_large=a.P_large or None, models=tuple(a.models.split(",")) if a.models else ("fla",), **common
        )
    if a.table in ("figS8", "all"):  # its own sizes (P=10000, R=5, N=100 and 200), not --P/--R/--N
        main_figS8(
            a.quick,
            epochs=a.epochs,
            threads=a.threads or None,
            device=a.device,
            trials=a.trials,
            models=tuple(a.models.split(",")) if a.models else ("fla", "mhla"),
        )
