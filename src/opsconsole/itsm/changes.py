"""Changes: types and their flows, approvals, conflict detection, the change calendar, and the
maintenance lookup the events pipeline asks (`maintenance_change`).

Flows (DESIGN):
  normal     New -> Assess -> Authorize -> Scheduled -> Implement -> Review -> Closed
  standard   New -> Scheduled -> Implement -> Review -> Closed  (pre-approved template)
  emergency  New -> Authorize -> Scheduled -> Implement -> Review -> Closed
Canceled from any state before Review; nothing cancels from Review or Closed. Assess can send
a change back to New; a rejection in Authorize sends it back to New.

Decisions taken here (the issue leaves them open):
- Approvals are asked of named approvers (a person, or a group of `itsm.groups` whose members
  may decide for it) from `itsm.changes.approvers` by risk, or `emergency_approvers`, plus any
  added by hand. When the last one approves, the change moves to Scheduled by itself unless
  it has conflicts that nobody overrode.
- Conflicts are detected on every save that touches CIs, the window or the assignee, and again
  on the way to Scheduled. A change with conflicts cannot be Scheduled unless someone gives an
  override reason: the reason, who and when are kept on the change and in its journal.
- Changing CIs or the window after approval (Authorize or Scheduled) puts approvals back to
  requested and the change back to Authorize (a standard change: back to New).
"""

from __future__ import annotations

import enum
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, or_, select, update
from sqlalchemy.orm import Session, selectinload

from opsconsole import clock
from opsconsole.itsm import journal as jn
from opsconsole.itsm.journal import ItsmError, NotFound, TransitionRefused
from opsconsole.itsm.query import ListQuery, Page, QueryError, Sort, SortKey, page, text_pattern
from opsconsole.itsm.settings import BlackoutWindow, ItsmSettings
from opsconsole.store.itsm_models import (
    Change,
    ChangeApproval,
    ChangeCI,
    ChangeConflict,
    JournalEntry,
)
from opsconsole.store.models import CI, CIClass, Relationship

RECORD = "change"


class ChangeType(enum.StrEnum):
    STANDARD = "standard"
    NORMAL = "normal"
    EMERGENCY = "emergency"


class ChangeState(enum.StrEnum):
    NEW = "new"
    ASSESS = "assess"
    AUTHORIZE = "authorize"
    SCHEDULED = "scheduled"
    IMPLEMENT = "implement"
    REVIEW = "review"
    CLOSED = "closed"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        return self.value.title()


C = ChangeState
_TAIL = {C.SCHEDULED: (C.IMPLEMENT,), C.IMPLEMENT: (C.REVIEW,), C.REVIEW: (C.CLOSED,)}
FLOWS: dict[ChangeType, dict[ChangeState, tuple[ChangeState, ...]]] = {
    ChangeType.NORMAL: {
        C.NEW: (C.ASSESS,),
        C.ASSESS: (C.AUTHORIZE, C.NEW),
        C.AUTHORIZE: (C.SCHEDULED,),
        **_TAIL,
    },
    ChangeType.STANDARD: {C.NEW: (C.SCHEDULED,), **_TAIL},
    ChangeType.EMERGENCY: {C.NEW: (C.AUTHORIZE,), C.AUTHORIZE: (C.SCHEDULED,), **_TAIL},
}
CANCELABLE = (C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT)
# Changes that still claim their window (conflict detection, the change calendar).
ACTIVE = (C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT)
PLANNING_STATES = (C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED)
OPEN = (C.NEW, C.ASSESS, C.AUTHORIZE, C.SCHEDULED, C.IMPLEMENT, C.REVIEW)
# Approvers may be added until the change is authorized; they decide only in Authorize.
ASKING_STATES = (C.NEW, C.ASSESS, C.AUTHORIZE)

EDITABLE_FIELDS = frozenset(
    {
        "short_description",
        "description",
        "justification",
        "risk",
        "impact",
        "assignment_group",
        "assignee",
        "planned_start",
        "planned_end",
        "implementation_plan",
        "backout_plan",
        "test_plan",
        "close_code",
        "close_notes",
        "review_notes",
        "actual_start",
        "actual_end",
    }
)
TEMPLATE_FIELDS = frozenset({"risk", "implementation_plan", "backout_plan", "test_plan"})


def parse_state(text: str) -> ChangeState:
    try:
        return ChangeState(text.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in ChangeState)
        raise ItsmError(f"unknown change state {text!r} ({names})") from None


def parse_type(text: str) -> ChangeType:
    try:
        return ChangeType(text.strip().lower())
    except ValueError:
        raise ItsmError(f"unknown change type {text!r} (standard, normal, emergency)") from None


def _settings(settings: ItsmSettings | None) -> ItsmSettings:
    return settings if settings is not None else ItsmSettings()


# --- the events pipeline's question ----------------------------------------------------------


def maintenance_change(session: Session, ci_id: int, at: datetime) -> Change | None:
    """The change being implemented on `ci_id` whose planned window contains `at`, if any.

    Alerts on that CI are kept but marked maintenance (the pipeline shows `.number`)."""
    return session.scalar(
        select(Change)
        .join(ChangeCI, ChangeCI.change_id == Change.id)
        .where(
            ChangeCI.ci_id == ci_id,
            Change.state == C.IMPLEMENT.value,
            Change.planned_start <= at,
            Change.planned_end > at,
        )
        .order_by(Change.planned_start, Change.id)
        .limit(1)
    )


MAINTENANCE_CHUNK = 900  # CI ids per IN list: well under SQLite's bound-parameter limit


def maintenance_changes(session: Session, ci_ids: Sequence[int], at: datetime) -> dict[int, Change]:
    """`maintenance_change` for many CIs at once (one query per 900 CIs): for each CI in
    maintenance at `at`, the change `maintenance_change` gives it (earliest start, lowest id).
    The events pipeline asks this once per batch."""
    found: dict[int, Change] = {}
    ids = list(dict.fromkeys(ci_ids))
    for first in range(0, len(ids), MAINTENANCE_CHUNK):
        rows = session.execute(
            select(ChangeCI.ci_id, Change)
            .join(Change, ChangeCI.change_id == Change.id)
            .where(
                ChangeCI.ci_id.in_(ids[first : first + MAINTENANCE_CHUNK]),
                Change.state == C.IMPLEMENT.value,
                Change.planned_start <= at,
                Change.planned_end > at,
            )
            .order_by(ChangeCI.ci_id, Change.planned_start, Change.id)
        )
        for ci_id, change in rows:
            found.setdefault(ci_id, change)
    return found


# --- reading ---------------------------------------------------------------------------------


def find_change(session: Session, number: str) -> Change | None:
    return session.scalar(select(Change).where(Change.number == number.strip().upper()))


def get_change(session: Session, number: str) -> Change:
    change = find_change(session, number)
    if change is None:
        raise NotFound(f"no change {number.strip().upper()}")
    return change


def _locked(session: Session, number: str) -> Change:
    change = session.scalar(
        select(Change)
        .where(Change.number == number.strip().upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if change is None:
        raise NotFound(f"no change {number.strip().upper()}")
    return change


def change_ci_ids(session: Session, change: Change) -> list[int]:
    return list(
        session.scalars(
            select(ChangeCI.ci_id).where(ChangeCI.change_id == change.id).order_by(ChangeCI.ci_id)
        )
    )


def change_cis(session: Session, change: Change) -> list[CI]:
    return list(
        session.scalars(
            select(CI)
            .join(ChangeCI, ChangeCI.ci_id == CI.id)
            .where(ChangeCI.change_id == change.id)
            .order_by(CI.name)
        )
    )


def approvals(session: Session, change: Change) -> Sequence[ChangeApproval]:
    return session.scalars(
        select(ChangeApproval)
        .where(ChangeApproval.change_id == change.id)
        .order_by(ChangeApproval.id)
    ).all()


def history(session: Session, change: Change) -> Sequence[JournalEntry]:
    return jn.entries(session, RECORD, change.id)


def allowed_transitions(change: Change) -> list[ChangeState]:
    """The next states of this change's type from its state (Canceled where allowed)."""
    state = ChangeState(change.state)
    nexts = list(FLOWS[ChangeType(change.change_type)].get(state, ()))
    if state in CANCELABLE:
        nexts.append(C.CANCELED)
    return nexts


def flow_path(change_type: ChangeType | str) -> list[ChangeState]:
    """The states a change of this type goes through when all goes well, New to Closed."""
    flow = FLOWS[ChangeType(change_type)]
    path = [C.NEW]
    while path[-1] in flow:
        path.append(flow[path[-1]][0])
    return path


def _require_state(change: Change, allowed: Iterable[ChangeState], refusal: str) -> ChangeState:
    """The change's state if it is one of `allowed`; otherwise refuse with `refusal`, which may
    name {number}, {state} (the value) and {label}."""
    state = ChangeState(change.state)
    if state not in allowed:
        raise ItsmError(refusal.format(number=change.number, state=state.value, label=state.label))
    return state


# --- conflicts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conflict:
    """kind: same_ci, related_ci, same_service, blackout or assignee."""

    kind: str
    detail: str
    other_change_id: int | None = None
    other_number: str | None = None
    ci_id: int | None = None
    blackout: str | None = None
    # The same conflict as the other change sees it ("{this}": this change's number).
    mirror: str = ""


def _overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    return a_start < b_end and b_start < a_end


@dataclass
class _Graph:
    needs: dict[int, set[int]]  # source -> targets (source needs target)
    needed_by: dict[int, set[int]]
    names: dict[int, str]
    classes: dict[int, str]
    environments: dict[int, str]

    @classmethod
    def load(cls, session: Session) -> _Graph:
        needs: dict[int, set[int]] = defaultdict(set)
        needed_by: dict[int, set[int]] = defaultdict(set)
        for source, target in session.execute(
            select(Relationship.source_id, Relationship.target_id)
        ):
            needs[source].add(target)
            needed_by[target].add(source)
        names, classes, envs = {}, {}, {}
        for ci_id, name, ci_class, env in session.execute(
            select(CI.id, CI.name, CI.ci_class, CI.environment)
        ):
            names[ci_id], classes[ci_id], envs[ci_id] = name, ci_class, env
        return cls(needs, needed_by, names, classes, envs)

    @staticmethod
    def _walk(start: int, edges: dict[int, set[int]]) -> set[int]:
        seen: set[int] = set()
        queue = deque([start])
        while queue:
            for nxt in edges.get(queue.popleft(), ()):
                if nxt not in seen and nxt != start:
                    seen.add(nxt)
                    queue.append(nxt)
        return seen

    def related(self, ci_id: int) -> set[int]:
        """CMDB parents and children, through any path (what it needs and what needs it)."""
        return self._walk(ci_id, self.needs) | self._walk(ci_id, self.needed_by)

    def services_of(self, ci_id: int) -> set[int]:
        found = {c for c in self._walk(ci_id, self.needed_by) if self.classes[c] == "service"}
        if self.classes.get(ci_id) == CIClass.SERVICE:
            found.add(ci_id)
        return found

    def service_members(self, service_id: int) -> set[int]:
        return self._walk(service_id, self.needs) | {service_id}


def _blackout_covers(
    window: BlackoutWindow, ci_id: int, graph: _Graph, ids_by_name: dict[str, int]
) -> bool:
    if window.environments and graph.environments.get(ci_id) not in window.environments:
        return False
    if not window.cis and not window.services:
        return True
    if graph.names.get(ci_id) in window.cis:
        return True
    for service in window.services:
        service_id = ids_by_name.get(service)
        if service_id is not None and ci_id in graph.service_members(service_id):
            return True
    return False


def find_conflicts(
    session: Session,
    ci_ids: Iterable[int],
    start: datetime | None,
    end: datetime | None,
    *,
    assignee: str | None = None,
    exclude_change_id: int | None = None,
    settings: ItsmSettings | None = None,
) -> list[Conflict]:
    """Conflicts a change with these CIs, window and assignee would have (nothing is stored:
    forms call this to show conflicts before saving)."""
    settings = _settings(settings)
    ours = sorted(set(ci_ids))
    if start is None or end is None or end <= start:
        return []
    graph = _Graph.load(session)
    others = session.scalars(
        select(Change)
        .where(
            Change.state.in_([s.value for s in ACTIVE]),
            Change.planned_start < end,
            Change.planned_end > start,
        )
        .options(selectinload(Change.ci_links))
        .order_by(Change.planned_start, Change.id)
    ).all()
    found: list[Conflict] = []
    related = {ci: graph.related(ci) for ci in ours}
    services = {ci: graph.services_of(ci) for ci in ours}
    for other in others:
        if other.id == exclude_change_id:
            continue
        theirs = {link.ci_id for link in other.ci_links}
        best: Conflict | None = None
        rank = {"same_ci": 0, "related_ci": 1, "same_service": 2}
        for ci in ours:
            for their in sorted(theirs):
                kind = None
                mine, theirs_name = graph.names[ci], graph.names[their]
                if their == ci:
                    kind = "same_ci"
                    detail = f"{other.number} also changes {mine}"
                    mirror = f"{{this}} also changes {mine}"
                elif their in related[ci]:
                    kind = "related_ci"
                    detail = f"{other.number} changes {theirs_name}, related to {mine} in the CMDB"
                    mirror = f"{{this}} changes {mine}, related to {theirs_name} in the CMDB"
                else:
                    shared = services[ci] & graph.services_of(their)
                    if shared:
                        kind = "same_service"
                        served = ", ".join(sorted(graph.names[s] for s in shared))
                        detail = (
                            f"{other.number} changes {theirs_name}; with {mine} it serves {served}"
                        )
                        mirror = f"{{this}} changes {mine}; with {theirs_name} it serves {served}"
                if kind is not None and (best is None or rank[kind] < rank[best.kind]):
                    best = Conflict(kind, detail[:400], other.id, other.number, ci, mirror=mirror)
        if best is not None:
            found.append(best)
        if assignee and other.assignee == assignee:
            found.append(
                Conflict(
                    "assignee",
                    f"{assignee} is also assigned {other.number} in an overlapping window",
                    other.id,
                    other.number,
                    mirror=f"{assignee} is also assigned {{this}} in an overlapping window",
                )
            )
    ids_by_name = {name: ci_id for ci_id, name in graph.names.items()}
    for window in settings.changes.blackouts:
        if not _overlaps(start, end, window.start, window.end):
            continue
        covered = [ci for ci in ours if _blackout_covers(window, ci, graph, ids_by_name)]
        if covered:
            names = ", ".join(graph.names[ci] for ci in covered)
            why = f" ({window.reason})" if window.reason else ""
            found.append(
                Conflict(
                    "blackout",
                    f"blackout {window.name}{why} covers {names}"[:400],
                    ci_id=covered[0],
                    blackout=window.name,
                )
            )
    return found


def recheck_conflicts(
    session: Session, change: Change, settings: ItsmSettings | None = None
) -> list[Conflict]:
    """Re-run detection for `change` and store the result for it and, mirrored, for the other
    changes it conflicts with (their rows, not their versions: nobody's form goes stale)."""
    session.flush()
    session.execute(
        delete(ChangeConflict).where(
            or_(ChangeConflict.change_id == change.id, ChangeConflict.other_change_id == change.id)
        )
    )
    found = live_conflicts(session, change, settings) if ChangeState(change.state) in ACTIVE else []
    now = clock.now()
    for conflict in found:
        session.add(
            ChangeConflict(
                change_id=change.id,
                kind=conflict.kind,
                other_change_id=conflict.other_change_id,
                ci_id=conflict.ci_id,
                blackout=conflict.blackout,
                detail=conflict.detail,
                found_at=now,
            )
        )
        if conflict.other_change_id is not None:
            mirror = conflict.mirror.replace("{this}", change.number)[:400]
            session.add(
                ChangeConflict(
                    change_id=conflict.other_change_id,
                    kind=conflict.kind,
                    other_change_id=change.id,
                    ci_id=conflict.ci_id,
                    detail=mirror,
                    found_at=now,
                )
            )
    # Derived data: a plain UPDATE, so a re-check never makes an operator's form stale.
    session.execute(update(Change).where(Change.id == change.id).values(conflicts_checked_at=now))
    session.flush()
    return found


def live_conflicts(
    session: Session, change: Change, settings: ItsmSettings | None
) -> list[Conflict]:
    """Conflicts of the change as it is stored now (nothing is written)."""
    return find_conflicts(
        session,
        change_ci_ids(session, change),
        change.planned_start,
        change.planned_end,
        assignee=change.assignee,
        exclude_change_id=change.id,
        settings=settings,
    )


def stored_conflicts(session: Session, change: Change) -> Sequence[ChangeConflict]:
    """The conflicts of the last detection runs that involved this change (form and lists)."""
    return session.scalars(
        select(ChangeConflict)
        .where(ChangeConflict.change_id == change.id)
        .order_by(ChangeConflict.kind, ChangeConflict.id)
    ).all()


def conflict_counts(session: Session, change_ids: Sequence[int]) -> dict[int, int]:
    """change id -> number of stored conflicts, for a list page in one query."""
    if not change_ids:
        return {}
    counts: dict[int, int] = defaultdict(int)
    for (change_id,) in session.execute(
        select(ChangeConflict.change_id).where(ChangeConflict.change_id.in_(list(change_ids)))
    ):
        counts[change_id] += 1
    return dict(counts)


# --- the change calendar ---------------------------------------------------------------------


@dataclass(frozen=True)
class CalendarEntry:
    change_id: int
    number: str
    short_description: str
    state: str
    change_type: str
    start: datetime
    end: datetime
    ci_names: tuple[str, ...]
    relation: str  # "same CI", "related CI", "same service"


def change_calendar(
    session: Session,
    ci_ids: Iterable[int],
    start: datetime,
    end: datetime,
    *,
    include_related: bool = True,
    exclude_change_id: int | None = None,
) -> list[CalendarEntry]:
    """Changes (any state but Canceled) planned in [start, end) on these CIs, and with
    include_related on their CMDB relatives and fellow CIs of their services."""
    ours = set(ci_ids)
    graph = _Graph.load(session)
    near: dict[int, str] = {ci: "same CI" for ci in ours}
    if include_related:
        for ci in ours:
            for other in graph.related(ci):
                near.setdefault(other, "related CI")
            for service in graph.services_of(ci):
                for member in graph.service_members(service):
                    near.setdefault(member, "same service")
    changes = session.scalars(
        select(Change)
        .join(ChangeCI, ChangeCI.change_id == Change.id)
        .where(
            ChangeCI.ci_id.in_(list(near)),
            Change.state != C.CANCELED.value,
            Change.planned_start < end,
            Change.planned_end > start,
        )
        .options(selectinload(Change.ci_links))
        .distinct()
        .order_by(Change.planned_start, Change.id)
    ).all()
    entries = []
    order = {"same CI": 0, "related CI": 1, "same service": 2}
    for change in changes:
        if change.id == exclude_change_id:
            continue
        assert change.planned_start is not None and change.planned_end is not None
        cis = sorted(link.ci_id for link in change.ci_links)
        relation = min((near[c] for c in cis if c in near), key=order.__getitem__)
        entries.append(
            CalendarEntry(
                change.id,
                change.number,
                change.short_description,
                change.state,
                change.change_type,
                change.planned_start,
                change.planned_end,
                tuple(graph.names.get(c, str(c)) for c in cis),
                relation,
            )
        )
    return entries


# --- writing ---------------------------------------------------------------------------------


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise ItsmError("the planned end must be after the planned start")


def _check_fields(fields: dict[str, Any], settings: ItsmSettings) -> None:
    """The checks create and update share, on the fields given (absent ones pass)."""
    risks = settings.changes.risks
    if fields.get("risk") not in (None, *risks):
        raise ItsmError(f"unknown risk {fields['risk']!r} ({', '.join(risks)})")
    if fields.get("close_code") not in (None, *settings.changes.close_codes):
        raise ItsmError(f"unknown close code {fields['close_code']!r}")
    if "impact" in fields and not 1 <= int(fields["impact"]) <= 3:
        raise ItsmError("impact must be 1 (high), 2 (medium) or 3 (low)")
    if "short_description" in fields and not str(fields["short_description"] or "").strip():
        raise ItsmError("a short description is required")


def _check_cis(session: Session, ci_ids: Iterable[int]) -> list[int]:
    ids = sorted(set(ci_ids))
    found = set(session.scalars(select(CI.id).where(CI.id.in_(ids)))) if ids else set()
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise ItsmError(f"no CI with id {', '.join(missing)}")
    return ids


def _set_cis(session: Session, actor: str, change: Change, ci_ids: Sequence[int]) -> bool:
    current = change_ci_ids(session, change)
    wanted = _check_cis(session, ci_ids)
    if current == wanted:
        return False
    names = dict(session.execute(select(CI.id, CI.name).where(CI.id.in_(current + wanted))).all())
    for ci_id in set(current) - set(wanted):
        link = session.get(ChangeCI, (change.id, ci_id))
        if link is not None:
            session.delete(link)
    for ci_id in set(wanted) - set(current):
        session.add(ChangeCI(change_id=change.id, ci_id=ci_id))
    jn.journal(
        session,
        actor,
        RECORD,
        change.id,
        "field",
        field="cis",
        old=sorted(names[i] for i in current),
        new=sorted(names[i] for i in wanted),
    )
    session.flush()
    session.expire(change, ["ci_links"])
    return True


def create_change(
    session: Session,
    actor: str,
    *,
    change_type: ChangeType | str,
    short_description: str = "",
    template: str | None = None,
    description: str = "",
    justification: str = "",
    ci_ids: Sequence[int] = (),
    planned_start: datetime | None = None,
    planned_end: datetime | None = None,
    risk: str | None = None,
    impact: int = 3,
    assignment_group: str | None = None,
    assignee: str | None = None,
    implementation_plan: str = "",
    backout_plan: str = "",
    test_plan: str = "",
    settings: ItsmSettings | None = None,
) -> Change:
    """A new change in state New. A standard change comes from a template (its plans and risk;
    the window defaults to the template's duration from planned_start)."""
    settings = _settings(settings)
    kind = parse_type(change_type) if isinstance(change_type, str) else change_type
    _check_fields({"impact": impact}, settings)
    if kind is ChangeType.STANDARD:
        if template is None or template not in settings.changes.templates:
            names = ", ".join(settings.changes.templates) or "none configured"
            raise ItsmError(f"a standard change needs a template ({names})")
        spec = settings.changes.templates[template]
        short_description = short_description or spec.short_description
        description = description or spec.description
        risk = spec.risk
        implementation_plan, backout_plan, test_plan = (
            spec.implementation_plan,
            spec.backout_plan,
            spec.test_plan,
        )
        assignment_group = assignment_group or spec.assignment_group
        if planned_start is not None and planned_end is None:
            planned_end = planned_start + spec.duration
    elif template is not None:
        raise ItsmError("only standard changes come from a template")
    _check_fields({"short_description": short_description, "risk": risk}, settings)
    _check_window(planned_start, planned_end)
    ids = _check_cis(session, ci_ids)
    now = clock.now()
    change = Change(
        number=jn.next_number(session, RECORD),
        change_type=kind.value,
        template=template,
        short_description=short_description.strip(),
        description=description,
        justification=justification,
        risk=risk,
        impact=impact,
        state=C.NEW.value,
        requested_by=actor,
        assignment_group=assignment_group,
        assignee=assignee,
        planned_start=planned_start,
        planned_end=planned_end,
        implementation_plan=implementation_plan,
        backout_plan=backout_plan,
        test_plan=test_plan,
        opened_at=now,
    )
    session.add(change)
    session.flush()
    jn.journal(
        session,
        actor,
        RECORD,
        change.id,
        "system",
        text=f"{kind.value} change opened" + (f" from template {template}" if template else ""),
        at=now,
    )
    for name in (
        "state",
        "change_type",
        "risk",
        "impact",
        "planned_start",
        "planned_end",
        "assignment_group",
        "assignee",
    ):
        value = getattr(change, name)
        if value not in (None, ""):
            jn.journal(session, actor, RECORD, change.id, "field", field=name, new=value, at=now)
    if ids:
        _set_cis(session, actor, change, ids)
    recheck_conflicts(session, change, settings)
    return change


def update_change(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    *,
    ci_ids: Sequence[int] | None = None,
    settings: ItsmSettings | None = None,
    **changes: Any,
) -> Change:
    """Edit fields and CIs. CIs, window and assignee re-run conflict detection; changing CIs or
    the window after approval asks for approval again (see the module notes)."""
    settings = _settings(settings)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ItsmError(f"not editable: {', '.join(sorted(unknown))}")
    change = _locked(session, number)
    jn.check_version("change", change.number, change, expected_version)
    state = _require_state(change, OPEN, "{number} is {state}: it can no longer be edited")
    if change.change_type == ChangeType.STANDARD and TEMPLATE_FIELDS & set(changes):
        fixed = ", ".join(sorted(TEMPLATE_FIELDS & set(changes)))
        raise ItsmError(f"a standard change keeps its template's {fixed}")
    if {"planned_start", "planned_end"} & set(changes) or ci_ids is not None:
        _require_state(
            change, PLANNING_STATES, "{number} is {label}: its CIs and window can no longer change"
        )
    _check_fields(changes, settings)
    _check_window(
        changes.get("planned_start", change.planned_start),
        changes.get("planned_end", change.planned_end),
    )
    done = jn.set_fields(session, actor, RECORD, change, changes)
    moved_cis = _set_cis(session, actor, change, ci_ids) if ci_ids is not None else False
    replanned = moved_cis or bool({"planned_start", "planned_end"} & set(done))
    if replanned:
        if change.conflict_override:
            jn.set_fields(
                session,
                actor,
                RECORD,
                change,
                {"conflict_override": None, "conflict_override_by": None},
            )
        if state in (C.AUTHORIZE, C.SCHEDULED):
            _replan_after_approval(session, actor, change, settings)
    if replanned or "assignee" in done:
        recheck_conflicts(session, change, settings)
    session.flush()
    return change


def _replan_after_approval(
    session: Session, actor: str, change: Change, settings: ItsmSettings
) -> None:
    if change.change_type == ChangeType.STANDARD:
        jn.set_fields(session, actor, RECORD, change, {"state": C.NEW.value})
        jn.journal(
            session,
            actor,
            RECORD,
            change.id,
            "system",
            text="window or CIs changed: back to New, schedule it again",
        )
        return
    jn.set_fields(session, actor, RECORD, change, {"state": C.AUTHORIZE.value})
    _request_approvals(session, actor, change, settings, reset=True)
    jn.journal(
        session,
        actor,
        RECORD,
        change.id,
        "system",
        text="window or CIs changed after approval: approvals requested again",
    )


def required_approvers(change: Change, settings: ItsmSettings) -> list[str]:
    """Who Authorize asks: `emergency_approvers`, or the approvers of the change's risk."""
    if change.change_type == ChangeType.EMERGENCY:
        return list(settings.changes.emergency_approvers)
    return list(settings.changes.approvers.get(change.risk or "", []))


def _journal_approval(
    session: Session, actor: str, change: Change, new: str, old: str | None = None, text: str = ""
) -> None:
    jn.journal(
        session, actor, RECORD, change.id, "field", field="approval", old=old, new=new, text=text
    )


def _ask(session: Session, actor: str, change: Change, approver: str) -> ChangeApproval:
    approval = ChangeApproval(
        change_id=change.id, approver=approver, decision="requested", requested_at=clock.now()
    )
    session.add(approval)
    _journal_approval(session, actor, change, f"{approver}: requested")
    return approval


def _request_approvals(
    session: Session, actor: str, change: Change, settings: ItsmSettings, *, reset: bool
) -> None:
    existing = {a.approver: a for a in approvals(session, change)}
    for approver in required_approvers(change, settings):
        if approver not in existing:
            existing[approver] = _ask(session, actor, change, approver)
    if reset:
        now = clock.now()
        for approval in existing.values():
            if approval.decision != "requested":
                _journal_approval(
                    session,
                    actor,
                    change,
                    f"{approval.approver}: requested",
                    old=f"{approval.approver}: {approval.decision}",
                )
                approval.decision, approval.comment = "requested", ""
                approval.decided_at, approval.decided_by = None, None
                approval.requested_at = now
    session.flush()
    session.expire(change, ["approvals"])


# --- readiness: what each target state needs ----------------------------------------------------


@dataclass(frozen=True)
class MoveDetails:
    """The values a move may carry, for the target states that need them."""

    override_conflicts: str | None = None
    close_code: str | None = None
    close_notes: str | None = None
    review_notes: str | None = None
    cancel_reason: str | None = None


Guard = Callable[[Session, Change, ItsmSettings, MoveDetails], list[str]]


def _planned(session: Session, change: Change, _: ItsmSettings, __: MoveDetails) -> list[str]:
    problems = []
    if change.planned_start is None or change.planned_end is None:
        problems.append("a planned start and end are needed")
    if not change_ci_ids(session, change):
        problems.append("at least one CI is needed")
    return problems


def _risked(_: Session, change: Change, __: ItsmSettings, ___: MoveDetails) -> list[str]:
    return ["a risk is needed"] if change.risk is None else []


def _planned_work(
    session: Session, change: Change, settings: ItsmSettings, _: MoveDetails
) -> list[str]:
    problems = [
        f"the {name.replace('_', ' ')} is empty"
        for name in ("implementation_plan", "backout_plan", "test_plan")
        if not getattr(change, name).strip()
    ]
    if not required_approvers(change, settings) and not approvals(session, change):
        problems.append("nobody to approve it: add an approver")
    return problems


def _approved(session: Session, change: Change, _: ItsmSettings, __: MoveDetails) -> list[str]:
    if change.change_type == ChangeType.STANDARD:
        return []  # pre-approved by its template
    asked = approvals(session, change)
    pending = [a for a in asked if a.decision != "approved"]
    if pending or not asked:
        waiting = ", ".join(a.approver for a in pending) or "nobody asked"
        return [f"not approved yet ({waiting})"]
    return []


def _clear_window(
    session: Session, change: Change, settings: ItsmSettings, details: MoveDetails
) -> list[str]:
    live = live_conflicts(session, change, settings)
    if live and not (details.override_conflicts or change.conflict_override or "").strip():
        return [f"{len(live)} conflict(s): resolve them or schedule with an override reason"]
    return []


def _closable(
    _: Session, change: Change, settings: ItsmSettings, details: MoveDetails
) -> list[str]:
    problems = []
    code = details.close_code or change.close_code
    if not code:
        problems.append("a close code is needed")
    elif code not in settings.changes.close_codes:
        problems.append(f"unknown close code {code!r}")
    needs_review = settings.changes.review_required and (change.change_type != ChangeType.STANDARD)
    if needs_review and not (details.review_notes or change.review_notes or "").strip():
        problems.append("the post-implementation review notes are empty")
    return problems


def _explained(_: Session, __: Change, ___: ItsmSettings, details: MoveDetails) -> list[str]:
    return [] if (details.cancel_reason or "").strip() else ["a reason to cancel is needed"]


# target state -> what it needs, in the order the problems are told
GUARDS: dict[ChangeState, tuple[Guard, ...]] = {
    C.ASSESS: (_risked,),
    C.AUTHORIZE: (_risked, _planned_work),
    C.SCHEDULED: (_approved, _clear_window),
    C.CLOSED: (_closable,),
    C.CANCELED: (_explained,),
}


def readiness(
    session: Session,
    change: Change,
    to: ChangeState,
    settings: ItsmSettings | None = None,
    details: MoveDetails | None = None,
) -> list[str]:
    """What stops `change` from moving to `to`: empty when it may go. Forms show these inline."""
    settings = _settings(settings)
    details = details or MoveDetails()
    if to not in allowed_transitions(change):
        offered = ", ".join(s.label for s in allowed_transitions(change)) or "none: it is final"
        return [f"{ChangeState(change.state).label} cannot go to {to.label} (allowed: {offered})"]
    guards = GUARDS.get(to, ())
    if ChangeState(change.state) is C.NEW and to is not C.CANCELED:
        guards = (_planned, *guards)  # leaving New: a window and CIs
    return [problem for guard in guards for problem in guard(session, change, settings, details)]


def transition_change(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    to: ChangeState | str,
    *,
    override_conflicts: str | None = None,
    close_code: str | None = None,
    close_notes: str | None = None,
    review_notes: str | None = None,
    cancel_reason: str | None = None,
    note: str | None = None,
    settings: ItsmSettings | None = None,
) -> Change:
    settings = _settings(settings)
    target = parse_state(to) if isinstance(to, str) else to
    details = MoveDetails(override_conflicts, close_code, close_notes, review_notes, cancel_reason)
    change = _locked(session, number)
    jn.check_version("change", change.number, change, expected_version)
    if target is C.SCHEDULED:
        recheck_conflicts(session, change, settings)
    problems = readiness(session, change, target, settings, details)
    if problems:
        raise TransitionRefused(
            f"{change.number} cannot go to {target.label}: " + "; ".join(problems)
        )
    _move(session, actor, change, target, settings, details)
    if note and note.strip():
        jn.note(session, actor, RECORD, change.id, note, internal=True)
    session.flush()
    return change


def _move(
    session: Session,
    actor: str,
    change: Change,
    target: ChangeState,
    settings: ItsmSettings,
    details: MoveDetails | None = None,
) -> None:
    details = details or MoveDetails()
    now = clock.now()
    fields: dict[str, Any] = {"state": target.value}
    overriding = target is C.SCHEDULED and (details.override_conflicts or "").strip()
    if overriding and stored_conflicts(session, change):
        fields["conflict_override"] = (details.override_conflicts or "").strip()
        fields["conflict_override_by"] = actor
    if target is C.IMPLEMENT and change.actual_start is None:
        fields["actual_start"] = now
    if target is C.REVIEW and change.actual_end is None:
        fields["actual_end"] = now
    if target is C.CLOSED:
        fields.update(close_code=details.close_code or change.close_code, closed_at=now)
        if details.close_notes:
            fields["close_notes"] = details.close_notes
        if details.review_notes:
            fields["review_notes"] = details.review_notes
    if target is C.CANCELED:
        fields.update(cancel_reason=(details.cancel_reason or "").strip(), closed_at=now)
    jn.set_fields(session, actor, RECORD, change, fields, at=now)
    if target is C.AUTHORIZE:
        _request_approvals(session, actor, change, settings, reset=True)
    if target not in ACTIVE:  # it no longer claims its window
        recheck_conflicts(session, change, settings)


# --- approvals -------------------------------------------------------------------------------


def add_approver(
    session: Session,
    actor: str,
    number: str,
    approver: str,
    settings: ItsmSettings | None = None,
) -> ChangeApproval:
    """Ask one more named approver (before or during Authorize)."""
    change = get_change(session, number)
    _require_state(change, ASKING_STATES, "{number} is {state}: approvals are closed")
    approver = approver.strip()
    if not approver:
        raise ItsmError("name the approver")
    existing = session.scalar(
        select(ChangeApproval).where(
            ChangeApproval.change_id == change.id, ChangeApproval.approver == approver
        )
    )
    if existing is not None:
        return existing
    approval = _ask(session, actor, change, approver)
    session.flush()
    return approval


def may_decide(actor: str, approver: str, settings: ItsmSettings) -> bool:
    return actor == approver or actor in settings.groups.get(approver, [])


def decidable(
    session: Session,
    actor: str,
    change: Change,
    settings: ItsmSettings | None = None,
    *,
    approver: str | None = None,
) -> list[ChangeApproval]:
    """The pending approvals `actor` may decide on `change` (only `approver`'s when named);
    refused, with the reason, when there is none."""
    settings = _settings(settings)
    _require_state(change, (C.AUTHORIZE,), "{number} is {label}, not Authorize")
    pending = [a for a in approvals(session, change) if a.decision == "requested"]
    if approver is None:
        mine = [a for a in pending if may_decide(actor, a.approver, settings)]
        if not mine:
            raise ItsmError(f"{actor} has no approval to give on {change.number}")
        return mine
    found = [a for a in pending if a.approver == approver]
    if not found:
        raise ItsmError(f"no pending approval by {approver} on {change.number}")
    if not may_decide(actor, approver, settings):
        raise ItsmError(f"{actor} may not decide for {approver}")
    return found


def decide(
    session: Session,
    actor: str,
    number: str,
    decision: str,
    comment: str = "",
    *,
    approver: str | None = None,
    settings: ItsmSettings | None = None,
) -> Change:
    """Record an approver's decision ("approved" or "rejected", with a comment; a rejection
    needs one). `approver` defaults to the actor's own pending approval. The last approval
    schedules the change unless it has unresolved conflicts; a rejection sends it to New."""
    settings = _settings(settings)
    if decision not in ("approved", "rejected"):
        raise ItsmError("decide approved or rejected")
    change = _locked(session, number)
    approval = decidable(session, actor, change, settings, approver=approver)[0]
    if decision == "rejected" and not comment.strip():
        raise ItsmError("a rejection needs a comment")
    now = clock.now()
    approval.decision, approval.comment = decision, comment.strip()
    approval.decided_at, approval.decided_by = now, actor
    _journal_approval(
        session,
        actor,
        change,
        f"{approval.approver}: {decision}",
        old=f"{approval.approver}: requested",
        text=comment.strip(),
    )
    session.flush()
    if decision == "rejected":
        jn.set_fields(session, actor, RECORD, change, {"state": C.NEW.value}, at=now)
        jn.journal(
            session,
            actor,
            RECORD,
            change.id,
            "system",
            text=f"rejected by {approval.approver}: back to New",
        )
    elif all(a.decision == "approved" for a in approvals(session, change)):
        recheck_conflicts(session, change, settings)
        if readiness(session, change, C.SCHEDULED, settings):
            jn.journal(
                session,
                actor,
                RECORD,
                change.id,
                "system",
                text="approved; conflicts must be resolved or overridden before it "
                "can be scheduled",
            )
        else:
            _move(session, actor, change, C.SCHEDULED, settings)
    session.flush()
    return change


def add_note(
    session: Session, actor: str, number: str, text: str, *, internal: bool = True
) -> JournalEntry:
    change = get_change(session, number)
    entry = jn.note(session, actor, RECORD, change.id, text, internal=internal)
    session.flush()
    return entry


# --- lists -----------------------------------------------------------------------------------

SORTS = {
    "default": Sort((SortKey(Change.id, descending=True),)),
    "newest": Sort((SortKey(Change.id, descending=True),)),
    "planned": Sort((SortKey(Change.planned_start), SortKey(Change.id))),
    "updated": Sort(
        (SortKey(Change.updated_at, descending=True), SortKey(Change.id, descending=True))
    ),
}


def _filtered(query: ListQuery) -> Select[Change]:
    statement = select(Change)
    if query.view == "breaching":
        raise QueryError("changes have no SLA: use open, mine, my_group, unassigned or all")
    if query.view != "all" and not query.states:
        statement = statement.where(Change.state.in_([s.value for s in OPEN]))
    if query.view == "mine":
        statement = statement.where(Change.assignee == query.me)
    elif query.view == "my_group":
        statement = statement.where(Change.assignment_group.in_(list(query.my_groups)))
    elif query.view == "unassigned":
        statement = statement.where(Change.assignee.is_(None))
    if query.states:
        statement = statement.where(Change.state.in_([parse_state(s).value for s in query.states]))
    if query.assignment_group:
        statement = statement.where(Change.assignment_group == query.assignment_group)
    if query.assignee:
        statement = statement.where(Change.assignee == query.assignee)
    if query.ci_id is not None:
        statement = statement.where(
            Change.id.in_(select(ChangeCI.change_id).where(ChangeCI.ci_id == query.ci_id))
        )
    if query.text:
        pattern = text_pattern(query.text)
        statement = statement.where(
            Change.number.ilike(pattern, escape="\\")
            | Change.short_description.ilike(pattern, escape="\\")
        )
    if query.sort == "planned":
        statement = statement.where(Change.planned_start.is_not(None))
    return statement


def list_changes(
    session: Session,
    query: ListQuery | None = None,
    *,
    after: str | None = None,
    limit: int = 100,
) -> Page[Change]:
    query = query or ListQuery()
    if query.sort not in SORTS:
        raise QueryError(f"unknown sort {query.sort!r} ({', '.join(SORTS)})")
    return page(session, _filtered(query), SORTS[query.sort], after, limit)


def recent_changes_for_ci(
    session: Session, ci_id: int, since: datetime, limit: int = 10
) -> Sequence[Change]:
    """Changes on a CI that ended (or are planned to end) after `since`: "what changed on this
    box lately" for the alert and incident views."""
    return session.scalars(
        select(Change)
        .join(ChangeCI, ChangeCI.change_id == Change.id)
        .where(
            ChangeCI.ci_id == ci_id,
            Change.state != C.CANCELED.value,
            or_(Change.actual_end >= since, Change.planned_end >= since),
        )
        .order_by(Change.planned_start.desc(), Change.id.desc())
        .limit(limit)
    ).all()
