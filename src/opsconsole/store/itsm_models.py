"""ORM models of service management: incidents, problems, changes, requests, knowledge.

Every ticket has a human number (INC0001001, ...) drawn from a counter row in the same
transaction as the insert, a version column (a save from an older version is refused) and a
journal: work notes, comments, and one entry per field change, each with actor and time. The
SLA clocks are computed by replaying that journal (opsconsole.itsm.sla); the columns named
`*_due_at`, `*_warn_at` and `*_breached_at` are the result, stored for lists and reports.

State values are snake_case words (in_progress); opsconsole.itsm turns them into labels.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsconsole import clock
from opsconsole.store.models import CI, Base
from opsconsole.store.types import UTCDateTime

INCIDENT_STATES = ("new", "in_progress", "on_hold", "resolved", "closed", "canceled")
PROBLEM_STATES = ("new", "assess", "root_cause_analysis", "fix_in_progress", "resolved", "closed")
CHANGE_STATES = (
    "new", "assess", "authorize", "scheduled", "implement", "review", "closed", "canceled",
)  # fmt: skip
CHANGE_TYPES = ("standard", "normal", "emergency")
APPROVAL_DECISIONS = ("requested", "approved", "rejected")
REQUEST_STATES = ("new", "in_progress", "fulfilled", "closed", "canceled")
TASK_STATES = ("open", "in_progress", "closed_complete", "closed_skipped")
ARTICLE_STATES = ("draft", "published", "retired")
JOURNAL_KINDS = ("field", "work_note", "comment", "refused", "system")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class NumberSequence(Base):
    """One counter per number prefix (INC, PRB, CHG, REQ, TASK, KB).

    Taken with UPDATE ... RETURNING inside the caller's write transaction: the row lock (or
    SQLite's single writer) serialises processes, and a rolled-back insert gives its number
    back, so numbers are unique and without gaps.
    """

    __tablename__ = "itsm_sequence"
    __changelog__ = False

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer)


class JournalEntry(Base):
    """One line of a ticket's history. Append-only; read back in id order."""

    __tablename__ = "itsm_journal"
    __table_args__ = (
        CheckConstraint(_in("kind", JOURNAL_KINDS), name="kind"),
        Index("ix_itsm_journal_record", "record_type", "record_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # "incident", "problem", "change", "request", "task", "article"
    record_type: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    field: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def describe_for_log(self) -> str:
        return f"{self.record_type} {self.record_id} {self.kind} {self.field or ''}".strip()


# --- incidents -------------------------------------------------------------------------------


class Incident(Base):
    __tablename__ = "incident"
    __table_args__ = (
        CheckConstraint(_in("state", INCIDENT_STATES), name="state"),
        CheckConstraint("impact BETWEEN 1 AND 3", name="impact"),
        CheckConstraint("urgency BETWEEN 1 AND 3", name="urgency"),
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority"),
        Index("ix_incident_state_priority", "state", "priority", "id"),
        Index("ix_incident_assignee", "assignee", "state"),
        Index("ix_incident_group", "assignment_group", "state"),
        Index("ix_incident_resolution_warn", "resolution_warn_at"),
        Index("ix_incident_response_warn", "response_warn_at"),
        Index("ix_incident_ci", "ci_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    short_description: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    caller: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(64))
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id", ondelete="SET NULL"))
    service_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id", ondelete="SET NULL"))
    impact: Mapped[int] = mapped_column(Integer, default=3)
    urgency: Mapped[int] = mapped_column(Integer, default=3)
    priority: Mapped[int] = mapped_column(Integer, default=5)
    assignment_group: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="new")
    on_hold_reason: Mapped[str | None] = mapped_column(String(64))
    resolution_code: Mapped[str | None] = mapped_column(String(64))
    resolution_notes: Mapped[str | None] = mapped_column(Text)
    problem_id: Mapped[int | None] = mapped_column(ForeignKey("problem.id", ondelete="SET NULL"))
    caused_by_change_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_request.id", ondelete="SET NULL")
    )
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    # SLA, from the journal replay: when each clock reaches warning / breach if it keeps running
    # (NULL while it is paused or once it stopped short of it), and when it did breach.
    response_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    ci: Mapped[CI | None] = relationship(foreign_keys=[ci_id])
    service: Mapped[CI | None] = relationship(foreign_keys=[service_id])
    problem: Mapped[Problem | None] = relationship(back_populates="incidents")
    caused_by_change: Mapped[Change | None] = relationship()
    alert_links: Mapped[list[IncidentAlert]] = relationship(
        back_populates="incident", cascade="all, delete-orphan"
    )

    def describe_for_log(self) -> str:
        return f"{self.number} {self.short_description}"


class IncidentAlert(Base):
    """An alert linked to an incident (the alert table of migration 0003)."""

    __tablename__ = "incident_alert"
    __table_args__ = (Index("ix_incident_alert_alert", "alert_id"),)

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alert.id", ondelete="CASCADE"), primary_key=True
    )
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    linked_by: Mapped[str] = mapped_column(String(200))

    incident: Mapped[Incident] = relationship(back_populates="alert_links")

    def describe_for_log(self) -> str:
        return f"incident {self.incident_id} <- alert {self.alert_id}"


class RuleFiring(Base):
    """An auto-incident rule fired for a correlated group: the unique key makes it once only,
    across processes."""

    __tablename__ = "itsm_rule_firing"
    __table_args__ = (UniqueConstraint("rule", "group_key", name="uq_itsm_rule_firing_group"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(100))
    group_key: Mapped[str] = mapped_column(String(300))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"))
    # The alert that fired the rule (no key: the firing must outlive an archived alert).
    alert_id: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    def describe_for_log(self) -> str:
        return f"rule {self.rule} for {self.group_key}"


# --- problems --------------------------------------------------------------------------------


class Problem(Base):
    __tablename__ = "problem"
    __table_args__ = (
        CheckConstraint(_in("state", PROBLEM_STATES), name="state"),
        Index("ix_problem_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    short_description: Mapped[str] = mapped_column(String(200))  # the problem statement
    description: Mapped[str] = mapped_column(Text, default="")
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id", ondelete="SET NULL"))
    priority: Mapped[int] = mapped_column(Integer, default=4)
    assignment_group: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(24), default="new")
    root_cause: Mapped[str | None] = mapped_column(Text)
    workaround: Mapped[str | None] = mapped_column(Text)
    known_error: Mapped[bool] = mapped_column(Boolean, default=False)
    fix_notes: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    ci: Mapped[CI | None] = relationship()
    incidents: Mapped[list[Incident]] = relationship(back_populates="problem")

    def describe_for_log(self) -> str:
        return f"{self.number} {self.short_description}"


# --- changes ---------------------------------------------------------------------------------


class Change(Base):
    __tablename__ = "change_request"
    __table_args__ = (
        CheckConstraint(_in("state", CHANGE_STATES), name="state"),
        CheckConstraint(_in("change_type", CHANGE_TYPES), name="change_type"),
        CheckConstraint("impact BETWEEN 1 AND 3", name="impact"),
        CheckConstraint(
            "planned_end IS NULL OR planned_start IS NULL OR planned_end > planned_start",
            name="window",
        ),
        Index("ix_change_request_state", "state", "id"),
        Index("ix_change_request_window", "planned_start", "planned_end"),
        Index("ix_change_request_assignee", "assignee", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    change_type: Mapped[str] = mapped_column(String(16))
    template: Mapped[str | None] = mapped_column(String(100))
    short_description: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    justification: Mapped[str] = mapped_column(Text, default="")
    risk: Mapped[str | None] = mapped_column(String(32))
    impact: Mapped[int] = mapped_column(Integer, default=3)
    state: Mapped[str] = mapped_column(String(16), default="new")
    requested_by: Mapped[str] = mapped_column(String(200))
    assignment_group: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    planned_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    planned_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actual_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    implementation_plan: Mapped[str] = mapped_column(Text, default="")
    backout_plan: Mapped[str] = mapped_column(Text, default="")
    test_plan: Mapped[str] = mapped_column(Text, default="")
    close_code: Mapped[str | None] = mapped_column(String(64))
    close_notes: Mapped[str | None] = mapped_column(Text)
    review_notes: Mapped[str | None] = mapped_column(Text)  # post-implementation review
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    # Conflicts were found and someone decided to schedule anyway: who, why.
    conflict_override: Mapped[str | None] = mapped_column(Text)
    conflict_override_by: Mapped[str | None] = mapped_column(String(200))
    conflicts_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    ci_links: Mapped[list[ChangeCI]] = relationship(
        back_populates="change", cascade="all, delete-orphan", order_by="ChangeCI.ci_id"
    )
    approvals: Mapped[list[ChangeApproval]] = relationship(
        back_populates="change", cascade="all, delete-orphan", order_by="ChangeApproval.id"
    )

    def describe_for_log(self) -> str:
        return f"{self.number} {self.short_description}"


class ChangeCI(Base):
    __tablename__ = "change_ci"
    __table_args__ = (Index("ix_change_ci_ci", "ci_id"),)

    change_id: Mapped[int] = mapped_column(
        ForeignKey("change_request.id", ondelete="CASCADE"), primary_key=True
    )
    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"), primary_key=True)

    change: Mapped[Change] = relationship(back_populates="ci_links")
    ci: Mapped[CI] = relationship()

    def describe_for_log(self) -> str:
        return f"change {self.change_id} ci {self.ci_id}"


class ChangeApproval(Base):
    __tablename__ = "change_approval"
    __table_args__ = (
        UniqueConstraint("change_id", "approver", name="uq_change_approval_approver"),
        CheckConstraint(_in("decision", APPROVAL_DECISIONS), name="decision"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("change_request.id", ondelete="CASCADE"))
    approver: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(16), default="requested")
    comment: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    change: Mapped[Change] = relationship(back_populates="approvals")

    def describe_for_log(self) -> str:
        return f"change {self.change_id} approval by {self.approver}: {self.decision}"


class ChangeConflict(Base):
    """A conflict found by the last detection run that involved the change (kept for lists and
    the form; detection re-runs whenever the change's CIs, window or assignee change)."""

    __tablename__ = "change_conflict"
    __table_args__ = (Index("ix_change_conflict_change", "change_id"),
                      Index("ix_change_conflict_other", "other_change_id"))  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("change_request.id", ondelete="CASCADE"))
    # same_ci, related_ci, same_service, blackout, assignee
    kind: Mapped[str] = mapped_column(String(16))
    other_change_id: Mapped[int | None] = mapped_column(
        ForeignKey("change_request.id", ondelete="CASCADE")
    )
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"))
    blackout: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(String(400))
    found_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def describe_for_log(self) -> str:
        return self.detail


# --- service requests ------------------------------------------------------------------------


class ServiceRequest(Base):
    __tablename__ = "service_request"
    __table_args__ = (
        CheckConstraint(_in("state", REQUEST_STATES), name="state"),
        Index("ix_service_request_state", "state", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    item: Mapped[str] = mapped_column(String(100))  # catalog item key
    short_description: Mapped[str] = mapped_column(String(200))
    requested_for: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str] = mapped_column(String(200))
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assignment_group: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="new")
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    tasks: Mapped[list[RequestTask]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="RequestTask.position"
    )

    def describe_for_log(self) -> str:
        return f"{self.number} {self.short_description}"


class RequestTask(Base):
    __tablename__ = "request_task"
    __table_args__ = (
        CheckConstraint(_in("state", TASK_STATES), name="state"),
        Index("ix_request_task_request", "request_id", "position"),
        Index("ix_request_task_group", "assignment_group", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    short_description: Mapped[str] = mapped_column(String(200))
    assignment_group: Mapped[str | None] = mapped_column(String(200))
    assignee: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default="open")
    notes: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    request: Mapped[ServiceRequest] = relationship(back_populates="tasks")

    def describe_for_log(self) -> str:
        return f"{self.number} {self.short_description}"


# --- knowledge -------------------------------------------------------------------------------


class KnowledgeArticle(Base):
    __tablename__ = "kb_article"
    __table_args__ = (CheckConstraint(_in("state", ARTICLE_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    # Articles from files are keyed by their file name (without .md): a re-sync updates them.
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # markdown
    ci_classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    checks: Mapped[list[str]] = mapped_column(JSON, default=list)  # globs: fs.percent, snmp.*
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(16), default="published")
    source: Mapped[str] = mapped_column(String(400), default="console")  # file path or console
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    def describe_for_log(self) -> str:
        return f"{self.number} {self.title}"
