"""Dialogs shared by the ticket screens: discard unsaved changes, add a work note, move a
ticket to one of its allowed next states (asking for what that state needs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Select, Static
from textual.widgets.option_list import Option

from opsconsole.widgets.text import safe_text


class ConfirmDiscard(ModalScreen[bool]):
    """ "Unsaved changes: discard them?" y discards, n or Esc stays in the form."""

    DEFAULT_CSS = """
    ConfirmDiscard { align: center middle; }
    ConfirmDiscard > Vertical { width: 50; height: auto; border: thick $warning; padding: 1 2;
        background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Discard", id="itsm.discard_yes"),
        Binding("n,escape", "answer(False)", "Keep editing", id="itsm.discard_no"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "Unsaved changes. Discard them?  [y] discard  [n] keep editing",
                markup=False,
                id="discard-question",
            )

    def action_answer(self, discard: bool) -> None:
        self.dismiss(discard)


class NoteDialog(ModalScreen[str | None]):
    """A work note for one ticket: Enter or Ctrl+S adds it, Esc cancels."""

    DEFAULT_CSS = """
    NoteDialog { align: center middle; }
    NoteDialog > Vertical { width: 70; max-width: 95%; height: auto; border: thick $accent;
        padding: 0 1; background: $surface; }
    NoteDialog .error { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Add note", priority=True, id="itsm.note_save"),
        Binding("escape", "cancel", "Cancel", id="itsm.note_cancel"),
    ]

    def __init__(self, number: str) -> None:
        super().__init__()
        self.number = number

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble("Work note on ", safe_text(self.number)))
            yield Input(placeholder="what was done, what was found", id="note-text")
            yield Static("", id="note-error", classes="error")

    @on(Input.Submitted, "#note-text")
    def action_save(self) -> None:
        text = self.query_one("#note-text", Input).value.strip()
        if not text:
            self.query_one("#note-error", Static).update("the note is empty")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Need:
    """A value a target state needs: picked from `choices`, or typed when there are none."""

    name: str
    label: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    value: str
    label: str
    needs: tuple[Need, ...] = ()


@dataclass(frozen=True)
class TransitionChoice:
    to: str
    values: dict[str, str] = field(default_factory=dict)


class TransitionDialog(ModalScreen[TransitionChoice | None]):
    """Only the allowed next states are offered. Enter on a state that needs nothing moves
    at once; otherwise its fields appear, and Ctrl+S (or Enter in the last) confirms."""

    DEFAULT_CSS = """
    TransitionDialog { align: center middle; }
    TransitionDialog > Vertical { width: 70; max-width: 95%; height: auto; max-height: 95%;
        border: thick $accent; padding: 0 1; background: $surface; }
    TransitionDialog OptionList { height: auto; max-height: 8; }
    TransitionDialog .need { display: none; }
    TransitionDialog .need.-shown { display: block; }
    TransitionDialog .error { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "confirm", "Move", priority=True, id="itsm.transition_save"),
        Binding("escape", "cancel", "Cancel", id="itsm.transition_cancel"),
    ]

    def __init__(self, number: str, current: str, targets: list[Target]) -> None:
        super().__init__()
        self.number = number
        self.current = current
        self.targets = targets
        self.chosen: Target | None = None

    def compose(self) -> ComposeResult:
        names = {need.name: need for t in self.targets for need in t.needs}
        with Vertical():
            yield Static(Text.assemble(safe_text(self.number), f" is {self.current}; move to:"))
            yield OptionList(*[Option(t.label, id=t.value) for t in self.targets], id="targets")
            for need in names.values():
                yield Static(need.label, classes="need", id=f"label-{need.name}")
                if need.choices:
                    yield Select(
                        [(c, c) for c in need.choices],
                        prompt=f"choose {need.label.lower()}",
                        classes="need",
                        id=f"need-{need.name}",
                    )
                else:
                    yield Input(classes="need", id=f"need-{need.name}")
            yield Static("", id="transition-error", classes="error")

    @on(OptionList.OptionSelected, "#targets")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        target = next(t for t in self.targets if t.value == event.option.id)
        self.chosen = target
        wanted = {n.name for n in target.needs}
        for widget in self.query(".need"):
            name = (widget.id or "").removeprefix("label-").removeprefix("need-")
            widget.set_class(name in wanted, "-shown")
        if not target.needs:
            self.action_confirm()
        else:
            self.query_one(f"#need-{target.needs[0].name}").focus()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_confirm()

    def action_confirm(self) -> None:
        error = self.query_one("#transition-error", Static)
        if self.chosen is None:
            error.update("choose a state first (Enter)")
            return
        values: dict[str, str] = {}
        for need in self.chosen.needs:
            widget = self.query_one(f"#need-{need.name}")
            if isinstance(widget, Select):
                raw = "" if widget.is_blank() else str(widget.value)
            else:
                assert isinstance(widget, Input)
                raw = widget.value.strip()
            if not raw:
                error.update(f"{self.chosen.label} needs {need.label.lower()}")
                widget.focus()
                return
            values[need.name] = raw
        self.dismiss(TransitionChoice(self.chosen.value, values))

    def action_cancel(self) -> None:
        self.dismiss(None)
