"""Silences: an operator's "I know, keep it quiet", with author, comment and an end.

A silence has matchers (all must hold) over ci, check, severity, service, text, resource and
source, with =, !=, =~ and !~, and either a time range or "until the alert recovers" (made from
an alert: it ends when that alert resolves). Its state follows from the clock: pending before
it starts, active, expired after its end or when someone expires it. Creating or expiring one
re-decides the suppression of the alerts it touches at once; timers handle starts and ends.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsconsole import clock
from opsconsole.events.journal import resuppress
from opsconsole.events.matchers import Matcher, MatcherError, all_match
from opsconsole.store.alert_models import ACTIVE_STATES, Alert, AlertState, Silence, Suppression
from opsconsole.store.changelog import SYSTEM_ACTOR

ACTIVE_VALUES = tuple(s.value for s in ACTIVE_STATES)
MAX_COMMENT = 2000


class SilenceError(Exception):
    """A silence request that cannot be honoured, worded for the operator."""


class SilenceState(enum.StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


def state_of(silence: Silence, now: datetime | None = None) -> SilenceState:
    now = now or clock.now()
    if silence.expired_at is not None or (silence.ends_at is not None and silence.ends_at <= now):
        return SilenceState.EXPIRED
    if silence.starts_at > now:
        return SilenceState.PENDING
    return SilenceState.ACTIVE


def matchers_of(silence: Silence) -> list[Matcher]:
    return [Matcher.from_json(m) for m in silence.matchers]


def _parse(matchers: Sequence[Matcher | str]) -> list[Matcher]:
    parsed = [m if isinstance(m, Matcher) else Matcher.parse(m) for m in matchers]
    if not parsed:
        raise SilenceError("a silence needs at least one matcher (e.g. ci=web-01)")
    return parsed


def create_silence(
    session: Session,
    actor: str,
    matchers: Sequence[Matcher | str],
    comment: str,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    duration: timedelta | None = None,
    until_alert_id: int | None = None,
) -> Silence:
    """Create a silence ending at `ends_at`, after `duration`, or when alert `until_alert_id`
    recovers; it applies at once if it has started."""
    now = clock.now()
    try:
        parsed = _parse(matchers)
    except MatcherError as exc:
        raise SilenceError(str(exc)) from None
    comment = comment.strip()
    if not comment:
        raise SilenceError("a silence needs a comment: say why it is quiet")
    if not actor.strip():
        raise SilenceError("a silence needs an author")
    starts_at = starts_at or now
    if duration is not None:
        if duration <= timedelta(0):
            raise SilenceError("the duration of a silence must be positive")
        ends_at = starts_at + duration
    if until_alert_id is not None:
        origin = session.get(Alert, until_alert_id)
        if origin is None:
            raise SilenceError(f"no alert #{until_alert_id}")
        if not AlertState(origin.state).active:
            raise SilenceError(f"alert #{until_alert_id} is {origin.state} already")
    elif ends_at is None:
        raise SilenceError("a silence needs an end: a duration, an end time, or until recovery")
    if ends_at is not None and ends_at <= starts_at:
        raise SilenceError("a silence must end after it starts")
    silence = Silence(
        matchers=[m.to_json() for m in parsed], starts_at=starts_at, ends_at=ends_at,
        until_alert_id=until_alert_id, until_recovery=until_alert_id is not None,
        author=actor, comment=comment[:MAX_COMMENT], created_at=now,
    )  # fmt: skip
    session.add(silence)
    session.flush()
    if state_of(silence, now) is SilenceState.ACTIVE:
        candidates = [a for a in _active_alerts(session) if all_match(parsed, a)]
        resuppress(session, candidates, actor, now)
        session.flush()
    return silence


def silence_from_alert(
    session: Session,
    actor: str,
    alert_id: int,
    comment: str,
    *,
    duration: timedelta | None = None,
    ends_at: datetime | None = None,
    until_recovery: bool = False,
    fields: Sequence[str] = ("ci", "check", "resource"),
) -> Silence:
    """A silence pre-filled from an alert: its CI, check and resource, matched exactly."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise SilenceError(f"no alert #{alert_id}")
    return create_silence(
        session, actor, prefill(alert, fields), comment, duration=duration, ends_at=ends_at,
        until_alert_id=alert_id if until_recovery else None,
    )  # fmt: skip


def prefill(alert: Alert, fields: Sequence[str] = ("ci", "check", "resource")) -> list[Matcher]:
    """The matchers a silence made from this alert starts with (the dialog shows them)."""
    values = {
        "ci": alert.ci_name, "check": alert.check, "resource": alert.resource,
        "severity": alert.severity, "source": alert.source, "text": alert.message,
    }  # fmt: skip
    matchers = []
    for name in fields:
        if name == "resource" and not alert.resource:
            continue
        if name not in values:
            raise SilenceError(f"cannot pre-fill a silence from the alert's {name!r}")
        matchers.append(Matcher(name, "=", values[name]))
    return matchers


def expire_silence(session: Session, actor: str, silence_id: int) -> Silence:
    silence = session.get(Silence, silence_id)
    if silence is None:
        raise SilenceError(f"no silence #{silence_id}")
    now = clock.now()
    if state_of(silence, now) is SilenceState.EXPIRED:
        raise SilenceError(f"silence #{silence_id} has expired already")
    silence.expired_at = now
    silence.expired_by = actor
    session.flush()
    release(session, [silence_id], actor, now)
    return silence


def release(session: Session, silence_ids: Sequence[int], actor: str, now: datetime) -> int:
    """Alerts held by these (now ended) silences: decide their suppression afresh."""
    if not silence_ids:
        return 0
    held = session.scalars(
        select(Alert).where(
            Alert.state == AlertState.SUPPRESSED.value,
            Alert.suppression == Suppression.SILENCE.value,
            Alert.silence_id.in_(list(silence_ids)),
        )
    ).all()
    changed = resuppress(session, held, actor, now)
    session.flush()
    return changed


def end_until_recovery(session: Session, resolved_ids: Sequence[int], now: datetime) -> int:
    """Silences "until the alert recovers" whose alert just resolved end now."""
    if not resolved_ids:
        return 0
    ending = session.scalars(
        select(Silence).where(
            Silence.until_alert_id.in_(list(resolved_ids)), Silence.expired_at.is_(None)
        )
    ).all()
    actor = str(session.info.get("actor", SYSTEM_ACTOR))
    for silence in ending:
        silence.expired_at = now
        silence.expired_by = actor
    if ending:
        session.flush()
        release(session, [s.id for s in ending], actor, now)
    return len(ending)


def _active_alerts(session: Session) -> Sequence[Alert]:
    return session.scalars(select(Alert).where(Alert.state.in_(ACTIVE_VALUES))).all()


@dataclass(frozen=True)
class SilenceView:
    """A silence as the silences view shows it: what it matches now, and whether it ends soon."""

    silence: Silence
    state: SilenceState
    matching: int
    ends_soon: bool

    @property
    def matchers_text(self) -> str:
        return ", ".join(str(m) for m in matchers_of(self.silence))

    @property
    def end_text(self) -> str:
        if self.silence.until_recovery and self.silence.ends_at is None:
            return f"until alert #{self.silence.until_alert_id} recovers"
        ends = self.silence.ends_at
        return ends.isoformat(timespec="minutes") if ends else "-"


def list_silences(
    session: Session, *, include_expired: bool = False, warn_hours: float = 4.0, limit: int = 500
) -> list[SilenceView]:
    now = clock.now()
    query = select(Silence).order_by(Silence.id.desc()).limit(limit)
    if not include_expired:
        query = query.where(Silence.expired_at.is_(None))
    silences = list(session.scalars(query))
    alerts = _active_alerts(session) if silences else []
    soon = now + timedelta(hours=warn_hours)
    views = []
    for silence in silences:
        state = state_of(silence, now)
        if state is SilenceState.EXPIRED and not include_expired:
            continue
        matchers = matchers_of(silence)
        matching = (
            0 if state is SilenceState.EXPIRED else sum(1 for a in alerts if all_match(matchers, a))
        )
        ends_soon = (
            state is not SilenceState.EXPIRED
            and silence.ends_at is not None
            and silence.ends_at <= soon
        )
        views.append(SilenceView(silence, state, matching, ends_soon))
    return views


def matching_alerts(
    session: Session, matchers: Sequence[Matcher | str], limit: int = 100
) -> list[Alert]:
    """Active alerts these matchers select now (the silence dialog's preview)."""
    try:
        parsed = _parse(matchers)
    except MatcherError as exc:
        raise SilenceError(str(exc)) from None
    found = [a for a in _active_alerts(session) if all_match(parsed, a)]
    return found[:limit]
