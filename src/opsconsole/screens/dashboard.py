"""Dashboard: a grid of host panels under a line summarising the estate.

The local host panel is live: a worker collects a sample in a thread, posts it as a message and
schedules the next poll only after the last one finished, so polls never pile up. The worker
never touches widgets; the `@on` handlers do. A hidden dashboard collects nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.timer import Timer

from opsconsole import clock
from opsconsole.cmdb.service import count_by_class, monitored_hosts
from opsconsole.config import Settings
from opsconsole.monitoring.sample import HostSnapshot
from opsconsole.screens import OpsScreen, describe_error
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.engine import Store
from opsconsole.widgets.host_panel import HostPanel
from opsconsole.widgets.value import Value

# How often the age of the last sample (and staleness) is re-evaluated; it repaints only when
# the age crosses a poll-interval step.
AGE_TICK_SECONDS = 1.0


class SupportsCollect(Protocol):
    def collect(self) -> HostSnapshot: ...


CollectorFactory = Callable[[], SupportsCollect]


@dataclass(frozen=True)
class MonitoredHost:
    name: str
    address: str | None


@dataclass(frozen=True)
class EstateSummary:
    ci_count: int
    monitored: tuple[MonitoredHost, ...]
    change_id: int


def fetch_estate(store: Store) -> EstateSummary:
    with store.read() as session:
        # The feed position first: a write landing meanwhile makes the next check reload again.
        change_id = latest_change_id(session)
        total = sum(count_by_class(session).values())
        hosts = tuple(MonitoredHost(ci.name, ci.address) for ci in monitored_hosts(session))
    return EstateSummary(total, hosts, change_id)


class HostSampled(Message):
    def __init__(self, host: str, snapshot: HostSnapshot) -> None:
        super().__init__()
        self.host = host
        self.snapshot = snapshot


class HostSampleFailed(Message):
    def __init__(self, host: str, error: str) -> None:
        super().__init__()
        self.host = host
        self.error = error


class EstateLoaded(Message):
    def __init__(self, summary: EstateSummary) -> None:
        super().__init__()
        self.summary = summary


class DashboardScreen(OpsScreen):
    TITLE = "opsconsole · Dashboard"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "refresh", "Refresh", id="dashboard.refresh"),
        Binding("p", "toggle_pause", "Pause/resume", id="dashboard.pause"),
    ]

    def __init__(
        self,
        store: Store,
        settings: Settings,
        local_host: str | None,
        collector_factory: CollectorFactory | None,
        poll: bool,
    ) -> None:
        super().__init__(store)
        self.settings = settings
        self.local_host = local_host
        self.collector_factory = collector_factory
        self.polling = poll and local_host is not None and collector_factory is not None
        self.paused = False
        self.summary: EstateSummary | None = None
        self.panels: dict[str, HostPanel] = {}
        self._wake = asyncio.Event()
        self._age_timer: Timer | None = None

    def compose_body(self) -> ComposeResult:
        yield Value("loading the estate…", id="estate")
        with VerticalScroll(id="hosts"):
            if self.local_host is not None:
                yield self._make_panel(self.local_host, None, live=self.polling)

    def _make_panel(self, host: str, address: str | None, *, live: bool) -> HostPanel:
        if live:
            note = "waiting for the first sample"
        elif host == self.local_host:
            note = "no data: this console does not poll (--no-poll)"
        else:
            note = "no data yet"
        panel = HostPanel(
            host,
            address=address,
            live=live,
            history_points=self.settings.monitoring.history_points,
            interval=self.settings.monitoring.local_interval,
            note=note,
        )
        self.panels[host] = panel
        return panel

    def on_mount(self) -> None:
        if self.polling:
            self._age_timer = self.set_interval(AGE_TICK_SECONDS, self._tick_ages)
            self._poll_local()

    # --- loading the estate --------------------------------------------------------------

    def reload(self) -> None:
        self._load_estate()

    @work(exclusive=True, group="estate", exit_on_error=False, name="loading the estate")
    async def _load_estate(self) -> None:
        summary = await asyncio.to_thread(fetch_estate, self.store)
        self.post_message(EstateLoaded(summary))

    @on(EstateLoaded)
    async def _estate_loaded(self, message: EstateLoaded) -> None:
        await self._sync_panels(message.summary.monitored)
        self.summary = message.summary  # set last: tests and the estate line read it as "loaded"
        self.loaded_change_id = message.summary.change_id
        self._show_estate_line()

    def _show_estate_line(self) -> None:
        if self.summary is None:
            return
        line = f"{self.summary.ci_count} CIs in CMDB · {len(self.summary.monitored)} monitored"
        if self.polling:
            if self.paused:
                line += " · local polling paused (p resumes)"
            else:
                line += f" · local host every {self.settings.monitoring.local_interval:g}s"
        else:
            line += " · no polling in this console"
        self.query_one("#estate", Value).show(line)

    async def _sync_panels(self, monitored: Sequence[MonitoredHost]) -> None:
        """Add and remove panels so they follow the CMDB; kept panels keep their history."""
        others = [h for h in monitored if h.name != self.local_host]
        wanted = ([self.local_host] if self.local_host is not None else []) + [
            h.name for h in others
        ]
        for name in [n for n in self.panels if n not in wanted]:
            await self.panels.pop(name).remove()
        grid = self.query_one("#hosts", VerticalScroll)
        addresses = {h.name: h.address for h in monitored}
        for index, name in enumerate(wanted):
            if name in self.panels:
                continue
            panel = self._make_panel(name, addresses.get(name), live=False)
            if index < len(grid.children):
                await grid.mount(panel, before=index)
            else:
                await grid.mount(panel)

    # --- polling the local host -----------------------------------------------------------

    @work(exclusive=True, group="local-poll", exit_on_error=False, name="polling the local host")
    async def _poll_local(self) -> None:
        assert self.local_host is not None and self.collector_factory is not None
        host = self.local_host
        try:
            collector = await asyncio.to_thread(self.collector_factory)
        except Exception as exc:  # a broken collector must not close the console
            self.post_message(HostSampleFailed(host, describe_error(exc)))
            return
        while True:
            while self.paused or not self.is_current:
                self._wake.clear()
                await self._wake.wait()
            try:
                snapshot = await asyncio.to_thread(collector.collect)
            except Exception as exc:
                self.post_message(HostSampleFailed(host, describe_error(exc)))
            else:
                self.post_message(HostSampled(host, snapshot))
            # Next poll an interval after this one finished (or at once when woken: r).
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(), timeout=self.settings.monitoring.local_interval
                )

    @on(HostSampled)
    def _host_sampled(self, message: HostSampled) -> None:
        panel = self.panels.get(message.host)
        if panel is not None:
            panel.show_snapshot(message.snapshot, clock.now())

    @on(HostSampleFailed)
    def _host_sample_failed(self, message: HostSampleFailed) -> None:
        panel = self.panels.get(message.host)
        # Notify once per run of failures, not at every poll; the panel keeps saying it.
        first_failure = panel is None or panel.failure is None
        if panel is not None:
            panel.show_failure(message.error)
        if first_failure:
            self.notify(
                message.error,
                title="collecting the local host failed",
                severity="error",
                markup=False,
            )

    def _tick_ages(self) -> None:
        now = clock.now()
        for panel in self.panels.values():
            if panel.live:
                panel.tick(now)

    def on_screen_resume(self) -> None:
        if self._age_timer is not None:
            self._age_timer.resume()
        self._wake.set()

    def on_screen_suspend(self) -> None:
        if self._age_timer is not None:
            self._age_timer.pause()

    # --- actions -----------------------------------------------------------------------------

    def action_refresh(self) -> None:
        self._wake.set()
        self.reload()

    def action_toggle_pause(self) -> None:
        if not self.polling:
            self.notify("This console does not poll (--no-poll).", markup=False)
            return
        self.paused = not self.paused
        if not self.paused:
            self._wake.set()
        self._show_estate_line()
