"""Operator-side changes of alerts (ORM, so the change log records them) and their journal."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.events.suppress import Suppressor, active_silences, derive_state
from opsconsole.store.alert_models import ACTIVE_STATES, Alert, AlertHistory, AlertState

MAX_DETAIL = 2000


def record(
    session: Session, alert: Alert, actor: str, action: str, detail: str = "",
    old_state: str | None = None, at: datetime | None = None,
) -> AlertHistory:  # fmt: skip
    entry = AlertHistory(
        alert_id=alert.id, at=at or clock.now(), actor=actor, action=action,
        old_state=old_state, new_state=alert.state, detail=detail[:MAX_DETAIL],
    )  # fmt: skip
    session.add(entry)
    return entry


def restate(alert: Alert) -> str:
    """Re-derive the state from the facts; returns the state it had before."""
    old = alert.state
    alert.state = derive_state(alert)
    return old


def resuppress(
    session: Session, alerts: Iterable[Alert], actor: str, now: datetime | None = None
) -> int:
    """Decide suppression afresh for these alerts (after a silence, a maintenance window or
    flapping changed); returns how many changed."""
    now = now or clock.now()
    live = [
        a for a in alerts if AlertState(a.state) not in (AlertState.RESOLVED, AlertState.CLOSED)
    ]
    if not live:
        return 0
    suppressor = Suppressor(session, now, active_silences(session, now))
    suppressor.prefetch(a.ci_id for a in live if a.ci_id is not None)
    changed = 0
    for alert in live:
        decision = suppressor.decide(alert)
        new = (
            (decision.kind.value, decision.reason, decision.silence_id)
            if decision
            else (None, None, None)
        )
        old = (alert.suppression, alert.suppressed_reason, alert.silence_id)
        if new == old:
            continue
        alert.suppression, alert.suppressed_reason, alert.silence_id = new
        old_state = restate(alert)
        if decision is not None:
            record(session, alert, actor, "suppressed", decision.reason, old_state, now)
        else:
            record(session, alert, actor, "unsuppressed", f"no longer {old[1]}", old_state, now)
        changed += 1
    return changed


def promote_children(session: Session, root: Alert, actor: str, now: datetime | None = None
                     ) -> None:  # fmt: skip
    """A root that ended hands its active children to the oldest of them (as the pipeline
    does): an active alert is never hidden under a resolved or closed one."""
    if root.parent_id is not None:
        return
    kids = session.scalars(
        select(Alert)
        .where(Alert.parent_id == root.id, Alert.state.in_([s.value for s in ACTIVE_STATES]))
        .order_by(Alert.first_seen, Alert.fingerprint)
    ).all()
    if not kids:
        return
    head, rest = kids[0], kids[1:]
    head.parent_id, head.group_reason = None, None
    record(session, head, actor, "regrouped", f"heads the group: #{root.id} ended", head.state,
           now)  # fmt: skip
    for kid in rest:
        kid.parent_id = head.id
