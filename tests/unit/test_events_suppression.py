"""Suppression, each kind with the reason the queue shows, and its end: silences (matchers,
pending, active, expired, until recovery), maintenance, topology and flapping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.events import silences
from opsconsole.events.flapping import flap_value, record_result
from opsconsole.events.matchers import Matcher, MatcherError
from opsconsole.events.settings import EventSettings
from opsconsole.events.timers import run_timers
from opsconsole.store import Store
from opsconsole.store.alert_models import AlertState, Suppression
from opsconsole.store.models import Severity
from tests.unit.test_events_support import (
    SETTINGS,
    actions_of,
    alerts,
    build_estate,
    by_ci,
    ev,
    manual_clock,
    one_alert,
    send,
)

__all__ = ["manual_clock"]


# --- matchers ------------------------------------------------------------------------------------


class Facts:
    ci_name = "web-01"
    check = "fs.percent"
    severity = "major"
    services = "shop, payments"
    message = "disk /var at 93 %"
    resource = "/var"
    source = "monitoring"


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("ci=web-01", True), ("ci=web-02", False), ("ci!=web-02", True), ("ci!=web-01", False),
        ("ci=~web-.*", True), ("ci=~web", False), ("ci!~db-.*", True), ("check=~fs\\..*", True),
        ("severity=major", True), ("service=payments", True), ("service!=shop", False),
        ("service=~pay.*", True), ("service!~bill.*", True), ("text=~93 %", True),
        ("text!~disk", False), ("resource=/var", True), ("source=cli", False),
    ],
)  # fmt: skip
def test_matchers(text: str, hit: bool) -> None:
    assert Matcher.parse(text).matches(Facts()) is hit


@pytest.mark.parametrize("text", ["cpu", "host=web-01", "ci=~(", "ci<>web"])
def test_bad_matchers_say_why(text: str) -> None:
    with pytest.raises(MatcherError):
        Matcher.parse(text)


# --- silences ------------------------------------------------------------------------------------


def test_a_silence_suppresses_with_its_reason_and_ends_on_time(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    send(store, [ev(ci="web-01"), ev(ci="web-02")])
    with store.write("ana") as session:
        silence = silences.create_silence(
            session, "ana", ["ci=web-01"], "kernel upgrade", duration=timedelta(hours=1)
        )
    silenced, other = by_ci(store)["web-01"], by_ci(store)["web-02"]
    assert silenced.state == AlertState.SUPPRESSED
    assert silenced.suppression == Suppression.SILENCE
    assert silenced.suppressed_reason == "silenced by ana: kernel upgrade"
    assert silenced.silence_id == silence.id
    assert other.state == AlertState.OPEN
    # Still deduplicated while silenced.
    send(store, [ev(ci="web-01")])
    assert by_ci(store)["web-01"].count == 2
    assert by_ci(store)["web-01"].state == AlertState.SUPPRESSED
    manual_clock.advance(timedelta(hours=1, seconds=1))
    with store.write("timer") as session:
        summary = run_timers(session, SETTINGS)
        assert silences.state_of(session.get(type(silence), silence.id)) == "expired"
    assert summary.silences_ended == 1
    assert by_ci(store)["web-01"].state == AlertState.OPEN
    assert actions_of(store, silenced.id)[-2:] == ["suppressed", "unsuppressed"]


def test_a_pending_silence_starts_later(store: Store, manual_clock: clock.ManualClock) -> None:
    build_estate(store)
    send(store, [ev(ci="web-01")])
    start = clock.now() + timedelta(minutes=30)
    with store.write("ana") as session:
        silence = silences.create_silence(
            session, "ana", ["ci=web-01"], "window", starts_at=start, duration=timedelta(hours=1)
        )
        assert silences.state_of(silence) == silences.SilenceState.PENDING
    assert one_alert(store).state == AlertState.OPEN
    manual_clock.advance(timedelta(minutes=31))
    send(store, [ev(ci="web-01")])  # the pipeline runs the timers on its way
    assert one_alert(store).state == AlertState.SUPPRESSED


def test_a_silence_applies_to_new_alerts_too(store: Store) -> None:
    build_estate(store)
    with store.write("ana") as session:
        silences.create_silence(
            session, "ana", ["service=shop", "severity=warning"], "known noise",
            duration=timedelta(hours=1),
        )  # fmt: skip
    send(store, [ev(ci="db-01", severity=Severity.WARNING),
                 ev(ci="lonely-01", severity=Severity.WARNING)])  # fmt: skip
    db, lonely = by_ci(store)["db-01"], by_ci(store)["lonely-01"]
    assert db.state == AlertState.SUPPRESSED and lonely.state == AlertState.OPEN


def test_expiring_a_silence_by_hand(store: Store) -> None:
    build_estate(store)
    send(store, [ev()])
    with store.write("ana") as session:
        silence = silences.create_silence(
            session, "ana", ["ci=web-01"], "x", duration=timedelta(hours=1)
        )
    with store.write("bo") as session:
        silences.expire_silence(session, "bo", silence.id)
        with pytest.raises(silences.SilenceError, match="expired already"):
            silences.expire_silence(session, "bo", silence.id)
    assert one_alert(store).state == AlertState.OPEN


def test_a_silence_until_recovery_ends_with_its_alert(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    send(store, [ev(check="fs.percent", resource="/")])
    alert = one_alert(store)
    with store.write("ana") as session:
        silence = silences.silence_from_alert(
            session, "ana", alert.id, "disk being cleaned", until_recovery=True
        )
        assert [str(m) for m in silences.matchers_of(silence)] == [
            "ci=web-01", "check=fs.percent", "resource=/",
        ]  # fmt: skip
    assert one_alert(store).state == AlertState.SUPPRESSED
    manual_clock.advance(timedelta(minutes=5))
    send(store, [ev(check="fs.percent", resource="/", clear=True)])
    assert one_alert(store).state == AlertState.RESOLVED  # recovery tracked while silenced
    with store.read() as session:
        ended = session.get(type(silence), silence.id)
        assert ended is not None and silences.state_of(ended) == silences.SilenceState.EXPIRED
    manual_clock.advance(timedelta(minutes=5))
    send(store, [ev(check="fs.percent", resource="/")])
    assert one_alert(store).state == AlertState.OPEN  # reopened, and not silenced any more


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"matchers": [], "comment": "x", "duration": timedelta(hours=1)}, "at least one"),
        ({"matchers": ["ci=a"], "comment": " ", "duration": timedelta(hours=1)}, "comment"),
        ({"matchers": ["ci=a"], "comment": "x"}, "needs an end"),
        ({"matchers": ["ci=~("], "comment": "x", "duration": timedelta(hours=1)}, "regular"),
        ({"matchers": ["ci=a"], "comment": "x", "duration": timedelta(0)}, "positive"),
    ],
)
def test_silences_need_matchers_a_comment_and_an_end(
    sqlite_store: Store, kwargs: dict[str, object], message: str
) -> None:
    with sqlite_store.write("ana") as session, pytest.raises(silences.SilenceError, match=message):
        silences.create_silence(session, "ana", **kwargs)  # type: ignore[arg-type]


def test_silences_view_counts_matches_and_warns_of_the_end(store: Store) -> None:
    build_estate(store)
    send(store, [ev(ci="web-01"), ev(ci="web-02"), ev(ci="db-01")])
    with store.write("ana") as session:
        silences.create_silence(session, "ana", ["ci=~web-.*"], "a", duration=timedelta(hours=1))
        silences.create_silence(session, "ana", ["ci=db-01"], "b", duration=timedelta(days=2))
    with store.read() as session:
        views = silences.list_silences(session, warn_hours=4)
    assert [(v.silence.comment, v.matching, v.ends_soon) for v in views] == [
        ("b", 1, False), ("a", 2, True),
    ]  # fmt: skip


# --- maintenance ---------------------------------------------------------------------------------


def test_maintenance_of_an_implementing_change_marks_alerts(
    store: Store, manual_clock: clock.ManualClock
) -> None:
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
            session, "carol", change_type="normal", short_description="replace disks",
            ci_ids=[ids["db-01"]], planned_start=now - timedelta(minutes=5),
            planned_end=now + timedelta(hours=1),
        )  # fmt: skip
        # Walking the approval workflow is the ITSM tests' business: only the state and the
        # window matter here.
        change.state = changes.ChangeState.IMPLEMENT.value
        number = change.number
    send(store, [ev(ci="db-01"), ev(ci="web-01")])
    db, web = by_ci(store)["db-01"], by_ci(store)["web-01"]
    assert db.state == AlertState.SUPPRESSED and db.suppression == Suppression.MAINTENANCE
    assert db.suppressed_reason == f"maintenance {number}"
    assert web.state == AlertState.OPEN
    manual_clock.advance(timedelta(hours=1, minutes=1))  # the window is over
    send(store, [ev(ci="db-01")])
    assert by_ci(store)["db-01"].state == AlertState.OPEN


def test_a_window_opening_on_an_open_alert_is_noticed_by_the_timers(store: Store) -> None:
    try:
        from opsconsole.itsm import changes
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("opsconsole.itsm.changes", "opsconsole.itsm"):
            raise
        pytest.skip("opsconsole.itsm.changes (the change workflow) does not exist yet")
    ids = build_estate(store)
    send(store, [ev(ci="web-02")])
    assert one_alert(store).state == AlertState.OPEN
    now = clock.now()
    with store.write("carol") as session:
        change = changes.create_change(
            session, "carol", change_type="normal", short_description="reboot",
            ci_ids=[ids["web-02"]], planned_start=now - timedelta(minutes=1),
            planned_end=now + timedelta(hours=1),
        )  # fmt: skip
        change.state = changes.ChangeState.IMPLEMENT.value
    with store.write("timer") as session:
        assert run_timers(session, SETTINGS).maintenance_changed == 1
    alert = one_alert(store)
    assert alert.state == AlertState.SUPPRESSED and alert.suppression == Suppression.MAINTENANCE


def test_maintenance_is_asked_once_per_batch_where_itsm_answers_for_many_cis(
    store: Store, manual_clock: clock.ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        from opsconsole.itsm import changes
    except ImportError as exc:
        if getattr(exc, "name", None) not in ("opsconsole.itsm.changes", "opsconsole.itsm"):
            raise
        pytest.skip("opsconsole.itsm.changes (the change workflow) does not exist yet")
    asked: list[list[int]] = []
    one_by_one: list[int] = []
    single = changes.maintenance_change
    batched = changes.maintenance_changes

    def many(session: Session, ci_ids: Sequence[int], at: datetime) -> dict[int, Any]:
        asked.append(list(ci_ids))
        found = batched(session, ci_ids, at)
        for ci_id in ci_ids:  # the same answers as asking each CI
            assert found.get(ci_id) is single(session, ci_id, at)
        return found

    def counted(session: Session, ci_id: int, at: datetime) -> object | None:
        one_by_one.append(ci_id)
        return single(session, ci_id, at)

    monkeypatch.setattr(changes, "maintenance_changes", many)
    ids = build_estate(store)
    now = clock.now()
    with store.write("carol") as session:
        early, late = (
            changes.create_change(
                session, "carol", change_type="normal", short_description=text,
                ci_ids=[ids["db-01"], ids["web-02"]], planned_start=now - timedelta(minutes=m),
                planned_end=now + timedelta(hours=1),
            )
            for text, m in (("replace disks", 10), ("patch", 5))
        )  # fmt: skip
        for change in (early, late):
            change.state = changes.ChangeState.IMPLEMENT.value
        number = early.number
    monkeypatch.setattr(changes, "maintenance_change", counted)
    send(store, [ev(ci="db-01"), ev(ci="web-01"), ev(ci="web-02"), ev(ci="lonely-01")])
    assert asked == [sorted(ids[n] for n in ("db-01", "web-01", "web-02", "lonely-01"))]
    assert one_by_one == []
    found = by_ci(store)
    assert found["db-01"].suppressed_reason == f"maintenance {number}"  # the earliest start
    assert found["web-02"].suppressed_reason == f"maintenance {number}"
    assert found["web-01"].state == found["lonely-01"].state == AlertState.OPEN
    manual_clock.advance(timedelta(hours=1, minutes=1))  # both windows are over
    asked.clear()
    with store.write("timer") as session:
        assert run_timers(session, SETTINGS).maintenance_changed == 2
    assert len(asked) == 2 and one_by_one == []  # which alerts changed; then their verdicts
    assert by_ci(store)["db-01"].state == AlertState.OPEN


def test_without_the_change_workflow_there_is_no_maintenance(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opsconsole.events import suppress

    monkeypatch.setattr(suppress, "MAINTENANCE_MODULE", "opsconsole.itsm.not_there_yet")
    assert suppress.maintenance_lookup() is None
    build_estate(store)
    send(store, [ev(ci="db-01")])
    assert one_alert(store).state == AlertState.OPEN


# --- topology ------------------------------------------------------------------------------------


def test_unreachable_behind_a_down_parent_is_suppressed_and_grouped(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    send(store, [
        ev(ci="core-sw-01", check="host.reachability", severity=Severity.CRITICAL),
        ev(ci="web-01", check="host.unreachable", severity=Severity.WARNING,
           payload={"unreachable_via": "core-sw-01"}),
    ])  # fmt: skip
    parent, child = alerts(store)
    assert parent.state == AlertState.OPEN and parent.parent_id is None
    assert child.state == AlertState.SUPPRESSED and child.suppression == Suppression.TOPOLOGY
    assert child.suppressed_reason == "unreachable via core-sw-01"
    assert child.parent_id == parent.id and child.group_reason == "unreachable via core-sw-01"
    manual_clock.advance(timedelta(minutes=3))
    send(store, [
        ev(ci="core-sw-01", check="host.reachability", clear=True),
        ev(ci="web-01", check="host.unreachable", clear=True),
    ])  # fmt: skip
    assert [a.state for a in alerts(store)] == [AlertState.RESOLVED, AlertState.RESOLVED]


def test_a_child_arriving_after_its_parent_joins_it(store: Store) -> None:
    build_estate(store)
    send(store, [ev(ci="core-sw-01", check="host.reachability", severity=Severity.CRITICAL)])
    send(store, [ev(ci="web-01", check="host.unreachable", severity=Severity.WARNING,
                    payload={"unreachable_via": "core-sw-01"})])  # fmt: skip
    parent, child = alerts(store)
    assert child.parent_id == parent.id and child.state == AlertState.SUPPRESSED


# --- flapping ------------------------------------------------------------------------------------


def test_flap_value_weights_newer_changes_more() -> None:
    assert flap_value("") == 0
    assert flap_value("1" * 20) == pytest.approx(99.0)  # (0.8 + ... + 1.18) / 20
    assert flap_value("1" + "0" * 19) < flap_value("0" * 19 + "1")
    assert flap_value("0" * 19 + "1") == pytest.approx(5.9)


def test_flapping_enters_above_high_and_leaves_below_low() -> None:
    changes, state, flapping = "", None, False
    seen = []
    for i in range(12):  # problem, clear, problem, ...: every result a change
        result = record_result(changes, state, 4 if i % 2 == 0 else 0, flapping, 30, 25)
        changes, state, flapping = result.changes, result.state, result.flapping
        seen.append((round(result.value, 1), flapping))
    first = next(i for i, (_, f) in enumerate(seen) if f)
    assert seen[first][0] > 30 and all(v <= 30 for v, _ in seen[:first])
    steady = 0
    while flapping:  # the same state over and over: the share decays
        result = record_result(changes, state, 4, True, 30, 25)
        changes, state, flapping = result.changes, result.state, result.flapping
        steady += 1
        assert steady < 40
    assert result.value < 25


def test_a_flapping_alert_is_one_suppressed_alert_that_settles(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    settings = EventSettings(timer_interval=0, reopen_window=3600, flap_quiet_reset=1800)
    for i in range(10):
        manual_clock.advance(timedelta(minutes=1))
        send(store, [ev(check="if.status", clear=i % 2 == 1)], settings)
    alert = one_alert(store)
    assert alert.flapping and alert.state == AlertState.SUPPRESSED
    assert alert.suppression == Suppression.FLAPPING and alert.suppressed_reason == "flapping"
    assert "flapping" in actions_of(store, alert.id)
    assert alert.problem is False  # the last result cleared: recovery is tracked
    manual_clock.advance(timedelta(minutes=31))
    with store.write("timer") as session:
        assert run_timers(session, settings).flapping_ended == 1
    alert = one_alert(store)
    assert not alert.flapping and alert.state == AlertState.RESOLVED
