"""Initial schema: connections, CRM data, quotas, sync state, rules, findings, audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 04:48:02.488355+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor", sa.String(length=200), nullable=False, comment="API key id, 'cli' or 'system'."
        ),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=100), nullable=True),
        sa.Column(
            "details", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_entity_type_entity_id_occurred_at",
            ["entity_type", "entity_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index("ix_audit_log_occurred_at", ["occurred_at"], unique=False)

    op.create_table(
        "connections",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "crm",
            sa.Enum(
                "salesforce",
                "hubspot",
                name="crm_kind",
                native_enum=False,
                create_constraint=True,
                length=18,
            ),
            nullable=False,
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "config",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            comment="Non-secret options: base URL, qualification fields, ...",
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connections")),
        sa.UniqueConstraint("name", name=op.f("uq_connections_name")),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rules")),
        sa.UniqueConstraint("key", name=op.f("uq_rules_key")),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "call",
                "email",
                "meeting",
                "task",
                "note",
                name="activity_kind",
                native_enum=False,
                create_constraint=True,
                length=15,
            ),
            nullable=False,
        ),
        sa.Column(
            "subtype", sa.String(length=100), nullable=True, comment="The CRM's own subtype."
        ),
        sa.Column("rep_crm_id", sa.String(length=64), nullable=True),
        sa.Column("opportunity_crm_id", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=100), nullable=True),
        sa.Column(
            "outcome",
            sa.String(length=100),
            nullable=True,
            comment="Call disposition, meeting outcome, ...",
        ),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column(
            "crm_modified_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="The CRM's last-modified time (SystemModstamp, hs_lastmodifieddate).",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Set when the CRM deleted or archived the record; such rows are kept.",
        ),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_activities_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint("connection_id", "crm_id", name="uq_activities_connection_id_crm_id"),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activities_connection_id_opportunity_crm_id_occurred_at",
            ["connection_id", "opportunity_crm_id", "occurred_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_activities_connection_id_rep_crm_id_occurred_at",
            ["connection_id", "rep_crm_id", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "opportunities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner_crm_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("account_name", sa.String(length=255), nullable=True),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("pipeline", sa.String(length=100), nullable=True),
        sa.Column(
            "stage",
            sa.String(length=100),
            nullable=False,
            comment="The CRM's own stage name or id.",
        ),
        sa.Column(
            "stage_category",
            sa.Enum(
                "open",
                "won",
                "lost",
                name="stage_category",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column(
            "probability",
            sa.Numeric(precision=5, scale=2),
            nullable=True,
            comment="Percent, 0-100.",
        ),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("created_in_crm_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=True),
        sa.Column(
            "qualification",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            comment="The configured qualification fields and their values.",
        ),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column(
            "crm_modified_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="The CRM's last-modified time (SystemModstamp, hs_lastmodifieddate).",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Set when the CRM deleted or archived the record; such rows are kept.",
        ),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_opportunities_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
        sa.UniqueConstraint(
            "connection_id", "crm_id", name="uq_opportunities_connection_id_crm_id"
        ),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opportunities_connection_id_close_date",
            ["connection_id", "close_date"],
            unique=False,
        )
        batch_op.create_index(
            "ix_opportunities_connection_id_owner_crm_id_stage_category",
            ["connection_id", "owner_crm_id", "stage_category"],
            unique=False,
        )

    op.create_table(
        "opportunity_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("opportunity_crm_id", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stage", sa.String(length=100), nullable=True),
        sa.Column(
            "stage_category",
            sa.Enum(
                "open",
                "won",
                "lost",
                name="change_stage_category",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=True,
        ),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("probability", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column(
            "crm_modified_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="The CRM's last-modified time (SystemModstamp, hs_lastmodifieddate).",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Set when the CRM deleted or archived the record; such rows are kept.",
        ),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_opportunity_changes_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunity_changes")),
        sa.UniqueConstraint(
            "connection_id", "crm_id", name="uq_opportunity_changes_connection_id_crm_id"
        ),
    )
    with op.batch_alter_table("opportunity_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_opportunity_changes_opportunity_changed_at",
            ["connection_id", "opportunity_crm_id", "changed_at"],
            unique=False,
        )

    op.create_table(
        "quotas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rep_crm_id", sa.String(length=64), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False, comment="Inclusive."),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column(
            "source",
            sa.Enum(
                "crm",
                "api",
                name="quota_source",
                native_enum=False,
                create_constraint=True,
                length=11,
            ),
            nullable=False,
        ),
        sa.Column(
            "crm_id",
            sa.String(length=64),
            nullable=True,
            comment="Set for quotas read from the CRM.",
        ),
        sa.Column("crm_modified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_quotas_amount_not_negative")),
        sa.CheckConstraint("period_end >= period_start", name=op.f("ck_quotas_period_ordered")),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_quotas_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotas")),
        sa.UniqueConstraint("connection_id", "crm_id", name="uq_quotas_connection_id_crm_id"),
        sa.UniqueConstraint(
            "connection_id",
            "rep_crm_id",
            "period_start",
            "period_end",
            "source",
            name="uq_quotas_rep_period_source",
        ),
    )
    op.create_table(
        "reps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("manager_crm_id", sa.String(length=64), nullable=True),
        sa.Column("team", sa.String(length=255), nullable=True),
        sa.Column("role", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "started_on",
            sa.Date(),
            nullable=True,
            comment="First working day, for the new-rep ramp.",
        ),
        sa.Column(
            "time_zone",
            sa.String(length=64),
            nullable=True,
            comment="IANA zone; business days are counted in the rep's own zone.",
        ),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column(
            "crm_modified_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="The CRM's last-modified time (SystemModstamp, hs_lastmodifieddate).",
        ),
        sa.Column(
            "deleted_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="Set when the CRM deleted or archived the record; such rows are kept.",
        ),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_reps_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reps")),
        sa.UniqueConstraint("connection_id", "crm_id", name="uq_reps_connection_id_crm_id"),
    )
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reps_connection_id_manager_crm_id",
            ["connection_id", "manager_crm_id"],
            unique=False,
        )

    op.create_table(
        "rule_versions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "document", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["rules.id"],
            name=op.f("fk_rule_versions_rule_id_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_versions")),
        sa.UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_id_version"),
    )
    op.create_table(
        "sync_state",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "connection_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column(
            "cursor", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True
        ),
        sa.Column(
            "status",
            sa.Enum(
                "idle",
                "running",
                "succeeded",
                "failed",
                "stopped",
                name="sync_status",
                native_enum=False,
                create_constraint=True,
                length=17,
            ),
            nullable=False,
        ),
        sa.Column("run_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("records_read", sa.BigInteger(), nullable=False),
        sa.Column("records_upserted", sa.BigInteger(), nullable=False),
        sa.Column("records_deleted", sa.BigInteger(), nullable=False),
        sa.Column("api_calls", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["connections.id"],
            name=op.f("fk_sync_state_connection_id_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_state")),
        sa.UniqueConstraint("connection_id", "stream", name="uq_sync_state_connection_id_stream"),
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column(
            "subject_kind",
            sa.Enum(
                "rep",
                "deal",
                name="subject_kind",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column(
            "rep_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            comment="The rep coached: the subject itself, or the owner of the deal.",
        ),
        sa.Column(
            "opportunity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "snoozed",
                "resolved",
                name="finding_state",
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
                name="severity",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "period_start", sa.Date(), nullable=False, comment="The latest period evaluated."
        ),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("observed", sa.Double(), nullable=True),
        sa.Column(
            "standard",
            sa.JSON().with_variant(postgresql.JSONB(), "postgresql"),
            nullable=False,
            comment="The standard applied: min/max, basis.",
        ),
        sa.Column(
            "evidence", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(subject_kind = 'rep' AND opportunity_id IS NULL) OR (subject_kind = 'deal' AND opportunity_id IS NOT NULL)",
            name=op.f("ck_findings_subject_matches_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_findings_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rep_id"], ["reps.id"], name=op.f("fk_findings_rep_id_reps"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["rules.id"], name=op.f("fk_findings_rule_id_rules"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_rep_id_state", ["rep_id", "state"], unique=False)
        batch_op.create_index(
            "uq_findings_live_deal",
            ["rule_id", "opportunity_id"],
            unique=True,
            sqlite_where=sa.text("subject_kind = 'deal' AND state <> 'resolved'"),
            postgresql_where=sa.text("subject_kind = 'deal' AND state <> 'resolved'"),
        )
        batch_op.create_index(
            "uq_findings_live_rep",
            ["rule_id", "rep_id"],
            unique=True,
            sqlite_where=sa.text("subject_kind = 'rep' AND state <> 'resolved'"),
            postgresql_where=sa.text("subject_kind = 'rep' AND state <> 'resolved'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_findings_live_rep",
            sqlite_where=sa.text("subject_kind = 'rep' AND state <> 'resolved'"),
            postgresql_where=sa.text("subject_kind = 'rep' AND state <> 'resolved'"),
        )
        batch_op.drop_index(
            "uq_findings_live_deal",
            sqlite_where=sa.text("subject_kind = 'deal' AND state <> 'resolved'"),
            postgresql_where=sa.text("subject_kind = 'deal' AND state <> 'resolved'"),
        )
        batch_op.drop_index("ix_findings_rep_id_state")

    op.drop_table("findings")
    op.drop_table("sync_state")
    op.drop_table("rule_versions")
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_index("ix_reps_connection_id_manager_crm_id")

    op.drop_table("reps")
    op.drop_table("quotas")
    with op.batch_alter_table("opportunity_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunity_changes_opportunity_changed_at")

    op.drop_table("opportunity_changes")
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_connection_id_owner_crm_id_stage_category")
        batch_op.drop_index("ix_opportunities_connection_id_close_date")

    op.drop_table("opportunities")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_connection_id_rep_crm_id_occurred_at")
        batch_op.drop_index("ix_activities_connection_id_opportunity_crm_id_occurred_at")

    op.drop_table("activities")
    op.drop_table("rules")
    op.drop_table("connections")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_occurred_at")
        batch_op.drop_index("ix_audit_log_entity_type_entity_id_occurred_at")

    op.drop_table("audit_log")
