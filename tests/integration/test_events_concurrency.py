"""Several writers feeding the pipeline at once (pollers, `event send`, a console acking):
every event counted once, one alert per fingerprint, no lost operator edit."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from opsconsole.events import actions
from opsconsole.events.pipeline import Event, process
from opsconsole.events.settings import EventSettings
from opsconsole.store import Store, open_store
from opsconsole.store.alert_models import Alert
from opsconsole.store.models import Severity

WRITERS = 4
BATCHES = 15
START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def acknowledge_all(store: Store) -> None:
    """As an operator does: on a conflict (the pipeline changed an alert meanwhile) try again."""
    for _ in range(10):
        try:
            with store.write("ana") as session:
                ids = list(session.scalars(select(Alert.id)))
                actions.acknowledge(session, "ana", ids, note="seen")
            return
        except actions.AlertConflict:
            continue
    raise AssertionError("ten conflicts in a row")


def test_concurrent_writers_count_every_event_once(db_url: str) -> None:
    open_store(db_url).dispose()  # migrate once, before the writers race
    errors: list[BaseException] = []
    settings = EventSettings(timer_interval=0)

    def writer(index: int) -> None:
        store = open_store(db_url, upgrade=False)
        try:
            for batch in range(BATCHES):
                events = [
                    Event(
                        source="race",
                        check=f"check-{n}",
                        severity=Severity.MAJOR,
                        message=f"w{index} b{batch}",
                        ci=f"host-{n % 3}",
                        at=START + timedelta(seconds=batch, milliseconds=index),
                    )
                    for n in range(6)
                ]
                with store.write(f"writer-{index}") as session:
                    process(session, events, settings)
                if index == 0 and batch == BATCHES // 2:
                    acknowledge_all(store)
        except BaseException as exc:  # reported below, with the thread's name
            errors.append(exc)
        finally:
            store.dispose()

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "a writer hung"
    assert errors == []
    store = open_store(db_url, upgrade=False)
    with store.read() as session:
        rows = session.scalars(select(Alert)).all()
        assert len(rows) == 6
        assert sum(a.count for a in rows) == WRITERS * BATCHES * 6
        assert all(a.acked_by == "ana" for a in rows)  # repeats did not undo the ack
    store.dispose()
