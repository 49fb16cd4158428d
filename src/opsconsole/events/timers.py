"""What changes with time alone: snoozes end, silences start and end, maintenance windows open
and close, a flapping alert that went quiet settles.

`run_timers` is idempotent and cheap (indexed queries over the few alerts concerned). The
pipeline runs it on its way every `timer_interval` seconds, so a poller feeding events keeps it
going; the console and the CLI may call it too.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.events.journal import promote_children, record, restate, resuppress
from opsconsole.events.matchers import all_match
from opsconsole.events.settings import EventSettings
from opsconsole.events.silences import end_until_recovery, matchers_of, release
from opsconsole.events.suppress import (
    active_silences,
    maintenance_lookup,
    maintenance_lookup_many,
)
from opsconsole.store.alert_models import ACTIVE_STATES, Alert, AlertState, Silence, Suppression
from opsconsole.store.changelog import SYSTEM_ACTOR

# Silences this process has applied since they started: a silence that starts later than it
# was created is applied by the first timer run after its start (re-applying is harmless).
_applied: weakref.WeakKeyDictionary[Engine, set[int]] = weakref.WeakKeyDictionary()


@dataclass
class TimerSummary:
    snoozes_ended: int = 0
    silences_started: int = 0
    silences_ended: int = 0
    maintenance_changed: int = 0
    flapping_ended: int = 0

    @property
    def changed(self) -> bool:
        return any(vars(self).values())


def run_timers(
    session: Session, settings: EventSettings | None = None, actor: str | None = None
) -> TimerSummary:
    settings = settings or EventSettings()
    now = clock.now()
    actor = actor or str(session.info.get("actor", SYSTEM_ACTOR))
    summary = TimerSummary()
    summary.snoozes_ended = _end_snoozes(session, actor, now)
    summary.silences_ended = _end_silences(session, actor, now)
    summary.silences_started = _start_silences(session, actor, now)
    summary.maintenance_changed = _maintenance(session, actor, now)
    summary.flapping_ended = _settle_flapping(session, settings, actor, now)
    session.flush()
    return summary


def _end_snoozes(session: Session, actor: str, now: datetime) -> int:
    due = session.scalars(
        select(Alert).where(Alert.snoozed_until.is_not(None), Alert.snoozed_until <= now)
    ).all()
    for alert in due:
        until = alert.snoozed_until
        alert.snoozed_until = None
        if not AlertState(alert.state).active:
            continue
        who = alert.acked_by
        alert.acked_by = alert.acked_at = alert.ack_note = alert.ack_ticket = None
        alert.ack_sticky = False
        old = restate(alert)
        record(session, alert, actor, "snooze ended",
               f"snoozed by {who} until {until:%Y-%m-%d %H:%M} UTC; open again" if until else "",
               old, now)  # fmt: skip
    return len(due)


def _end_silences(session: Session, actor: str, now: datetime) -> int:
    ended = session.scalars(
        select(Silence).where(
            Silence.expired_at.is_(None), Silence.ends_at.is_not(None), Silence.ends_at <= now
        )
    ).all()
    for silence in ended:
        silence.expired_at = silence.ends_at
        silence.expired_by = SYSTEM_ACTOR
    if ended:
        session.flush()
        release(session, [s.id for s in ended], actor, now)
    # "Until the alert recovers" whose alert ended some other way (closed by an operator).
    orphaned = session.execute(
        select(Silence.until_alert_id)
        .join(Alert, Alert.id == Silence.until_alert_id)
        .where(
            Silence.expired_at.is_(None),
            Silence.until_recovery.is_(True),
            Alert.state.in_([AlertState.RESOLVED.value, AlertState.CLOSED.value]),
        )
    ).scalars()
    return len(ended) + end_until_recovery(session, [i for i in orphaned if i is not None], now)


# A silence whose start was later than its creation is applied by the timers once it starts;
# one created to start at once was applied by create_silence. Look back this far for starts.
START_LOOKBACK = timedelta(hours=1)
_FACT_COLUMNS = (Alert.id, Alert.ci_name, Alert.check, Alert.severity, Alert.services,
                 Alert.message, Alert.resource, Alert.source)  # fmt: skip


@dataclass(slots=True)
class _Facts:
    """What matchers look at, read as plain columns: no ORM object per active alert."""

    id: int
    ci_name: str
    check: str
    severity: str
    services: str
    message: str
    resource: str
    source: str


def _start_silences(session: Session, actor: str, now: datetime) -> int:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    applied = _applied.setdefault(engine, set())
    fresh = [
        s
        for s in active_silences(session, now)
        if s.id not in applied
        and s.starts_at > s.created_at
        and s.starts_at >= now - START_LOOKBACK
    ]
    if not fresh:
        return 0
    actionable = [
        _Facts(*row)
        for row in session.execute(
            select(*_FACT_COLUMNS).where(
                Alert.state.in_([AlertState.OPEN.value, AlertState.ACKNOWLEDGED.value])
            )
        )
    ]
    hits: set[int] = set()
    for silence in fresh:
        matchers = matchers_of(silence)
        hits.update(a.id for a in actionable if all_match(matchers, a))
        applied.add(silence.id)
    if hits:
        found = session.scalars(select(Alert).where(Alert.id.in_(sorted(hits)))).all()
        resuppress(session, found, actor, now)
    return len(fresh)


def _maintenance(session: Session, actor: str, now: datetime) -> int:
    """Re-ask maintenance for the CIs of active alerts (once per CI); only alerts whose verdict
    changes (a window opened or closed) are loaded and re-decided."""
    lookup = maintenance_lookup()
    if lookup is None:
        return 0
    rows = session.execute(
        select(Alert.id, Alert.ci_id, Alert.suppression).where(
            Alert.state.in_([s.value for s in ACTIVE_STATES]),
            Alert.ci_id.is_not(None),
            or_(Alert.suppression.is_(None), Alert.suppression == Suppression.MAINTENANCE.value),
        )
    ).all()
    in_window: dict[int, bool] = {}
    many = maintenance_lookup_many()
    if many is not None:  # every CI in one query
        ci_ids = sorted({ci_id for _, ci_id, _ in rows if ci_id is not None})
        windows = many(session, ci_ids, now) if ci_ids else {}
        in_window = {ci_id: ci_id in windows for ci_id in ci_ids}
    changed: list[int] = []
    for alert_id, ci_id, suppression in rows:
        if ci_id is None:
            continue
        if ci_id not in in_window:
            in_window[ci_id] = lookup(session, ci_id, now) is not None
        if in_window[ci_id] != (suppression == Suppression.MAINTENANCE.value):
            changed.append(alert_id)
    if not changed:
        return 0
    found = session.scalars(select(Alert).where(Alert.id.in_(changed))).all()
    return resuppress(session, found, actor, now)


def _settle_flapping(session: Session, settings: EventSettings, actor: str, now: datetime) -> int:
    quiet = now - timedelta(seconds=settings.flap_quiet_reset)
    flapping = session.scalars(
        select(Alert).where(
            Alert.state == AlertState.SUPPRESSED.value,
            Alert.flapping.is_(True),
            Alert.last_seen <= quiet,
        )
    ).all()
    ended = 0
    for alert in flapping:
        last = max(alert.last_seen, alert.resolved_at or alert.last_seen)
        if last > quiet:
            continue
        alert.flapping = False
        alert.flap_changes, alert.flap_state, alert.flap_value = "", None, 0.0
        old = restate(alert)
        record(session, alert, actor, "flapping ended", "no state change for a while", old, now)
        resuppress(session, [alert], actor, now)
        if not alert.problem and settings.auto_resolve:
            alert.resolved_at = now
            alert.snoozed_until = None
            old = restate(alert)
            record(session, alert, actor, "resolved", "recovered (flapping ended)", old, now)
            session.flush()
            promote_children(session, alert, actor, now)
            end_until_recovery(session, [alert.id], now)
        ended += 1
    return ended
