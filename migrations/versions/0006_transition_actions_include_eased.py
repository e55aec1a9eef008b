"""finding_transitions.action names every action, eased included

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 18:40:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "opened, escalated, resolved."
_NEW = "opened, escalated, eased or resolved."


def _comment(comment: str, existing: str) -> None:
    # Only PostgreSQL keeps column comments; SQLite would copy the table for nothing.
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column(
        "finding_transitions",
        "action",
        existing_type=sa.String(length=20),
        existing_nullable=False,
        comment=comment,
        existing_comment=existing,
    )


def upgrade() -> None:
    _comment(_NEW, _OLD)


def downgrade() -> None:
    _comment(_OLD, _NEW)
