"""SLA clocks, computed by replaying a ticket's journal of state and priority changes.

Pure functions of (events, targets and calendars, now): the same journal gives the same clocks
at any later time, so a report can replay them exactly, and nothing is "corrected" in place.

Rules (DESIGN defaults, configurable in `itsm.sla`):
- Both clocks start when the incident is created.
- The response clock runs while the incident is New and stops at its first move out of New.
- The resolution clock runs while the incident is open, stands still in the pause states
  (On Hold), stops at Resolved, Closed or Canceled and runs on from where it stopped when a
  Resolved incident is reopened. Hold time therefore never counts, whatever the calendar.
- Elapsed time is counted on the calendar of the current priority (24x7 or business hours).
- A priority change applies the new priority's target to the whole elapsed time (the clock
  is not reset): the percentages are recalculated, and if the elapsed time already exceeds
  the new target, the clock warns or breaches at the moment of the change.
- Warning at `warning_percent` (75), breach at `breach_percent` (100) of the target; the
  first moment elapsed >= threshold is the warning or breach time.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opsconsole.itsm.calendars import ZERO, Calendar, calendar_named
from opsconsole.itsm.settings import ItsmSettings

OPEN_STATES = frozenset({"new", "in_progress", "on_hold"})
FINAL_STATES = frozenset({"resolved", "closed", "canceled"})


class ClockKind(enum.StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"


class Stage(enum.StrEnum):
    NOT_STARTED = "not started"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"  # met, or stopped after breaching (see `level`)
    CANCELED = "canceled"


class Level(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    BREACHED = "breached"


@dataclass(frozen=True)
class SlaEvent:
    """A state change, a priority change, or both, at one instant (in journal order)."""

    at: datetime
    state: str | None = None
    priority: int | None = None


@dataclass(frozen=True)
class Target:
    duration: timedelta
    calendar: Calendar


# priority -> target of one clock kind
TargetFor = Callable[[int], Target]


@dataclass(frozen=True)
class ClockStatus:
    kind: ClockKind
    stage: Stage
    priority: int | None
    target: timedelta
    elapsed: timedelta
    # When the clock reaches the warning / breach threshold: in the past if it did, projected
    # if it is running, None if it is paused or stopped short of it.
    warn_at: datetime | None
    due_at: datetime | None
    # When it did breach (<= now), else None.
    breached_at: datetime | None
    warned_at: datetime | None
    stopped_at: datetime | None
    now: datetime

    @property
    def percent(self) -> float:
        if self.target <= ZERO:
            return 0.0
        return 100.0 * (self.elapsed / self.target)

    @property
    def remaining(self) -> timedelta:
        """Working time left before the breach (negative once breached)."""
        return self.target - self.elapsed

    @property
    def level(self) -> Level:
        if self.breached_at is not None:
            return Level.BREACHED
        if self.warned_at is not None:
            return Level.WARNING
        return Level.OK

    def describe(self) -> str:
        """Short text for a badge: 'P1 resolution 1h 20m left', 'breached 35m ago', 'paused'."""
        if self.stage is Stage.NOT_STARTED:
            return f"{self.kind} not started"
        if self.stage is Stage.CANCELED:
            return f"{self.kind} canceled"
        if self.stage is Stage.STOPPED:
            verdict = "breached" if self.breached_at else "met"
            return f"{self.kind} {verdict} ({self.percent:.0f}%)"
        if self.breached_at is not None:
            suffix = " (paused)" if self.stage is Stage.PAUSED else ""
            return f"{self.kind} breached {format_span(self.now - self.breached_at)} ago{suffix}"
        if self.stage is Stage.PAUSED:
            return f"{self.kind} paused, {format_span(self.remaining)} left"
        return f"{self.kind} {format_span(self.remaining)} left"


def format_span(span: timedelta) -> str:
    """'2d 4h', '1h 20m', '45m', '30s' (largest two units)."""
    seconds = max(0, int(span.total_seconds()))
    parts: list[str] = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def _running(kind: ClockKind, state: str, pause_states: frozenset[str]) -> bool:
    if kind is ClockKind.RESPONSE:
        return state == "new"
    return state in OPEN_STATES and state not in pause_states


def clock(
    kind: ClockKind,
    events: Sequence[SlaEvent],
    target_for: TargetFor,
    now: datetime,
    *,
    warning_percent: float = 75.0,
    breach_percent: float = 100.0,
    pause_states: Iterable[str] = ("on_hold",),
) -> ClockStatus:
    """Replay `events` (in journal order) up to `now` for one clock."""
    pauses = frozenset(pause_states)
    fractions = (warning_percent / 100.0, breach_percent / 100.0)
    crossed: list[datetime | None] = [None, None]  # warning, breach
    elapsed = ZERO
    state: str | None = None
    priority: int | None = None
    last: datetime | None = None
    stopped_at: datetime | None = None
    responded = False  # the response clock never restarts

    def running() -> bool:
        return (
            state is not None
            and priority is not None
            and not (kind is ClockKind.RESPONSE and responded)
            and _running(kind, state, pauses)
        )

    def threshold(i: int) -> timedelta:
        assert priority is not None
        return target_for(priority).duration * fractions[i]

    def advance(until: datetime) -> None:
        nonlocal elapsed
        if last is None or until <= last or not running():
            return
        assert priority is not None
        calendar = target_for(priority).calendar
        segment = calendar.working(last, until)
        for i in (0, 1):
            if crossed[i] is None and elapsed + segment >= threshold(i):
                crossed[i] = calendar.add(last, threshold(i) - elapsed)
        elapsed += segment

    for event in events:
        if event.at > now:
            break
        advance(event.at)
        if event.priority is not None:
            priority = event.priority
        if event.state is not None and event.state != state:
            if kind is ClockKind.RESPONSE and state == "new" and event.state != "new":
                responded = True
            state = event.state
        stopped = state is not None and (
            (kind is ClockKind.RESPONSE and responded) or state in FINAL_STATES
        )
        stopped_at = (stopped_at or event.at) if stopped else None
        if not stopped and priority is not None and state is not None:
            for i in (0, 1):  # a raised priority can put the clock past a threshold at once
                if crossed[i] is None and elapsed >= threshold(i):
                    crossed[i] = event.at
        last = event.at if last is None or event.at > last else last
    advance(now)

    if priority is None or state is None:
        return ClockStatus(
            kind, Stage.NOT_STARTED, None, ZERO, ZERO, None, None, None, None, None, now
        )
    target = target_for(priority)
    projected: list[datetime | None] = list(crossed)
    if running():
        for i in (0, 1):
            if projected[i] is None:
                projected[i] = target.calendar.add(now, threshold(i) - elapsed)
        stage = Stage.RUNNING
    elif stopped_at is not None:
        stage = Stage.CANCELED if state == "canceled" else Stage.STOPPED
    else:
        stage = Stage.PAUSED
    return ClockStatus(
        kind=kind,
        stage=stage,
        priority=priority,
        target=target.duration,
        elapsed=elapsed,
        warn_at=projected[0],
        due_at=projected[1],
        breached_at=crossed[1],
        warned_at=crossed[0],
        stopped_at=stopped_at,
        now=now,
    )


# --- settings and journal glue ---------------------------------------------------------------


def target_function(settings: ItsmSettings, kind: ClockKind) -> TargetFor:
    calendars: dict[str, Calendar] = {}

    def target_for(priority: int) -> Target:
        spec = settings.sla.targets[f"P{priority}"]
        if spec.calendar not in calendars:
            calendars[spec.calendar] = calendar_named(spec.calendar, settings)
        duration = spec.response if kind is ClockKind.RESPONSE else spec.resolution
        return Target(duration, calendars[spec.calendar])

    return target_for


@dataclass(frozen=True)
class IncidentSla:
    response: ClockStatus
    resolution: ClockStatus

    @property
    def worst(self) -> ClockStatus:
        """The clock to show in a one-cell badge: a breached or warning one, else the running
        one (response first, while the incident is New)."""
        order = {Level.BREACHED: 0, Level.WARNING: 1, Level.OK: 2}
        live = [c for c in (self.response, self.resolution) if c.stage is not Stage.STOPPED]
        pool = live or [self.resolution]
        return min(pool, key=lambda c: (order[c.level], c.kind is not ClockKind.RESPONSE))


def incident_clocks(
    events: Sequence[SlaEvent], settings: ItsmSettings, now: datetime
) -> IncidentSla:
    def run(kind: ClockKind) -> ClockStatus:
        return clock(
            kind,
            events,
            target_function(settings, kind),
            now,
            warning_percent=settings.sla.warning_percent,
            breach_percent=settings.sla.breach_percent,
            pause_states=settings.sla.pause_states,
        )

    return IncidentSla(response=run(ClockKind.RESPONSE), resolution=run(ClockKind.RESOLUTION))


# --- badges from the stored columns (lists: no replay per row) ------------------------------


@dataclass(frozen=True)
class SlaBadge:
    """What a list cell shows: a level (colour) and a word, never colour alone."""

    level: Level
    text: str
    due_at: datetime | None

    @property
    def symbol(self) -> str:
        return {Level.OK: "", Level.WARNING: "!", Level.BREACHED: "!!"}[self.level]


def badge(
    *,
    state: str,
    response_warn_at: datetime | None,
    response_due_at: datetime | None,
    response_breached_at: datetime | None,
    resolution_warn_at: datetime | None,
    resolution_due_at: datetime | None,
    resolution_breached_at: datetime | None,
    responded: bool,
    now: datetime,
    pause_states: Iterable[str] = ("on_hold",),
) -> SlaBadge:
    """The SLA cell of a list row, from the columns the replay stored."""
    if state in FINAL_STATES:
        breached = resolution_breached_at or response_breached_at
        if state == "canceled":
            return SlaBadge(Level.OK, "canceled", None)
        if breached is not None:
            return SlaBadge(Level.BREACHED, "breached", breached)
        return SlaBadge(Level.OK, "met", None)
    clocks = []
    if not responded:
        clocks.append(("response", response_warn_at, response_due_at, response_breached_at))
    clocks.append(("resolution", resolution_warn_at, resolution_due_at, resolution_breached_at))
    best: SlaBadge | None = None
    paused = state in set(pause_states)
    for name, warn_at, due_at, breached_at in clocks:
        if breached_at is not None or (due_at is not None and due_at <= now):
            when = breached_at or due_at
            assert when is not None
            item = SlaBadge(Level.BREACHED, f"{name} breached {format_span(now - when)} ago", when)
        elif due_at is None:
            item = SlaBadge(Level.OK, "paused" if paused else "", None)
        elif warn_at is not None and warn_at <= now:
            item = SlaBadge(Level.WARNING, f"{format_span(due_at - now)} left", due_at)
        else:
            item = SlaBadge(Level.OK, f"{format_span(due_at - now)} left", due_at)
        rank = {Level.BREACHED: 0, Level.WARNING: 1, Level.OK: 2}
        if best is None or rank[item.level] < rank[best.level]:
            best = item
    assert best is not None
    return best
