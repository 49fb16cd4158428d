"""Problems: the cause behind incidents. Statement, linked incidents, root cause, workaround,
known error flag, and the flow New -> Assess -> Root Cause Analysis -> Fix in Progress ->
Resolved -> Closed (Assess may close a non-problem; a failed fix goes back to analysis; a
Resolved problem can reopen to Fix in Progress).

Resolving or closing a problem releases the linked incidents that wait On Hold for it: they go
back to In Progress, or are resolved with the fix (`itsm.problem_cascade`), each with a work
note naming the problem (through the incident domain functions: journal and SLA as usual)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.itsm import incidents as inc
from opsconsole.itsm import journal as jn
from opsconsole.itsm.journal import ItsmError, NotFound, TransitionRefused
from opsconsole.itsm.query import ListQuery, Page, QueryError, Sort, SortKey, page, text_pattern
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.store.itsm_models import Incident, JournalEntry, Problem
from opsconsole.store.models import CI

RECORD = "problem"


class ProblemState(enum.StrEnum):
    NEW = "new"
    ASSESS = "assess"
    ROOT_CAUSE_ANALYSIS = "root_cause_analysis"
    FIX_IN_PROGRESS = "fix_in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


P = ProblemState
TRANSITIONS: dict[ProblemState, tuple[ProblemState, ...]] = {
    P.NEW: (P.ASSESS,),
    P.ASSESS: (P.ROOT_CAUSE_ANALYSIS, P.CLOSED),
    P.ROOT_CAUSE_ANALYSIS: (P.FIX_IN_PROGRESS,),
    P.FIX_IN_PROGRESS: (P.RESOLVED, P.ROOT_CAUSE_ANALYSIS),
    P.RESOLVED: (P.CLOSED, P.FIX_IN_PROGRESS),
    P.CLOSED: (),
}
OPEN = (P.NEW, P.ASSESS, P.ROOT_CAUSE_ANALYSIS, P.FIX_IN_PROGRESS)
EDITABLE_FIELDS = frozenset(
    {
        "short_description",
        "description",
        "ci_id",
        "priority",
        "assignment_group",
        "assignee",
        "root_cause",
        "workaround",
        "fix_notes",
        "known_error",
    }
)


def parse_state(text: str) -> ProblemState:
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    aliases = {"rca": "root_cause_analysis", "fix": "fix_in_progress"}
    try:
        return ProblemState(aliases.get(key, key))
    except ValueError:
        names = ", ".join(s.value for s in ProblemState)
        raise ItsmError(f"unknown problem state {text!r} ({names})") from None


def find_problem(session: Session, number: str) -> Problem | None:
    return session.scalar(select(Problem).where(Problem.number == number.strip().upper()))


def get_problem(session: Session, number: str) -> Problem:
    problem = find_problem(session, number)
    if problem is None:
        raise NotFound(f"no problem {number.strip().upper()}")
    return problem


def _locked(session: Session, number: str) -> Problem:
    problem = session.scalar(
        select(Problem)
        .where(Problem.number == number.strip().upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if problem is None:
        raise NotFound(f"no problem {number.strip().upper()}")
    return problem


def allowed_transitions(problem: Problem) -> list[ProblemState]:
    return list(TRANSITIONS[ProblemState(problem.state)])


def history(session: Session, problem: Problem) -> Sequence[JournalEntry]:
    return jn.entries(session, RECORD, problem.id)


def linked_incidents(session: Session, problem: Problem) -> Sequence[Incident]:
    return session.scalars(
        select(Incident).where(Incident.problem_id == problem.id).order_by(Incident.id)
    ).all()


def _check(session: Session, fields: dict[str, Any]) -> None:
    if "short_description" in fields and not str(fields["short_description"] or "").strip():
        raise ItsmError("a problem statement is required")
    if fields.get("ci_id") is not None and session.get(CI, fields["ci_id"]) is None:
        raise ItsmError(f"no CI with id {fields['ci_id']}")
    if "priority" in fields and not 1 <= int(fields["priority"]) <= 5:
        raise ItsmError("priority is 1 .. 5")


def create_problem(
    session: Session,
    actor: str,
    *,
    short_description: str,
    description: str = "",
    ci_id: int | None = None,
    priority: int = 4,
    assignment_group: str | None = None,
    assignee: str | None = None,
    incident_numbers: Sequence[str] = (),
) -> Problem:
    fields: dict[str, Any] = {
        "short_description": short_description.strip(),
        "description": description,
        "ci_id": ci_id,
        "priority": priority,
        "assignment_group": assignment_group,
        "assignee": assignee,
    }
    _check(session, fields)
    now = clock.now()
    problem = Problem(
        number=jn.next_number(session, RECORD),
        state=P.NEW.value,
        opened_by=actor,
        opened_at=now,
        known_error=False,
        **fields,
    )
    session.add(problem)
    session.flush()
    jn.journal(session, actor, RECORD, problem.id, "system", text="problem opened", at=now)
    for name in ("state", *fields):
        value = getattr(problem, name)
        if value not in (None, ""):
            jn.journal(session, actor, RECORD, problem.id, "field", field=name, new=value, at=now)
    for number in incident_numbers:
        link_incident(session, actor, problem.number, number)
    session.flush()
    return problem


def update_problem(
    session: Session, actor: str, number: str, expected_version: int | None, **changes: Any
) -> Problem:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ItsmError(f"not editable: {', '.join(sorted(unknown))}")
    problem = _locked(session, number)
    jn.check_version("problem", problem.number, problem, expected_version)
    if problem.state == P.CLOSED.value:
        raise ItsmError(f"{problem.number} is closed: it can no longer be edited")
    _check(session, changes)
    workaround = changes.get("workaround", problem.workaround)
    if changes.get("known_error") and not problem.known_error:
        if problem.state == P.NEW.value:
            raise ItsmError(f"{problem.number} is new: assess it before flagging a known error")
        if not (workaround or "").strip():
            raise ItsmError("a known error needs its workaround")
    elif "workaround" in changes and not (workaround or "").strip() and problem.known_error:
        changes["known_error"] = False  # no workaround, no known error
    jn.set_fields(session, actor, RECORD, problem, changes)
    session.flush()
    return problem


def mark_known_error(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    workaround: str,
    root_cause: str | None = None,
) -> Problem:
    """Flag a known error: its workaround (required) is what operators apply meanwhile."""
    problem = _locked(session, number)
    jn.check_version("problem", problem.number, problem, expected_version)
    if problem.state in (P.NEW.value, P.CLOSED.value):
        raise ItsmError(f"{problem.number} is {problem.state}: assess it first")
    if not workaround.strip():
        raise ItsmError("a known error needs its workaround")
    changes: dict[str, Any] = {"workaround": workaround.strip(), "known_error": True}
    if root_cause and root_cause.strip():
        changes["root_cause"] = root_cause.strip()
    jn.set_fields(session, actor, RECORD, problem, changes)
    session.flush()
    return problem


def transition_problem(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    to: ProblemState | str,
    *,
    root_cause: str | None = None,
    fix_notes: str | None = None,
    note: str | None = None,
    settings: ItsmSettings | None = None,
) -> Problem:
    """Fix in Progress needs a root cause; Resolved needs root cause and fix notes; closing
    from Assess (not a problem, duplicate) needs a note saying why. Resolved and Closed
    release the incidents waiting for the problem (see release_incidents)."""
    target = parse_state(to) if isinstance(to, str) else to
    problem = _locked(session, number)
    jn.check_version("problem", problem.number, problem, expected_version)
    current = ProblemState(problem.state)
    if target not in TRANSITIONS[current]:
        offered = ", ".join(s.label for s in TRANSITIONS[current]) or "none: it is final"
        raise TransitionRefused(
            f"{problem.number}: {current.label} cannot go to {target.label} (allowed: {offered})"
        )
    changes: dict[str, Any] = {"state": target.value}
    if root_cause and root_cause.strip():
        changes["root_cause"] = root_cause.strip()
    if fix_notes and fix_notes.strip():
        changes["fix_notes"] = fix_notes.strip()
    cause = changes.get("root_cause", problem.root_cause)
    if target in (P.FIX_IN_PROGRESS, P.RESOLVED) and not (cause or "").strip():
        raise TransitionRefused(f"{target.label} needs the root cause")
    if target is P.RESOLVED and not (changes.get("fix_notes", problem.fix_notes) or "").strip():
        raise TransitionRefused("Resolved needs fix notes (what was changed)")
    if current is P.ASSESS and target is P.CLOSED and not (note or "").strip():
        raise TransitionRefused("closing from Assess needs a note saying why")
    now = clock.now()
    if target is P.RESOLVED:
        changes["resolved_at"] = now
    if current is P.RESOLVED and target is P.FIX_IN_PROGRESS:
        changes["resolved_at"] = None
    if target is P.CLOSED:
        changes["closed_at"] = now
    jn.set_fields(session, actor, RECORD, problem, changes, at=now)
    if note and note.strip():
        jn.note(session, actor, RECORD, problem.id, note, internal=True)
    session.flush()
    if target in (P.RESOLVED, P.CLOSED):
        release_incidents(session, actor, problem, settings)
    return problem


def waiting_incidents(
    session: Session, problem: Problem, settings: ItsmSettings | None = None
) -> Sequence[Incident]:
    """Linked incidents On Hold for the problem (the configured on-hold reason)."""
    reason = (settings or ItsmSettings()).problem_cascade.hold_reason
    return session.scalars(
        select(Incident)
        .where(
            Incident.problem_id == problem.id,
            Incident.state == inc.IncidentState.ON_HOLD.value,
            Incident.on_hold_reason == reason,
        )
        .order_by(Incident.id)
    ).all()


def release_incidents(
    session: Session, actor: str, problem: Problem, settings: ItsmSettings | None = None
) -> list[str]:
    """The incidents waiting for a resolved or closed problem go back to In Progress, or are
    resolved with its fix when `problem_cascade.action` says so and the problem was resolved
    (a fix exists). Each gets a work note naming the problem; the problem's journal lists
    them. Returns their numbers."""
    settings = settings or ItsmSettings()
    cascade = settings.problem_cascade
    fixed = problem.resolved_at is not None and bool((problem.fix_notes or "").strip())
    released: list[str] = []
    for incident in waiting_incidents(session, problem, settings):
        if cascade.action == "resolved" and fixed:
            inc.resolve_incident(
                session, actor, incident.number, None, code=cascade.resolution_code,
                notes=f"fixed by {problem.number}: {problem.fix_notes}", settings=settings,
            )  # fmt: skip
        else:
            state = ProblemState(problem.state).label.lower()
            inc.transition_incident(
                session, actor, incident.number, None, inc.IncidentState.IN_PROGRESS,
                note=f"{problem.number} is {state}: no longer waiting for it", settings=settings,
            )  # fmt: skip
        released.append(incident.number)
    if released:
        verb = "resolved" if cascade.action == "resolved" and fixed else "back in progress"
        jn.journal(
            session, actor, RECORD, problem.id, "system",
            text=f"waiting incidents {verb}: {', '.join(released)}",
        )  # fmt: skip
        session.flush()
    return released


def link_incident(session: Session, actor: str, problem_number: str, incident_number: str) -> None:
    """Link an incident to the problem (journaled on both)."""
    problem = get_problem(session, problem_number)
    incident = session.scalar(
        select(Incident).where(Incident.number == incident_number.strip().upper())
    )
    if incident is None:
        raise NotFound(f"no incident {incident_number.strip().upper()}")
    if incident.problem_id == problem.id:
        return
    jn.set_fields(session, actor, "incident", incident, {"problem_id": problem.id})
    jn.journal(
        session,
        actor,
        RECORD,
        problem.id,
        "field",
        field="incidents",
        new=incident.number,
        text=f"{incident.number} linked",
    )
    session.flush()


def unlink_incident(
    session: Session, actor: str, problem_number: str, incident_number: str
) -> None:
    """Take an incident off the problem (journaled on both)."""
    problem = get_problem(session, problem_number)
    incident = session.scalar(
        select(Incident).where(Incident.number == incident_number.strip().upper())
    )
    if incident is None:
        raise NotFound(f"no incident {incident_number.strip().upper()}")
    if incident.problem_id != problem.id:
        raise ItsmError(f"{incident.number} is not linked to {problem.number}")
    jn.set_fields(session, actor, "incident", incident, {"problem_id": None})
    jn.journal(
        session,
        actor,
        RECORD,
        problem.id,
        "field",
        field="incidents",
        old=incident.number,
        text=f"{incident.number} unlinked",
    )
    session.flush()


def add_note(
    session: Session, actor: str, number: str, text: str, *, internal: bool = True
) -> JournalEntry:
    problem = get_problem(session, number)
    entry = jn.note(session, actor, RECORD, problem.id, text, internal=internal)
    session.flush()
    return entry


SORTS = {
    "default": Sort((SortKey(Problem.priority), SortKey(Problem.id, descending=True))),
    "priority": Sort((SortKey(Problem.priority), SortKey(Problem.id, descending=True))),
    "newest": Sort((SortKey(Problem.id, descending=True),)),
}


def _filtered(query: ListQuery) -> Select[Problem]:
    statement = select(Problem)
    if query.view == "breaching":
        raise QueryError("problems have no SLA: use open, mine, my_group, unassigned or all")
    if query.view != "all" and not query.states:
        statement = statement.where(Problem.state.in_([s.value for s in OPEN]))
    if query.view == "mine":
        statement = statement.where(Problem.assignee == query.me)
    elif query.view == "my_group":
        statement = statement.where(Problem.assignment_group.in_(list(query.my_groups)))
    elif query.view == "unassigned":
        statement = statement.where(Problem.assignee.is_(None))
    if query.states:
        statement = statement.where(Problem.state.in_([parse_state(s).value for s in query.states]))
    if query.priorities:
        statement = statement.where(Problem.priority.in_(list(query.priorities)))
    if query.assignment_group:
        statement = statement.where(Problem.assignment_group == query.assignment_group)
    if query.assignee:
        statement = statement.where(Problem.assignee == query.assignee)
    if query.ci_id is not None:
        statement = statement.where(Problem.ci_id == query.ci_id)
    if query.text:
        pattern = text_pattern(query.text)
        statement = statement.where(
            Problem.number.ilike(pattern, escape="\\")
            | Problem.short_description.ilike(pattern, escape="\\")
        )
    return statement


def list_problems(
    session: Session,
    query: ListQuery | None = None,
    *,
    after: str | None = None,
    limit: int = 100,
) -> Page[Problem]:
    query = query or ListQuery()
    if query.sort not in SORTS:
        raise QueryError(f"unknown sort {query.sort!r} ({', '.join(SORTS)})")
    return page(session, _filtered(query), SORTS[query.sort], after, limit)


def known_errors_for_ci(session: Session, ci_id: int) -> Sequence[Problem]:
    """Known errors on a CI, with their workarounds: worth a look before a new incident."""
    return session.scalars(
        select(Problem)
        .where(
            Problem.ci_id == ci_id, Problem.known_error.is_(True), Problem.state != P.CLOSED.value
        )
        .order_by(Problem.id.desc())
    ).all()
