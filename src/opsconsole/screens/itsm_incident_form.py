"""The incident form: create or edit an incident from the keyboard.

Tab / Shift+Tab move between fields; pickers complete as you type (Right takes the
completion); Ctrl+S saves; Esc leaves, asking first when there are unsaved changes; Ctrl+N adds
a work note and Ctrl+T moves the incident to an allowed next state. Priority is computed from
impact and urgency, never typed. Saves are version-checked: a refused save keeps the edit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Label, Select, Static

from opsconsole import clock
from opsconsole.cmdb.service import find_ci, get_ci_by_id
from opsconsole.config import Settings
from opsconsole.itsm import incidents as inc
from opsconsole.itsm.journal import RecordRef, write_or_record_refusal
from opsconsole.itsm.priority import IMPACT_LABELS, priority_of
from opsconsole.screens import describe_error
from opsconsole.screens.itsm_common import (
    FORM_CSS,
    Outcome,
    SlaCell,
    explain,
    groups,
    people,
    priority_text,
)
from opsconsole.screens.itsm_dialogs import (
    ConfirmDiscard,
    Need,
    NoteDialog,
    Target,
    TransitionChoice,
    TransitionDialog,
)
from opsconsole.store.engine import Store
from opsconsole.widgets.picker import Picker, ci_choices, list_choices
from opsconsole.widgets.text import safe_str, safe_text

HISTORY_LINES = 8
TEXT_FIELDS = ("short_description", "description", "caller", "ci", "service",
               "assignment_group", "assignee")  # fmt: skip
SELECT_FIELDS = ("category", "impact", "urgency")


@dataclass(frozen=True)
class IncidentView:
    number: str
    version: int
    state: str
    values: dict[str, str]  # as the form shows them
    priority: int
    sla: SlaCell
    allowed: tuple[str, ...]
    history: tuple[str, ...]


def load_incident(store: Store, settings: Settings, number: str) -> IncidentView:
    with store.read() as session:
        incident = inc.get_incident(session, number)

        def ci_name(ci_id: int | None) -> str:
            return get_ci_by_id(session, ci_id).name if ci_id is not None else ""

        values = {
            "short_description": incident.short_description,
            "description": incident.description or "",
            "caller": incident.caller or "",
            "category": incident.category or "",
            "ci": ci_name(incident.ci_id),
            "service": ci_name(incident.service_id),
            "impact": str(incident.impact),
            "urgency": str(incident.urgency),
            "assignment_group": incident.assignment_group or "",
            "assignee": incident.assignee or "",
        }
        history = tuple(
            f"{e.at:%m-%d %H:%M} {e.actor}: "
            + (e.text or f"{e.field} {e.old_value or '-'} -> {e.new_value or '-'}")
            for e in inc.history(session, incident)[-HISTORY_LINES:]
        )
        return IncidentView(
            incident.number,
            incident.version,
            incident.state,
            values,
            incident.priority,
            SlaCell.of(inc.sla_badge(incident, settings.itsm, clock.now())),
            tuple(s.value for s in inc.allowed_transitions(incident)),
            history,
        )


class FieldErrors(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def _resolve(store: Store, settings: Settings, values: dict[str, str]) -> dict[str, Any]:
    """Form text -> domain fields; unknown names become inline errors."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    if not values["short_description"].strip():
        errors["short_description"] = "a short description is needed"
    fields["short_description"] = values["short_description"].strip()
    fields["description"] = values["description"]
    fields["caller"] = values["caller"].strip() or None
    fields["category"] = values["category"] or None
    fields["impact"] = int(values["impact"] or 3)
    fields["urgency"] = int(values["urgency"] or 3)
    group = values["assignment_group"].strip()
    if group and group not in settings.itsm.groups:
        errors["assignment_group"] = f"no group {safe_str(group)!r}"
    fields["assignment_group"] = group or None
    person = values["assignee"].strip()
    if person and person not in people(settings):
        errors["assignee"] = f"no person {safe_str(person)!r}"
    elif person and group and person not in settings.itsm.groups.get(group, []):
        errors["assignee"] = f"{safe_str(person)} is not in {safe_str(group)}"
    fields["assignee"] = person or None
    with store.read() as session:
        for name, key in (("ci", "ci_id"), ("service", "service_id")):
            text = values[name].strip()
            ci = find_ci(session, text) if text else None
            if text and ci is None:
                errors[name] = f"no CI named {safe_str(text)!r}"
            elif name == "service" and ci is not None and ci.ci_class != "service":
                errors[name] = f"{safe_str(text)} is not a service"
            fields[key] = ci.id if ci is not None else None
    if errors:
        raise FieldErrors(errors)
    return fields


def save_incident(
    store: Store, settings: Settings, number: str | None, version: int | None,
    values: dict[str, str], changed: set[str],
) -> str:  # fmt: skip
    fields = _resolve(store, settings, values)
    actor = settings.actor
    if number is None:
        with store.write(actor) as session:
            return inc.create_incident(session, actor, settings=settings.itsm, **fields).number
    wanted = {k: v for k, v in fields.items() if _form_name(k) in changed}
    with store.read() as session:
        record_id = inc.get_incident(session, number).id

    def update(session: Any) -> str:
        return inc.update_incident(
            session, actor, number, version, settings=settings.itsm, **wanted
        ).number

    return write_or_record_refusal(store, actor, RecordRef("incident", record_id), wanted, update)


def _form_name(field: str) -> str:
    return {"ci_id": "ci", "service_id": "service"}.get(field, field)


def incident_targets(view: IncidentView, settings: Settings) -> list[Target]:
    needs = {
        "on_hold": (
            Need("on_hold_reason", "On-hold reason", tuple(settings.itsm.on_hold_reasons)),
        ),
        "resolved": (
            Need("resolution_code", "Resolution code", tuple(settings.itsm.resolution_codes)),
            Need("resolution_notes", "Resolution notes"),
        ),
    }
    return [Target(s, inc.IncidentState(s).label, needs.get(s, ())) for s in view.allowed]


def transition(
    store: Store, settings: Settings, number: str, version: int | None, choice: TransitionChoice
) -> str:
    actor = settings.actor
    with store.read() as session:
        record_id = inc.get_incident(session, number).id

    def move(session: Any) -> str:
        return inc.transition_incident(
            session, actor, number, version, choice.to, settings=settings.itsm, **choice.values
        ).state

    return write_or_record_refusal(
        store, actor, RecordRef("incident", record_id), {"state": choice.to, **choice.values}, move
    )


def add_work_note(store: Store, settings: Settings, number: str, text: str) -> None:
    with store.write(settings.actor) as session:
        inc.add_note(session, settings.actor, number, text, internal=True)


class IncidentActions:
    """Ctrl+N work note and Ctrl+T transition, for the form and the list (mixin for Screens)."""

    store: Store
    settings: Settings

    def ticket_number(self) -> str | None:
        raise NotImplementedError

    def ticket_version(self) -> int | None:
        return None  # None: version checked against what the worker reads

    def action_work_note(self) -> None:
        number = self.ticket_number()
        if number is None:
            self.notify("save the incident first", severity="warning")  # type: ignore[attr-defined]
            return

        def added(text: str | None) -> None:
            if text:
                self._note_worker(number, text)

        self.app.push_screen(NoteDialog(number), added)  # type: ignore[attr-defined]

    @work(exclusive=True, group="incident-note", exit_on_error=False, name="adding a note")
    async def _note_worker(self, number: str, text: str) -> None:
        try:
            await asyncio.to_thread(add_work_note, self.store, self.settings, number, text)
        except Exception as exc:
            self.post_message(Outcome("note", error=exc))  # type: ignore[attr-defined]
            return
        self.post_message(Outcome("note", number))  # type: ignore[attr-defined]

    def action_transition(self) -> None:
        number = self.ticket_number()
        if number is None:
            self.notify("save the incident first", severity="warning")  # type: ignore[attr-defined]
            return
        self._offer_transitions(number)

    @work(exclusive=True, group="incident-move", exit_on_error=False, name="moving an incident")
    async def _offer_transitions(self, number: str) -> None:
        view = await asyncio.to_thread(load_incident, self.store, self.settings, number)
        targets = incident_targets(view, self.settings)
        if not targets:
            self.notify(f"{number} is {view.state}: it is final", severity="warning")  # type: ignore[attr-defined]
            return
        label = inc.IncidentState(view.state).label
        choice = await self.app.push_screen_wait(  # type: ignore[attr-defined]
            TransitionDialog(number, label, targets)
        )
        if choice is None:
            return
        version = self.ticket_version() or view.version
        try:
            state = await asyncio.to_thread(
                transition, self.store, self.settings, number, version, choice
            )
        except Exception as exc:
            self.post_message(Outcome("transition", error=exc))  # type: ignore[attr-defined]
            return
        self.post_message(Outcome("transition", (number, state)))  # type: ignore[attr-defined]


class IncidentFormScreen(IncidentActions, Screen[None]):
    TITLE = "opsconsole · Incident"
    DEFAULT_CSS = FORM_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="incident.save"),
        Binding("ctrl+n", "work_note", "Work note", priority=True, id="incident.note"),
        Binding("ctrl+t", "transition", "State", priority=True, id="incident.transition"),
        Binding("escape", "leave", "Back", priority=True, id="incident.back"),
        Binding("f5", "reload", "Reload", id="incident.reload"),
    ]

    def __init__(self, store: Store, settings: Settings, number: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.number = number
        self.view: IncidentView | None = None
        self.saved_values: dict[str, str] = {}

    def ticket_number(self) -> str | None:
        return self.number

    def ticket_version(self) -> int | None:
        return self.view.version if self.view else None

    def compose(self) -> ComposeResult:
        itsm = self.settings.itsm
        levels = [(label, str(level)) for level, label in IMPACT_LABELS.items()]
        yield Header()
        yield Static("", id="incident-summary")
        with VerticalScroll(id="incident-form"):
            yield from self._row(
                "short_description", "Short descr.", Input(id="short_description", compact=True)
            )
            yield from self._row(
                "description", "Description", Input(id="description", compact=True)
            )
            yield from self._row(
                "caller",
                "Caller",
                Picker(list_choices(people(self.settings)), id="caller", placeholder="person"),
            )
            yield from self._row(
                "category",
                "Category",
                Select(
                    [(c, c) for c in itsm.categories], id="category", compact=True, prompt="(none)"
                ),
            )
            yield from self._row(
                "ci", "CI", Picker(ci_choices(self.store), id="ci", placeholder="type a CI name")
            )
            yield from self._row(
                "service",
                "Service",
                Picker(ci_choices(self.store), id="service", placeholder="business service"),
            )
            yield from self._row(
                "impact",
                "Impact",
                Select(levels, id="impact", value="3", allow_blank=False, compact=True),
            )
            yield from self._row(
                "urgency",
                "Urgency",
                Select(levels, id="urgency", value="3", allow_blank=False, compact=True),
            )
            yield from self._row(
                "assignment_group",
                "Group",
                Picker(
                    list_choices(groups(self.settings)),
                    id="assignment_group",
                    placeholder="assignment group",
                ),
            )
            yield from self._row(
                "assignee",
                "Assignee",
                Picker(list_choices(people(self.settings)), id="assignee", placeholder="person"),
            )
            yield Static("", id="form-error", classes="form-error")
            yield Static("", id="incident-history")
        yield Footer(compact=True)

    def _row(self, name: str, label: str, widget: Any) -> ComposeResult:
        if isinstance(widget, Input):
            widget.compact = True
        with Horizontal(classes="form-row"):
            yield Label(label, classes="form-label")
            yield widget
        yield Static("", id=f"error-{name}", classes="field-error")

    def on_mount(self) -> None:
        self.query_one("#short_description", Input).focus()
        if self.number is None:
            self.saved_values = self.values()
            self._show_summary()
        else:
            self.action_reload()

    # --- values ----------------------------------------------------------------------------

    def values(self) -> dict[str, str]:
        out = {name: self.query_one(f"#{name}", Input).value for name in TEXT_FIELDS}
        for name in SELECT_FIELDS:
            select = self.query_one(f"#{name}", Select)
            out[name] = "" if select.is_blank() else str(select.value)
        return out

    def fill(self, values: dict[str, str]) -> None:
        for name in TEXT_FIELDS:
            self.query_one(f"#{name}", Input).value = values[name]
        for name in SELECT_FIELDS:
            select = self.query_one(f"#{name}", Select)
            if values[name]:
                select.value = values[name]
            else:
                select.clear()

    @property
    def dirty(self) -> bool:
        return self.values() != self.saved_values

    def _show_summary(self) -> None:
        values = self.values()
        try:
            priority = priority_of(
                int(values["impact"] or 3), int(values["urgency"] or 3), self.settings.itsm
            )
        except ValueError:
            priority = None
        view = self.view
        parts: list[Text | str] = [
            safe_text(self.number or "New incident", "bold"),
            "  ",
            inc.IncidentState(view.state).label if view else "New",
            "  Priority ",
            priority_text(priority),
        ]
        if view is not None and view.sla.text:
            parts += ["  SLA ", view.sla.render()]
        if self.dirty:
            parts.append(Text("  ● unsaved", style="italic"))
        self.query_one("#incident-summary", Static).update(Text.assemble(*parts))

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self._show_summary()

    # --- load / save -----------------------------------------------------------------------

    def action_reload(self) -> None:
        if self.number is not None:
            self._load(self.number)

    @work(exclusive=True, group="incident-load", exit_on_error=False, name="loading incident")
    async def _load(self, number: str) -> None:
        try:
            view = await asyncio.to_thread(load_incident, self.store, self.settings, number)
        except Exception as exc:
            self.post_message(Outcome("load", error=exc))
            return
        self.post_message(Outcome("load", view))

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
        self._save(values, changed)

    @work(exclusive=True, group="incident-save", exit_on_error=False, name="saving incident")
    async def _save(self, values: dict[str, str], changed: set[str]) -> None:
        version = self.view.version if self.view else None
        try:
            number = await asyncio.to_thread(
                save_incident, self.store, self.settings, self.number, version, values, changed
            )
        except Exception as exc:
            self.post_message(Outcome("save", error=exc))
            return
        self.post_message(Outcome("save", (number, values)))

    @on(Outcome)
    def _outcome(self, message: Outcome) -> None:
        error = message.error
        form_error = self.query_one("#form-error", Static)
        if isinstance(error, FieldErrors):
            for name, text in error.errors.items():
                shown = self.query_one(f"#error-{name}", Static)
                shown.update(text)
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
            view: IncidentView = message.value
            self.view = view
            self.fill(view.values)
            self.saved_values = dict(view.values)
            self.query_one("#incident-history", Static).update(
                Text.assemble(
                    Text("History\n", style="bold"),
                    Text("\n".join(safe_str(line) for line in view.history), style="dim"),
                )
            )
            self._show_summary()
        elif message.what == "save":
            number, values = message.value
            self.number = number
            self.saved_values = dict(values)
            self.notify(f"{number} saved", markup=False)
            self.action_reload()
        elif message.what == "transition":
            number, state = message.value
            self.notify(f"{number} is now {inc.IncidentState(state).label}", markup=False)
            self.action_reload()
        elif message.what == "note":
            self.notify(f"work note added to {message.value}", markup=False)
            self.action_reload()

    # --- leaving ---------------------------------------------------------------------------

    def action_leave(self) -> None:
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
