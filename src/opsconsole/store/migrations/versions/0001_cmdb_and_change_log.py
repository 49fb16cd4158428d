"""CMDB (CIs and relationships) and the change log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 11:20:30.769496
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("summary", sa.String(length=400), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_log")),
    )
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.create_index("ix_change_log_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "ci",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ci_class", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=True),
        sa.Column("environment", sa.String(length=32), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("support_group", sa.String(length=200), nullable=True),
        sa.Column("criticality", sa.String(length=16), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("monitored", sa.Boolean(), nullable=False),
        sa.Column("collector", sa.String(length=16), nullable=True),
        sa.Column("credential_profile", sa.String(length=100), nullable=True),
        sa.Column("snmp_port", sa.Integer(), nullable=True),
        sa.Column("poll_interval", sa.Integer(), nullable=True),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "ci_class IN ('service', 'application', 'host', 'network_device', 'database',"
            " 'storage')",
            name=op.f("ck_ci_ci_class"),
        ),
        sa.CheckConstraint(
            "collector IS NULL OR collector IN ('local', 'snmp')", name=op.f("ck_ci_collector")
        ),
        sa.CheckConstraint(
            "criticality IS NULL OR criticality IN ('high', 'medium', 'low')",
            name=op.f("ck_ci_criticality"),
        ),
        sa.CheckConstraint(
            "environment IN ('production', 'staging', 'test', 'development')",
            name=op.f("ck_ci_environment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci")),
        sa.UniqueConstraint("name", name=op.f("uq_ci_name")),
    )
    with op.batch_alter_table("ci", schema=None) as batch_op:
        batch_op.create_index("ix_ci_class_name", ["ci_class", "name"], unique=False)

    op.create_table(
        "ci_relationship",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("rel_type", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "rel_type IN ('depends_on', 'runs_on', 'connected_to', 'hosted_on')",
            name=op.f("ck_ci_relationship_rel_type"),
        ),
        sa.CheckConstraint("source_id <> target_id", name=op.f("ck_ci_relationship_not_self")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["ci.id"],
            name=op.f("fk_ci_relationship_source_id_ci"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["ci.id"],
            name=op.f("fk_ci_relationship_target_id_ci"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ci_relationship")),
        sa.UniqueConstraint("source_id", "target_id", "rel_type", name="uq_ci_relationship_edge"),
    )
    with op.batch_alter_table("ci_relationship", schema=None) as batch_op:
        batch_op.create_index("ix_ci_relationship_target", ["target_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ci_relationship", schema=None) as batch_op:
        batch_op.drop_index("ix_ci_relationship_target")

    op.drop_table("ci_relationship")
    with op.batch_alter_table("ci", schema=None) as batch_op:
        batch_op.drop_index("ix_ci_class_name")

    op.drop_table("ci")
    with op.batch_alter_table("change_log", schema=None) as batch_op:
        batch_op.drop_index("ix_change_log_entity")

    op.drop_table("change_log")
