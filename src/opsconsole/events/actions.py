"""What operators do to alerts: acknowledge, unacknowledge, snooze, assign, close, note.

Every function takes a session, the actor and a list of alert ids (bulk is the normal case; one
id is a list of one). Changes are ORM writes, so the change log records each, and every one gets
a journal row (`alert_history`) with who, when and what. Alerts an action does not apply to are
skipped with a reason instead of failing the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from opsconsole import clock
from opsconsole.events.journal import promote_children, record, restate
from opsconsole.events.silences import end_until_recovery
from opsconsole.store.alert_models import Alert, AlertState

MAX_NOTE = 2000


class AlertError(Exception):
    """An alert request that cannot be honoured, worded for the operator."""


class AlertConflict(AlertError):
    """Someone (or the pipeline) changed the alert between reading and writing it."""


@dataclass
class ActionResult:
    action: str
    changed: list[int] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"{self.action}: {len(self.changed)} alert(s)"]
        parts += [f"#{alert_id} skipped: {why}" for alert_id, why in self.skipped]
        return "; ".join(parts)


def get_alert(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise AlertError(f"no alert #{alert_id}")
    return alert


def _load(session: Session, alert_ids: Sequence[int]) -> list[Alert]:
    ids = list(dict.fromkeys(alert_ids))
    if not ids:
        raise AlertError("no alert given")
    found = {a.id: a for a in session.scalars(select(Alert).where(Alert.id.in_(ids)))}
    missing = [i for i in ids if i not in found]
    if missing:
        raise AlertError("no alert " + ", ".join(f"#{i}" for i in missing))
    return [found[i] for i in ids]


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise AlertConflict(
            "an alert changed while you were acting on it (new events or another operator): "
            "reload and try again"
        ) from None


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:MAX_NOTE] or None


def acknowledge(
    session: Session,
    actor: str,
    alert_ids: Sequence[int],
    *,
    note: str | None = None,
    ticket: str | None = None,
    sticky: bool = False,
) -> ActionResult:
    """ "I am on it": who, when, a note and maybe a ticket. A normal ack ends when the alert
    gets worse; a sticky one lasts until it recovers."""
    result = ActionResult("acknowledged")
    now = clock.now()
    for alert in _load(session, alert_ids):
        if not AlertState(alert.state).active:
            result.skipped.append((alert.id, f"it is {alert.state}"))
            continue
        alert.acked_by, alert.acked_at = actor, now
        alert.ack_note, alert.ack_ticket = _text(note), _text(ticket)
        alert.ack_sticky = sticky
        old = restate(alert)
        detail = "; ".join(
            part
            for part in (
                "sticky" if sticky else "",
                f"ticket {alert.ack_ticket}" if alert.ack_ticket else "",
                alert.ack_note or "",
            )
            if part
        )
        record(session, alert, actor, "acknowledged", detail, old, now)
        result.changed.append(alert.id)
    _flush(session)
    return result


def unacknowledge(session: Session, actor: str, alert_ids: Sequence[int]) -> ActionResult:
    result = ActionResult("unacknowledged")
    now = clock.now()
    for alert in _load(session, alert_ids):
        if alert.acked_by is None or not AlertState(alert.state).active:
            result.skipped.append((alert.id, "it is not acknowledged"))
            continue
        who = alert.acked_by
        alert.acked_by = alert.acked_at = alert.ack_note = alert.ack_ticket = None
        alert.ack_sticky = False
        alert.snoozed_until = None
        old = restate(alert)
        record(session, alert, actor, "unacknowledged", f"ack by {who} withdrawn", old, now)
        result.changed.append(alert.id)
    _flush(session)
    return result


def snooze(
    session: Session,
    actor: str,
    alert_ids: Sequence[int],
    duration: timedelta,
    *,
    note: str | None = None,
) -> ActionResult:
    """Acknowledge for a while: the alert comes back open when the snooze ends, unless it has
    recovered by then (an unacknowledged alert is acknowledged by the snooze)."""
    if duration <= timedelta(0):
        raise AlertError("a snooze needs a positive duration")
    result = ActionResult("snoozed")
    now = clock.now()
    until = now + duration
    for alert in _load(session, alert_ids):
        if not AlertState(alert.state).active:
            result.skipped.append((alert.id, f"it is {alert.state}"))
            continue
        if alert.acked_by is None:
            alert.acked_by, alert.acked_at = actor, now
            alert.ack_note, alert.ack_ticket, alert.ack_sticky = _text(note), None, False
        alert.snoozed_until = until
        old = restate(alert)
        detail = f"until {until:%Y-%m-%d %H:%M} UTC" + (f"; {note.strip()}" if note else "")
        record(session, alert, actor, "snoozed", detail, old, now)
        result.changed.append(alert.id)
    _flush(session)
    return result


def assign(
    session: Session, actor: str, alert_ids: Sequence[int], assignee: str | None
) -> ActionResult:
    """Assign to someone (None: unassign). `assign(s, me, ids, me)` is "assign to me"."""
    assignee = (assignee or "").strip() or None
    result = ActionResult("assigned" if assignee else "unassigned")
    now = clock.now()
    for alert in _load(session, alert_ids):
        if alert.assignee == assignee:
            result.skipped.append(
                (alert.id, f"already {'with ' + assignee if assignee else 'unassigned'}")
            )
            continue
        before = alert.assignee
        alert.assignee = assignee
        record(session, alert, actor, "assigned",
               f"{before or 'nobody'} -> {assignee or 'nobody'}", alert.state, now)  # fmt: skip
        result.changed.append(alert.id)
    _flush(session)
    return result


def close(
    session: Session, actor: str, alert_ids: Sequence[int], *, note: str | None = None
) -> ActionResult:
    """Close: done with it, whatever its condition. It gives up its fingerprint, so a later
    event opens a new alert."""
    result = ActionResult("closed")
    now = clock.now()
    closed: list[Alert] = []
    for alert in _load(session, alert_ids):
        if alert.state == AlertState.CLOSED.value:
            result.skipped.append((alert.id, "it is closed already"))
            continue
        alert.closed_at, alert.closed_by = now, actor
        alert.dedup_key = None
        alert.snoozed_until = None
        old = restate(alert)
        record(session, alert, actor, "closed", _text(note) or "", old, now)
        result.changed.append(alert.id)
        closed.append(alert)
    _flush(session)
    for alert in closed:
        promote_children(session, alert, actor, now)
    end_until_recovery(session, [a.id for a in closed], now)
    _flush(session)
    return result


def resolve_alerts(
    session: Session, actor: str, alert_ids: Sequence[int], reason: str
) -> list[int]:
    """Resolve these alerts by hand (e.g. with the incident they are linked to); those no
    longer active are left alone. Returns the ids resolved. A recurrence within the reopen
    window reopens them, as after an automatic resolution."""
    now = clock.now()
    resolved: list[Alert] = []
    for alert in _load(session, alert_ids):
        if not AlertState(alert.state).active:
            continue
        alert.resolved_at = now
        alert.snoozed_until = None
        old = restate(alert)
        record(session, alert, actor, "resolved", _text(reason) or "resolved by hand", old, now)
        resolved.append(alert)
    _flush(session)
    for alert in resolved:
        promote_children(session, alert, actor, now)
    end_until_recovery(session, [a.id for a in resolved], now)
    _flush(session)
    return [a.id for a in resolved]


def add_note(session: Session, actor: str, alert_id: int, text: str) -> None:
    text = text.strip()
    if not text:
        raise AlertError("an empty note says nothing")
    alert = get_alert(session, alert_id)
    record(session, alert, actor, "note", text, alert.state)
    _flush(session)


def is_snoozed(alert: Alert, now: datetime | None = None) -> bool:
    return alert.snoozed_until is not None and alert.snoozed_until > (now or clock.now())
