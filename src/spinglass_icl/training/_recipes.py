"""Training recipes: the learning-rate schedules, the :class:`~spinglass_icl.Budget` of one Adam run, and each
registered
architecture's recipe at figS8's two sizes.

An architecture (:func:`~spinglass_icl.register_architecture`) declares its recipes as plain data -- a
:class:`~spinglass_icl.Budget` or a mapping of its fields -- so that the model layer does not import training;
:func:`recipe` reads them back as a checked :class:`~spinglass_icl.Budget`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from .. import validation as V
from ..models.registry import Architecture, get

SCHEDULES = ("constant", "cosine", "linear")
Schedule = str | Callable[[int, int], float] | None


def lr_factor(schedule: Schedule, epoch: int, epochs: int, warmup: int = 0) -> float:
    """Multiplier of the base learning rate in ``epoch`` (0-based) of ``epochs``.

    The first ``warmup`` epochs ramp linearly, (e+1)/warmup; the schedule then runs over the
    remaining epochs: ``"constant"``/None: 1; ``"cosine"``: ½(1 + cos(π t)); ``"linear"``: 1 − t,
    t = (e − warmup)/(epochs − warmup); a callable ``f(epoch, epochs)`` is used as is.
    """
    if callable(schedule):
        return float(schedule(epoch, epochs))
    schedule = "constant" if schedule is None else V.choice("schedule", schedule, SCHEDULES)
    if epoch < warmup:
        return (epoch + 1) / warmup
    t = (epoch - warmup) / (epochs - warmup)
    return {"constant": 1.0, "cosine": 0.5 * (1 + math.cos(math.pi * t)), "linear": 1.0 - t}[schedule]


@dataclass(frozen=True)
class Budget:
    """A training recipe: Adam with learning rate ``lr`` for ``epochs`` passes over the P prompts,
    minibatches of ``batch_size`` prompts (0 = full batch), an lr ``schedule`` (a name of
    ``SCHEDULES`` or a callable ``f(epoch, epochs)``, see :func:`~spinglass_icl.training.lr_factor`) after ``warmup``
    epochs of linear warm-up, and PyTorch-style ``weight_decay`` (gradient += wd·θ).  With
    ``curriculum_epochs`` > 0 these are preceded by that many epochs on prompts cut to their first
    ``curriculum_frac``·N context examples (a curriculum over N; explicit prompts only).  With
    ``val_prompts`` > 0, that many held-out prompts (fresh tasks) are drawn besides the training set
    and the parameters of the epoch with the lowest held-out loss are kept (in each stage)."""

    lr: float
    epochs: int
    batch_size: int = 0
    schedule: str | Callable[[int, int], float] = "constant"
    warmup: int = 0
    weight_decay: float = 0.01
    curriculum_epochs: int = 0
    curriculum_frac: float = 0.25
    val_prompts: int = 0

    def validate(self, who: str = "budget") -> Budget:
        """Refuse a budget whose fields cannot run (InputError naming the field); returns it."""
        V.positive(f"{who} lr", self.lr)
        V.positive_int(f"{who} epochs", self.epochs)
        V.nonneg(f"{who} weight_decay", self.weight_decay)
        if not callable(self.schedule):
            V.choice(f"{who} schedule", self.schedule, SCHEDULES)
        for name in ("batch_size", "warmup", "curriculum_epochs", "val_prompts"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise V.InputError(f"{who} {name} must be an integer >= 0, got {value!r}")
        if self.warmup >= self.epochs:
            raise V.InputError(f"{who} warmup={self.warmup} must be smaller than epochs={self.epochs}")
        if self.curriculum_epochs:
            if not 0 < self.curriculum_frac <= 1:
                raise V.InputError(f"{who} curriculum_frac={self.curriculum_frac!r} must be in (0, 1]")
            if self.warmup >= self.curriculum_epochs:
                raise V.InputError(
                    f"{who} warmup={self.warmup} must be smaller than curriculum_epochs={self.curriculum_epochs}"
                )
        return self

    def check(self, P: int, who: str = "budget") -> Budget:
        """:meth:`validate`, and refuse minibatches larger than the P training prompts."""
        self.validate(who)
        if self.batch_size > P:
            raise V.InputError(
                f"{who} batch_size={self.batch_size} is larger than P={P} training prompts; "
                "use at most P (or 0 for full batch)"
            )
        return self


BUDGET_FIELDS = tuple(f.name for f in fields(Budget))


def as_budget(value: Budget | Any, who: str = "budget") -> Budget:
    """A :class:`~spinglass_icl.Budget` from a Budget or a mapping of its fields (how architectures declare recipes)."""
    if isinstance(value, Budget):
        return value
    try:
        unknown = set(value) - set(BUDGET_FIELDS)
    except TypeError:
        raise V.InputError(f"{who} must be a Budget or a mapping of its fields, got {value!r}") from None
    if unknown:
        raise V.InputError(f"{who} has unknown fields {sorted(unknown)}; a Budget has {', '.join(BUDGET_FIELDS)}")
    try:
        return Budget(**value)
    except TypeError as err:  # a required field (lr, epochs) left out
        raise V.InputError(f"{who}: {err}") from None


def recipe(arch: Architecture | str, size: str) -> Budget:
    """The training recipe (budget) a registered architecture declares for ``size`` (``"quick"`` or
    ``"full"``), as a :class:`~spinglass_icl.Budget` (its fields validated; the check against P is the caller's)."""
    a = get(arch) if isinstance(arch, str) else arch
    V.choice("size", size, ("quick", "full"))
    return as_budget(a.recipe(size), who=f"{a.name} {size} recipe").validate(who=a.name)
