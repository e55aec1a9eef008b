"""Binding: resolve a parsed query's object and field paths against the catalogue and
check each filter value's type, with the error codes and messages Salesforce uses.

Salesforce does all of this before reading a row, so a bad name or a quoted date fails
even on an empty table; the sandbox does too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sandbox.salesforce.schema import (
    ID_TYPES,
    NUMBER_TYPES,
    TEXT_TYPES,
    FieldSpec,
    ObjectSpec,
    find_object,
)
from sandbox.salesforce.soql.errors import SoqlError, located, malformed
from sandbox.salesforce.soql.nodes import (
    And,
    Comparison,
    Condition,
    FieldRef,
    InList,
    Not,
    Or,
    Query,
    Value,
)

MAX_OFFSET = 2000
CatalogLookup = Callable[[str], ObjectSpec | None]

# Which literal kinds each field type accepts, and the type name Salesforce's messages use.
_ACCEPTS = {"date": ("date", "date_literal"), "datetime": ("datetime", "date_literal"),
            "boolean": ("boolean",), **dict.fromkeys(NUMBER_TYPES, ("number",))}  # fmt: skip
_TYPE_NAMES = {"int": "integer", "double": "double", "currency": "double", "percent": "double",
               "boolean": "boolean", "date": "date", "datetime": "dateTime"}  # fmt: skip


@dataclass(frozen=True)
class BoundField:
    """A resolved field path: the reference fields followed, then the field read."""

    ref: FieldRef
    steps: tuple[FieldSpec, ...]
    spec: FieldSpec

    @property
    def names(self) -> tuple[str, ...]:
        """Canonical names: relationship names, then the field's API name."""
        return (*(step.relationship_name or step.name for step in self.steps), self.spec.name)


@dataclass(frozen=True)
class BoundQuery:
    query: Query
    sobject: ObjectSpec
    select: tuple[BoundField, ...]
    fields: Mapping[FieldRef, BoundField]  # every path of the query, by its node


def bind(query: Query, catalog_lookup: CatalogLookup = find_object) -> BoundQuery:
    """Resolve names and check types; raises INVALID_TYPE, INVALID_FIELD,
    INVALID_QUERY_FILTER_OPERATOR or NUMBER_OUTSIDE_VALID_RANGE as Salesforce does."""
    sobject = catalog_lookup(query.sobject)
    if sobject is None:
        raise located(
            "INVALID_TYPE",
            query.text,
            query.sobject_offset,
            f"sObject type '{query.sobject}' is not supported. If you are attempting "
            "to use a custom object, be sure to append the '__c' after the entity "
            "name. Please reference your WSDL or the describe call for the "
            "appropriate names.",
        )
    resolver = _Resolver(query.text, sobject, catalog_lookup)
    select = tuple(resolver.resolve(ref) for ref in query.fields)
    _check_duplicates(query.text, select)
    if query.where is not None:
        for node in _comparisons(query.where):
            _check_filter(query.text, resolver, node)
    for item in query.order_by:
        _require(resolver.resolve(item.field), "sorted", query.text)
    if query.offset is not None and query.offset > MAX_OFFSET:
        raise located(
            "NUMBER_OUTSIDE_VALID_RANGE",
            query.text,
            query.offset_at,
            f"Maximum SOQL offset allowed is {MAX_OFFSET}",
        )
    return BoundQuery(query, sobject, select, resolver.resolved)


class _Resolver:
    def __init__(self, text: str, root: ObjectSpec, lookup: CatalogLookup) -> None:
        self.text, self.root, self.lookup = text, root, lookup
        self.resolved: dict[FieldRef, BoundField] = {}

    def resolve(self, ref: FieldRef) -> BoundField:
        current = self.root
        steps: list[FieldSpec] = []
        for part in ref.parts[:-1]:
            step = current.relationship(part)
            target = self.lookup(step.reference_to) if step and step.reference_to else None
            if step is None or target is None:
                raise self.invalid(
                    ref,
                    f"Didn't understand relationship '{part}' in field path. "
                    "If you are attempting to use a custom relationship, be sure "
                    "to append the '__r' after the custom relationship name. "
                    "Please reference your WSDL or the describe call for the "
                    "appropriate names.",
                )
            steps.append(step)
            current = target
        spec = current.field(ref.parts[-1])
        if spec is None:
            raise self.invalid(
                ref,
                f"No such column '{ref.parts[-1]}' on entity "
                f"'{current.name}'. If you are attempting to use a custom field, "
                "be sure to append the '__c' after the custom field name. Please "
                "reference your WSDL or the describe call for the appropriate "
                "names.",
            )
        bound = BoundField(ref, tuple(steps), spec)
        self.resolved[ref] = bound
        return bound

    def invalid(self, ref: FieldRef, detail: str) -> SoqlError:
        return located("INVALID_FIELD", self.text, ref.offset, detail)


def _check_duplicates(text: str, select: tuple[BoundField, ...]) -> None:
    seen: set[tuple[str, ...]] = set()
    for field in select:
        if field.names in seen:
            raise malformed(
                text, field.ref.offset, f"duplicate field selected: {'.'.join(field.names)}"
            )
        seen.add(field.names)


def _comparisons(condition: Condition) -> Iterator[Comparison | InList]:
    if isinstance(condition, Comparison | InList):
        yield condition
    elif isinstance(condition, Not):
        yield from _comparisons(condition.operand)
    elif isinstance(condition, And | Or):
        for operand in condition.operands:
            yield from _comparisons(operand)


def _require(field: BoundField, ability: str, text: str) -> None:
    """Long text areas can be neither filtered nor sorted."""
    if not field.spec.filterable:
        raise located(
            "INVALID_FIELD",
            text,
            field.ref.offset,
            f"field '{field.spec.name}' can not be {ability} in a query call",
        )


def _check_filter(text: str, resolver: _Resolver, node: Comparison | InList) -> None:
    field = resolver.resolve(node.field)
    _require(field, "filtered", text)
    if isinstance(node, InList):
        for value in node.values:
            _check_value(text, field.spec, "IN", value)
    else:
        _check_value(text, field.spec, node.operator, node.value)


def _check_value(text: str, spec: FieldSpec, operator: str, value: Value) -> None:
    if operator == "LIKE" and spec.type not in TEXT_TYPES:
        raise _bad_operator(text, value, f"invalid operator on {spec.type} field: LIKE")
    if operator == "LIKE" and value.kind != "string":
        raise _bad_type(text, spec, value)
    if value.kind == "null":
        if operator not in ("=", "!=", "IN"):
            raise _bad_operator(text, value, f"null can only be used with = and != ({operator})")
        return
    textual = spec.type in TEXT_TYPES or spec.type in ID_TYPES
    if value.kind not in (("string",) if textual else _ACCEPTS[spec.type]):
        raise _bad_type(text, spec, value)
    if spec.type == "boolean" and operator not in ("=", "!=", "IN"):
        raise _bad_operator(text, value, f"invalid operator on boolean field: {operator}")
    if spec.type in ID_TYPES and not _is_id(str(value.value)):
        # Salesforce rejects malformed ids in filters instead of matching nothing.
        raise _bad_operator(text, value, f"invalid ID field: {value.value}")


def _is_id(text: str) -> bool:
    return len(text) in (15, 18) and text.isascii() and text.isalnum()


def _bad_type(text: str, spec: FieldSpec, value: Value) -> SoqlError:
    if spec.type in TEXT_TYPES or spec.type in ID_TYPES:
        detail = "must be of type string and should be enclosed in quotes"
    else:
        detail = f"must be of type {_TYPE_NAMES[spec.type]} and should not be enclosed in quotes"
    return located(
        "INVALID_FIELD",
        text,
        value.offset,
        f"value of filter criterion for field '{spec.name}' {detail}",
    )


def _bad_operator(text: str, value: Value, detail: str) -> SoqlError:
    return located("INVALID_QUERY_FILTER_OPERATOR", text, value.offset, detail)
