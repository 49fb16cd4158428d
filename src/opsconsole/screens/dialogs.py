"""Small modal forms of the alert queue: confirm, acknowledge, snooze, silence.

Each dismisses with a plain value (or None when cancelled with Esc); the screen that pushed
it does the write. Outside text shown here goes through `safe_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList, Static, Switch
from textual.widgets.option_list import Option

from opsconsole.widgets.lists import KeyList

DIALOG_CSS = """
.dialog { width: 64; max-width: 100%; height: auto; border: round $accent;
          background: $surface; padding: 0 1; }
.dialog-row { height: auto; }
.dialog OptionList { height: auto; max-height: 8; }
.dialog-hint { color: $text-muted; }
"""

SNOOZE_PRESETS = (
    ("15 minutes", timedelta(minutes=15)),
    ("1 hour", timedelta(hours=1)),
    ("4 hours", timedelta(hours=4)),
    ("1 day", timedelta(days=1)),
)
SILENCE_PRESETS: tuple[tuple[str, timedelta | None], ...] = (
    ("1 hour", timedelta(hours=1)),
    ("4 hours", timedelta(hours=4)),
    ("1 day", timedelta(days=1)),
    ("1 week", timedelta(days=7)),
    ("until it recovers", None),
)


T = TypeVar("T")


class Dialog(ModalScreen[T | None], Generic[T]):
    DEFAULT_CSS = "Dialog { align: center middle; }\n" + DIALOG_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmDialog(Dialog[bool]):
    """A question: Enter (or y) says yes, Esc (or n) says no."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter,y", "confirm", "Yes", id="dialog.yes"),
        Binding("n", "cancel", "No", id="dialog.no"),
    ]

    def __init__(self, question: Text) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.question, markup=False, id="question")
            yield Label("Enter: yes · Esc: no", classes="dialog-hint")

    def action_confirm(self) -> None:
        self.dismiss(True)


@dataclass(frozen=True)
class AckRequest:
    note: str | None
    sticky: bool


class AckDialog(Dialog[AckRequest]):
    """Acknowledge: an optional note, and whether the ack lasts until the alert recovers."""

    def __init__(self, title: Text) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, markup=False)
            yield Input(placeholder="note (optional)", id="ack-note")
            with Vertical(classes="dialog-row"):
                yield Label("sticky (until it recovers):")
                yield Switch(False, id="ack-sticky")
            yield Label("Enter: acknowledge · Tab: sticky · Esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#ack-note", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        note = self.query_one("#ack-note", Input).value.strip() or None
        self.dismiss(AckRequest(note, self.query_one("#ack-sticky", Switch).value))


class SnoozeDialog(Dialog[timedelta]):
    def __init__(self, title: Text) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, markup=False)
            yield KeyList(
                *(Option(label, id=str(i)) for i, (label, _) in enumerate(SNOOZE_PRESETS)),
                id="snooze-presets",
            )

    def on_mount(self) -> None:
        self.query_one("#snooze-presets", KeyList).focus()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(SNOOZE_PRESETS[event.option_index][1])


@dataclass(frozen=True)
class SilenceRequest:
    comment: str
    duration: timedelta | None  # None: until the alert recovers


class SilenceDialog(Dialog[SilenceRequest]):
    """A silence from the alert: a duration preset and a comment (required)."""

    def __init__(self, title: Text) -> None:
        super().__init__()
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(self.title_text, markup=False)
            yield KeyList(
                *(Option(label, id=str(i)) for i, (label, _) in enumerate(SILENCE_PRESETS)),
                id="silence-presets",
            )
            yield Input(placeholder="comment (required): why silence it", id="silence-comment")
            yield Label("", id="silence-error")
            yield Label("↑/↓ duration · Tab · Enter: silence · Esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        presets = self.query_one("#silence-presets", KeyList)
        presets.highlighted = 0
        presets.focus()

    @on(OptionList.OptionSelected)
    def _preset_chosen(self) -> None:
        self.query_one("#silence-comment", Input).focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        comment = self.query_one("#silence-comment", Input).value.strip()
        if not comment:
            self.query_one("#silence-error", Label).update(Text("a comment is required"))
            return
        index = self.query_one("#silence-presets", KeyList).highlighted or 0
        self.dismiss(SilenceRequest(comment, SILENCE_PRESETS[index][1]))
