"""Building blocks shared by several experiments (one place for each)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..models import paper_init
from ..prompts import Features, PromptSpec, sample_features
from ..solvers.amp import amp
from ..solvers.exact import solve_exact
from ..spinglass import SpinGlass
from ..training import GramData, adam_gram
from ..metrics import test_error


def generators(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """The numpy and torch generators of one point (independent streams from one seed)."""
    ss = np.random.SeedSequence(seed)
    np_seed, torch_seed = ss.spawn(2)
    return np.random.default_rng(np_seed), torch.Generator().manual_seed(int(torch_seed.generate_state(1)[0]))


def stack_features(fs: Sequence[Features]) -> Features:
    """Stack same-sized feature sets along a new leading (repeat) axis."""
    return Features(a=np.stack([f.a for f in fs]), b=np.stack([f.b for f in fs]),
                    y=np.stack([f.y for f in fs]), N=fs[0].N)


def draw_repeats(spec: PromptSpec, P: int, repeats: int, rng: np.random.Generator) -> Features:
    """``repeats`` independent training sets of P prompts, features (R, P, D+1)."""
    return stack_features([sample_features(spec, P, rng) for _ in range(repeats)])


def amp_and_adam_test_errors(spec: PromptSpec, *, P: int, P_test: int, repeats: int, lambda0: float,
                             beta: float, damping: float, steps: int, lr: float, epochs: int,
                             weight_decay: float, rng: np.random.Generator, torch_gen: torch.Generator,
                             device: str = "cpu", chunk: int = 10) -> dict[str, np.ndarray]:
    """Paired comparison on the same training sets (fig4b, figS4): per repeat, test error of the
    paper's AMP mean, of the exact ground state, and of the merged model trained with Adam on the
    Gram form; all on the same fresh test prompts of that repeat.  Returns arrays of length R."""
    out: dict[str, list] = defaultdict(list)
    test_spec = spec.fresh_tasks()
    for start in range(0, repeats, chunk):
        r = min(chunk, repeats - start)
        train = draw_repeats(spec, P, r, rng)
        test = draw_repeats(test_spec, P_test, r, rng)
        sg = SpinGlass(train, lambda0)
        res = amp(sg, beta=beta, damping=damping, steps=steps, seed=rng)
        ex = solve_exact(sg)
        W0 = paper_init((r, spec.D + 1, spec.D + 1), spec.D, torch_gen, torch.float64)
        tr = adam_gram(GramData.from_spinglass(sg, device=device), [W0], lr=lr, epochs=epochs,
                       weight_decay=weight_decay)
        out["amp"].append(np.where(res.converged, test_error(res.mean, test), np.nan))
        out["amp_converged"].append(res.converged)
        out["exact"].append(test_error(ex.mean, test))
        out["adam"].append(test_error(tr.W, test))
    return {k: np.concatenate(v) for k, v in out.items()}


def group_mean_std(records: Iterable[Mapping[str, Any]], x: str, y: str,
                   where: Mapping[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group records by ``x`` and return (sorted x values, nan-mean of y, nan-std of y).

    ``y`` may be scalar or array valued per record (arrays are pooled)."""
    groups: dict[float, list] = defaultdict(list)
    for rec in records:
        if where and any(rec.get(k) != v for k, v in where.items()):
            continue
        groups[rec[x]].append(np.ravel(np.asarray(rec[y], dtype=float)))
    xs = np.array(sorted(groups))
    vals = [np.concatenate(groups[k]) for k in xs]
    with np.errstate(invalid="ignore"):
        mean = np.array([np.nanmean(v) if np.isfinite(v).any() else np.nan for v in vals])
        std = np.array([np.nanstd(v) if np.isfinite(v).any() else np.nan for v in vals])
    return xs, mean, std
