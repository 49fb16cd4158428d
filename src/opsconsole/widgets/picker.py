"""Type-ahead pickers: an Input that completes from a list (groups, people, codes) or from the
CMDB (CIs, looked up in a worker thread as the operator types).

The completion shows greyed after the cursor; Right or End takes it. Under the input a drop-down
lists the matching candidates (above it when there is no room below; a few rows at most, so it
fits at 80x24): Down opens it or moves down, Up moves up, Enter takes the highlighted candidate
(with none highlighted, Enter submits as it always did), Esc closes the list and leaves the form
alone. The list never takes the focus: typing goes on in the input.

A screen whose own Esc binding has priority should call `close_lists(screen)` first, so that Esc
closes an open list rather than leaving the screen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.dom import DOMNode
from textual.geometry import Offset
from textual.message import Message
from textual.suggester import Suggester
from textual.widgets import Input, OptionList

from opsconsole.cmdb.service import list_cis
from opsconsole.store.engine import Store
from opsconsole.widgets.text import safe_text

CI_HITS = 10
LIST_ROWS = 6  # the drop-down's height at most: it must fit under a form row at 80x24
LIST_MIN_WIDTH = 16

Tell = Callable[[str, list[str]], None]


class ChoiceSuggester(Suggester):
    """Completes the last comma-separated item from a fixed list (case-insensitive prefix), and
    tells `found` every candidate list it looked up (the picker's drop-down shows them)."""

    def __init__(
        self,
        choices: Callable[[str], Sequence[str]],
        *,
        multiple: bool,
        found: Tell | None = None,
    ) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.choices = choices
        self.multiple = multiple
        self.found = found

    async def get_suggestion(self, value: str) -> str | None:
        last = value.rpartition(",")[2] if self.multiple else value
        needle = last.strip()
        if not needle:
            return None
        try:
            found = await asyncio.to_thread(self.choices, needle)
        except Exception:  # the store being away must not break typing
            return None
        if self.found is not None:
            self.found(value, list(found))
        if not value.endswith(needle):
            return None
        stem = value[: len(value) - len(needle)]
        for choice in found:
            if choice.startswith(needle) and choice != needle:
                return stem + choice
        return None


class PickerList(OptionList):
    """A picker's drop-down: drawn over the screen next to its input, never focused."""

    DEFAULT_CSS = f"""
    PickerList {{
        overlay: screen;
        constrain: inside inside;
        display: none;
        height: auto;
        max-height: {LIST_ROWS};
        border: none;
        padding: 0;
        background: $panel;
        scrollbar-size-vertical: 1;
        & > .option-list--option {{ padding: 0 1; }}
        & > .option-list--option-highlighted {{
            color: $block-cursor-foreground;
            background: $block-cursor-background;
            text-style: bold;
        }}
    }}
    """
    can_focus = False

    def __init__(self, picker: Picker) -> None:
        super().__init__()
        self.picker = picker

    @on(OptionList.OptionSelected)
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.picker.take(self.picker.candidates[event.option_index])


class Picker(Input):
    """An Input choosing from `choices(text)`; with `multiple`, a comma-separated list.

    `describe(choice)`, when given, is shown beside each candidate in the drop-down."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "list_down", "Next choice", show=False, id="picker.down"),
        Binding("up", "list_up", "Previous choice", show=False, id="picker.up"),
        Binding("escape", "close_list", "Close the choices", show=False, id="picker.close"),
    ]

    class Found(Message):
        """Candidates looked up for `value` (from the suggester or a Down press)."""

        def __init__(self, value: str, names: list[str], *, highlight: bool = False) -> None:
            super().__init__()
            self.value = value
            self.names = names
            self.highlight = highlight

    def __init__(
        self,
        choices: Callable[[str], Sequence[str]],
        *,
        value: str = "",
        placeholder: str = "",
        multiple: bool = False,
        describe: Callable[[str], str] | None = None,
        id: str | None = None,
        compact: bool = False,
    ) -> None:
        super().__init__(
            value=value,
            placeholder=placeholder,
            suggester=ChoiceSuggester(choices, multiple=multiple, found=self._found),
            id=id,
            compact=compact,
        )
        self.choices = choices
        self.multiple = multiple
        self.describe = describe
        self.candidates: list[str] = []
        self._list: PickerList | None = None
        self._taken: str | None = None  # the value a pick wrote: no list for it

    def items(self) -> list[str]:
        if not self.multiple:
            text = self.value.strip()
            return [text] if text else []
        return [part.strip() for part in self.value.split(",") if part.strip()]

    @property
    def needle(self) -> str:
        """What the candidates are looked up for: the last item typed."""
        return (self.value.rpartition(",")[2] if self.multiple else self.value).strip()

    @property
    def expanded(self) -> bool:
        return self._list is not None and self._list.display

    @property
    def highlighted(self) -> str | None:
        if not self.expanded or self._list is None or self._list.highlighted is None:
            return None
        return self.candidates[self._list.highlighted]

    # --- looking up --------------------------------------------------------------------------

    def _found(self, value: str, names: list[str]) -> None:
        self.post_message(self.Found(value, names))

    def open_list(self, *, highlight: bool = False) -> None:
        """Look the candidates up for what is typed (all of them for nothing) and show them."""
        self.run_worker(
            self._lookup(self.value, self.needle, highlight),
            group=f"picker-{id(self)}",
            exclusive=True,
            exit_on_error=False,
            name="looking up choices",
        )

    async def _lookup(self, value: str, needle: str, highlight: bool) -> None:
        try:
            names = await asyncio.to_thread(self.choices, needle)
        except Exception:  # the store being away must not break typing
            return
        self.post_message(self.Found(value, list(names), highlight=highlight))

    @on(Found)
    def _show_found(self, message: Picker.Found) -> None:
        message.stop()
        if message.value != self.value or not self.has_focus:
            return  # typed on meanwhile, or left
        if message.value == self._taken and not message.highlight:
            return  # just taken from the list: Down shows it again
        names = list(dict.fromkeys(message.names))[:CI_HITS]
        if not names or (not message.highlight and names == [self.needle]):
            self.close_list()  # nothing to choose, or only what is typed already
            return
        self._show(names, message.highlight)

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        if event.input is not self:
            return
        if not self.needle or self.value == self._taken:
            self.close_list()
        else:
            self._taken = None

    # --- the drop-down -----------------------------------------------------------------------

    def _label(self, name: str) -> Text:
        label = safe_text(name)
        description = self.describe(name) if self.describe else ""
        if description:
            label.append("  ")
            label.append_text(safe_text(description, "italic"))
        label.overflow = "ellipsis"
        return label

    def _show(self, names: list[str], highlight: bool) -> None:
        if self._list is None:
            self._list = PickerList(self)
            self.screen.mount(self._list)
        dropdown = self._list
        self.candidates = names
        self._place(dropdown, names)
        dropdown.set_options([self._label(name) for name in names])
        dropdown.highlighted = 0 if highlight else None
        dropdown.display = True

    def _place(self, dropdown: PickerList, names: list[str]) -> None:
        """Under the input, or above it when the screen has no room below."""
        region = self.region
        screen = self.screen.size
        widest = max(self._label(name).cell_len for name in names) + 2
        width = min(max(region.width, widest, LIST_MIN_WIDTH), screen.width)
        height = min(len(names), LIST_ROWS)
        y = region.bottom
        if y + height > screen.height and region.y - height >= 0:
            y = region.y - height
        x = max(0, min(region.x, screen.width - width))
        dropdown.styles.width = width
        dropdown.absolute_offset = Offset(x, y)

    def close_list(self) -> bool:
        """Hide the drop-down; True if it was open."""
        if not self.expanded or self._list is None:
            return False
        self._list.display = False
        self._list.highlighted = None
        return True

    def take(self, choice: str) -> None:
        """`choice` replaces the item being typed (the last one of a list)."""
        head, comma, _ = self.value.rpartition(",") if self.multiple else ("", "", "")
        self._taken = f"{head}{comma} {choice}" if comma else choice
        self.value = self._taken
        self.cursor_position = len(self.value)
        self.close_list()

    # --- keys --------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("list_up", "close_list") and not self.expanded:
            return False  # the key goes on to the form (Esc leaves it)
        return super().check_action(action, parameters)

    def action_list_down(self) -> None:
        if not self.expanded or self._list is None:
            self.open_list(highlight=True)
            return
        self._list.action_cursor_down()

    def action_list_up(self) -> None:
        if self._list is not None:
            self._list.action_cursor_up()

    def action_close_list(self) -> None:
        self.close_list()

    async def action_submit(self) -> None:
        choice = self.highlighted
        if choice is not None:
            self.take(choice)
            return
        self.close_list()
        await super().action_submit()

    def on_blur(self, _: events.Blur) -> None:
        self.close_list()

    def on_resize(self) -> None:
        self.close_list()

    def on_unmount(self) -> None:
        if self._list is not None and self._list.is_attached:
            self._list.remove()


def close_lists(screen: DOMNode) -> bool:
    """Close every open picker drop-down on `screen`; True if one was open (then Esc has done
    its work)."""
    return any([picker.close_list() for picker in screen.query(Picker)])


def list_choices(values: Sequence[str]) -> Callable[[str], Sequence[str]]:
    """Choices from a fixed list, matching anywhere, prefix matches first."""

    def choose(text: str) -> Sequence[str]:
        needle = text.lower()
        starts = [v for v in values if v.lower().startswith(needle)]
        return starts + [v for v in values if needle in v.lower() and v not in starts]

    return choose


def ci_choices(store: Store, limit: int = CI_HITS) -> Callable[[str], Sequence[str]]:
    """CI names from the CMDB (call from a worker thread)."""

    def choose(text: str) -> Sequence[str]:
        with store.read() as session:
            names = [ci.name for ci in list_cis(session, text=text, limit=limit * 3)]
        needle = text.lower()
        return sorted(names, key=lambda n: (not n.lower().startswith(needle), n))[:limit]

    return choose
