"""Problems release the incidents waiting for them; problem and request edits the forms need;
journal lines that name what an id points at."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from pydantic import ValidationError

from opsconsole.clock import ManualClock
from opsconsole.itsm import incidents as inc
from opsconsole.itsm import problems as prb
from opsconsole.itsm import requests as req
from opsconsole.itsm.journal import ItsmError
from opsconsole.itsm.problems import ProblemState as P
from opsconsole.itsm.references import describe_history
from opsconsole.itsm.settings import ItsmSettings, ProblemCascadeSettings
from opsconsole.store import Store
from tests.itsm_support import T0, ci_id, frozen, load_estate


@pytest.fixture
def clock_() -> Iterator[ManualClock]:
    with frozen() as manual:
        yield manual


@pytest.fixture
def estate(store: Store, clock_: ManualClock) -> Store:
    load_estate(store)
    return store


def hold(store: Store, short: str, reason: str = "awaiting problem") -> str:
    with store.write("ana") as s:
        number = inc.create_incident(s, "ana", short_description=short).number
        inc.transition_incident(s, "ana", number, None, "in_progress")
        inc.transition_incident(s, "ana", number, None, "on_hold", on_hold_reason=reason)
    return number


def problem_at_fix(store: Store, incidents: list[str]) -> str:
    with store.write("ana") as s:
        number = prb.create_problem(
            s, "ana", short_description="db-01 stalls", incident_numbers=incidents
        ).number
        for to in (P.ASSESS, P.ROOT_CAUSE_ANALYSIS):
            prb.transition_problem(s, "ana", number, None, to)
        prb.transition_problem(s, "ana", number, None, P.FIX_IN_PROGRESS, root_cause="locks")
    return number


def test_resolving_a_problem_sends_waiting_incidents_back_to_work(
    estate: Store, clock_: ManualClock
) -> None:
    waiting = hold(estate, "db slow")
    vendor = hold(estate, "db slower", reason="awaiting vendor")
    with estate.write("ana") as s:
        working = inc.create_incident(s, "ana", short_description="db slowest").number
    number = problem_at_fix(estate, [waiting, vendor, working])
    clock_.advance(timedelta(hours=2))
    with estate.write("bob") as s:
        prb.transition_problem(s, "bob", number, None, P.RESOLVED, fix_notes="agent 7.2")
    with estate.read() as s:
        released = inc.get_incident(s, waiting)
        assert (released.state, released.on_hold_reason) == ("in_progress", None)
        notes = [e for e in inc.history(s, released) if e.kind == "work_note"]
        assert notes[-1].text == f"{number} is resolved: no longer waiting for it"
        assert (notes[-1].actor, notes[-1].at) == ("bob", T0 + timedelta(hours=2))
        # Another on-hold reason, or not on hold: left alone.
        assert inc.get_incident(s, vendor).state == "on_hold"
        assert inc.get_incident(s, working).state == "new"
        problem = prb.get_problem(s, number)
        assert prb.history(s, problem)[-1].text == f"waiting incidents back in progress: {waiting}"
        # The SLA clock runs again from the release (it was paused on hold).
        assert released.resolution_due_at is not None


def test_resolve_mode_resolves_with_the_fix_and_closing_releases_too(
    estate: Store, clock_: ManualClock
) -> None:
    settings = ItsmSettings(problem_cascade=ProblemCascadeSettings(action="resolved"))
    first = hold(estate, "db slow")
    number = problem_at_fix(estate, [first])
    with estate.write("bob") as s:
        prb.transition_problem(
            s, "bob", number, None, P.RESOLVED, fix_notes="agent 7.2", settings=settings
        )
        incident = inc.get_incident(s, first)
        assert incident.state == "resolved"
        assert incident.resolution_code == "solved (permanently)"
        assert incident.resolution_notes == f"fixed by {number}: agent 7.2"
        assert incident.resolved_at == T0
    # Put on hold for the problem again after it was resolved: closing releases it as well.
    with estate.write("ana") as s:
        inc.transition_incident(s, "ana", first, None, "in_progress")
        inc.transition_incident(s, "ana", first, None, "on_hold", on_hold_reason="awaiting problem")
        prb.transition_problem(s, "ana", number, None, P.CLOSED, settings=settings)
        assert inc.get_incident(s, first).state == "resolved"


def test_a_problem_closed_without_a_fix_never_resolves_incidents(estate: Store) -> None:
    settings = ItsmSettings(problem_cascade=ProblemCascadeSettings(action="resolved"))
    waiting = hold(estate, "db slow")
    with estate.write("ana") as s:
        number = prb.create_problem(
            s, "ana", short_description="dup", incident_numbers=[waiting]
        ).number
        prb.transition_problem(s, "ana", number, None, P.ASSESS)
        prb.transition_problem(
            s, "ana", number, None, P.CLOSED, note="duplicate of PRB1", settings=settings
        )
        assert inc.get_incident(s, waiting).state == "in_progress"


def test_cascade_settings_are_checked() -> None:
    with pytest.raises(ValidationError, match="not an on-hold reason"):
        ItsmSettings(problem_cascade=ProblemCascadeSettings(hold_reason="waiting for Godot"))
    with pytest.raises(ValidationError, match="not a resolution code"):
        ItsmSettings(
            problem_cascade=ProblemCascadeSettings(action="resolved", resolution_code="magic")
        )
    # Custom on-hold reasons without the default one stay valid (nothing is released then).
    assert ItsmSettings(on_hold_reasons=["parts"]).problem_cascade.hold_reason


def test_unlink_and_known_error_by_update(estate: Store) -> None:
    with estate.write("ana") as s:
        first = inc.create_incident(s, "ana", short_description="a").number
        number = prb.create_problem(
            s, "ana", short_description="p", incident_numbers=[first]
        ).number
        with pytest.raises(ItsmError, match="assess it"):
            prb.update_problem(s, "ana", number, None, workaround="reboot", known_error=True)
    with estate.write("ana") as s:
        prb.transition_problem(s, "ana", number, None, P.ASSESS)
        with pytest.raises(ItsmError, match="needs its workaround"):
            prb.update_problem(s, "ana", number, None, known_error=True)
    with estate.write("ana") as s:
        problem = prb.update_problem(s, "ana", number, None, workaround="reboot", known_error=True)
        assert problem.known_error
        problem = prb.update_problem(s, "ana", number, None, known_error=False)
        assert not problem.known_error and problem.workaround == "reboot"
        prb.unlink_incident(s, "ana", number, first)
        assert prb.linked_incidents(s, problem) == []
        with pytest.raises(ItsmError, match="is not linked"):
            prb.unlink_incident(s, "ana", number, first)
        texts = [e.text for e in prb.history(s, problem) if e.field == "incidents"]
        assert texts == [f"{first} linked", f"{first} unlinked"]


def test_request_values_change_only_while_new(estate: Store) -> None:
    values = {"host": "db-01", "mount": "/var", "gigabytes": "50"}
    with estate.write("ana") as s:
        number = req.submit_request(s, "ana", "disk-space", values).number
        request = req.update_request(s, "ana", number, None, values={**values, "gigabytes": "80"})
        assert request.values["gigabytes"] == 80
        with pytest.raises(ItsmError, match="not a number"):
            req.update_request(s, "ana", number, None, values={**values, "gigabytes": "x"})
        with pytest.raises(ItsmError, match="short description is required"):
            req.update_request(s, "ana", number, None, short_description="  ")
        task = req.tasks_of(s, request)[0]
        assert [t.value for t in req.allowed_task_transitions(task)] == [
            "in_progress", "closed_complete", "closed_skipped",
        ]  # fmt: skip
        req.update_task(s, "ana", task.number, None, state="in_progress")
        assert req.allowed_task_transitions(task)[0] is req.TaskState.CLOSED_COMPLETE
        with pytest.raises(ItsmError, match="only while it is New"):
            req.update_request(s, "ana", number, None, values={**values, "gigabytes": "90"})
        # The same values (typed as text by a form) are no change, and are accepted.
        req.update_request(
            s, "ana", number, None, values={**values, "gigabytes": "80"}, assignee="ana"
        )
        assert req.get_request(s, number).assignee == "ana"


def test_history_names_what_ids_point_at(estate: Store) -> None:
    with estate.write("ana") as s:
        number = inc.create_incident(
            s, "ana", short_description="x", ci_id=ci_id(s, "db-01")
        ).number
        problem = prb.create_problem(s, "ana", short_description="p", incident_numbers=[number])
        inc.update_incident(s, "ana", number, None, ci_id=ci_id(s, "web-01"))
        lines = describe_history(s, inc.history(s, inc.get_incident(s, number)))
    assert "CI - -> db-01" in lines
    assert "CI db-01 -> web-01" in lines
    assert f"problem - -> {problem.number}" in lines
    assert "incident opened" in lines
    assert not any("_id" in line for line in lines)
