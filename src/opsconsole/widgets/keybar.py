"""The key bar at the bottom of every screen: the keys that work here, and what they do.

One widget drawing one line, instead of Textual's Footer (a widget per key, recomposed on
every screen change and focus move: 30-70 ms each time on this machine, the largest part of
the console's first paint). It follows the screen's bindings the same way: what is shown
(`Binding.show`), one entry per action, the palette key at the right, disabled keys dimmed,
keys as the keymap has them. `?` lists every key, shown here or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget

SEPARATOR = " "  # compact, as the keys are bold and coloured: 80 columns show more of them


@dataclass(frozen=True)
class KeyEntry:
    key: str  # as displayed: "^s", "⏎", "?"
    description: str
    enabled: bool


def key_entries(screen: Screen[object]) -> tuple[tuple[KeyEntry, ...], KeyEntry | None]:
    """The keys to show for `screen` (first binding of each action, in binding order), and the
    command palette's key (shown apart, at the right)."""
    app = screen.app
    palette_key = app.COMMAND_PALETTE_BINDING if app.ENABLE_COMMAND_PALETTE else None
    entries: list[KeyEntry] = []
    seen: set[str] = set()
    palette: KeyEntry | None = None
    for key, (_node, binding, enabled, _tooltip) in screen.active_bindings.items():
        if key == palette_key:
            palette = KeyEntry(app.get_key_display(binding), binding.description, enabled)
            continue
        if not binding.show or binding.action in seen:
            continue
        seen.add(binding.action)
        entries.append(KeyEntry(app.get_key_display(binding), binding.description, enabled))
    return tuple(entries), palette


class KeyBar(Widget):
    """A one-line bar of key hints, kept current with the screen's bindings."""

    COMPONENT_CLASSES = {"keybar--key", "keybar--description", "keybar--disabled"}
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        width: 1fr;
        background: $footer-background;
        color: $footer-foreground;
    }
    KeyBar > .keybar--key {
        color: $footer-key-foreground;
        text-style: bold;
    }
    KeyBar > .keybar--description {
        color: $footer-description-foreground;
    }
    KeyBar > .keybar--disabled {
        color: $text-disabled;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entries: tuple[KeyEntry, ...] = ()
        self.palette: KeyEntry | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[object]) -> None:
        if screen is not self.screen:
            return
        entries, palette = key_entries(screen)
        if (entries, palette) != (self.entries, self.palette):  # repaint only on a change
            self.entries, self.palette = entries, palette
            self.refresh()

    @property
    def plain(self) -> str:
        """The bar as plain text (what tests and screen readers read)."""
        return self._line(Style(), Style(), Style()).plain

    def render(self) -> Text:
        return self._line(
            self.get_component_rich_style("keybar--key", partial=True),
            self.get_component_rich_style("keybar--description", partial=True),
            self.get_component_rich_style("keybar--disabled", partial=True),
        )

    def _line(self, key_style: Style, text_style: Style, disabled: Style) -> Text:
        def part(entry: KeyEntry) -> Text:
            if not entry.enabled:
                return Text.assemble((entry.key, disabled), (entry.description, disabled))
            return Text.assemble((entry.key, key_style), (entry.description, text_style))

        left = Text(no_wrap=True, end="")
        for entry in self.entries:
            if left:
                left.append(SEPARATOR)
            left.append_text(part(entry))
        right = part(self.palette) if self.palette is not None else Text("")
        width = self.size.width or (len(left) + len(right) + 1)
        room = max(0, width - len(right) - 1)
        if len(left) > room:
            left.truncate(max(0, room - 1))
            left.append("…")
        left.pad_right(max(0, width - len(left) - len(right)))
        left.append_text(right)
        return left
