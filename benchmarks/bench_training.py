"""Merged-model training: Gram path (``adam_gram``, float32 numpy, all repeats batched) vs the explicit
forward pass over the prompts (``adam_explicit`` with ``MergedSLA``, torch.optim.Adam).

Target (issue 2): D=20, N=100, P=10000, 5000 Adam epochs, 50 repeats (fig4b's protocol): ≥ 50×.
The Gram path runs the full protocol; its time includes building SᵀS/P and Sᵀy/P from the features.
The explicit path would take hours, so it is timed on 1 repeat for a few epochs (after one warm-up
epoch) and scaled linearly to 50 repeats × 5000 epochs: its cost per epoch is one pass over R·P
prompts, linear in both.  Drawing the data (prompts / features) is excluded from both.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from _common import cli, fmt_ratio, fmt_seconds, print_table
from spinglass_icl.models import MergedSLA, paper_init
from spinglass_icl.prompts import Features, PromptSpec, sample_features, sample_prompts
from spinglass_icl.spinglass import SpinGlass
from spinglass_icl.training import GramData, adam_explicit, adam_gram


def main(quick: bool = False) -> list[dict]:
    D, N, P = (3, 10, 200) if quick else (20, 100, 10000)
    epochs, repeats = (50, 4) if quick else (5000, 50)
    explicit_epochs, explicit_repeats = (3, 1) if quick else (3, 1)
    lr, wd = 1e-3, 0.01
    rng = np.random.default_rng(0)
    gen = torch.Generator().manual_seed(0)
    spec = PromptSpec(D=D, N=N)

    # -- Gram path: full protocol --------------------------------------------------------------------
    fs = [sample_features(spec, P, rng) for _ in range(repeats)]
    f = Features.stack(fs)
    del fs
    W0 = paper_init((repeats, D + 1, D + 1), D, gen, torch.float64)
    t0 = time.perf_counter()
    train = GramData.from_spinglass(SpinGlass(f, 0.0), dtype="float32")
    t_build = time.perf_counter() - t0
    res = adam_gram(train, [W0], lr=lr, epochs=epochs, weight_decay=wd)
    t_gram = t_build + res.seconds

    # -- explicit path: a few epochs on fewer repeats, scaled linearly -------------------------------------
    prompts = [sample_prompts(spec, P, rng) for _ in range(explicit_repeats)]
    X = torch.tensor(np.stack([p.X for p in prompts]), dtype=torch.float32)
    y = torch.tensor(np.stack([p.y for p in prompts]), dtype=torch.float32)
    model = MergedSLA(D, explicit_repeats, generator=gen, dtype=torch.float32)
    adam_explicit(model, X, y, lr=lr, epochs=1, weight_decay=wd)  # warm-up (allocator, kernels)
    ex = adam_explicit(model, X, y, lr=lr, epochs=explicit_epochs, weight_decay=wd)
    per_epoch_repeat = ex.seconds / (explicit_epochs * explicit_repeats)
    t_explicit = per_epoch_repeat * epochs * repeats

    rows = [
        {
            "case": f"D={D}, N={N}, P={P}, {epochs} epochs, {repeats} repeats",
            "explicit (scaled)": fmt_seconds(t_explicit),
            "explicit measured": f"{fmt_seconds(ex.seconds)} for {explicit_epochs} ep × {explicit_repeats} rep",
            "Gram path": fmt_seconds(t_gram),
            "of which SᵀS build": fmt_seconds(t_build),
            "speed-up": fmt_ratio(t_explicit / t_gram),
            "_speedup": t_explicit / t_gram,
            "_final_loss": float(np.mean(res.train_loss[:, -1])),
        }
    ]
    print_table(
        "Merged-model training: Gram path vs explicit forward pass",
        rows,
        ["case", "explicit (scaled)", "explicit measured", "Gram path", "of which SᵀS build", "speed-up"],
    )
    return rows


if __name__ == "__main__":
    cli(main, __doc__)
