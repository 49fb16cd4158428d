"""The rules stage: registered rules see each batch's alerts, which of them are fresh, and the
pipeline's cached CMDB impact."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.events import pipeline
from opsconsole.events.pipeline import BatchContext
from opsconsole.store import Store
from opsconsole.store.models import Severity
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
