"""Dialogs shared by the ticket screens: discard unsaved changes, add a work note, move a
ticket to one of its allowed next states (asking for what that state needs); and the change's
approvals: ask named approvers, approve or reject as one."""

from __future__ import annotations

from collections.abc import Sequence
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

from opsconsole.widgets.picker import Picker, list_choices
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


class ApproverDialog(ModalScreen[list[str] | None]):
    """Ask named approvers of a change: people or groups of the config, typed with the picker
    and its drop-down (several with commas). Enter or Ctrl+S asks them, Esc cancels."""

    DEFAULT_CSS = """
    ApproverDialog { align: center middle; }
    ApproverDialog > Vertical { width: 70; max-width: 95%; height: auto; border: thick $accent;
        padding: 0 1; background: $surface; }
    ApproverDialog .asked, ApproverDialog .hint { color: $text-muted; }
    ApproverDialog .error { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "ask", "Ask", priority=True, id="itsm.approvers_ask"),
        Binding("escape", "cancel", "Cancel", id="itsm.approvers_cancel"),
    ]

    def __init__(self, number: str, choices: Sequence[str], asked: Sequence[str] = ()) -> None:
        super().__init__()
        self.number = number
        self.choices = list(choices)
        self.asked = list(asked)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text.assemble("Ask approval on ", safe_text(self.number), ":"))
            if self.asked:
                yield Static(
                    Text.assemble("asked already: ", safe_text(", ".join(self.asked))),
                    classes="asked",
                )
            yield Picker(
                list_choices(self.choices),
                multiple=True,
                placeholder="person or group (several: a, b)",
                id="approvers",
            )
            yield Static("", id="approvers-error", classes="error")
            yield Static("↓ lists the people and groups · Enter asks · Esc cancels", classes="hint")

    @on(Input.Submitted, "#approvers")
    def action_ask(self) -> None:
        names = list(dict.fromkeys(self.query_one("#approvers", Picker).items()))
        error = self.query_one("#approvers-error", Static)
        if not names:
            error.update("name an approver (Down lists them)")
            return
        unknown = [name for name in names if name not in self.choices]
        if unknown:
            error.update(Text.assemble("no person or group ", safe_text(repr(unknown[0]))))
            return
        self.dismiss(names)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass(frozen=True)
class Decision:
    approver: str
    decision: str  # "approved" or "rejected"
    comment: str = ""


class DecisionDialog(ModalScreen[Decision | None]):
    """Approve or reject as a named approver: a comment (a rejection needs one), then Enter on
    "Approve as …" or "Reject as …" (one pair per approval the operator may give). Ctrl+S
    decides the highlighted line; Esc cancels."""

    DEFAULT_CSS = """
    DecisionDialog { align: center middle; }
    DecisionDialog > Vertical { width: 70; max-width: 95%; height: auto; max-height: 95%;
        border: thick $accent; padding: 0 1; background: $surface; }
    DecisionDialog OptionList { height: auto; max-height: 8; }
    DecisionDialog .error { color: $error; }
    DecisionDialog .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "confirm", "Decide", priority=True, id="itsm.decision_save"),
        Binding("escape", "cancel", "Cancel", id="itsm.decision_cancel"),
    ]

    def __init__(self, number: str, approvers: Sequence[str]) -> None:
        super().__init__()
        self.number = number
        self.approvers = list(approvers)

    def compose(self) -> ComposeResult:
        options = [
            Option(Text.assemble(verb, " as ", safe_text(approver)), id=f"{decision}:{index}")
            for index, approver in enumerate(self.approvers)
            for verb, decision in (("Approve", "approved"), ("Reject", "rejected"))
        ]
        with Vertical():
            yield Static(Text.assemble("Your decision on ", safe_text(self.number), ":"))
            yield Input(placeholder="comment (a rejection needs one)", id="decision-comment")
            yield OptionList(*options, id="decisions")
            yield Static("", id="decision-error", classes="error")
            yield Static(
                "Enter: comment, then a line · Ctrl+S decides · Esc cancels", classes="hint"
            )

    @on(Input.Submitted, "#decision-comment")
    def _commented(self) -> None:
        self.query_one("#decisions", OptionList).focus()

    @on(OptionList.OptionSelected, "#decisions")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self._decide(event.option.id or "")

    def action_confirm(self) -> None:
        options = self.query_one("#decisions", OptionList)
        chosen = options.highlighted_option
        if chosen is None:
            self.query_one("#decision-error", Static).update("choose approve or reject")
            options.focus()
            return
        self._decide(chosen.id or "")

    def _decide(self, option_id: str) -> None:
        decision, _, index = option_id.partition(":")
        comment = self.query_one("#decision-comment", Input)
        if decision == "rejected" and not comment.value.strip():
            self.query_one("#decision-error", Static).update("a rejection needs a comment")
            comment.focus()
            return
        approver = self.approvers[int(index)]
        self.dismiss(Decision(approver, decision, comment.value.strip()))

    def action_cancel(self) -> None:
        self.dismiss(None)
