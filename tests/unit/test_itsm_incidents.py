"""Incidents on SQLite and PostgreSQL: numbers, transitions, journal, SLA columns, versions,
raising from alerts, lists with quick views and keyset paging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from opsconsole import clock
from opsconsole.itsm import incidents as inc
from opsconsole.itsm.incidents import IncidentState as S
from opsconsole.itsm.journal import (
    ItsmError,
    RecordRef,
    TransitionRefused,
    entries,
    write_or_record_refusal,
)
from opsconsole.itsm.query import ListQuery, QueryError
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.itsm.sla import Level, Stage
from opsconsole.store import Store, VersionConflict
from opsconsole.store.changelog import history_of
from opsconsole.store.itsm_models import Incident, JournalEntry
from tests.itsm_support import T0, add_alert, ci_id, frozen, load_estate

SETTINGS = ItsmSettings(groups={"web-team": ["ana"], "noc": ["ana", "bob"]})


@pytest.fixture
def manual() -> Iterator[clock.ManualClock]:
    with frozen() as manual:
        yield manual


@pytest.fixture
def estate(store: Store, manual: clock.ManualClock) -> Store:
    load_estate(store)
    return store


def create(store: Store, actor: str = "ana", **fields: object) -> str:
    with store.write(actor) as s:
        values: dict[str, object] = {"short_description": "web-01 answers 502", **fields}
        return inc.create_incident(s, actor, settings=SETTINGS, **values).number  # type: ignore[arg-type]


def move(store: Store, number: str, to: S, actor: str = "ana", **extra: str) -> Incident:
    with store.write(actor) as s:
        return inc.transition_incident(s, actor, number, None, to, settings=SETTINGS, **extra)


HOLD = {"on_hold_reason": "awaiting vendor"}
RESOLVE = {"resolution_code": "solved (permanently)", "resolution_notes": "restarted nginx"}
# How to reach each state from New, and what each move needs.
PATHS = {
    S.NEW: [],
    S.IN_PROGRESS: [S.IN_PROGRESS],
    S.ON_HOLD: [S.IN_PROGRESS, S.ON_HOLD],
    S.RESOLVED: [S.IN_PROGRESS, S.RESOLVED],
    S.CLOSED: [S.IN_PROGRESS, S.RESOLVED, S.CLOSED],
    S.CANCELED: [S.CANCELED],
}
NEEDS = {S.ON_HOLD: HOLD, S.RESOLVED: RESOLVE}
ALLOWED = {
    (S.NEW, S.IN_PROGRESS),
    (S.NEW, S.CANCELED),
    (S.IN_PROGRESS, S.ON_HOLD),
    (S.IN_PROGRESS, S.RESOLVED),
    (S.IN_PROGRESS, S.CANCELED),
    (S.ON_HOLD, S.IN_PROGRESS),
    (S.ON_HOLD, S.CANCELED),
    (S.RESOLVED, S.CLOSED),
    (S.RESOLVED, S.IN_PROGRESS),
}


def reach(store: Store, state: S) -> str:
    number = create(store)
    for step in PATHS[state]:
        move(store, number, step, **NEEDS.get(step, {}))
    return number


def test_numbers_are_sequential_and_formatted(estate: Store) -> None:
    assert [create(estate) for _ in range(3)] == ["INC0001001", "INC0001002", "INC0001003"]


def test_a_rolled_back_create_gives_its_number_back(estate: Store) -> None:
    with pytest.raises(RuntimeError), estate.write("ana") as s:
        inc.create_incident(s, "ana", short_description="oops")
        raise RuntimeError("form closed")
    assert create(estate) == "INC0001001"


def test_create_computes_priority_and_journals_every_field(estate: Store) -> None:
    with estate.read() as s:
        web, shop = ci_id(s, "web-01"), ci_id(s, "online-shop")
    number = create(estate, ci_id=web, service_id=shop, impact=1, urgency=2, assignee="ana")
    with estate.read() as s:
        incident = inc.get_incident(s, number)
        assert (incident.priority, incident.state, incident.version) == (2, "new", 1)
        journal = {e.field: e for e in inc.history(s, incident) if e.kind == "field"}
        assert journal["priority"].new_value == "2"
        assert journal["state"].new_value == "new"
        assert journal["ci_id"].new_value == str(web)
        assert {e.actor for e in journal.values()} == {"ana"}
        assert {e.at for e in journal.values()} == {T0}
        # and the store's change log saw the insert
        assert [c.action for c in history_of(s, "incident", incident.id)] == ["insert"]


def test_service_must_be_a_service_and_category_known(estate: Store) -> None:
    with estate.read() as s:
        web = ci_id(s, "web-01")
    with pytest.raises(ItsmError, match="not a business service"):
        create(estate, service_id=web)
    with pytest.raises(ItsmError, match="unknown category"):
        create(estate, category="plumbing")
    with pytest.raises(ItsmError, match="short description"):
        create(estate, short_description="  ")


@pytest.mark.parametrize("start", list(S))
def test_every_transition_is_allowed_or_refused_as_designed(estate: Store, start: S) -> None:
    number = reach(estate, start)
    with estate.read() as s:
        offered = set(inc.allowed_transitions(inc.get_incident(s, number)))
    assert offered == {to for (frm, to) in ALLOWED if frm is start}
    for target in S:
        if target is start:
            continue
        try:
            with estate.write("ana") as s:
                inc.transition_incident(
                    s, "ana", number, None, target, settings=SETTINGS, **NEEDS.get(target, {})
                )
                raise _Undo
        except _Undo:
            assert (start, target) in ALLOWED, f"{start} -> {target} was accepted"
        except TransitionRefused as refused:
            assert (start, target) not in ALLOWED, f"{start} -> {target}: {refused}"


class _Undo(Exception):
    """Roll back an accepted move so the next one starts from the same state."""


def test_on_hold_needs_a_known_reason(estate: Store) -> None:
    number = reach(estate, S.IN_PROGRESS)
    with pytest.raises(TransitionRefused, match="needs a reason"):
        move(estate, number, S.ON_HOLD)
    with pytest.raises(TransitionRefused, match="unknown on-hold reason"):
        move(estate, number, S.ON_HOLD, on_hold_reason="lunch")
    held = move(estate, number, S.ON_HOLD, on_hold_reason="awaiting caller")
    assert held.on_hold_reason == "awaiting caller"
    back = move(estate, number, S.IN_PROGRESS)
    assert back.on_hold_reason is None


def test_resolved_needs_code_and_notes_and_can_reopen(
    estate: Store, manual: clock.ManualClock
) -> None:
    number = reach(estate, S.IN_PROGRESS)
    with pytest.raises(TransitionRefused, match="resolution code and resolution notes"):
        move(estate, number, S.RESOLVED, resolution_code="duplicate")
    with pytest.raises(TransitionRefused, match="unknown resolution code"):
        move(estate, number, S.RESOLVED, resolution_code="magic", resolution_notes="poof")
    manual.advance(timedelta(hours=1))
    resolved = move(estate, number, S.RESOLVED, **RESOLVE)
    assert resolved.resolved_at == T0 + timedelta(hours=1)
    reopened = move(estate, number, S.IN_PROGRESS, actor="bob")
    assert (reopened.resolution_code, reopened.resolved_at) == (None, None)
    with estate.read() as s:
        journal = inc.history(s, inc.get_incident(s, number))
        codes = [
            (e.actor, e.old_value, e.new_value) for e in journal if e.field == "resolution_code"
        ]
    assert codes == [("ana", None, "solved (permanently)"), ("bob", "solved (permanently)", None)]


def test_resolve_from_new_goes_through_in_progress(estate: Store) -> None:
    number = create(estate)
    with estate.write("ana") as s:
        incident = inc.resolve_incident(s, "ana", number, 1, code="duplicate", notes="see INC1")
        assert incident.state == "resolved"
        states = [e.new_value for e in inc.history(s, incident) if e.field == "state"]
    assert states == ["new", "in_progress", "resolved"]


def test_update_recomputes_priority_and_refuses_what_is_not_editable(estate: Store) -> None:
    number = create(estate, impact=3, urgency=3)
    with estate.write("bob") as s:
        incident = inc.update_incident(s, "bob", number, 1, impact=1, urgency=1, settings=SETTINGS)
        assert (incident.priority, incident.version) == (1, 2)
        assert incident.resolution_due_at == T0 + timedelta(hours=4)
    with pytest.raises(ItsmError, match="not editable: priority"), estate.write("bob") as s:
        inc.update_incident(s, "bob", number, 2, priority=5)
    closed = reach(estate, S.CLOSED)
    with pytest.raises(ItsmError, match="can no longer be edited"), estate.write("bob") as s:
        inc.update_incident(s, "bob", closed, None, caller="x")


def test_a_save_from_an_older_version_is_refused_and_journaled(estate: Store) -> None:
    number = create(estate)
    with estate.read() as s:
        opened_at = inc.get_incident(s, number).version
        ref = RecordRef("incident", inc.get_incident(s, number).id)
    with estate.write("bob") as s:
        inc.update_incident(s, "bob", number, opened_at, assignee="bob")
    with pytest.raises(VersionConflict, match="changed by someone else") as caught:
        write_or_record_refusal(
            estate,
            "ana",
            ref,
            {"assignee": "ana"},
            lambda s: inc.update_incident(s, "ana", number, opened_at, assignee="ana"),
        )
    assert (caught.value.expected, caught.value.actual) == (1, 2)
    with estate.read() as s:
        incident = inc.get_incident(s, number)
        assert (incident.assignee, incident.version) == ("bob", 2)
        journal = inc.history(s, incident)
    refused = [e for e in journal if e.kind == "refused"]
    assert len(refused) == 1
    assert refused[0].actor == "ana"
    assert "attempted assignee=ana" in refused[0].text
    assert [e.actor for e in journal if e.field == "assignee"] == ["bob"]


def test_notes_need_no_version_and_keep_their_kind(estate: Store) -> None:
    number = create(estate)
    with estate.write("ana") as s:
        inc.add_note(s, "ana", number, "checked nginx logs", internal=True)
        inc.add_note(s, "ana", number, "we are on it", internal=False)
        with pytest.raises(ItsmError, match="empty"):
            inc.add_note(s, "ana", number, "   ")
    with estate.read() as s:
        incident = inc.get_incident(s, number)
        notes = [
            (e.kind, e.text) for e in inc.history(s, incident) if e.text and e.kind != "system"
        ]
        assert notes == [("work_note", "checked nginx logs"), ("comment", "we are on it")]
        assert incident.version == 1


def test_sla_columns_follow_holds_and_breaches(estate: Store, manual: clock.ManualClock) -> None:
    number = create(estate, impact=1, urgency=1)  # P1: 15 min / 4 h
    with estate.read() as s:
        incident = inc.get_incident(s, number)
        assert incident.response_due_at == T0 + timedelta(minutes=15)
        assert incident.resolution_warn_at == T0 + timedelta(hours=3)
    manual.advance(timedelta(minutes=20))
    held = None
    move(estate, number, S.IN_PROGRESS)
    manual.advance(timedelta(minutes=40))
    held = move(estate, number, S.ON_HOLD, **HOLD)
    assert held.response_breached_at == T0 + timedelta(minutes=15)
    assert held.response_due_at is None  # the response clock stopped
    assert held.resolution_due_at is None  # paused
    manual.advance(timedelta(hours=5))
    resumed = move(estate, number, S.IN_PROGRESS)
    assert resumed.resolution_due_at == T0 + timedelta(hours=9)  # 4 h + 5 h on hold
    with estate.read() as s:
        sla = inc.incident_sla(s, inc.get_incident(s, number), SETTINGS)
    assert sla.resolution.elapsed == timedelta(hours=1)
    assert sla.response.level is Level.BREACHED
    assert sla.resolution.stage is Stage.RUNNING


def test_record_breaches_stores_breach_times_without_touching_versions(
    estate: Store, manual: clock.ManualClock
) -> None:
    number = create(estate, impact=1, urgency=1)
    manual.advance(timedelta(hours=5))
    with estate.write("poller") as s:
        assert inc.record_breaches(s, SETTINGS) == 1
        assert inc.record_breaches(s, SETTINGS) == 0
    with estate.read() as s:
        incident = inc.get_incident(s, number)
        assert incident.response_breached_at == T0 + timedelta(minutes=15)
        assert incident.resolution_breached_at == T0 + timedelta(hours=4)
        assert incident.version == 1
        assert inc.sla_badge(incident, SETTINGS).level is Level.BREACHED


def test_auto_close_after_the_resolution_period(estate: Store, manual: clock.ManualClock) -> None:
    number = reach(estate, S.RESOLVED)
    with estate.write("system") as s:
        assert inc.auto_close(s, "system", SETTINGS) == []
    manual.advance(timedelta(days=3, seconds=1))
    with estate.write("system") as s:
        assert inc.auto_close(s, "system", SETTINGS) == [number]
        assert inc.get_incident(s, number).state == "closed"


# --- from alerts -----------------------------------------------------------------------------


def test_raise_from_an_alert_prefills_impact_priority_and_links_it(estate: Store) -> None:
    with estate.write("ana") as s:
        alert = add_alert(s, "web-01", check="host.reachability", severity="critical")
        draft = inc.draft_from_alert(s, alert.id, SETTINGS)
        assert draft.services == ["online-shop"]
        assert (draft.impact, draft.urgency, draft.priority_label) == (1, 1, "P1")
        incident = inc.create_incident_from_alert(
            s, "ana", alert.id, assign_to="ana", settings=SETTINGS
        )
        assert incident.priority == 1
        assert incident.assignee == "ana"
        assert incident.assignment_group == "web-team"
        assert incident.service is not None and incident.service.name == "online-shop"
        assert incident.category == "hardware"
        assert inc.linked_alert_ids(s, incident) == [alert.id]
        assert [i.number for i in inc.incidents_for_alert(s, alert.id)] == [incident.number]


def test_alert_on_a_low_service_ci_gets_low_impact(estate: Store) -> None:
    with estate.write("ana") as s:
        wiki_db = add_alert(s, "wiki-db", check="fs.percent", severity="major", resource="/var")
        draft = inc.draft_from_alert(s, wiki_db.id, SETTINGS)
        assert (draft.impact, draft.urgency, draft.priority) == (3, 2, 4)
        assert draft.category == "storage"
        orphan = add_alert(s, None, check="snmp.trap:1.2.3", severity="warning")
        assert inc.draft_from_alert(s, orphan.id, SETTINGS).priority == 5
        with pytest.raises(ItsmError, match="no alert"):
            inc.draft_from_alert(s, 999_999, SETTINGS)


def test_resolving_resolves_linked_alerts_through_the_events_domain(
    estate: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, list[int], str]] = []

    def fake(session: object, actor: str, ids: list[int], reason: str) -> list[int]:
        calls.append((actor, ids, reason))
        return ids

    monkeypatch.setattr("opsconsole.itsm.alerts._events_action", lambda name: fake)
    with estate.write("ana") as s:
        alert = add_alert(s, "web-01")
        number = inc.create_incident_from_alert(s, "ana", alert.id, settings=SETTINGS).number
    with estate.write("ana") as s:
        inc.resolve_incident(s, "ana", number, None, code="duplicate", notes="x", settings=SETTINGS)
    assert calls == [("ana", [alert.id], f"resolved with {number}")]
    quiet = SETTINGS.model_copy(update={"resolve_linked_alerts": False})
    with estate.write("ana") as s:
        other = inc.create_incident_from_alert(s, "ana", add_alert(s, "web-02").id).number
        inc.resolve_incident(s, "ana", other, None, code="duplicate", notes="x", settings=quiet)
    assert len(calls) == 1


def incident_count(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(Incident)) or 0


def test_an_alert_with_an_open_incident_gets_no_second_one(estate: Store) -> None:
    with estate.write("rules") as s:
        alert_id = add_alert(s, "web-01").id
        first = inc.create_incident_from_alert(s, "rules", alert_id, settings=SETTINGS)
        number, incident_id = first.number, first.id
    journal_before = _journal_size(estate)
    with estate.write("ana") as s, pytest.raises(inc.DuplicateIncident) as refused:
        inc.create_incident_from_alert(s, "ana", alert_id, assign_to="ana", settings=SETTINGS)
    assert isinstance(refused.value, ItsmError)  # shown like every domain refusal
    assert (refused.value.alert_id, refused.value.number, refused.value.incident_id) == (
        alert_id,
        number,
        incident_id,
    )
    assert str(refused.value) == f"alert {alert_id} already has an open incident: {number}"
    assert incident_count(estate) == 1
    assert _journal_size(estate) == journal_before  # nothing written
    with estate.read() as s:
        assert inc.open_incident_for_alert(s, alert_id) is not None
        assert [i.number for i in inc.incidents_for_alert(s, alert_id)] == [number]


@pytest.mark.parametrize("state", [S.IN_PROGRESS, S.ON_HOLD])
def test_every_open_state_counts(estate: Store, state: S) -> None:
    with estate.write("ana") as s:
        alert_id = add_alert(s, "web-01").id
        number = inc.create_incident_from_alert(s, "ana", alert_id, settings=SETTINGS).number
    for step in PATHS[state]:
        move(estate, number, step, **NEEDS.get(step, {}))
    with estate.write("ana") as s, pytest.raises(inc.DuplicateIncident, match=number):
        inc.create_incident_from_alert(s, "ana", alert_id, settings=SETTINGS)


def test_an_alert_linked_to_an_open_incident_counts_too(estate: Store) -> None:
    with estate.write("ana") as s:
        alert_id = add_alert(s, "web-01").id
    number = create(estate, "bob")  # raised by hand, the alert linked afterwards
    with estate.write("bob") as s:
        inc.link_alert(s, "bob", inc.get_incident(s, number), alert_id)
    with estate.write("ana") as s, pytest.raises(inc.DuplicateIncident) as refused:
        inc.create_incident_from_alert(s, "ana", alert_id, settings=SETTINGS)
    assert refused.value.number == number


@pytest.mark.parametrize("end", [S.RESOLVED, S.CLOSED, S.CANCELED])
def test_once_the_incident_is_over_a_new_one_can_be_raised(estate: Store, end: S) -> None:
    with estate.write("ana") as s:
        alert_id = add_alert(s, "web-01").id
        old = inc.create_incident_from_alert(s, "ana", alert_id, settings=SETTINGS).number
    for step in PATHS[end]:
        move(estate, old, step, **NEEDS.get(step, {}))
    with estate.write("ana") as s:
        assert inc.open_incident_for_alert(s, alert_id) is None
        new = inc.create_incident_from_alert(s, "ana", alert_id, settings=SETTINGS).number
        assert [i.number for i in inc.incidents_for_alert(s, alert_id)] == [old, new]


def test_many_links_in_one_write_as_one_by_one(estate: Store) -> None:
    first, second = create(estate, "ana"), create(estate, "ana", short_description="db slow")
    with estate.write("rules") as s:
        a, b, c = (add_alert(s, name).id for name in ("web-01", "web-02", "db-01"))
        one, two = inc.get_incident(s, first), inc.get_incident(s, second)
        assert inc.link_alert(s, "rules", one, a)
        links = [
            inc.AlertLink(one, a),  # linked already: skipped
            inc.AlertLink(two, c),
            inc.AlertLink(one, b, T0 - timedelta(minutes=1)),  # when it was decided
            inc.AlertLink(two, c),  # twice in the list: once
        ]
        assert inc.link_alerts(s, "rules", links) == 2
        assert inc.link_alerts(s, "rules", links) == 0  # idempotent
        assert (inc.linked_alert_ids(s, one), inc.linked_alert_ids(s, two)) == ([a, b], [c])
        texts = [
            (e.record_id, e.text, e.actor, e.at)
            for e in s.scalars(select(JournalEntry).order_by(JournalEntry.id))
            if e.field == "alerts"
        ]
        assert texts == [
            (one.id, f"alert {a} linked", "rules", T0),
            (two.id, f"alert {c} linked", "rules", T0),
            (one.id, f"alert {b} linked", "rules", T0 - timedelta(minutes=1)),
        ]
        with pytest.raises(ItsmError, match="no alert with id 999999"):
            inc.link_alerts(s, "rules", [inc.AlertLink(one, 999_999)])


def _journal_size(store: Store) -> int:
    with store.read() as s:
        return s.scalar(select(func.count()).select_from(JournalEntry)) or 0


# --- lists -----------------------------------------------------------------------------------


def test_quick_views(estate: Store, manual: clock.ManualClock) -> None:
    mine = create(estate, assignee="ana", assignment_group="web-team", impact=1, urgency=1)
    bobs = create(estate, assignee="bob", assignment_group="noc", impact=3, urgency=3)
    nobody = create(estate, assignment_group="dba-team", impact=2, urgency=2)
    done = reach(estate, S.CLOSED)

    def numbers(view: str, **extra: object) -> list[str]:
        query = ListQuery(view=view, me="ana", my_groups=tuple(SETTINGS.groups_of("ana")), **extra)  # type: ignore[arg-type]
        with estate.read() as s:
            return [i.number for i in inc.list_incidents(s, query).rows]

    assert numbers("open") == [mine, nobody, bobs]  # by priority
    assert numbers("mine") == [mine]
    assert numbers("my_group") == [mine, bobs]
    assert numbers("unassigned") == [nobody]
    assert done in numbers("all")
    assert numbers("open", priorities=(3,)) == [nobody]
    assert numbers("all", states=("closed",)) == [done]
    assert numbers("open", text="502") == [mine, nobody, bobs]
    assert numbers("open", text="INC0001002") == [bobs]
    assert numbers("breaching") == []
    manual.advance(timedelta(minutes=12))  # P1 response warns at 11m15s
    assert numbers("breaching") == [mine]
    with pytest.raises(QueryError):
        ListQuery(view="mine")
    with pytest.raises(QueryError):
        ListQuery(view="hot")


def test_keyset_paging_walks_every_row_once(estate: Store) -> None:
    made = [create(estate, impact=1 + i % 3, urgency=1 + i % 2) for i in range(23)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        with estate.read() as s:
            page = inc.list_incidents(s, ListQuery(view="all"), after=cursor, limit=5)
        seen += [i.number for i in page.rows]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == 5
    assert sorted(seen) == sorted(made)
    with estate.read() as s:
        everything = inc.list_incidents(s, ListQuery(view="all"), limit=100).rows
        assert [i.number for i in everything] == seen
        updated = inc.list_incidents(s, ListQuery(view="all", sort="updated"), limit=7)
        rest = inc.list_incidents(
            s, ListQuery(view="all", sort="updated"), after=updated.next_cursor, limit=100
        )
        assert len(updated.rows) + len(rest.rows) == 23
        with pytest.raises(QueryError, match="cursor"):
            inc.list_incidents(s, ListQuery(view="all"), after="garbage!")
        assert s.scalar(select(func.count()).select_from(Incident)) == 23


def test_journal_entries_of_other_records_are_separate(estate: Store) -> None:
    a, b = create(estate), create(estate)
    with estate.write("ana") as s:
        inc.add_note(s, "ana", a, "only on a")
        ids = {n: inc.get_incident(s, n).id for n in (a, b)}
        assert all(e.text != "only on a" for e in entries(s, "incident", ids[b]))
