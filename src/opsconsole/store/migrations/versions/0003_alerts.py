"""Alerts (the queue the events pipeline feeds), their journal, and silences.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:49:56.719406
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "silence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("until_alert_id", sa.Integer(), nullable=True),
        sa.Column("until_recovery", sa.Boolean(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expired_by", sa.String(length=200), nullable=True),
        sa.CheckConstraint("author <> ''", name=op.f("ck_silence_author")),
        sa.CheckConstraint("comment <> ''", name=op.f("ck_silence_comment")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silence")),
    )
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.create_index("ix_silence_ends_at", ["ends_at"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("dedup_key", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("ci_name", sa.String(length=200), nullable=False),
        sa.Column("check", sa.String(length=120), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("severity_level", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=200), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("acked_by", sa.String(length=200), nullable=True),
        sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ack_note", sa.Text(), nullable=True),
        sa.Column("ack_ticket", sa.String(length=100), nullable=True),
        sa.Column("ack_sticky", sa.Boolean(), nullable=False),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("suppression", sa.String(length=16), nullable=True),
        sa.Column("suppressed_reason", sa.String(length=400), nullable=True),
        sa.Column("silence_id", sa.Integer(), nullable=True),
        sa.Column("flap_changes", sa.String(length=20), nullable=False),
        sa.Column("flap_state", sa.Integer(), nullable=True),
        sa.Column("flap_value", sa.Float(), nullable=False),
        sa.Column("flapping", sa.Boolean(), nullable=False),
        sa.Column("problem", sa.Boolean(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("group_reason", sa.String(length=200), nullable=True),
        sa.Column("services", sa.String(length=1000), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('critical', 'major', 'minor', 'warning', 'info')",
            name=op.f("ck_alert_severity"),
        ),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'suppressed', 'resolved', 'closed')",
            name=op.f("ck_alert_state"),
        ),
        sa.CheckConstraint(
            "suppression IS NULL OR suppression IN "
            "('silence', 'maintenance', 'topology', 'flapping')",
            name=op.f("ck_alert_suppression"),
        ),
        sa.CheckConstraint("severity_level BETWEEN 1 AND 5", name=op.f("ck_alert_severity_level")),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_alert_ci_id_ci"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["alert.id"], name=op.f("fk_alert_parent_id_alert"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["silence_id"],
            ["silence.id"],
            name=op.f("fk_alert_silence_id_silence"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert")),
        sa.UniqueConstraint("dedup_key", name=op.f("uq_alert_dedup_key")),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(
            "ix_alert_assignee_queue",
            ["assignee", "severity_level", "last_seen", "id"],
            unique=False,
        )
        batch_op.create_index("ix_alert_ci_state", ["ci_id", "state"], unique=False)
        batch_op.create_index("ix_alert_fingerprint", ["fingerprint", "id"], unique=False)
        batch_op.create_index("ix_alert_first_seen", ["first_seen"], unique=False)
        batch_op.create_index("ix_alert_parent", ["parent_id"], unique=False)
        batch_op.create_index("ix_alert_queue", ["severity_level", "last_seen", "id"], unique=False)
        batch_op.create_index("ix_alert_snoozed_until", ["snoozed_until"], unique=False)
        batch_op.create_index(
            "ix_alert_state_queue", ["state", "severity_level", "last_seen", "id"], unique=False
        )

    op.create_table(
        "alert_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("old_state", sa.String(length=16), nullable=True),
        sa.Column("new_state", sa.String(length=16), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_alert_history_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_history")),
    )
    with op.batch_alter_table("alert_history", schema=None) as batch_op:
        batch_op.create_index("ix_alert_history_alert", ["alert_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("alert_history", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_history_alert")

    op.drop_table("alert_history")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_state_queue")
        batch_op.drop_index("ix_alert_snoozed_until")
        batch_op.drop_index("ix_alert_queue")
        batch_op.drop_index("ix_alert_parent")
        batch_op.drop_index("ix_alert_first_seen")
        batch_op.drop_index("ix_alert_fingerprint")
        batch_op.drop_index("ix_alert_ci_state")
        batch_op.drop_index("ix_alert_assignee_queue")

    op.drop_table("alert")
    with op.batch_alter_table("silence", schema=None) as batch_op:
        batch_op.drop_index("ix_silence_ends_at")

    op.drop_table("silence")
