"""findings anchor their baseline; tasks have a kind (coaching or hygiene)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 20:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OWNER_OLD = "Whose weekly coaching budget the task uses (the rep's manager)."
_OWNER_NEW = (
    "Whose weekly budget of its kind the task uses (coaching: the rep's manager; hygiene: the rep)."
)


def _owner_comment(comment: str, existing: str) -> None:
    # Only PostgreSQL keeps column comments; SQLite would copy the table for nothing.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "crm_writes",
        "budget_owner_crm_id",
        existing_type=sa.String(length=64),
        existing_nullable=False,
        comment=comment,
        existing_comment=existing,
    )


def upgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "baseline",
                sa.Double(),
                nullable=True,
                comment="Own-baseline standards: the baseline the finding opened against.",
            )
        )
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "task_kind",
                sa.String(length=16),
                server_default="coaching",
                nullable=False,
                comment="coaching (for the manager) or hygiene (deal upkeep, for the rep).",
            )
        )
    _owner_comment(_OWNER_NEW, _OWNER_OLD)


def downgrade() -> None:
    _owner_comment(_OWNER_OLD, _OWNER_NEW)
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.drop_column("task_kind")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_column("baseline")
