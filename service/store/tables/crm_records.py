"""CRM data as synced: connections, reps, opportunities and their changes, activities,
quotas. Every CRM-sourced row carries its connection, CRM id, modification time and
soft-delete marker (:class:`~service.store.tables.base.CrmSourced`).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from connectors.records import ActivityKind, StageCategory
from service.store.tables.base import (
    Base,
    BigId,
    CrmId,
    CrmKind,
    CrmSourced,
    Document,
    IdPk,
    Money,
    QuotaSource,
    Timestamp,
    crm_unique,
    enum_column,
    utcnow,
)

# --------------------------------------------------------------------------- connections


#: Text a CRM user typed, which the store may cut to fit its column (see
#: :mod:`service.store.sanitise`); identifiers and codes are never marked so.
FREE_TEXT = {"free_text": True}


class Connection(Base):
    """One CRM org or portal that driftcoach syncs. Secrets live in settings, not here."""

    __tablename__ = "connections"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    crm: Mapped[CrmKind] = mapped_column(enum_column(CrmKind, "crm_kind"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    config: Mapped[Document] = mapped_column(
        default=dict, comment="Non-secret options: base URL, qualification fields, ..."
    )
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------- CRM data


class Rep(CrmSourced, Base):
    """A CRM user (Salesforce User, HubSpot owner): a rep, a manager, or both."""

    __tablename__ = "reps"
    __table_args__ = (
        crm_unique("reps"),
        Index("ix_reps_connection_id_manager_crm_id", "connection_id", "manager_crm_id"),
    )

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(255), info=FREE_TEXT)
    email: Mapped[str | None] = mapped_column(String(255))
    manager_crm_id: Mapped[CrmId | None]
    team: Mapped[str | None] = mapped_column(String(255), info=FREE_TEXT)
    role: Mapped[str | None] = mapped_column(String(255), info=FREE_TEXT)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    started_on: Mapped[date | None] = mapped_column(
        Date, comment="First working day, for the new-rep ramp."
    )
    time_zone: Mapped[str | None] = mapped_column(
        String(64), comment="IANA zone; business days are counted in the rep's own zone."
    )


class Opportunity(CrmSourced, Base):
    """A Salesforce Opportunity or HubSpot deal, as it stands now (history is separate)."""

    __tablename__ = "opportunities"
    __table_args__ = (
        crm_unique("opportunities"),
        Index(
            "ix_opportunities_connection_id_owner_crm_id_stage_category",
            "connection_id",
            "owner_crm_id",
            "stage_category",
        ),
        Index("ix_opportunities_connection_id_close_date", "connection_id", "close_date"),
    )

    id: Mapped[IdPk]
    owner_crm_id: Mapped[CrmId | None]
    name: Mapped[str] = mapped_column(String(255), info=FREE_TEXT)
    account_name: Mapped[str | None] = mapped_column(String(255), info=FREE_TEXT)
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    pipeline: Mapped[str | None] = mapped_column(String(255))
    stage: Mapped[str] = mapped_column(String(255), comment="The CRM's own stage name or id.")
    stage_category: Mapped[StageCategory] = mapped_column(
        enum_column(StageCategory, "stage_category")
    )
    probability: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), comment="Percent, 0-100.")
    close_date: Mapped[date | None] = mapped_column(Date)
    created_in_crm_at: Mapped[Timestamp | None]
    closed_at: Mapped[Timestamp | None]
    next_step: Mapped[str | None] = mapped_column(Text)
    qualification: Mapped[Document] = mapped_column(
        default=dict, comment="The configured qualification fields and their values."
    )


class OpportunityChange(CrmSourced, Base):
    """One entry of a deal's history (Salesforce OpportunityHistory, HubSpot property history).

    Each row holds the values known at ``changed_at``; a column is NULL when that entry
    did not record it (HubSpot histories come one property at a time). "Stage as of T" is
    therefore the newest row at or before T whose ``stage`` is not NULL.
    """

    __tablename__ = "opportunity_changes"
    __table_args__ = (
        crm_unique("opportunity_changes"),
        # crm_id last: the metric queries' window passes order a deal's history by
        # (changed_at, crm_id), and this gives them that order straight from the index.
        Index(
            "ix_opportunity_changes_opportunity_changed_at",
            "connection_id",
            "opportunity_crm_id",
            "changed_at",
            "crm_id",
        ),
    )

    id: Mapped[IdPk]
    opportunity_crm_id: Mapped[CrmId]
    changed_at: Mapped[Timestamp]
    stage: Mapped[str | None] = mapped_column(String(255))
    stage_category: Mapped[StageCategory | None] = mapped_column(
        enum_column(StageCategory, "change_stage_category")
    )
    amount: Mapped[Decimal | None] = mapped_column(Money)
    close_date: Mapped[date | None] = mapped_column(Date)
    probability: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))


class Activity(CrmSourced, Base):
    """A call, email, meeting, task or note done (or due) by a rep."""

    __tablename__ = "activities"
    __table_args__ = (
        crm_unique("activities"),
        Index(
            "ix_activities_connection_id_rep_crm_id_occurred_at",
            "connection_id",
            "rep_crm_id",
            "occurred_at",
        ),
        Index(
            "ix_activities_connection_id_opportunity_crm_id_occurred_at",
            "connection_id",
            "opportunity_crm_id",
            "occurred_at",
        ),
    )

    id: Mapped[IdPk]
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind, "activity_kind"))
    subtype: Mapped[str | None] = mapped_column(String(255), comment="The CRM's own subtype.")
    rep_crm_id: Mapped[CrmId | None]
    opportunity_crm_id: Mapped[CrmId | None]
    occurred_at: Mapped[Timestamp]
    subject: Mapped[str | None] = mapped_column(String(255), info=FREE_TEXT)
    status: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str | None] = mapped_column(
        String(255), comment="Call disposition, meeting outcome, ..."
    )
    duration_seconds: Mapped[int | None] = mapped_column(Integer)


class Quota(Base):
    """A rep's quota for one period, from the CRM or set by sales ops through the API."""

    __tablename__ = "quotas"
    __table_args__ = (
        UniqueConstraint("connection_id", "crm_id", name="uq_quotas_connection_id_crm_id"),
        # Sales ops set one quota per rep and period; a CRM may hold several (Salesforce
        # keeps one ForecastingQuota per forecast type), each with its own crm_id.
        Index(
            "uq_quotas_api_rep_period",
            "connection_id",
            "rep_crm_id",
            "period_start",
            "period_end",
            unique=True,
            sqlite_where=text("source = 'api'"),
            postgresql_where=text("source = 'api'"),
        ),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[IdPk]
    connection_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="CASCADE")
    )
    rep_crm_id: Mapped[CrmId]
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date, comment="Inclusive.")
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    source: Mapped[QuotaSource] = mapped_column(enum_column(QuotaSource, "quota_source"))
    crm_id: Mapped[CrmId | None] = mapped_column(comment="Set for quotas read from the CRM.")
    crm_modified_at: Mapped[Timestamp | None]
    deleted_at: Mapped[Timestamp | None]
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)
