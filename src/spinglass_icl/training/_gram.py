"""Full-batch Adam on the Gram form of simplified linear attention
(docs/theory.md#the-spin-glass: training is the spin glass).

The loss L(W) = (1/P) Σ_μ (s^μ·W − y^μ)² depends on the data only through G = SᵀS/P = −J,
c = Sᵀy/P = h and ⟨y²⟩:  L(W) = wᵀGw − 2cᵀw + ⟨y²⟩,  ∇L = 2(Gw − c).  :func:`adam_gram` trains on
this Gram form -- one K×K matrix-vector product per step instead of a pass over P prompts --
batched over independent repeats, and follows the same trajectory as :func:`adam_explicit`
(torch.optim.Adam on the explicit forward pass, the independent reference) to floating-point
tolerance.  The update is :class:`~spinglass_icl.training.Adam`, the project's one Adam.

Weight decay is PyTorch's Adam convention (gradient += wd·W), so the minimiser is the ground
state at λ0 = wd/2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import validation as V
from ..spinglass import SpinGlass
from ._adam import Adam

MODELS = ("merged", "separate")


DTYPES = ("float32", "float64")


def _to_backend(x: Any, dtype: str, device: str) -> Any:
    """numpy on the CPU (its batched gemv is ~10× faster than torch.bmm there), torch elsewhere."""
    if device == "cpu":
        return np.ascontiguousarray(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=dtype))
    return torch.as_tensor(
        np.asarray(x) if not isinstance(x, torch.Tensor) else x, dtype=getattr(torch, dtype), device=device
    )


def _to_numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().double().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=float)


@dataclass
class GramData:
    """Sufficient statistics of a training or test set for R repeats (numpy on cpu, torch on cuda).

    G: (R, K, K) = SᵀS/P; c: (R, K) = Sᵀy/P; y2: (R,) = ⟨y²⟩.
    """

    G: Any
    c: Any
    y2: Any

    @classmethod
    def from_spinglass(cls, sg: SpinGlass, *, dtype: str = "float32", device: str = "cpu") -> GramData:
        V.choice("dtype", dtype, DTYPES)
        nb = len(sg.batch_shape)

        def t(x: np.ndarray, tail: int) -> Any:
            x = np.asarray(x)
            return _to_backend(x.reshape((-1,) + x.shape[nb : nb + tail] if tail else (-1,)), dtype, device)

        return cls(G=t(sg.gram, 2), c=t(sg.h, 1), y2=t(sg.y2, 0))

    def loss(self, w: Any, Gw: Any = None) -> Any:
        """Mean squared error ⟨(s·w − y)²⟩ of flat weights w (R, K), shape (R,), from the Gram form
        wᵀGw − 2cᵀw + ⟨y²⟩ (``Gw``: G w if already computed).  It is a mean of squares, but the
        expanded form cancels three O(1) terms and can round to slightly below 0 (-5e-8 seen in
        float32 at an interpolating minimum): clamped at 0, the true value's lower bound."""
        Gw = (self.G @ w[..., None])[..., 0] if Gw is None else Gw
        loss = (w * (Gw - 2 * self.c)).sum(-1) + self.y2
        return loss.clamp(min=0) if isinstance(loss, torch.Tensor) else np.maximum(loss, 0)


@dataclass
class TrainResult:
    """Final merged weights (R, D+1, D+1) (shape (R, 0, 0) for a model without a spin-model
    projection), train/test loss (R, epochs or records) before each step, the epochs at which the
    test loss was recorded, and the wall time."""

    W: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray | None
    seconds: float
    test_epochs: np.ndarray | None = None


def _check(lr: float, epochs: int, weight_decay: float) -> tuple[float, int, float]:
    return V.positive("lr", lr), V.positive_int("epochs", epochs), V.nonneg("weight_decay", weight_decay)


def _check_init(init: list, model: str, R: int, n: int) -> None:
    """init must be [W] (R, n, n) for the merged model or [W_q, W_k] (R, d_k, n) for the separate one."""
    want = 1 if model == "merged" else 2
    if not isinstance(init, (list, tuple)) or len(init) != want:
        raise V.InputError(f"init for the {model} model must be a list of {want} array(s)")
    shapes = [tuple(p.shape) for p in init]
    names: tuple[str, ...]
    if model == "merged":
        names, expect = ("W",), [(R, n, n)]
    else:  # W_q and W_k share their d_k
        d_k = shapes[0][1] if len(shapes[0]) == 3 else -1
        names, expect = ("W_q", "W_k"), [(R, d_k, n)] * 2
    for name, shape, want_shape in zip(names, shapes, expect):
        if shape != want_shape:
            raise V.InputError(f"init {name} must have shape {want_shape} to match the training data, got {shape}")
    for p in init:
        V.array("init", _to_numpy(p))


def adam_gram(
    train: GramData,
    init: list,
    *,
    model: str = "merged",
    lr: float,
    epochs: int,
    weight_decay: float = 0.0,
    test: GramData | None = None,
    record_every: int = 1,
) -> TrainResult:
    """Full-batch Adam on the Gram form, all R repeats at once.

    init: ``[W]`` with W (R, D+1, D+1) for the merged model, ``[W_q, W_k]`` (R, d_k, D+1) for the
    separate one (numpy or torch; converted to the backend and dtype of ``train``).  The train loss
    is recorded every epoch (it comes free with the gradient), the test loss every
    ``record_every`` epochs and after the last step.
    """
    import time

    lr, epochs, weight_decay = _check(lr, epochs, weight_decay)
    V.choice("model", model, MODELS)
    record_every = V.positive_int("record_every", record_every)
    t0 = time.perf_counter()
    on_torch = isinstance(train.G, torch.Tensor)
    dtype = str(train.G.dtype).replace("torch.", "")
    device = str(train.G.device) if on_torch else "cpu"
    _check_init(init, model, int(train.G.shape[0]), int(round(math.sqrt(train.G.shape[-1]))))
    params = [_to_backend(p, dtype, device) for p in init]
    params = [p.clone() if on_torch else p.copy() for p in params]
    R, n = params[0].shape[0], params[-1].shape[-1]
    opt = Adam(params, lr, weight_decay=weight_decay)

    def flat(ps: list[Any]) -> Any:
        W = (
            ps[0]
            if model == "merged"
            else ps[0].transpose(-1, -2) @ ps[1]
            if on_torch
            else np.swapaxes(ps[0], -1, -2) @ ps[1]
        )
        return W.reshape(R, n * n)

    train_loss = np.empty((R, epochs))
    test_epochs = [e for e in range(epochs) if e % record_every == 0] + [epochs]
    test_loss = np.empty((R, len(test_epochs)))
    j = 0
    for e in range(epochs):
        w = flat(params)
        Gw = (train.G @ w[..., None])[..., 0]
        train_loss[:, e] = _to_numpy(train.loss(w, Gw))
        if test is not None and e % record_every == 0:
            test_loss[:, j] = _to_numpy(test.loss(w))
            j += 1
        gW = (2 * (Gw - train.c)).reshape(R, n, n)
        if model == "merged":
            grads = [gW]
        else:  # W = W_qᵀ W_k:  ∂L/∂W_q = W_k (∂L/∂W)ᵀ,  ∂L/∂W_k = W_q ∂L/∂W
            gWt = gW.transpose(-1, -2) if on_torch else np.swapaxes(gW, -1, -2)
            grads = [params[1] @ gWt, params[0] @ gW]
        params = opt.step(grads)
    w = flat(params)
    if test is not None:
        test_loss[:, j] = _to_numpy(test.loss(w))
    return TrainResult(
        W=_to_numpy(w).reshape(R, n, n),
        train_loss=train_loss,
        test_loss=test_loss if test is not None else None,
        seconds=time.perf_counter() - t0,
        test_epochs=np.array(test_epochs) if test is not None else None,
    )


def adam_explicit(
    model: torch.nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    lr: float,
    epochs: int,
    weight_decay: float = 0.0,
    X_test: torch.Tensor | None = None,
    y_test: torch.Tensor | None = None,
) -> TrainResult:
    """torch.optim.Adam on the explicit forward pass: X (R, P, D+1, N+1), y (R, P).

    The loss is the sum over repeats of each repeat's mean squared error, so every repeat gets
    exactly its own gradient (Adam is per-coordinate, hence repeats stay independent).  The test
    loss, if asked for, is recorded every epoch before the step.
    """
    import time

    lr, epochs, weight_decay = _check(lr, epochs, weight_decay)
    t0 = time.perf_counter()
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    R = y.shape[0]
    train_loss = torch.empty((R, epochs), dtype=y.dtype)
    test_loss = torch.empty((R, epochs), dtype=y.dtype)
    for e in range(epochs):
        opt.zero_grad(set_to_none=True)
        per_repeat = torch.mean((model(X) - y) ** 2, dim=-1)
        per_repeat.sum().backward()
        train_loss[:, e] = per_repeat.detach().cpu()
        if X_test is not None and y_test is not None:
            with torch.no_grad():
                test_loss[:, e] = torch.mean((model(X_test) - y_test) ** 2, dim=-1).cpu()
        opt.step()
    merged = getattr(model, "merged_weight", None)  # the spin configuration of an SLA module
    W = merged().detach().cpu().double().numpy() if merged is not None else np.full((R, 0, 0), np.nan)
    return TrainResult(
        W=W,
        train_loss=train_loss.double().numpy(),
        test_loss=None if X_test is None else test_loss.double().numpy(),
        seconds=time.perf_counter() - t0,
    )
