"""The incident form: create or edit an incident from the keyboard.

Tab / Shift+Tab move between fields; pickers complete as you type (Right takes the
completion); Ctrl+S saves; Esc leaves, asking first when there are unsaved changes; Ctrl+N adds
a work note and Ctrl+T moves the incident to an allowed next state. Priority is computed from
impact and urgency, never typed. Saves are version-checked: a refused save keeps the edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Header, Input, Select, Static

from opsconsole import clock
from opsconsole.cmdb.service import find_ci, get_ci_by_id
from opsconsole.config import Settings
from opsconsole.itsm import incidents as inc
from opsconsole.itsm.journal import RecordRef, write_or_record_refusal
from opsconsole.itsm.priority import IMPACT_LABELS, priority_of
from opsconsole.screens.itsm_common import (
    FieldErrors,
    Moves,
    SlaCell,
    TicketForm,
    TicketOps,
    history_text,
    journal_lines,
    people,
    priority_text,
)
from opsconsole.screens.itsm_dialogs import Need, Target, TransitionChoice
from opsconsole.store.engine import Store
from opsconsole.widgets.keybar import KeyBar
from opsconsole.widgets.picker import Picker, ci_choices, list_choices
from opsconsole.widgets.text import safe_str, safe_text

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
        history = journal_lines(session, inc.history(session, incident))
        return IncidentView(
            incident.number,
            incident.version,
            incident.state,
            values,
            incident.priority,
            SlaCell.of(inc.sla_badge(incident, settings.itsm, clock.now())),
            history,
        )


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


def incident_targets(allowed: tuple[str, ...], settings: Settings) -> list[Target]:
    needs = {
        "on_hold": (
            Need("on_hold_reason", "On-hold reason", tuple(settings.itsm.on_hold_reasons)),
        ),
        "resolved": (
            Need("resolution_code", "Resolution code", tuple(settings.itsm.resolution_codes)),
            Need("resolution_notes", "Resolution notes"),
        ),
    }
    return [Target(s, inc.IncidentState(s).label, needs.get(s, ())) for s in allowed]


def incident_moves(store: Store, settings: Settings, number: str) -> Moves:
    with store.read() as session:
        incident = inc.get_incident(session, number)
        allowed = tuple(s.value for s in inc.allowed_transitions(incident))
        label = inc.IncidentState(incident.state).label
        return Moves(incident.number, label, incident.version, incident_targets(allowed, settings))


def transition(
    store: Store, settings: Settings, number: str, version: int | None, choice: TransitionChoice
) -> str:
    """Move the incident; returns the new state's label."""
    actor = settings.actor
    with store.read() as session:
        record_id = inc.get_incident(session, number).id

    def move(session: Any) -> str:
        return inc.transition_incident(
            session, actor, number, version, choice.to, settings=settings.itsm, **choice.values
        ).state

    state = write_or_record_refusal(
        store, actor, RecordRef("incident", record_id), {"state": choice.to, **choice.values}, move
    )
    return inc.IncidentState(state).label


def add_work_note(store: Store, settings: Settings, number: str, text: str) -> None:
    with store.write(settings.actor) as session:
        inc.add_note(session, settings.actor, number, text, internal=True)


INCIDENT_OPS = TicketOps("incident", add_work_note, incident_moves, transition)


class IncidentFormScreen(TicketForm):
    TITLE = "opsconsole · Incident"
    TEXT_FIELDS = TEXT_FIELDS
    SELECT_FIELDS = SELECT_FIELDS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="incident.save"),
        Binding("ctrl+n", "work_note", "Work note", priority=True, id="incident.note"),
        Binding("ctrl+t", "transition", "State", priority=True, id="incident.transition"),
        Binding("escape", "leave", "Back", priority=True, id="incident.back"),
        Binding("f5", "reload", "Reload", id="incident.reload"),
    ]

    view: IncidentView | None

    def ticket_ops(self) -> TicketOps:
        return INCIDENT_OPS

    def load_job(self, number: str) -> Callable[[], IncidentView]:
        return partial(load_incident, self.store, self.settings, number)

    def save_job(self, values: dict[str, str], changed: set[str]) -> Callable[[], str]:
        version = self.view.version if self.view else None
        return partial(
            save_incident, self.store, self.settings, self.number, version, values, changed
        )

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
            yield from self._assignment_rows()
            yield Static("", id="form-error", classes="form-error")
            yield Static("", id="incident-history")
        yield KeyBar()

    def show_summary(self) -> None:
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
        parts += self.unsaved_mark()
        self.query_one("#incident-summary", Static).update(Text.assemble(*parts))

    def show_view(self, view: IncidentView) -> None:
        self.query_one("#incident-history", Static).update(history_text(view.history))
