"""The Textual app: places (screens) and their keys, the command palette, the change feed, and
the embedded poller.

One registry drives keys, help and palette: `PLACES` makes the number-key bindings and the
modes; `BINDINGS` of the app and of each screen make the footer, the `?` help (`HELP_GROUPS`)
and the palette's commands. Bindings carry ids so a keymap from config can move them.

Host health always comes from the store. Unless told not to poll (`--no-poll`), the app runs
the monitoring Poller in a thread worker with its own asyncio loop (SNMP decoding never
stalls input); after each batch it writes, the screens that show host health reload. A console
that does not poll probes the store's last-poll marker instead, so it shows exactly what an
`opsconsole poll` daemon (or another console) wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape
from textual.message import Message
from textual.reactive import var
from textual.screen import Screen
from textual.widgets import DataTable, OptionList
from textual.worker import Worker, WorkerState, get_current_worker

from opsconsole.config import Settings
from opsconsole.screens import describe_error
from opsconsole.screens.dashboard import DashboardScreen
from opsconsole.screens.help import HelpGroup, HelpScreen, HelpSection, build_sections
from opsconsole.store.engine import OpeningStore, Store, StoreAbandoned
from opsconsole.widgets.lists import KeyList, KeyTable
from opsconsole.widgets.severity import severity_counts_content, severity_counts_plain
from opsconsole.widgets.text import safe_str, safe_text

# Only what the first screen needs is imported above: the console paints its dashboard while
# the store opens in the background. SQLAlchemy, the models, the poller and the other screens
# are imported when first used.
if TYPE_CHECKING:
    from opsconsole.monitoring.collectors.dispatch import CollectorSet
    from opsconsole.monitoring.poller import Poller
    from opsconsole.monitoring.recorder import BatchSummary
    from opsconsole.monitoring.traps import TrapReceiver

PALETTE_CI_HITS = 20
ANNOUNCE_MAX = 3  # new critical alerts named one by one; the rest are counted


@dataclass(frozen=True)
class Place:
    """A top-level screen: its mode name, its title and the key that shows it."""

    mode: str
    title: str
    key: str


PLACES = (
    Place("dashboard", "Dashboard", "1"),
    Place("cmdb", "CMDB", "2"),
    Place("alerts", "Alerts", "3"),
    Place("incidents", "Incidents", "4"),
    Place("changes", "Changes", "5"),
    Place("problems", "Problems", "6"),
    Place("requests", "Requests", "7"),
)
HOME = PLACES[0].mode


# Polls in flight when the console quits get this long to finish and be written; then they
# are abandoned (the next poller run polls again). A console must quit promptly.
POLLER_STOP_GRACE_SECONDS = 0.5
POLLER_WATCH_SECONDS = 0.2
# The same warning from the poller is shown at most once per this many seconds.
LOG_NOTIFY_REPEAT_SECONDS = 60.0
ROUTED_LOGGERS = ("opsconsole", "asyncio", "pysnmp")

log = logging.getLogger(__name__)


class ChangeFeedMoved(Message):
    def __init__(self, state: FeedState) -> None:
        super().__init__()
        self.state = state


class PollBatchWritten(Message):
    """The embedded poller wrote a batch (posted from its thread)."""

    def __init__(self, summary: BatchSummary) -> None:
        super().__init__()
        self.summary = summary


class LogRecordPosted(Message):
    """A warning logged by a background part (the poller): shown as a notification."""

    def __init__(self, text: str, severity: str) -> None:
        super().__init__()
        self.text = text
        self.severity = severity


@dataclass(frozen=True)
class FeedState:
    """What the app follows, read in one short session: the change feed's position, the
    last-poll marker (when asked), and when alerts moved: counts by severity for the header
    and the new critical alerts to announce."""

    change_id: int
    marker: datetime | None
    with_marker: bool
    counts: dict[Any, int] | None = None
    latest_alert_id: int | None = None
    new_criticals: tuple[Any, ...] = ()


def read_feed(
    store: Store, with_marker: bool, known_change_id: int, announce_after: int | None
) -> FeedState:
    """`known_change_id`: counts are read again only when the feed moved past it;
    `announce_after`: the newest alert id already announced (None: announce nothing yet)."""
    from opsconsole.events import queries
    from opsconsole.monitoring.dashboard_queries import poll_marker
    from opsconsole.store.changelog import latest_change_id

    with store.read() as session:
        change_id = latest_change_id(session)
        marker = poll_marker(session) if with_marker else None
        if change_id == known_change_id:
            return FeedState(change_id, marker, with_marker)
        counts = queries.severity_counts(session)
        latest = queries.latest_alert_id(session)
        new: list[Any] = []
        if announce_after is not None and latest > announce_after:
            new = queries.new_alerts_since(session, announce_after)
        return FeedState(change_id, marker, with_marker, dict(counts), latest, tuple(new))


class EmbeddedPoller:
    """The monitoring Poller on its own asyncio loop, run from a thread worker.

    `run` blocks the calling thread until the poller stopped; `stop` and `poll_now` may be
    called from any thread (they reach the poller's loop with call_soon_threadsafe).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        name: str,
        collectors: CollectorSet | None,
        on_batch: Callable[[BatchSummary], None],
        traps: bool = False,
    ) -> None:
        """`traps`: also receive SNMP traps (the configured port) into the poller's batches."""
        self.store = store
        self.settings = settings
        self.name = name
        self.collectors = collectors
        self.on_batch = on_batch
        self.traps = traps
        self.trap_receiver: TrapReceiver | None = None
        self.stop_requested = threading.Event()
        self.finished = threading.Event()
        self.poller: Poller | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    @property
    def running(self) -> bool:
        return self._loop is not None and not self.stop_requested.is_set()

    def run(self, cancelled: Callable[[], bool]) -> None:
        """The body of the thread worker; `cancelled` says the worker was cancelled."""
        try:
            asyncio.run(self._main(cancelled))
        finally:
            self._loop = None
            self.finished.set()

    async def _main(self, cancelled: Callable[[], bool]) -> None:
        from opsconsole.monitoring.poller import Poller

        stop = asyncio.Event()
        poller = Poller(
            self.store,
            self.settings,
            name=self.name,
            collectors=self.collectors,
            on_batch=self.on_batch,
        )
        self.poller, self._stop = poller, stop
        self._loop = asyncio.get_running_loop()
        if self.stop_requested.is_set():  # asked to stop before the loop existed
            stop.set()
        if self.traps:
            await self._start_traps(poller, stop)
        run = asyncio.create_task(poller.run(stop), name="poller")
        watch = asyncio.create_task(self._watch(cancelled, stop), name="poller watch")
        try:
            await asyncio.wait({run, watch}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done():
                # Stopping: polls in flight get a moment to finish and be written.
                await asyncio.wait({run}, timeout=POLLER_STOP_GRACE_SECONDS)
            if not run.done():
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run
                try:
                    await poller.flush()  # what did finish is written
                except Exception:
                    log.exception("could not write the last poll results")
                poller.collectors.close()
            else:
                run.result()  # a poller that died is reported (worker error -> notification)
        finally:
            watch.cancel()
            if self.trap_receiver is not None:
                self.trap_receiver.stop()

    async def _start_traps(self, poller: Poller, stop: asyncio.Event) -> None:
        """A console on a box where a poller daemon (or another console) already receives
        traps cannot bind the port: it says so once and goes on polling."""
        from opsconsole.monitoring.daemon import start_traps

        traps = self.settings.traps
        try:
            self.trap_receiver = await start_traps(
                self.store, self.settings, poller, stop, name=self.name, port=traps.port
            )
        except OSError as exc:
            log.warning(
                "not receiving traps: %s:%d: %s (another poller may hold it)",
                traps.host, traps.port, exc.strerror or exc,
            )  # fmt: skip

    async def _watch(self, cancelled: Callable[[], bool], stop: asyncio.Event) -> None:
        """Stop when asked, or when the worker was cancelled (the app is going away)."""
        while not stop.is_set():
            if cancelled() or self.stop_requested.is_set():
                stop.set()
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=POLLER_WATCH_SECONDS)

    def stop(self) -> None:
        self.stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(stop.set)

    def poll_now(self, ci_ids: set[int] | None = None) -> bool:
        """Poll these hosts (default: all) at once; False if the poller is not running."""
        loop, poller = self._loop, self.poller
        if loop is None or poller is None or self.stop_requested.is_set():
            return False
        try:
            loop.call_soon_threadsafe(poller.poll_now, ci_ids)
        except RuntimeError:
            return False
        return True


class NotifyingLogHandler(logging.Handler):
    """Warnings logged by background parts become notifications, never text on the terminal
    Textual draws on. One notification per kind of message (its format string) a minute:
    500 hosts failing the same way make one notification, which says how many more there
    were the next time it is shown."""

    def __init__(self, app: App[None]) -> None:
        super().__init__(logging.WARNING)
        self.app = app
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # -> (shown at, held back)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            key = (record.name, str(record.msg))
            now = time.monotonic()
            shown_at, held_back = self._seen.get(key, (None, 0))
            if shown_at is not None and now - shown_at < LOG_NOTIFY_REPEAT_SECONDS:
                self._seen[key] = (shown_at, held_back + 1)
                return
            self._seen[key] = (now, 0)
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text = f"{text}: {describe_error(record.exc_info[1])}"
            if held_back:
                text += f" (and {held_back} more like it)"
            severity = "error" if record.levelno >= logging.ERROR else "warning"
            self.app.post_message(LogRecordPosted(text, severity))  # thread-safe
        except Exception:
            self.handleError(record)


def find_ci_names(store: Store, text: str, limit: int = PALETTE_CI_HITS) -> list[tuple[str, str]]:
    from opsconsole.cmdb.service import list_cis

    with store.read() as session:
        return [(ci.name, ci.ci_class) for ci in list_cis(session, text=text, limit=limit)]


_PALETTE_PREFIX = re.compile(r"^\s*(open\s+)?(ci\s+)?", re.IGNORECASE)


def ci_search_text(query: str) -> str:
    """What to look CIs up by: "open CI web" and "web" both search for "web"."""
    return _PALETTE_PREFIX.sub("", query, count=1).strip()


@dataclass(frozen=True)
class PaletteCommand:
    title: str
    help: str
    action: str


class OpsCommands(Provider):
    """The palette: every app-level binding, and "open CI <name>" for CIs matching the query."""

    @property
    def console(self) -> OpsConsoleApp:
        assert isinstance(self.app, OpsConsoleApp)
        return self.app

    async def discover(self) -> Hits:
        for command in self.console.palette_commands():
            yield DiscoveryHit(
                command.title, partial(self.console.run_action, command.action), help=command.help
            )

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self.console.palette_commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(command.title),
                    partial(self.console.run_action, command.action),
                    help=command.help,
                )
        needle = ci_search_text(query)
        if not needle:
            return
        from opsconsole.screens.cmdb import class_label

        try:
            found = await asyncio.to_thread(find_ci_names, self.console.store, needle)
        except Exception:  # the store being away must not break the palette
            return
        for name, ci_class in found:
            label = f"open CI {name}"
            # CI names are outside text: displayed as built Text, never through markup.
            display = Text.assemble("open CI ", safe_text(name))
            yield Hit(
                max(matcher.match(label), 0.1),
                display,
                partial(self.console.open_ci, name),
                text=safe_str(label),
                help=escape(class_label(ci_class)),  # help text is read as markup
            )


class OpsConsoleApp(App[None]):
    CSS_PATH = "opsconsole.tcss"
    TITLE = "opsconsole"
    HORIZONTAL_BREAKPOINTS = [
        (0, "-narrow"),
        (120, "-wide"),
    ]
    BINDINGS: ClassVar[list[BindingType]] = [
        # Help before the places: at 80 columns the footer cannot show every place, and `?`
        # is the key that leads to all the others.
        Binding("question_mark", "help", "Help", id="app.help"),
        *(
            Binding(place.key, f"show('{place.mode}')", place.title, id=f"app.{place.mode}")
            for place in PLACES
        ),
        # Shown at the right of the footer by Footer itself.
        Binding(
            "ctrl+p", "command_palette", "Palette", show=False, priority=True, id="app.palette"
        ),
        Binding("colon", "command_palette", "Palette", show=False, id="app.palette_colon"),
        Binding("escape", "back", "Back", show=False, id="app.back"),
        Binding("ctrl+q", "quit", "Quit", priority=True, id="app.quit"),
    ]
    COMMANDS = App.COMMANDS | {OpsCommands}

    # `var`, not `reactive`: a reactive of the App repaints the whole screen when it changes,
    # which would send every character on the terminal again after each poll.
    change_id: var[int] = var(0, init=False)
    """Position of the store's change feed; screens watch it and reload what they show."""
    batches_written: var[int] = var(0, init=False)
    """Batches the embedded poller wrote; screens showing host health reload after each."""
    poll_marker: var[datetime | None] = var(None, init=False)
    """Without an embedded poller: the store's last-poll time, probed while a screen showing
    host health is visible; such screens reload when it moved past what they loaded."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        local_host: str | None,
        poll: bool = True,
        *,
        collectors: CollectorSet | None = None,
    ) -> None:
        """`store`: an open store, or an `OpeningStore`, opened once the first screen is on
        the terminal (if that fails, the app exits with 1 and `startup_failure` says why).
        `poll`: run the embedded poller (False: `--no-poll`, only read what a poller writes).
        `collectors`: what the embedded poller collects with (tests script it)."""
        super().__init__()
        self.store = store
        self.settings = settings
        self.local_host = local_host
        self.startup_failure: BaseException | None = None
        self.embedded: EmbeddedPoller | None = None
        if poll:
            self.embedded = EmbeddedPoller(
                store,
                settings,
                name=f"console:{safe_str(settings.actor)}",
                collectors=collectors,
                on_batch=self._batch_written_in_thread,
                traps=settings.traps.enabled and settings.traps.in_console,
            )
        poll_now = self.embedded.poll_now if self.embedded is not None else None
        self.add_mode("dashboard", lambda: DashboardScreen(store, settings, local_host, poll_now))
        self.add_mode("cmdb", self._cmdb_screen)
        for kind in ("incidents", "changes", "problems", "requests"):
            self.add_mode(kind, partial(self._ticket_screen, kind))
        self.add_mode("alerts", self._alerts_screen)
        self.identity = f"{safe_str(settings.actor)}@{store.backend}"
        self.sub_title = self.identity
        self._counts_subtitle: tuple[str, Content] | None = None
        self._announced_up_to: int | None = None  # newest alert id already announced
        self._log_handler = NotifyingLogHandler(self)
        self._routed: list[tuple[logging.Logger, bool]] = []

    # The other places are built (and their modules imported) when first shown.
    def _cmdb_screen(self) -> Screen[None]:
        from opsconsole.screens.cmdb import CMDBScreen

        return CMDBScreen(self.store)

    def _ticket_screen(self, kind: str) -> Screen[None]:
        from opsconsole.screens.itsm_lists import TicketListScreen

        return TicketListScreen(self.store, self.settings, kind)

    def _alerts_screen(self) -> Screen[None]:
        from opsconsole.screens.alerts import AlertsScreen

        return AlertsScreen(self.store, self.settings)

    def on_mount(self) -> None:
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        else:
            self.notify(
                f"unknown theme {self.settings.ui.theme!r}; using {self.theme}",
                severity="warning",
                markup=False,
            )
        self._route_logs()
        self.switch_mode(HOME)

    def on_ready(self) -> None:
        # The store opens (and the poller starts) once the first screen is on the terminal:
        # its thread would otherwise share the interpreter with the first paint.
        self.screen.call_after_refresh(self._start_behind_first_paint)

    def _start_behind_first_paint(self) -> None:
        if isinstance(self.store, OpeningStore):
            self.store.start()
            self._watch_store_opening(self.store)
        self._follow_change_feed()
        if self.embedded is not None:
            self._run_poller(self.embedded)

    @work(group="store-opening", exit_on_error=False, name="opening the store")
    async def _watch_store_opening(self, opening: OpeningStore) -> None:
        try:
            await asyncio.to_thread(opening.wait)
        except StoreAbandoned:
            return  # the console is closing anyway
        except Exception as exc:
            # The console is no use without its store: leave, and say why on the terminal.
            self.startup_failure = exc
            self.stop_poller()
            self.exit(return_code=1)

    # --- the header: counts by severity on every screen ------------------------------------

    def format_title(self, title: str, sub_title: str) -> Content:
        """The header's line; the counts part of the sub-title is drawn in colour."""
        counts = self._counts_subtitle
        if counts is not None and sub_title == counts[0]:
            # "Alerts — CRIT 1 MAJOR 3 …  alice@sqlite": fits 80 columns without the app name.
            place = title.removeprefix(f"{self.title} · ")
            return Content.assemble(place, " — ", counts[1], (" · ", "dim"), self.identity)
        return super().format_title(title, sub_title)

    def show_severity_counts(self, counts: dict[Any, int]) -> None:
        plain = f"{severity_counts_plain(counts)}  {self.identity}"
        self._counts_subtitle = (plain, severity_counts_content(counts))
        self.sub_title = plain  # the headers watch it: every screen's header is redrawn

    def announce(self, rows: tuple[Any, ...]) -> None:
        """New critical alerts announce themselves on whatever screen is shown."""
        for row in rows[:ANNOUNCE_MAX]:
            self.notify(
                f"{safe_str(row.ci_name)}: {safe_str(row.check)} · {safe_str(row.message)}",
                title="new critical alert",
                severity="error",
                markup=False,
            )
        if len(rows) > ANNOUNCE_MAX:
            self.notify(
                f"and {len(rows) - ANNOUNCE_MAX} more new critical alerts",
                severity="error",
                markup=False,
            )
        if rows and self.settings.events.bell_on_critical:
            self.bell()

    # --- embedded poller -----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="poller", exit_on_error=False, name="the poller")
    def _run_poller(self, embedded: EmbeddedPoller) -> None:
        worker = get_current_worker()
        if isinstance(self.store, OpeningStore):
            try:
                self.store.wait()
            except Exception:
                return  # _watch_store_opening reports it and leaves
        embedded.run(lambda: worker.is_cancelled)

    def _batch_written_in_thread(self, summary: BatchSummary) -> None:
        """The poller's on_batch: runs in the poller's thread."""
        if self.embedded is None or self.embedded.stop_requested.is_set():
            return  # quitting: nobody is left to show it to
        with contextlib.suppress(RuntimeError):  # the app stopped meanwhile
            self.call_from_thread(self.post_message, PollBatchWritten(summary))

    @on(PollBatchWritten)
    def _poll_batch_written(self, message: PollBatchWritten) -> None:
        self.batches_written += 1

    def stop_poller(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    async def action_quit(self) -> None:
        self.stop_poller()  # start winding down at once, while the screens close
        self._abandon_opening()
        self.exit()

    def _abandon_opening(self) -> None:
        """Quitting while a slow database is still being opened must not wait for it."""
        if isinstance(self.store, OpeningStore):
            self.store.abandon()

    async def on_unmount(self) -> None:
        self._abandon_opening()
        embedded = self.embedded
        if embedded is not None:
            embedded.stop()
            if embedded.poller is not None:
                # Wait (bounded) while the app loop still runs, so the poller thread is gone
                # before the process tries to exit.
                await asyncio.to_thread(embedded.finished.wait, POLLER_STOP_GRACE_SECONDS + 2.0)
        self._unroute_logs()

    def _route_logs(self) -> None:
        """While the console runs, background warnings become notifications."""
        for name in ROUTED_LOGGERS:
            logger = logging.getLogger(name)
            self._routed.append((logger, logger.propagate))
            logger.addHandler(self._log_handler)
            logger.propagate = False

    def _unroute_logs(self) -> None:
        for logger, propagate in self._routed:
            logger.removeHandler(self._log_handler)
            logger.propagate = propagate
        self._routed.clear()

    @on(LogRecordPosted)
    def _log_record_posted(self, message: LogRecordPosted) -> None:
        self.notify(
            message.text,
            title="poller",
            severity="error" if message.severity == "error" else "warning",
            markup=False,
        )

    # --- change feed ---------------------------------------------------------------------

    @work(exclusive=True, group="change-feed", exit_on_error=False, name="following changes")
    async def _follow_change_feed(self) -> None:
        failing = False
        known = -1
        first = True
        while True:
            if not first:
                await asyncio.sleep(self.settings.ui.change_feed_interval)
            first = False
            # Without a running embedded poller, screens that show host health follow the
            # store's last-poll marker; only looked at while such a screen is visible.
            polling_here = self.embedded is not None and self.embedded.running
            with_marker = not polling_here and getattr(self.screen, "FOLLOWS_POLLS", False)
            try:
                state = await asyncio.to_thread(
                    read_feed, self.store, with_marker, known, self._announced_up_to
                )
            except Exception as exc:
                if isinstance(self.store, OpeningStore) and not self.store.is_open:
                    return  # opening failed: _watch_store_opening says so and leaves
                if not failing:  # say it once, not at every poll
                    self.notify(
                        describe_error(exc),
                        title="cannot read the store",
                        severity="error",
                        markup=False,
                    )
                failing = True
                continue
            if failing:
                self.notify("the store answers again", markup=False)
                failing = False
            known = state.change_id
            self.post_message(ChangeFeedMoved(state))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state is WorkerState.ERROR:  # the feed catches its own errors; this is a net
            self.notify(
                describe_error(event.worker.error),
                title=f"{event.worker.name or 'background task'} failed",
                severity="error",
                markup=False,
            )

    @on(ChangeFeedMoved)
    def _change_feed_moved(self, message: ChangeFeedMoved) -> None:
        state = message.state
        if state.counts is not None:
            self.show_severity_counts(state.counts)
        if state.latest_alert_id is not None:
            if self._announced_up_to is not None:
                self.announce(state.new_criticals)
            self._announced_up_to = state.latest_alert_id  # the first read announces nothing
        self.change_id = state.change_id
        if state.with_marker:
            self.poll_marker = state.marker

    # --- actions -------------------------------------------------------------------------

    async def action_show(self, mode: str) -> None:
        await self.switch_mode(mode)

    async def action_back(self) -> None:
        """Esc: close the screen on top, or from a top-level screen go home."""
        if len(self.screen_stack) > 1:
            self.pop_screen()
        elif self.current_mode != HOME:
            await self.switch_mode(HOME)

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            self.pop_screen()
        else:
            self.push_screen(HelpScreen(self.help_sections()))

    async def open_ci(self, name: str) -> None:
        from opsconsole.screens.cmdb import CIDetailScreen

        await self.switch_mode("cmdb")
        await self.push_screen(CIDetailScreen(self.store, name))

    # --- the registry, read by help and palette ---------------------------------------------

    def keys_of(self, binding: Binding) -> list[str]:
        """The keys that trigger `binding` now (after the keymap), as the footer shows them."""
        keys = self._keymap.get(binding.id, binding.key) if binding.id else binding.key
        return [self.get_key_display(binding.with_key(key.strip())) for key in keys.split(",")]

    def help_sections(self) -> list[HelpSection]:
        return build_sections(help_groups(), self.keys_of)

    def palette_commands(self) -> list[PaletteCommand]:
        commands = []
        seen: set[str] = set()
        for binding in Binding.make_bindings(self.BINDINGS):
            if binding.action in seen or binding.action == "command_palette":
                continue
            seen.add(binding.action)
            keys = " or ".join(self.keys_of(binding))
            commands.append(PaletteCommand(binding.description, f"key {keys}", binding.action))
        return commands


def help_groups() -> tuple[HelpGroup, ...]:
    """Every screen's keys for `?` (importing the screens: help is asked for after start-up)."""
    from opsconsole.screens.alert_detail import AlertDetailScreen
    from opsconsole.screens.alerts import AlertsScreen
    from opsconsole.screens.cmdb import CIDetailScreen, CMDBScreen
    from opsconsole.screens.host_detail import HostDetailScreen
    from opsconsole.screens.itsm_change_form import ChangeFormScreen
    from opsconsole.screens.itsm_common import PickDialog
    from opsconsole.screens.itsm_dialogs import ApproverDialog, DecisionDialog
    from opsconsole.screens.itsm_incident_form import IncidentFormScreen
    from opsconsole.screens.itsm_lists import TicketListScreen
    from opsconsole.screens.itsm_problem_form import ProblemFormScreen
    from opsconsole.screens.itsm_request_form import RequestFormScreen
    from opsconsole.widgets.picker import Picker

    return (
        HelpGroup("Everywhere", (OpsConsoleApp, Screen)),
        HelpGroup("Dashboard", (DashboardScreen,)),
        HelpGroup("Host detail", (HostDetailScreen,)),
        HelpGroup("CMDB", (CMDBScreen,)),
        HelpGroup("Alerts", (AlertsScreen,)),
        HelpGroup("Alert detail", (AlertDetailScreen,)),
        HelpGroup("CI detail", (CIDetailScreen,)),
        HelpGroup("Tickets", (TicketListScreen,)),
        HelpGroup("Incident form", (IncidentFormScreen,)),
        HelpGroup("Change form", (ChangeFormScreen,)),
        HelpGroup("Problem form", (ProblemFormScreen,)),
        HelpGroup("Request form", (RequestFormScreen,)),
        HelpGroup("Change approvals", (ApproverDialog, DecisionDialog)),
        HelpGroup("Pick a record", (PickDialog,)),
        HelpGroup("Pickers", (Picker,)),
        HelpGroup("Tables", (KeyTable, DataTable)),
        HelpGroup("Lists", (KeyList, OptionList)),
        HelpGroup("Help", (HelpScreen,)),
    )
