"""A parameter's range and meaning: the :class:`Rule` every experiment parameter has.

Its own module, below both :mod:`.spec` (an experiment declares its own rules) and :mod:`.params` (which
checks values against them and holds the rules shared across the catalog), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """Range of one parameter and its meaning (``real``: a real number even where every default is a
    whole number, e.g. lr = 0 for "automatic")."""

    low: float | None = None
    low_open: bool = False
    high: float | None = None
    high_open: bool = False
    allow_nonfinite: bool = False
    real: bool = False
    doc: str = ""

    def describe(self) -> str:
        """The range in words, e.g. ``>= 1 and <= 1e+06``."""
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return " and ".join(parts)

    def admits(self, x: float) -> bool:
        """Whether the finite number ``x`` lies in the range."""
        low_ok = self.low is None or x > self.low or (not self.low_open and x == self.low)
        high_ok = self.high is None or x < self.high or (not self.high_open and x == self.high)
        return low_ok and high_ok
