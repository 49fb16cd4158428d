"""Incidents: create (by hand or from an alert), update, transition, note, list.

Every function takes a session and an actor (the operator or "rules"); every field change,
note and transition is journaled with actor and time, and the SLA clocks are replayed from that
journal after each write (opsconsole.itsm.sla). Edits carry the version the operator started
from: a save from an older version raises VersionConflict and changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.cmdb.impact import impacted_services
from opsconsole.itsm import journal as jn
from opsconsole.itsm.journal import ItsmError, NotFound, TransitionRefused
from opsconsole.itsm.priority import (
    impact_from_criticalities,
    label,
    priority_of,
    urgency_from_severity,
)
from opsconsole.itsm.query import ListQuery, Page, QueryError, Sort, SortKey, page, text_pattern
from opsconsole.itsm.settings import ItsmSettings
from opsconsole.itsm.sla import IncidentSla, SlaBadge, SlaEvent, Stage, badge, incident_clocks
from opsconsole.store.alert_models import Alert
from opsconsole.store.itsm_models import Change, Incident, IncidentAlert, JournalEntry, Problem
from opsconsole.store.models import CI, CIClass

RECORD = "incident"
_IN_CHUNK = 900  # bound parameters per IN list (well under SQLite's limit)


class IncidentState(enum.StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    CLOSED = "closed"
    CANCELED = "canceled"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").title()


S = IncidentState
OPEN_STATES = (S.NEW, S.IN_PROGRESS, S.ON_HOLD)
# DESIGN: New -> In Progress -> On Hold -> In Progress -> Resolved -> Closed; Canceled from any
# open state; Resolved can reopen to In Progress; Closed and Canceled are final.
TRANSITIONS: dict[IncidentState, tuple[IncidentState, ...]] = {
    S.NEW: (S.IN_PROGRESS, S.CANCELED),
    S.IN_PROGRESS: (S.ON_HOLD, S.RESOLVED, S.CANCELED),
    S.ON_HOLD: (S.IN_PROGRESS, S.CANCELED),
    S.RESOLVED: (S.CLOSED, S.IN_PROGRESS),
    S.CLOSED: (),
    S.CANCELED: (),
}

EDITABLE_FIELDS = frozenset(
    {
        "short_description",
        "description",
        "caller",
        "category",
        "ci_id",
        "service_id",
        "impact",
        "urgency",
        "assignment_group",
        "assignee",
        "problem_id",
        "caused_by_change_id",
    }
)


class DuplicateIncident(ItsmError):
    """Raising an incident from an alert that is already linked to an open incident: the
    message names it; `number` and `incident_id` let a screen offer to open it instead."""

    def __init__(self, alert_id: int, number: str, incident_id: int) -> None:
        super().__init__(f"alert {alert_id} already has an open incident: {number}")
        self.alert_id = alert_id
        self.number = number
        self.incident_id = incident_id


def parse_state(text: str) -> IncidentState:
    key = text.strip().lower().replace(" ", "_").replace("-", "_")
    try:
        return IncidentState(key)
    except ValueError:
        names = ", ".join(s.value for s in IncidentState)
        raise ItsmError(f"unknown incident state {text!r} ({names})") from None


def _settings(settings: ItsmSettings | None) -> ItsmSettings:
    return settings if settings is not None else ItsmSettings()


# --- reading ---------------------------------------------------------------------------------


def find_incident(session: Session, number: str) -> Incident | None:
    return session.scalar(select(Incident).where(Incident.number == number.strip().upper()))


def get_incident(session: Session, number: str) -> Incident:
    incident = find_incident(session, number)
    if incident is None:
        raise NotFound(f"no incident {number.strip().upper()}")
    return incident


def _locked(session: Session, number: str) -> Incident:
    """The incident, row-locked for this transaction (PostgreSQL; SQLite writers are
    serialised anyway) and freshly read, so the version check sees the latest save."""
    incident = session.scalar(
        select(Incident)
        .where(Incident.number == number.strip().upper())
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if incident is None:
        raise NotFound(f"no incident {number.strip().upper()}")
    return incident


def allowed_transitions(incident: Incident) -> list[IncidentState]:
    """The next states to offer (and the only ones transition_incident accepts)."""
    return list(TRANSITIONS[IncidentState(incident.state)])


def history(session: Session, incident: Incident) -> Sequence[JournalEntry]:
    return jn.entries(session, RECORD, incident.id)


def linked_alert_ids(session: Session, incident: Incident) -> list[int]:
    return list(
        session.scalars(
            select(IncidentAlert.alert_id)
            .where(IncidentAlert.incident_id == incident.id)
            .order_by(IncidentAlert.alert_id)
        )
    )


def incidents_for_alert(session: Session, alert_id: int) -> Sequence[Incident]:
    return session.scalars(
        select(Incident)
        .join(IncidentAlert, IncidentAlert.incident_id == Incident.id)
        .where(IncidentAlert.alert_id == alert_id)
        .order_by(Incident.id)
    ).all()


def open_incident_for_alert(session: Session, alert_id: int) -> Incident | None:
    """The first (oldest) open incident the alert is linked to, if any."""
    return session.scalar(
        select(Incident)
        .join(IncidentAlert, IncidentAlert.incident_id == Incident.id)
        .where(
            IncidentAlert.alert_id == alert_id,
            Incident.state.in_([s.value for s in OPEN_STATES]),
        )
        .order_by(Incident.id)
        .limit(1)
    )


# --- SLA -------------------------------------------------------------------------------------


def sla_events(entries: Iterable[JournalEntry]) -> list[SlaEvent]:
    """The journal's state and priority changes, in order: the input of the SLA replay."""
    events = []
    for entry in entries:
        if entry.kind != "field" or entry.new_value is None:
            continue
        if entry.field == "state":
            events.append(SlaEvent(entry.at, state=entry.new_value))
        elif entry.field == "priority":
            events.append(SlaEvent(entry.at, priority=int(entry.new_value)))
    return events


def incident_sla(
    session: Session,
    incident: Incident,
    settings: ItsmSettings | None = None,
    now: datetime | None = None,
    *,
    pending: Sequence[SlaEvent] = (),
) -> IncidentSla:
    """Both clocks, replayed from the journal (for forms and reports). `pending`: changes
    of this transaction not yet flushed (they come last)."""
    with session.no_autoflush:
        stored = sla_events(history(session, incident)) if incident.id is not None else []
    return incident_clocks([*stored, *pending], _settings(settings), now or clock.now())


def sla_badge(
    incident: Incident, settings: ItsmSettings | None = None, now: datetime | None = None
) -> SlaBadge:
    """The SLA cell of a list row, from stored columns (no journal read)."""
    return badge(
        state=incident.state,
        response_warn_at=incident.response_warn_at,
        response_due_at=incident.response_due_at,
        response_breached_at=incident.response_breached_at,
        resolution_warn_at=incident.resolution_warn_at,
        resolution_due_at=incident.resolution_due_at,
        resolution_breached_at=incident.resolution_breached_at,
        responded=incident.responded_at is not None,
        now=now or clock.now(),
        pause_states=_settings(settings).sla.pause_states,
    )


def refresh_sla(
    session: Session,
    incident: Incident,
    settings: ItsmSettings | None = None,
    *,
    pending: Sequence[SlaEvent] = (),
) -> IncidentSla:
    """Replay the clocks and store their warning, due and breach times on the incident (set
    before the incident's UPDATE is flushed, so one save is one version)."""
    sla = incident_sla(session, incident, settings, pending=pending)
    for name, status in (("response", sla.response), ("resolution", sla.resolution)):
        live = status.stage in (Stage.RUNNING, Stage.PAUSED)
        _set_if_changed(incident, f"{name}_warn_at", status.warn_at if live else None)
        _set_if_changed(incident, f"{name}_due_at", status.due_at if live else None)
        _set_if_changed(incident, f"{name}_breached_at", status.breached_at)
    return sla


def _pending(done: dict[str, tuple[Any, Any]], at: datetime) -> list[SlaEvent]:
    """The SLA event of this save's state and priority changes (journaled, not yet flushed)."""
    state = done["state"][1] if "state" in done else None
    priority = done["priority"][1] if "priority" in done else None
    if state is None and priority is None:
        return []
    return [SlaEvent(at, state=state, priority=priority)]


def _set_if_changed(record: Any, name: str, value: Any) -> None:
    if getattr(record, name) != value:
        setattr(record, name, value)


def record_breaches(
    session: Session, settings: ItsmSettings | None = None, now: datetime | None = None
) -> int:
    """Store the breach time of running clocks that passed their due time since the last save,
    for reports (a periodic job). Derived data only: a plain UPDATE that leaves the version
    alone, so no operator's open form goes stale because a clock ran out."""
    now = now or clock.now()
    candidates = session.scalars(
        select(Incident).where(
            Incident.state.in_([s.value for s in OPEN_STATES]),
            or_(
                (Incident.response_due_at <= now) & Incident.response_breached_at.is_(None),
                (Incident.resolution_due_at <= now) & Incident.resolution_breached_at.is_(None),
            ),
        )
    ).all()
    for incident in candidates:
        sla = incident_sla(session, incident, settings, now)
        session.execute(
            update(Incident)
            .where(Incident.id == incident.id)
            .values(
                response_breached_at=sla.response.breached_at,
                resolution_breached_at=sla.resolution.breached_at,
            )
            .execution_options(synchronize_session=False)
        )
    return len(candidates)


# --- writing ---------------------------------------------------------------------------------


def _check_ci(session: Session, ci_id: int | None, *, service: bool) -> None:
    if ci_id is None:
        return
    ci = session.get(CI, ci_id)
    if ci is None:
        raise ItsmError(f"no CI with id {ci_id}")
    if service and ci.ci_class != CIClass.SERVICE:
        raise ItsmError(f"{ci.name} is a {ci.ci_class}, not a business service")


def _check_refs(session: Session, fields: dict[str, Any], settings: ItsmSettings) -> None:
    if "ci_id" in fields:
        _check_ci(session, fields["ci_id"], service=False)
    if "service_id" in fields:
        _check_ci(session, fields["service_id"], service=True)
    category = fields.get("category")
    if category is not None and settings.categories and category not in settings.categories:
        raise ItsmError(f"unknown category {category!r} ({', '.join(settings.categories)})")
    if fields.get("problem_id") is not None and session.get(Problem, fields["problem_id"]) is None:
        raise ItsmError(f"no problem with id {fields['problem_id']}")
    change_id = fields.get("caused_by_change_id")
    if change_id is not None and session.get(Change, change_id) is None:
        raise ItsmError(f"no change with id {change_id}")
    for name in ("short_description",):
        if name in fields and not str(fields[name] or "").strip():
            raise ItsmError("a short description is required")


def create_incident(
    session: Session,
    actor: str,
    *,
    short_description: str,
    description: str = "",
    caller: str | None = None,
    category: str | None = None,
    ci_id: int | None = None,
    service_id: int | None = None,
    impact: int = 3,
    urgency: int = 3,
    assignment_group: str | None = None,
    assignee: str | None = None,
    alert_ids: Sequence[int] = (),
    settings: ItsmSettings | None = None,
) -> Incident:
    settings = _settings(settings)
    fields: dict[str, Any] = {
        "short_description": short_description.strip(),
        "description": description,
        "caller": caller,
        "category": category,
        "ci_id": ci_id,
        "service_id": service_id,
        "impact": impact,
        "urgency": urgency,
        "assignment_group": assignment_group,
        "assignee": assignee,
    }
    _check_refs(session, fields, settings)
    priority = priority_of(impact, urgency, settings)
    now = clock.now()
    incident = Incident(
        number=jn.next_number(session, RECORD),
        state=S.NEW.value,
        priority=priority,
        opened_by=actor,
        opened_at=now,
        **fields,
    )
    refresh_sla(
        session, incident, settings, pending=[SlaEvent(now, state=S.NEW.value, priority=priority)]
    )
    session.add(incident)
    session.flush()
    jn.journal(session, actor, RECORD, incident.id, "system", text="incident opened", at=now)
    for name in ("state", "priority", *fields):
        value = getattr(incident, name)
        if value not in (None, ""):
            jn.journal(session, actor, RECORD, incident.id, "field", field=name, new=value, at=now)
    for alert_id in alert_ids:
        link_alert(session, actor, incident, alert_id)
    session.flush()
    return incident


def update_incident(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    *,
    settings: ItsmSettings | None = None,
    **changes: Any,
) -> Incident:
    """Edit fields (not the state: see transition_incident). Priority follows impact and
    urgency. `expected_version` is the version the operator's form was loaded at."""
    settings = _settings(settings)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ItsmError(f"not editable: {', '.join(sorted(unknown))}")
    incident = _locked(session, number)
    jn.check_version("incident", incident.number, incident, expected_version)
    if IncidentState(incident.state) in (S.CLOSED, S.CANCELED):
        raise ItsmError(f"{incident.number} is {incident.state}: it can no longer be edited")
    if "short_description" in changes:
        changes["short_description"] = str(changes["short_description"] or "").strip()
    _check_refs(session, changes, settings)
    impact = changes.get("impact", incident.impact)
    urgency = changes.get("urgency", incident.urgency)
    changes["priority"] = priority_of(impact, urgency, settings)
    now = clock.now()
    done = jn.set_fields(session, actor, RECORD, incident, changes, at=now)
    if done:
        refresh_sla(session, incident, settings, pending=_pending(done, now))
        session.flush()
    return incident


def transition_incident(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    to: IncidentState | str,
    *,
    on_hold_reason: str | None = None,
    resolution_code: str | None = None,
    resolution_notes: str | None = None,
    note: str | None = None,
    settings: ItsmSettings | None = None,
) -> Incident:
    """Move to an allowed next state. On Hold needs a reason; Resolved needs a resolution code
    and notes; an optional work note is journaled with the move."""
    settings = _settings(settings)
    target = parse_state(to) if isinstance(to, str) else to
    incident = _locked(session, number)
    jn.check_version("incident", incident.number, incident, expected_version)
    current = IncidentState(incident.state)
    if target not in TRANSITIONS[current]:
        offered = ", ".join(s.label for s in TRANSITIONS[current]) or "none: it is final"
        raise TransitionRefused(
            f"{incident.number}: {current.label} cannot go to {target.label} (allowed: {offered})"
        )
    now = clock.now()
    changes: dict[str, Any] = {"state": target.value}
    if target is S.ON_HOLD:
        reason = (on_hold_reason or "").strip()
        if not reason:
            raise TransitionRefused(
                f"On Hold needs a reason ({', '.join(settings.on_hold_reasons)})"
            )
        if reason not in settings.on_hold_reasons:
            raise TransitionRefused(
                f"unknown on-hold reason {reason!r} ({', '.join(settings.on_hold_reasons)})"
            )
        changes["on_hold_reason"] = reason
    elif current is S.ON_HOLD:
        changes["on_hold_reason"] = None
    if target is S.RESOLVED:
        code = (resolution_code or "").strip()
        notes = (resolution_notes or "").strip()
        if not code or not notes:
            raise TransitionRefused("Resolved needs a resolution code and resolution notes")
        if code not in settings.resolution_codes:
            raise TransitionRefused(
                f"unknown resolution code {code!r} ({', '.join(settings.resolution_codes)})"
            )
        changes.update(resolution_code=code, resolution_notes=notes, resolved_at=now)
    if current is S.RESOLVED and target is S.IN_PROGRESS:  # reopened
        changes.update(resolution_code=None, resolution_notes=None, resolved_at=None)
    if target is S.CLOSED:
        changes["closed_at"] = now
    if current is S.NEW and incident.responded_at is None:
        changes["responded_at"] = now
    done = jn.set_fields(session, actor, RECORD, incident, changes, at=now)
    refresh_sla(session, incident, settings, pending=_pending(done, now))
    if note and note.strip():
        jn.note(session, actor, RECORD, incident.id, note, internal=True)
    if target in (S.RESOLVED, S.CLOSED) and settings.resolve_linked_alerts:
        _resolve_linked_alerts(session, actor, incident)
    session.flush()
    return incident


def resolve_incident(
    session: Session,
    actor: str,
    number: str,
    expected_version: int | None,
    *,
    code: str,
    notes: str,
    settings: ItsmSettings | None = None,
) -> Incident:
    """Resolve; an incident still New is first taken In Progress (both moves journaled)."""
    incident = _locked(session, number)
    jn.check_version("incident", incident.number, incident, expected_version)
    if incident.state in (S.NEW.value, S.ON_HOLD.value):
        transition_incident(session, actor, number, None, S.IN_PROGRESS, settings=settings)
    return transition_incident(
        session,
        actor,
        number,
        None,
        S.RESOLVED,
        resolution_code=code,
        resolution_notes=notes,
        settings=settings,
    )


def add_note(
    session: Session, actor: str, number: str, text: str, *, internal: bool = True
) -> JournalEntry:
    """A work note (internal) or a comment (user-facing). Needs no version: it edits no field,
    so it never conflicts with someone's open form."""
    incident = get_incident(session, number)
    entry = jn.note(session, actor, RECORD, incident.id, text, internal=internal)
    session.flush()
    return entry


def link_alert(session: Session, actor: str, incident: Incident, alert_id: int) -> bool:
    """Link an alert (idempotent); journaled. Returns False if it was linked already."""
    if session.get(Alert, alert_id) is None:
        raise ItsmError(f"no alert with id {alert_id}")
    if session.get(IncidentAlert, (incident.id, alert_id)) is not None:
        return False
    _add_link(session, actor, incident, alert_id, clock.now())
    session.flush()
    return True


class AlertLink(NamedTuple):
    incident: Incident
    alert_id: int
    at: datetime | None = None  # when it was decided (default: now)


def link_alerts(session: Session, actor: str, links: Sequence[AlertLink]) -> int:
    """`link_alert` for many (incident, alert) pairs, in their order, as one write: one query
    for the alerts, one for the links they have, one flush (the ITSM rules link a batch's
    alerts with it). Returns how many were linked (not linked already)."""
    if not links:
        return 0
    alert_ids = sorted({link.alert_id for link in links})
    found: set[int] = set()
    linked: set[tuple[int, int]] = set()
    for start in range(0, len(alert_ids), _IN_CHUNK):
        part = alert_ids[start : start + _IN_CHUNK]
        found.update(session.scalars(select(Alert.id).where(Alert.id.in_(part))))
        linked.update(
            (incident_id, alert_id)
            for incident_id, alert_id in session.execute(
                select(IncidentAlert.incident_id, IncidentAlert.alert_id).where(
                    IncidentAlert.alert_id.in_(part)
                )
            )
        )
    done = 0
    for link in links:
        if link.alert_id not in found:
            raise ItsmError(f"no alert with id {link.alert_id}")
        if (link.incident.id, link.alert_id) in linked:
            continue
        _add_link(session, actor, link.incident, link.alert_id, link.at or clock.now())
        linked.add((link.incident.id, link.alert_id))
        done += 1
    session.flush()
    return done


def _add_link(
    session: Session, actor: str, incident: Incident, alert_id: int, at: datetime
) -> None:
    session.add(IncidentAlert(incident_id=incident.id, alert_id=alert_id, linked_by=actor,
                              linked_at=at))  # fmt: skip
    jn.journal(
        session,
        actor,
        RECORD,
        incident.id,
        "field",
        field="alerts",
        new=alert_id,
        text=f"alert {alert_id} linked",
        at=at,
    )


def unlink_alert(session: Session, actor: str, incident: Incident, alert_id: int) -> bool:
    link = session.get(IncidentAlert, (incident.id, alert_id))
    if link is None:
        return False
    session.delete(link)
    jn.journal(
        session,
        actor,
        RECORD,
        incident.id,
        "field",
        field="alerts",
        old=alert_id,
        text=f"alert {alert_id} unlinked",
    )
    session.flush()
    return True


def _resolve_linked_alerts(session: Session, actor: str, incident: Incident) -> None:
    ids = linked_alert_ids(session, incident)
    if not ids:
        return
    from opsconsole.itsm.alerts import resolve_alerts

    resolved = resolve_alerts(session, actor, ids, f"resolved with {incident.number}")
    if resolved:
        jn.journal(
            session,
            actor,
            RECORD,
            incident.id,
            "system",
            text=f"linked alerts resolved: {', '.join(map(str, resolved))}",
        )


def auto_close(
    session: Session,
    actor: str,
    settings: ItsmSettings | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Close incidents Resolved longer than `auto_close_after` (a periodic job)."""
    settings = _settings(settings)
    if settings.auto_close_after.total_seconds() <= 0:
        return []
    cutoff = (now or clock.now()) - settings.auto_close_after
    numbers = list(
        session.scalars(
            select(Incident.number).where(
                Incident.state == S.RESOLVED.value, Incident.resolved_at <= cutoff
            )
        )
    )
    for number in numbers:
        transition_incident(
            session,
            actor,
            number,
            None,
            S.CLOSED,
            settings=settings,
            note="closed automatically after the resolution period",
        )
    return numbers


# --- from an alert ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentDraft:
    """The fields a form (or a rule) fills in from an alert, before the operator saves."""

    short_description: str
    description: str
    ci_id: int | None
    service_id: int | None
    impact: int
    urgency: int
    priority: int
    assignment_group: str | None
    category: str | None
    alert_id: int | None
    services: list[str] = field(default_factory=list)

    @property
    def priority_label(self) -> str:
        return label(self.priority)


def _category_for(check: str) -> str | None:
    if check.startswith(("snmp.link", "net.")):
        return "network"
    if check.startswith("fs."):
        return "storage"
    if check.startswith(("host.", "cpu.", "mem.", "swap.", "load.", "snmp.")):
        return "hardware"
    return None


def draft_from_alert(
    session: Session, alert_id: int, settings: ItsmSettings | None = None
) -> IncidentDraft:
    """Prefill from an alert: impact from the criticality of the services its CI supports
    (CMDB impact graph), urgency from its severity, priority from the matrix."""
    settings = _settings(settings)
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise ItsmError(f"no alert with id {alert_id}")
    ci = session.get(CI, alert.ci_id) if alert.ci_id is not None else None
    services = [p.ci for p in impacted_services(session, ci)] if ci is not None else []
    impact = impact_from_criticalities([s.criticality for s in services], settings)
    urgency = urgency_from_severity(alert.severity, settings)
    top = services[0] if services else None  # impacted_services sorts most critical first
    subject = alert.ci_name or (ci.name if ci else "unknown CI")
    what = f"{alert.check} {alert.resource}".strip()
    short = f"{subject}: {what}: {alert.message}".replace("\n", " ")[:200]
    description = (
        f"Raised from alert {alert.id} ({alert.severity}, {alert.count}x, first seen "
        f"{alert.first_seen.isoformat()}, last seen {alert.last_seen.isoformat()}).\n\n"
        f"{alert.message}"
    )
    if services:
        description += "\n\nImpacted services: " + ", ".join(
            f"{s.name} ({s.criticality or 'no criticality'})" for s in services
        )
    return IncidentDraft(
        short_description=short,
        description=description,
        ci_id=ci.id if ci else None,
        service_id=top.id if top else None,
        impact=impact,
        urgency=urgency,
        priority=priority_of(impact, urgency, settings),
        assignment_group=(ci.support_group if ci else None),
        category=_category_for(alert.check),
        alert_id=alert.id,
        services=[s.name for s in services],
    )


def create_incident_from_alert(
    session: Session,
    actor: str,
    alert_id: int,
    *,
    assign_to: str | None = None,
    assignment_group: str | None = None,
    short_description: str | None = None,
    impact: int | None = None,
    urgency: int | None = None,
    settings: ItsmSettings | None = None,
) -> Incident:
    """Raise an incident from an alert, prefilled by draft_from_alert, with the alert linked.

    `assign_to` assigns it at once (the "raise and take it" key of the alert queue). An alert
    already linked to an open incident (New, In Progress, On Hold) gets no second one:
    DuplicateIncident names the existing incident, and nothing is written. A resolved, closed or
    canceled incident does not count."""
    settings = _settings(settings)
    # The alert's row locked first (PostgreSQL; SQLite writers are serialised anyway): of two
    # operators raising from the same alert at once, the second then sees the first's incident.
    session.execute(select(Alert.id).where(Alert.id == alert_id).with_for_update())
    existing = open_incident_for_alert(session, alert_id)
    if existing is not None:
        raise DuplicateIncident(alert_id, existing.number, existing.id)
    draft = draft_from_alert(session, alert_id, settings)
    category = draft.category if draft.category in settings.categories else None
    return create_incident(
        session,
        actor,
        short_description=short_description or draft.short_description,
        description=draft.description,
        caller=actor,
        category=category,
        ci_id=draft.ci_id,
        service_id=draft.service_id,
        impact=impact or draft.impact,
        urgency=urgency or draft.urgency,
        assignment_group=assignment_group or draft.assignment_group,
        assignee=assign_to,
        alert_ids=[alert_id],
        settings=settings,
    )


# --- lists -----------------------------------------------------------------------------------

SORTS = {
    "default": Sort((SortKey(Incident.priority), SortKey(Incident.id, descending=True))),
    "priority": Sort((SortKey(Incident.priority), SortKey(Incident.id, descending=True))),
    "newest": Sort((SortKey(Incident.id, descending=True),)),
    "updated": Sort(
        (SortKey(Incident.updated_at, descending=True), SortKey(Incident.id, descending=True))
    ),
}


def _filtered(query: ListQuery, now: datetime) -> Select[Incident]:
    statement = select(Incident)
    open_values = [s.value for s in OPEN_STATES]
    if query.view != "all" and not query.states:
        statement = statement.where(Incident.state.in_(open_values))
    if query.view == "mine":
        statement = statement.where(Incident.assignee == query.me)
    elif query.view == "my_group":
        statement = statement.where(Incident.assignment_group.in_(list(query.my_groups)))
    elif query.view == "unassigned":
        statement = statement.where(Incident.assignee.is_(None))
    elif query.view == "breaching":
        statement = statement.where(
            or_(
                Incident.response_warn_at <= now,
                Incident.resolution_warn_at <= now,
                Incident.resolution_breached_at.is_not(None),
            )
        )
    if query.states:
        statement = statement.where(
            Incident.state.in_([parse_state(s).value for s in query.states])
        )
    if query.priorities:
        statement = statement.where(Incident.priority.in_(list(query.priorities)))
    if query.assignment_group:
        statement = statement.where(Incident.assignment_group == query.assignment_group)
    if query.assignee:
        statement = statement.where(Incident.assignee == query.assignee)
    if query.ci_id is not None:
        statement = statement.where(
            or_(Incident.ci_id == query.ci_id, Incident.service_id == query.ci_id)
        )
    if query.text:
        pattern = text_pattern(query.text)
        statement = statement.where(
            Incident.number.ilike(pattern, escape="\\")
            | Incident.short_description.ilike(pattern, escape="\\")
        )
    return statement


def list_incidents(
    session: Session,
    query: ListQuery | None = None,
    *,
    after: str | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> Page[Incident]:
    """A page of incidents for a list screen: quick views, filters, keyset paging."""
    query = query or ListQuery()
    if query.sort not in SORTS:
        raise QueryError(f"unknown sort {query.sort!r} ({', '.join(SORTS)})")
    statement = _filtered(query, now or clock.now())
    return page(session, statement, SORTS[query.sort], after, limit)


def recent_incidents_for_ci(session: Session, ci_id: int, limit: int = 10) -> Sequence[Incident]:
    return session.scalars(
        select(Incident)
        .where(or_(Incident.ci_id == ci_id, Incident.service_id == ci_id))
        .order_by(Incident.id.desc())
        .limit(limit)
    ).all()
