"""The change form: create or edit a change, with its conflicts and a calendar of the changes
planned on its CIs, both recomputed as the CIs, the window or the assignee change.

Tab / Shift+Tab move; the CI picker takes a comma-separated list and completes the last name;
dates are `YYYY-MM-DD HH:MM` local time; Ctrl+S saves; Esc asks before dropping unsaved edits.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Input, Label, Select, Static

from opsconsole.cmdb.service import find_ci
from opsconsole.config import Settings
from opsconsole.itsm import changes as chg
from opsconsole.itsm.journal import RecordRef, write_or_record_refusal
from opsconsole.itsm.priority import IMPACT_LABELS
from opsconsole.screens import describe_error
from opsconsole.screens.itsm_common import FORM_CSS, Outcome, explain, groups, people
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

DATE_FORMAT = "%Y-%m-%d %H:%M"
CALENDAR_DAYS = 7
RECHECK_SECONDS = 0.3
TEXT_FIELDS = ("short_description", "description", "cis", "planned_start", "planned_end",
               "assignment_group", "assignee", "implementation_plan", "backout_plan",
               "test_plan")  # fmt: skip
SELECT_FIELDS = ("change_type", "risk", "impact")
LIVE_FIELDS = {"cis", "planned_start", "planned_end", "assignee"}


class FieldErrors(Exception):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def parse_when(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    return datetime.strptime(text, DATE_FORMAT).astimezone()


def show_when(value: datetime | None) -> str:
    return value.astimezone().strftime(DATE_FORMAT) if value else ""


@dataclass(frozen=True)
class ChangeView:
    number: str
    id: int
    version: int
    state: str
    values: dict[str, str]


def load_change(store: Store, number: str) -> ChangeView:
    with store.read() as session:
        change = chg.get_change(session, number)
        names = [ci.name for ci in chg.change_cis(session, change)]
        values = {
            "change_type": change.change_type,
            "short_description": change.short_description,
            "description": change.description or "",
            "cis": ", ".join(names),
            "planned_start": show_when(change.planned_start),
            "planned_end": show_when(change.planned_end),
            "risk": change.risk or "",
            "impact": str(change.impact),
            "assignment_group": change.assignment_group or "",
            "assignee": change.assignee or "",
            "implementation_plan": change.implementation_plan or "",
            "backout_plan": change.backout_plan or "",
            "test_plan": change.test_plan or "",
        }
        return ChangeView(change.number, change.id, change.version, change.state, values)


def _resolve(store: Store, settings: Settings, values: dict[str, str]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    if not values["short_description"].strip():
        errors["short_description"] = "a short description is needed"
    for name in ("planned_start", "planned_end"):
        try:
            fields[name] = parse_when(values[name])
        except ValueError:
            errors[name] = "write it as YYYY-MM-DD HH:MM"
    start, end = fields.get("planned_start"), fields.get("planned_end")
    if start and end and end <= start:
        errors["planned_end"] = "the end must come after the start"
    group = values["assignment_group"].strip()
    if group and group not in settings.itsm.groups:
        errors["assignment_group"] = f"no group {safe_str(group)!r}"
    person = values["assignee"].strip()
    if person and person not in people(settings):
        errors["assignee"] = f"no person {safe_str(person)!r}"
    ci_ids: list[int] = []
    names = [n.strip() for n in values["cis"].split(",") if n.strip()]
    with store.read() as session:
        for name in names:
            ci = find_ci(session, name)
            if ci is None:
                errors["cis"] = f"no CI named {safe_str(name)!r}"
            else:
                ci_ids.append(ci.id)
    if errors:
        raise FieldErrors(errors)
    fields.update(
        change_type=values["change_type"] or "normal",
        short_description=values["short_description"].strip(),
        description=values["description"],
        ci_ids=ci_ids,
        risk=values["risk"] or None,
        impact=int(values["impact"] or 3),
        assignment_group=group or None,
        assignee=person or None,
        implementation_plan=values["implementation_plan"],
        backout_plan=values["backout_plan"],
        test_plan=values["test_plan"],
    )
    return fields


def save_change(
    store: Store, settings: Settings, view: ChangeView | None, values: dict[str, str],
    changed: set[str],
) -> str:  # fmt: skip
    fields = _resolve(store, settings, values)
    actor = settings.actor
    if view is None:
        with store.write(actor) as session:
            return chg.create_change(session, actor, settings=settings.itsm, **fields).number
    ci_ids = fields.pop("ci_ids") if "cis" in changed else None
    fields.pop("ci_ids", None)
    fields.pop("change_type")
    wanted = {k: v for k, v in fields.items() if k in changed}
    attempted = {**wanted, **({"ci_ids": ci_ids} if ci_ids is not None else {})}

    def update(session: Any) -> str:
        return chg.update_change(
            session, actor, view.number, view.version, ci_ids=ci_ids, settings=settings.itsm,
            **wanted,
        ).number  # fmt: skip

    return write_or_record_refusal(store, actor, RecordRef("change", view.id), attempted, update)


def change_targets(
    settings: Settings, view: ChangeView, allowed: list[str], conflicted: bool
) -> list[Target]:
    codes = tuple(settings.itsm.changes.close_codes)
    needs: dict[str, tuple[Need, ...]] = {
        "closed": (Need("close_code", "Close code", codes), Need("close_notes", "Close notes")),
        "canceled": (Need("cancel_reason", "Cancel reason"),),
    }
    if conflicted:
        needs["scheduled"] = (Need("override_conflicts", "Why go ahead despite the conflicts"),)
    return [Target(s, chg.ChangeState(s).label, needs.get(s, ())) for s in allowed]


def allowed_of(store: Store, number: str) -> tuple[ChangeView, list[str]]:
    view = load_change(store, number)
    with store.read() as session:
        change = chg.get_change(session, number)
        return view, [s.value for s in chg.allowed_transitions(change)]


def move_change(
    store: Store, settings: Settings, view: ChangeView, choice: TransitionChoice
) -> str:
    actor = settings.actor

    def move(session: Any) -> str:
        return chg.transition_change(
            session, actor, view.number, view.version, choice.to, settings=settings.itsm,
            **choice.values,
        ).state  # fmt: skip

    attempted = {"state": choice.to, **choice.values}
    return write_or_record_refusal(store, actor, RecordRef("change", view.id), attempted, move)


def note_change(store: Store, settings: Settings, number: str, text: str) -> None:
    with store.write(settings.actor) as session:
        chg.add_note(session, settings.actor, number, text, internal=True)


@dataclass(frozen=True)
class Surroundings:
    """Conflicts and the calendar for the window being edited."""

    key: tuple[str, ...]
    conflicts: tuple[str, ...]
    calendar: tuple[str, ...]
    problem: str = ""


def surroundings(
    store: Store, settings: Settings, key: tuple[str, ...], exclude: int | None
) -> Surroundings:
    cis, start_text, end_text, assignee = key
    try:
        start, end = parse_when(start_text), parse_when(end_text)
    except ValueError:
        return Surroundings(key, (), (), "dates: YYYY-MM-DD HH:MM")
    names = [n.strip() for n in cis.split(",") if n.strip()]
    with store.read() as session:
        ci_ids = [ci.id for n in names if (ci := find_ci(session, n)) is not None]
        conflicts = chg.find_conflicts(
            session, ci_ids, start, end, assignee=assignee.strip() or None,
            exclude_change_id=exclude, settings=settings.itsm,
        )  # fmt: skip
        centre = start or end
        calendar: list[str] = []
        if ci_ids and centre is not None:
            entries = chg.change_calendar(
                session, ci_ids, centre - timedelta(days=CALENDAR_DAYS),
                centre + timedelta(days=CALENDAR_DAYS), exclude_change_id=exclude,
            )  # fmt: skip
            calendar = [
                f"{show_when(e.start)} → {show_when(e.end)[11:]}  {e.number} {e.state} "
                f"({e.relation}: {', '.join(e.ci_names)}) {e.short_description}"
                for e in entries
            ]
    return Surroundings(key, tuple(c.detail for c in conflicts), tuple(calendar))


class ChangeFormScreen(Screen[None]):
    TITLE = "opsconsole · Change"
    DEFAULT_CSS = FORM_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="change.save"),
        Binding("ctrl+n", "work_note", "Work note", priority=True, id="change.note"),
        Binding("ctrl+t", "transition", "State", priority=True, id="change.transition"),
        Binding("escape", "leave", "Back", priority=True, id="change.back"),
        Binding("f5", "reload", "Reload", id="change.reload"),
    ]

    def __init__(self, store: Store, settings: Settings, number: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.settings = settings
        self.number = number
        self.view: ChangeView | None = None
        self.saved_values: dict[str, str] = {}
        self.conflicts: tuple[str, ...] = ()
        self._recheck: Timer | None = None

    def compose(self) -> ComposeResult:
        itsm = self.settings.itsm
        levels = [(label, str(level)) for level, label in IMPACT_LABELS.items()]
        types = [(t.value, t.value) for t in chg.ChangeType]
        risks = [(r, r) for r in itsm.changes.risks]
        yield Header()
        yield Static("", id="change-summary")
        with Horizontal(id="change-body"):
            with VerticalScroll(id="change-form"):
                yield from self._row(
                    "change_type",
                    "Type",
                    Select(
                        types, id="change_type", value="normal", allow_blank=False, compact=True
                    ),
                )
                yield from self._row(
                    "short_description", "Short descr.", Input(id="short_description", compact=True)
                )
                yield from self._row(
                    "description", "Description", Input(id="description", compact=True)
                )
                yield from self._row(
                    "cis",
                    "CIs",
                    Picker(
                        ci_choices(self.store), id="cis", multiple=True, placeholder="web-01, db-01"
                    ),
                )
                yield from self._row(
                    "planned_start",
                    "Start",
                    Input(id="planned_start", placeholder="YYYY-MM-DD HH:MM", compact=True),
                )
                yield from self._row(
                    "planned_end",
                    "End",
                    Input(id="planned_end", placeholder="YYYY-MM-DD HH:MM", compact=True),
                )
                yield from self._row(
                    "risk", "Risk", Select(risks, id="risk", prompt="(none)", compact=True)
                )
                yield from self._row(
                    "impact",
                    "Impact",
                    Select(levels, id="impact", value="3", allow_blank=False, compact=True),
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
                    Picker(
                        list_choices(people(self.settings)), id="assignee", placeholder="person"
                    ),
                )
                yield from self._row(
                    "implementation_plan",
                    "Implement",
                    Input(id="implementation_plan", compact=True),
                )
                yield from self._row(
                    "backout_plan", "Backout", Input(id="backout_plan", compact=True)
                )
                yield from self._row("test_plan", "Test plan", Input(id="test_plan", compact=True))
                yield Static("", id="form-error", classes="form-error")
            with Vertical(id="change-side"):
                yield Static("Conflicts", classes="side-title")
                yield Static("", id="change-conflicts")
                yield Static(f"Calendar (±{CALENDAR_DAYS} days)", classes="side-title")
                yield Static("", id="change-calendar")
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
        view = self.view
        parts: list[Text | str] = [
            safe_text(self.number or "New change", "bold"),
            "  ",
            chg.ChangeState(view.state).label if view else "New",
        ]
        if self.conflicts:
            parts.append(Text(f"  ⚠ {len(self.conflicts)} CONFLICT(S)", style="bold red"))
        if self.dirty:
            parts.append(Text("  ● unsaved", style="italic"))
        self.query_one("#change-summary", Static).update(Text.assemble(*parts))

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Input.Changed | Select.Changed) -> None:
        self._show_summary()
        if event.control.id in LIVE_FIELDS:
            if self._recheck is not None:
                self._recheck.stop()
            self._recheck = self.set_timer(RECHECK_SECONDS, self.check_surroundings)

    def check_surroundings(self) -> None:
        values = self.values()
        key = (values["cis"], values["planned_start"], values["planned_end"], values["assignee"])
        self._surroundings(key)

    @work(exclusive=True, group="change-conflicts", exit_on_error=False, name="checking conflicts")
    async def _surroundings(self, key: tuple[str, ...]) -> None:
        exclude = self.view.id if self.view else None
        found = await asyncio.to_thread(surroundings, self.store, self.settings, key, exclude)
        self.post_message(Outcome("surroundings", found))

    def action_reload(self) -> None:
        if self.number is not None:
            self._load(self.number)

    @work(exclusive=True, group="change-load", exit_on_error=False, name="loading change")
    async def _load(self, number: str) -> None:
        try:
            view = await asyncio.to_thread(load_change, self.store, number)
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
        if self.view is not None and not changed:
            self.notify("nothing to save")
            return
        self._save(values, changed)

    @work(exclusive=True, group="change-save", exit_on_error=False, name="saving change")
    async def _save(self, values: dict[str, str], changed: set[str]) -> None:
        try:
            number = await asyncio.to_thread(
                save_change, self.store, self.settings, self.view, values, changed
            )
        except Exception as exc:
            self.post_message(Outcome("save", error=exc))
            return
        self.post_message(Outcome("save", (number, values)))

    @on(Outcome)
    def _outcome(self, message: Outcome) -> None:
        error = message.error
        form_error = self.query_one("#form-error", Static)
        if message.what == "surroundings":
            self._show_surroundings(message.value)
            return
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
            view: ChangeView = message.value
            self.view = view
            self.fill(view.values)
            self.saved_values = dict(view.values)
            self._show_summary()
            self.check_surroundings()
        elif message.what == "save":
            number, values = message.value
            self.number = number
            self.saved_values = dict(values)
            self.notify(f"{number} saved", markup=False)
            self.action_reload()
        elif message.what == "transition":
            number, state = message.value
            self.notify(f"{number} is now {chg.ChangeState(state).label}", markup=False)
            self.action_reload()
        elif message.what == "note":
            self.notify(f"work note added to {message.value}", markup=False)

    def _show_surroundings(self, found: Surroundings) -> None:
        values = self.values()
        if found.key != (values["cis"], values["planned_start"], values["planned_end"],
                         values["assignee"]):  # fmt: skip
            return  # stale: the operator typed on meanwhile
        self.conflicts = found.conflicts
        conflicts = self.query_one("#change-conflicts", Static)
        if found.problem:
            conflicts.update(Text(found.problem, style="italic"))
        elif found.conflicts:
            conflicts.update(Text("\n").join(
                Text.assemble(Text("CONFLICT ", style="bold red"), safe_text(c))
                for c in found.conflicts
            ))  # fmt: skip
        else:
            conflicts.update(Text("none", style="green"))
        calendar = self.query_one("#change-calendar", Static)
        calendar.update(
            Text("\n").join(safe_text(line) for line in found.calendar)
            if found.calendar else Text("no other changes", style="dim")
        )  # fmt: skip
        self._show_summary()

    def action_work_note(self) -> None:
        number = self.number
        if number is None:
            self.notify("save the change first", severity="warning")
            return

        def added(text: str | None) -> None:
            if text:
                self._note(number, text)

        self.app.push_screen(NoteDialog(number), added)

    @work(exclusive=True, group="change-note", exit_on_error=False, name="adding a note")
    async def _note(self, number: str, text: str) -> None:
        try:
            await asyncio.to_thread(note_change, self.store, self.settings, number, text)
        except Exception as exc:
            self.post_message(Outcome("note", error=exc))
            return
        self.post_message(Outcome("note", number))

    def action_transition(self) -> None:
        if self.number is None:
            self.notify("save the change first", severity="warning")
            return
        if self.dirty:
            self.notify("save or drop your edits first (Ctrl+S)", severity="warning")
            return
        self._move(self.number)

    @work(exclusive=True, group="change-move", exit_on_error=False, name="moving a change")
    async def _move(self, number: str) -> None:
        try:
            view, allowed = await asyncio.to_thread(allowed_of, self.store, number)
            if not allowed:
                self.notify(f"{number} is {view.state}: it is final", severity="warning")
                return
            targets = change_targets(self.settings, view, allowed, bool(self.conflicts))
            label = chg.ChangeState(view.state).label
            choice = await self.app.push_screen_wait(TransitionDialog(number, label, targets))
            if choice is None:
                return
            state = await asyncio.to_thread(move_change, self.store, self.settings, view, choice)
        except Exception as exc:
            self.post_message(Outcome("transition", error=exc))
            return
        self.post_message(Outcome("transition", (number, state)))

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
