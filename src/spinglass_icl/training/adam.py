"""The one Adam of the project: torch.optim.Adam's update (no amsgrad; weight decay added to the
gradient, PyTorch's convention) for numpy arrays or torch tensors, optionally per repeat."""

from __future__ import annotations

import math

import torch


def adam_update(p, g, m, v, t: int, *, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
    """One step of torch.optim.Adam's update, out of place, at step number t ≥ 1.  Arithmetic
    operators only, so numpy arrays and torch tensors both work.  Returns the new (p, m, v)."""
    b1, b2 = betas
    if weight_decay:
        g = g + weight_decay * p
    m = m + (1 - b1) * (g - m)
    v = b2 * v + (1 - b2) * (g * g)
    denom = v**0.5 / math.sqrt(1 - b2**t) + eps
    return p - (lr / (1 - b1**t)) * (m / denom), m, v


class Adam:
    """Adam (:func:`adam_update`) over a list of parameters: numpy arrays / plain tensors (replaced
    out of place, gradients passed to :meth:`step`) or ``nn.Parameter``s (updated in place, by
    default from their ``.grad``).  Parameters whose first axis is the repeat axis can be updated
    for some repeats only (``active`` mask): inactive repeats keep their parameters and moments."""

    def __init__(self, params: list, lr: float, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0):
        self.params, self.lr, self.betas, self.eps, self.wd = list(params), lr, betas, eps, weight_decay
        self.m = [0 * p.detach() if isinstance(p, torch.Tensor) else 0 * p for p in self.params]
        self.v = [0 * p.detach() if isinstance(p, torch.Tensor) else 0 * p for p in self.params]
        self.t = 0

    @torch.no_grad()
    def step(self, grads: list | None = None, *, lr: float | None = None, active: torch.Tensor | None = None) -> list:
        """One step with ``grads`` (default: each parameter's ``.grad``, 0 if None) at learning
        rate ``lr`` (default: the base lr); returns the parameters."""
        self.t += 1
        lr = self.lr if lr is None else lr
        if grads is None:
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        for i, (p, g) in enumerate(zip(self.params, grads)):
            new = adam_update(
                p, g, self.m[i], self.v[i], self.t, lr=lr, betas=self.betas, eps=self.eps, weight_decay=self.wd
            )
            if active is not None:
                a = active.view((-1,) + (1,) * (p.ndim - 1))
                new = tuple(torch.where(a, n, o) for n, o in zip(new, (p, self.m[i], self.v[i])))
            self.m[i], self.v[i] = new[1], new[2]
            if isinstance(p, torch.nn.Parameter):
                p.copy_(new[0])
            else:
                self.params[i] = new[0]
        return self.params
