"""The one Adam of the project: torch.optim.Adam's update (no amsgrad; weight decay added to the
gradient, PyTorch's convention) for numpy arrays or torch tensors, optionally per repeat."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class AdamOptions:
    """Adam's hyper-parameters: learning rate, (β1, β2), ε and PyTorch-style weight decay (gradient += wd·p)."""

    lr: float
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    weight_decay: float = 0.0


def adam_update(p: Any, g: Any, m: Any, v: Any, t: int, options: AdamOptions) -> tuple[Any, Any, Any]:
    """One step of torch.optim.Adam's update, out of place, at step number t ≥ 1, for a parameter p,
    its gradient g and moments m, v (numpy arrays or torch tensors: arithmetic operators only).
    Returns the new (p, m, v)."""
    b1, b2 = options.betas
    if options.weight_decay:
        g = g + options.weight_decay * p
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * (g * g)
    denom = v**0.5 / math.sqrt(1 - b2**t) + options.eps
    return p - (options.lr / (1 - b1**t)) * (m / denom), m, v


class Adam:
    """Adam (:func:`adam_update`) over a list of parameters: numpy arrays / plain tensors (replaced
    out of place, gradients passed to :meth:`step`) or ``nn.Parameter``s (updated in place, by
    default from their ``.grad``).  Parameters whose first axis is the repeat axis can be updated
    for some repeats only (``active`` mask): inactive repeats keep their parameters and moments."""

    def __init__(
        self,
        params: list[Any],
        lr: float,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        self.params = list(params)
        self.options = AdamOptions(lr, betas, eps, weight_decay)
        self.m = [0 * p.detach() if isinstance(p, torch.Tensor) else 0 * p for p in self.params]
        self.v = [0 * p.detach() if isinstance(p, torch.Tensor) else 0 * p for p in self.params]
        self.t = 0

    @property
    def lr(self) -> float:
        return self.options.lr

    @torch.no_grad()
    def step(
        self, grads: list[Any] | None = None, *, lr: float | None = None, active: torch.Tensor | None = None
    ) -> list[Any]:
        """One step with ``grads`` (default: each parameter's ``.grad``, 0 if None) at learning
        rate ``lr`` (default: the base lr); returns the parameters."""
        self.t += 1
        options = self.options if lr is None else dataclasses.replace(self.options, lr=lr)
        if grads is None:
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        for i, (p, g) in enumerate(zip(self.params, grads)):
            new: tuple[Any, ...] = adam_update(p, g, self.m[i], self.v[i], self.t, options)
            if active is not None:
                a = active.view((-1,) + (1,) * (p.ndim - 1))
                new = tuple(torch.where(a, n, o) for n, o in zip(new, (p, self.m[i], self.v[i])))
            self.m[i], self.v[i] = new[1], new[2]
            if isinstance(p, torch.nn.Parameter):
                p.copy_(new[0])
            else:
                self.params[i] = new[0]
        return self.params
