"""The queue (keyset pages, views, filters, counts, detail) and the operator actions (ack,
unack, snooze, assign, close, note), each journaled and in the change log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from opsconsole import clock
from opsconsole.events import actions, queries, silences
from opsconsole.events.queries import View
from opsconsole.events.timers import run_timers
from opsconsole.store import Store
from opsconsole.store.alert_models import Alert, AlertState
from opsconsole.store.models import ChangeLog, Severity
from tests.unit.test_events_support import (
    SETTINGS,
    alerts,
    build_estate,
    ev,
    history,
    manual_clock,
    one_alert,
    send,
)

__all__ = ["manual_clock"]
SEVERITIES = [Severity.CRITICAL, Severity.MAJOR, Severity.MINOR, Severity.WARNING, Severity.INFO]


def fill(store: Store, manual_clock: clock.ManualClock, n: int = 37) -> None:
    for i in range(n):
        manual_clock.advance(timedelta(seconds=1 + i % 3))
        send(store, [ev(ci=f"h{i:02d}", check=f"c{i % 4}", severity=SEVERITIES[i % 5],
                        message=f"message {i}")])  # fmt: skip


def expected_order(store: Store) -> list[int]:
    rows = [(a.severity_level, a.last_seen, a.id) for a in alerts(store) if a.parent_id is None]
    return [r[2] for r in sorted(rows, reverse=True)]


def test_keyset_pages_walk_the_queue_both_ways(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    fill(store, manual_clock)
    expected = expected_order(store)
    with store.read() as session:
        seen: list[int] = []
        pages = []
        page = queries.alert_page(session, View.ALL, limit=10)
        for _ in range(10):
            pages.append(page)
            seen += [r.id for r in page.rows]
            if not page.has_more:
                break
            page = queries.alert_page(session, View.ALL, after=page.last, limit=10)
        assert seen == expected
        assert [len(p.rows) for p in pages] == [10, 10, 10, 7]
        back = queries.alert_page(session, View.ALL, before=pages[2].first, limit=10)
        assert [r.id for r in back.rows] == [r.id for r in pages[1].rows] and back.has_more
        first = queries.alert_page(session, View.ALL, before=pages[1].first, limit=10)
        assert [r.id for r in first.rows] == [r.id for r in pages[0].rows]
        assert not first.has_more


def test_worst_first_then_newest(store: Store, manual_clock: clock.ManualClock) -> None:
    fill(store, manual_clock, 10)
    with store.read() as session:
        rows = queries.alert_page(session, View.ALL).rows
    keys = [(r.severity_level, r.last_seen) for r in rows]
    assert keys == sorted(keys, reverse=True)
    assert rows[0].severity == "critical"


def test_views_and_counts(store: Store, manual_clock: clock.ManualClock) -> None:
    fill(store, manual_clock, 10)
    ids = [a.id for a in alerts(store)]
    with store.write("ana") as session:
        actions.acknowledge(session, "ana", ids[:2])
        actions.assign(session, "ana", ids[1:3], "ana")
        actions.close(session, "ana", ids[9:])
    with store.read() as session:

        def view(v: View) -> set[int]:
            return {r.id for r in queries.alert_page(session, v, actor="ana").rows}

        assert view(View.ACKNOWLEDGED) == set(ids[:2])
        assert view(View.MINE) == set(ids[1:3])
        assert view(View.OPEN) == set(ids[2:9])
        assert view(View.ACTIVE) == set(ids[:9])
        assert view(View.ALL) == set(ids)
        counts = queries.severity_counts(session)
        assert sum(counts.values()) == 9 and set(counts) == set(Severity)
        assert queries.view_counts(session, "ana") == {
            View.OPEN: 7, View.ACKNOWLEDGED: 2, View.SUPPRESSED: 0, View.ACTIVE: 9,
            View.ALL: 10, View.MINE: 2,
        }  # fmt: skip
        assert queries.view_counts(session)[View.MINE] == 0  # nobody to count for


@pytest.mark.parametrize(
    ("text", "count"),
    [("h0", 10), ("ci:h01", 1), ("h03 c3", 1), ("h03 c2", 0), ("check:c1", 3), ("-check:c1", 7),
     ("severity:critical", 2), ("severity:>=major", 4), ('"message 1"', 1),
     ("state:open", 10), ("id:3", 1)],
)  # fmt: skip
def test_filters(store: Store, manual_clock: clock.ManualClock, text: str, count: int) -> None:
    fill(store, manual_clock, 10)
    with store.read() as session:
        assert len(queries.alert_page(session, View.ALL, text=text).rows) == count


@pytest.mark.parametrize("text", ["severity:huge", "state:gone", "id:x", '"open', "ci:"])
def test_bad_filters_say_why(text: str) -> None:
    with pytest.raises(queries.FilterError):
        queries.parse_filter(text)


def test_filter_text_is_not_a_pattern(store: Store) -> None:
    build_estate(store)
    send(store, [ev(message="100% full"), ev(check="b", message="1000 full")])
    with store.read() as session:
        assert [r.message for r in queries.alert_page(session, View.ALL, text="0%").rows] == [
            "100% full"
        ]


def test_detail_has_history_children_services_and_changes(store: Store) -> None:
    build_estate(store)
    send(store, [ev(ci="web-01", check="a")])
    send(store, [ev(ci="web-01", check="b")])
    root, child = alerts(store)
    with store.read() as session:
        detail = queries.alert_detail(session, root.id)
        assert [h.action for h in detail.history] == ["created"]
        assert [c.id for c in detail.children] == [child.id]
        assert [p.ci.name for p in detail.services] == ["shop"]
        assert isinstance(detail.recent_changes, list)
        assert queries.alert_detail(session, child.id).parent is not None


def test_new_alerts_since(store: Store) -> None:
    build_estate(store)
    with store.read() as session:
        mark = queries.latest_alert_id(session)
    with store.write("ana") as session:  # a silenced critical is expected: no announcement
        silences.create_silence(session, "ana", ["ci=c"], "known", duration=timedelta(hours=1))
    send(store, [ev(ci="a", severity=Severity.CRITICAL), ev(ci="b", severity=Severity.MINOR),
                 ev(ci="c", severity=Severity.CRITICAL)])  # fmt: skip
    with store.read() as session:
        assert [r.ci_name for r in queries.new_alerts_since(session, mark)] == ["a"]


def test_row_markers(store: Store, manual_clock: clock.ManualClock) -> None:
    build_estate(store)
    send(store, [ev()])
    with store.read() as session:
        row = queries.alert_page(session, View.ALL).rows[0]
    assert row.marker(clock.now(), 300) == "new"
    assert row.marker(clock.now() + timedelta(minutes=6), 300) == ""


# --- actions ---------------------------------------------------------------------------------


def test_ack_unack_with_journal_and_change_log(store: Store) -> None:
    build_estate(store)
    send(store, [ev()])
    alert = one_alert(store)
    with store.write("ana") as session:
        result = actions.acknowledge(session, "ana", [alert.id], note="disk", ticket="INC1")
    assert result.changed == [alert.id]
    alert = one_alert(store)
    assert (alert.state, alert.acked_by, alert.ack_note, alert.ack_ticket) == (
        "acknowledged", "ana", "disk", "INC1",
    )  # fmt: skip
    with store.write("bo") as session:
        actions.unacknowledge(session, "bo", [alert.id])
    assert one_alert(store).state == AlertState.OPEN
    assert history(store, alert.id)[-2:] == [("acknowledged", "ana"), ("unacknowledged", "bo")]
    with store.read() as session:
        logged = session.scalars(
            select(ChangeLog).where(ChangeLog.entity == "alert", ChangeLog.entity_id == alert.id)
        ).all()
    assert [(c.actor, c.changes.get("state")) for c in logged] == [
        ("ana", ["open", "acknowledged"]), ("bo", ["acknowledged", "open"]),
    ]  # fmt: skip


def test_bulk_actions_skip_what_does_not_apply(store: Store) -> None:
    build_estate(store)
    send(store, [ev(ci="a"), ev(ci="b"), ev(ci="c")])
    a, b, c = (x.id for x in alerts(store))
    with store.write("ana") as session:
        actions.close(session, "ana", [c])
    with store.write("ana") as session:
        result = actions.acknowledge(session, "ana", [a, b, c])
    assert result.changed == [a, b] and result.skipped == [(c, "it is closed")]
    with store.write("ana") as session, pytest.raises(actions.AlertError, match="#999"):
        actions.acknowledge(session, "ana", [a, 999])


def test_snooze_comes_back_open_unless_recovered(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    send(store, [ev(ci="a"), ev(ci="b")])
    a, b = (x.id for x in alerts(store))
    with store.write("ana") as session:
        actions.snooze(session, "ana", [a, b], timedelta(minutes=30))
    assert {x.state for x in alerts(store)} == {AlertState.ACKNOWLEDGED}
    manual_clock.advance(timedelta(minutes=10))
    send(store, [ev(ci="b", clear=True)])
    manual_clock.advance(timedelta(minutes=21))
    with store.write("timer") as session:
        assert run_timers(session, SETTINGS).snoozes_ended == 1  # b recovered: no snooze
    first, second = alerts(store)
    assert first.state == AlertState.OPEN and first.acked_by is None
    assert second.state == AlertState.RESOLVED
    assert history(store, a)[-1] == ("snooze ended", "timer")


def test_assign_close_note_and_resolve(store: Store) -> None:
    build_estate(store)
    send(store, [ev()])
    alert_id = one_alert(store).id
    with store.write("ana") as session:
        actions.assign(session, "ana", [alert_id], "ana")
        actions.add_note(session, "ana", alert_id, "called the vendor")
        assert actions.resolve_alerts(session, "ana", [alert_id], "with INC0001") == [alert_id]
        assert actions.resolve_alerts(session, "ana", [alert_id], "again") == []
        with pytest.raises(actions.AlertError):
            actions.add_note(session, "ana", alert_id, "  ")
    alert = one_alert(store)
    assert alert.assignee == "ana" and alert.state == AlertState.RESOLVED
    assert [h for h, _ in history(store, alert_id)] == ["created", "assigned", "note", "resolved"]


def test_operator_edits_bump_the_version(store: Store) -> None:
    build_estate(store)
    send(store, [ev()])
    before = one_alert(store).version
    send(store, [ev()])  # the pipeline bumps it too: a stale screen edit is detected
    with store.write("ana") as session:
        actions.acknowledge(session, "ana", [one_alert(store).id])
    assert one_alert(store).version == before + 2
    with store.read() as session:
        assert session.scalar(select(Alert.version)) == before + 2


def test_detail_shows_recent_changes_on_the_ci(store: Store) -> None:
    try:
        from opsconsole.itsm import changes
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("opsconsole.itsm.changes", "opsconsole.itsm"):
            raise
        pytest.skip("opsconsole.itsm.changes (the change workflow) does not exist yet")
    ids = build_estate(store)
    now = clock.now()
    with store.write("carol") as session:
        change = changes.create_change(
            session, "carol", change_type="normal", short_description="patch kernel",
            ci_ids=[ids["web-01"]], planned_start=now - timedelta(hours=3),
            planned_end=now - timedelta(hours=2),
        )  # fmt: skip
        number = change.number
    send(store, [ev(ci="web-01"), ev(ci="lonely-01")])
    web, lonely = alerts(store)
    with store.read() as session:
        found = queries.alert_detail(session, web.id).recent_changes
        assert [getattr(c, "number", None) for c in found] == [number]
        assert queries.alert_detail(session, lonely.id).recent_changes == []
