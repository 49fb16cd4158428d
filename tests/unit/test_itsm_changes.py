"""Changes: flows by type, approvals, conflicts (same CI, CMDB neighbours, same service,
blackouts, assignee), scheduling with conflicts, the calendar and the maintenance lookup."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from opsconsole import clock
from opsconsole.itsm import changes as chg
from opsconsole.itsm.changes import ChangeState as C
from opsconsole.itsm.changes import ChangeType
from opsconsole.itsm.journal import ItsmError, TransitionRefused
from opsconsole.itsm.query import ListQuery
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.store import Store, VersionConflict
from opsconsole.store.itsm_models import Change
from tests.itsm_support import T0, ci_id, frozen, load_estate

DAY = timedelta(days=1)
H = timedelta(hours=1)
START = T0 + 2 * DAY  # Wednesday 09:00 UTC
SETTINGS = ItsmSettings.model_validate(
    {
        "groups": {"change-manager": ["carol"], "cab": ["dave", "erin"]},
        "changes": {
            "blackouts": [
                {
                    "name": "black-friday",
                    "start": "2026-11-27T00:00:00Z",
                    "end": "2026-11-28T00:00:00Z",
                    "reason": "peak sales",
                    "services": ["online-shop"],
                },
                {
                    "name": "staging-freeze",
                    "start": "2026-11-24T00:00:00Z",
                    "end": "2026-11-25T00:00:00Z",
                    "environments": ["staging"],
                },
            ]
        },
    }
)
PLANS = {"implementation_plan": "do it", "backout_plan": "undo it", "test_plan": "check it"}


@pytest.fixture
def manual() -> Iterator[clock.ManualClock]:
    with frozen() as manual:
        yield manual


@pytest.fixture
def estate(store: Store, manual: clock.ManualClock) -> Store:
    load_estate(store)
    return store


def new_change(
    store: Store,
    cis: list[str],
    start: datetime | None = START,
    hours: float = 2,
    *,
    kind: str = "normal",
    actor: str = "bob",
    **fields: object,
) -> str:
    with store.write(actor) as s:
        values: dict[str, object] = {"short_description": f"work on {', '.join(cis)}"}
        if kind != "standard":
            values.update(risk="low", **PLANS)
        values.update(fields)
        end = start + timedelta(hours=hours) if start is not None and kind != "standard" else None
        return chg.create_change(
            s,
            actor,
            change_type=kind,
            ci_ids=[ci_id(s, n) for n in cis],
            planned_start=start,
            planned_end=end,
            settings=SETTINGS,
            **values,  # type: ignore[arg-type]
        ).number


def go(store: Store, number: str, to: C, actor: str = "bob", **extra: str) -> Change:
    with store.write(actor) as s:
        return chg.transition_change(s, actor, number, None, to, settings=SETTINGS, **extra)


def decide(store: Store, number: str, actor: str, decision: str = "approved", **kw: str) -> Change:
    with store.write(actor) as s:
        return chg.decide(s, actor, number, decision, settings=SETTINGS, **kw)


def conflicts(store: Store, number: str) -> list[tuple[str, str]]:
    with store.read() as s:
        return [(c.kind, c.detail) for c in chg.stored_conflicts(s, chg.get_change(s, number))]


def state_of(store: Store, number: str) -> str:
    with store.read() as s:
        return chg.get_change(s, number).state


# --- flows -----------------------------------------------------------------------------------


def test_allowed_transitions_per_type(estate: Store) -> None:
    normal = new_change(estate, ["web-01"])
    standard = new_change(
        estate, ["web-02"], START + 5 * DAY, kind="standard", template="reboot-host"
    )
    emergency = new_change(estate, ["web-03"], START + 9 * DAY, kind="emergency")
    with estate.read() as s:

        def offered(n: str) -> list[C]:
            return chg.allowed_transitions(chg.get_change(s, n))

        assert offered(normal) == [C.ASSESS, C.CANCELED]
        assert offered(standard) == [C.SCHEDULED, C.CANCELED]  # skips assess and authorize
        assert offered(emergency) == [C.AUTHORIZE, C.CANCELED]  # straight to authorize


def test_normal_change_full_flow_with_approvals(estate: Store, manual: clock.ManualClock) -> None:
    number = new_change(estate, ["db-01"], risk="high")
    go(estate, number, C.ASSESS)
    change = go(estate, number, C.AUTHORIZE)
    with estate.read() as s:
        asked = [(a.approver, a.decision) for a in chg.approvals(s, change)]
    assert asked == [("change-manager", "requested"), ("cab", "requested")]
    with pytest.raises(TransitionRefused, match="not approved yet"):
        go(estate, number, C.SCHEDULED)
    with pytest.raises(ItsmError, match="no approval to give"):
        decide(estate, number, "mallory")
    assert decide(estate, number, "carol", comment="fine").state == "authorize"
    scheduled = decide(estate, number, "dave", comment="CAB ok")  # the last one schedules
    assert scheduled.state == "scheduled"
    manual.advance(2 * DAY)
    implementing = go(estate, number, C.IMPLEMENT)
    assert implementing.actual_start == manual.now()
    with pytest.raises(TransitionRefused, match="Implement cannot go to Closed"):
        go(estate, number, C.CLOSED)
    manual.advance(H)
    review = go(estate, number, C.REVIEW)
    assert review.actual_end == manual.now()
    with pytest.raises(TransitionRefused, match="Review cannot go to Canceled"):
        go(estate, number, C.CANCELED, cancel_reason="too late")
    with pytest.raises(TransitionRefused, match=r"close code is needed.*review notes"):
        go(estate, number, C.CLOSED)
    closed = go(estate, number, C.CLOSED, close_code="successful", review_notes="went fine")
    assert (closed.state, closed.close_code, closed.review_notes) == (
        "closed",
        "successful",
        "went fine",
    )
    with pytest.raises(TransitionRefused, match="none: it is final"):
        go(estate, number, C.CANCELED, cancel_reason="x")
    with estate.read() as s:
        journal = chg.history(s, chg.get_change(s, number))
        decisions = [
            (e.actor, e.new_value, e.text)
            for e in journal
            if e.field == "approval" and e.actor in ("carol", "dave")
        ]
    assert decisions == [
        ("carol", "change-manager: approved", "fine"),
        ("dave", "cab: approved", "CAB ok"),
    ]


def test_rejection_needs_a_comment_and_sends_the_change_back(estate: Store) -> None:
    number = new_change(estate, ["db-01"])
    go(estate, number, C.ASSESS)
    go(estate, number, C.AUTHORIZE)
    with pytest.raises(ItsmError, match="needs a comment"):
        decide(estate, number, "carol", "rejected")
    rejected = decide(estate, number, "carol", "rejected", comment="no backout tested")
    assert rejected.state == "new"
    go(estate, number, C.ASSESS)
    go(estate, number, C.AUTHORIZE)  # asks again: the old rejection is reset
    with estate.read() as s:
        assert [a.decision for a in chg.approvals(s, chg.get_change(s, number))] == ["requested"]


def test_named_approvers_and_deciding_for_another(estate: Store) -> None:
    number = new_change(estate, ["db-01"])
    with estate.write("bob") as s:
        chg.add_approver(s, "bob", number, "frank", SETTINGS)
    go(estate, number, C.ASSESS)
    go(estate, number, C.AUTHORIZE)
    with pytest.raises(ItsmError, match="may not decide for change-manager"):
        decide(estate, number, "frank", approver="change-manager")
    decide(estate, number, "frank")
    assert decide(estate, number, "carol").state == "scheduled"


def test_standard_change_from_template(estate: Store) -> None:
    number = new_change(estate, ["web-01"], kind="standard", template="reboot-host")
    with estate.read() as s:
        change = chg.get_change(s, number)
        assert change.planned_end == START + timedelta(minutes=30)
        assert change.risk == "low"
        assert "reboot" in change.implementation_plan
    with pytest.raises(ItsmError, match="keeps its template"), estate.write("bob") as s:
        chg.update_change(s, "bob", number, None, backout_plan="pray")
    assert go(estate, number, C.SCHEDULED).state == "scheduled"
    with pytest.raises(ItsmError, match="needs a template"), estate.write("bob") as s:
        chg.create_change(s, "bob", change_type=ChangeType.STANDARD, short_description="x")


def test_emergency_change_asks_emergency_approvers(estate: Store) -> None:
    number = new_change(estate, ["core-sw-01"], kind="emergency", risk="high")
    go(estate, number, C.AUTHORIZE)
    assert decide(estate, number, "carol").state == "scheduled"


def test_leaving_new_needs_a_window_and_cis(estate: Store) -> None:
    number = new_change(estate, [], start=None)
    with pytest.raises(TransitionRefused, match=r"planned start and end.*at least one CI"):
        go(estate, number, C.ASSESS)
    with pytest.raises(TransitionRefused, match="reason to cancel"):
        go(estate, number, C.CANCELED)
    assert go(estate, number, C.CANCELED, cancel_reason="duplicate").state == "canceled"


def test_authorize_needs_plans(estate: Store) -> None:
    number = new_change(estate, ["web-01"], implementation_plan="")
    go(estate, number, C.ASSESS)
    with pytest.raises(TransitionRefused, match="implementation plan is empty"):
        go(estate, number, C.AUTHORIZE)


def test_flow_of_each_type() -> None:
    assert chg.flow_path("normal") == [
        C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW, C.CLOSED,
    ]  # fmt: skip
    assert chg.flow_path(ChangeType.STANDARD) == [
        C.NEW,
        C.SCHEDULED,
        C.IMPLEMENT,
        C.REVIEW,
        C.CLOSED,
    ]
    assert chg.flow_path("emergency")[:3] == [C.NEW, C.AUTHORIZE, C.SCHEDULED]


def test_whose_approval_is_pending_and_why_not(estate: Store) -> None:
    number = new_change(estate, ["db-01"], risk="high")
    with estate.read() as s:
        change = chg.get_change(s, number)
        assert chg.required_approvers(change, SETTINGS) == ["change-manager", "cab"]
        with pytest.raises(ItsmError, match="is New, not Authorize"):
            chg.decidable(s, "carol", change, SETTINGS)
    go(estate, number, C.ASSESS)
    go(estate, number, C.AUTHORIZE)
    with estate.read() as s:
        change = chg.get_change(s, number)
        assert [a.approver for a in chg.decidable(s, "carol", change, SETTINGS)] == [
            "change-manager"
        ]
        assert [a.approver for a in chg.decidable(s, "erin", change, SETTINGS)] == ["cab"]
        with pytest.raises(ItsmError, match="mallory has no approval to give"):
            chg.decidable(s, "mallory", change, SETTINGS)
        with pytest.raises(ItsmError, match="carol may not decide for cab"):
            chg.decidable(s, "carol", change, SETTINGS, approver="cab")
        with pytest.raises(ItsmError, match="no pending approval by frank"):
            chg.decidable(s, "carol", change, SETTINGS, approver="frank")
    decide(estate, number, "carol")
    with estate.read() as s, pytest.raises(ItsmError, match="carol has no approval to give"):
        chg.decidable(s, "carol", chg.get_change(s, number), SETTINGS)


def test_approvers_are_asked_only_until_authorized(estate: Store) -> None:
    number = new_change(estate, ["web-01"], kind="standard", template="reboot-host")
    go(estate, number, C.SCHEDULED)
    with (
        pytest.raises(ItsmError, match="is scheduled: approvals are closed"),
        estate.write("bob") as s,
    ):
        chg.add_approver(s, "bob", number, "frank", SETTINGS)


def test_readiness_tells_what_each_target_needs(estate: Store) -> None:
    number = new_change(estate, ["web-01"], risk=None, implementation_plan="")
    with estate.read() as s:
        change = chg.get_change(s, number)
        assert chg.readiness(s, change, C.ASSESS, SETTINGS) == ["a risk is needed"]
        assert chg.readiness(s, change, C.CANCELED, SETTINGS) == ["a reason to cancel is needed"]
        why = chg.MoveDetails(cancel_reason="duplicate")
        assert chg.readiness(s, change, C.CANCELED, SETTINGS, why) == []
        assert chg.readiness(s, change, C.CLOSED, SETTINGS)[0].startswith("New cannot go to")
    with estate.write("bob") as s:
        chg.update_change(s, "bob", number, None, risk="low", settings=SETTINGS)
    go(estate, number, C.ASSESS)
    with estate.read() as s:
        change = chg.get_change(s, number)
        assert chg.readiness(s, change, C.AUTHORIZE, SETTINGS) == [
            "the implementation plan is empty"
        ]


# --- conflicts -------------------------------------------------------------------------------


def test_same_ci_overlap_is_a_conflict_on_both_sides(estate: Store) -> None:
    first = new_change(estate, ["web-01"])
    second = new_change(estate, ["web-01"], START + H, actor="carol")
    assert conflicts(estate, second) == [("same_ci", f"{first} also changes web-01")]
    assert conflicts(estate, first) == [("same_ci", f"{second} also changes web-01")]


def test_no_conflict_without_overlap_or_relation(estate: Store) -> None:
    first = new_change(estate, ["web-01"])
    assert new_change(estate, ["web-01"], START + 2 * H, actor="carol")  # back to back
    assert conflicts(estate, first) == []
    new_change(estate, ["stage-web-01"], START, actor="carol")  # unrelated CI
    assert conflicts(estate, first) == []


def test_parent_and_child_in_the_cmdb(estate: Store) -> None:
    switch = new_change(estate, ["access-sw-01"])
    host = new_change(estate, ["web-01"], START + H, actor="carol")
    assert conflicts(estate, host) == [
        ("related_ci", f"{switch} changes access-sw-01, related to web-01 in the CMDB")
    ]
    assert conflicts(estate, switch) == [
        ("related_ci", f"{host} changes web-01, related to access-sw-01 in the CMDB")
    ]


def test_cis_of_the_same_service(estate: Store) -> None:
    db = new_change(estate, ["db-01"])
    web = new_change(estate, ["web-02"], START + H, actor="carol")
    assert conflicts(estate, web) == [
        ("same_service", f"{db} changes db-01; with web-02 it serves online-shop")
    ]


def test_blackout_windows(estate: Store) -> None:
    friday = T0 + 4 * DAY
    shop = new_change(estate, ["shop-db"], friday + 10 * H)
    assert conflicts(estate, shop) == [
        ("blackout", "blackout black-friday (peak sales) covers shop-db")
    ]
    wiki = new_change(estate, ["wiki-db"], friday + 10 * H, actor="carol")
    assert conflicts(estate, wiki) == []  # the blackout names online-shop only
    staging = new_change(estate, ["stage-web-01"], T0 + DAY, actor="dave")
    assert [k for k, _ in conflicts(estate, staging)] == ["blackout"]


def test_an_assignee_booked_twice(estate: Store) -> None:
    first = new_change(estate, ["web-01"], assignee="erin")
    second = new_change(estate, ["stage-web-01"], START + H, actor="carol", assignee="erin")
    assert conflicts(estate, second) == [
        ("assignee", f"erin is also assigned {first} in an overlapping window")
    ]


def test_conflicts_are_rechecked_when_dates_or_cis_change(estate: Store) -> None:
    first = new_change(estate, ["web-01"])
    second = new_change(estate, ["web-01"], START + H, actor="carol")
    with estate.write("carol") as s:
        chg.update_change(
            s,
            "carol",
            second,
            1,
            planned_start=START + 3 * H,
            planned_end=START + 4 * H,
            settings=SETTINGS,
        )
    assert conflicts(estate, first) == conflicts(estate, second) == []
    with estate.write("carol") as s:
        chg.update_change(
            s, "carol", second, 2, planned_start=START, planned_end=START + H, settings=SETTINGS
        )
    assert [k for k, _ in conflicts(estate, first)] == ["same_ci"]
    with estate.write("carol") as s:
        chg.update_change(
            s, "carol", second, 3, ci_ids=[ci_id(s, "stage-web-01")], settings=SETTINGS
        )
        journal = chg.history(s, chg.get_change(s, second))
        assert [e.new_value for e in journal if e.field == "cis"][-1] == '["stage-web-01"]'
    assert conflicts(estate, first) == []


def test_canceled_changes_free_their_window(estate: Store) -> None:
    first = new_change(estate, ["web-01"])
    second = new_change(estate, ["web-01"], START + H, actor="carol")
    go(estate, second, C.CANCELED, cancel_reason="not needed")
    assert conflicts(estate, first) == []


def test_preview_conflicts_before_saving(estate: Store) -> None:
    first = new_change(estate, ["web-01"])
    with estate.read() as s:
        found = chg.find_conflicts(s, [ci_id(s, "web-01")], START, START + H, settings=SETTINGS)
    assert [(c.kind, c.other_number) for c in found] == [("same_ci", first)]


def test_a_change_with_conflicts_is_scheduled_only_with_an_override(estate: Store) -> None:
    new_change(estate, ["web-01"])
    number = new_change(
        estate, ["web-01"], START + H, kind="standard", template="reboot-host", actor="carol"
    )
    with pytest.raises(TransitionRefused, match="1 conflict"):
        go(estate, number, C.SCHEDULED, actor="carol")
    scheduled = go(
        estate,
        number,
        C.SCHEDULED,
        actor="carol",
        override_conflicts="reboot is inside the patch window, same team",
    )
    assert scheduled.state == "scheduled"
    assert scheduled.conflict_override_by == "carol"
    with estate.read() as s:
        fields = {e.field for e in chg.history(s, scheduled)}
    assert {"conflict_override", "conflict_override_by"} <= fields


def test_approval_does_not_schedule_over_conflicts(estate: Store) -> None:
    new_change(estate, ["db-01"])
    number = new_change(estate, ["db-01"], START + H, actor="carol")
    go(estate, number, C.ASSESS)
    go(estate, number, C.AUTHORIZE)
    assert decide(estate, number, "carol").state == "authorize"
    with estate.read() as s:
        notes = [e.text for e in chg.history(s, chg.get_change(s, number)) if e.kind == "system"]
    assert "approved; conflicts must be resolved" in notes[-1]
    assert (
        go(estate, number, C.SCHEDULED, override_conflicts="agreed with DBA").state == "scheduled"
    )


def test_replanning_after_approval_asks_again(estate: Store) -> None:
    number = new_change(estate, ["db-01"])
    go(estate, number, C.ASSESS)
    go(estate, number, C.AUTHORIZE)
    decide(estate, number, "carol")
    with estate.write("bob") as s:
        change = chg.update_change(
            s,
            "bob",
            number,
            None,
            planned_start=START + DAY,
            planned_end=START + DAY + H,
            settings=SETTINGS,
        )
        assert change.state == "authorize"
        assert [a.decision for a in chg.approvals(s, change)] == ["requested"]
    implementing = new_change(estate, ["web-03"], kind="standard", template="reboot-host")
    go(estate, implementing, C.SCHEDULED)
    go(estate, implementing, C.IMPLEMENT)
    with pytest.raises(ItsmError, match="can no longer change"), estate.write("bob") as s:
        chg.update_change(s, "bob", implementing, None, planned_end=START + 5 * H)


def test_change_versions(estate: Store) -> None:
    number = new_change(estate, ["web-01"])
    with estate.write("bob") as s:
        chg.update_change(s, "bob", number, 1, justification="security fix")
    with pytest.raises(VersionConflict), estate.write("carol") as s:
        chg.update_change(s, "carol", number, 1, justification="nice to have")


# --- calendar, lists and the maintenance lookup --------------------------------------------


def test_change_calendar_for_cis(estate: Store) -> None:
    on_web = new_change(estate, ["web-01"])
    on_switch = new_change(estate, ["access-sw-01"], START + 3 * H)
    on_db = new_change(estate, ["db-01"], START + 5 * H)
    new_change(estate, ["wiki-db"], START + 5 * H)
    later = new_change(estate, ["web-01"], START + 20 * DAY)
    with estate.read() as s:
        web = ci_id(s, "web-01")
        entries = chg.change_calendar(s, [web], START - DAY, START + DAY)
        assert [(e.number, e.relation) for e in entries] == [
            (on_web, "same CI"),
            (on_switch, "related CI"),
            (on_db, "same service"),
        ]
        only = chg.change_calendar(s, [web], START - DAY, START + 30 * DAY, include_related=False)
        assert [e.number for e in only] == [on_web, later]


def test_maintenance_change_is_the_implementing_one(
    estate: Store, manual: clock.ManualClock
) -> None:
    number = new_change(estate, ["web-01"], kind="standard", template="os-patching")
    with estate.read() as s:
        web, db = ci_id(s, "web-01"), ci_id(s, "db-01")
        assert chg.maintenance_change(s, web, START + H) is None  # not implementing yet
    go(estate, number, C.SCHEDULED)
    go(estate, number, C.IMPLEMENT)
    with estate.read() as s:
        found = chg.maintenance_change(s, web, START + H)
        assert found is not None and found.number == number
        assert chg.maintenance_change(s, web, START - timedelta(seconds=1)) is None
        assert chg.maintenance_change(s, web, START + 2 * H) is None  # the end is excluded
        assert chg.maintenance_change(s, db, START + H) is None


def test_change_lists(estate: Store) -> None:
    mine = new_change(estate, ["web-01"], assignee="bob", assignment_group="web-team")
    other = new_change(estate, ["db-01"], START + 3 * DAY, assignee="carol")
    done = new_change(estate, ["wiki-db"], START + 6 * DAY)
    go(estate, done, C.CANCELED, cancel_reason="no")
    with estate.read() as s:

        def numbers(query: ListQuery) -> list[str]:
            return [c.number for c in chg.list_changes(s, query).rows]

        assert numbers(ListQuery(view="open")) == [other, mine]
        assert numbers(ListQuery(view="mine", me="bob")) == [mine]
        assert numbers(ListQuery(view="my_group", my_groups=("web-team",))) == [mine]
        assert numbers(ListQuery(view="all", sort="planned")) == [mine, other, done]
        assert numbers(ListQuery(view="open", ci_id=ci_id(s, "db-01"))) == [other]
        counts = chg.conflict_counts(s, [chg.get_change(s, n).id for n in (mine, other)])
        assert counts == {}
