"""The log-axis tick formatter of :mod:`spinglass_icl.plotting` (a matplotlib subclass, so in a module of its
own that :mod:`~spinglass_icl.plotting` imports when it draws; read it as ``plotting.PlainLogFormatter``)."""

from __future__ import annotations

from matplotlib.ticker import LogFormatter

from .plotting import PLAIN_RANGE, plain_number


class PlainLogFormatter(LogFormatter):
    """Log-axis tick labels as plain numbers ("6", "0.2") instead of "6×10⁰"; an axis reaching beyond
    :data:`PLAIN_RANGE` has its decades written 10^k (all of them, never a mix).  Which ticks carry a
    label (decades, or also the minor ticks on an axis spanning little more than a decade) is
    matplotlib's own choice (``LogFormatter``)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        if not super().__call__(x, pos):
            return ""
        low, high = sorted(abs(v) for v in self.axis.get_view_interval()) if self.axis is not None else (1.0, 1.0)
        return plain_number(x, powers=low < PLAIN_RANGE[0] or high >= PLAIN_RANGE[1])
