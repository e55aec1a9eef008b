"""Column types that keep the store's invariants the same on SQLite and PostgreSQL.

SQLite has no time-zone-aware timestamp and no JSONB; PostgreSQL does. These types make
both backends hand back the same Python values, so no code above the store has to care.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    Naive datetimes are refused at bind time: a naive value is ambiguous (server local
    time? UTC?) and the metrics depend on business-day boundaries, so guessing would
    silently move activities between days. PostgreSQL stores ``timestamptz``; SQLite stores
    the UTC wall time and gets its zone back on load.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: driftcoach stores aware UTC times only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_document() -> JSON:
    """JSON everywhere, stored as JSONB on PostgreSQL so it can be indexed and compared."""
    return JSON().with_variant(JSONB(), "postgresql")


def render_store_type(type_: Any, imports: set[str]) -> str | None:
    """How Alembic should spell our types in a revision, without importing this module.

    Revisions must stay valid after application code moves, so they get the plain
    SQLAlchemy types these stand for; ``imports`` collects what the revision must import.
    """
    if isinstance(type_, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(type_, JSON) and "postgresql" in type_._variant_mapping:
        imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return None
