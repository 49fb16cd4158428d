"""Shared setup of the ITSM tests: the sample estate, alerts, and a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.cmdb import io as cmdb_io
from opsconsole.cmdb.service import get_ci
from opsconsole.store.alert_models import SEVERITY_LEVEL, Alert
from opsconsole.store.engine import Store
from opsconsole.store.models import Severity

ROOT = Path(__file__).parents[1]
ESTATE = ROOT / "data" / "estate.yaml"
# A Monday, 09:00 UTC.
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@contextmanager
def frozen(start: datetime = T0) -> Iterator[clock.ManualClock]:
    manual = clock.ManualClock(start)
    previous = clock.use(manual)
    try:
        yield manual
    finally:
        clock.use(previous)


def load_estate(store: Store) -> None:
    with store.write("setup") as session:
        cmdb_io.import_file(session, ESTATE, {"lab-v2c"})


def ci_id(session: Session, name: str) -> int:
    return get_ci(session, name).id


def add_alert(
    session: Session,
    ci_name: str | None,
    *,
    check: str = "host.reachability",
    severity: str = "critical",
    state: str = "open",
    parent_id: int | None = None,
    message: str = "host is DOWN",
    resource: str = "",
) -> Alert:
    """An alert row as the events pipeline would write it."""
    ci = get_ci(session, ci_name) if ci_name else None
    now = clock.now()
    alert = Alert(
        fingerprint=f"fp-{ci_name}-{check}-{resource}-{now.timestamp()}-{parent_id}",
        source="monitoring",
        ci_id=ci.id if ci else None,
        ci_name=ci_name or "",
        check=check,
        resource=resource,
        severity=severity,
        severity_level=SEVERITY_LEVEL[Severity(severity)],
        state=state,
        message=message,
        count=1,
        first_seen=now,
        last_seen=now,
        updated_at=now,
        parent_id=parent_id,
        payload={},
    )
    session.add(alert)
    session.flush()
    return alert
