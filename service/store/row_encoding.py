"""Canonical records into table rows: :func:`to_row` defines a row, encoders make many.

A first sync encodes every record it writes, half a million and more per run, on the
thread that also runs the database's statements. Encoding through a dict per record and
then one converter call per value cost about 7.5 µs a record, as much as SQLite took to
insert it. An encoder works out once per (record class, column order, converters) what
each column reads (an attribute, a constant of the batch, the deletion time) and which
converter applies, so a record costs one small call per column. A test holds every
encoder to :func:`to_row`.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from connectors import records
from service.store import tables
from service.store.sanitise import Check, Cleaner, check_for, cleaner_for, length_limit, too_long

CanonicalRecord = (
    records.Rep | records.Opportunity | records.OpportunityChange | records.Activity | records.Quota
)
Converter = Callable[[Any], Any]
Encode = Callable[[Sequence[CanonicalRecord], int, datetime], list[tuple[Any, ...]]]

# Record fields whose column has another name, and fields that are not columns at all.
_RENAMED = {"modified_at": "crm_modified_at", "created_at": "created_in_crm_at"}
_NOT_COLUMNS = frozenset({"deleted", "entity"})


def stamp_column(table: Table) -> str:
    """The column that says when driftcoach last wrote the row (quotas have no synced_at)."""
    return "synced_at" if "synced_at" in table.c else "updated_at"


@dataclass(frozen=True)
class Layout:
    """How one record class maps onto its table, worked out once rather than per row."""

    table: Table
    fields: tuple[tuple[str, str], ...]  # (record field, column)
    #: Per column, how its values are made storable (:mod:`service.store.sanitise`);
    #: a JSON document also becomes a plain dict.
    cleaners: Mapping[str, Cleaner]
    #: (record field, column, limit): identifiers and codes a backend could refuse.
    lengths: tuple[tuple[str, str, int], ...]
    #: (record field, check): numbers a backend could refuse.
    checks: tuple[tuple[str, Check], ...]
    constants: Mapping[str, Any]
    stamp: str

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a row of this layout sets, in a natural order."""
        named = tuple(column for _, column in self.fields)
        return (*named, *self.constants, "connection_id", "deleted_at", self.stamp)

    def refusal(self, record: CanonicalRecord) -> str | None:
        """Why the store cannot hold ``record`` even cleaned; None when it can."""
        for field, column, limit in self.lengths:
            value = getattr(record, field)
            if value is not None and len(value) > limit:
                clean = self.cleaners.get(column)
                length = len(value if clean is None else clean(value))
                if length > limit:  # not only NUL characters, which cleaning removes
                    return too_long(column, length, limit)
        for field, check in self.checks:
            problem = check(getattr(record, field))
            if problem is not None:
                return problem
        return None


def layout_of(record_type: type, table: Table) -> Layout:
    fields = dataclasses.fields(record_type)
    names = [f.name for f in fields if f.name not in _NOT_COLUMNS]
    pairs = tuple((name, _RENAMED.get(name, name)) for name in names)
    cleaners = {c: clean for _, c in pairs if (clean := cleaner_for(table.c[c])) is not None}
    lengths = tuple((f, c, n) for f, c in pairs if (n := length_limit(table.c[c])) is not None)
    checks = tuple((f, check) for f, c in pairs if (check := check_for(table.c[c])) is not None)
    constants = {"source": tables.QuotaSource.CRM} if record_type is records.Quota else {}
    return Layout(table, pairs, cleaners, lengths, checks, constants, stamp_column(table))


def to_row(
    record: CanonicalRecord, layout: Layout, connection_id: int, now: datetime
) -> dict[str, Any]:
    """The row a canonical record becomes, its values made storable; a deleted record is
    deleted as of its own time."""
    row = {column: getattr(record, field) for field, column in layout.fields}
    for column, clean in layout.cleaners.items():
        row[column] = clean(row[column])
    row.update(layout.constants)
    row["connection_id"] = connection_id
    row["deleted_at"] = (record.modified_at or now) if record.deleted else None
    row[layout.stamp] = now
    return row


def make_encoder(
    layout: Layout, columns: Sequence[str], converters: Mapping[str, Converter] | None = None
) -> Encode:
    """A function from records to row tuples in ``columns`` order, values converted.

    ``converters`` maps a column to the function that turns its value into what the
    driver is given (SQLite: SQLAlchemy's storage format); others pass as they are.
    Each column becomes one reader, worked out here once; a batch's constants (the
    connection, the write time and its conversion) are bound once per batch.
    """
    converters = dict(converters or {})
    if sorted(columns) != sorted(layout.columns):
        raise ValueError(f"columns {sorted(columns)} are not the layout's {sorted(layout.columns)}")
    fields = {column: field for field, column in layout.fields}
    record_readers = {
        column: _record_reader(fields[column], layout.cleaners.get(column), converters.get(column))
        for column in columns
        if column in fields
    }
    constants = {
        column: _converted(value, converters.get(column))
        for column, value in layout.constants.items()
    }
    convert_deleted = converters.get("deleted_at")
    convert_stamp = converters.get(layout.stamp)

    def encode(
        batch: Sequence[CanonicalRecord], connection_id: int, now: datetime
    ) -> list[tuple[Any, ...]]:
        stamp = _converted(now, convert_stamp)
        batch_values = {**constants, "connection_id": connection_id, layout.stamp: stamp}

        def deleted_at(record: CanonicalRecord) -> Any:
            return (
                _converted(record.modified_at or now, convert_deleted) if record.deleted else None
            )

        readers = [
            record_readers.get(column)
            or (deleted_at if column == "deleted_at" else _constant(batch_values[column]))
            for column in columns
        ]
        return [tuple([read(record) for read in readers]) for record in batch]

    return encode


def _record_reader(
    field: str, clean: Cleaner | None, convert: Converter | None
) -> Callable[[CanonicalRecord], Any]:
    """Reads one field of a record, made storable, then converted for the driver."""
    read: Callable[[CanonicalRecord], Any] = operator.attrgetter(field)
    if clean is not None:
        read = _then(read, clean)
    return read if convert is None else _then(read, convert)


def _then(
    first: Callable[[CanonicalRecord], Any], second: Converter
) -> Callable[[CanonicalRecord], Any]:
    return lambda record: second(first(record))


def _constant(value: Any) -> Callable[[CanonicalRecord], Any]:
    return lambda _record: value


def _converted(value: Any, convert: Converter | None) -> Any:
    return value if convert is None else convert(value)
