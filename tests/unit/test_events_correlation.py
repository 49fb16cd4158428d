"""Correlation: same CI, same impacted service within the window, one level of grouping, and
a group that outlives its root."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opsconsole import clock
from opsconsole.events import actions, queries
from opsconsole.events.correlation import RootCandidate, choose_root
from opsconsole.events.settings import EventSettings
from opsconsole.store import Store
from opsconsole.store.alert_models import AlertState
from opsconsole.store.models import Severity
from tests.unit.test_events_support import (
    actions_of,
    alerts,
    build_estate,
    by_ci,
    ev,
    manual_clock,
    send,
)

__all__ = ["manual_clock"]
T = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = timedelta(minutes=10)


def candidate(fp: str, ci: str, services: str = "", minutes: int = 0) -> RootCandidate:
    return RootCandidate.of(None, None, ci, services, T + timedelta(minutes=minutes), fp)


def test_choose_root_prefers_the_same_ci_then_a_shared_service_in_the_window() -> None:
    pool = [
        candidate("a", "db-01", "shop", minutes=-5),
        candidate("b", "web-01", "shop", minutes=-60),
        candidate("c", "web-01", "shop", minutes=-2),
    ]
    found = choose_root("name:web-01", frozenset({"shop"}), T, "new", pool, WINDOW, True)
    assert found is not None and found[0].fingerprint == "b" and found[1] == "same CI"
    found = choose_root("name:web-02", frozenset({"shop"}), T, "new", pool, WINDOW, True)
    assert found is not None and found[0].fingerprint == "a"
    assert found[1] == "same service shop"
    assert choose_root("name:web-02", frozenset({"shop"}), T, "new", pool, WINDOW, False) is None
    assert choose_root("name:x", frozenset({"billing"}), T, "new", pool, WINDOW, True) is None
    late = T + timedelta(minutes=20)
    assert choose_root("name:web-02", frozenset({"shop"}), late, "new", pool, WINDOW, True) is None


def test_alerts_on_one_ci_group_under_the_first(store: Store) -> None:
    build_estate(store)
    send(store, [ev(ci="lonely-01", check="cpu.percent")])
    send(store, [ev(ci="lonely-01", check="mem.percent"), ev(ci="lonely-01", check="swap")])
    root, *children = alerts(store)
    assert root.parent_id is None
    assert [(c.parent_id, c.group_reason) for c in children] == [(root.id, "same CI")] * 2
    with store.read() as session:
        page = queries.alert_page(session, queries.View.OPEN)
        assert [(r.id, r.children) for r in page.rows] == [(root.id, 2)]
        assert {r.id for r in queries.children_of(session, root.id)} == {c.id for c in children}


def test_alerts_of_one_service_group_within_the_window_only(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    settings = EventSettings(timer_interval=0, correlation_window=300)
    send(store, [ev(ci="web-01", severity=Severity.CRITICAL)], settings)
    manual_clock.advance(timedelta(minutes=2))
    send(store, [ev(ci="db-01")], settings)
    manual_clock.advance(timedelta(minutes=10))
    send(store, [ev(ci="web-02")], settings)
    found = by_ci(store)
    assert found["db-01"].parent_id == found["web-01"].id
    assert found["db-01"].group_reason == "same service shop"
    assert found["web-02"].parent_id is None  # too late for the window
    assert actions_of(store, found["db-01"].id) == ["created", "grouped"]


def test_a_resolved_root_hands_its_group_to_the_oldest_child(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    send(store, [ev(ci="web-01")])
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="db-01")])
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="web-02")])
    found = by_ci(store)
    root = found["web-01"]
    assert found["db-01"].parent_id == root.id and found["web-02"].parent_id == root.id
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="web-01", clear=True)])
    found = by_ci(store)
    assert found["web-01"].state == AlertState.RESOLVED
    assert found["db-01"].parent_id is None
    assert found["web-02"].parent_id == found["db-01"].id
    assert "regrouped" in actions_of(store, found["db-01"].id)


def test_closing_a_root_also_hands_over_its_group(store: Store) -> None:
    build_estate(store)
    send(store, [ev(ci="lonely-01", check="a")])
    send(store, [ev(ci="lonely-01", check="b")])
    root, child = alerts(store)
    with store.write("ana") as session:
        actions.close(session, "ana", [root.id])
    root, child = alerts(store)
    assert root.state == AlertState.CLOSED and child.parent_id is None


def test_groups_are_one_level_deep(store: Store) -> None:
    build_estate(store)
    send(store, [
        ev(ci="core-sw-01", check="host.reachability", severity=Severity.CRITICAL),
        ev(ci="core-sw-01", check="if.errors"),
        ev(ci="web-01", check="host.unreachable", severity=Severity.WARNING,
           payload={"unreachable_via": "core-sw-01"}),
    ])  # fmt: skip
    roots = [a for a in alerts(store) if a.parent_id is None]
    assert len(roots) == 1
    assert all(a.parent_id in (None, roots[0].id) for a in alerts(store))
