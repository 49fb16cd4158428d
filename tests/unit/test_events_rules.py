"""The rules stage: registered rules see each batch's alerts, which of them are fresh, and the
pipeline's cached CMDB impact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.cmdb.service import relate
from opsconsole.events import pipeline, services
from opsconsole.events.pipeline import BatchContext
from opsconsole.store import Store
from opsconsole.store.models import CI, Relationship, RelationType, Severity
from tests.unit.test_events_support import build_estate, ev, manual_clock, send

__all__ = ["manual_clock"]


@pytest.fixture
def seen() -> Iterator[list[BatchContext]]:
    contexts: list[BatchContext] = []

    def rule(session: Session, context: BatchContext) -> None:
        assert all(d.id is not None for d in context.drafts)  # written before rules run
        contexts.append(context)

    pipeline.register_rule(rule)
    yield contexts
    pipeline.unregister_rule(rule)


def test_rules_see_fresh_alerts_and_cached_impact(
    store: Store, manual_clock: clock.ManualClock, seen: list[BatchContext]
) -> None:
    ids = build_estate(store)
    send(store, [ev(ci="db-01", severity=Severity.MINOR)])
    first = seen[-1]
    assert [d.ci_name for d in first.fresh] == ["db-01"]
    assert first.services_of(ids["db-01"]) == ("shop", "payments")
    assert first.criticalities_of(ids["db-01"]) == {"high", "medium"}
    assert first.services_of(None) == ()

    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="db-01", severity=Severity.MINOR)])
    assert [d.count for d in seen[-1].drafts] == [2] and seen[-1].fresh == []  # a repeat

    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="db-01", severity=Severity.CRITICAL)])
    assert [d.severity for d in seen[-1].fresh] == ["critical"]  # escalated

    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="db-01", clear=True)])
    assert seen[-1].fresh == [] and seen[-1].outcome.resolved

    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="db-01", severity=Severity.CRITICAL)])
    assert len(seen[-1].fresh) == 1 and seen[-1].outcome.reopened  # reopened


def test_rules_know_the_impact_of_regrouped_alerts_too(
    store: Store, manual_clock: clock.ManualClock, seen: list[BatchContext]
) -> None:
    """A root that resolves hands its group to a child loaded from the store in that batch:
    the context knows the impact of that child's CI as well (not only of the events' CIs)."""
    ids = build_estate(store)
    send(store, [ev(ci="web-01", severity=Severity.MAJOR)])
    manual_clock.advance(timedelta(seconds=30))
    send(store, [ev(ci="web-02", severity=Severity.MAJOR)])  # grouped under web-01 (shop)
    assert [d.parent_id for d in seen[-1].drafts if d.ci_name == "web-02"] != [None]
    services.forget(store.engine)  # a cold view: as after a CMDB edit, or a restart
    manual_clock.advance(timedelta(seconds=30))
    send(store, [ev(ci="web-01", clear=True)])
    batch = seen[-1]
    assert batch.outcome.resolved
    head = [d for d in batch.drafts if d.ci_name == "web-02"]
    assert head and head[0].parent_id is None  # regrouped: it heads the group now
    assert batch.criticalities_of(ids["web-02"]) == {"high"}
    assert batch.services_of(ids["web-02"]) == ("shop",)


def test_the_cached_impact_follows_an_edge_replaced_under_the_same_id(
    store: Store, manual_clock: clock.ManualClock, seen: list[BatchContext]
) -> None:
    """SQLite reuses the highest id of a deleted row: the edge count and the highest edge id
    stay the same when the newest edge is replaced by another, yet the impact changed."""
    ids = build_estate(store)
    send(store, [ev(ci="lonely-01")])
    assert seen[-1].services_of(ids["lonely-01"]) == ()
    with store.write("tester") as session:
        newest = session.scalars(select(Relationship).order_by(Relationship.id.desc())).first()
        assert newest is not None
        newest_id = newest.id
        session.delete(newest)
        session.flush()
        payments = session.get(CI, ids["payments"])
        lonely = session.get(CI, ids["lonely-01"])
        assert payments is not None and lonely is not None
        edge = relate(session, payments, RelationType.DEPENDS_ON, lonely)
        if store.engine.dialect.name == "sqlite":  # PostgreSQL's sequence never reuses one
            assert edge.id == newest_id  # the case the view must not miss
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(ci="lonely-01")])
    assert seen[-1].services_of(ids["lonely-01"]) == ("payments",)
    assert seen[-1].criticalities_of(ids["lonely-01"]) == {"medium"}
