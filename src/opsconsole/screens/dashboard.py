"""Dashboard: every monitored host, from the store, in a window that follows the cursor.

Whoever polls (the console's embedded poller, or an `opsconsole poll` daemon next to a
`--no-poll` console) writes host state to the store; the dashboard only reads it, so every
console on a store shows the same thing.

It stays fluid with hundreds of hosts because only what is visible does work:

- A reload reads one lean row per host (`host_index`), in a worker thread. Sorting and
  filtering run over those rows in memory (500 hosts: a few milliseconds).
- The screen keeps a fixed pool of panels, as many as fit (`HostGrid` reports its size), bound
  to the window of the sorted, filtered list that holds the cursor. Moving the cursor past the
  window's edge rebinds the pool; nothing is mounted or removed except on a resize.
- Sparkline points are fetched only for hosts in the window, and only when a new good sample
  landed since they were last fetched.
- A panel repaints only the figures whose text changed, so an idle dashboard writes nothing
  to the terminal, and a poll repaints the numbers that moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.geometry import Size
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

from opsconsole import clock
from opsconsole.config import Settings
from opsconsole.monitoring.host_list import (
    HostFilter,
    HostIndex,
    HostSummary,
    SortKey,
    arrange,
    state_counts,
)
from opsconsole.screens import OpsScreen
from opsconsole.widgets.host_panel import PANEL_HEIGHT, HostGrid, HostPanel, grid_columns
from opsconsole.widgets.value import Value

# How often the age of the last good poll is re-evaluated; a panel repaints only when the age
# crosses a step of its host's poll interval.
AGE_TICK_SECONDS = 1.0


# The first screen: the queries (SQLAlchemy) are imported by the worker threads that run them,
# so the dashboard paints before the store is open.
if TYPE_CHECKING:
    from opsconsole.store.engine import Store

PollNow = Callable[[set[int] | None], bool]
"""Asks the embedded poller to poll these hosts (None: all) now; False if it is not running."""


def fetch_index(store: Store, settings: Settings) -> HostIndex:
    from opsconsole.monitoring.dashboard_queries import host_index

    with store.read() as session:
        return host_index(session, settings.monitoring)


def fetch_histories(
    store: Store, ci_ids: tuple[int, ...], points: int
) -> dict[int, tuple[float, ...]]:
    from opsconsole.monitoring.dashboard_queries import cpu_histories

    with store.read() as session:
        return cpu_histories(session, ci_ids, points)


class IndexLoaded(Message):
    def __init__(self, index: HostIndex) -> None:
        super().__init__()
        self.index = index


class HistoriesLoaded(Message):
    def __init__(self, histories: dict[int, tuple[float, ...]], stamps: dict[int, object]) -> None:
        super().__init__()
        self.histories = histories
        self.stamps = stamps


@dataclass(frozen=True)
class Window:
    """Which slice of the arranged host list the panels show."""

    first: int  # index of the first host shown
    size: int  # panels in the pool


class DashboardScreen(OpsScreen):
    TITLE = "opsconsole · Dashboard"
    FOLLOWS_POLLS = True
    AUTO_FOCUS = None  # nothing to focus but the filter, and only once asked for
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_host", "Open", tooltip="Open host", id="dashboard.open"),
        Binding("slash", "filter", "Filter", id="dashboard.filter"),
        Binding("s", "cycle_sort", "Sort", id="dashboard.sort"),
        Binding("r", "refresh", "Refresh", id="dashboard.refresh"),
        # Not in the footer (80 columns are full); `?` lists it.
        Binding("p", "toggle_pause", "Pause/resume view", show=False, id="dashboard.pause"),
        Binding("escape", "clear_or_back", "Clear filter/back", show=False, id="dashboard.back"),
        Binding("j,down", "move_rows(1)", "Down a row", show=False, id="dashboard.down"),
        Binding("k,up", "move_rows(-1)", "Up a row", show=False, id="dashboard.up"),
        Binding("l,right", "move(1)", "Next host", show=False, id="dashboard.next"),
        Binding("h,left", "move(-1)", "Previous host", show=False, id="dashboard.previous"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="dashboard.page_down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="dashboard.page_up"),
        Binding("g,home", "first", "First host", show=False, id="dashboard.first"),
        Binding("G,end", "last", "Last host", show=False, id="dashboard.last"),
    ]

    def __init__(
        self,
        store: Store,
        settings: Settings,
        local_host: str | None,
        poll_now: PollNow | None,
    ) -> None:
        """`poll_now`: asks the embedded poller to poll every host now (None: this console
        does not poll, it follows what a poller writes)."""
        super().__init__(store)
        self.settings = settings
        self.local_host = local_host
        self.poll_now = poll_now
        self.index: HostIndex | None = None
        self.order: list[HostSummary] = []
        self.sort_key = SortKey.PROBLEMS
        self.host_filter = HostFilter()
        self.cursor = 0
        self.top_row = 0
        self.columns = 1
        self.rows = 1
        self.panels: list[HostPanel] = []
        self.paused = False
        self._histories: dict[int, tuple[object, tuple[float, ...]]] = {}
        self._loading = False
        self._load_again = False
        self._age_timer: Timer | None = None
        self._grid_size: Size | None = None

    # --- layout ----------------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="dash-bar"):
            yield Value("loading hosts…", id="estate")
            yield Value("", id="position")
        yield Input(
            placeholder="filter: name or address, state:down, class:host, via:core",
            id="host-filter",
            compact=True,
            disabled=True,  # hidden until `/`: Tab must not land in it
        )
        yield HostGrid(id="hosts")

    def on_mount(self) -> None:
        self._age_timer = self.set_interval(AGE_TICK_SECONDS, self._tick_ages)

    @on(HostGrid.Resized)
    async def _grid_resized(self, message: HostGrid.Resized) -> None:
        self._grid_size = message.size
        if self.index is not None:  # before the first hosts arrive there is nothing to show
            await self._fit_panels()

    async def _fit_panels(self) -> None:
        """Keep exactly as many panels as fit: `rows` x `columns` of them. The pool is made
        when the first hosts arrive, not at mount: the console paints its frame first."""
        size = self._grid_size
        if size is None:
            return
        columns = grid_columns(size.width)
        rows = max(1, size.height // PANEL_HEIGHT)
        grid = self.query_one(HostGrid)
        if columns != self.columns:
            grid.styles.grid_size_columns = columns
        self.columns, self.rows = columns, rows
        wanted = rows * columns
        if len(self.panels) < wanted:
            fresh = [
                HostPanel(history_points=self.settings.monitoring.history_points)
                for _ in range(wanted - len(self.panels))
            ]
            self.panels += fresh
            await grid.mount_all(fresh)
        elif len(self.panels) > wanted:
            surplus, self.panels = self.panels[wanted:], self.panels[:wanted]
            await grid.remove_children(surplus)
        self._set_cursor(self.cursor)  # the window may have to move to keep the cursor

    @property
    def window(self) -> Window:
        return Window(self.top_row * self.columns, len(self.panels))

    # --- loading ---------------------------------------------------------------------------

    def reload(self) -> None:
        if self.paused:
            self._stale = True  # caught up on resume
            return
        if self._loading:
            self._load_again = True  # one more after the one under way: reloads never pile up
            return
        self._loading = True
        self._load_index()

    @work(group="dashboard-index", exit_on_error=False, name="loading hosts")
    async def _load_index(self) -> None:
        try:
            index = await asyncio.to_thread(fetch_index, self.store, self.settings)
        finally:
            self._loading = False
        self.post_message(IndexLoaded(index))
        if self._load_again:
            self._load_again = False
            self.reload()

    @on(IndexLoaded)
    async def _index_loaded(self, message: IndexLoaded) -> None:
        index = message.index
        first = self.index is None
        self.index = index
        if first:
            await self._fit_panels()
        self.loaded_change_id = index.change_id
        self.loaded_marker = index.marker
        live = {h.ci_id for h in index.hosts}
        for ci_id in [i for i in self._histories if i not in live]:
            del self._histories[ci_id]
        self._arrange()

    def _arrange(self, *, follow: bool = True) -> None:
        """Filter and sort the index; the cursor stays on its host if it is still listed
        (`follow`), else it goes to the top."""
        if self.index is None:
            return
        current = self.current_host if follow else None
        self.order = arrange(self.index.hosts, self.host_filter, self.sort_key)
        if not follow:
            self.cursor = 0
        elif current is not None:
            for position, host in enumerate(self.order):
                if host.ci_id == current.ci_id:
                    self.cursor = position
                    break
        self._set_cursor(self.cursor)

    @property
    def current_host(self) -> HostSummary | None:
        return self.order[self.cursor] if 0 <= self.cursor < len(self.order) else None

    def _set_cursor(self, position: int) -> None:
        """Put the cursor on `position` and move the window (by whole rows) to show it."""
        count = len(self.order)
        self.cursor = max(0, min(position, count - 1)) if count else 0
        columns, rows = self.columns, max(1, len(self.panels) // max(1, self.columns))
        cursor_row = self.cursor // columns
        if cursor_row < self.top_row:
            self.top_row = cursor_row
        elif cursor_row >= self.top_row + rows:
            self.top_row = cursor_row - rows + 1
        total_rows = -(-count // columns)
        self.top_row = max(0, min(self.top_row, total_rows - rows))
        self._show_window()

    def _show_window(self) -> None:
        """Bind every panel to its host of the window; ask for the sparklines it lacks."""
        if self.index is None or not self.panels:
            return
        now = clock.now()
        window = self.window
        shown = self.order[window.first : window.first + window.size]
        wanted: dict[int, object] = {}
        with self.app.batch_update():
            for slot, panel in enumerate(self.panels):
                host = shown[slot] if slot < len(shown) else None
                panel.bind(host, now, no_data_note=self._no_data_note(host))
                panel.set_cursor(host is not None and window.first + slot == self.cursor)
                if host is None:
                    continue
                cached = self._histories.get(host.ci_id)
                if cached is not None:
                    panel.set_history(cached[1])
                if cached is None or cached[0] != host.last_ok_at:
                    wanted[host.ci_id] = host.last_ok_at
        self._show_bar()
        if wanted:
            self._load_histories(tuple(wanted), wanted)

    def _no_data_note(self, host: HostSummary | None) -> str:
        if host is None:
            return ""
        if self.poll_now is None:
            if host.name == self.local_host:
                return "no data: this console does not poll (--no-poll); is a poller running?"
            return "no data: no poller has written this host yet"
        return "waiting for the first poll"

    @work(exclusive=True, group="dashboard-history", exit_on_error=False, name="loading history")
    async def _load_histories(self, ci_ids: tuple[int, ...], stamps: dict[int, object]) -> None:
        points = self.settings.monitoring.history_points
        histories = await asyncio.to_thread(fetch_histories, self.store, ci_ids, points)
        self.post_message(HistoriesLoaded(histories, stamps))

    @on(HistoriesLoaded)
    def _histories_loaded(self, message: HistoriesLoaded) -> None:
        for ci_id, values in message.histories.items():
            self._histories[ci_id] = (message.stamps.get(ci_id), values)
        with self.app.batch_update():
            for panel in self.panels:
                if panel.host is not None and panel.host.ci_id in message.histories:
                    panel.set_history(message.histories[panel.host.ci_id])

    def _tick_ages(self) -> None:
        now = clock.now()
        for panel in self.panels:
            panel.tick(now)

    # --- the line above the panels ------------------------------------------------------------

    def _show_bar(self) -> None:
        if self.index is None:
            return
        total = len(self.index.hosts)
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        if self.host_filter:
            line.append(f"{len(self.order)} of {total} hosts")
        else:
            line.append(f"{total} host{'s' if total != 1 else ''}")
        for state, count in state_counts(self.order).items():
            line.append(" · ", style="dim")
            line.append(f"{count} ")
            line.append(state, style="bold")
        if not self.order:
            line.append(" · nothing matches" if self.host_filter else " · none monitored")
        self.query_one("#estate", Value).show(line)
        position = Text(no_wrap=True, end="")
        if self.paused:
            position.append("PAUSED (p) ", style="reverse")
        elif self.poll_now is None:
            position.append("no-poll · ", style="dim")
        position.append(f"sort {self.sort_key.value}", style="dim")
        if self.order:
            window = self.window
            last = min(len(self.order), window.first + window.size)
            position.append(f" · {window.first + 1}-{last}/{len(self.order)}")
        self.query_one("#position", Value).show(position)

    # --- screen life -----------------------------------------------------------------------

    def on_screen_resume(self) -> None:
        if self._age_timer is not None:
            self._age_timer.resume()

    def on_screen_suspend(self) -> None:
        if self._age_timer is not None:
            self._age_timer.pause()

    # --- actions -----------------------------------------------------------------------------

    def action_move(self, steps: int) -> None:
        self._set_cursor(self.cursor + steps)

    def action_move_rows(self, rows: int) -> None:
        self._set_cursor(self.cursor + rows * self.columns)

    def action_page(self, pages: int) -> None:
        page = max(1, len(self.panels))
        self.top_row = max(0, self.top_row + pages * self.rows)
        self._set_cursor(self.cursor + pages * page)

    def action_first(self) -> None:
        self._set_cursor(0)

    def action_last(self) -> None:
        self._set_cursor(len(self.order) - 1)

    def action_open_host(self) -> None:
        host = self.current_host
        if host is not None:
            from opsconsole.screens.host_detail import HostDetailScreen

            screen = HostDetailScreen(self.store, self.settings, host.name, self.poll_now)
            self.app.push_screen(screen)

    def action_cycle_sort(self) -> None:
        self.sort_key = self.sort_key.next()
        self._arrange()

    def action_filter(self) -> None:
        filter_input = self.query_one("#host-filter", Input)
        filter_input.disabled = False
        filter_input.add_class("-shown")
        filter_input.focus()

    @on(Input.Changed, "#host-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        host_filter = HostFilter.parse(event.value)
        if host_filter != self.host_filter:
            self.host_filter = host_filter
            self._arrange(follow=False)

    @on(Input.Submitted, "#host-filter")
    def _filter_submitted(self) -> None:
        self.set_focus(None)
        for error in self.host_filter.errors:
            self.notify(error, title="filter", severity="warning", markup=False)

    async def action_clear_or_back(self) -> None:
        filter_input = self.query_one("#host-filter", Input)
        if filter_input.has_class("-shown") or filter_input.value:
            filter_input.value = ""
            filter_input.remove_class("-shown")
            filter_input.disabled = True
            self.set_focus(None)
        else:
            await self.app.run_action("app.back")

    def action_refresh(self) -> None:
        if self.poll_now is not None and not self.poll_now(None):
            self.notify("the poller is not running", severity="warning", markup=False)
        self.reload()

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self._show_bar()
        if not self.paused and self._stale:
            self._stale = False
            self.reload()


__all__ = ["DashboardScreen", "fetch_index"]
