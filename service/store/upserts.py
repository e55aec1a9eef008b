"""Set-based writes of canonical records: one statement per batch per table, never per row.

A sync writes hundreds of thousands of rows, often re-reading rows it already has
(lookback windows, resumed runs), so every write is one ``INSERT ... ON CONFLICT
(connection_id, crm_id) DO UPDATE`` per batch and table, and the update only happens when
the CRM's version is strictly newer. Re-reading unchanged records therefore changes
nothing at all, not even ``synced_at``, and the order in which versions arrive does not
matter. Like every repository, these functions take a session and never commit.

PostgreSQL gets the rows as one array per column (``INSERT ... SELECT unnest(...)``): one
short statement whatever the batch size. SQLite gets the rows as one JSON text read by
``json_each`` (one statement, run with the GIL released; see
:mod:`service.store.sqlite_binds` for why not ``executemany``), with the values already
converted to what SQLAlchemy would store. Rows are encoded by a generated function per
record class (:mod:`service.store.row_encoding`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from connectors.records import Activity, Deletion, Entity, Record
from service.store import tables
from service.store.row_encoding import (
    CanonicalRecord,
    Encode,
    Layout,
    layout_of,
    make_encoder,
    stamp_column,
)
from service.store.row_encoding import to_row as _to_row
from service.store.sqlite_binds import SqliteStatement, json_rows
from service.store.types import UtcDateTime

__all__ = [
    "TABLES",
    "CanonicalRecord",
    "RecordBatch",
    "mark_deleted",
    "refusal",
    "stamp_column",
    "to_row",
    "upsert",
]

TABLES: Mapping[Entity, Table] = {
    Entity.REP: tables.Rep.__table__,  # type: ignore[dict-item]
    Entity.OPPORTUNITY: tables.Opportunity.__table__,  # type: ignore[dict-item]
    Entity.OPPORTUNITY_CHANGE: tables.OpportunityChange.__table__,  # type: ignore[dict-item]
    Entity.ACTIVITY: tables.Activity.__table__,  # type: ignore[dict-item]
    Entity.QUOTA: tables.Quota.__table__,  # type: ignore[dict-item]
}

_T = TypeVar("_T")

_KEY = ("connection_id", "crm_id")
# Bind parameters per statement, below SQLite's 32,766 and PostgreSQL's 65,535.
_MAX_PARAMETERS = 30_000


def to_row(record: CanonicalRecord, connection_id: int, now: datetime) -> dict[str, Any]:
    """The row a canonical record becomes; a deleted record is deleted as of its own time."""
    return _to_row(record, _layout(record), connection_id, now)


def refusal(record: CanonicalRecord) -> str | None:
    """Why the store cannot hold ``record`` (:mod:`service.store.sanitise`), or None."""
    return _layout(record).refusal(record)


def upsert(
    session: Session,
    connection_id: int,
    entity: Entity,
    batch: Sequence[CanonicalRecord],
    *,
    now: datetime,
    force: bool = False,
) -> int:
    """Insert or update the newest version of each record; returns the rows written.

    Without ``force`` a stored row changes only when the incoming version is newer; with
    it (a full resync) every row read is rewritten.
    """
    table = TABLES[entity]
    newest: dict[str, CanonicalRecord] = {}
    for record in batch:  # PostgreSQL refuses a statement that updates a row twice
        known = newest.get(record.crm_id)
        if known is None or _newer(record, known):
            newest[record.crm_id] = record
    if not newest:
        return 0
    first = next(iter(newest.values()))
    layout = _layout(first)
    # RETURNING yields exactly the rows inserted or updated (skipped re-reads return none).
    if session.get_bind().dialect.name == "postgresql":
        names = list(layout.columns)
        rows = _plain_encoder(first)(list(newest.values()), connection_id, now)
        source = _unnest(table, names, rows)
        statement = _on_conflict(
            postgresql.insert(table).from_select(names, source), table, names, force
        )
        return len(session.execute(statement.returning(table.c.id)).all())
    return _sqlite_upsert(
        session, layout, list(newest.values()), connection_id, now=now, force=force
    )


def mark_deleted(
    session: Session,
    connection_id: int,
    entity: Entity,
    deletions: Mapping[str, datetime],
    *,
    now: datetime,
) -> int:
    """Soft-delete the rows of ``deletions`` (CRM id -> deletion time); returns how many.

    Rows already deleted keep their time, rows not stored are ignored, and a row whose
    stored version is newer than the deletion (restored since) is left alone, so an old
    deletion re-read through a lookback window cannot undo a restore.
    """
    table = TABLES[entity]
    marked = 0
    for chunk in _chunks(list(deletions.items()), _MAX_PARAMETERS // 3):
        when = case(
            {crm_id: literal(at, UtcDateTime()) for crm_id, at in chunk}, value=table.c.crm_id
        )
        statement = (
            update(table)
            .where(
                table.c.connection_id == connection_id,
                table.c.crm_id.in_([crm_id for crm_id, _ in chunk]),
                table.c.deleted_at.is_(None),
                or_(table.c.crm_modified_at.is_(None), table.c.crm_modified_at <= when),
            )
            .values({"deleted_at": when, stamp_column(table): now})
        )
        marked += session.execute(statement).rowcount  # type: ignore[attr-defined]
    return marked


class RecordBatch:
    """Records read since the last write: the newest version per CRM id, per table.

    Deduplicating while buffering keeps memory bounded by distinct ids and satisfies
    PostgreSQL, which refuses an ``ON CONFLICT`` statement that touches a row twice.
    """

    def __init__(self) -> None:
        self._records: dict[Entity, dict[str, CanonicalRecord]] = {}
        self._deletions: dict[Entity, dict[str, datetime]] = {}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, record: Record) -> None:
        if isinstance(record, Deletion):
            known = self._deletions.setdefault(record.target, {})
            self._keep(known, record.crm_id, record.deleted_at, _later_time)
        else:
            self._keep(self._records.setdefault(record.entity, {}), record.crm_id, record, _newer)

    def write(
        self, session: Session, connection_id: int, *, now: datetime, force: bool
    ) -> tuple[int, int]:
        """Upsert, then apply Deletions (so they see this batch's rows): (upserted, deleted)."""
        upserted = sum(
            upsert(session, connection_id, entity, list(batch.values()), now=now, force=force)
            for entity, batch in self._records.items()
        )
        deleted = sum(
            mark_deleted(session, connection_id, entity, ids, now=now)
            for entity, ids in self._deletions.items()
        )
        return upserted, deleted

    def write_one_by_one(
        self, session: Session, connection_id: int, *, now: datetime, force: bool
    ) -> tuple[int, int, list[tuple[CanonicalRecord, str]]]:
        """:meth:`write`, a savepoint per record: for a batch the database refused,
        which :mod:`service.store.sanitise` did not foresee. Returns (upserted, deleted,
        the records refused with the database's reason)."""
        upserted, refused = 0, []
        for entity, batch in self._records.items():
            for record in batch.values():
                try:
                    with session.begin_nested():
                        upserted += upsert(
                            session, connection_id, entity, [record], now=now, force=force
                        )
                except DataError as exc:
                    refused.append((record, _database_reason(exc)))
        deleted = sum(
            mark_deleted(session, connection_id, entity, ids, now=now)
            for entity, ids in self._deletions.items()
        )
        return upserted, deleted, refused

    def activities(self) -> tuple[list[Activity], list[str]]:
        """The activities in the batch, and the ids of activities it deletes."""
        records = self._records.get(Entity.ACTIVITY, {}).values()
        changed = [record for record in records if isinstance(record, Activity)]
        return changed, list(self._deletions.get(Entity.ACTIVITY, {}))

    def clear(self) -> None:
        self._records.clear()
        self._deletions.clear()
        self._size = 0

    def _keep(
        self, known: dict[str, _T], key: str, value: _T, wins: Callable[[_T, _T], bool]
    ) -> None:
        current = known.get(key)
        if current is None:
            self._size += 1
            known[key] = value
        elif wins(value, current):
            known[key] = value


def _database_reason(error: DataError) -> str:
    """The driver's message, first line only: never the statement or its parameters."""
    cause = error.orig if error.orig is not None else error
    lines = str(cause).strip().splitlines()
    return f"refused by the database: {type(cause).__name__}: {lines[0] if lines else ''}"


def _newer(incoming: CanonicalRecord, current: CanonicalRecord) -> bool:
    """Later-read wins unless both carry times and the incoming one is older."""
    if incoming.modified_at is None or current.modified_at is None:
        return True
    return incoming.modified_at >= current.modified_at


def _later_time(incoming: datetime, current: datetime) -> bool:
    return incoming >= current


def _unnest(table: Table, names: list[str], rows: list[tuple[Any, ...]]) -> Select[Any]:
    """PostgreSQL rows as one array parameter per column: short, constant SQL (parsed and
    planned once, unlike a VALUES list of thousands of parameters) and no parameter limit.
    """
    columns = []
    for name, values in zip(names, zip(*rows, strict=True), strict=True):
        array = postgresql.ARRAY(table.c[name].type, dimensions=1)
        parameter = bindparam(f"{name}_values", list(values), type_=array)
        columns.append(func.unnest(cast(parameter, array)))
    return select(*columns)


_Insert = postgresql.Insert | sqlite.Insert

_SQLITE_STATEMENTS: dict[tuple[str, bool], tuple[SqliteStatement, Encode]] = {}


def _sqlite_upsert(
    session: Session,
    layout: Layout,
    batch: list[CanonicalRecord],
    connection_id: int,
    *,
    now: datetime,
    force: bool,
) -> int:
    """The batch as one JSON text; SQLite counts a skipped re-read as no change."""
    key = (layout.table.name, force)
    prepared = _SQLITE_STATEMENTS.get(key)
    if prepared is None:
        names = list(layout.columns)
        rows = sqlite.insert(layout.table).from_select(names, json_rows(len(names)))
        upsert = _on_conflict(rows, layout.table, names, force)
        statement = SqliteStatement(upsert, layout.table, names)
        encode = make_encoder(layout, names, statement.converters)
        prepared = _SQLITE_STATEMENTS[key] = (statement, encode)
    statement, encode = prepared
    return statement.execute_many(session, encode(batch, connection_id, now))


def _on_conflict(statement: _Insert, table: Table, names: list[str], force: bool) -> _Insert:
    """Update on (connection_id, crm_id) conflicts: always if ``force``, else when newer."""
    incoming = statement.excluded
    data = [name for name in names if name not in _KEY]
    assignments: dict[str, Any] = {name: incoming[name] for name in data}
    # A deleted row keeps the time it was first seen deleted; an undelete clears it.
    assignments["deleted_at"] = case(
        (incoming.deleted_at.is_(None), null()),
        else_=func.coalesce(table.c.deleted_at, incoming.deleted_at),
    )
    condition = None if force else _is_newer(table, incoming, data)
    return statement.on_conflict_do_update(
        index_elements=list(_KEY), set_=assignments, where=condition
    )


def _is_newer(table: Table, incoming: Any, data: list[str]) -> ColumnElement[bool]:
    """Newer by the CRM's clock; without a stored clock, only when something differs."""
    stored = table.c
    compared = [name for name in data if name not in ("deleted_at", stamp_column(table))]
    differs = [incoming[name].is_distinct_from(stored[name]) for name in compared]
    differs.append(incoming.deleted_at.is_(None) != stored.deleted_at.is_(None))
    return or_(
        incoming.crm_modified_at > stored.crm_modified_at,
        and_(stored.crm_modified_at.is_(None), or_(*differs)),
    )


def _chunks(items: list[_T], size: int) -> Iterator[list[_T]]:
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + size]


_LAYOUTS: dict[type, Layout] = {}
_PLAIN_ENCODERS: dict[type, Encode] = {}


def _layout(record: CanonicalRecord) -> Layout:
    layout = _LAYOUTS.get(type(record))
    if layout is None:
        layout = _LAYOUTS[type(record)] = layout_of(type(record), TABLES[record.entity])
    return layout


def _plain_encoder(record: CanonicalRecord) -> Encode:
    """Rows in the layout's own column order, values as Python has them (PostgreSQL)."""
    encode = _PLAIN_ENCODERS.get(type(record))
    if encode is None:
        layout = _layout(record)
        encode = _PLAIN_ENCODERS[type(record)] = make_encoder(layout, layout.columns)
    return encode
