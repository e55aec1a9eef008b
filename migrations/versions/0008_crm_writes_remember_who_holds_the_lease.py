"""crm_writes remember which delivery run holds their lease

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 00:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "claimed_by",
                sa.String(length=64),
                nullable=True,
                comment="The delivery run holding the lease: only it may record the outcome.",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("crm_writes", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
