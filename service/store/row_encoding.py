"""Canonical records into table rows, by one generated function per record class and layout.

A first sync encodes every record it writes, half a million and more per run, on the
thread that also runs the database's statements. Encoding through a dict per record and
then one converter call per value cost about 7.5 µs a record, as much as SQLite took
to insert it. So, the way :mod:`dataclasses` builds ``__init__``, each (record class,
column order, converters) gets a function compiled once whose body is a single list
comprehension: direct attribute reads, a converter only where a column has one, the
batch's constants (connection, write time) computed once. About 2 µs a record.

The generated source is built only from dataclass field names and column names of our
own models (both checked to be identifiers), never from data. :func:`to_row` stays the
plain, obvious definition of a row; a test holds every encoder to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Table

from connectors import records
from service.store import tables

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
    documents: frozenset[str]  # JSON columns: a read-only Mapping becomes a plain dict
    constants: Mapping[str, Any]
    stamp: str

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column a row of this layout sets, in a natural order."""
        named = tuple(column for _, column in self.fields)
        return (*named, *self.constants, "connection_id", "deleted_at", self.stamp)


def layout_of(record_type: type, table: Table) -> Layout:
    fields = dataclasses.fields(record_type)
    names = [f.name for f in fields if f.name not in _NOT_COLUMNS]
    pairs = tuple((name, _RENAMED.get(name, name)) for name in names)
    documents = frozenset(c for _, c in pairs if isinstance(table.c[c].type, JSON))
    constants = {"source": tables.QuotaSource.CRM} if record_type is records.Quota else {}
    return Layout(table, pairs, documents, constants, stamp_column(table))


def to_row(
    record: CanonicalRecord, layout: Layout, connection_id: int, now: datetime
) -> dict[str, Any]:
    """The row a canonical record becomes; a deleted record is deleted as of its own time."""
    row = {column: getattr(record, field) for field, column in layout.fields}
    for column in layout.documents:
        row[column] = dict(row[column])
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
    """
    converters = converters or {}
    if sorted(columns) != sorted(layout.columns):
        raise ValueError(f"columns {sorted(columns)} are not the layout's {sorted(layout.columns)}")
    namespace: dict[str, Any] = {"dict": dict}
    expressions = [_expression(layout, column, converters, namespace) for column in columns]
    source = (
        "def encode(batch, connection_id, now):\n"
        f"    stamp = {_wrapped('now', layout.stamp, converters, namespace)}\n"
        f"    return [({', '.join(expressions)},) for r in batch]\n"
    )
    exec(compile(source, f"<row encoder {layout.table.name}>", "exec"), namespace)  # noqa: S102
    encode: Encode = namespace["encode"]
    return encode


def _expression(
    layout: Layout, column: str, converters: Mapping[str, Converter], namespace: dict[str, Any]
) -> str:
    fields = {column: field for field, column in layout.fields}
    if column in fields:
        value = f"r.{_identifier(fields[column])}"
        if column in layout.documents:
            value = f"dict({value})"
    elif column in layout.constants:
        constant = f"k_{_identifier(column)}"
        convert = converters.get(column)
        value = layout.constants[column]
        namespace[constant] = value if convert is None else convert(value)
        return constant
    elif column == "connection_id":
        value = "connection_id"
    elif column == "deleted_at":
        inner = _wrapped("(r.modified_at or now)", column, converters, namespace)
        return f"({inner} if r.deleted else None)"
    else:  # the stamp: converted once per batch
        return "stamp"
    return _wrapped(value, column, converters, namespace)


def _wrapped(
    value: str, column: str, converters: Mapping[str, Converter], namespace: dict[str, Any]
) -> str:
    convert = converters.get(column)
    if convert is None:
        return value
    name = f"c_{_identifier(column)}"
    namespace[name] = convert
    return f"{name}({value})"


def _identifier(name: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"not an identifier: {name!r}")
    return name
