"""Monitoring (host state, state changes, metric samples and rollups) and raw events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:32:27.183706
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("check", sa.String(length=120), nullable=False),
        sa.Column("resource", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("clear", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "severity IN ('critical', 'major', 'minor', 'warning', 'info')",
            name=op.f("ck_event_severity"),
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_event_ci_id_ci"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event")),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_at", ["at"], unique=False)
        batch_op.create_index("ix_event_ci_at", ["ci_id", "at"], unique=False)

    op.create_table(
        "host_state",
        sa.Column("ci_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_poll_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_ok_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=400), nullable=True),
        sa.Column("unreachable_via", sa.String(length=200), nullable=True),
        sa.Column("latest", sa.JSON(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("poller", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "state IN ('UP', 'DOWN', 'UNREACHABLE', 'UNKNOWN', 'MAINTENANCE')",
            name=op.f("ck_host_state_state"),
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_host_state_ci_id_ci"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ci_id", name=op.f("pk_host_state")),
    )
    with op.batch_alter_table("host_state", schema=None) as batch_op:
        batch_op.create_index("ix_host_state_last_poll", ["last_poll_at"], unique=False)

    op.create_table(
        "host_state_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ci_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("old_state", sa.String(length=16), nullable=False),
        sa.Column("new_state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_host_state_change_ci_id_ci"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_host_state_change")),
    )
    with op.batch_alter_table("host_state_change", schema=None) as batch_op:
        batch_op.create_index("ix_host_state_change_ci_at", ["ci_id", "at"], unique=False)

    op.create_table(
        "metric_rollup",
        sa.Column("ci_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=120), nullable=False),
        sa.Column("period_s", sa.Integer(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("avg", sa.Double(), nullable=False),
        sa.Column("min", sa.Double(), nullable=False),
        sa.Column("max", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_metric_rollup_ci_id_ci"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint(
            "ci_id", "metric", "period_s", "bucket_start", name=op.f("pk_metric_rollup")
        ),
    )
    with op.batch_alter_table("metric_rollup", schema=None) as batch_op:
        batch_op.create_index("ix_metric_rollup_bucket", ["bucket_start"], unique=False)

    op.create_table(
        "metric_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ci_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=120), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_metric_sample_ci_id_ci"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metric_sample")),
    )
    with op.batch_alter_table("metric_sample", schema=None) as batch_op:
        batch_op.create_index("ix_metric_sample_at", ["at"], unique=False)
        batch_op.create_index("ix_metric_sample_series", ["ci_id", "metric", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("metric_sample", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_sample_series")
        batch_op.drop_index("ix_metric_sample_at")

    op.drop_table("metric_sample")
    with op.batch_alter_table("metric_rollup", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_rollup_bucket")

    op.drop_table("metric_rollup")
    with op.batch_alter_table("host_state_change", schema=None) as batch_op:
        batch_op.drop_index("ix_host_state_change_ci_at")

    op.drop_table("host_state_change")
    with op.batch_alter_table("host_state", schema=None) as batch_op:
        batch_op.drop_index("ix_host_state_last_poll")

    op.drop_table("host_state")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_ci_at")
        batch_op.drop_index("ix_event_at")

    op.drop_table("event")
