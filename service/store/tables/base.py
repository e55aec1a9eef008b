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

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from sqlalchemy import (
    BigInteger,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

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


def enum_column(cls: type[StrEnum], name: str) -> Enum:
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


def crm_unique(table: str) -> UniqueConstraint:
    return UniqueConstraint("connection_id", "crm_id", name=f"uq_{table}_connection_id_crm_id")
