"""ORM models. The schema's vocabulary (CI classes, relationship types) lives here too,
because the store is the lowest layer and every other package reads it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from opsconsole import clock
from opsconsole.store.types import UTCDateTime
from opsconsole.store.vocabulary import HostStatus as HostStatus
from opsconsole.store.vocabulary import Severity as Severity

# Named constraints so Alembic migrations are stable across SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class CIClass(enum.StrEnum):
    SERVICE = "service"
    APPLICATION = "application"
    HOST = "host"
    NETWORK_DEVICE = "network_device"
    DATABASE = "database"
    STORAGE = "storage"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")


class RelationType(enum.StrEnum):
    """Every type reads "source needs target": a failure of the target can hurt the source.

    That single direction is what impact analysis walks, whatever the type's wording.
    """

    DEPENDS_ON = "depends_on"
    RUNS_ON = "runs_on"
    CONNECTED_TO = "connected_to"
    HOSTED_ON = "hosted_on"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def inverse_label(self) -> str:
        return {
            RelationType.DEPENDS_ON: "needed by",
            RelationType.RUNS_ON: "runs",
            RelationType.CONNECTED_TO: "serves",
            RelationType.HOSTED_ON: "hosts",
        }[self]


class Environment(enum.StrEnum):
    PRODUCTION = "production"
    STAGING = "staging"
    TEST = "test"
    DEVELOPMENT = "development"


class Criticality(enum.StrEnum):
    """Business criticality of a service; maps onto ITIL impact 1 (high) .. 3 (low)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def impact(self) -> int:
        return {Criticality.HIGH: 1, Criticality.MEDIUM: 2, Criticality.LOW: 3}[self]


class Collector(enum.StrEnum):
    """How a CI's health is gathered: psutil on this machine, or SNMP."""

    LOCAL = "local"
    SNMP = "snmp"


def _enum_values(kind: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in kind)


class CI(Base):
    __tablename__ = "ci"
    __table_args__ = (
        CheckConstraint(f"ci_class IN ({_enum_values(CIClass)})", name="ci_class"),
        CheckConstraint(f"environment IN ({_enum_values(Environment)})", name="environment"),
        CheckConstraint(
            f"criticality IS NULL OR criticality IN ({_enum_values(Criticality)})",
            name="criticality",
        ),
        CheckConstraint(
            f"collector IS NULL OR collector IN ({_enum_values(Collector)})", name="collector"
        ),
        Index("ix_ci_class_name", "ci_class", "name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    ci_class: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(255))
    environment: Mapped[str] = mapped_column(String(32), default=Environment.PRODUCTION.value)
    owner: Mapped[str | None] = mapped_column(String(200))
    support_group: Mapped[str | None] = mapped_column(String(200))
    criticality: Mapped[str | None] = mapped_column(String(16))
    description: Mapped[str | None] = mapped_column(Text)
    # Monitoring settings. Credentials are never stored: only the name of a profile in config.
    monitored: Mapped[bool] = mapped_column(Boolean, default=False)
    collector: Mapped[str | None] = mapped_column(String(16))
    credential_profile: Mapped[str | None] = mapped_column(String(100))
    snmp_port: Mapped[int | None] = mapped_column(Integer)
    poll_interval: Mapped[int | None] = mapped_column(Integer)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=clock.now, onupdate=clock.now)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    __mapper_args__ = {"version_id_col": version}

    outgoing: Mapped[list[Relationship]] = relationship(
        foreign_keys="Relationship.source_id",
        back_populates="source",
        # Not passive: the ORM deletes the edges itself so the change log records each one.
        cascade="all, delete-orphan",
    )
    incoming: Mapped[list[Relationship]] = relationship(
        foreign_keys="Relationship.target_id",
        back_populates="target",
        # Not passive: the ORM deletes the edges itself so the change log records each one.
        cascade="all, delete-orphan",
    )

    def __repr__(self) -> str:
        return f"CI({self.name!r}, {self.ci_class})"


class Relationship(Base):
    __tablename__ = "ci_relationship"
    __table_args__ = (
        UniqueConstraint("source_id", "target_id", "rel_type", name="uq_ci_relationship_edge"),
        CheckConstraint(f"rel_type IN ({_enum_values(RelationType)})", name="rel_type"),
        CheckConstraint("source_id <> target_id", name="not_self"),
        Index("ix_ci_relationship_target", "target_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"))
    rel_type: Mapped[str] = mapped_column(String(32))

    source: Mapped[CI] = relationship(foreign_keys=[source_id], back_populates="outgoing")
    target: Mapped[CI] = relationship(foreign_keys=[target_id], back_populates="incoming")


class ChangeLog(Base):
    """Audit trail of every write, and the change feed that consoles follow to refresh.

    Rows are only ever appended; `id` is monotonic, so "what changed since N" is one
    indexed range scan.
    """

    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_entity", "entity", "entity_id"),)
    __changelog__ = False

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    entity: Mapped[str] = mapped_column(String(64))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    # {"field": [old, new], ...} for updates; the full row for inserts and deletes.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    summary: Mapped[str] = mapped_column(String(400), default="")


# --- monitoring ------------------------------------------------------------------------------


class HostState(Base):
    """The poller's view of one monitored CI. Written every poll, so it stays out of the change
    log; its state *changes* are logged, as host_state_change rows."""

    __tablename__ = "host_state"
    __changelog__ = False
    __table_args__ = (
        CheckConstraint(f"state IN ({_enum_values(HostStatus)})", name="state"),
        Index("ix_host_state_last_poll", "last_poll_at"),
    )

    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=HostStatus.UNKNOWN.value)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(400))
    unreachable_via: Mapped[str | None] = mapped_column(String(200))
    # Latest sample: flat metrics plus disks and interfaces, for the dashboard and `hosts`.
    latest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Threshold level per metric ("ok", "warning", "critical"): hysteresis needs the past.
    levels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    poller: Mapped[str | None] = mapped_column(String(100))

    ci: Mapped[CI] = relationship()


class HostStateChange(Base):
    __tablename__ = "host_state_change"
    __table_args__ = (Index("ix_host_state_change_ci_at", "ci_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    old_state: Mapped[str] = mapped_column(String(16))
    new_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(400), default="")


class MetricSample(Base):
    """Raw samples, kept for `metrics.raw_retention`; older data lives on as rollups."""

    __tablename__ = "metric_sample"
    __table_args__ = (Index("ix_metric_sample_series", "ci_id", "metric", "at"),
                      Index("ix_metric_sample_at", "at"))  # fmt: skip

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(120))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    value: Mapped[float] = mapped_column()


class MetricRollup(Base):
    __tablename__ = "metric_rollup"
    __table_args__ = (Index("ix_metric_rollup_bucket", "bucket_start"),)

    ci_id: Mapped[int] = mapped_column(ForeignKey("ci.id", ondelete="CASCADE"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(120), primary_key=True)
    period_s: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    avg: Mapped[float] = mapped_column()
    min: Mapped[float] = mapped_column()
    max: Mapped[float] = mapped_column()


# --- events (the pipeline of the events issue consumes these) ------------------------------


class EventRecord(Base):
    """Every event as it arrived, normalised: the input of dedup and correlation."""

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint(f"severity IN ({_enum_values(Severity)})", name="severity"),
        Index("ix_event_at", "at"),
        Index("ix_event_ci_at", "ci_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(64))
    ci_id: Mapped[int | None] = mapped_column(ForeignKey("ci.id", ondelete="SET NULL"))
    check: Mapped[str] = mapped_column(String(120))
    resource: Mapped[str] = mapped_column(String(200), default="")
    severity: Mapped[str] = mapped_column(String(16))
    clear: Mapped[bool] = mapped_column(Boolean, default=False)
    message: Mapped[str] = mapped_column(Text)
    key: Mapped[str | None] = mapped_column(String(300))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
