"""Quotas: one per rep and period only for quotas set through the API.

A CRM may hold several quotas for one rep and period (Salesforce keeps one
ForecastingQuota per forecast type), each with its own CRM id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:10:21.088919+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("quotas", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_quotas_rep_period_source"), type_="unique")
        batch_op.create_index(
            "uq_quotas_api_rep_period",
            ["connection_id", "rep_crm_id", "period_start", "period_end"],
            unique=True,
            sqlite_where=sa.text("source = 'api'"),
            postgresql_where=sa.text("source = 'api'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("quotas", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_quotas_api_rep_period",
            sqlite_where=sa.text("source = 'api'"),
            postgresql_where=sa.text("source = 'api'"),
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_quotas_rep_period_source"),
            ["connection_id", "rep_crm_id", "period_start", "period_end", "source"],
        )
