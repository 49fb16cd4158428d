"""A one-value widget that repaints only when its text really changed.

Textual repaints the whole region of a widget that changed, so a dashboard stays cheap over a
slow SSH link by keeping each changing value in its own small widget and by not touching a
widget whose text is the same as last time.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class Value(Static):
    DEFAULT_CSS = """
    Value { width: auto; height: 1; }
    """

    def __init__(self, text: str | Text = "", *, id: str | None = None, classes: str = "") -> None:
        initial = Text(text) if isinstance(text, str) else text
        # markup=False: a plain str is shown as it is, whatever brackets it holds.
        super().__init__(initial, markup=False, id=id, classes=classes)
        self._shown = initial

    @property
    def shown(self) -> Text:
        """The text on display (tests read it; it is never reparsed)."""
        return self._shown

    def show(self, text: str | Text) -> bool:
        """Display `text`; returns whether anything had to be repainted."""
        new = Text(text) if isinstance(text, str) else text
        if new == self._shown:
            return False
        self._shown = new
        # A fixed-width value cannot move its neighbours: skip the layout pass.
        self.update(new, layout=self.styles.is_auto_width)
        return True


class TextBlock(Value):
    """A multi-line `Value`: as tall as its text, repainted only when the text changed."""

    DEFAULT_CSS = """
    TextBlock { width: 1fr; height: auto; }
    """

    def show(self, text: str | Text) -> bool:
        new = Text(text) if isinstance(text, str) else text
        if new == self._shown:
            return False
        self._shown = new
        self.update(new, layout=True)  # the number of lines may have changed
        return True
