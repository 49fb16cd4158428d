"""One host's panel on the dashboard, and the grid that holds a fixed pool of them.

A panel is not tied to a host: the dashboard keeps as many panels as fit the screen and binds
each to the host in that slot of the visible window (`bind`). Every changing figure lives in
its own small `Value`, which repaints only when its text changed, so a poll that moved one
number repaints that number, and a panel whose host did not change repaints nothing.

Four lines a panel (border, two rows, border), so 80x24 shows five hosts:

    ╭─ web-01  127.0.0.11 ──────────────────────────────────────────────────╮
    │ UP          cpu  12.5%             ▁▂▃▅▇▂▁▂▃▅▇▂ load 0.52  ok <4s ago │
    │ mem 43.8%   disk /var 91%  net ↓ 1.5 KiB/s ↑ 300 B/s                  │
    ╰───────────────────────────────────────────────────────────────────────╯

A host with a problem shows why on the second row instead (via whom, the last error).
"""

from __future__ import annotations

import math
from datetime import datetime

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Container, Horizontal, Vertical
from textual.geometry import Size
from textual.message import Message

from opsconsole.monitoring.host_list import HostSummary
from opsconsole.store.vocabulary import HostStatus
from opsconsole.widgets.sparkline import PercentSparkline
from opsconsole.widgets.text import safe_text
from opsconsole.widgets.units import MISSING, human_duration, human_rate, percent
from opsconsole.widgets.value import Value

PANEL_HEIGHT = 4
PANEL_MIN_WIDTH = 80  # below this many columns per panel, one panel per row
WIDE_FROM = 120  # a grid of panels from this terminal width
# A host polled longer ago than this many intervals is no longer vouched for.
STALE_AFTER_INTERVALS = 3
MOUNT_CHARS = 16

STATE_CLASSES = {s.value: f"-{s.value.lower()}" for s in HostStatus}


def grid_columns(width: int) -> int:
    """Panels side by side: one at 80 columns, a grid of ~80-column panels from 120."""
    if width < WIDE_FROM:
        return 1
    return max(2, width // PANEL_MIN_WIDTH)


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


def is_stale(host: HostSummary, now: datetime) -> bool:
    """UP, but not polled for several intervals: is a poller still running?"""
    if host.state != HostStatus.UP.value or host.last_poll_at is None:
        return False
    age = (now - host.last_poll_at).total_seconds()
    return age > STALE_AFTER_INTERVALS * max(host.interval, 1.0)


def freshness(host: HostSummary, now: datetime) -> Text:
    """Time since the last good poll, in steps of the host's poll interval."""
    if is_stale(host, now):
        assert host.last_poll_at is not None
        age = (now - host.last_poll_at).total_seconds()
        return Text(f"stale: no poll for {age_text(age, host.interval).removesuffix(' ago')}")
    if host.last_ok_at is None:
        return Text("never polled" if host.last_poll_at is None else "never ok")
    age = max(0.0, (now - host.last_ok_at).total_seconds())
    return Text(f"ok {age_text(age, host.interval)}")


def _labelled(label: str, value: str | Text) -> Text:
    text = Text(f"{label} ", style="dim", no_wrap=True, end="")
    text.append_text(value if isinstance(value, Text) else Text(value))
    return text


def load_text(host: HostSummary) -> Text:
    return _labelled("load", MISSING if host.load1 is None else f"{host.load1:.2f}")


def mem_text(host: HostSummary) -> Text:
    return _labelled("mem", percent(host.mem).strip())


def disk_text(host: HostSummary) -> Text:
    if host.worst_disk is None:
        return _labelled("disk", MISSING)
    mount, used = host.worst_disk
    if len(mount) > MOUNT_CHARS:
        mount = "…" + mount[-(MOUNT_CHARS - 1) :]
    value = safe_text(mount)
    value.append(f" {used:.0f}%")
    return _labelled("disk", value)


def net_text(host: HostSummary) -> Text:
    return _labelled("net", f"↓ {human_rate(host.rx_bps)} ↑ {human_rate(host.tx_bps)}")


def problem_note(host: HostSummary, no_data_note: str) -> Text | None:
    """The second row of a host that is not simply UP (None: show the metrics instead)."""
    if host.state == HostStatus.UNREACHABLE.value:
        note = Text("via ", style="dim", end="")
        note.append_text(safe_text(host.unreachable_via or "a parent"))
        if host.last_error:
            note.append(" · ", style="dim")
            note.append_text(safe_text(host.last_error))
        return note
    if host.state == HostStatus.DOWN.value or (host.last_error and host.state != "UP"):
        return safe_text(host.last_error or "no response")
    if not host.has_data:
        return Text(host.last_error or no_data_note)
    return None


def title_text(host: HostSummary, cursor: bool) -> Text:
    title = Text("▶ " if cursor else "", end="")
    title.append_text(safe_text(host.name))
    if host.address:
        title.append("  ")
        title.append_text(safe_text(host.address, style="dim"))
    return title


class HostPanel(Vertical):
    """A slot of the dashboard: shows whichever host it is bound to, or nothing."""

    DEFAULT_CLASSES = "host-panel"

    def __init__(self, *, history_points: int) -> None:
        super().__init__()
        self.history_points = history_points
        self.host: HostSummary | None = None
        self.cursor = False
        self.history: tuple[float, ...] = ()
        self._title_key: tuple[object, ...] | None = None
        self._note_mode: bool | None = None
        self.display = False
        # Held, not queried: rebinding a pool of panels as the cursor moves must be cheap.
        self._values = {
            name: Value(initial, classes=name)
            for name, initial in (
                ("state", HostStatus.UNKNOWN.value),
                ("cpu", percent(None)),
                ("load", ""),
                ("age", ""),
                ("mem", ""),
                ("disk", ""),
                ("net", ""),
                ("note", ""),
            )
        }
        self._values["state"].add_class("-unknown")
        self._sparkline = PercentSparkline(classes="cpu-history")
        self._metrics_row = Horizontal(classes="row metrics")
        self._problem_row = Horizontal(classes="row problem")

    def compose(self) -> ComposeResult:
        values = self._values
        with Horizontal(classes="row head"):
            yield values["state"]
            yield Value(Text("cpu", style="dim"), classes="cpu-label")
            yield values["cpu"]
            yield self._sparkline
            yield values["load"]
            yield values["age"]
        with self._metrics_row:
            yield values["mem"]
            yield values["disk"]
            yield values["net"]
        with self._problem_row:
            yield values["note"]

    def value(self, name: str) -> Value:
        return self._values[name]

    @property
    def state(self) -> str:
        return self.value("state").shown.plain

    def text(self, name: str) -> str:
        """The plain text a figure shows (what tests and screen readers read)."""
        return self.value(name).shown.plain

    def bind(self, host: HostSummary | None, now: datetime, *, no_data_note: str) -> None:
        """Show `host` (None: hide the slot). Only figures whose text changed are repainted."""
        if host is None:
            self.host = None
            self.display = False
            return
        if self.host is None or self.host.ci_id != host.ci_id:
            self.history = ()
            self._sparkline.set_values(())
        self.host = host
        self.display = True
        self._show_title()
        state = self.value("state")
        if state.show(host.state):
            state.set_classes(f"state {STATE_CLASSES.get(host.state, '-unknown')}")
        self.value("cpu").show(percent(host.cpu))
        self.value("load").show(load_text(host))
        # The row not on display is kept current too: it costs no terminal output.
        self.value("mem").show(mem_text(host))
        self.value("disk").show(disk_text(host))
        self.value("net").show(net_text(host))
        note = problem_note(host, no_data_note)
        self.value("note").show(note or "")
        self._set_note_mode(note is not None)
        self.tick(now)

    def _set_note_mode(self, on: bool) -> None:
        if on != self._note_mode:
            self._note_mode = on
            self._metrics_row.display = not on
            self._problem_row.display = on

    def set_cursor(self, cursor: bool) -> None:
        if cursor != self.cursor:
            self.cursor = cursor
            self.set_class(cursor, "-cursor")
            self._show_title()

    def _show_title(self) -> None:
        if self.host is None:
            return
        key = (self.host.name, self.host.address, self.cursor)
        if key != self._title_key:
            self._title_key = key
            self.border_title = title_text(self.host, self.cursor)

    def set_history(self, values: tuple[float, ...]) -> None:
        self.history = values[-self.history_points :]
        self._sparkline.set_values(self.history)

    def tick(self, now: datetime) -> None:
        """Re-evaluate the age of the last good poll (repaints only when the text moved)."""
        if self.host is None:
            return
        age = self.value("age")
        age.show(freshness(self.host, now))
        age.set_class(is_stale(self.host, now), "-stale")


class HostGrid(Container):
    """The area panels live in; says when its size changed so the pool can follow."""

    class Resized(Message):
        def __init__(self, size: Size) -> None:
            super().__init__()
            self.size = size

    def on_resize(self, event: events.Resize) -> None:
        self.post_message(self.Resized(event.size))
