"""The problem form: the cause behind incidents, from the keyboard.

Statement, description, CI (with the business services it serves), priority, assignment,
root cause, workaround, known-error flag and fix notes; the linked incidents (Ctrl+L links
one, picked by number or text; Ctrl+R unlinks one; Enter on a row opens it) and the history.
Ctrl+S saves, Ctrl+N adds a work note, Ctrl+T moves the problem to an allowed next state
(asking for the root cause or fix notes that state needs), Esc leaves (asking first when there
are unsaved edits). Saves are version-checked: a refused save keeps the edit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Header, Input, Select, Static

from opsconsole.cmdb.impact import impacted_services
from opsconsole.cmdb.service import find_ci, get_ci_by_id
from opsconsole.config import Settings
from opsconsole.itsm import incidents as inc
from opsconsole.itsm import problems as prb
from opsconsole.itsm.journal import RecordRef, write_or_record_refusal
from opsconsole.itsm.priority import label as priority_label
from opsconsole.itsm.query import ListQuery
from opsconsole.screens.itsm_common import (
    FieldErrors,
    Moves,
    Outcome,
    PickDialog,
    TicketForm,
    TicketOps,
    explain,
    history_text,
    journal_lines,
    people,
    priority_text,
)
from opsconsole.screens.itsm_dialogs import Need, Target, TransitionChoice
from opsconsole.store.engine import Store
from opsconsole.widgets.keybar import KeyBar
from opsconsole.widgets.picker import Picker, ci_choices
from opsconsole.widgets.text import safe_str, safe_text

TEXT_FIELDS = ("short_description", "description", "ci", "assignment_group", "assignee",
               "root_cause", "workaround", "fix_notes")  # fmt: skip
SELECT_FIELDS = ("priority", "known_error")
FIELD_NAMES = {"ci_id": "ci"}
PICK_HITS = 10
RELEASING = (prb.ProblemState.RESOLVED, prb.ProblemState.CLOSED)
PROBLEM_CSS = """
#problem-body { height: 1fr; }
#problem-form { height: auto; }
#problem-side { height: auto; }
#problem-incidents { height: auto; max-height: 8; margin: 0 1; }
.side-title { text-style: bold; margin: 1 1 0 1; }
#problem-services { margin: 0 1 0 15; color: $text-muted; height: auto; }
ProblemFormScreen.-wide #problem-body { layout: horizontal; }
ProblemFormScreen.-wide #problem-form { width: 1fr; height: auto; }
ProblemFormScreen.-wide #problem-side { width: 1fr; border-left: solid $primary; }
"""


@dataclass(frozen=True)
class LinkedIncident:
    number: str
    state: str  # label, with the on-hold reason
    priority: int
    short_description: str


@dataclass(frozen=True)
class ProblemView:
    number: str
    id: int
    version: int
    state: str
    values: dict[str, str]  # as the form shows them
    services: tuple[str, ...]
    incidents: tuple[LinkedIncident, ...]
    history: tuple[str, ...]


def _incident_state(incident: Any) -> str:
    label = inc.IncidentState(incident.state).label
    return f"{label} ({incident.on_hold_reason})" if incident.on_hold_reason else label


def load_problem(store: Store, number: str) -> ProblemView:
    with store.read() as session:
        problem = prb.get_problem(session, number)
        ci = get_ci_by_id(session, problem.ci_id) if problem.ci_id is not None else None
        services = tuple(p.ci.name for p in impacted_services(session, ci)) if ci else ()
        values = {
            "short_description": problem.short_description,
            "description": problem.description or "",
            "ci": ci.name if ci else "",
            "priority": str(problem.priority),
            "assignment_group": problem.assignment_group or "",
            "assignee": problem.assignee or "",
            "root_cause": problem.root_cause or "",
            "workaround": problem.workaround or "",
            "known_error": "yes" if problem.known_error else "no",
            "fix_notes": problem.fix_notes or "",
        }
        incidents = tuple(
            LinkedIncident(i.number, _incident_state(i), i.priority, i.short_description)
            for i in prb.linked_incidents(session, problem)
        )
        return ProblemView(
            problem.number,
            problem.id,
            problem.version,
            problem.state,
            values,
            services,
            incidents,
            journal_lines(session, prb.history(session, problem)),
        )


def _resolve(store: Store, settings: Settings, values: dict[str, str]) -> dict[str, Any]:
    """Form text -> domain fields; unknown names become inline errors."""
    errors: dict[str, str] = {}
    if not values["short_description"].strip():
        errors["short_description"] = "a problem statement is needed"
    group = values["assignment_group"].strip()
    if group and group not in settings.itsm.groups:
        errors["assignment_group"] = f"no group {safe_str(group)!r}"
    person = values["assignee"].strip()
    if person and person not in people(settings):
        errors["assignee"] = f"no person {safe_str(person)!r}"
    elif person and group and person not in settings.itsm.groups.get(group, []):
        errors["assignee"] = f"{safe_str(person)} is not in {safe_str(group)}"
    known_error = values["known_error"] == "yes"
    if known_error and not values["workaround"].strip():
        errors["known_error"] = "a known error needs its workaround"
    ci_id = None
    text = values["ci"].strip()
    if text:
        with store.read() as session:
            ci = find_ci(session, text)
            if ci is None:
                errors["ci"] = f"no CI named {safe_str(text)!r}"
            else:
                ci_id = ci.id
    if errors:
        raise FieldErrors(errors)
    return {
        "short_description": values["short_description"].strip(),
        "description": values["description"],
        "ci_id": ci_id,
        "priority": int(values["priority"] or 4),
        "assignment_group": group or None,
        "assignee": person or None,
        "root_cause": values["root_cause"].strip() or None,
        "workaround": values["workaround"].strip() or None,
        "fix_notes": values["fix_notes"].strip() or None,
        "known_error": known_error,
    }


LATER_FIELDS = ("root_cause", "workaround", "fix_notes", "known_error")


def save_problem(
    store: Store, settings: Settings, number: str | None, version: int | None,
    values: dict[str, str], changed: set[str],
) -> str:  # fmt: skip
    fields = _resolve(store, settings, values)
    actor = settings.actor
    if number is None:
        later = {k: fields.pop(k) for k in LATER_FIELDS}
        later = {k: v for k, v in later.items() if v}
        with store.write(actor) as session:
            created = prb.create_problem(session, actor, **fields).number
            if later:  # analysis typed before the first save
                prb.update_problem(session, actor, created, None, **later)
            return created
    wanted = {k: v for k, v in fields.items() if FIELD_NAMES.get(k, k) in changed}
    with store.read() as session:
        record_id = prb.get_problem(session, number).id

    def update(session: Any) -> str:
        return prb.update_problem(session, actor, number, version, **wanted).number

    return write_or_record_refusal(store, actor, RecordRef("problem", record_id), wanted, update)


def problem_moves(store: Store, settings: Settings, number: str) -> Moves:
    """The allowed next states, each asking only for what the problem still lacks."""
    with store.read() as session:
        problem = prb.get_problem(session, number)
        current = prb.ProblemState(problem.state)
        cause = () if (problem.root_cause or "").strip() else (Need("root_cause", "Root cause"),)
        fix = () if (problem.fix_notes or "").strip() else (Need("fix_notes", "Fix notes"),)
        needs: dict[prb.ProblemState, tuple[Need, ...]] = {
            prb.ProblemState.FIX_IN_PROGRESS: cause,
            prb.ProblemState.RESOLVED: cause + fix,
        }
        if current is prb.ProblemState.ASSESS:
            needs[prb.ProblemState.CLOSED] = (
                Need("note", "Why close it (not a problem, duplicate)"),
            )
        targets = [
            Target(s.value, s.label, needs.get(s, ())) for s in prb.allowed_transitions(problem)
        ]
        return Moves(problem.number, current.label, problem.version, targets)


def move_problem(
    store: Store, settings: Settings, number: str, version: int | None, choice: TransitionChoice
) -> str:
    """Move the problem (resolving or closing it releases the incidents waiting for it);
    returns the new state's label, naming the incidents released."""
    actor = settings.actor
    with store.read() as session:
        record_id = prb.get_problem(session, number).id

    def move(session: Any) -> tuple[str, list[str]]:
        waiting = prb.waiting_incidents(session, prb.get_problem(session, number), settings.itsm)
        numbers = [i.number for i in waiting]
        problem = prb.transition_problem(
            session, actor, number, version, choice.to, settings=settings.itsm, **choice.values
        )
        released = [n for n in numbers if prb.ProblemState(problem.state) in RELEASING]
        return problem.state, released

    state, released = write_or_record_refusal(
        store, actor, RecordRef("problem", record_id), {"state": choice.to, **choice.values}, move
    )
    label = prb.ProblemState(state).label
    return f"{label}; no longer waiting: {', '.join(released)}" if released else label


def note_problem(store: Store, settings: Settings, number: str, text: str) -> None:
    with store.write(settings.actor) as session:
        prb.add_note(session, settings.actor, number, text, internal=True)


PROBLEM_OPS = TicketOps("problem", note_problem, problem_moves, move_problem)


def link(store: Store, settings: Settings, number: str, incident: str, *, on: bool) -> str:
    with store.write(settings.actor) as session:
        if on:
            prb.link_incident(session, settings.actor, number, incident)
        else:
            prb.unlink_incident(session, settings.actor, number, incident)
    return incident.strip().upper()


def incident_search(store: Store, exclude: Sequence[str]) -> Callable[[str], list[tuple[str, str]]]:
    """Incidents matching the text (number or words), open ones first."""

    def search(text: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        with store.read() as session:
            for view in ("open", "all"):
                query = ListQuery(view=view, text=text, sort="newest")
                for i in inc.list_incidents(session, query, limit=PICK_HITS).rows:
                    if i.number not in exclude and all(i.number != n for n, _ in found):
                        found.append((i.number, f"{_incident_state(i)} · {i.short_description}"))
        return found[:PICK_HITS]

    return search


def linked_search(view: ProblemView) -> Callable[[str], list[tuple[str, str]]]:
    def search(text: str) -> list[tuple[str, str]]:
        needle = text.lower()
        return [
            (i.number, f"{i.state} · {i.short_description}")
            for i in view.incidents
            if needle in i.number.lower() or needle in i.short_description.lower()
        ]

    return search


class ProblemFormScreen(TicketForm):
    TITLE = "opsconsole · Problem"
    DEFAULT_CSS = TicketForm.DEFAULT_CSS + PROBLEM_CSS
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]  # side column from 120
    TEXT_FIELDS = TEXT_FIELDS
    SELECT_FIELDS = SELECT_FIELDS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="problem.save"),
        Binding("ctrl+n", "work_note", "Work note", priority=True, id="problem.note"),
        Binding("ctrl+t", "transition", "State", priority=True, id="problem.transition"),
        Binding("ctrl+l", "link", "Link inc.", priority=True, id="problem.link",
                tooltip="Link an incident (search by number or text)"),
        Binding("ctrl+r", "unlink", "Unlink", priority=True, id="problem.unlink",
                tooltip="Unlink one of the linked incidents"),
        Binding("escape", "leave", "Back", priority=True, id="problem.back"),
        Binding("f5", "reload", "Reload", show=False, id="problem.reload",
                tooltip="Reload from the store (asks first when there are edits)"),
    ]  # fmt: skip

    view: ProblemView | None

    def ticket_ops(self) -> TicketOps:
        return PROBLEM_OPS

    def load_job(self, number: str) -> Callable[[], ProblemView]:
        return partial(load_problem, self.store, number)

    def save_job(self, values: dict[str, str], changed: set[str]) -> Callable[[], str]:
        version = self.view.version if self.view else None
        return partial(
            save_problem, self.store, self.settings, self.number, version, values, changed
        )

    def compose(self) -> ComposeResult:
        priorities = [(priority_label(p), str(p)) for p in range(1, 6)]
        yield Header()
        yield Static("", id="problem-summary", classes="form-summary")
        with VerticalScroll(id="problem-body"):
            with Vertical(id="problem-form"):
                yield from self._row(
                    "short_description", "Statement", Input(id="short_description")
                )
                yield from self._row("description", "Description", Input(id="description"))
                yield from self._row(
                    "ci", "CI", Picker(ci_choices(self.store), id="ci", placeholder="CI name")
                )
                yield Static("", id="problem-services")
                yield from self._row(
                    "priority",
                    "Priority",
                    Select(priorities, id="priority", value="4", allow_blank=False, compact=True),
                )
                yield from self._assignment_rows()
                yield from self._row(
                    "root_cause", "Root cause", Input(id="root_cause", placeholder="why it happens")
                )
                yield from self._row(
                    "workaround",
                    "Workaround",
                    Input(id="workaround", placeholder="what operators do meanwhile"),
                )
                yield from self._row(
                    "known_error",
                    "Known error",
                    Select(
                        [("no", "no"), ("yes", "yes")],
                        id="known_error",
                        value="no",
                        allow_blank=False,
                        compact=True,
                    ),
                )
                yield from self._row(
                    "fix_notes", "Fix notes", Input(id="fix_notes", placeholder="what was changed")
                )
                yield Static("", id="form-error", classes="form-error")
            with Vertical(id="problem-side"):
                yield Static("Linked incidents  (Ctrl+L link · Ctrl+R unlink · Enter open)",
                             classes="side-title")  # fmt: skip
                yield DataTable(id="problem-incidents", cursor_type="row", show_header=False)
                yield Static("", id="problem-history", classes="form-history")
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one("#problem-incidents", DataTable)
        table.add_columns("Number", "Pri", "State", "Short description")

    # --- painting --------------------------------------------------------------------------

    def show_summary(self) -> None:
        view = self.view
        values = self.values()
        parts: list[Text | str] = [
            safe_text(self.number or "New problem", "bold"),
            "  ",
            prb.ProblemState(view.state).label if view else "New",
            "  Priority ",
            priority_text(int(values["priority"] or 4)),
        ]
        if values["known_error"] == "yes":
            parts.append(Text("  KNOWN ERROR", style="bold yellow"))
        if view is not None:
            parts.append(f"  {len(view.incidents)} incident(s)")
        parts += self.unsaved_mark()
        self.query_one("#problem-summary", Static).update(Text.assemble(*parts))

    def show_view(self, view: ProblemView) -> None:
        services = self.query_one("#problem-services", Static)
        services.update(
            Text.assemble("serves: ", safe_text(", ".join(view.services))) if view.services else ""
        )
        table = self.query_one("#problem-incidents", DataTable)
        with self.app.batch_update():
            table.clear()
            for i in view.incidents:
                table.add_row(
                    safe_text(i.number),
                    priority_text(i.priority),
                    safe_text(i.state),
                    safe_text(i.short_description),
                    key=i.number,
                )
            if not view.incidents:
                table.add_row(Text("none linked", style="dim"), "", "", "", key="")
        self.query_one("#problem-history", Static).update(history_text(view.history))

    # --- linked incidents --------------------------------------------------------------------

    def action_link(self) -> None:
        view = self.view
        if self.number is None or view is None:
            self.notify("save the problem first", severity="warning")
            return
        exclude = [i.number for i in view.incidents]
        title = Text.assemble("Link an incident to ", safe_text(view.number))
        self._pick_and_link(
            PickDialog(title, incident_search(self.store, exclude), "INC number or words"), True
        )

    def action_unlink(self) -> None:
        view = self.view
        if self.number is None or view is None or not view.incidents:
            self.notify("no linked incident to unlink", severity="warning")
            return
        title = Text.assemble("Unlink an incident from ", safe_text(view.number))
        self._pick_and_link(PickDialog(title, linked_search(view), "filter"), False)

    @work(exclusive=True, group="problem-link", exit_on_error=False, name="linking an incident")
    async def _pick_and_link(self, dialog: PickDialog, on: bool) -> None:
        number = self.number
        incident = await self.app.push_screen_wait(dialog)
        if not incident or number is None:
            return
        what = "link" if on else "unlink"
        try:
            done = await asyncio.to_thread(link, self.store, self.settings, number, incident, on=on)
        except Exception as exc:
            self.post_message(Outcome(what, error=exc))
            return
        self.post_message(Outcome(what, done))

    @on(DataTable.RowSelected, "#problem-incidents")
    def _open_incident(self, event: DataTable.RowSelected) -> None:
        number = event.row_key.value
        if number:
            from opsconsole.screens.itsm_incident_form import IncidentFormScreen

            self.app.push_screen(IncidentFormScreen(self.store, self.settings, number))

    def other_outcome(self, message: Outcome) -> None:
        if message.what not in ("link", "unlink"):
            return
        if message.error is not None:
            self.notify(
                explain(message.error),
                title=f"{message.what} refused",
                severity="error",
                markup=False,
            )
            return
        verb = "linked to" if message.what == "link" else "unlinked from"
        self.notify(f"{message.value} {verb} {self.number}", markup=False)
        if self.number is not None:
            self._load(self.number)
