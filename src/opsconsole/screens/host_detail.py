"""Host detail: everything the store knows about one host's health, and its way into the CMDB.

State and why, every latest figure (per-core CPU, every disk, every interface with its rates
and link state), CPU and memory sparklines from the metrics store, and the last state changes
in local time. `c` opens the CI detail screen (impacted services, relationships) on top.
Like the dashboard it reloads after each poll, and repaints only the blocks whose text moved.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Static

from opsconsole import clock
from opsconsole.config import Settings
from opsconsole.monitoring.dashboard_queries import (
    STATE_CHANGES_SHOWN,
    HostDetail,
    HostDetailResult,
    host_detail,
)
from opsconsole.screens import OpsScreen
from opsconsole.screens.cmdb import CIDetailScreen, when
from opsconsole.screens.dashboard import PollNow
from opsconsole.store.engine import Store
from opsconsole.store.models import HostStatus
from opsconsole.widgets.host_panel import STATE_CLASSES, age_text, uptime_text
from opsconsole.widgets.sparkline import PercentSparkline
from opsconsole.widgets.text import safe_str, safe_text
from opsconsole.widgets.units import MISSING, human_bytes, human_duration, human_rate, percent
from opsconsole.widgets.value import TextBlock, Value

AGE_TICK_SECONDS = 1.0
CORES_PER_LINE = 6
NAME_WIDTH = 16


def fetch_host(store: Store, settings: Settings, name: str) -> HostDetailResult:
    with store.read() as session:
        return host_detail(session, name, settings.monitoring, settings.monitoring.history_points)


class HostLoaded(Message):
    def __init__(self, result: HostDetailResult) -> None:
        super().__init__()
        self.result = result


# --- rendering: plain data in, Text out --------------------------------------------------------


def _fit(name: str, width: int = NAME_WIDTH) -> Text:
    """A name padded (or cut, with an ellipsis) to a column."""
    shown = name if len(name) <= width else name[: width - 1] + "…"
    text = safe_text(shown)
    text.pad_right(max(0, width - len(shown)))
    return text


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def title_text(detail: HostDetail) -> Text:
    view = detail.view
    text = safe_text(view.name, style="bold")
    if view.address:
        text.append("  ")
        text.append_text(safe_text(view.address))
    text.append(f" · {view.ci_class.replace('_', ' ')}", style="dim")
    if view.collector:
        text.append(f" · {view.collector} every {human_duration(detail.interval)}", style="dim")
    if not detail.monitored:
        text.append(" · not monitored", style="dim")
    return text


def state_note(detail: HostDetail) -> Text:
    view = detail.view
    text = Text(end="")
    if view.state == HostStatus.UNREACHABLE.value and view.unreachable_via:
        text.append("via ", style="dim")
        text.append_text(safe_text(view.unreachable_via))
        text.append(" · ", style="dim")
    text.append("since ", style="dim")
    text.append(when(view.since) if view.since else "never polled")
    return text


def short_when(at: datetime, now: datetime) -> str:
    """Local time; the date only when it is not today's."""
    local, today = clock.to_local(at), clock.to_local(now)
    return local.strftime("%H:%M:%S" if local.date() == today.date() else "%Y-%m-%d %H:%M")


def times_text(detail: HostDetail, now: datetime) -> Text:
    view = detail.view
    text = Text("last poll ", style="dim", end="")
    text.append(short_when(view.last_poll_at, now) if view.last_poll_at else "never")
    text.append(" · last ok ", style="dim")
    if view.last_ok_at is None:
        text.append("never")
    else:
        age = max(0.0, (now - view.last_ok_at).total_seconds())
        text.append(f"{short_when(view.last_ok_at, now)} ({age_text(age, detail.interval)})")
    return text


def error_text(detail: HostDetail) -> Text:
    if not detail.view.last_error:
        return Text("")
    text = Text("last error ", style="dim", end="")
    text.append_text(safe_text(detail.view.last_error))
    return text


def cpu_text(latest: dict[str, Any]) -> Text:
    text = Text("cpu  ", style="dim", end="")
    text.append(percent(_float(latest.get("metrics", {}).get("cpu.percent"))))
    return text


def mem_text(latest: dict[str, Any]) -> Text:
    metrics = latest.get("metrics", {})
    text = Text("mem  ", style="dim", end="")
    text.append(percent(_float(metrics.get("mem.percent"))))
    used, total = _int(latest.get("mem_used_bytes")), _int(latest.get("mem_total_bytes"))
    if total:
        text.append(f"  {human_bytes(used)} / {human_bytes(total)}", style="dim")
    return text


def figures_text(latest: dict[str, Any]) -> Text:
    """Swap, load, uptime, processes, and what the host says it is."""
    metrics = latest.get("metrics", {})
    text = Text(end="")

    def line(label: str, value: str | Text) -> None:
        if text.plain:
            text.append("\n")
        text.append(f"{label:<6}", style="dim")
        text.append_text(value if isinstance(value, Text) else Text(value))

    swap_total = _int(latest.get("swap_total_bytes"))
    if swap_total == 0:
        line("swap", "none")
    elif swap_total:
        used = _int(latest.get("swap_used_bytes"))
        line(
            "swap",
            f"{percent(_float(metrics.get('swap.percent'))).strip()}  "
            f"{human_bytes(used)} / {human_bytes(swap_total)}",
        )
    load = latest.get("load")
    if isinstance(load, list) and load:
        line("load", "  ".join(f"{v:.2f}" for v in load if isinstance(v, int | float)))
    else:
        line("load", MISSING)
    uptime = _float(metrics.get("uptime.seconds"))
    procs = _int(metrics.get("proc.count"))
    line(
        "up",
        uptime_text(uptime) + (f" · {procs} processes" if procs is not None else ""),
    )
    if latest.get("name"):
        line("name", safe_text(latest["name"]))
    if latest.get("description"):
        line("about", safe_text(latest["description"]))
    return text


def cores_text(latest: dict[str, Any]) -> Text:
    cores = [c for c in latest.get("per_core_percent") or [] if isinstance(c, int | float)]
    if not cores:
        return Text(MISSING, style="dim")
    text = Text(end="")
    for index, value in enumerate(cores):
        if index and index % CORES_PER_LINE == 0:
            text.append("\n")
        elif index:
            text.append("  ")
        text.append(f"{index:>3} ", style="dim")
        text.append(f"{value:5.1f}%")
    return text


def disks_text(latest: dict[str, Any]) -> Text:
    disks = [d for d in latest.get("disks") or [] if isinstance(d, dict)]
    if not disks:
        return Text("none reported", style="dim")
    text = Text(end="")
    for index, disk in enumerate(disks):
        if index:
            text.append("\n")
        total, used = _int(disk.get("total_bytes")), _int(disk.get("used_bytes"))
        share = 100.0 * used / total if total and used is not None else None
        text.append_text(_fit(str(disk.get("mount", "?"))))
        text.append(f" {percent(share)}  {human_bytes(used)} / {human_bytes(total)}")
    return text


def interfaces_text(latest: dict[str, Any]) -> Text:
    interfaces = [i for i in latest.get("interfaces") or [] if isinstance(i, dict)]
    if not interfaces:
        return Text("none reported", style="dim")
    text = Text(end="")
    for index, interface in enumerate(interfaces):
        if index:
            text.append("\n")
        text.append_text(_fit(str(interface.get("name", "?"))))
        up = interface.get("up")
        # A word, not only a colour: up, DOWN (loud), or ? when the agent did not say.
        if up is True:
            text.append(" up  ", style="green")
        elif up is False:
            text.append(" DOWN", style="bold red")
        else:
            text.append(" ?   ", style="dim")
        text.append(f"  ↓ {human_rate(_float(interface.get('rx_bps'))):>12}")
        text.append(f"  ↑ {human_rate(_float(interface.get('tx_bps'))):>12}")
    return text


def changes_text(detail: HostDetail) -> Text:
    if not detail.changes:
        return Text("none recorded", style="dim")
    text = Text(end="")
    for index, change in enumerate(detail.changes):
        if index:
            text.append("\n")
        text.append(when(change.at), style="dim")
        text.append(f"  {change.old} → ")
        text.append(change.new, style="bold")
        if change.reason:
            text.append("  ")
            text.append_text(safe_text(change.reason, style="dim"))
    return text


def metric_value(name: str, value: float) -> str:
    if name.endswith("percent") or ".percent:" in name:
        return f"{value:.1f}%"
    if name.endswith("_bps"):
        return human_rate(value)
    if name == "uptime.seconds":
        return human_duration(value)
    if name.startswith("load."):
        return f"{value:.2f}"
    return f"{value:g}"


def metrics_text(latest: dict[str, Any]) -> Text:
    metrics = latest.get("metrics") or {}
    if not metrics:
        return Text("no sample yet", style="dim")
    width = min(28, max(len(str(name)) for name in metrics) + 2)
    text = Text(end="")
    for index, name in enumerate(sorted(metrics)):
        value = _float(metrics[name])
        if index:
            text.append("\n")
        text.append_text(safe_text(f"{name:<{width}}", style="dim"))
        text.append(MISSING if value is None else metric_value(name, value))
    return text


def _section(title: str, *, classes: str = "") -> Static:
    return Static(title, markup=False, classes=f"section {classes}".strip())


# --- the screen ----------------------------------------------------------------------------


class HostDetailScreen(OpsScreen):
    FOLLOWS_POLLS = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.back", "Back", id="host.back"),
        Binding(
            "c",
            "open_ci",
            "CMDB",
            tooltip="Open in the CMDB (impacted services)",
            id="host.ci",
        ),
        Binding("r", "refresh", "Refresh", id="host.refresh"),
        Binding("j", "scroll(1)", "Scroll down", show=False, id="host.down"),
        Binding("k", "scroll(-1)", "Scroll up", show=False, id="host.up"),
    ]

    def __init__(
        self, store: Store, settings: Settings, name: str, poll_now: PollNow | None = None
    ) -> None:
        super().__init__(store)
        self.settings = settings
        self.host_name = name
        self.poll_now = poll_now
        self.detail: HostDetail | None = None
        self.missing = False
        self.title = f"opsconsole · Host {safe_str(name)}"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="host-detail"):
            yield Value(safe_text(self.host_name, style="bold"), id="host-title")
            with Horizontal(classes="row"):
                yield Value(HostStatus.UNKNOWN.value, classes="state -unknown", id="host-state")
                yield Value("loading…", id="host-since")
            yield Value("", id="host-times")
            yield Value("", id="host-error")
            with Container(id="host-columns"):
                with Vertical(id="host-left"):
                    yield _section("Now")
                    with Horizontal(classes="row"):
                        yield Value("", id="host-cpu")
                        yield PercentSparkline(id="cpu-history", classes="history")
                    with Horizontal(classes="row"):
                        yield Value("", id="host-mem")
                        yield PercentSparkline(id="mem-history", classes="history")
                    yield TextBlock("", id="host-figures")
                    yield _section("CPU per core")
                    yield TextBlock("", id="host-cores")
                    yield _section("Disks")
                    yield TextBlock("", id="host-disks")
                    yield _section("Interfaces")
                    yield TextBlock("", id="host-interfaces")
                with Vertical(id="host-right"):
                    yield _section(f"State changes (last {STATE_CHANGES_SHOWN})")
                    yield TextBlock("", id="host-changes")
                    yield _section("Latest metrics")
                    yield TextBlock("", id="host-metrics")

    def on_mount(self) -> None:
        self.query_one("#host-detail", VerticalScroll).focus()
        # The age of the last good poll moves on between polls (repainted only when its text
        # changes, in steps of the poll interval).
        self.set_interval(AGE_TICK_SECONDS, self._tick)

    def _tick(self) -> None:
        if self.detail is not None:
            self.query_one("#host-times", Value).show(times_text(self.detail, clock.now()))

    def reload(self) -> None:
        self._load()

    @work(exclusive=True, group="host-detail", exit_on_error=False, name="loading the host")
    async def _load(self) -> None:
        result = await asyncio.to_thread(fetch_host, self.store, self.settings, self.host_name)
        self.post_message(HostLoaded(result))

    @on(HostLoaded)
    def _loaded(self, message: HostLoaded) -> None:
        result = message.result
        self.loaded_change_id = result.change_id
        self.loaded_marker = result.marker
        detail = result.detail
        if detail is None:
            self.missing = True
            self.detail = None
            self.query_one("#host-since", Value).show(
                safe_text(f"There is no host named {self.host_name!r} (any more).")
            )
            return
        self.missing = False
        self.detail = detail
        self._show(detail)

    def _show(self, detail: HostDetail) -> None:
        view = detail.view
        latest = view.latest
        with self.app.batch_update():
            self.query_one("#host-title", Value).show(title_text(detail))
            state = self.query_one("#host-state", Value)
            if state.show(view.state):
                for name, css in STATE_CLASSES.items():
                    state.set_class(name == view.state, css)
            self.query_one("#host-since", Value).show(state_note(detail))
            self.query_one("#host-times", Value).show(times_text(detail, clock.now()))
            error = self.query_one("#host-error", Value)
            error.show(error_text(detail))
            error.display = bool(view.last_error)
            self.query_one("#host-cpu", Value).show(cpu_text(latest))
            self.query_one("#host-mem", Value).show(mem_text(latest))
            self.query_one("#cpu-history", PercentSparkline).set_values(detail.cpu_history)
            self.query_one("#mem-history", PercentSparkline).set_values(detail.mem_history)
            self._block("#host-figures", figures_text(latest))
            self._block("#host-cores", cores_text(latest))
            self._block("#host-disks", disks_text(latest))
            self._block("#host-interfaces", interfaces_text(latest))
            self._block("#host-changes", changes_text(detail))
            self._block("#host-metrics", metrics_text(latest))

    def _block(self, selector: str, text: Text) -> None:
        self.query_one(selector, TextBlock).show(text)

    def block_text(self, block_id: str) -> str:
        """The plain text of a block (`host-interfaces`, `host-changes`, ...): for tests."""
        return self.query_one(f"#{block_id}", Value).shown.plain

    # --- actions ---------------------------------------------------------------------------

    def action_open_ci(self) -> None:
        self.app.push_screen(CIDetailScreen(self.store, self.host_name))

    def action_refresh(self) -> None:
        if self.poll_now is not None and self.detail is not None:
            self.poll_now({self.detail.view.ci_id})
        self.reload()

    def action_scroll(self, lines: int) -> None:
        scroll = self.query_one("#host-detail", VerticalScroll)
        scroll.scroll_relative(y=lines, animate=False)
