"""Finding transitions, the CRM-write and webhook-event outboxes, deal history index in metric order

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 09:07:30.499667+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_webhook_events_connection_id_connections"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_events_event_id")),
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_events_created_at", ["created_at"], unique=False)

    op.create_table(
        "crm_writes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column(
            "finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("rule_key", sa.String(length=100), nullable=False),
        sa.Column("rep_crm_id", sa.String(length=64), nullable=False),
        sa.Column("opportunity_crm_id", sa.String(length=64), nullable=True),
        sa.Column("assignee_crm_id", sa.String(length=64), nullable=False),
        sa.Column(
            "budget_owner_crm_id",
            sa.String(length=64),
            nullable=False,
            comment="Whose weekly coaching budget the task uses (the rep's manager).",
        ),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            comment="The task: subject, body, due date...",
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "done",
                "failed",
                "cancelled",
                name="crm_write_state",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("crm_record_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            comment="The evaluation's as-of time: cadence and budgets count from it.",
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_crm_writes_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_crm_writes_finding_id_findings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_writes")),
        sa.UniqueConstraint("connection_id", "idempotency_key", name="uq_crm_writes_key"),
    )
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_writes_connection_id_budget_owner_created",
            ["connection_id", "budget_owner_crm_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_crm_writes_connection_id_rule_key_rep_crm_id",
            ["connection_id", "rule_key", "rep_crm_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_crm_writes_state_available_at", ["state", "available_at"], unique=False
        )

    op.create_table(
        "finding_transitions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "finding_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "at", sa.DateTime(timezone=True), nullable=False, comment="The evaluation's as-of time."
        ),
        sa.Column(
            "action", sa.String(length=20), nullable=False, comment="opened, escalated, resolved."
        ),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "snoozed",
                "resolved",
                name="transition_state",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "severity",
            sa.Enum(
                "low",
                "medium",
                "high",
                "critical",
                name="transition_severity",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("observed", sa.Double(), nullable=True),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["finding_id"],
            ["findings.id"],
            name=op.f("fk_finding_transitions_finding_id_findings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_finding_transitions")),
    )
    with op.batch_alter_table("finding_transitions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_finding_transitions_finding_id_at", ["finding_id", "at"], unique=False
        )

    with op.batch_alter_table("opportunity_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opportunity_changes_opportunity_changed_at"))
        batch_op.create_index(
            "ix_opportunity_changes_opportunity_changed_at",
            ["connection_id", "opportunity_crm_id", "changed_at", "crm_id"],
            unique=False,
        )

    # ### end Alembic commands ###


def downgrade() -> None:
    with op.batch_alter_table("opportunity_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunity_changes_opportunity_changed_at")
        batch_op.create_index(
            batch_op.f("ix_opportunity_changes_opportunity_changed_at"),
            ["connection_id", "opportunity_crm_id", "changed_at"],
            unique=False,
        )

    with op.batch_alter_table("finding_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_finding_transitions_finding_id_at")

    op.drop_table("finding_transitions")
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_writes_state_available_at")
        batch_op.drop_index("ix_crm_writes_connection_id_rule_key_rep_crm_id")
        batch_op.drop_index("ix_crm_writes_connection_id_budget_owner_created")

    op.drop_table("crm_writes")
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.drop_index("ix_webhook_events_created_at")

    op.drop_table("webhook_events")
    # ### end Alembic commands ###
