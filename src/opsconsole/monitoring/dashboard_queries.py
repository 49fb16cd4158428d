"""What the console's dashboard and host detail read from the store, and how they order it.

The dashboard must stay fluid with hundreds of hosts, so it reads in two steps:

- `host_index`: one lean row per monitored host (state, times, the few figures a panel shows
  and a sort needs), one query, no ORM objects. Sorting and filtering work on this list.
- `cpu_histories`: sparkline points, asked only for the hosts in the visible window.

`host_detail` gathers everything the host detail view shows in one read session. Nothing here
imports textual; every value returned is plain data, safe to use after the session closed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.config import MonitoringSettings
from opsconsole.monitoring.host_list import HostIndex, HostSummary
from opsconsole.monitoring.hosts import HostView, host_view, last_poll_marker, state_changes
from opsconsole.monitoring.metrics import series
from opsconsole.monitoring.targets import expected_interval
from opsconsole.store.changelog import latest_change_id
from opsconsole.store.models import CI, HostState, HostStatus

CPU_METRIC = "cpu.percent"
MEM_METRIC = "mem.percent"
DISK_PREFIX = "fs.percent:"
SERIES_LOOKBACK = timedelta(hours=24)
STATE_CHANGES_SHOWN = 20


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


# --- the index: every monitored host, lean -------------------------------------------------


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
