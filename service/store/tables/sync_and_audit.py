"""Bookkeeping: where each stream's sync stands, and who changed what."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables.base import (
    Base,
    BigId,
    Document,
    IdPk,
    SyncStatus,
    Timestamp,
    enum_column,
    utcnow,
)

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
    entity: Mapped[str | None] = mapped_column(
        String(32), comment="The canonical records the stream feeds: rep, opportunity, ..."
    )
    cursor: Mapped[Document | None]
    status: Mapped[SyncStatus] = mapped_column(
        enum_column(SyncStatus, "sync_status"), default=SyncStatus.IDLE
    )
    run_started_at: Mapped[Timestamp | None]
    run_finished_at: Mapped[Timestamp | None]
    last_success_at: Mapped[Timestamp | None]
    records_read: Mapped[int] = mapped_column(BigInteger, default=0)
    records_upserted: Mapped[int] = mapped_column(BigInteger, default=0)
    records_deleted: Mapped[int] = mapped_column(BigInteger, default=0)
    api_calls: Mapped[int] = mapped_column(BigInteger, default=0)
    records_quarantined: Mapped[int] = mapped_column(
        BigInteger, default=0, server_default="0", comment="Records this run could not store."
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[Timestamp] = mapped_column(default=utcnow, onupdate=utcnow)


class QuarantinedRecord(Base):
    """A CRM record a sync could not store, by id, until a later read stores it.

    Only the id and the reason are kept, never the record: a retry reads the record
    again from the CRM, so a fix there and a fix in driftcoach both take effect. The
    record's id may itself be the problem (longer than any id column), so the unique
    key is its digest (``record_key``).
    """

    __tablename__ = "quarantined_records"
    __table_args__ = (
        UniqueConstraint(
            "connection_id",
            "stream",
            "entity",
            "record_key",
            name="uq_quarantined_records_connection_id_stream_entity_record_key",
        ),
        Index("ix_quarantined_records_connection_id_resolved_at", "connection_id", "resolved_at"),
    )

    id: Mapped[IdPk]
    connection_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="CASCADE")
    )
    stream: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    crm_id: Mapped[str] = mapped_column(Text)
    record_key: Mapped[str] = mapped_column(String(64), comment="SHA-256 of crm_id, hex.")
    reread_id: Mapped[str] = mapped_column(
        Text, comment="The id of the stream's CRM object a retry reads (a change: its deal)."
    )
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[Timestamp]
    last_seen_at: Mapped[Timestamp]
    resolved_at: Mapped[Timestamp | None]
    resolution: Mapped[str | None] = mapped_column(
        String(20), comment="stored (a later read stored it) or gone (the CRM no longer has it)."
    )


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
