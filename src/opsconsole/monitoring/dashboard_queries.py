"""What the console's dashboard and host detail read from the store, and how they order it.

The dashboard must stay fluid with hundreds of hosts, so it reads in two steps:

- `host_index`: one lean row per monitored host (state, times, the few figures a panel shows
  and a sort needs), one query, no ORM objects. Sorting and filtering work on this list.
- `cpu_histories`: sparkline points, asked only for the hosts in the visible window.

`host_detail` gathers everything the host detail view shows in one read session. Nothing here
imports textual; every value returned is plain data, safe to use after the session closed.
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.config import MonitoringSettings
from opsconsole.monitoring.hosts import HostView, host_view, last_poll_marker, state_changes
from opsconsole.monitoring.metrics import series
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.models import CI, Collector, HostState, HostStatus

CPU_METRIC = "cpu.percent"
MEM_METRIC = "mem.percent"
DISK_PREFIX = "fs.percent:"
SERIES_LOOKBACK = timedelta(hours=24)
STATE_CHANGES_SHOWN = 20


def expected_interval(
    collector: str | None, ci_class: str, poll_interval: int | None, settings: MonitoringSettings
) -> float:
    """Seconds between two polls of a host, as the poller schedules them (targets.py)."""
    if poll_interval:
        return float(poll_interval)
    if collector == Collector.LOCAL.value:
        return settings.local_interval
    return settings.class_intervals.get(ci_class, settings.interval)


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


# --- the index: every monitored host, lean -------------------------------------------------


@dataclass(frozen=True)
class HostSummary:
    """One host as a dashboard panel shows it (and as sorting and filtering need it)."""

    ci_id: int
    name: str
    address: str | None
    ci_class: str
    collector: str | None
    state: str
    since: datetime | None
    last_poll_at: datetime | None
    last_ok_at: datetime | None
    last_error: str | None
    unreachable_via: str | None
    interval: float
    cpu: float | None = None
    load1: float | None = None
    mem: float | None = None
    worst_disk: tuple[str, float] | None = None  # (mount, percent used)
    rx_bps: float | None = None
    tx_bps: float | None = None

    @property
    def has_data(self) -> bool:
        return self.last_ok_at is not None

    @property
    def disk_percent(self) -> float | None:
        return self.worst_disk[1] if self.worst_disk else None


@dataclass(frozen=True)
class HostIndex:
    hosts: tuple[HostSummary, ...]
    change_id: int  # change feed position read in the same session
    marker: datetime | None  # last_poll_marker read in the same session


def _summary(row: Any, settings: MonitoringSettings) -> HostSummary:
    latest: dict[str, Any] = row.latest or {}
    metrics: dict[str, Any] = latest.get("metrics") or {}
    disks = [
        (key[len(DISK_PREFIX) :], float(value))
        for key, value in metrics.items()
        if key.startswith(DISK_PREFIX) and isinstance(value, int | float)
    ]
    worst = max(disks, key=lambda d: (d[1], d[0])) if disks else None
    return HostSummary(
        ci_id=row.id,
        name=row.name,
        address=row.address,
        ci_class=row.ci_class,
        collector=row.collector,
        state=row.state or HostStatus.UNKNOWN.value,
        since=_aware(row.since),
        last_poll_at=_aware(row.last_poll_at),
        last_ok_at=_aware(row.last_ok_at),
        last_error=row.last_error,
        unreachable_via=row.unreachable_via,
        interval=expected_interval(row.collector, row.ci_class, row.poll_interval, settings),
        cpu=_number(metrics.get(CPU_METRIC)),
        load1=_number(metrics.get("load.1")),
        mem=_number(metrics.get(MEM_METRIC)),
        worst_disk=worst,
        rx_bps=_number(metrics.get("net.rx_bps")),
        tx_bps=_number(metrics.get("net.tx_bps")),
    )


def host_index(session: Session, settings: MonitoringSettings) -> HostIndex:
    """Every monitored CI, with its state (UNKNOWN where no poller has written yet)."""
    # The feed position and marker first: a write landing meanwhile makes the next look reload.
    change_id = latest_change_id(session)
    marker = _aware(last_poll_marker(session))
    rows = session.execute(
        select(
            CI.id, CI.name, CI.address, CI.ci_class, CI.collector, CI.poll_interval,
            HostState.state, HostState.since, HostState.last_poll_at, HostState.last_ok_at,
            HostState.last_error, HostState.unreachable_via, HostState.latest,
        )
        .outerjoin(HostState, HostState.ci_id == CI.id)
        .where(CI.monitored.is_(True))
        .order_by(CI.name)
    ).all()  # fmt: skip
    return HostIndex(tuple(_summary(row, settings) for row in rows), change_id, marker)


def poll_marker(session: Session) -> datetime | None:
    """The cheap probe a console that does not poll runs to see whether a poller wrote."""
    return _aware(last_poll_marker(session))


def cpu_histories(
    session: Session, ci_ids: Iterable[int], points: int, now: datetime | None = None
) -> dict[int, tuple[float, ...]]:
    """The last `points` CPU samples of each host asked for (oldest first): sparklines."""
    since = (now or clock.now()) - SERIES_LOOKBACK
    return {
        ci_id: tuple(value for _, value in series(session, ci_id, CPU_METRIC, since, points))
        for ci_id in ci_ids
    }


# --- ordering and filtering ---------------------------------------------------------------


class SortKey(enum.StrEnum):
    PROBLEMS = "problems"
    NAME = "name"
    CPU = "cpu"
    DISK = "disk"

    def next(self) -> SortKey:
        members = list(SortKey)
        return members[(members.index(self) + 1) % len(members)]


# Problems first: the root alarms, then their consequences, then what we know nothing about.
STATE_RANK = {
    HostStatus.DOWN.value: 0,
    HostStatus.UNREACHABLE.value: 1,
    HostStatus.UNKNOWN.value: 2,
    HostStatus.MAINTENANCE.value: 3,
    HostStatus.UP.value: 4,
}


def _descending(value: float | None) -> tuple[int, float]:
    """Biggest first, hosts without the figure last."""
    return (1, 0.0) if value is None else (0, -value)


def sort_hosts(hosts: Iterable[HostSummary], key: SortKey) -> list[HostSummary]:
    if key is SortKey.NAME:
        return sorted(hosts, key=lambda h: h.name)
    if key is SortKey.CPU:
        return sorted(hosts, key=lambda h: (_descending(h.cpu), h.name))
    if key is SortKey.DISK:
        return sorted(hosts, key=lambda h: (_descending(h.disk_percent), h.name))
    return sorted(hosts, key=lambda h: (STATE_RANK.get(h.state, 2), h.name))


@dataclass(frozen=True)
class HostFilter:
    """What the operator typed after `/`: words that must all match the name or address,
    and `key:value` terms: `state:down` (any prefix of a state; `state:down,unr` for
    several), `class:host`, `via:core`. An unknown key is searched for as plain text."""

    text: str = ""
    words: tuple[str, ...] = ()
    states: tuple[frozenset[str], ...] = ()
    classes: tuple[str, ...] = ()
    via: tuple[str, ...] = ()
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def parse(cls, text: str) -> HostFilter:
        words: list[str] = []
        states: list[frozenset[str]] = []
        classes: list[str] = []
        via: list[str] = []
        errors: list[str] = []
        for term in text.lower().split():
            key, colon, value = term.partition(":")
            if not colon or not value:
                words.append(term)
            elif key == "state":
                chosen = frozenset(
                    s.value
                    for wanted in value.split(",")
                    if wanted
                    for s in HostStatus
                    if s.value.lower().startswith(wanted)
                )
                if not chosen:
                    errors.append(f"no state starts with {value!r}")
                states.append(chosen)
            elif key == "class":
                classes.append(value)
            elif key == "via":
                via.append(value)
            else:
                words.append(term)
        return cls(text.strip(), tuple(words), tuple(states), tuple(classes), tuple(via),
                   tuple(errors))  # fmt: skip

    def __bool__(self) -> bool:
        return bool(self.words or self.states or self.classes or self.via)

    def matches(self, host: HostSummary) -> bool:
        name = host.name.lower()
        address = (host.address or "").lower()
        if not all(w in name or w in address for w in self.words):
            return False
        if not all(host.state in chosen for chosen in self.states):
            return False
        ci_class = host.ci_class.lower()
        if not all(ci_class.startswith(c) or c in ci_class for c in self.classes):
            return False
        via = (host.unreachable_via or "").lower()
        return all(v in via for v in self.via)


def arrange(hosts: Sequence[HostSummary], host_filter: HostFilter, key: SortKey
            ) -> list[HostSummary]:  # fmt: skip
    """The hosts the dashboard lists, in the order it lists them."""
    chosen = [h for h in hosts if host_filter.matches(h)] if host_filter else list(hosts)
    return sort_hosts(chosen, key)


def state_counts(hosts: Iterable[HostSummary]) -> dict[str, int]:
    """Hosts per state, in problem order (states with no host left out)."""
    counts = Counter(h.state for h in hosts)
    return {s: counts[s] for s in sorted(counts, key=lambda s: STATE_RANK.get(s, 2))}


# --- host detail ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StateChangeRow:
    at: datetime
    old: str
    new: str
    reason: str


@dataclass(frozen=True)
class HostDetail:
    view: HostView
    interval: float
    monitored: bool
    changes: tuple[StateChangeRow, ...]
    cpu_history: tuple[float, ...]
    mem_history: tuple[float, ...]


@dataclass(frozen=True)
class HostDetailResult:
    name: str
    detail: HostDetail | None  # None: no such CI (deleted meanwhile)
    change_id: int
    marker: datetime | None


def host_detail(
    session: Session,
    name: str,
    settings: MonitoringSettings,
    points: int,
    changes: int = STATE_CHANGES_SHOWN,
) -> HostDetailResult:
    change_id = latest_change_id(session)
    marker = _aware(last_poll_marker(session))
    view = host_view(session, name)
    if view is None:
        return HostDetailResult(name, None, change_id, marker)
    ci = session.get(CI, view.ci_id)
    since = clock.now() - SERIES_LOOKBACK
    detail = HostDetail(
        view=view,
        interval=expected_interval(
            view.collector, view.ci_class, ci.poll_interval if ci else None, settings
        ),
        monitored=bool(ci and ci.monitored),
        changes=tuple(
            StateChangeRow(_aware(c.at) or c.at, c.old_state, c.new_state, c.reason)
            for c in state_changes(session, view.ci_id, changes)
        ),
        cpu_history=tuple(v for _, v in series(session, view.ci_id, CPU_METRIC, since, points)),
        mem_history=tuple(v for _, v in series(session, view.ci_id, MEM_METRIC, since, points)),
    )
    return HostDetailResult(name, detail, change_id, marker)
