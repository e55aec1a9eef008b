"""Search filters: typed comparison of property values and the filter operators.

Values compare by the property's type: numbers numerically, datetimes and dates as
instants (epoch millis or ISO-8601 accepted in filters), everything else as
case-insensitive strings. Negative operators (NEQ, NOT_IN, NOT_CONTAINS_TOKEN) also match
objects that lack the property, as HubSpot's search index does.
https://developers.hubspot.com/docs/guides/api/crm/search#filter-search-results
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.hubspot.properties import Kind, ObjectType
from sandbox.hubspot.values import parse_instant, parse_number

Comparable = float | str
Coerce = Callable[[str], Comparable | None]
# Reads one property of a row, already coerced with coercer() for the property's kind.
Accessor = Callable[[Any], Comparable | None]
Predicate = Callable[[Any], bool]
Builder = Callable[[Accessor, dict[str, Any], Coerce], Predicate]


class SearchRequestError(ValueError):
    """The request is invalid: HubSpot answers 400 VALIDATION_ERROR."""


def coercer(kind: Kind) -> Coerce:
    """How values of a property kind compare: instants and numbers as floats, else text."""
    if kind in (Kind.DATETIME, Kind.DATE):
        return _instant
    if kind is Kind.NUMBER:
        return parse_number
    return str.casefold


@functools.lru_cache(maxsize=1 << 18)
def _instant(raw: str) -> float | None:
    # Cached: stored timestamps are parsed again by every search that filters on them.
    value = parse_instant(raw)
    return None if value is None else float(value)


def compile_filter(spec: Any, kind: ObjectType, accessors: Mapping[str, Accessor]) -> Predicate:
    if not isinstance(spec, dict):
        raise SearchRequestError("each filter must be an object")
    name, operator = spec.get("propertyName"), spec.get("operator", "EQ")
    prop = kind.properties.get(str(name))
    if prop is None:
        raise SearchRequestError(f"Property {name!r} does not exist on {kind.name}")
    build = _OPERATORS.get(str(operator))
    if build is None:
        raise SearchRequestError(f"Unsupported operator {operator!r}")
    return build(accessors[prop.name], spec, coercer(prop.kind))


def _operand(spec: dict[str, Any], key: str, coerce: Coerce) -> Any:
    raw = spec.get(key)
    if raw is None:
        raise SearchRequestError(f"{spec.get('operator')} needs {key!r}")
    if key == "values":
        if not isinstance(raw, list) or not raw:
            raise SearchRequestError("values must be a non-empty list")
        return {_checked(coerce, str(item)) for item in raw}
    return _checked(coerce, str(raw))


def _checked(coerce: Coerce, raw: str) -> Comparable:
    value = coerce(raw)
    if value is None:
        raise SearchRequestError(f"{raw!r} is not a valid value for this property")
    return value


def _compare(test: Callable[[Any, Any], bool]) -> Builder:
    def build(read: Accessor, spec: dict[str, Any], coerce: Coerce) -> Predicate:
        operand = _operand(spec, "value", coerce)

        def predicate(row: Any) -> bool:
            value = read(row)
            return value is not None and test(value, operand)

        return predicate

    return build


def _not_equal(read: Accessor, spec: dict[str, Any], coerce: Coerce) -> Predicate:
    operand = _operand(spec, "value", coerce)
    return lambda row: read(row) != operand  # objects without the property match too


def _between(read: Accessor, spec: dict[str, Any], coerce: Coerce) -> Predicate:
    low, high = _operand(spec, "value", coerce), _operand(spec, "highValue", coerce)

    def predicate(row: Any) -> bool:
        value = read(row)
        return value is not None and low <= value <= high

    return predicate


def _in(negate: bool) -> Builder:
    def build(read: Accessor, spec: dict[str, Any], coerce: Coerce) -> Predicate:
        options = _operand(spec, "values", coerce)

        def predicate(row: Any) -> bool:
            value = read(row)
            return negate if value is None else (value in options) != negate

        return predicate

    return build


def _has(present: bool) -> Builder:
    return lambda read, spec, coerce: lambda row: (read(row) is not None) == present


def _contains_token(negate: bool) -> Builder:
    """Whole-word match; ``*`` in the token is a wildcard."""

    def build(read: Accessor, spec: dict[str, Any], coerce: Coerce) -> Predicate:
        token = str(spec.get("value") or "").casefold()
        if not token:
            raise SearchRequestError(f"{spec.get('operator')} needs 'value'")
        pattern = re.compile(fnmatch.translate(token))

        def predicate(row: Any) -> bool:
            value = read(row)
            if value is None:
                return negate
            words = re.split(r"[^\w@.*-]+", str(value).casefold())
            return any(pattern.match(word) for word in words) != negate

        return predicate

    return build


_OPERATORS: dict[str, Builder] = {
    "EQ": _compare(lambda a, b: a == b),
    "NEQ": _not_equal,
    "LT": _compare(lambda a, b: a < b),
    "LTE": _compare(lambda a, b: a <= b),
    "GT": _compare(lambda a, b: a > b),
    "GTE": _compare(lambda a, b: a >= b),
    "BETWEEN": _between,
    "IN": _in(negate=False),
    "NOT_IN": _in(negate=True),
    "HAS_PROPERTY": _has(present=True),
    "NOT_HAS_PROPERTY": _has(present=False),
    "CONTAINS_TOKEN": _contains_token(negate=False),
    "NOT_CONTAINS_TOKEN": _contains_token(negate=True),
}
