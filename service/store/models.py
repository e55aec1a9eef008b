"""The canonical store: CRM-neutral tables that both connectors fill and the rules read.

Design choices that later code relies on:

* Every CRM-sourced row carries ``connection_id``, its ``crm_id`` (unique per connection),
  the CRM's modification time and a soft-delete marker (``deleted_at``). Rows point at
  each other by CRM id within a connection (``owner_crm_id``, ``manager_crm_id``...), so a
  sync can upsert records in whatever order the CRM returns them, with no second pass
  to resolve surrogate keys.
* Money is ``Numeric`` (``Decimal`` in Python), never float. Times are aware UTC
  (:class:`~service.store.types.UtcDateTime`); calendar dates (close date, quota
  periods) are ``Date``.
* Enumerations are stored as short strings with a CHECK constraint rather than native
  PostgreSQL enums, so adding a value is a one-line migration on both backends.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from connectors.records import ActivityKind, StageCategory
from service.store.types import UtcDateTime, json_document

# Explicit constraint names: Alembic's batch mode on SQLite can only alter what it can name,
# and predictable names keep migrations identical on both backends.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, aware and in UTC (the only kind the store accepts)."""
    return datetime.now(UTC)


# --------------------------------------------------------------------------- vocabulary


class CrmKind(StrEnum):
    SALESFORCE = "salesforce"
    HUBSPOT = "hubspot"


class QuotaSource(StrEnum):
    """Quotas come from the CRM (Salesforce ForecastingQuota) or are set through the API."""

    CRM = "crm"
    API = "api"


class SyncStatus(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    # Ended early on purpose (API budget reached, CRM rate limit): the checkpoint holds and
    # the next scheduled run continues from it.
    STOPPED = "stopped"


class SubjectKind(StrEnum):
    REP = "rep"
    DEAL = "deal"


class FindingState(StrEnum):
    OPEN = "open"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


def _enum(cls: type[StrEnum], name: str) -> Enum:
    """A string column limited to ``cls``'s values by a named CHECK constraint."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=max(len(member.value) for member in cls) + 8,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


# --------------------------------------------------------------------------- base

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only
Money = Numeric(18, 2)

IdPk = Annotated[int, mapped_column(BigId, primary_key=True)]
CrmId = Annotated[str, mapped_column(String(64))]
Timestamp = Annotated[datetime, mapped_column(UtcDateTime())]
Document = Annotated[dict[str, Any], mapped_column(json_document())]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class CrmSourced:
    """Columns every row pulled from a CRM carries; ``(connection_id, crm_id)`` is unique."""

    connection_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="CASCADE")
    )
    crm_id: Mapped[CrmId]
    crm_modified_at: Mapped[Timestamp | None] = mapped_column(
        comment="The CRM's last-modified time (SystemModstamp, hs_lastmodifieddate)."
    )
    deleted_at: Mapped[Timestamp | None] = mapped_column(
        comment="Set when the CRM deleted or archived the record; such rows are kept."
    )
    synced_at: Mapped[Timestamp] = mapped_column(default=utcnow)


def _crm_unique(table: str) -> UniqueConstraint:
    return UniqueConstraint("connection_id", "crm_id", name=f"uq_{table}_connection_id_crm_id")


# --------------------------------------------------------------------------- connections


class Connection(Base):
    """One CRM org or portal that driftcoach syncs. Secrets live in settings, not here."""

    __tablename__ = "connections"

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(100), unique=True)
    crm: Mapped[CrmKind] = mapped_column(_enum(CrmKind, "crm_kind"))
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
        _crm_unique("reps"),
        Index("ix_reps_connection_id_manager_crm_id", "connection_id", "manager_crm_id"),
    )

    id: Mapped[IdPk]
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    manager_crm_id: Mapped[CrmId | None]
    team: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(255))
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
        _crm_unique("opportunities"),
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
    name: Mapped[str] = mapped_column(String(255))
    account_name: Mapped[str | None] = mapped_column(String(255))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    pipeline: Mapped[str | None] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(100), comment="The CRM's own stage name or id.")
    stage_category: Mapped[StageCategory] = mapped_column(_enum(StageCategory, "stage_category"))
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
        _crm_unique("opportunity_changes"),
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
    stage: Mapped[str | None] = mapped_column(String(100))
    stage_category: Mapped[StageCategory | None] = mapped_column(
        _enum(StageCategory, "change_stage_category")
    )
    amount: Mapped[Decimal | None] = mapped_column(Money)
    close_date: Mapped[date | None] = mapped_column(Date)
    probability: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))


class Activity(CrmSourced, Base):
    """A call, email, meeting, task or note done (or due) by a rep."""

    __tablename__ = "activities"
    __table_args__ = (
        _crm_unique("activities"),
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
    kind: Mapped[ActivityKind] = mapped_column(_enum(ActivityKind, "activity_kind"))
    subtype: Mapped[str | None] = mapped_column(String(100), comment="The CRM's own subtype.")
    rep_crm_id: Mapped[CrmId | None]
    opportunity_crm_id: Mapped[CrmId | None]
    occurred_at: Mapped[Timestamp]
    subject: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(
        String(100), comment="Call disposition, meeting outcome, ..."
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
    source: Mapped[QuotaSource] = mapped_column(_enum(QuotaSource, "quota_source"))
    crm_id: Mapped[CrmId | None] = mapped_column(comment="Set for quotas read from the CRM.")
    crm_modified_at: Mapped[Timestamp | None]
    deleted_at: Mapped[Timestamp | None]
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------- sync


class SyncState(Base):
    """Per connection and stream: the cursor to resume from and how the last run went.

    The cursor is written in the same transaction as the records it covers, so after a
    crash the next run resumes exactly where the committed data ends.
    """

    __tablename__ = "sync_state"
    __table_args__ = (
        UniqueConstraint("connection_id", "stream", name="uq_sync_state_connection_id_stream"),
    )

    id: Mapped[IdPk]
    connection_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="CASCADE")
    )
    stream: Mapped[str] = mapped_column(String(64))
    cursor: Mapped[Document | None]
    status: Mapped[SyncStatus] = mapped_column(
        _enum(SyncStatus, "sync_status"), default=SyncStatus.IDLE
    )
    run_started_at: Mapped[Timestamp | None]
    run_finished_at: Mapped[Timestamp | None]
    last_success_at: Mapped[Timestamp | None]
    records_read: Mapped[int] = mapped_column(BigInteger, default=0)
    records_upserted: Mapped[int] = mapped_column(BigInteger, default=0)
    records_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    api_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)


# --------------------------------------------------------------------------- rules


class Rule(Base):
    """A rule's identity; its content lives in immutable :class:`RuleVersion` rows."""

    __tablename__ = "rules"

    id: Mapped[IdPk]
    key: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[Timestamp | None]


class RuleVersion(Base):
    """One immutable revision of a rule document; findings name the version that made them."""

    __tablename__ = "rule_versions"
    __table_args__ = (
        UniqueConstraint("rule_id", "version", name="uq_rule_versions_rule_id_version"),
    )

    id: Mapped[IdPk]
    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("rules.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[Document]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(200))


_LIVE = "state <> 'resolved'"


class Finding(Base):
    """A sustained drift of one rep (or one deal) on one rule, from opening to resolution.

    At most one live (open or snoozed) finding exists per rule and subject; partial unique
    indexes enforce that, so replicas evaluating at once cannot open duplicates.
    """

    __tablename__ = "findings"
    __table_args__ = (
        CheckConstraint(
            "(subject_kind = 'rep' AND opportunity_id IS NULL)"
            " OR (subject_kind = 'deal' AND opportunity_id IS NOT NULL)",
            name="subject_matches_kind",
        ),
        Index(
            "uq_findings_live_rep",
            "rule_id",
            "rep_id",
            unique=True,
            sqlite_where=text(f"subject_kind = 'rep' AND {_LIVE}"),
            postgresql_where=text(f"subject_kind = 'rep' AND {_LIVE}"),
        ),
        Index(
            "uq_findings_live_deal",
            "rule_id",
            "opportunity_id",
            unique=True,
            sqlite_where=text(f"subject_kind = 'deal' AND {_LIVE}"),
            postgresql_where=text(f"subject_kind = 'deal' AND {_LIVE}"),
        ),
        Index("ix_findings_rep_id_state", "rep_id", "state"),
    )

    id: Mapped[IdPk]
    rule_id: Mapped[int] = mapped_column(BigId, ForeignKey("rules.id", ondelete="CASCADE"))
    rule_version: Mapped[int] = mapped_column(Integer)
    subject_kind: Mapped[SubjectKind] = mapped_column(_enum(SubjectKind, "subject_kind"))
    rep_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("reps.id", ondelete="CASCADE"),
        comment="The rep coached: the subject itself, or the owner of the deal.",
    )
    opportunity_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("opportunities.id", ondelete="CASCADE")
    )
    state: Mapped[FindingState] = mapped_column(
        _enum(FindingState, "finding_state"), default=FindingState.OPEN
    )
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "severity"))
    period_start: Mapped[date] = mapped_column(Date, comment="The latest period evaluated.")
    period_end: Mapped[date] = mapped_column(Date)
    observed: Mapped[float | None] = mapped_column(Double)
    standard: Mapped[Document] = mapped_column(comment="The standard applied: min/max, basis.")
    evidence: Mapped[Document] = mapped_column(default=dict)
    opened_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)
    resolved_at: Mapped[Timestamp | None]
    snoozed_until: Mapped[Timestamp | None]


class FindingTransition(Base):
    """Every change of a finding's state or severity, with the evidence at that moment.

    The finding row holds the present; this table is its history (when it opened, each
    escalation, its resolution), which the API and the backtest read.
    """

    __tablename__ = "finding_transitions"
    __table_args__ = (Index("ix_finding_transitions_finding_id_at", "finding_id", "at"),)

    id: Mapped[IdPk]
    finding_id: Mapped[int] = mapped_column(BigId, ForeignKey("findings.id", ondelete="CASCADE"))
    at: Mapped[Timestamp] = mapped_column(comment="The evaluation's as-of time.")
    action: Mapped[str] = mapped_column(String(20), comment="opened, escalated, resolved.")
    state: Mapped[FindingState] = mapped_column(_enum(FindingState, "transition_state"))
    severity: Mapped[Severity] = mapped_column(_enum(Severity, "transition_severity"))
    rule_version: Mapped[int] = mapped_column(Integer)
    observed: Mapped[float | None] = mapped_column(Double)
    evidence: Mapped[Document] = mapped_column(default=dict)


# --------------------------------------------------------------------------- outboxes


class OutboxState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after the retries; kept for inspection
    CANCELLED = "cancelled"


class CrmWrite(Base):
    """A coaching task waiting to be written into the CRM (the write-back outbox).

    Written in the same transaction as the finding that asked for it, so a task is never
    lost nor queued for a finding that was rolled back. ``idempotency_key`` is the
    intent's deterministic key: queueing the same task twice is a no-op, and the
    connector puts the key in the CRM task as a marker so a create whose outcome is
    unknown is found before it is retried. Workers claim rows with a lease
    (``lease_until``), so a crashed worker's claims return to the queue.
    """

    __tablename__ = "crm_writes"
    __table_args__ = (
        UniqueConstraint("connection_id", "idempotency_key", name="uq_crm_writes_key"),
        Index("ix_crm_writes_state_available_at", "state", "available_at"),
        Index(
            "ix_crm_writes_connection_id_rule_key_rep_crm_id",
            "connection_id",
            "rule_key",
            "rep_crm_id",
        ),
        Index(
            "ix_crm_writes_connection_id_budget_owner_created",
            "connection_id",
            "budget_owner_crm_id",
            "created_at",
        ),
    )

    id: Mapped[IdPk]
    connection_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="CASCADE")
    )
    idempotency_key: Mapped[str] = mapped_column(String(120))
    finding_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("findings.id", ondelete="SET NULL")
    )
    rule_key: Mapped[str] = mapped_column(String(100))
    rep_crm_id: Mapped[CrmId]
    opportunity_crm_id: Mapped[CrmId | None]
    assignee_crm_id: Mapped[CrmId]
    budget_owner_crm_id: Mapped[CrmId] = mapped_column(
        comment="Whose weekly coaching budget the task uses (the rep's manager)."
    )
    payload: Mapped[Document] = mapped_column(comment="The task: subject, body, due date...")
    state: Mapped[OutboxState] = mapped_column(
        _enum(OutboxState, "crm_write_state"), default=OutboxState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    lease_until: Mapped[Timestamp | None]
    crm_record_id: Mapped[CrmId | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp] = mapped_column(
        default=utcnow, comment="The evaluation's as-of time: cadence and budgets count from it."
    )
    delivered_at: Mapped[Timestamp | None]


class WebhookEvent(Base):
    """An event for webhook consumers (the event outbox); deliveries fan out per endpoint.

    ``event_id`` is deterministic (the finding and the transition), so an evaluation
    re-run cannot emit the same event twice; it becomes the Standard Webhooks
    ``webhook-id`` that consumers deduplicate on.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_created_at", "created_at"),)

    id: Mapped[IdPk]
    event_id: Mapped[str] = mapped_column(String(120), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    connection_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="SET NULL")
    )
    payload: Mapped[Document]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)


# --------------------------------------------------------------------------- audit


class AuditEntry(Base):
    """Who changed what and when: rules, quotas, keys, connections, finding states."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index(
            "ix_audit_log_entity_type_entity_id_occurred_at",
            "entity_type",
            "entity_id",
            "occurred_at",
        ),
        Index("ix_audit_log_occurred_at", "occurred_at"),
    )

    id: Mapped[IdPk]
    occurred_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(200), comment="API key id, 'cli' or 'system'.")
    action: Mapped[str] = mapped_column(String(100))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    details: Mapped[Document] = mapped_column(default=dict)
