"""Compiles a WHERE clause into one predicate over rows, once per query.

SOQL semantics imitated here: text comparisons ignore case; ``=''`` is ``= null`` (Salesforce
stores no empty strings); ``!=`` and ``NOT IN`` also match nulls; a 15-character id
matches its 18-character form; a date literal is a range (see ``dates``); ordering
comparisons never match a null.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sandbox.salesforce.schema import ID_TYPES, TEXT_TYPES, FieldSpec
from sandbox.salesforce.soql import dates
from sandbox.salesforce.soql.access import Access, Getter, Row
from sandbox.salesforce.soql.binder import BoundQuery
from sandbox.salesforce.soql.lexer import like_pattern
from sandbox.salesforce.soql.nodes import (
    And,
    Comparison,
    Condition,
    DateLiteral,
    InList,
    Not,
    Value,
)

Predicate = Callable[[Row], bool]
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class FilterCompiler:
    def __init__(self, bound: BoundQuery, access: Access, now: datetime, zone: tzinfo) -> None:
        self.bound, self.access, self.now, self.zone = bound, access, now, zone

    def compile(self, condition: Condition) -> Predicate:
        if isinstance(condition, Comparison):
            return self.comparison(condition)
        if isinstance(condition, InList):
            return self.in_list(condition)
        if isinstance(condition, Not):
            return _negate(self.compile(condition.operand))
        parts = tuple(self.compile(operand) for operand in condition.operands)
        if isinstance(condition, And):
            return lambda row: all(part(row) for part in parts)
        return lambda row: any(part(row) for part in parts)

    def comparison(self, node: Comparison) -> Predicate:
        field = self.bound.fields[node.field]
        get = self.access.getter(field)
        if node.operator == "LIKE":
            pattern = like_pattern(node.value.lexeme)
            return lambda row: (v := get(row)) is not None and pattern.fullmatch(v) is not None
        if _is_null(field.spec, node.value):
            is_null = _null_test(field.spec, get)
            return is_null if node.operator == "=" else _negate(is_null)
        if node.value.kind == "date_literal":
            return self.in_range(field.spec, get, node.operator, node.value)
        normal = _normaliser(field.spec)
        literal = normal(node.value.value)
        compare = operator.eq if node.operator in ("=", "!=") else _ORDERING[node.operator]
        if not field.steps and normal is _same:
            test = _column_test(field.spec.name, compare, literal)
        else:
            test = _path_test(get, normal, compare, literal)
        return _negate(test) if node.operator == "!=" else test

    def in_range(self, spec: FieldSpec, get: Getter, op: str, value: Value) -> Predicate:
        """A date literal is a range [start, end): ``=`` inside, ``<`` before, ``>`` after."""
        start, end = self.bounds(spec, value)
        if op in ("=", "!="):

            def inside(row: Row) -> bool:
                return (v := get(row)) is not None and start <= v < end

            return inside if op == "=" else _negate(inside)
        compare, edge = {
            "<": (operator.lt, start),
            "<=": (operator.lt, end),
            ">": (operator.ge, end),
            ">=": (operator.ge, start),
        }[op]
        return lambda row: (v := get(row)) is not None and compare(v, edge)

    def bounds(self, spec: FieldSpec, value: Value) -> tuple[date | datetime, date | datetime]:
        literal = value.value
        if not isinstance(literal, DateLiteral):  # the binder let only date literals here
            raise TypeError(f"not a date literal: {literal!r}")
        if spec.type == "datetime":
            return dates.instant_range(literal, self.now, self.zone)
        first, last = dates.date_range(literal, self.now.astimezone(self.zone).date())
        return first, last + timedelta(days=1)

    def in_list(self, node: InList) -> Predicate:
        field = self.bound.fields[node.field]
        get = self.access.getter(field)
        normal = _normaliser(field.spec)
        members: set[Any] = set()
        others: list[Predicate] = []  # date literal ranges and null
        for value in node.values:
            if _is_null(field.spec, value):
                others.append(_null_test(field.spec, get))
            elif value.kind == "date_literal":
                others.append(self.in_range(field.spec, get, "=", value))
            else:
                members.add(normal(value.value))

        def found(row: Row) -> bool:
            if (v := get(row)) is not None and normal(v) in members:
                return True
            return any(test(row) for test in others)

        return _negate(found) if node.negated else found


def _column_test(name: str, compare: Callable[[Any, Any], bool], literal: Any) -> Predicate:
    """The hot case (a sync's ``SystemModstamp >= ...``): a column of the row, as stored."""
    return lambda row: (v := row.get(name)) is not None and compare(v, literal)


def _path_test(
    get: Getter, normal: Callable[[Any], Any], compare: Callable[[Any, Any], bool], literal: Any
) -> Predicate:
    return lambda row: (v := get(row)) is not None and compare(normal(v), literal)


def _negate(predicate: Predicate) -> Predicate:
    return lambda row: not predicate(row)


def _is_null(spec: FieldSpec, value: Value) -> bool:
    textual = spec.type in TEXT_TYPES or spec.type in ID_TYPES
    return value.kind == "null" or (textual and value.value == "")


def _null_test(spec: FieldSpec, get: Getter) -> Predicate:
    if spec.type in TEXT_TYPES or spec.type in ID_TYPES:
        return lambda row: not get(row)  # None or an empty string
    return lambda row: get(row) is None


def _same(value: Any) -> Any:
    return value


def _casefold(value: Any) -> Any:
    return value.casefold()


def _id15(value: Any) -> Any:
    return value[:15]


def _normaliser(spec: FieldSpec) -> Callable[[Any], Any]:
    """How values of ``spec`` compare: text ignoring case, ids by their 15-character form."""
    if spec.type in TEXT_TYPES:
        return _casefold
    if spec.type in ID_TYPES:
        return _id15
    return _same
