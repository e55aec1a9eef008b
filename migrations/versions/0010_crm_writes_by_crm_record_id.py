"""crm_writes found by the CRM record id their delivery recorded

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-08 01:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Metrics leave driftcoach's own tasks out of a rep's activities by this lookup.
    op.create_index(
        "ix_crm_writes_connection_id_crm_record_id",
        "crm_writes",
        ["connection_id", "crm_record_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_crm_writes_connection_id_crm_record_id", table_name="crm_writes")
