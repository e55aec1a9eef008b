"""Runs a bound query over a RowSource and shapes the records as the REST API does.

Each record starts with ``attributes`` (type and url) and lists the selected fields in
SELECT order under their canonical names; a relationship becomes a nested record (or null
when the reference is empty), shared by every field selected through it.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from sandbox.salesforce.schema import FieldSpec, json_converter
from sandbox.salesforce.soql.access import Access, Row, RowSource, parent_object
from sandbox.salesforce.soql.binder import BoundField, BoundQuery
from sandbox.salesforce.soql.filters import FilterCompiler
from sandbox.salesforce.soql.nodes import Query
from sandbox.salesforce.soql.ordering import sort_rows

#: Wire forms a renderer remembers (dates and times are converted by their type alone).
_MEMO_SIZE = 4096


@dataclass
class QueryResult:
    records: list[dict[str, Any]]  # Salesforce's JSON shape
    total_size: int  # rows after LIMIT/OFFSET, or the COUNT() result


def execute(
    query: BoundQuery,
    source: RowSource,
    *,
    now: datetime,
    include_deleted: bool,
    api_version: str = "59.0",
    user_time_zone: tzinfo = UTC,
) -> QueryResult:
    """Filter, sort, window and shape. ``now`` (aware) and ``user_time_zone`` fix what the
    date literals mean; ``include_deleted`` is queryAll."""
    if now.tzinfo is None:
        raise ValueError("execute() needs an aware 'now'")
    access = Access(source)
    rows = source.rows(query.sobject.name, include_deleted=include_deleted)
    where = query.query.where
    if where is None:
        matched = list(rows)
    else:
        predicate = FilterCompiler(query, access, now, user_time_zone).compile(where)
        matched = [row for row in rows if predicate(row)]
    if query.query.count:
        return QueryResult([], _windowed_size(len(matched), query.query))
    if query.query.order_by:
        matched = sort_rows(matched, query, access)
    start = query.query.offset or 0
    stop = None if query.query.limit is None else start + query.query.limit
    shaper = _Shaper(query, access, api_version)
    with _cyclic_gc_paused():
        records = [shaper.record(row) for row in matched[start:stop]]
    return QueryResult(records, len(records))


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Shaping 200,000 records allocates twice as many dicts, and every few hundred
    allocations wake the cyclic collector, which walks the ever-growing heap: a third of
    the shaping time. The records hold no reference cycles, so pausing it loses nothing.
    It is switched back on only if it was on, so overlapping queries on other threads
    leave it as they found it."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _windowed_size(size: int, query: Query) -> int:
    size = max(0, size - (query.offset or 0))
    return size if query.limit is None else min(size, query.limit)


Converter = Callable[[Any], Any]


@dataclass
class _Shape:
    """One level of the record: (key, converter, relationship step, nested shape) entries."""

    entries: list[tuple[str, Converter | None, FieldSpec | None, _Shape | None]] = field(
        default_factory=list
    )
    nested: dict[str, _Shape] = field(default_factory=dict)

    def add(self, selected: BoundField, depth: int = 0) -> None:
        if depth == len(selected.steps):
            self.entries.append((selected.spec.name, json_converter(selected.spec), None, None))
            return
        step = selected.steps[depth]
        key = step.relationship_name or step.name
        child = self.nested.get(key)
        if child is None:
            child = self.nested[key] = _Shape()
            self.entries.append((key, None, step, child))
        child.add(selected, depth + 1)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for key, *_ in self.entries)


class _Shaper:
    def __init__(self, bound: BoundQuery, access: Access, api_version: str) -> None:
        self.access = access
        self.prefix = f"/services/data/v{api_version}/sobjects/"
        self.sobject = bound.sobject.name
        self.root = _Shape()
        for selected in bound.select:
            self.root.add(selected)
        self.record: Callable[[Row], dict[str, Any]] = (
            self.flat_renderer() if not self.root.nested else self.record_with_relationships
        )

    def flat_renderer(self) -> Callable[[Row], dict[str, Any]]:
        """The common sync query has no relationships: copy the columns in one tight loop,
        then convert only the date and datetime ones."""
        keys = self.root.keys
        conversions = tuple((key, conv) for key, conv, *_ in self.root.entries if conv)
        base = f"{self.prefix}{self.sobject}/"
        sobject = self.sobject

        # A record's stamps are often one instant (CreatedDate, LastModifiedDate,
        # SystemModstamp), and neighbours share dates: a small memo of wire forms halves
        # the formatting a large page costs. Bounded: cleared when it fills.
        texts: dict[Any, Any] = {}

        def render(row: Row) -> dict[str, Any]:
            out: dict[str, Any] = {"attributes": {"type": sobject, "url": base + row["Id"]}}
            get = row.get
            for key in keys:
                out[key] = get(key)
            for key, convert in conversions:
                if (value := out[key]) is not None:
                    text = texts.get(value)
                    if text is None:
                        if len(texts) >= _MEMO_SIZE:
                            texts.clear()
                        text = texts[value] = convert(value)
                    out[key] = text
            return out

        return render

    def record_with_relationships(self, row: Row) -> dict[str, Any]:
        return self.render(self.root, row, self.sobject)

    def render(self, shape: _Shape, row: Row, sobject: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {"type": sobject, "url": f"{self.prefix}{sobject}/{row.get('Id')}"}
        }
        for key, convert, step, child in shape.entries:
            if step is None or child is None:
                value = row.get(key)
                out[key] = value if value is None or convert is None else convert(value)
                continue
            parent = self.access.parent(step, row)
            parent_type = parent_object(step, row[step.name]) if parent is not None else None
            if parent is None or parent_type is None:
                out[key] = None
            else:
                out[key] = self.render(child, parent, parent_type)
        return out
