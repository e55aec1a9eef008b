"""task follow-ups (update, complete, notify) and completion read back

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-08 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "crm_followups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("task_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "update",
                "complete",
                "notify",
                name="followup_kind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("recipient_crm_id", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            comment="update: title, body, priority; complete: note; notify: title, body.",
        ),
        sa.Column(
            "state",
            sa.Enum(
                "pending",
                "done",
                "failed",
                "cancelled",
                name="crm_followup_state",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("available_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column(
            "outcome",
            sa.String(length=32),
            nullable=True,
            comment="changed, already_completed, deleted or sent.",
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_crm_followups_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["crm_writes.id"],
            name=op.f("fk_crm_followups_task_id_crm_writes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_followups")),
        sa.UniqueConstraint("connection_id", "idempotency_key", name="uq_crm_followups_key"),
    )
    with op.batch_alter_table("crm_followups", schema=None) as batch_op:
        batch_op.create_index(
            "ix_crm_followups_recipient_crm_id_created_at",
            ["recipient_crm_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_crm_followups_state_available_at", ["state", "available_at"], unique=False
        )
        batch_op.create_index("ix_crm_followups_task_id", ["task_id"], unique=False)

    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "completion",
                sa.Enum(
                    "manager",
                    "driftcoach",
                    "deleted",
                    name="task_completion",
                    native_enum=False,
                    create_constraint=True,
                    length=18,
                ),
                nullable=True,
                comment="How the task in the CRM ended: completed by the manager or by driftcoach "
                "(its finding resolved), or deleted in the CRM. Never reopened nor recreated.",
            )
        )
        batch_op.add_column(sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "coached_at",
                sa.DateTime(timezone=True),
                nullable=True,
                comment="When the manager last completed a coaching task of this finding in the CRM "
                "(read back by the sync).",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("coached_at")

    # SQLite copies the table without the column: its CHECK must go first.
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.drop_constraint("task_completion", type_="check")
        batch_op.drop_column("completed_at")
        batch_op.drop_column("completion")

    with op.batch_alter_table("crm_followups", schema=None) as batch_op:
        batch_op.drop_index("ix_crm_followups_task_id")
        batch_op.drop_index("ix_crm_followups_state_available_at")
        batch_op.drop_index("ix_crm_followups_recipient_crm_id_created_at")

    op.drop_table("crm_followups")
