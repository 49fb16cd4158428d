"""Ticket lists: incidents, changes, problems and requests.

Quick views (o open, m mine, M my group, u unassigned, b breaching, a all), `/` filters by
text, keyset paging (the next page loads when the cursor reaches the last row), Enter opens
the form, n a new ticket; w adds a work note to the highlighted ticket and t moves it to one
of its allowed next states (every kind: incidents, changes, problems, requests).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Input

from opsconsole import clock
from opsconsole.config import Settings
from opsconsole.itsm import changes as chg
from opsconsole.itsm import incidents as inc
from opsconsole.itsm.problems import list_problems
from opsconsole.itsm.query import ListQuery
from opsconsole.itsm.requests import list_requests
from opsconsole.screens import OpsScreen
from opsconsole.screens.itsm_change_form import CHANGE_OPS, ChangeFormScreen
from opsconsole.screens.itsm_common import (
    Outcome,
    SlaCell,
    TicketActions,
    TicketOps,
    explain,
    priority_text,
)
from opsconsole.screens.itsm_incident_form import INCIDENT_OPS, IncidentFormScreen
from opsconsole.screens.itsm_problem_form import PROBLEM_OPS, ProblemFormScreen
from opsconsole.screens.itsm_request_form import REQUEST_OPS, RequestFormScreen
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.engine import Store
from opsconsole.widgets.lists import KeyTable
from opsconsole.widgets.text import safe_text
from opsconsole.widgets.value import Value

PAGE_SIZE = 100
VIEW_LABELS = {
    "open": "open", "mine": "mine", "my_group": "my groups", "unassigned": "unassigned",
    "breaching": "breaching", "all": "all",
}  # fmt: skip


def _when(value: datetime | None) -> str:
    return f"{value.astimezone():%Y-%m-%d %H:%M}" if value else ""


@dataclass(frozen=True)
class TicketRow:
    number: str
    cells: tuple[Text, ...]


@dataclass(frozen=True)
class Kind:
    """What one list shows: its columns, how a row is read, and its form."""

    name: str
    title: str
    columns: tuple[str, ...]
    fetch: Callable[..., Any]
    row: Callable[[Any, Settings, datetime], TicketRow]
    uses_now: bool = False


def _incident_row(i: Any, settings: Settings, now: datetime) -> TicketRow:
    sla = SlaCell.of(inc.sla_badge(i, settings.itsm, now))
    return TicketRow(i.number, (
        safe_text(i.number), priority_text(i.priority),
        Text(inc.IncidentState(i.state).label), sla.render(),
        safe_text(i.short_description), safe_text(i.assignment_group or ""),
        safe_text(i.assignee or ""),
    ))  # fmt: skip


def _change_row(c: Any, settings: Settings, now: datetime) -> TicketRow:
    return TicketRow(c.number, (
        safe_text(c.number), Text(c.change_type), Text(c.state.replace("_", " ")),
        Text(_when(c.planned_start)), Text(_when(c.planned_end)),
        safe_text(c.short_description), safe_text(c.assignee or ""),
    ))  # fmt: skip


def _plain_row(r: Any, settings: Settings, now: datetime) -> TicketRow:
    return TicketRow(r.number, (
        safe_text(r.number), priority_text(getattr(r, "priority", None)),
        Text(r.state.replace("_", " ")), safe_text(r.short_description),
        safe_text(r.assignment_group or ""), safe_text(r.assignee or ""),
    ))  # fmt: skip


PLAIN_COLUMNS = ("Number", "Pri", "State", "Short description", "Group", "Assignee")
KINDS = {
    "incidents": Kind("incidents", "Incidents",
                      ("Number", "Pri", "State", "SLA", "Short description", "Group", "Assignee"),
                      inc.list_incidents, _incident_row, uses_now=True),
    "changes": Kind("changes", "Changes",
                    ("Number", "Type", "State", "Start", "End", "Short description", "Assignee"),
                    chg.list_changes, _change_row),
    "problems": Kind("problems", "Problems", PLAIN_COLUMNS, list_problems, _plain_row),
    "requests": Kind("requests", "Requests", PLAIN_COLUMNS, list_requests, _plain_row),
}  # fmt: skip


OPS = {"incidents": INCIDENT_OPS, "changes": CHANGE_OPS, "problems": PROBLEM_OPS,
       "requests": REQUEST_OPS}  # fmt: skip
FORMS: dict[str, Callable[[Store, Settings, str | None], Screen[None]]] = {
    "incidents": IncidentFormScreen, "changes": ChangeFormScreen, "problems": ProblemFormScreen,
    "requests": RequestFormScreen,
}  # fmt: skip


@dataclass(frozen=True)
class TicketPage:
    query: ListQuery
    rows: tuple[TicketRow, ...]
    cursor: str | None
    change_id: int


def fetch_tickets(
    store: Store, settings: Settings, kind: Kind, query: ListQuery, after: str | None, limit: int
) -> TicketPage:
    now = clock.now()
    with store.read() as session:
        change_id = latest_change_id(session)
        extra = {"now": now} if kind.uses_now else {}
        found = kind.fetch(session, query, after=after, limit=limit, **extra)
        rows = tuple(kind.row(r, settings, now) for r in found.rows)
    return TicketPage(query, rows, found.next_cursor, change_id)


class TicketsLoaded(Message):
    def __init__(self, page: TicketPage, mode: Literal["replace", "append"]) -> None:
        super().__init__()
        self.page = page
        self.mode = mode


class TicketListScreen(TicketActions, OpsScreen):
    DEFAULT_CSS = """
    #tickets-pane { height: 1fr; }
    #ticket-filter { margin: 0 1; }
    #tickets { height: 1fr; }
    #tickets-status { margin: 0 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="tickets.filter"),
        Binding("escape", "clear_or_back", "Clear/back", show=False, id="tickets.back"),
        Binding("enter", "open", "Show", show=False, id="tickets.open"),
        Binding("n", "new", "New", id="tickets.new"),
        Binding("o", "view('open')", "Open ones", id="tickets.view_open"),
        Binding("m", "view('mine')", "Mine", id="tickets.view_mine"),
        Binding("M", "view('my_group')", "My group", id="tickets.view_group"),
        Binding("u", "view('unassigned')", "Unassigned", show=False, id="tickets.view_unassigned"),
        Binding("b", "view('breaching')", "Breaching", id="tickets.view_breaching"),
        Binding("a", "view('all')", "All", show=False, id="tickets.view_all"),
        Binding("w", "work_note", "Note", id="tickets.note"),
        Binding("t", "transition", "State", id="tickets.transition"),
        Binding("r", "refresh", "Refresh", show=False, id="tickets.refresh"),
    ]

    def __init__(self, store: Store, settings: Settings, kind: str) -> None:
        super().__init__(store)
        self.settings = settings
        self.kind = KINDS[kind]
        self.title = f"opsconsole · {self.kind.title}"
        actor = settings.actor
        self.list_query = ListQuery(
            view="open", me=actor, my_groups=tuple(settings.itsm.groups_of(actor))
        )
        self.rows: list[TicketRow] = []
        self.cursor: str | None = None
        self._loading_more = False

    def compose_body(self) -> ComposeResult:
        with Vertical(id="tickets-pane"):
            yield Input(placeholder="/ filter: number or text", id="ticket-filter", compact=True)
            yield KeyTable(id="tickets", cursor_type="row", zebra_stripes=True)
            yield Value("", id="tickets-status")

    def on_mount(self) -> None:
        table = self.query_one("#tickets", KeyTable)
        for label in self.kind.columns:
            table.add_column(label, key=label)
        table.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "view" and parameters == ("breaching",) and self.kind.name == "problems":
            return None  # problems have no SLA
        return True

    # --- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        self._load(self.list_query, None, max(PAGE_SIZE, len(self.rows)), "replace")

    @work(exclusive=True, group="tickets", exit_on_error=False, name="loading tickets")
    async def _load(
        self, query: ListQuery, after: str | None, limit: int, mode: Literal["replace", "append"]
    ) -> None:
        page = await asyncio.to_thread(
            fetch_tickets, self.store, self.settings, self.kind, query, after, limit
        )
        self.post_message(TicketsLoaded(page, mode))

    @on(TicketsLoaded)
    def _loaded(self, message: TicketsLoaded) -> None:
        page = message.page
        self._loading_more = False
        if page.query != self.list_query:
            return
        self.loaded_change_id = page.change_id
        table = self.query_one("#tickets", KeyTable)
        with self.app.batch_update():
            if message.mode == "replace":
                selected = self.selected_number()
                table.clear()
                self.rows = []
            known = {row.number for row in self.rows}
            for row in page.rows:
                if row.number not in known:
                    table.add_row(*row.cells, key=row.number)
                    self.rows.append(row)
            if message.mode == "replace" and selected is not None:
                numbers = [r.number for r in self.rows]
                if selected in numbers:
                    table.move_cursor(row=numbers.index(selected))
        self.cursor = page.cursor
        more = " · more below" if self.cursor else ""
        text = self.list_query.text
        shown = f" · filter “{text}”" if text else ""
        self.query_one("#tickets-status", Value).show(
            Text.assemble(
                f"{self.kind.title}: {VIEW_LABELS[self.list_query.view]} · {len(self.rows)} shown",
                safe_text(shown),
                more,
            )
        )

    @on(DataTable.RowHighlighted, "#tickets")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if self.cursor and not self._loading_more and event.cursor_row >= len(self.rows) - 1:
            self._loading_more = True
            self._load(self.list_query, self.cursor, PAGE_SIZE, "append")

    def selected_number(self) -> str | None:
        table = self.query_one("#tickets", KeyTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row].number

    def ticket_number(self) -> str | None:
        return self.selected_number()

    def ticket_ops(self) -> TicketOps:
        return OPS[self.kind.name]

    # --- actions ---------------------------------------------------------------------------

    def action_view(self, view: str) -> None:
        if view == "my_group" and not self.list_query.my_groups:
            self.notify("you are in no assignment group", severity="warning")
        self.list_query = replace(self.list_query, view=view)
        self._load(self.list_query, None, PAGE_SIZE, "replace")

    def action_filter(self) -> None:
        self.query_one("#ticket-filter", Input).focus()

    @on(Input.Changed, "#ticket-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.list_query = replace(self.list_query, text=event.value.strip())
        self._load(self.list_query, None, PAGE_SIZE, "replace")

    @on(Input.Submitted, "#ticket-filter")
    def _filter_done(self) -> None:
        self.query_one("#tickets", KeyTable).focus()

    async def action_clear_or_back(self) -> None:
        box = self.query_one("#ticket-filter", Input)
        if box.value:
            box.value = ""
            self.query_one("#tickets", KeyTable).focus()
        elif box.has_focus:
            self.query_one("#tickets", KeyTable).focus()
        else:
            await self.run_action("app.back")

    def action_refresh(self) -> None:
        self.reload()

    def action_open(self) -> None:
        number = self.selected_number()
        if number is not None:
            self.app.push_screen(self.form(number))

    @on(DataTable.RowSelected, "#tickets")
    def _selected(self) -> None:
        self.action_open()

    def action_new(self) -> None:
        self.app.push_screen(self.form(None))

    def form(self, number: str | None) -> Screen[None]:
        return FORMS[self.kind.name](self.store, self.settings, number)

    @on(Outcome)
    def _outcome(self, message: Outcome) -> None:
        if message.error is not None:
            self.notify(
                explain(message.error),
                title=f"{message.what} refused",
                severity="error",
                markup=False,
            )
            return
        if message.what == "note":
            self.notify(f"work note added to {message.value}", markup=False)
        elif message.what == "transition":
            number, label = message.value
            self.notify(f"{number} is now {label}", markup=False)
        self.reload()
