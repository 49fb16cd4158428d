"""Property: the same events, in any order and cut into batches anywhere, give the same alerts."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from opsconsole import clock
from opsconsole.events.pipeline import Event
from opsconsole.events.settings import EventSettings
from opsconsole.store import Store
from opsconsole.store.alert_models import Alert, AlertHistory
from opsconsole.store.models import EventRecord, Severity
from tests.unit.test_events_support import T0, alerts, send

# Flapping is about the order of results by definition: kept out of this property.
NO_FLAPPING = EventSettings(timer_interval=0, flap_high=100, flap_low=100)

EVENT = st.builds(
    lambda ci, check, severity, offset, text: Event(
        source="prop",
        check=check,
        severity=severity,
        message=f"{check} {text}",
        at=T0 + timedelta(seconds=offset),
        ci=ci,
    ),
    ci=st.sampled_from(["a", "b", "c"]),
    check=st.sampled_from(["cpu", "disk"]),
    severity=st.sampled_from(list(Severity)),
    offset=st.integers(min_value=0, max_value=600),
    text=st.sampled_from(["x", "y", "z"]),
)


def outcome(store: Store, batches: list[list[Event]]) -> set[tuple[object, ...]]:
    with store.write("tester") as session:
        for table in (AlertHistory, Alert, EventRecord):
            session.execute(delete(table))
    for batch in batches:
        send(store, batch, NO_FLAPPING)
    return {
        (a.fingerprint, a.count, a.first_seen, a.last_seen, a.severity, a.message, a.state,
         a.ci_name, a.check)
        for a in alerts(store)
    }  # fmt: skip


def cut(events: list[Event], cuts: list[int]) -> list[list[Event]]:
    points = sorted({c % (len(events) + 1) for c in cuts})
    batches, start = [], 0
    for point in [*points, len(events)]:
        if point > start:
            batches.append(events[start:point])
            start = point
    return batches


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(EVENT, min_size=1, max_size=25),
    order=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(min_value=0, max_value=30), max_size=4),
)
def test_any_order_any_batches_same_alerts(
    sqlite_store: Store, events: list[Event], order: object, cuts: list[int]
) -> None:
    previous = clock.use(clock.ManualClock(T0 + timedelta(hours=1)))
    try:
        reference = outcome(sqlite_store, [events])
        shuffled = list(events)
        order.shuffle(shuffled)  # type: ignore[attr-defined]
        assert outcome(sqlite_store, cut(shuffled, cuts)) == reference
    finally:
        clock.use(previous)
