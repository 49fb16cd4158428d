from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from opsconsole import clock
from opsconsole.clock import ManualClock
from opsconsole.cmdb.service import add_ci, get_ci, relate, update_ci
from opsconsole.store import CI, Store, VersionConflict
from opsconsole.store.changelog import changes_since, history_of, latest_change_id
from opsconsole.store.models import CIClass, Relationship, RelationType


@pytest.fixture
def frozen() -> ManualClock:
    manual = ManualClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    previous = clock.use(manual)
    yield manual  # type: ignore[misc]
    clock.use(previous)


def test_times_are_stored_and_returned_in_utc(store: Store, frozen: ManualClock) -> None:
    with store.write("alice") as s:
        add_ci(s, "web-01", CIClass.HOST, address="127.0.0.1")
    with store.read() as s:
        ci = get_ci(s, "web-01")
    assert ci.created_at == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert ci.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.write("alice") as s:
        s.add(CI(name="x", ci_class="host", created_at=datetime(2026, 1, 1)))
        s.flush()


def test_every_write_lands_in_change_log_with_actor(store: Store, frozen: ManualClock) -> None:
    with store.write("alice") as s:
        web = add_ci(s, "web-01", CIClass.HOST, address="127.0.0.1")
        sw = add_ci(s, "sw-01", CIClass.NETWORK_DEVICE)
        relate(s, web, RelationType.CONNECTED_TO, sw)
    frozen.advance(timedelta(minutes=5))
    with store.write("bob") as s:
        get_ci(s, "web-01").address = "127.0.0.2"
    with store.read() as s:
        web_id = get_ci(s, "web-01").id
        history = history_of(s, "ci", web_id)
        feed = changes_since(s, 0)
    assert [(h.action, h.actor) for h in history] == [("insert", "alice"), ("update", "bob")]
    assert history[1].changes == {"address": ["127.0.0.1", "127.0.0.2"]}
    assert history[1].at == datetime(2026, 3, 1, 12, 5, tzinfo=UTC)
    assert [f.entity for f in feed] == ["ci", "ci", "ci_relationship", "ci"]
    assert history[0].changes["name"] == "web-01"


def test_rolled_back_write_leaves_no_log(store: Store) -> None:
    with store.read() as s:
        before = latest_change_id(s)
    with pytest.raises(RuntimeError), store.write("alice") as s:
        add_ci(s, "web-01", CIClass.HOST)
        raise RuntimeError("operator aborted")
    with store.read() as s:
        assert latest_change_id(s) == before
        assert s.scalar(select(CI).where(CI.name == "web-01")) is None


def test_feed_position_moves_only_on_writes(store: Store) -> None:
    with store.read() as s:
        start = latest_change_id(s)
    with store.read() as s:
        list(s.scalars(select(CI)))
        assert latest_change_id(s) == start
    with store.write("alice") as s:
        add_ci(s, "db-01", CIClass.HOST)
    with store.read() as s:
        assert latest_change_id(s) == start + 1


def test_a_save_from_an_older_version_is_refused(store: Store) -> None:
    with store.write("alice") as s:
        add_ci(s, "web-01", CIClass.HOST)
    with store.read() as s:
        opened_at = get_ci(s, "web-01").version
    with store.write("bob") as s:
        update_ci(s, "web-01", opened_at, owner="bob")
    with pytest.raises(VersionConflict, match="changed by someone else"), store.write("alice") as s:
        update_ci(s, "web-01", opened_at, owner="alice")
    with store.read() as s:
        ci = get_ci(s, "web-01")
        assert (ci.owner, ci.version) == ("bob", 2)


def test_version_column_catches_a_concurrent_flush(store: Store) -> None:
    with store.write("alice") as s:
        add_ci(s, "web-01", CIClass.HOST)
    with store.read() as s:
        mine = get_ci(s, "web-01")
    with store.write("bob") as s:
        get_ci(s, "web-01").owner = "bob"
    # Re-attach the copy loaded before bob's save, as a long-lived form would hold it.
    with pytest.raises(StaleDataError), store.write("alice") as s:
        s.add(mine)
        mine.owner = "alice"
        s.flush()


def test_check_constraints_guard_the_vocabulary(store: Store) -> None:
    with pytest.raises(IntegrityError), store.write("alice") as s:
        s.add(CI(name="odd", ci_class="toaster"))
        s.flush()


def test_duplicate_edges_and_self_edges_are_refused(store: Store) -> None:
    with store.write("alice") as s:
        a = add_ci(s, "a", CIClass.HOST)
        b = add_ci(s, "b", CIClass.HOST)
        relate(s, a, RelationType.DEPENDS_ON, b)
        relate(s, a, RelationType.DEPENDS_ON, b)  # idempotent in the domain layer
        assert s.query(Relationship).count() == 1
    with pytest.raises(IntegrityError), store.write("alice") as s:
        a_id = get_ci(s, "a").id
        s.add(Relationship(source_id=a_id, target_id=a_id, rel_type="depends_on"))
        s.flush()


def test_deleting_a_ci_removes_its_edges(store: Store) -> None:
    with store.write("alice") as s:
        a = add_ci(s, "a", CIClass.HOST)
        b = add_ci(s, "b", CIClass.HOST)
        relate(s, a, RelationType.DEPENDS_ON, b)
    with store.write("alice") as s:
        s.delete(get_ci(s, "b"))
    with store.read() as s:
        assert s.query(Relationship).count() == 0
        tail = [(c.entity, c.action) for c in changes_since(s, 0)][-2:]
        assert sorted(tail) == [("ci", "delete"), ("ci_relationship", "delete")]
