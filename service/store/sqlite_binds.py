"""A statement run many times on SQLite with values converted once, the cheap way.

SQLAlchemy processes every bound value through its type on every row; for timestamps
that is two Python calls (``UtcDateTime`` then SQLite's ``DATETIME`` formatter) per value,
which made the sync's SQLite writes several times slower than the driver itself. Here the
statement is compiled once, each column gets one converter, and the rows go straight to
``sqlite3``'s ``executemany``, which reuses one prepared statement.

The stored text must be exactly what SQLAlchemy would store: SQLite compares timestamps
as text, so the upsert's "is the incoming version newer" test and every metric query
depend on one format. :func:`sqlite_timestamp` produces SQLAlchemy's ``DATETIME`` storage
format (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC wall time); every other type keeps
SQLAlchemy's own bind processor. A test compares both paths value by value.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from service.store.types import UtcDateTime

Converter = Callable[[Any], Any]


def sqlite_timestamp(value: datetime | None) -> str | None:
    """An aware time as SQLAlchemy stores it on SQLite; naive times are refused."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # nearly every value: the text without its "+00:00"
        return value.isoformat(" ", "microseconds")[:26]
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: driftcoach stores aware UTC times only")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class SqliteStatement:
    """``statement`` compiled for SQLite, with the converter each of its columns needs.

    Its rows are tuples in :attr:`order`, each value already passed through the
    column's entry in :attr:`converters` (columns without one go as they are).
    """

    def __init__(self, statement: Insert, table: Table, names: Sequence[str]) -> None:
        dialect = sqlite.dialect()
        compiled = statement.compile(dialect=dialect, column_keys=list(names))
        order = compiled.positiontup or []
        unknown = set(order) - set(names)
        if unknown:  # a bound literal inside the statement: this path cannot supply it
            raise ValueError(f"statement binds more than its columns: {sorted(unknown)}")
        self.sql = str(compiled)
        self.order = tuple(order)
        self.converters: dict[str, Converter] = {}
        for name in order:
            convert = _converter(table, name, dialect)
            if convert is not None:
                self.converters[name] = convert

    def execute_many(self, session: Session, parameters: Sequence[tuple[Any, ...]]) -> int:
        """Run once per row in one ``executemany``; returns the rows SQLite changed."""
        result = session.connection().exec_driver_sql(self.sql, parameters)
        return int(result.rowcount)


def _converter(table: Table, name: str, dialect: Dialect) -> Converter | None:
    type_ = table.c[name].type
    if isinstance(type_, UtcDateTime):
        return sqlite_timestamp
    return type_._cached_bind_processor(dialect)  # SQLAlchemy's own, cached
