"""Fingerprinting, deduplication, auto-resolve and the reopen window, through the whole
pipeline on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from opsconsole import clock
from opsconsole.events import actions
from opsconsole.events.fingerprint import fingerprint
from opsconsole.events.pipeline import Event, submit
from opsconsole.events.settings import EventSettings
from opsconsole.store import Store
from opsconsole.store.alert_models import AlertState
from opsconsole.store.models import ChangeLog, EventRecord, Severity
from tests.unit.test_events_support import (
    SETTINGS,
    actions_of,
    alerts,
    build_estate,
    ev,
    manual_clock,
    one_alert,
    send,
)

__all__ = ["manual_clock"]


def test_fingerprint_is_source_ci_check_resource() -> None:
    base = fingerprint("monitoring", 7, "web-01", "fs.percent", "/", None)
    assert base == fingerprint("monitoring", 7, "renamed", "fs.percent", "/", None)  # by id
    assert base != fingerprint("monitoring", 7, "web-01", "fs.percent", "/var", None)
    assert base != fingerprint("monitoring", 8, "web-01", "fs.percent", "/", None)
    assert base != fingerprint("cli", 7, "web-01", "fs.percent", "/", None)
    assert base != fingerprint("monitoring", 7, "web-01", "cpu.percent", "/", None)
    # Unknown to the CMDB: the name counts, whatever its case.
    assert fingerprint("cli", None, "Host-X", "c", "", None) == fingerprint(
        "cli", None, "host-x", "c", "", None
    )


def test_a_source_key_replaces_ci_check_and_resource() -> None:
    keyed = fingerprint("alertmanager", 1, "a", "check-a", "r1", "abc")
    assert keyed == fingerprint("alertmanager", 2, "b", "check-b", "r2", "abc")
    assert keyed != fingerprint("alertmanager", 1, "a", "check-a", "r1", "abd")
    assert keyed != fingerprint("cli", 1, "a", "check-a", "r1", "abc")


def test_repeats_bump_count_and_last_seen_and_keep_first_seen(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    first = clock.now()
    send(store, [ev(message="cpu 91")])
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(message="cpu 92")])
    manual_clock.advance(timedelta(minutes=1))
    outcome = send(store, [ev(message="cpu 93")])
    assert outcome.accepted == 1 and not outcome.created and outcome.updated == 1
    alert = one_alert(store)
    assert alert.count == 3
    assert alert.first_seen == first
    assert alert.last_seen == first + timedelta(minutes=2)
    assert alert.message == "cpu 93"
    assert alert.state == AlertState.OPEN
    assert alert.services == "shop"
    assert alert.ci_name == "web-01" and alert.ci_id is not None


def test_same_check_on_another_resource_is_another_alert(store: Store) -> None:
    build_estate(store)
    send(store, [ev(check="fs.percent", resource="/"), ev(check="fs.percent", resource="/var")])
    assert [a.resource for a in alerts(store)] == ["/", "/var"]


def test_events_of_a_batch_dedup_among_themselves(store: Store) -> None:
    build_estate(store)
    outcome = send(store, [ev(message=f"n{i}") for i in range(50)])
    assert len(outcome.created) == 1
    alert = one_alert(store)
    assert alert.count == 50


def test_raw_events_are_kept_and_one_change_log_row_per_batch(store: Store) -> None:
    build_estate(store)
    with store.read() as session:
        before = session.scalar(select(func.count()).select_from(ChangeLog))
    send(store, [ev(ci=f"host-{i}") for i in range(20)])
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(EventRecord)) == 20
        logged = session.scalars(select(ChangeLog).where(ChangeLog.id > (before or 0))).all()
    assert [(row.entity, row.action) for row in logged] == [("alert", "pipeline")]
    assert len(logged[0].changes["created"]) == 20


def test_severity_follows_the_newest_event_and_a_rise_clears_a_normal_ack(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    send(store, [ev(severity=Severity.WARNING)])
    alert = one_alert(store)
    with store.write("ana") as session:
        actions.acknowledge(session, "ana", [alert.id], note="looking")
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(severity=Severity.WARNING)])
    assert one_alert(store).state == AlertState.ACKNOWLEDGED  # same severity: ack stays
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(severity=Severity.CRITICAL)])
    alert = one_alert(store)
    assert alert.severity == "critical"
    assert alert.state == AlertState.OPEN and alert.acked_by is None
    assert actions_of(store, alert.id)[-2:] == ["severity", "unacknowledged"]


def test_a_sticky_ack_survives_a_rise_but_not_recovery(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    send(store, [ev(severity=Severity.WARNING)])
    alert_id = one_alert(store).id
    with store.write("ana") as session:
        actions.acknowledge(session, "ana", [alert_id], sticky=True, ticket="INC0001")
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(severity=Severity.CRITICAL)])
    alert = one_alert(store)
    assert alert.state == AlertState.ACKNOWLEDGED and alert.ack_ticket == "INC0001"
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(clear=True)])
    assert one_alert(store).state == AlertState.RESOLVED
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev(severity=Severity.CRITICAL)])
    alert = one_alert(store)
    assert alert.state == AlertState.OPEN and alert.acked_by is None  # a new episode


def test_a_clear_resolves_and_a_recurrence_within_the_window_reopens(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    settings = EventSettings(timer_interval=0, reopen_window=600)
    send(store, [ev()], settings)
    manual_clock.advance(timedelta(minutes=1))
    outcome = send(store, [ev(clear=True)], settings)
    alert = one_alert(store)
    assert outcome.resolved == [alert.id]
    assert alert.state == AlertState.RESOLVED and alert.resolved_at == clock.now()
    manual_clock.advance(timedelta(minutes=9))
    outcome = send(store, [ev()], settings)
    alert = one_alert(store)
    assert outcome.reopened == [alert.id]
    assert alert.state == AlertState.OPEN and alert.resolved_at is None
    assert alert.reopen_count == 1 and alert.count == 2
    assert actions_of(store, alert.id) == ["created", "resolved", "reopened"]


def test_a_recurrence_after_the_window_opens_a_new_alert(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    settings = EventSettings(timer_interval=0, reopen_window=600)
    send(store, [ev()], settings)
    send(store, [ev(clear=True)], settings)
    manual_clock.advance(timedelta(minutes=11))
    outcome = send(store, [ev()], settings)
    old, new = alerts(store)
    assert outcome.created == [new.id]
    assert old.state == AlertState.RESOLVED and old.dedup_key is None
    assert new.state == AlertState.OPEN and new.dedup_key == new.fingerprint == old.fingerprint
    manual_clock.advance(timedelta(minutes=1))
    send(store, [ev()], settings)  # lands on the new one
    assert [a.count for a in alerts(store)] == [1, 2]


def test_a_late_clear_does_not_resolve_a_newer_problem(
    store: Store, manual_clock: clock.ManualClock
) -> None:
    build_estate(store)
    early = clock.now()
    manual_clock.advance(timedelta(minutes=5))
    send(store, [ev()])
    send(store, [ev(clear=True, at=early)])
    assert one_alert(store).state == AlertState.OPEN


def test_a_clear_without_an_alert_creates_nothing(store: Store) -> None:
    build_estate(store)
    outcome = send(store, [ev(clear=True)])
    assert outcome.accepted == 1 and not outcome.created
    assert alerts(store) == []


def test_closed_alerts_give_up_their_fingerprint(store: Store) -> None:
    build_estate(store)
    send(store, [ev()])
    first = one_alert(store)
    with store.write("ana") as session:
        actions.close(session, "ana", [first.id], note="fixed by hand")
    send(store, [ev()])
    closed, fresh = alerts(store)
    assert closed.state == AlertState.CLOSED and closed.closed_by == "ana"
    assert fresh.state == AlertState.OPEN and fresh.count == 1


def test_events_on_unknown_cis_and_addresses(store: Store) -> None:
    ids = build_estate(store)
    send(store, [ev(ci="not-in-cmdb"), ev(ci="127.0.1.13", check="disk")])
    unknown, by_address = alerts(store)
    assert unknown.ci_id is None and unknown.ci_name == "not-in-cmdb" and unknown.services == ""
    assert by_address.ci_id == ids["db-01"] and by_address.ci_name == "db-01"
    assert by_address.services == "shop, payments"


def test_outside_text_is_kept_as_text(store: Store) -> None:
    build_estate(store)
    send(store, [ev(message="bad\x00byte \x1b[31mred[/] " + "x" * 5000)])
    alert = one_alert(store)
    assert alert.message.startswith("bad\\x00byte \x1b[31mred[/] ")
    assert len(alert.message) == EventSettings().max_message


def test_submit_keeps_its_signature_for_monitoring(store: Store) -> None:
    ids = build_estate(store)
    event = Event(
        source="monitoring", check="host.reachability", severity=Severity.CRITICAL,
        message="web-01 is DOWN", at=clock.now(), ci_id=ids["web-01"],
    )  # fmt: skip
    with store.write("poller") as session:
        assert submit(session, [event]) == 1
        assert submit(session, []) == 0
    assert one_alert(store).ci_name == "web-01"


def test_settings_defaults_are_sane() -> None:
    assert SETTINGS.flap_high == 30 and SETTINGS.flap_low == 25
    assert EventSettings().reopen_window == 3600
