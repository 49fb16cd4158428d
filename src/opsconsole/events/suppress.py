"""Suppression: why an alert is kept out of the way, with the reason the queue shows.

In order: a silence ("silenced by ana: kernel upgrade"), the maintenance window of a change
being implemented on the CI ("maintenance CHG0001001"), topology ("unreachable via
core-sw-01": the CI is behind a DOWN parent) and flapping ("flapping"). Suppressed alerts are
still deduplicated and still resolve when they recover.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsconsole.events.matchers import Matchable, Matcher, all_match
from opsconsole.store.alert_models import AlertState, Silence, Suppression

MAINTENANCE_MODULE = "opsconsole.itsm.changes"
UNREACHABLE_VIA = "unreachable_via"


class Suppressible(Matchable, Protocol):
    @property
    def ci_id(self) -> int | None: ...
    @property
    def flapping(self) -> bool: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def suppression(self) -> str | None: ...
    @property
    def suppressed_reason(self) -> str | None: ...


@dataclass(frozen=True)
class Decision:
    kind: Suppression
    reason: str
    silence_id: int | None = None


def active_silences(session: Session, now: datetime) -> list[Silence]:
    """Silences in force at `now`, oldest first (the first that matches gives the reason)."""
    query = (
        select(Silence)
        .where(
            Silence.expired_at.is_(None),
            Silence.starts_at <= now,
            or_(Silence.ends_at.is_(None), Silence.ends_at > now),
        )
        .order_by(Silence.id)
    )
    return list(session.scalars(query))


def silence_reason(silence: Silence) -> str:
    return f"silenced by {silence.author}: {silence.comment}"[:400]


MaintenanceLookup = Callable[[Session, int, datetime], object | None]
# For many CIs at once: the CIs in maintenance at that time, each with its change.
MaintenanceLookupMany = Callable[[Session, Sequence[int], datetime], Mapping[int, object]]


def _maintenance_function(name: str) -> Any:
    try:
        module = importlib.import_module(MAINTENANCE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name in (MAINTENANCE_MODULE, "opsconsole.itsm"):
            return None
        raise
    return getattr(module, name, None)


def maintenance_lookup() -> MaintenanceLookup | None:
    """`opsconsole.itsm.changes.maintenance_change`, or None while that module does not exist."""
    found: MaintenanceLookup | None = _maintenance_function("maintenance_change")
    return found


def maintenance_lookup_many() -> MaintenanceLookupMany | None:
    """`opsconsole.itsm.changes.maintenance_changes(session, ci_ids, at)`: the same question
    for many CIs in one query ({ci_id: change} for those in maintenance), where that module
    provides it; None otherwise (then each CI is asked on its own)."""
    found: MaintenanceLookupMany | None = _maintenance_function("maintenance_changes")
    return found


def _change_number(change: object | None) -> str | None:
    return None if change is None else str(getattr(change, "number", change))


class Suppressor:
    """Decides suppression for many alerts in one operation: the active silences are loaded
    once and each CI's maintenance is asked once (for all the CIs of a batch in one query,
    `prefetch`, where service management answers that)."""

    def __init__(self, session: Session, now: datetime, silences: list[Silence]) -> None:
        self._session = session
        self._now = now
        self._silences = [(s, [Matcher.from_json(m) for m in s.matchers]) for s in silences]
        self._lookup = maintenance_lookup()
        self._lookup_many = maintenance_lookup_many() if self._lookup is not None else None
        self._maintenance: dict[int, str | None] = {}

    def prefetch(self, ci_ids: Iterable[int]) -> None:
        """Ask maintenance for these CIs now, together (what `maintenance` then answers)."""
        if self._lookup_many is None:
            return
        missing = sorted({c for c in ci_ids if c not in self._maintenance})
        if not missing:
            return
        found = self._lookup_many(self._session, missing, self._now)
        for ci_id in missing:
            self._maintenance[ci_id] = _change_number(found.get(ci_id))

    def maintenance(self, ci_id: int) -> str | None:
        if self._lookup is None:
            return None
        if ci_id not in self._maintenance:
            self._maintenance[ci_id] = _change_number(self._lookup(self._session, ci_id, self._now))
        return self._maintenance[ci_id]

    def decide(self, alert: Suppressible, ask_maintenance: bool = True) -> Decision | None:
        """The first reason that holds, or None. With `ask_maintenance` False the alert keeps
        the maintenance verdict it has (the pipeline's repeats; timers re-ask)."""
        for silence, matchers in self._silences:
            if matchers and all_match(matchers, alert):
                return Decision(Suppression.SILENCE, silence_reason(silence), silence.id)
        if not ask_maintenance:
            if alert.suppression == Suppression.MAINTENANCE.value and alert.suppressed_reason:
                return Decision(Suppression.MAINTENANCE, alert.suppressed_reason)
        elif alert.ci_id is not None and (number := self.maintenance(alert.ci_id)):
            return Decision(Suppression.MAINTENANCE, f"maintenance {number}")
        via = alert.payload.get(UNREACHABLE_VIA) if isinstance(alert.payload, dict) else None
        if via:
            return Decision(Suppression.TOPOLOGY, f"unreachable via {via}"[:400])
        if alert.flapping:
            return Decision(Suppression.FLAPPING, "flapping")
        return None


class HasStateFields(Protocol):
    closed_at: datetime | None
    resolved_at: datetime | None
    suppression: str | None
    acked_by: str | None


def derive_state(alert: HasStateFields) -> str:
    """The state follows from the facts: closed, resolved, suppressed, acknowledged, open."""
    if alert.closed_at is not None:
        return AlertState.CLOSED.value
    if alert.resolved_at is not None:
        return AlertState.RESOLVED.value
    if alert.suppression is not None:
        return AlertState.SUPPRESSED.value
    if alert.acked_by is not None:
        return AlertState.ACKNOWLEDGED.value
    return AlertState.OPEN.value
