"""A one-line sparkline of percentages on a fixed 0-100 scale.

A fixed scale (unlike an auto-scaled one) lets an operator compare hosts and read 5 % CPU as
low at a glance. The newest value is at the right; missing history is blank.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

BARS = "▁▂▃▄▅▆▇█"


def bar_for(percent: float) -> str:
    clamped = min(100.0, max(0.0, percent))
    return BARS[min(len(BARS) - 1, int(clamped / 100.0 * len(BARS)))]


class PercentSparkline(Widget):
    DEFAULT_CSS = """
    PercentSparkline { height: 1; width: 1fr; min-width: 4; }
    """

    def __init__(self, *, id: str | None = None, classes: str = "") -> None:
        super().__init__(id=id, classes=classes)
        self._values: tuple[float, ...] = ()

    @property
    def values(self) -> tuple[float, ...]:
        return self._values

    def set_values(self, values: Sequence[float]) -> None:
        new = tuple(values)
        if new != self._values:
            self._values = new
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y != 0 or width <= 0:
            return Strip.blank(width, self.rich_style)
        tail = self._values[-width:]
        bars = "".join(bar_for(v) for v in tail).rjust(width)
        return Strip([Segment(bars, self.rich_style)], width)
