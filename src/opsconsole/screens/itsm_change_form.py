"""The change form: create or edit a change, with its approvals, its conflicts and a calendar
of the changes planned on its CIs (conflicts and calendar recomputed as the CIs, the window or
the assignee change), and where it stands in the flow of its type.

Tab / Shift+Tab move; the pickers list their matches under the field (Down, Up, Enter) and
complete as you type; the CI picker takes a comma-separated list. Dates are `YYYY-MM-DD HH:MM`
local time. A new standard change comes from a template: choosing the type `standard` offers
the templates, and the one taken fills the plans, the risk and (from the start) the end.
Ctrl+S saves; Ctrl+R asks approvers (people or groups of the config); Ctrl+O approves or
rejects as one of the approvers the operator may decide for; Ctrl+N adds a work note; Ctrl+T
moves the change; Esc asks before dropping unsaved edits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.timer import Timer
from textual.widgets import Header, Input, Select, Static

from opsconsole.cmdb.service import find_ci
from opsconsole.config import Settings
from opsconsole.itsm import changes as chg
from opsconsole.itsm.journal import RecordRef, write_or_record_refusal
from opsconsole.itsm.priority import IMPACT_LABELS
from opsconsole.screens.itsm_common import (
    FieldErrors,
    Moves,
    Outcome,
    TicketForm,
    TicketOps,
    explain,
    groups,
    people,
)
from opsconsole.screens.itsm_dialogs import (
    ApproverDialog,
    Decision,
    DecisionDialog,
    Need,
    Target,
    TransitionChoice,
)
from opsconsole.store.engine import Store
from opsconsole.widgets.keybar import KeyBar
from opsconsole.widgets.picker import Picker, ci_choices, close_lists, list_choices
from opsconsole.widgets.text import safe_str, safe_text

DATE_FORMAT = "%Y-%m-%d %H:%M"
CALENDAR_DAYS = 7
RECHECK_SECONDS = 0.3
TEXT_FIELDS = ("template", "short_description", "description", "cis", "planned_start",
               "planned_end", "assignment_group", "assignee", "implementation_plan",
               "backout_plan", "test_plan")  # fmt: skip
SELECT_FIELDS = ("change_type", "risk", "impact")
LIVE_FIELDS = {"cis", "planned_start", "planned_end", "assignee"}
# What a standard change keeps from its template: shown, not editable.
FIXED_BY_TEMPLATE = tuple(sorted(chg.TEMPLATE_FIELDS))
DECISION_MARKS = {"approved": ("✓", "green"), "rejected": ("✗", "bold red"),
                  "requested": ("…", "yellow")}  # fmt: skip

# Besides TicketForm's FORM_CSS (inherited).
CHANGE_CSS = """
#change-flow, #change-approvals { height: auto; }
.form-row.-hidden { display: none; }
"""


def parse_when(text: str) -> datetime | None:
    text = text.strip()
    if not text:
        return None
    return datetime.strptime(text, DATE_FORMAT).astimezone()


def show_when(value: datetime | None) -> str:
    return value.astimezone().strftime(DATE_FORMAT) if value else ""


@dataclass(frozen=True)
class ApprovalRow:
    """One named approver's approval as the form shows it."""

    approver: str
    decision: str
    comment: str
    at: datetime | None  # decided, or else asked
    decided_by: str | None
    mine: bool  # still to decide, and the operator may decide it


@dataclass(frozen=True)
class ChangeView:
    number: str
    id: int
    version: int
    state: str
    values: dict[str, str]
    change_type: str = chg.ChangeType.NORMAL.value
    approvals: tuple[ApprovalRow, ...] = ()
    to_ask: tuple[str, ...] = field(default=())  # whom Authorize will ask


def load_change(store: Store, number: str, settings: Settings | None = None) -> ChangeView:
    """The change as the form shows it; with `settings`, which approvals the operator may
    give (`ApprovalRow.mine`) and whom Authorize will ask."""
    with store.read() as session:
        change = chg.get_change(session, number)
        names = [ci.name for ci in chg.change_cis(session, change)]
        values = {
            "change_type": change.change_type,
            "template": change.template or "",
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
        rows: list[ApprovalRow] = []
        to_ask: list[str] = []
        for approval in chg.approvals(session, change):
            mine = (
                settings is not None
                and approval.decision == "requested"
                and change.state == chg.ChangeState.AUTHORIZE.value
                and chg.may_decide(settings.actor, approval.approver, settings.itsm)
            )
            rows.append(
                ApprovalRow(
                    approval.approver, approval.decision, approval.comment or "",
                    approval.decided_at or approval.requested_at, approval.decided_by, mine,
                )
            )  # fmt: skip
        if settings is not None:
            to_ask = chg.required_approvers(change, settings.itsm)
        return ChangeView(
            change.number, change.id, change.version, change.state, values,
            change.change_type, tuple(rows), tuple(to_ask),
        )  # fmt: skip


def _resolve(store: Store, settings: Settings, values: dict[str, str]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    kind = values["change_type"] or chg.ChangeType.NORMAL.value
    templates = settings.itsm.changes.templates
    template = values["template"].strip()
    if kind == chg.ChangeType.STANDARD and template not in templates:
        known = ", ".join(templates) or "none configured"
        errors["template"] = f"choose a template ({known})"
    if not values["short_description"].strip() and kind != chg.ChangeType.STANDARD:
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
        change_type=kind,
        template=template if kind == chg.ChangeType.STANDARD else None,
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
    fields.pop("template")
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


def change_moves(store: Store, settings: Settings, number: str) -> Moves:
    """A change's next states; Scheduled asks why when the change has conflicts now."""
    view, allowed = allowed_of(store, number)
    with store.read() as session:
        change = chg.get_change(session, number)
        conflicted = bool(chg.live_conflicts(session, change, settings.itsm))
    targets = change_targets(settings, view, allowed, conflicted)
    return Moves(view.number, chg.ChangeState(view.state).label, view.version, targets)


def change_move(
    store: Store, settings: Settings, number: str, version: int | None, choice: TransitionChoice
) -> str:
    view, _ = allowed_of(store, number)
    if version is not None and version != view.version:
        view = replace(view, version=version)  # checked against what the caller read
    return chg.ChangeState(move_change(store, settings, view, choice)).label


CHANGE_OPS = TicketOps("change", note_change, change_moves, change_move)


# --- approvals -------------------------------------------------------------------------------


def approver_choices(settings: Settings) -> list[str]:
    """Whom a change may ask: the people and groups of the config and the approvers named in
    its change settings."""
    changes = settings.itsm.changes
    named = {a for approvers in changes.approvers.values() for a in approvers}
    return sorted({*people(settings), *groups(settings), *named, *changes.emergency_approvers})


def ask_approvers(store: Store, settings: Settings, number: str, approvers: list[str]) -> None:
    with store.write(settings.actor) as session:
        for approver in approvers:
            chg.add_approver(session, settings.actor, number, approver, settings.itsm)


def my_approvals(store: Store, settings: Settings, number: str) -> list[str]:
    """The approvers the operator may decide for on this change now (refused with the reason
    when there are none)."""
    with store.read() as session:
        change = chg.get_change(session, number)
        return [a.approver for a in chg.decidable(session, settings.actor, change, settings.itsm)]


def decide_change(store: Store, settings: Settings, number: str, decision: Decision) -> str:
    """Record the decision; returns the change's state after it (all approved: Scheduled)."""
    with store.write(settings.actor) as session:
        return chg.decide(
            session, settings.actor, number, decision.decision, decision.comment,
            approver=decision.approver, settings=settings.itsm,
        ).state  # fmt: skip


# --- conflicts and the calendar ----------------------------------------------------------------


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


# --- what the side shows -----------------------------------------------------------------------


def flow_text(change_type: str, state: str) -> Text:
    """The flow of the change's type, its state marked (bracketed and bold, not colour alone)."""
    parts: list[Text] = []
    for step in chg.flow_path(change_type):
        if step.value == state:
            parts.append(Text(f"[{step.label}]", style="bold reverse"))
        else:
            parts.append(Text(step.label, style="dim"))
    text = Text(" → ").join(parts)
    if state == chg.ChangeState.CANCELED.value:
        text.append("  ✗ Canceled", style="bold")
    return text


def approval_line(row: ApprovalRow) -> Text:
    """Two lines: who and what (a mark and a word, not colour alone), then when and why."""
    mark, style = DECISION_MARKS.get(row.decision, ("?", ""))
    line = Text.assemble(
        (f"{mark} ", style), safe_text(row.approver, "bold"), " ", (row.decision, style)
    )
    if row.decided_by and row.decided_by != row.approver:
        line.append_text(Text.assemble(" by ", safe_text(row.decided_by)))
    line.append("\n  ")
    line.append(show_when(row.at), style="dim")
    if row.comment:
        line.append_text(Text.assemble(" ", safe_text(row.comment, "italic")))
    if row.mine:
        line.append("  ← yours: ^o", style="bold")
    return line


def approvals_text(view: ChangeView | None, change_type: str) -> Text:
    if view is None:
        if change_type == chg.ChangeType.STANDARD:
            return Text("pre-approved by its template", style="green")
        return Text("save the change, then ^r asks approvers", style="dim")
    lines = [approval_line(row) for row in view.approvals]
    if not lines:
        if view.change_type == chg.ChangeType.STANDARD:
            return Text("pre-approved by its template", style="green")
        asked = ", ".join(view.to_ask)
        if asked and view.state in (chg.ChangeState.NEW.value, chg.ChangeState.ASSESS.value):
            return Text.assemble(
                ("none yet; Authorize asks ", "dim"), safe_text(asked), (" (^r asks more)", "dim")
            )
        return Text("none asked (^r asks)", style="dim")
    return Text("\n").join(lines)


# --- the form --------------------------------------------------------------------------------


class ChangeFormScreen(TicketForm):
    TITLE = "opsconsole · Change"
    DEFAULT_CSS = CHANGE_CSS
    TEXT_FIELDS = TEXT_FIELDS
    SELECT_FIELDS = SELECT_FIELDS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="change.save"),
        Binding(
            "ctrl+r",
            "request_approval",
            "Approvers",
            tooltip="Approvers: ask named people or groups to approve",
            priority=True,
            id="change.request_approval",
        ),
        Binding(
            "ctrl+o",
            "decide",
            "Decide",
            tooltip="Decide: approve or reject as a named approver",
            priority=True,
            id="change.decide",
        ),
        Binding(
            "ctrl+n",
            "work_note",
            "Note",
            tooltip="Note: add a work note",
            priority=True,
            id="change.note",
        ),
        Binding("ctrl+t", "transition", "State", priority=True, id="change.transition"),
        Binding("escape", "leave", "Back", priority=True, id="change.back"),
        Binding("f5", "reload", "Reload", show=False, id="change.reload"),
    ]

    view: ChangeView | None

    def __init__(self, store: Store, settings: Settings, number: str | None = None) -> None:
        super().__init__(store, settings, number)
        self.conflicts: tuple[str, ...] = ()
        self.shown: ChangeView | None = None  # the latest load (the side shows it)
        self.filled: dict[str, str] = {}  # what the template last wrote into the fields
        self._recheck: Timer | None = None

    def ticket_ops(self) -> TicketOps:
        return CHANGE_OPS

    def load_job(self, number: str) -> Callable[[], ChangeView]:
        return partial(load_change, self.store, number, self.settings)

    def save_job(self, values: dict[str, str], changed: set[str]) -> Callable[[], str]:
        return partial(save_change, self.store, self.settings, self.view, values, changed)

    def compose(self) -> ComposeResult:
        itsm = self.settings.itsm
        templates = itsm.changes.templates
        levels = [(label, str(level)) for level, label in IMPACT_LABELS.items()]
        types = [(t.value, t.value) for t in chg.ChangeType]
        risks = [(r, r) for r in itsm.changes.risks]

        def template_title(name: str) -> str:
            spec = templates.get(name)
            return spec.short_description if spec else ""

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
                    "template",
                    "Template",
                    Picker(
                        list_choices(sorted(templates)),
                        id="template",
                        placeholder="standard change template (↓ lists them)",
                        describe=template_title,
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
                yield from self._assignment_rows()
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
            with VerticalScroll(id="change-side"):
                yield Static("Flow", classes="side-title")
                yield Static("", id="change-flow")
                yield Static("Approvals", classes="side-title")
                yield Static("", id="change-approvals")
                yield Static("Conflicts", classes="side-title")
                yield Static("", id="change-conflicts")
                yield Static(f"Calendar (±{CALENDAR_DAYS} days)", classes="side-title")
                yield Static("", id="change-calendar")
        yield KeyBar()

    def on_mount(self) -> None:
        self._apply_type(self.change_type)  # TicketForm's on_mount then focuses and loads
        self._show_side()

    @property
    def change_type(self) -> str:
        select = self.query_one("#change_type", Select)
        return str(select.value) if not select.is_blank() else chg.ChangeType.NORMAL.value

    # --- what the form shows besides its fields ------------------------------------------------

    def show_summary(self) -> None:
        view = self.view
        parts: list[Text | str] = [
            safe_text(self.number or "New change", "bold"),
            "  ",
            chg.ChangeState(view.state).label if view else "New",
        ]
        shown = self.shown
        if shown is not None and shown.approvals:
            approved = sum(1 for a in shown.approvals if a.decision == "approved")
            parts.append(f"  ✓ {approved}/{len(shown.approvals)} approved")
        if self.conflicts:
            parts.append(Text(f"  ⚠ {len(self.conflicts)} CONFLICT(S)", style="bold red"))
        parts.extend(self.unsaved_mark())
        self.query_one("#change-summary", Static).update(Text.assemble(*parts))

    def show_view(self, view: ChangeView) -> None:
        self.shown = view
        self._apply_type(view.change_type)
        self._show_side()
        self.check_surroundings()

    def _show_side(self) -> None:
        shown = self.shown
        kind = shown.change_type if shown is not None else self.change_type
        state = shown.state if shown is not None else chg.ChangeState.NEW.value
        self.query_one("#change-flow", Static).update(flow_text(kind, state))
        self.query_one("#change-approvals", Static).update(approvals_text(shown, kind))

    def _apply_type(self, kind: str) -> None:
        """A new change may still choose its type; a standard change keeps its template's
        plans and risk, and shows its template."""
        standard = kind == chg.ChangeType.STANDARD
        saved = self.number is not None
        self.query_one("#change_type", Select).disabled = saved
        template = self.query_one("#template", Picker)
        template.disabled = saved
        if template.parent is not None:
            template.parent.set_class(not standard, "-hidden")
        for name in FIXED_BY_TEMPLATE:
            self.query_one(f"#{name}").disabled = standard

    # --- live changes ------------------------------------------------------------------------

    @on(Select.Changed, "#change_type")
    def _type_chosen(self, event: Select.Changed) -> None:
        kind = self.change_type
        self._apply_type(kind)
        self._show_side()
        if self.number is not None:
            return
        template = self.query_one("#template", Picker)
        if kind == chg.ChangeType.STANDARD:
            self.call_after_refresh(self._offer_templates)
        elif template.value:
            template.value = ""
            self.filled = {}

    def _offer_templates(self) -> None:
        template = self.query_one("#template", Picker)
        template.focus()
        template.open_list(highlight=True)

    @on(Input.Changed, "#template")
    def _template_typed(self, event: Input.Changed) -> None:
        spec = self.settings.itsm.changes.templates.get(event.value.strip())
        if spec is None or self.number is not None:
            return
        wanted = {
            "short_description": spec.short_description,
            "description": spec.description,
            "implementation_plan": spec.implementation_plan,
            "backout_plan": spec.backout_plan,
            "test_plan": spec.test_plan,
            "assignment_group": spec.assignment_group or "",
        }
        for name, value in wanted.items():
            box = self.query_one(f"#{name}", Input)
            if (
                name in FIXED_BY_TEMPLATE
                or not box.value.strip()
                or box.value == self.filled.get(name)
            ):
                box.value = value
        self.query_one("#risk", Select).value = spec.risk
        self.filled = wanted
        self._template_end()

    @on(Input.Changed, "#planned_start")
    def _template_end(self) -> None:
        """A standard change lasts its template's duration: the end follows the start until
        the operator writes another end."""
        spec = self.settings.itsm.changes.templates.get(self.query_one("#template", Input).value)
        if self.number is not None or self.change_type != chg.ChangeType.STANDARD or not spec:
            return
        try:
            start = parse_when(self.query_one("#planned_start", Input).value)
        except ValueError:
            return
        end = self.query_one("#planned_end", Input)
        if start is None or (end.value.strip() and end.value != self.filled.get("planned_end")):
            return
        self.filled["planned_end"] = show_when(start + spec.duration)
        end.value = self.filled["planned_end"]

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self, event: Input.Changed | Select.Changed) -> None:
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
        self.show_summary()

    # --- approvals -----------------------------------------------------------------------------

    def action_request_approval(self) -> None:
        number = self.number
        if number is None:
            self.notify("save the change first (Ctrl+S)", severity="warning")
            return
        asked = [row.approver for row in self.shown.approvals] if self.shown else []

        def chosen(names: list[str] | None) -> None:
            if names:
                self._ask(number, names)

        dialog = ApproverDialog(number, approver_choices(self.settings), asked)
        self.app.push_screen(dialog, chosen)

    @work(exclusive=True, group="change-approval", exit_on_error=False, name="asking approval")
    async def _ask(self, number: str, names: list[str]) -> None:
        try:
            await asyncio.to_thread(ask_approvers, self.store, self.settings, number, names)
        except Exception as exc:
            self.post_message(Outcome("approval", error=exc))
            return
        self.post_message(Outcome("approval", (number, names)))

    def action_decide(self) -> None:
        number = self.number
        if number is None:
            self.notify("save the change first (Ctrl+S)", severity="warning")
            return
        if self.dirty:
            self.notify("save (Ctrl+S) or drop (F5) your edits before deciding", severity="warning")
            return
        self._decide(number)

    @work(exclusive=True, group="change-approval", exit_on_error=False, name="deciding")
    async def _decide(self, number: str) -> None:
        try:
            approvers = await asyncio.to_thread(my_approvals, self.store, self.settings, number)
            decision = await self.app.push_screen_wait(DecisionDialog(number, approvers))
            if decision is None:
                return
            state = await asyncio.to_thread(
                decide_change, self.store, self.settings, number, decision
            )
        except Exception as exc:
            self.post_message(Outcome("decision", error=exc))
            return
        self.post_message(Outcome("decision", (number, decision, state)))

    def other_outcome(self, message: Outcome) -> None:
        if message.what == "surroundings":
            self._show_surroundings(message.value)
            return
        form_error = self.query_one("#form-error", Static)
        if message.error is not None:
            text = explain(message.error)
            form_error.update(Text(text, style="bold"))
            self.notify(text, title=f"{message.what} refused", severity="error", markup=False)
            return
        form_error.update("")
        if message.what == "approval":
            number, names = message.value
            self.notify(f"{number}: approval asked of {', '.join(names)}", markup=False)
            self._load(number)
        elif message.what == "decision":
            number, decision, state = message.value
            label = chg.ChangeState(state).label
            self.notify(
                f"{number}: {decision.decision} as {decision.approver}; it is {label}",
                markup=False,
            )
            self._load(number)

    # --- leaving -------------------------------------------------------------------------------

    def action_leave(self) -> None:
        if close_lists(self):
            return  # Esc closed a picker's list: stay in the form
        super().action_leave()
