"""Shared helpers for the events tests (no tests here): a small estate, a manual clock,
events in one line, and reading alerts back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from opsconsole import clock
from opsconsole.cmdb.service import add_ci, relate
from opsconsole.events.pipeline import BatchOutcome, Event, process
from opsconsole.events.settings import EventSettings
from opsconsole.store import Store
from opsconsole.store.alert_models import Alert, AlertHistory
from opsconsole.store.models import CIClass, RelationType, Severity

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
# Timers run with every batch in tests, so time-driven changes show at once.
SETTINGS = EventSettings(timer_interval=0)


@pytest.fixture
def manual_clock() -> Iterator[clock.ManualClock]:
    manual = clock.ManualClock(T0)
    previous = clock.use(manual)
    yield manual
    clock.use(previous)


def build_estate(store: Store) -> dict[str, int]:
    """shop (high) needs web-01, web-02 and db-01; payments (medium) needs db-01; web-01 hangs
    off core-sw-01; lonely-01 serves nothing."""
    with store.write("tester") as session:
        shop = add_ci(session, "shop", CIClass.SERVICE, criticality="high")
        payments = add_ci(session, "payments", CIClass.SERVICE, criticality="medium")
        cis = {
            name: add_ci(session, name, ci_class, address=address)
            for name, ci_class, address in (
                ("web-01", CIClass.HOST, "127.0.1.11"),
                ("web-02", CIClass.HOST, "127.0.1.12"),
                ("db-01", CIClass.DATABASE, "127.0.1.13"),
                ("core-sw-01", CIClass.NETWORK_DEVICE, "127.0.1.1"),
                ("lonely-01", CIClass.HOST, "127.0.1.99"),
            )
        }
        for name in ("web-01", "web-02", "db-01"):
            relate(session, shop, RelationType.DEPENDS_ON, cis[name])
        relate(session, payments, RelationType.DEPENDS_ON, cis["db-01"])
        relate(session, cis["web-01"], RelationType.CONNECTED_TO, cis["core-sw-01"])
        ids = {name: ci.id for name, ci in cis.items()}
        ids.update(shop=shop.id, payments=payments.id)
    return ids


def ev(
    ci: str = "web-01",
    check: str = "cpu.percent",
    severity: Severity = Severity.MAJOR,
    message: str = "",
    at: datetime | None = None,
    *,
    clear: bool = False,
    source: str = "monitoring",
    resource: str = "",
    key: str | None = None,
    payload: dict[str, Any] | None = None,
) -> Event:
    return Event(
        source=source, check=check, severity=Severity.INFO if clear else severity,
        message=message or f"{ci} {check} {'ok' if clear else severity.value}",
        at=at or clock.now(), ci=ci, resource=resource, clear=clear, key=key,
        payload=payload or {},
    )  # fmt: skip


def send(
    store: Store,
    events: Sequence[Event],
    settings: EventSettings = SETTINGS,
    actor: str = "poller",
) -> BatchOutcome:
    with store.write(actor) as session:
        return process(session, events, settings)


def alerts(store: Store) -> list[Alert]:
    with store.read() as session:
        return list(session.scalars(select(Alert).order_by(Alert.id)))


def one_alert(store: Store) -> Alert:
    found = alerts(store)
    assert len(found) == 1, found
    return found[0]


def history(store: Store, alert_id: int) -> list[tuple[str, str]]:
    with store.read() as session:
        rows = session.scalars(
            select(AlertHistory).where(AlertHistory.alert_id == alert_id).order_by(AlertHistory.id)
        )
        return [(h.action, h.actor) for h in rows]


def actions_of(store: Store, alert_id: int) -> list[str]:
    return [action for action, _ in history(store, alert_id)]


def by_ci(store: Store) -> dict[str, Alert]:
    """The alerts by CI name (for tests with one alert per CI)."""
    found = alerts(store)
    named = {a.ci_name: a for a in found}
    assert len(named) == len(found), "more than one alert on a CI"
    return named
