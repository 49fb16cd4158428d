"""Read side of monitoring: what the dashboard and `opsconsole hosts` show, from the store."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsconsole.store.models import CI, HostState, HostStateChange, HostStatus


@dataclass(frozen=True)
class HostView:
    ci_id: int
    name: str
    ci_class: str
    address: str | None
    collector: str | None
    state: str
    since: datetime | None
    last_poll_at: datetime | None
    last_ok_at: datetime | None
    last_error: str | None
    unreachable_via: str | None
    latest: dict[str, Any] = field(default_factory=dict)

    @property
    def metrics(self) -> dict[str, float]:
        return dict(self.latest.get("metrics", {}))

    def to_json(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return at.isoformat() if at else None

        return {
            "name": self.name,
            "class": self.ci_class,
            "address": self.address,
            "collector": self.collector,
            "state": self.state,
            "since": iso(self.since),
            "last_poll_at": iso(self.last_poll_at),
            "last_ok_at": iso(self.last_ok_at),
            "last_error": self.last_error,
            "unreachable_via": self.unreachable_via,
            "metrics": self.metrics,
        }


def host_views(session: Session) -> list[HostView]:
    """Every monitored CI with its state (UNKNOWN where the poller has not written yet)."""
    rows = session.execute(
        select(CI, HostState)
        .outerjoin(HostState, HostState.ci_id == CI.id)
        .where(CI.monitored.is_(True))
        .order_by(CI.name)
    ).all()
    return [_view(ci, state) for ci, state in rows]


def host_view(session: Session, name: str) -> HostView | None:
    row = session.execute(
        select(CI, HostState).outerjoin(HostState, HostState.ci_id == CI.id).where(CI.name == name)
    ).first()
    return _view(row[0], row[1]) if row else None


def _view(ci: CI, state: HostState | None) -> HostView:
    return HostView(
        ci_id=ci.id,
        name=ci.name,
        ci_class=ci.ci_class,
        address=ci.address,
        collector=ci.collector,
        state=state.state if state else HostStatus.UNKNOWN.value,
        since=state.since if state else None,
        last_poll_at=state.last_poll_at if state else None,
        last_ok_at=state.last_ok_at if state else None,
        last_error=state.last_error if state else None,
        unreachable_via=state.unreachable_via if state else None,
        latest=dict(state.latest) if state else {},
    )


def last_poll_marker(session: Session) -> datetime | None:
    """Cheap "did anything get polled?" probe for consoles that only read the store."""
    return session.scalar(select(func.max(HostState.last_poll_at)))


def state_changes(session: Session, ci_id: int, limit: int = 20) -> Sequence[HostStateChange]:
    return session.scalars(
        select(HostStateChange)
        .where(HostStateChange.ci_id == ci_id)
        .order_by(HostStateChange.at.desc(), HostStateChange.id.desc())
        .limit(limit)
    ).all()
