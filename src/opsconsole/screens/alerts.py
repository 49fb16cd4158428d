"""The alert queue: a keyset-paged table of alerts (worst first, then newest), quick views,
the `/` filter, marks with space, and the triage keys acting on the marked rows (or the row
under the cursor). Reads and writes run in worker threads through the events domain; the
handlers here only render plain rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input

from opsconsole import clock
from opsconsole.config import Settings
from opsconsole.events import actions, queries
from opsconsole.events.actions import AlertError
from opsconsole.events.queries import AlertRow, Cursor, FilterError, View
from opsconsole.events.silences import SilenceError, silence_from_alert
from opsconsole.itsm.incidents import (
    DuplicateIncident,
    create_incident_from_alert,
    open_incident_for_alert,
)
from opsconsole.itsm.journal import ItsmError
from opsconsole.screens import OpsScreen, describe_error
from opsconsole.screens.alert_detail import AlertDetailScreen
from opsconsole.screens.dialogs import (
    AckDialog,
    AckRequest,
    ConfirmDialog,
    SilenceDialog,
    SilenceRequest,
    SnoozeDialog,
)
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.engine import Store
from opsconsole.widgets.lists import KeyTable
from opsconsole.widgets.severity import severity_cell
from opsconsole.widgets.text import safe_str, safe_text
from opsconsole.widgets.value import Value

PAGE_SIZE = 100
# Rows from the end of the table at which the next page is fetched: about a screenful, so it
# has arrived before the cursor gets there.
MORE_WHEN_WITHIN = 25
COLUMNS = (
    ("mark", " "),
    ("severity", "Sev"),
    ("state", "State"),
    ("age", "Age"),
    ("ci", "CI"),
    ("check", "Check"),
    ("count", "#"),
    ("message", "Message"),
    ("service", "Service"),
    ("assignee", "Assignee"),
    ("reason", "Suppressed"),
)
MESSAGE_WIDTH = 32
VIEW_KEYS = (
    (View.OPEN, "O", "Open"),
    (View.MINE, "M", "Mine"),
    (View.ACKNOWLEDGED, "K", "Acked"),
    (View.SUPPRESSED, "S", "Suppressed"),
    (View.ALL, "L", "All"),
)


def format_age(age: timedelta) -> str:
    seconds = max(int(age.total_seconds()), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def suppression_text(row: AlertRow) -> Text:
    if row.suppressed_reason:
        return safe_text(row.suppressed_reason, style="italic")
    if row.flapping:
        return Text("flapping", style="italic")
    return Text("")


def cursor_row_text(row: AlertRow) -> Text:
    """The columns a narrow terminal cannot show, for the row under the cursor."""
    text = Text("▸ ", no_wrap=True, end="")
    text.append_text(safe_text(row.services or "no service", style="bold"))
    text.append(" · ")
    text.append_text(safe_text(row.assignee or "unassigned"))
    reason = suppression_text(row)
    if reason:
        text.append(" · ")
        text.append_text(reason)
    return text


def mark_cell(row: AlertRow, marked: bool, now: datetime) -> Text:
    text = Text("●" if marked else " ", style="bold", no_wrap=True, end="")
    marker = row.marker(now)
    if marker == "new":
        text.append("new", style="bold green")
    elif marker == "resolved":
        text.append("res", style="bold blue")
    return text


def row_cells(row: AlertRow, marked: bool, now: datetime) -> tuple[Text, ...]:
    message = (
        row.message if len(row.message) <= MESSAGE_WIDTH else row.message[: MESSAGE_WIDTH - 1] + "…"
    )
    children = f" +{row.children}" if row.children else ""
    return (
        mark_cell(row, marked, now),
        severity_cell(row.severity),
        safe_text(row.state),
        Text(format_age(row.age(now)), justify="right"),
        safe_text(row.ci_name),
        safe_text(row.check + (f" {row.resource}" if row.resource else "")),
        Text(f"{row.count}{children}", justify="right"),
        safe_text(message),
        safe_text(row.services),
        safe_text(row.assignee or ""),
        suppression_text(row),
    )


# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueQuery:
    view: View = View.OPEN
    text: str = ""


@dataclass(frozen=True)
class QueuePage:
    query: QueueQuery
    rows: tuple[AlertRow, ...]
    has_more: bool
    view_counts: dict[View, int] | None  # None: not read (appending a page keeps the counts)
    change_id: int


def fetch_queue(
    store: Store,
    query: QueueQuery,
    actor: str,
    after: Cursor | None,
    limit: int,
) -> QueuePage:
    """A page of the queue and the view counts, in one read session (run in a worker thread).
    Counts by severity and new-alert announcements are the app's (the header, every screen)."""
    with store.read() as session:
        change_id = latest_change_id(session)
        page = queries.alert_page(
            session, query.view, actor=actor, text=query.text, after=after, limit=limit
        )
        views = queries.view_counts(session, actor) if after is None else None
    return QueuePage(query, tuple(page.rows), page.has_more, views, change_id)


class QueueLoaded(Message):
    def __init__(self, page: QueuePage, mode: Literal["replace", "append", "refresh"]) -> None:
        super().__init__()
        self.page = page
        self.mode = mode


class QueueFailed(Message):
    def __init__(self, query: QueueQuery, text: str) -> None:
        super().__init__()
        self.query = query
        self.text = text


class IncidentsLooked(Message):
    """The open incident (if any) of the alert an incident is about to be raised from."""

    def __init__(self, row: AlertRow, open_number: str | None) -> None:
        super().__init__()
        self.row = row
        self.open_number = open_number


class OpenIncident(Message):
    """Show this incident's form (the alert already had it open)."""

    def __init__(self, number: str) -> None:
        super().__init__()
        self.number = number


class ActionDone(Message):
    def __init__(self, text: str, severity: Literal["information", "warning", "error"]) -> None:
        super().__init__()
        self.text = text
        self.severity = severity


# --- screen --------------------------------------------------------------------------------


class AlertsScreen(OpsScreen):
    TITLE = "opsconsole · Alerts"
    DEFAULT_CSS = """
    AlertsScreen #alerts-body { height: 1fr; }
    AlertsScreen #alerts { height: 1fr; }
    AlertsScreen #alerts-status, AlertsScreen #alerts-row { width: 1fr; }
    AlertsScreen.-wide #alerts-row { display: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter", id="alerts.filter"),
        Binding("escape", "clear_or_back", "Clear/back", show=False, id="alerts.back"),
        Binding("enter", "open", "Detail", id="alerts.open"),
        Binding("space", "mark", "Mark", id="alerts.mark"),
        Binding("a", "acknowledge", "Ack", id="alerts.ack"),
        Binding("A,u", "unacknowledge", "Unack", id="alerts.unack"),
        Binding("z", "snooze", "Snooze", id="alerts.snooze"),
        Binding("m", "assign_to_me", "Take", id="alerts.assign_me"),
        Binding("x", "close", "Close", id="alerts.close"),
        Binding("s", "silence", "Silence", id="alerts.silence"),
        Binding("i", "incident", "Incident", id="alerts.incident"),
        *(
            Binding(
                key,
                f"view('{view.value}')",
                f"{title} view",
                show=False,
                id=f"alerts.view_{view.value}",
            )
            for view, key, title in VIEW_KEYS
        ),
        Binding("v", "next_view", "View", id="alerts.next_view"),
        Binding("r", "refresh", "Refresh", show=False, id="alerts.refresh"),
    ]

    def __init__(self, store: Store, settings: Settings) -> None:
        super().__init__(store)
        self.settings = settings
        self.actor = settings.actor
        self.query_state = QueueQuery()
        self.rows: list[AlertRow] = []
        self.marked: set[int] = set()
        self.has_more = False
        self._loading_more = False
        self.view_counts: dict[View, int] = {}

    def compose_body(self) -> ComposeResult:
        with Vertical(id="alerts-body"):
            yield Input(placeholder="filter: text, or field:value (ci: check: severity:>=major …)",
                        id="alerts-filter")  # fmt: skip
            yield KeyTable(id="alerts", cursor_type="row", zebra_stripes=True)
            # Below 120 columns the last columns scroll out of sight: this line repeats them
            # for the row under the cursor.
            yield Value("", id="alerts-row")
            yield Value("", id="alerts-status")

    def on_mount(self) -> None:
        table = self.query_one("#alerts", KeyTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#alerts-filter", Input).display = False
        table.focus()

    # --- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        self._load(self.query_state, None, max(PAGE_SIZE, len(self.rows)), "refresh")

    def _set_query(self, query: QueueQuery) -> None:
        if query != self.query_state:
            self.query_state = query
            self.marked.clear()
            self._load(query, None, PAGE_SIZE, "replace")

    @work(exclusive=True, group="alert-rows", exit_on_error=False, name="loading alerts")
    async def _load(
        self,
        query: QueueQuery,
        after: Cursor | None,
        limit: int,
        mode: Literal["replace", "append", "refresh"],
    ) -> None:
        try:
            page = await asyncio.to_thread(
                fetch_queue, self.store, query, self.actor, after, limit
            )
        except FilterError as exc:
            self.post_message(QueueFailed(query, safe_str(exc)))
            return
        self.post_message(QueueLoaded(page, mode))

    @on(QueueFailed)
    def _queue_failed(self, message: QueueFailed) -> None:
        self._loading_more = False
        self.notify(message.text, title="filter", severity="warning", markup=False)

    @on(QueueLoaded)
    def _queue_loaded(self, message: QueueLoaded) -> None:
        page = message.page
        if page.view_counts is not None:
            self.view_counts = page.view_counts
        if page.query != self.query_state:
            self._show_status()
            return
        self.loaded_change_id = max(self.loaded_change_id, page.change_id)
        table = self.query_one("#alerts", KeyTable)
        self._loading_more = False
        if message.mode == "append":
            known = {row.id for row in self.rows}
            fresh = [row for row in page.rows if row.id not in known]
            now = clock.now()
            for row in fresh:
                table.add_row(*row_cells(row, False, now), key=str(row.id))
            self.rows.extend(fresh)
        else:
            self._rebuild(table, list(page.rows), keep_cursor=message.mode == "refresh")
        self.has_more = page.has_more
        self._show_status()

    def _rebuild(self, table: KeyTable, rows: list[AlertRow], *, keep_cursor: bool) -> None:
        current = self.cursor_row() if keep_cursor else None
        cursor_id = current.id if current is not None else None
        ids = {row.id for row in rows}
        self.marked &= ids
        now = clock.now()
        with self.app.batch_update():
            table.clear()
            for row in rows:
                table.add_row(*row_cells(row, row.id in self.marked, now), key=str(row.id))
        self.rows = rows
        if cursor_id is not None and cursor_id in ids:
            table.move_cursor(row=table.get_row_index(str(cursor_id)), animate=False)
        elif not keep_cursor:
            table.move_cursor(row=0, animate=False)

    def _show_status(self) -> None:
        self._show_cursor_row()
        query = self.query_state
        status = Text(no_wrap=True, end="")
        for view, key, title in VIEW_KEYS:
            style = "reverse bold" if view is query.view else ""
            status.append(f"{key} ", style="bold")
            status.append(f" {title} {self.view_counts.get(view, 0)}", style=style)
            status.append("  ")
        status.append(f"{len(self.rows)}{'+' if self.has_more else ''} shown")
        if self.marked:
            status.append(f" · {len(self.marked)} marked", style="bold")
        if query.text:
            status.append(" · filter ")
            status.append_text(safe_text(query.text, style="bold"))
        self.query_one("#alerts-status", Value).show(status)

    @on(DataTable.RowHighlighted, "#alerts")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_cursor_row()
        if (
            self.has_more
            and not self._loading_more
            and self.rows
            and event.cursor_row >= len(self.rows) - MORE_WHEN_WITHIN
        ):
            self._loading_more = True
            self._load(self.query_state, self.rows[-1].cursor, PAGE_SIZE, "append")

    def _show_cursor_row(self) -> None:
        row = self.cursor_row()
        self.query_one("#alerts-row", Value).show(cursor_row_text(row) if row else "")

    @on(DataTable.RowSelected, "#alerts")
    def _row_selected(self) -> None:
        self.action_open()

    # --- selection -------------------------------------------------------------------------

    def cursor_row(self) -> AlertRow | None:
        table = self.query_one("#alerts", KeyTable)
        if not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def targets(self) -> list[AlertRow]:
        """The marked rows (in queue order), or else the row under the cursor."""
        if self.marked:
            return [row for row in self.rows if row.id in self.marked]
        row = self.cursor_row()
        return [row] if row is not None else []

    def _describe(self, rows: list[AlertRow]) -> Text:
        if len(rows) == 1:
            row = rows[0]
            text = Text.assemble(f"#{row.id} ", severity_cell(row.severity), " ")
            text.append_text(safe_text(row.ci_name, style="bold"))
            text.append_text(safe_text(f" · {row.check}"))
            return text
        return Text(f"{len(rows)} marked alerts")

    def action_mark(self) -> None:
        row = self.cursor_row()
        if row is None:
            return
        self.marked ^= {row.id}
        table = self.query_one("#alerts", KeyTable)
        table.update_cell(str(row.id), "mark", mark_cell(row, row.id in self.marked, clock.now()))
        table.action_cursor_down()
        self._show_status()

    # --- writes ----------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, name="updating alerts")
    def _write(self, what: str, do: Callable[..., str]) -> None:
        try:
            with self.store.write(self.actor) as session:
                text = do(session)
        except DuplicateIncident as exc:  # raised meanwhile (another operator, a rule)
            self.post_message(ActionDone(f"{what}: {describe_error(exc)}", "warning"))
            self.post_message(OpenIncident(exc.number))
            return
        except (AlertError, SilenceError, ItsmError) as exc:
            self.post_message(ActionDone(f"{what}: {describe_error(exc)}", "warning"))
            return
        self.post_message(ActionDone(text, "information"))

    @on(ActionDone)
    def _action_done(self, message: ActionDone) -> None:
        self.notify(message.text, severity=message.severity, markup=False)
        if message.severity == "information":
            self.marked.clear()
        self.reload()

    def _bulk(self, what: str, act: Callable[..., actions.ActionResult]) -> None:
        ids = [row.id for row in self.targets()]
        if ids:
            self._write(what, lambda session: act(session, ids).summary())

    def action_acknowledge(self) -> None:
        rows = self.targets()
        if not rows:
            return
        ids = [row.id for row in rows]

        def done(request: AckRequest | None) -> None:
            if request is not None:
                note, sticky = request.note, request.sticky
                self._write("acknowledge", lambda s: actions.acknowledge(
                    s, self.actor, ids, note=note, sticky=sticky).summary())  # fmt: skip

        self.app.push_screen(
            AckDialog(Text("Acknowledge ").append_text(self._describe(rows))), done
        )

    def action_unacknowledge(self) -> None:
        self._bulk("unacknowledge", lambda s, ids: actions.unacknowledge(s, self.actor, ids))

    def action_assign_to_me(self) -> None:
        self._bulk("assign", lambda s, ids: actions.assign(s, self.actor, ids, self.actor))

    def action_snooze(self) -> None:
        rows = self.targets()
        if not rows:
            return
        ids = [row.id for row in rows]

        def done(duration: timedelta | None) -> None:
            if duration is not None:
                self._write("snooze", lambda s: actions.snooze(
                    s, self.actor, ids, duration).summary())  # fmt: skip

        self.app.push_screen(SnoozeDialog(Text("Snooze ").append_text(self._describe(rows))), done)

    def action_close(self) -> None:
        rows = self.targets()
        if not rows:
            return
        ids = [row.id for row in rows]

        def done(yes: bool | None) -> None:
            if yes:
                self._write("close", lambda s: actions.close(s, self.actor, ids).summary())

        self.app.push_screen(ConfirmDialog(Text("Close ").append_text(self._describe(rows))), done)

    def action_silence(self) -> None:
        row = self.cursor_row() if not self.marked else self.targets()[0]
        if row is None:
            return
        alert_id = row.id

        def silence(s: Any, request: SilenceRequest) -> str:
            made = silence_from_alert(
                s,
                self.actor,
                alert_id,
                request.comment,
                duration=request.duration,
                until_recovery=request.duration is None,
            )
            return f"silence #{made.id} created from alert #{alert_id}"

        def done(request: SilenceRequest | None) -> None:
            if request is not None:
                self._write("silence", lambda s: silence(s, request))

        title = Text("Silence (matching CI, check, resource of) ")
        self.app.push_screen(SilenceDialog(title.append_text(self._describe([row]))), done)

    def action_incident(self) -> None:
        row = self.cursor_row() if not self.marked else self.targets()[0]
        if row is not None:
            self._linked_incidents(row)

    @work(thread=True, exit_on_error=False, name="looking up incidents")
    def _linked_incidents(self, row: AlertRow) -> None:
        with self.store.read() as session:
            existing = open_incident_for_alert(session, row.id)
            number = existing.number if existing is not None else None
        self.post_message(IncidentsLooked(row, number))

    @on(IncidentsLooked)
    def _confirm_incident(self, message: IncidentsLooked) -> None:
        row = message.row
        alert_id = row.id
        if message.open_number is not None:
            self._offer_open_incident(row, message.open_number)
            return

        def raise_incident(s: Any) -> str:
            incident = create_incident_from_alert(
                s,
                self.actor,
                alert_id,
                assign_to=self.actor,
                settings=self.settings.itsm,
            )
            return f"incident {incident.number} raised from alert #{alert_id}, assigned to you"

        def done(yes: bool | None) -> None:
            if yes:
                self._write("raise incident", raise_incident)

        question = Text("Raise an incident (assigned to you) from ")
        question.append_text(self._describe([row]))
        self.app.push_screen(ConfirmDialog(question), done)

    def _offer_open_incident(self, row: AlertRow, number: str) -> None:
        """One alert, one open incident: a second would split the work. Offer the first."""

        def done(yes: bool | None) -> None:
            if yes:
                self.post_message(OpenIncident(number))

        question = Text.assemble(safe_text(number), (" is already open for ", "bold yellow"))
        question.append_text(self._describe([row]))
        question.append("\nOpen it?")
        self.app.push_screen(ConfirmDialog(question), done)

    @on(OpenIncident)
    def _open_incident(self, message: OpenIncident) -> None:
        from opsconsole.screens.itsm_incident_form import IncidentFormScreen

        self.app.push_screen(IncidentFormScreen(self.store, self.settings, message.number))

    # --- navigation ------------------------------------------------------------------------

    def action_open(self) -> None:
        row = self.cursor_row()
        if row is not None:
            self.app.push_screen(AlertDetailScreen(self.store, row.id))

    def action_view(self, view: str) -> None:
        self._set_query(QueueQuery(View(view), self.query_state.text))

    def action_next_view(self) -> None:
        views = [view for view, _, _ in VIEW_KEYS]
        current = views.index(self.query_state.view) if self.query_state.view in views else -1
        self.action_view(views[(current + 1) % len(views)].value)

    def action_refresh(self) -> None:
        self.reload()

    def action_filter(self) -> None:
        box = self.query_one("#alerts-filter", Input)
        box.display = True
        box.focus()

    @on(Input.Submitted, "#alerts-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            queries.parse_filter(text)
        except FilterError as exc:
            self.notify(safe_str(exc), title="filter", severity="warning", markup=False)
            return
        self.query_one("#alerts", KeyTable).focus()
        if not text:
            event.input.display = False
        self._set_query(QueueQuery(self.query_state.view, text))

    async def action_clear_or_back(self) -> None:
        box = self.query_one("#alerts-filter", Input)
        if box.has_focus:
            box.value = self.query_state.text
            box.display = bool(self.query_state.text)
            self.query_one("#alerts", KeyTable).focus()
        elif self.marked:
            self.marked.clear()
            self._rebuild(self.query_one("#alerts", KeyTable), self.rows, keep_cursor=True)
            self._show_status()
        elif self.query_state.text:
            box.value = ""
            box.display = False
            self._set_query(QueueQuery(self.query_state.view, ""))
        else:
            await self.app.run_action("back")
