"""Torch intra-op threads around one point's computation (set by the runner, never by experiments)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Limit torch's intra-op threads to ``n`` inside the block, restoring them after.  Loops of
    many tiny tensor ops run ~20× slower with 2 OpenMP threads on a busy 2-core machine."""
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(prev)
