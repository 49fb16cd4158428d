"""One host's health: a state word and each metric in its own small widget.

The panel is fed from outside (`show_snapshot`, `show_failure`, `tick`); it never collects.
Every changing value lives in its own `Value`, so a new sample repaints only the figures that
moved, and a panel whose figures did not move repaints nothing.
"""

from __future__ import annotations

import math
from datetime import datetime
from enum import StrEnum

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from opsconsole.monitoring.sample import HostSnapshot, MetricHistory
from opsconsole.widgets.sparkline import PercentSparkline
from opsconsole.widgets.text import safe_text
from opsconsole.widgets.units import MISSING, human_bytes, human_duration, human_rate, percent
from opsconsole.widgets.value import Value

# A sample older than this many poll intervals no longer vouches for the host being up.
STALE_AFTER_INTERVALS = 3


class HostState(StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    UNREACHABLE = "UNREACHABLE"
    UNKNOWN = "UNKNOWN"
    MAINTENANCE = "MAINTENANCE"


def _label(text: str) -> Static:
    return Static(text, markup=False, classes="label")


class HostPanel(Vertical):
    """A host's panel. `live` panels expect samples; others say there is no data yet."""

    def __init__(
        self,
        host: str,
        *,
        address: str | None = None,
        live: bool,
        history_points: int,
        interval: float,
        note: str = "no data yet",
    ) -> None:
        super().__init__(classes="host-panel")
        self.host = host
        self.live = live
        self.interval = interval
        self.history = MetricHistory(history_points)
        self.last_sample: HostSnapshot | None = None
        self.samples_seen = 0
        self.failure: str | None = None
        self._note = note
        title = safe_text(host)
        if address:
            title.append_text(safe_text(f"  {address}", style="dim"))
        self.border_title = title

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row head"):
            yield Value(HostState.UNKNOWN.value, classes="state -unknown")
            yield Value(self._note, classes="note")
            yield Value("", classes="uptime")
            yield Value("", classes="procs")
            yield Value("", classes="age")
        with Horizontal(classes="row metric"):
            yield _label("cpu")
            yield Value(percent(None), classes="cpu pct")
            yield PercentSparkline(classes="cpu-history")
            yield _label("load")
            yield Value(MISSING, classes="load")
        with Horizontal(classes="row metric"):
            yield _label("mem")
            yield Value(percent(None), classes="mem pct")
            yield Value("", classes="mem-amount amount")
            yield _label("swap")
            yield Value(percent(None), classes="swap pct")
            yield Value("", classes="swap-amount amount")
        with Horizontal(classes="row metric"):
            yield _label("disk")
            yield Value(MISSING, classes="disks")
        with Horizontal(classes="row metric"):
            yield _label("net")
            yield Value(MISSING, classes="net")

    def _value(self, name: str) -> Value:
        return self.query_one(f".{name}", Value)

    @property
    def state(self) -> str:
        return self._value("state").shown.plain

    def set_state(self, state: HostState) -> None:
        widget = self._value("state")
        if widget.show(state.value):
            for member in HostState:
                widget.set_class(member is state, f"-{member.value.lower()}")

    def set_note(self, note: str | Text) -> None:
        self._value("note").show(note)

    def show_snapshot(self, snapshot: HostSnapshot, now: datetime) -> None:
        self.last_sample = snapshot
        self.samples_seen += 1
        self.history.add(snapshot.metrics())
        self.failure = None
        self.add_class("-has-data")
        self.set_note("")
        self._value("cpu").show(percent(snapshot.cpu_percent))
        self.query_one(PercentSparkline).set_values(self.history.values("cpu.percent"))
        self._value("load").show(
            " ".join(f"{v:.2f}" for v in snapshot.load) if snapshot.load else MISSING
        )
        self._value("mem").show(percent(snapshot.mem_percent))
        self._value("mem-amount").show(
            f"{human_bytes(snapshot.mem_used_bytes)} / {human_bytes(snapshot.mem_total_bytes)}"
        )
        if snapshot.swap_total_bytes == 0:
            self._value("swap").show(percent(None))
            self._value("swap-amount").show("no swap")
        else:
            self._value("swap").show(percent(snapshot.swap_percent))
            self._value("swap-amount").show(
                f"{human_bytes(snapshot.swap_used_bytes)} / "
                f"{human_bytes(snapshot.swap_total_bytes)}"
            )
        self._value("disks").show(_disks_text(snapshot))
        self._value("net").show(
            f"↓ {human_rate(snapshot.rx_bytes_per_s)}  ↑ {human_rate(snapshot.tx_bytes_per_s)}"
        )
        self._value("uptime").show(f"up {uptime_text(snapshot.uptime_seconds)}")
        self._value("procs").show(
            f"{snapshot.process_count} procs" if snapshot.process_count is not None else ""
        )
        self.tick(now)

    def show_failure(self, error: str) -> None:
        self.failure = error
        self.set_note(safe_text(f"collection failed: {error}"))
        self.set_state(HostState.UNKNOWN)

    def tick(self, now: datetime) -> None:
        """Age of the last sample, and UP only while that sample is recent enough."""
        if self.last_sample is None:
            return
        age = (now - self.last_sample.at).total_seconds()
        self._value("age").show(f"sampled {age_text(age, self.interval)}")
        fresh = age <= STALE_AFTER_INTERVALS * max(self.interval, 1.0)
        if self.failure is not None:
            return
        if fresh:
            self.set_state(HostState.UP)
        else:
            self.set_state(HostState.UNKNOWN)
            self.set_note("stale: no recent sample")


def age_text(age_seconds: float, interval: float) -> str:
    """The age in steps of the poll interval, so the text holds still while polls arrive on
    time (the widget is not repainted every second). The first step is two intervals wide: a
    poll lands an interval plus its own duration after the last one."""
    step = max(1, math.ceil(interval))
    if age_seconds < 2 * step:
        return f"<{human_duration(2 * step)} ago"
    return f"{human_duration(age_seconds // step * step)} ago"


def uptime_text(seconds: float | None) -> str:
    """Uptime to the minute: seconds would repaint the widget at every sample for nothing."""
    if seconds is None or seconds < 60:
        return human_duration(seconds)
    return human_duration(seconds // 60 * 60)


def _disks_text(snapshot: HostSnapshot) -> Text:
    if not snapshot.disks:
        return Text(MISSING)
    text = Text(no_wrap=True, overflow="ellipsis", end="")
    for index, disk in enumerate(snapshot.disks):
        if index:
            text.append("  ")
        text.append_text(safe_text(disk.mount))
        text.append(f" {disk.percent:.0f}%")
    return text
