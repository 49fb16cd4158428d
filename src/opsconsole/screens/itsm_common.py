"""What the ticket screens share: SLA and priority cells, pickers' choices, worker outcomes,
the work-note and transition keys of every kind of ticket (`TicketOps`, `TicketActions`) and
the base of the ticket forms (`TicketForm`: values, dirty tracking, save and load workers,
inline field errors, version conflicts that keep the edit, Esc asking before dropping edits).
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from opsconsole.config import Settings
from opsconsole.itsm.priority import label as priority_label
from opsconsole.itsm.references import describe_history
from opsconsole.itsm.sla import Level, SlaBadge
from opsconsole.screens import describe_error
from opsconsole.screens.itsm_dialogs import (
    ConfirmDiscard,
    NoteDialog,
    Target,
    TransitionChoice,
    TransitionDialog,
)
from opsconsole.store.engine import Store, VersionConflict
from opsconsole.widgets.picker import Picker, close_lists, list_choices
from opsconsole.widgets.text import safe_str, safe_text

HISTORY_LINES = 8

SLA_STYLES = {Level.OK: "green", Level.WARNING: "bold yellow", Level.BREACHED: "bold red"}
SLA_WORDS = {Level.OK: "OK", Level.WARNING: "WARN", Level.BREACHED: "BREACH"}
PRIORITY_STYLES = {1: "bold red", 2: "bold yellow", 3: "yellow", 4: "", 5: "dim"}

FORM_CSS = """
.form-row { height: 1; margin: 0 1; }
.form-label { width: 14; color: $text-muted; }
.form-row > Input, .form-row > Select { width: 1fr; }
.field-error { color: $error; height: auto; margin: 0 0 0 15; display: none; }
.field-error.-shown { display: block; }
.form-error { color: $error; height: auto; margin: 0 1; }
.form-summary, #incident-summary, #change-summary { height: 1; padding: 0 1;
    background: $boost; }
.form-history, #incident-history { margin: 1 1 0 1; height: auto; }
#change-body { height: 1fr; }
#change-form { width: 1fr; }
#change-side { width: 1fr; height: 1fr; border-left: solid $primary; padding: 0 1; }
.side-title { text-style: bold; margin-top: 1; }
#change-conflicts, #change-calendar { height: auto; }
"""


@dataclass(frozen=True)
class SlaCell:
    level: str
    text: str

    @classmethod
    def of(cls, badge: SlaBadge) -> SlaCell:
        return cls(badge.level.value, badge.text)

    def render(self) -> Text:
        """Colour and a word: never colour alone."""
        level = Level(self.level)
        if not self.text:
            return Text("")
        return Text(f"{SLA_WORDS[level]} {self.text}", style=SLA_STYLES[level], end="")


def priority_text(priority: int | None) -> Text:
    if priority is None:
        return Text("")
    return Text(priority_label(priority), style=PRIORITY_STYLES.get(priority, ""), end="")


def people(settings: Settings) -> list[str]:
    found = {person for members in settings.itsm.groups.values() for person in members}
    found.add(settings.actor)
    return sorted(found)


def groups(settings: Settings) -> list[str]:
    return sorted(settings.itsm.groups)


def explain(error: BaseException) -> str:
    """A refused save or move, for the operator (the edit stays in the form)."""
    if isinstance(error, VersionConflict):
        return f"{safe_str(error)}. Your edit is kept in the form."
    return safe_str(str(error).splitlines()[0] if str(error) else type(error).__name__)


class Outcome(Message):
    """A worker finished: `what` says which job, `value` its result or `error` its failure."""

    def __init__(self, what: str, value: Any = None, error: BaseException | None = None) -> None:
        super().__init__()
        self.what = what
        self.value = value
        self.error = error


class FieldErrors(Exception):
    """Form fields the save refused before writing: field name -> message (shown inline)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def journal_lines(session: Any, entries: Sequence[Any], limit: int = HISTORY_LINES) -> tuple[
    str, ...
]:  # fmt: skip
    """The last `limit` journal entries as `MM-DD HH:MM actor: what` (local time), with the
    ids of field changes shown as names and numbers. Call inside a store session."""
    recent = list(entries)[-limit:]
    return tuple(
        f"{entry.at.astimezone():%m-%d %H:%M} {entry.actor}: {what}"
        for entry, what in zip(recent, describe_history(session, recent), strict=True)
    )


def history_text(lines: Sequence[str], title: str = "History") -> Text:
    """A history block: outside text shown literally."""
    return Text.assemble(
        Text(f"{title}\n", style="bold"),
        Text("\n".join(safe_str(line) for line in lines) or "(nothing yet)", style="dim"),
    )


# --- work notes and transitions, for every kind of ticket --------------------------------------


@dataclass(frozen=True)
class Moves:
    """Where a ticket may go: its state's label, the version read, and the allowed targets."""

    number: str
    current: str
    version: int
    targets: list[Target]


@dataclass(frozen=True)
class TicketOps:
    """The note and transition functions of one kind of ticket (each runs in a worker thread
    and opens its own store sessions): `move` returns the label of the new state."""

    noun: str
    note: Callable[[Store, Settings, str, str], None]
    moves: Callable[[Store, Settings, str], Moves]
    move: Callable[[Store, Settings, str, int | None, TransitionChoice], str]


class TicketActions:
    """The work-note and transition actions, for forms and lists (mixin for Screens): the
    screen says which ticket (`ticket_number`) and of what kind (`ticket_ops`)."""

    store: Store
    settings: Settings

    @abstractmethod
    def ticket_ops(self) -> TicketOps:
        """What kind of ticket: its note and move functions."""

    @abstractmethod
    def ticket_number(self) -> str | None:
        """The ticket the actions apply to (None: none selected, or not saved yet)."""

    def ticket_version(self) -> int | None:
        return None  # None: version checked against what the worker reads

    def refuse_move(self) -> str | None:
        """Why the ticket cannot move now (None: it can)."""
        return None

    def action_work_note(self) -> None:
        ops = self.ticket_ops()
        number = self.ticket_number()
        if number is None:
            self.notify(f"save the {ops.noun} first", severity="warning")  # type: ignore[attr-defined]
            return

        def added(text: str | None) -> None:
            if text:
                self._note_worker(ops, number, text)

        self.app.push_screen(NoteDialog(number), added)  # type: ignore[attr-defined]

    @work(exclusive=True, group="ticket-note", exit_on_error=False, name="adding a note")
    async def _note_worker(self, ops: TicketOps, number: str, text: str) -> None:
        try:
            await asyncio.to_thread(ops.note, self.store, self.settings, number, text)
        except Exception as exc:
            self.post_message(Outcome("note", error=exc))  # type: ignore[attr-defined]
            return
        self.post_message(Outcome("note", number))  # type: ignore[attr-defined]

    def action_transition(self) -> None:
        ops = self.ticket_ops()
        number = self.ticket_number()
        if number is None:
            self.notify(f"save the {ops.noun} first", severity="warning")  # type: ignore[attr-defined]
            return
        refused = self.refuse_move()
        if refused:
            self.notify(refused, severity="warning", markup=False)  # type: ignore[attr-defined]
            return
        self._offer_transitions(ops, number)

    @work(exclusive=True, group="ticket-move", exit_on_error=False, name="moving a ticket")
    async def _offer_transitions(self, ops: TicketOps, number: str) -> None:
        try:
            moves = await asyncio.to_thread(ops.moves, self.store, self.settings, number)
        except Exception as exc:
            self.post_message(Outcome("transition", error=exc))  # type: ignore[attr-defined]
            return
        if not moves.targets:
            self.notify(  # type: ignore[attr-defined]
                f"{number} is {moves.current}: it is final", severity="warning", markup=False
            )
            return
        choice = await self.app.push_screen_wait(  # type: ignore[attr-defined]
            TransitionDialog(number, moves.current, moves.targets)
        )
        if choice is None:
            return
        version = self.ticket_version() or moves.version
        try:
            label = await asyncio.to_thread(
                ops.move, self.store, self.settings, number, version, choice
            )
        except Exception as exc:
            self.post_message(Outcome("transition", error=exc))  # type: ignore[attr-defined]
            return
        self.post_message(Outcome("transition", (number, label)))  # type: ignore[attr-defined]


# --- the base of the ticket forms ----------------------------------------------------------------


class TicketForm(TicketActions, Screen[None]):
    """A ticket form. Subclasses compose their rows (`_row`), list their `TEXT_FIELDS`
    (Inputs and Pickers) and `SELECT_FIELDS`, and give:

    - `load_job(number)` and `save_job(values, changed)`: zero-argument functions, built on
      the UI thread, that a worker runs in a thread; load returns a view with `.version`
      and `.values` (the form's text), save returns the ticket's number or raises
      FieldErrors (shown inline), VersionConflict (shown, the edit kept) or another error;
    - `show_summary()` and `show_view(view)` to paint what is not a field (history, lists);
    - `other_outcome(message)` for their own workers' results.

    Ctrl+S is `action_save`, Esc `action_leave`, F5 `action_reload` (asks first when there
    are edits), Ctrl+N / Ctrl+T come from TicketActions; bindings stay in each subclass so
    the ? help lists them under the form.
    """

    DEFAULT_CSS = FORM_CSS
    TEXT_FIELDS: ClassVar[tuple[str, ...]] = ()
    SELECT_FIELDS: ClassVar[tuple[str, ...]] = ()
    FIRST_FIELD: ClassVar[str] = "short_description"

    def __init__(self, store: Store, settings: Settings, number: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.number = number
        self.view: Any = None
        self.saved_values: dict[str, str] = {}

    # --- what subclasses give ----------------------------------------------------------------

    @abstractmethod
    def load_job(self, number: str) -> Callable[[], Any]:
        """A function, run in a worker thread, that reads the ticket's view."""

    @abstractmethod
    def save_job(self, values: dict[str, str], changed: set[str]) -> Callable[[], str]:
        """A function, run in a worker thread, that saves and returns the ticket number (or
        raises FieldErrors / VersionConflict)."""

    def show_summary(self) -> None:
        """Paint the summary line (called whenever a field changes)."""

    def show_view(self, view: Any) -> None:
        """Paint what a fresh load shows besides the fields (history, linked records)."""

    def other_outcome(self, message: Outcome) -> None:
        """A subclass worker's result (not load, save, note or transition)."""

    # --- the rows and their values -------------------------------------------------------------

    def _row(self, name: str, label: str, widget: Any) -> ComposeResult:
        if isinstance(widget, Input):
            widget.compact = True
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield widget
        yield Static("", id=f"error-{name}", classes="field-error")

    def _assignment_rows(self, group_hint: str = "assignment group") -> ComposeResult:
        """The group and assignee pickers every ticket form has."""
        yield from self._row(
            "assignment_group",
            "Group",
            Picker(
                list_choices(groups(self.settings)),
                id="assignment_group",
                placeholder=group_hint,
            ),
        )
        yield from self._row(
            "assignee",
            "Assignee",
            Picker(list_choices(people(self.settings)), id="assignee", placeholder="person"),
        )

    def on_mount(self) -> None:
        self.query_one(f"#{self.FIRST_FIELD}").focus()
        if self.number is None:
            self.saved_values = self.values()
            self.show_summary()
        else:
            self._load(self.number)

    def text_fields(self) -> tuple[str, ...]:
        """Ids of the Inputs (and Pickers) whose text is a value of the form."""
        return self.TEXT_FIELDS

    def select_fields(self) -> tuple[str, ...]:
        return self.SELECT_FIELDS

    def values(self) -> dict[str, str]:
        out = {name: self.query_one(f"#{name}", Input).value for name in self.text_fields()}
        for name in self.select_fields():
            select = self.query_one(f"#{name}", Select)
            out[name] = "" if select.is_blank() else str(select.value)
        return out

    def fill(self, values: dict[str, str]) -> None:
        for name in self.text_fields():
            self.query_one(f"#{name}", Input).value = values.get(name, "")
        for name in self.select_fields():
            select = self.query_one(f"#{name}", Select)
            if values.get(name):
                select.value = values[name]
            else:
                select.clear()

    @property
    def dirty(self) -> bool:
        return self.values() != self.saved_values

    def unsaved_mark(self) -> list[Text | str]:
        return [Text("  ● unsaved", style="italic")] if self.dirty else []

    @on(Input.Changed)
    @on(Select.Changed)
    def _edited(self) -> None:
        self.show_summary()

    # --- TicketActions ------------------------------------------------------------------------

    def ticket_number(self) -> str | None:
        return self.number

    def ticket_version(self) -> int | None:
        return self.view.version if self.view is not None else None

    def refuse_move(self) -> str | None:
        if self.dirty:
            return "save (Ctrl+S) or drop (F5) your edits before changing the state"
        return None

    # --- load and save ---------------------------------------------------------------------------

    def action_reload(self) -> None:
        number = self.number
        if number is None:
            return
        if not self.dirty:
            self._load(number)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self._load(number, keep_edits=False)

        self.app.push_screen(ConfirmDiscard(), answered)

    @work(exclusive=True, group="ticket-load", exit_on_error=False, name="loading a ticket")
    async def _load(self, number: str, keep_edits: bool = True) -> None:
        """A load after a note or a move keeps edits made meanwhile (only history and the
        like are repainted; the version stays the one the edits started from)."""
        try:
            view = await asyncio.to_thread(self.load_job(number))
        except Exception as exc:
            self.post_message(Outcome("load", error=exc))
            return
        self.post_message(Outcome("load", (view, keep_edits)))

    def action_save(self) -> None:
        for error in self.query(".field-error"):
            assert isinstance(error, Static)
            error.update("")
            error.remove_class("-shown")
        values = self.values()
        changed = {k for k, v in values.items() if v != self.saved_values.get(k)}
        if self.number is not None and not changed:
            self.notify("nothing to save")
            return
        self._save(self.save_job(values, changed), values)

    @work(exclusive=True, group="ticket-save", exit_on_error=False, name="saving a ticket")
    async def _save(self, job: Callable[[], str], values: dict[str, str]) -> None:
        try:
            number = await asyncio.to_thread(job)
        except Exception as exc:
            self.post_message(Outcome("save", error=exc))
            return
        self.post_message(Outcome("save", (number, values)))

    @on(Outcome)
    def _outcome(self, message: Outcome) -> None:
        if message.what not in ("load", "save", "note", "transition"):
            self.other_outcome(message)
            return
        error = message.error
        form_error = self.query_one("#form-error", Static)
        if isinstance(error, FieldErrors):
            for name, text in error.errors.items():
                shown = self.query_one(f"#error-{name}", Static)
                shown.update(Text(text))
                shown.add_class("-shown")
            form_error.update("not saved: fix the fields marked above")
            return
        if error is not None:
            text = explain(error) if message.what != "load" else describe_error(error)
            form_error.update(Text(text, style="bold"))
            self.notify(text, title=f"{message.what} refused", severity="error", markup=False)
            return
        form_error.update("")
        if message.what == "load":
            view, keep_edits = message.value
            if not (keep_edits and self.dirty and self.view is not None):
                self.view = view
                self.fill(view.values)
                self.saved_values = dict(view.values)
            self.show_view(view)
            self.show_summary()
        elif message.what == "save":
            number, values = message.value
            self.number = number
            self.saved_values = dict(values)
            self.notify(f"{number} saved", markup=False)
            self._load(number)
        elif message.what == "transition":
            number, label = message.value
            self.notify(f"{number} is now {label}", markup=False)
            self._load(number)
        elif message.what == "note":
            self.notify(f"work note added to {message.value}", markup=False)
            self._load(message.value)

    # --- leaving -------------------------------------------------------------------------------

    def action_leave(self) -> None:
        if close_lists(self):  # Esc first closes a picker's drop-down
            return
        open_select = next((s for s in self.query(Select) if s.expanded), None)
        if open_select is not None:
            open_select.expanded = False
            return
        if not self.dirty:
            self.dismiss(None)
            return

        def answered(discard: bool | None) -> None:
            if discard:
                self.dismiss(None)

        self.app.push_screen(ConfirmDiscard(), answered)


# --- a picker dialog: search records as you type, Enter takes one ------------------------------

PickChoices = Callable[[str], Sequence[tuple[str, str]]]


class PickDialog(ModalScreen[str | None]):
    """Choose one record (an incident to link, ...): typing searches (`search(text)` runs in
    a thread and returns (key, description) pairs), ↓ moves into the matches, Enter takes the
    highlighted match (or the first), Esc cancels."""

    DEFAULT_CSS = """
    PickDialog { align: center middle; }
    PickDialog > Vertical { width: 76; max-width: 95%; height: auto; max-height: 95%;
        border: thick $accent; padding: 0 1; background: $surface; }
    PickDialog OptionList { height: auto; max-height: 10; }
    PickDialog .dialog-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="itsm.pick_cancel"),
        Binding("down", "matches", "Matches", show=False, id="itsm.pick_matches"),
    ]

    def __init__(self, title: Text, search: PickChoices, placeholder: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.search = search
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, markup=False)
            yield Input(placeholder=self.placeholder, id="pick-text", compact=True)
            yield OptionList(id="pick-options")
            yield Label("type to search · ↓ matches · Enter: take · Esc: cancel",
                        classes="dialog-hint")  # fmt: skip

    def on_mount(self) -> None:
        self.query_one("#pick-text", Input).focus()
        self._search("")

    @on(Input.Changed, "#pick-text")
    def _typed(self, event: Input.Changed) -> None:
        self._search(event.value.strip())

    @work(exclusive=True, group="pick-search", exit_on_error=False, name="searching")
    async def _search(self, text: str) -> None:
        found = await asyncio.to_thread(self.search, text)
        self.post_message(Outcome("pick", (text, list(found))))

    @on(Outcome)
    def _found(self, message: Outcome) -> None:
        text, found = message.value
        if text != self.query_one("#pick-text", Input).value.strip():
            return  # stale: typed on meanwhile
        options = self.query_one("#pick-options", OptionList)
        options.clear_options()
        options.add_options(
            Option(Text.assemble(safe_text(key, "bold"), "  ", safe_text(what)), id=key)
            for key, what in found
        )
        if found:
            options.highlighted = 0

    def action_matches(self) -> None:
        options = self.query_one("#pick-options", OptionList)
        if options.option_count and not options.has_focus:
            options.focus()

    @on(Input.Submitted, "#pick-text")
    def _take_typed(self) -> None:
        options = self.query_one("#pick-options", OptionList)
        if options.option_count:
            option = options.get_option_at_index(options.highlighted or 0)
            self.dismiss(option.id)
        elif text := self.query_one("#pick-text", Input).value.strip():
            self.dismiss(text)

    @on(OptionList.OptionSelected, "#pick-options")
    def _take(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
