"""ORM models of the alert queue: alerts, their journal, and silences.

The events pipeline (opsconsole.events) is the one writer of alerts from events; operators
change them through opsconsole.events.actions. High-volume pipeline writes are Core statements
(not in the change log, one summary row per batch instead); operator actions are ORM writes,
so the change log records each, and every change of state also gets an `alert_history` row
saying who, when and what.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from opsconsole.store.models import Base, Severity
from opsconsole.store.types import UTCDateTime


class AlertState(enum.StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    SUPPRESSED = "suppressed"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def active(self) -> bool:
        return self not in (AlertState.RESOLVED, AlertState.CLOSED)


ACTIVE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED, AlertState.SUPPRESSED)


class Suppression(enum.StrEnum):
    """Why an alert is suppressed; the human-readable reason is in `suppressed_reason`."""

    SILENCE = "silence"
    MAINTENANCE = "maintenance"
    TOPOLOGY = "topology"
    FLAPPING = "flapping"


# Higher is worse, so the queue's "worst first, newest first" is one descending index scan.
SEVERITY_LEVEL = {
    Severity.CRITICAL: 5,
    Severity.MAJOR: 4,
    Severity.MINOR: 3,
    Severity.WARNING: 2,
    Severity.INFO: 1,
}


def _values(kind: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


class Alert(Base):
    """One condition on one thing, however many events reported it."""

    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint(f"state IN ({_values(AlertState)})", name="state"),
        CheckConstraint(f"severity IN ({_values(Severity)})", name="severity"),
        CheckConstraint(
            f"suppression IS NULL OR suppression IN ({_values(Suppression)})", name="suppression"
        ),
        CheckConstraint("severity_level BETWEEN 1 AND 5", name="severity_level"),
        # The queue: worst first, then newest; keyset paging walks these backwards.
        Index("ix_alert_queue", "severity_level", "last_seen", "id"),
        Index("ix_alert_state_queue", "state", "severity_level", "last_seen", "id"),
        Index("ix_alert_assignee_queue", "assignee", "severity_level", "last_seen", "id"),
        Index("ix_alert_ci_state", "ci_id", "state"),
        Index("ix_alert_fingerprint", "fingerprint", "id"),
        Index("ix_alert_parent", "parent_id"),
        Index("ix_alert_first_seen", "first_seen"),
        Index("ix_alert_snoozed_until", "snoozed_until"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Hash of (source, CI, check, resource), or of (source, key) when the source gives a key.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # The fingerprint while new events for it land on this alert; NULL once a newer alert
    # took over (recurrence after the reopen window), so at most one alert holds each.
    dedup_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(64))
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id", ondelete="SET NULL"))
    ci_name: Mapped[str] = mapped_column(String(200), default="")
    check: Mapped[str] = mapped_column(String(120))
    resource: Mapped[str] = mapped_column(String(200), default="")
    key: Mapped[str | None] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    severity_level: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default=AlertState.OPEN.value)
    message: Mapped[str] = mapped_column(Text, default="")
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)
    # Acknowledgement: its own verb, not a silence.
    acked_by: Mapped[str | None] = mapped_column(String(200))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_note: Mapped[str | None] = mapped_column(Text)
    ack_ticket: Mapped[str | None] = mapped_column(String(100))
    ack_sticky: Mapped[bool] = mapped_column(Boolean, default=False)
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    assignee: Mapped[str | None] = mapped_column(String(200))
    # Suppression, with the reason the queue shows ("silenced by ana: upgrade", "flapping").
    suppression: Mapped[str | None] = mapped_column(String(16))
    suppressed_reason: Mapped[str | None] = mapped_column(String(400))
    silence_id: Mapped[int | None] = mapped_column(ForeignKey("silence.id", ondelete="SET NULL"))
    # Flapping (Icinga): state-change flags of the last 20 results, oldest first, and the last
    # result's state (0 = clear, else the severity level).
    flap_changes: Mapped[str] = mapped_column(String(20), default="")
    flap_state: Mapped[int | None] = mapped_column(Integer)
    flap_value: Mapped[float] = mapped_column(Float, default=0.0)
    flapping: Mapped[bool] = mapped_column(Boolean, default=False)
    # The current condition: False once a clear event came (tracked even while suppressed).
    problem: Mapped[bool] = mapped_column(Boolean, default=True)
    # Correlation: children point at their group's root alert.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alert.id", ondelete="SET NULL"))
    group_reason: Mapped[str | None] = mapped_column(String(200))
    # Impacted business services (CMDB), denormalised for the queue column and filters.
    services: Mapped[str] = mapped_column(String(1000), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    def describe_for_log(self) -> str:
        return f"{self.ci_name} {self.check} {self.resource}".strip()

    def __repr__(self) -> str:
        return f"Alert({self.id}, {self.ci_name!r}, {self.check!r}, {self.state})"


class AlertHistory(Base):
    """The alert's journal: who did what, when (operators and the pipeline alike)."""

    __tablename__ = "alert_history"
    # Written beside logged ORM changes of the alert itself: not logged twice.
    __changelog__ = False
    __table_args__ = (Index("ix_alert_history_alert", "alert_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alert.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    old_state: Mapped[str | None] = mapped_column(String(16))
    new_state: Mapped[str | None] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")


class Silence(Base):
    """Matchers over alert fields plus a time range (or "until the alert recovers").

    Its state (pending, active, expired) follows from the times and `expired_at`.
    """

    __tablename__ = "silence"
    __table_args__ = (
        CheckConstraint("author <> ''", name="author"),
        CheckConstraint("comment <> ''", name="comment"),
        Index("ix_silence_ends_at", "ends_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # [{"field": "ci", "op": "=~", "value": "web-.*"}, ...]: every matcher must hold.
    matchers: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Ends when this alert (the one it was created from) recovers, instead of at ends_at.
    # No foreign key: alert already refers to silence, and a cycle of keys between two tables
    # makes creating and dropping them order-dependent.
    until_alert_id: Mapped[int | None] = mapped_column(Integer)
    until_recovery: Mapped[bool] = mapped_column(Boolean, default=False)
    author: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_by: Mapped[str | None] = mapped_column(String(200))

    def describe_for_log(self) -> str:
        return f"silence by {self.author}: {self.comment}"
