"""Service management: incidents, problems, changes (CIs, approvals, conflicts),
service requests and tasks, knowledge articles, the ITSM journal, number counters, links of
incidents to alerts and the firings of auto-incident rules.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:57:29.536464
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "change_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("change_type", sa.String(length=16), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=True),
        sa.Column("short_description", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("justification", sa.Text(), nullable=False),
        sa.Column("risk", sa.String(length=32), nullable=True),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("assignment_group", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("implementation_plan", sa.Text(), nullable=False),
        sa.Column("backout_plan", sa.Text(), nullable=False),
        sa.Column("test_plan", sa.Text(), nullable=False),
        sa.Column("close_code", sa.String(length=64), nullable=True),
        sa.Column("close_notes", sa.Text(), nullable=True),
        sa.Column("review_notes", sa.Text(), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.Column("conflict_override", sa.Text(), nullable=True),
        sa.Column("conflict_override_by", sa.String(length=200), nullable=True),
        sa.Column("conflicts_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "change_type IN ('standard', 'normal', 'emergency')",
            name=op.f("ck_change_request_change_type"),
        ),
        sa.CheckConstraint(
            "state IN ('new', 'assess', 'authorize', 'scheduled', 'implement', 'review', "
            "'closed', 'canceled')",
            name=op.f("ck_change_request_state"),
        ),
        sa.CheckConstraint("impact BETWEEN 1 AND 3", name=op.f("ck_change_request_impact")),
        sa.CheckConstraint(
            "planned_end IS NULL OR planned_start IS NULL OR planned_end > planned_start",
            name=op.f("ck_change_request_window"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_request")),
        sa.UniqueConstraint("number", name=op.f("uq_change_request_number")),
    )
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.create_index("ix_change_request_assignee", ["assignee", "state"], unique=False)
        batch_op.create_index("ix_change_request_state", ["state", "id"], unique=False)
        batch_op.create_index(
            "ix_change_request_window", ["planned_start", "planned_end"], unique=False
        )

    op.create_table(
        "itsm_journal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("record_type", sa.String(length=16), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('field', 'work_note', 'comment', 'refused', 'system')",
            name=op.f("ck_itsm_journal_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_itsm_journal")),
    )
    with op.batch_alter_table("itsm_journal", schema=None) as batch_op:
        batch_op.create_index(
            "ix_itsm_journal_record", ["record_type", "record_id", "id"], unique=False
        )

    op.create_table(
        "itsm_sequence",
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("prefix", name=op.f("pk_itsm_sequence")),
    )
    op.create_table(
        "kb_article",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ci_classes", sa.JSON(), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('draft', 'published', 'retired')", name=op.f("ck_kb_article_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_article")),
        sa.UniqueConstraint("number", name=op.f("uq_kb_article_number")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_article_slug")),
    )
    op.create_table(
        "service_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("item", sa.String(length=100), nullable=False),
        sa.Column("short_description", sa.String(length=200), nullable=False),
        sa.Column("requested_for", sa.String(length=200), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("assignment_group", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('new', 'in_progress', 'fulfilled', 'closed', 'canceled')",
            name=op.f("ck_service_request_state"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_request")),
        sa.UniqueConstraint("number", name=op.f("uq_service_request_number")),
    )
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.create_index("ix_service_request_state", ["state", "id"], unique=False)

    op.create_table(
        "change_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("approver", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "decision IN ('requested', 'approved', 'rejected')",
            name=op.f("ck_change_approval_decision"),
        ),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["change_request.id"],
            name=op.f("fk_change_approval_change_id_change_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_approval")),
        sa.UniqueConstraint("change_id", "approver", name="uq_change_approval_approver"),
    )
    op.create_table(
        "change_ci",
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("ci_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["change_request.id"],
            name=op.f("fk_change_ci_change_id_change_request"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_change_ci_ci_id_ci"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("change_id", "ci_id", name=op.f("pk_change_ci")),
    )
    with op.batch_alter_table("change_ci", schema=None) as batch_op:
        batch_op.create_index("ix_change_ci_ci", ["ci_id"], unique=False)

    op.create_table(
        "change_conflict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("other_change_id", sa.Integer(), nullable=True),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("blackout", sa.String(length=200), nullable=True),
        sa.Column("detail", sa.String(length=400), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"],
            ["change_request.id"],
            name=op.f("fk_change_conflict_change_id_change_request"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_change_conflict_ci_id_ci"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["other_change_id"],
            ["change_request.id"],
            name=op.f("fk_change_conflict_other_change_id_change_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_conflict")),
    )
    with op.batch_alter_table("change_conflict", schema=None) as batch_op:
        batch_op.create_index("ix_change_conflict_change", ["change_id"], unique=False)
        batch_op.create_index("ix_change_conflict_other", ["other_change_id"], unique=False)

    op.create_table(
        "problem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("short_description", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("assignment_group", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("workaround", sa.Text(), nullable=True),
        sa.Column("known_error", sa.Boolean(), nullable=False),
        sa.Column("fix_notes", sa.Text(), nullable=True),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('new', 'assess', 'root_cause_analysis', 'fix_in_progress', 'resolved', "
            "'closed')",
            name=op.f("ck_problem_state"),
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_problem_ci_id_ci"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_problem")),
        sa.UniqueConstraint("number", name=op.f("uq_problem_number")),
    )
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.create_index("ix_problem_state", ["state", "id"], unique=False)

    op.create_table(
        "request_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("short_description", sa.String(length=200), nullable=False),
        sa.Column("assignment_group", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('open', 'in_progress', 'closed_complete', 'closed_skipped')",
            name=op.f("ck_request_task_state"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["service_request.id"],
            name=op.f("fk_request_task_request_id_service_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_task")),
        sa.UniqueConstraint("number", name=op.f("uq_request_task_number")),
    )
    with op.batch_alter_table("request_task", schema=None) as batch_op:
        batch_op.create_index("ix_request_task_group", ["assignment_group", "state"], unique=False)
        batch_op.create_index("ix_request_task_request", ["request_id", "position"], unique=False)

    op.create_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("short_description", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("caller", sa.String(length=200), nullable=True),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("ci_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("assignment_group", sa.String(length=200), nullable=True),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("on_hold_reason", sa.String(length=64), nullable=True),
        sa.Column("resolution_code", sa.String(length=64), nullable=True),
        sa.Column("resolution_notes", sa.Text(), nullable=True),
        sa.Column("problem_id", sa.Integer(), nullable=True),
        sa.Column("caused_by_change_id", sa.Integer(), nullable=True),
        sa.Column("opened_by", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_warn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_breached_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "state IN ('new', 'in_progress', 'on_hold', 'resolved', 'closed', 'canceled')",
            name=op.f("ck_incident_state"),
        ),
        sa.CheckConstraint("impact BETWEEN 1 AND 3", name=op.f("ck_incident_impact")),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name=op.f("ck_incident_priority")),
        sa.CheckConstraint("urgency BETWEEN 1 AND 3", name=op.f("ck_incident_urgency")),
        sa.ForeignKeyConstraint(
            ["caused_by_change_id"],
            ["change_request.id"],
            name=op.f("fk_incident_caused_by_change_id_change_request"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["ci_id"], ["ci.id"], name=op.f("fk_incident_ci_id_ci"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["problem_id"],
            ["problem.id"],
            name=op.f("fk_incident_problem_id_problem"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["ci.id"], name=op.f("fk_incident_service_id_ci"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
        sa.UniqueConstraint("number", name=op.f("uq_incident_number")),
    )
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.create_index("ix_incident_assignee", ["assignee", "state"], unique=False)
        batch_op.create_index("ix_incident_ci", ["ci_id"], unique=False)
        batch_op.create_index("ix_incident_group", ["assignment_group", "state"], unique=False)
        batch_op.create_index("ix_incident_resolution_warn", ["resolution_warn_at"], unique=False)
        batch_op.create_index("ix_incident_response_warn", ["response_warn_at"], unique=False)
        batch_op.create_index(
            "ix_incident_state_priority", ["state", "priority", "id"], unique=False
        )

    op.create_table(
        "incident_alert",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
            name=op.f("fk_incident_alert_alert_id_alert"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_incident_alert_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", "alert_id", name=op.f("pk_incident_alert")),
    )
    with op.batch_alter_table("incident_alert", schema=None) as batch_op:
        batch_op.create_index("ix_incident_alert_alert", ["alert_id"], unique=False)

    op.create_table(
        "itsm_rule_firing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=100), nullable=False),
        sa.Column("group_key", sa.String(length=300), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_itsm_rule_firing_incident_id_incident"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_itsm_rule_firing")),
        sa.UniqueConstraint("rule", "group_key", name="uq_itsm_rule_firing_group"),
    )

    # Number counters: the first number of each kind is 1001 (INC0001001, ...).
    op.bulk_insert(
        sa.table(
            "itsm_sequence", sa.column("prefix", sa.String), sa.column("last_value", sa.Integer)
        ),
        [{"prefix": p, "last_value": 1000} for p in ("INC", "PRB", "CHG", "REQ", "TASK", "KB")],
    )


def downgrade() -> None:
    op.drop_table("itsm_rule_firing")
    with op.batch_alter_table("incident_alert", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_alert_alert")

    op.drop_table("incident_alert")
    with op.batch_alter_table("incident", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_state_priority")
        batch_op.drop_index("ix_incident_response_warn")
        batch_op.drop_index("ix_incident_resolution_warn")
        batch_op.drop_index("ix_incident_group")
        batch_op.drop_index("ix_incident_ci")
        batch_op.drop_index("ix_incident_assignee")

    op.drop_table("incident")
    with op.batch_alter_table("request_task", schema=None) as batch_op:
        batch_op.drop_index("ix_request_task_request")
        batch_op.drop_index("ix_request_task_group")

    op.drop_table("request_task")
    with op.batch_alter_table("problem", schema=None) as batch_op:
        batch_op.drop_index("ix_problem_state")

    op.drop_table("problem")
    with op.batch_alter_table("change_conflict", schema=None) as batch_op:
        batch_op.drop_index("ix_change_conflict_other")
        batch_op.drop_index("ix_change_conflict_change")

    op.drop_table("change_conflict")
    with op.batch_alter_table("change_ci", schema=None) as batch_op:
        batch_op.drop_index("ix_change_ci_ci")

    op.drop_table("change_ci")
    op.drop_table("change_approval")
    with op.batch_alter_table("service_request", schema=None) as batch_op:
        batch_op.drop_index("ix_service_request_state")

    op.drop_table("service_request")
    op.drop_table("kb_article")
    op.drop_table("itsm_sequence")
    with op.batch_alter_table("itsm_journal", schema=None) as batch_op:
        batch_op.drop_index("ix_itsm_journal_record")

    op.drop_table("itsm_journal")
    with op.batch_alter_table("change_request", schema=None) as batch_op:
        batch_op.drop_index("ix_change_request_window")
        batch_op.drop_index("ix_change_request_state")
        batch_op.drop_index("ix_change_request_assignee")

    op.drop_table("change_request")
