"""A point's random draws: its generators, training and test sets, task pools, initial weights.

Every draw of a point comes from :func:`generators` of its own seed, so a point's data depend on its
key only (never on execution order or worker count).  :func:`draw_repeats` batches independent
training sets along a leading repeat axis; :func:`pool_sets` draws sets whose tasks come from one finite
pool; :func:`nested_spinglasses` sweeps nested prefixes over P at the cost of one Gram.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .. import validation as V
from ..prompts import Features, PromptSpec, features_from_prompts, sample_features, sample_prompts
from ..spinglass import SpinGlass
from ..validation import InputError

if TYPE_CHECKING:  # torch is imported by the functions that draw with it (catalog modules import cheaply)
    import torch


def generators(seed: int) -> tuple[np.random.Generator, torch.Generator]:
    """The numpy and torch generators of one point (independent streams from one seed)."""
    import torch

    ss = np.random.SeedSequence(seed)
    np_seed, torch_seed = ss.spawn(2)
    return np.random.default_rng(np_seed), torch.Generator().manual_seed(int(torch_seed.generate_state(1)[0]))


def attention_init(
    model: Literal["merged", "separate"], R: int, D: int, gen: torch.Generator, dtype: torch.dtype | None = None
) -> list[torch.Tensor]:
    """Paper init N(0, 1/(D+1)) of R linear attentions: [W] (R, D+1, D+1) for ``model="merged"``, or
    [W_q, W_k] (R, D+1, D+1) each for ``"separate"`` (d_k = D+1) -- the one place the catalog draws them."""
    V.choice("model", model, ("merged", "separate"))
    import torch

    from ..models import paper_init

    dtype = torch.float64 if dtype is None else dtype
    return [paper_init((R, D + 1, D + 1), D, gen, dtype) for _ in range(1 if model == "merged" else 2)]


def pool_sets(spec: PromptSpec, sizes: tuple[int, ...], rng: np.random.Generator) -> tuple[list[Features], np.ndarray]:
    """Prompt sets of sizes ``sizes`` (e.g. training, test) whose tasks all come from one pool of
    ``spec.task_pool`` tasks, each prompt's task picked uniformly; features (size, D+1) each.

    ``sample_features`` keeps a pool's tasks to itself, so the pool is sampled task by task: the
    numbers of prompts of each pool task in each set are multinomial, and the prompts of one task
    are one ``sample_features`` call with ``task_pool=1`` (one task, drawn with σ_w, shared by that
    call's prompts).  This is the distribution of ``PromptSpec(task_pool=T)`` up to the order of
    the prompts (shuffled anyway; the spin glass does not see it), with the tasks shared across sets.
    Returns the sets and the pool's tasks (T, D) (for the exact in-distribution error); a row of NaN is a
    pool task that none of the sets drew, whose vector was never sampled (to every set, a fresh task).
    """
    T = spec.task_pool
    if T is None:
        raise InputError("pool_sets needs a PromptSpec with task_pool set")
    counts = np.stack([rng.multinomial(n, np.full(T, 1.0 / T)) for n in sizes], axis=1)  # (T, sets)
    one = replace(spec, task_pool=1)
    parts: list[list[Features]] = [[] for _ in sizes]
    tasks = np.full((T, spec.D), np.nan)
    for t, row in enumerate(counts):
        if row.sum() == 0:
            continue
        f, pool, _ = sample_features(one, int(row.sum()), rng, return_tasks=True)  # one task shared by these prompts
        tasks[t] = pool[0]
        edges = np.concatenate([[0], np.cumsum(row)])
        for s in range(len(sizes)):
            parts[s].append(f.prompts(slice(edges[s], edges[s + 1])))
    return [Features.concat(parts[s]).prompts(rng.permutation(n)) for s, n in enumerate(sizes)], tasks


def draw_features(spec: PromptSpec, P: int, rng: np.random.Generator, *, prompt_block: int = 2000) -> Features:
    """P prompts' features (P, D+1): the direct sampler, or -- for the authors' correlated-token
    sampler (``cholesky="paper"``, which only the explicit sampler has) -- explicit prompts built
    ``prompt_block`` at a time so that memory stays at prompt_block·(D+1)·(N+1) numbers."""
    if spec.correlation > 0.0 and spec.cholesky == "paper":
        n = prompt_block
        parts = [features_from_prompts(sample_prompts(spec, min(n, P - s), rng)) for s in range(0, P, n)]
        return Features.concat(parts)
    return sample_features(spec, P, rng)


def draw_repeats(spec: PromptSpec, P: int, repeats: int, rng: np.random.Generator) -> Features:
    """``repeats`` independent training sets of P prompts, features (R, P, D+1)."""
    return Features.stack([draw_features(spec, P, rng) for _ in range(repeats)])


def nested_spinglasses(features: Features, Ps: Sequence[int], lambda0: float) -> Iterator[SpinGlass]:
    """Spin glasses of the nested prefixes ``features[..., :P, :]`` for ascending P in ``Ps``.

    The Gram matrices come from running sums over the prompt chunks between consecutive P, so
    the whole sweep costs one Gram of the largest set (not one per P).  Prefixes share prompts
    (common random numbers across P), yet each one alone is an iid sample of P prompts.
    """
    Ps = [int(p) for p in Ps]
    if any(b <= a for a, b in zip(Ps, Ps[1:])) or Ps[0] < 1 or Ps[-1] > features.P:
        raise InputError(f"Ps must ascend within 1..{features.P}, got {Ps}")
    total: Any = 0.0  # running sum of the chunks' Grams, (..., K, K) after the first
    prev = 0
    for P in Ps:
        total = total + SpinGlass(features.prompts(slice(prev, P))).gram * (P - prev)
        prev = P
        yield SpinGlass(features.prefix(P), lambda0).with_gram(total / P)
