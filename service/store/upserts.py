"""Set-based writes of canonical records: one statement per batch per table, never per row.

A sync writes hundreds of thousands of rows, often re-reading rows it already has
(lookback windows, resumed runs), so every write is one ``INSERT ... ON CONFLICT
(connection_id, crm_id) DO UPDATE`` per batch and table, and the update only happens when
the CRM's version is strictly newer. Re-reading unchanged records therefore changes
nothing at all, not even ``synced_at``, and the order in which versions arrive does not
matter. Like every repository, these functions take a session and never commit.

PostgreSQL gets the rows as one array per column (``INSERT ... SELECT unnest(...)``): one
short statement whatever the batch size. SQLite gets one prepared single-row statement
run through the driver's ``executemany`` (SQLite has no network round trip to save, and
re-running a prepared statement is its fastest path), with the values already converted
to what SQLAlchemy would store (see :mod:`service.store.sqlite_binds`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
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
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from connectors import records
from connectors.records import Deletion, Entity, Record
from service.store import models
from service.store.sqlite_binds import SqliteStatement
from service.store.types import UtcDateTime

CanonicalRecord = (
    records.Rep | records.Opportunity | records.OpportunityChange | records.Activity | records.Quota
)

TABLES: Mapping[Entity, Table] = {
    Entity.REP: models.Rep.__table__,  # type: ignore[dict-item]
    Entity.OPPORTUNITY: models.Opportunity.__table__,  # type: ignore[dict-item]
    Entity.OPPORTUNITY_CHANGE: models.OpportunityChange.__table__,  # type: ignore[dict-item]
    Entity.ACTIVITY: models.Activity.__table__,  # type: ignore[dict-item]
    Entity.QUOTA: models.Quota.__table__,  # type: ignore[dict-item]
}

_T = TypeVar("_T")

# Record fields whose column has another name, and fields that are not columns at all.
_RENAMED = {"modified_at": "crm_modified_at", "created_at": "created_in_crm_at"}
_NOT_COLUMNS = frozenset({"deleted", "entity"})
_KEY = ("connection_id", "crm_id")
# Bind parameters per statement, below SQLite's 32,766 and PostgreSQL's 65,535.
_MAX_PARAMETERS = 30_000


def stamp_column(table: Table) -> str:
    """The column that says when driftcoach last wrote the row (quotas have no synced_at)."""
    return "synced_at" if "synced_at" in table.c else "updated_at"


def to_row(record: CanonicalRecord, connection_id: int, now: datetime) -> dict[str, Any]:
    """The row a canonical record becomes; a deleted record is deleted as of its own time."""
    layout = _layout(record)
    row = {column: getattr(record, field) for field, column in layout.columns}
    for column in layout.documents:
        row[column] = dict(row[column])
    row.update(layout.constants)
    row["connection_id"] = connection_id
    row["deleted_at"] = (record.modified_at or now) if record.deleted else None
    row[layout.stamp] = now
    return row


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
    rows = [to_row(record, connection_id, now) for record in newest.values()]
    if not rows:
        return 0
    names = list(rows[0])
    # RETURNING yields exactly the rows inserted or updated (skipped re-reads return none).
    if session.get_bind().dialect.name == "postgresql":
        source = _unnest(table, names, rows)
        statement = _on_conflict(
            postgresql.insert(table).from_select(names, source), table, names, force
        )
        return len(session.execute(statement.returning(table.c.id)).all())
    return _sqlite_upsert(session, table, names, rows, force)


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


def _newer(incoming: CanonicalRecord, current: CanonicalRecord) -> bool:
    """Later-read wins unless both carry times and the incoming one is older."""
    if incoming.modified_at is None or current.modified_at is None:
        return True
    return incoming.modified_at >= current.modified_at


def _later_time(incoming: datetime, current: datetime) -> bool:
    return incoming >= current


def _unnest(table: Table, names: list[str], rows: list[dict[str, Any]]) -> Select[Any]:
    """PostgreSQL rows as one array parameter per column: short, constant SQL (parsed and
    planned once, unlike a VALUES list of thousands of parameters) and no parameter limit.
    """
    columns = []
    for name in names:
        array = postgresql.ARRAY(table.c[name].type, dimensions=1)
        values = bindparam(f"{name}_values", [row[name] for row in rows], type_=array)
        columns.append(func.unnest(cast(values, array)))
    return select(*columns)


_Insert = postgresql.Insert | sqlite.Insert

_SQLITE_STATEMENTS: dict[tuple[str, tuple[str, ...], bool], SqliteStatement] = {}


def _sqlite_upsert(
    session: Session, table: Table, names: list[str], rows: list[dict[str, Any]], force: bool
) -> int:
    """The batch through ``executemany``; SQLite counts a skipped re-read as no change."""
    key = (table.name, tuple(names), force)
    statement = _SQLITE_STATEMENTS.get(key)
    if statement is None:
        upsert = _on_conflict(sqlite.insert(table), table, names, force)
        statement = _SQLITE_STATEMENTS[key] = SqliteStatement(upsert, table, names)
    return statement.execute_many(session, rows)


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


@dataclass(frozen=True)
class _Layout:
    """How one record class maps onto its table, worked out once rather than per row."""

    columns: tuple[tuple[str, str], ...]  # (record field, column)
    documents: tuple[str, ...]  # JSON columns: a read-only Mapping becomes a plain dict
    constants: Mapping[str, Any]
    stamp: str


_LAYOUTS: dict[type, _Layout] = {}


def _layout(record: CanonicalRecord) -> _Layout:
    layout = _LAYOUTS.get(type(record))
    if layout is None:
        layout = _LAYOUTS[type(record)] = _make_layout(record)
    return layout


def _make_layout(record: CanonicalRecord) -> _Layout:
    table = TABLES[record.entity]
    names = [f.name for f in dataclasses.fields(record) if f.name not in _NOT_COLUMNS]
    columns = tuple((name, _RENAMED.get(name, name)) for name in names)
    documents = tuple(c for _, c in columns if isinstance(table.c[c].type, JSON))
    constants = {"source": models.QuotaSource.CRM} if isinstance(record, records.Quota) else {}
    return _Layout(columns, documents, constants, stamp_column(table))
