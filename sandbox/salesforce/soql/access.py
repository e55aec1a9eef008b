"""Reading field values from rows, following relationship paths to parent records.

Rows are mappings keyed by canonical API names. A path like ``Owner.Manager.Name`` reads
``OwnerId``, fetches that User, reads its ``ManagerId``... Parents are fetched once per
query and cached: a 200,000-row scan touches each owner thousands of times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from sandbox.salesforce.schema import FieldSpec, ObjectSpec, object_for_id
from sandbox.salesforce.soql.binder import BoundField

Row = Mapping[str, Any]
Getter = Callable[[Row], Any]


class RowSource(Protocol):
    """Where query rows come from: the sandbox's record store, or a test's fake."""

    def rows(self, sobject: str, *, include_deleted: bool) -> Iterable[Mapping[str, Any]]: ...

    def get(self, sobject: str, record_id: str) -> Mapping[str, Any] | None:
        """One record by id, deleted ones included (a deleted parent still has a Name)."""
        ...


class Access:
    """Field getters over one RowSource, with a per-query parent cache."""

    def __init__(self, source: RowSource) -> None:
        self.source = source
        self._parents: dict[str, Row | None] = {}

    def parent(self, step: FieldSpec, row: Row) -> Row | None:
        """The record ``row``'s reference field ``step`` points at, or None."""
        record_id = row.get(step.name)
        if not record_id:
            return None
        try:
            return self._parents[record_id]
        except KeyError:
            target = parent_object(step, record_id)
            found = self.source.get(target, record_id) if target else None
            self._parents[record_id] = found
            return found

    def getter(self, field: BoundField) -> Getter:
        name = field.spec.name
        if not field.steps:
            return lambda row: row.get(name)
        steps = field.steps
        parent = self.parent

        def follow(row: Row) -> Any:
            current = row
            for step in steps:
                found = parent(step, current)
                if found is None:
                    return None
                current = found
            return current.get(name)

        return follow


def parent_object(step: FieldSpec, record_id: str) -> str | None:
    """The object a reference points into. Polymorphic references (WhatId, WhoId) can point
    at several objects; the id's key prefix says which."""
    if step.polymorphic:
        spec: ObjectSpec | None = object_for_id(record_id)
        if spec is not None:
            return spec.name
    return step.reference_to
