"""Deduplication: one alert per fingerprint, and what each further event does to it.

Pure logic over `AlertDraft` (a plain copy of an alert row), no database: the pipeline loads the
drafts a batch touches in one query, applies every event here, and writes the result back in
a few statements.

- A repeat bumps count and last seen, keeps the earliest first seen, and takes the newest
  event's message and severity; a rise in severity clears a normal acknowledgement (a sticky
  one lasts until recovery).
- A clearing event resolves the alert (auto-resolve); a recurrence within the reopen window
  reopens it, a later one opens a new alert (the old one gives up the fingerprint).
- Events older than what the alert already knows do not turn it back (a late clear does not
  resolve a newer problem), so the outcome does not depend on arrival order.
- Every result feeds the flapping detector; while an alert flaps it is neither resolved nor
  reopened by each swing: it stays one alert, suppressed as "flapping".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from opsconsole.events.flapping import WINDOW, flap_value
from opsconsole.events.settings import EventSettings
from opsconsole.events.suppress import derive_state
from opsconsole.store.alert_models import SEVERITY_LEVEL, AlertState

LEVEL_SEVERITY = {level: severity for severity, level in SEVERITY_LEVEL.items()}


@dataclass(slots=True)
class NormalizedEvent:
    """An event after normalisation: CI resolved both ways, severity checked, fingerprinted."""

    source: str
    ci_id: int | None
    ci_name: str
    check: str
    resource: str
    severity: str
    level: int
    clear: bool
    message: str
    at: datetime
    key: str | None
    payload: dict[str, Any]
    fingerprint: str


@dataclass(slots=True)
class HistoryEntry:
    at: datetime
    action: str
    detail: str = ""
    old_state: str | None = None
    new_state: str | None = None
    ref: AlertDraft | None = None  # "{ref}" in detail becomes this alert's id when written

    def text(self) -> str:
        if self.ref is None:
            return self.detail
        return self.detail.replace("{ref}", f"#{self.ref.id}")


# Columns of `alert` the pipeline may change on an existing row.
MUTABLE_COLUMNS = (
    "dedup_key", "ci_id", "ci_name", "severity", "severity_level", "state", "message", "count",
    "first_seen", "last_seen", "updated_at", "resolved_at", "reopen_count", "acked_by",
    "acked_at", "ack_note", "ack_ticket", "ack_sticky", "snoozed_until", "suppression",
    "suppressed_reason", "silence_id", "flap_changes", "flap_state", "flap_value", "flapping",
    "problem", "parent_id", "group_reason", "services", "payload",
)  # fmt: skip
INSERT_COLUMNS = (
    *MUTABLE_COLUMNS, "fingerprint", "source", "check", "resource", "key", "closed_at",
    "closed_by", "assignee", "version",
)  # fmt: skip
LOADED_COLUMNS = ("id", *INSERT_COLUMNS)


@dataclass(slots=True, eq=False)
class AlertDraft:
    """An alert row held in memory while a batch is applied to it."""

    id: int | None
    fingerprint: str
    dedup_key: str | None
    source: str
    ci_id: int | None
    ci_name: str
    check: str
    resource: str
    key: str | None
    severity: str
    severity_level: int
    state: str
    message: str
    count: int
    first_seen: datetime
    last_seen: datetime
    updated_at: datetime
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    reopen_count: int = 0
    acked_by: str | None = None
    acked_at: datetime | None = None
    ack_note: str | None = None
    ack_ticket: str | None = None
    ack_sticky: bool = False
    snoozed_until: datetime | None = None
    assignee: str | None = None
    suppression: str | None = None
    suppressed_reason: str | None = None
    silence_id: int | None = None
    flap_changes: str = ""
    flap_state: int | None = None
    flap_value: float = 0.0
    flapping: bool = False
    problem: bool = True
    parent_id: int | None = None
    group_reason: str | None = None
    services: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    version: int = 1
    # Bookkeeping of the batch, not columns.
    new: bool = False
    dirty: bool = False
    correlate: bool = False  # new or reopened: looks for a group to join
    resolved_now: bool = False
    escalated: bool = False  # its severity rose in this batch
    loaded_state: str | None = None  # the state it had when the batch loaded it
    parent: AlertDraft | None = None  # a parent created in the same batch (no id yet)
    history: list[HistoryEntry] = field(default_factory=list)

    @classmethod
    def from_row(cls, row: Any) -> AlertDraft:
        draft = cls(**{name: row[name] for name in LOADED_COLUMNS})
        draft.loaded_state = draft.state
        return draft

    @property
    def active(self) -> bool:
        return self.resolved_at is None and self.closed_at is None

    @property
    def last_result_at(self) -> datetime:
        if self.resolved_at is not None and self.resolved_at > self.last_seen:
            return self.resolved_at
        return self.last_seen

    def derive_state(self) -> str:
        return derive_state(self)

    def note(
        self, at: datetime, action: str, detail: str = "", ref: AlertDraft | None = None
    ) -> None:
        old = self.state
        self.state = self.derive_state()
        self.history.append(HistoryEntry(at, action, detail, old, self.state, ref))
        self.dirty = True

    def column_values(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: getattr(self, name) for name in names}


def new_draft(ev: NormalizedEvent, now: datetime, carry: AlertDraft | None) -> AlertDraft:
    draft = AlertDraft(
        id=None, fingerprint=ev.fingerprint, dedup_key=ev.fingerprint, source=ev.source,
        ci_id=ev.ci_id, ci_name=ev.ci_name, check=ev.check, resource=ev.resource, key=ev.key,
        severity=ev.severity, severity_level=ev.level, state=AlertState.OPEN.value,
        message=ev.message, count=1, first_seen=ev.at, last_seen=ev.at, updated_at=now,
        payload=ev.payload, new=True, dirty=True, correlate=True,
    )  # fmt: skip
    if carry is not None:  # the flap history belongs to the fingerprint, not one alert
        draft.flap_changes, draft.flap_state = carry.flap_changes, carry.flap_state
        draft.flapping, draft.flap_value = carry.flapping, carry.flap_value
    draft.history.append(
        HistoryEntry(ev.at, "created", f"{ev.severity}: {ev.message}"[:500], None, draft.state)
    )
    return draft


def _newer(ev: NormalizedEvent, draft: AlertDraft) -> bool:
    """Is this event the alert's latest word? Ties break on severity then message, so the
    result never depends on which of two simultaneous events came first."""
    return (ev.at, ev.level, ev.message) >= (draft.last_seen, draft.severity_level, draft.message)


def _flap(draft: AlertDraft, ev: NormalizedEvent, settings: EventSettings) -> None:
    """One result into the flap detector (flapping.record_result, inlined: it runs per event)."""
    if draft.flap_changes and (ev.at - draft.last_result_at).total_seconds() > (
        settings.flap_quiet_reset
    ):
        draft.flap_changes, draft.flap_state = "", None
    state = 0 if ev.clear else ev.level
    previous = draft.flap_state or 0
    changes = draft.flap_changes + ("1" if state != previous else "0")
    if len(changes) > WINDOW:
        changes = changes[-WINDOW:]
    value = flap_value(changes)
    was = draft.flapping
    flapping = value >= settings.flap_low if was else value > settings.flap_high
    draft.flap_changes, draft.flap_state, draft.flap_value = changes, state, value
    if flapping == was:
        return
    draft.flapping = flapping
    if flapping:
        draft.note(ev.at, "flapping", f"state changes {value:.0f} % of recent results")
    else:
        draft.note(ev.at, "flapping ended", f"state changes {value:.0f} % of results")


def _resolve(draft: AlertDraft, at: datetime, why: str) -> None:
    draft.resolved_at = at
    draft.snoozed_until = None
    draft.resolved_now = True
    draft.note(at, "resolved", why)


def _take(draft: AlertDraft, ev: NormalizedEvent) -> None:
    """A problem event on an alert that already exists: count it, maybe make it the latest."""
    draft.count += 1
    if ev.at < draft.first_seen:
        draft.first_seen = ev.at
    if not _newer(ev, draft):
        return
    draft.last_seen = ev.at
    draft.message = ev.message
    draft.payload = ev.payload
    if ev.ci_id is not None:
        draft.ci_id, draft.ci_name = ev.ci_id, ev.ci_name
    old_level = draft.severity_level
    if ev.level != old_level:
        draft.severity, draft.severity_level = ev.severity, ev.level
        worse = ev.level > old_level
        draft.escalated = draft.escalated or worse
        draft.note(
            ev.at, "severity", f"{LEVEL_SEVERITY[old_level]} -> {ev.severity}"
        )  # fmt: skip
        if worse and draft.acked_by is not None and not draft.ack_sticky:
            who = draft.acked_by
            draft.acked_by = draft.acked_at = draft.ack_note = draft.ack_ticket = None
            draft.snoozed_until = None
            draft.note(ev.at, "unacknowledged", f"got worse ({ev.severity}); ack by {who} ended")


def apply_event(
    current: AlertDraft | None, ev: NormalizedEvent, settings: EventSettings, now: datetime
) -> tuple[AlertDraft | None, AlertDraft | None]:
    """Apply one event; returns the draft now holding the fingerprint and, when a new alert
    replaced an old one, the old one (which gave up the fingerprint)."""
    if current is None or current.closed_at is not None:
        if ev.clear:
            return current, None  # nothing to clear
        draft = new_draft(ev, now, current)
        _flap(draft, ev, settings)
        return draft, None
    current.dirty = True
    current.updated_at = now
    if current.resolved_at is not None:  # resolved: a clear repeats, a problem comes back
        if ev.clear:
            if ev.at >= current.resolved_at:
                _flap(current, ev, settings)
            return current, None
        if ev.at < current.resolved_at:  # a late report of the episode that ended
            _take(current, ev)
            return current, None
        if ev.at - current.resolved_at > timedelta(seconds=settings.reopen_window):
            current.dedup_key = None
            draft = new_draft(ev, now, current)
            _flap(draft, ev, settings)
            return draft, current
        _reopen(current, ev, settings)
        return current, None
    if ev.clear:
        if ev.at < current.last_seen:
            return current, None  # older than the problem it would clear
        current.problem = False
        _flap(current, ev, settings)
        if not current.flapping and settings.auto_resolve:
            _resolve(current, ev.at, ev.message[:500])
        return current, None
    was_problem = current.problem
    current.problem = True
    _take(current, ev)
    _flap(current, ev, settings)
    if not was_problem and not current.flapping:
        current.note(ev.at, "problem again", ev.message[:500])
    return current, None


def _reopen(draft: AlertDraft, ev: NormalizedEvent, settings: EventSettings) -> None:
    resolved_at = draft.resolved_at
    draft.resolved_at = None
    draft.problem = True
    draft.reopen_count += 1
    draft.acked_by = draft.acked_at = draft.ack_note = draft.ack_ticket = None
    draft.ack_sticky = False
    draft.snoozed_until = None
    draft.parent_id, draft.parent, draft.group_reason = None, None, None
    draft.correlate = True
    _take(draft, ev)
    _flap(draft, ev, settings)
    gap = (ev.at - resolved_at).total_seconds() if resolved_at else 0
    draft.note(ev.at, "reopened", f"came back {gap:.0f} s after it resolved: {ev.message}"[:500])
