"""Batch upserts on SQLite: one statement per batch, values converted once, the cheap way.

SQLAlchemy processes every bound value through its type on every row; for timestamps
that is two Python calls (``UtcDateTime`` then SQLite's ``DATETIME`` formatter) per value,
which made the sync's SQLite writes several times slower than the driver itself. Here the
statement is compiled once and each column gets one converter.

The rows then go to SQLite as **one JSON text** read by ``json_each``, not through
``executemany``: ``sqlite3`` releases the GIL around every row's step and takes it back
after, and while the sync's reader thread decodes a page, each take-back waits for a
whole switch interval (the convoy effect). Measured on this project's 2-core machine:
an ``executemany`` upsert beside a busy Python thread managed 336 rows/s, the JSON
statement 101,000 rows/s, because one statement runs all its rows inside one step
with the GIL released, so the reader's Python runs alongside SQLite's C.

The stored text must be exactly what SQLAlchemy would store: SQLite compares timestamps
as text, so the upsert's "is the incoming version newer" test and every metric query
depend on one format. :func:`sqlite_timestamp` produces SQLAlchemy's ``DATETIME`` storage
format (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC wall time); every other type keeps
SQLAlchemy's own bind processor. A test compares both paths value by value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Dialect, Select, Table, bindparam, literal_column, select, text, true
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnClause

from service.store import json_codec
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


#: The one parameter of a batch statement: the rows as one JSON array of arrays.
ROWS = "rows"
#: Rows per statement: a few MB of JSON at most, whatever the batch size.
_ROWS_PER_STATEMENT = 10_000


def json_rows(width: int) -> Select[Any]:
    """Rows of ``width`` columns read from the JSON array bound as :data:`ROWS`.

    ``WHERE true`` is required: without it SQLite would read an upsert's ``ON CONFLICT``
    as a join constraint (https://sqlite.org/lang_upsert.html, "parsing ambiguity").
    """
    columns: list[ColumnClause[Any]] = [
        literal_column(f"json_extract(value, '$[{index}]')") for index in range(width)
    ]
    source = text(f"json_each(:{ROWS})").bindparams(bindparam(ROWS))
    return select(*columns).select_from(source).where(true())


class SqliteStatement:
    """An ``INSERT ... SELECT ... FROM json_each(?)`` whose rows arrive as one JSON text.

    ``statement`` must read its rows from :func:`json_rows`; :attr:`converters` gives each
    column's converter, which the caller applies before handing rows over.
    """

    def __init__(self, statement: Insert, table: Table, names: Sequence[str]) -> None:
        # The engine's JSON codec (see engine.make_engine), so JSON columns hold the text
        # SQLAlchemy's own insert would write.
        dialect = sqlite.dialect(json_serializer=json_codec.dumps)
        compiled = statement.compile(dialect=dialect)
        if list(compiled.positiontup or []) != [ROWS]:  # a bound literal inside the statement
            raise ValueError(f"the statement binds {compiled.positiontup}, not only {ROWS!r}")
        self.sql = str(compiled)
        self.converters: dict[str, Converter] = {}
        for name in names:
            convert = _converter(table, name, dialect)
            if convert is not None:
                self.converters[name] = convert

    def execute_many(self, session: Session, rows: Sequence[tuple[Any, ...]]) -> int:
        """Write ``rows`` (converted values, in the statement's column order); returns the
        rows SQLite changed (a skipped re-read is no change)."""
        connection, changed = session.connection(), 0
        for start in range(0, len(rows), _ROWS_PER_STATEMENT):
            document = rows_document(rows[start : start + _ROWS_PER_STATEMENT])
            changed += int(connection.exec_driver_sql(self.sql, (document,)).rowcount)
        return changed


def rows_document(rows: Sequence[tuple[Any, ...]]) -> str:
    """The rows as JSON text (text, not bytes: SQLite would read a BLOB as JSONB).

    orjson writes in a tenth of the standard encoder's time; what it refuses (an integer
    beyond 64 bits, a lone surrogate) goes through the standard encoder, which writes the
    same text for everything else (a test holds the two to it)."""
    try:
        return orjson.dumps(rows).decode()
    except TypeError:  # orjson.JSONEncodeError
        return _ENCODER.encode(rows)


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, check_circular=False, allow_nan=False, separators=(",", ":")
)


def _converter(table: Table, name: str, dialect: Dialect) -> Converter | None:
    type_ = table.c[name].type
    if isinstance(type_, UtcDateTime):
        return sqlite_timestamp
    return type_._cached_bind_processor(dialect)  # SQLAlchemy's own, cached
