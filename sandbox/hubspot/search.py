"""CRM search: request validation, filter evaluation, sorting and offset paging. Pure.

Semantics follow https://developers.hubspot.com/docs/guides/api/crm/search:
filter groups are OR-ed, filters in a group AND-ed; at most 5 groups, 6 filters per group
and 18 filters in all; one sort rule; at most 200 results per page; ``after`` is an offset,
and paging to 10,000 or beyond is a 400. Without a sort, results come in id order.
Filters and value comparison live in :mod:`filters`.

A search scans every object, so the request is compiled once into predicates over
*rows*, whatever the caller stores, read through one :data:`Accessor` per property.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sandbox.hubspot.filters import (
    Accessor,
    Coerce,
    Comparable,
    Predicate,
    SearchRequestError,
    coercer,
    compile_filter,
)
from sandbox.hubspot.properties import ObjectType
from sandbox.hubspot.search_ranges import SystemRange, id_floor, system_range

MAX_GROUPS, MAX_FILTERS_PER_GROUP, MAX_FILTERS = 5, 6, 18
MAX_LIMIT, MAX_RESULTS, MAX_QUERY = 200, 10_000, 3000


@dataclass(frozen=True)
class SearchRequest:
    predicate: Predicate
    sort: tuple[Accessor, bool] | None  # (property accessor, descending)
    properties: tuple[str, ...] | None
    limit: int
    after: int
    sort_name: str | None = None
    min_id: int | None = None  # no object with a lower id can match (see id_floor)
    system_range: SystemRange | None = None


def dict_accessors(kind: ObjectType) -> dict[str, Accessor]:
    """Accessors for rows that are plain ``{property: raw string}`` mappings."""

    def accessor(name: str, coerce: Coerce) -> Accessor:
        return lambda row: None if (raw := row.get(name)) is None else coerce(raw)

    return {name: accessor(name, coercer(p.kind)) for name, p in kind.properties.items()}


def parse_request(body: Any, kind: ObjectType, accessors: Mapping[str, Accessor]) -> SearchRequest:
    """Validate and compile a search body once, before scanning any object."""
    if not isinstance(body, dict):
        raise SearchRequestError("Invalid input JSON: expected an object")
    limit, after = _int(body.get("limit"), "limit", 10), _int(body.get("after"), "after", 0)
    if not 0 < limit <= MAX_LIMIT:
        raise SearchRequestError(f"limit must be between 1 and {MAX_LIMIT}; got {limit}")
    if after >= MAX_RESULTS:
        # Documented: "Attempting to page beyond 10,000 will result in a 400 error."
        raise SearchRequestError(
            f"Paging past {MAX_RESULTS} results is not supported; after={after}. "
            "Narrow the search with filters instead."
        )
    properties = body.get("properties")
    predicate = compile_groups(body.get("filterGroups") or [], kind, accessors)
    query = _query(body.get("query"), kind, accessors)
    sort = _parse_sort(body.get("sorts") or [], kind, accessors)
    return SearchRequest(
        predicate=predicate if query is None else _both(predicate, query),
        sort=None if sort is None else sort[1:],
        properties=tuple(str(p) for p in properties) if properties else None,
        limit=limit,
        after=after,
        sort_name=None if sort is None else sort[0],
        min_id=id_floor(body.get("filterGroups") or []),
        system_range=system_range(body, None if sort is None else (sort[0], sort[2])),
    )


def _int(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise SearchRequestError(f"{name} must be an integer; got {raw!r}") from None


def _both(first: Predicate, second: Predicate) -> Predicate:
    return lambda row: first(row) and second(row)


def _query(raw: Any, kind: ObjectType, accessors: Mapping[str, Accessor]) -> Predicate | None:
    """The free-text ``query``: a case-insensitive match in the type's text properties."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or len(raw) > MAX_QUERY:
        raise SearchRequestError(f"query must be a string of at most {MAX_QUERY} characters")
    text, fields = raw.casefold(), [accessors[name] for name in kind.text_search]
    return lambda row: any(text in str(field(row) or "") for field in fields)


def compile_groups(groups: Any, kind: ObjectType, accessors: Mapping[str, Accessor]) -> Predicate:
    if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
        raise SearchRequestError(f"filterGroups must be a list of at most {MAX_GROUPS} groups")
    compiled: list[list[Predicate]] = []
    for group in groups:
        filters = group.get("filters") if isinstance(group, dict) else None
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS_PER_GROUP:
            raise SearchRequestError(
                f"each filter group needs a list of at most {MAX_FILTERS_PER_GROUP} filters"
            )
        compiled.append([compile_filter(f, kind, accessors) for f in filters])
    if sum(len(group) for group in compiled) > MAX_FILTERS:
        raise SearchRequestError(f"at most {MAX_FILTERS} filters are allowed in total")
    if not compiled:
        return lambda row: True
    if len(compiled) == 1:
        return _all(compiled[0])
    groups_all = [_all(group) for group in compiled]
    return lambda row: any(group(row) for group in groups_all)


def _all(tests: list[Predicate]) -> Predicate:
    # Unrolled for the common sizes: a search evaluates this for every object it scans.
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda row: first(row) and second(row)
    if len(tests) == 3:
        first, second, third = tests
        return lambda row: first(row) and second(row) and third(row)
    return lambda row: all(test(row) for test in tests)


def _parse_sort(
    sorts: Any, kind: ObjectType, accessors: Mapping[str, Accessor]
) -> tuple[str, Accessor, bool] | None:
    """``["-amount"]`` or ``[{"propertyName": "amount", "direction": "DESCENDING"}]``."""
    if not isinstance(sorts, list):
        raise SearchRequestError("sorts must be a list")
    if not sorts:
        return None
    if len(sorts) > 1:
        raise SearchRequestError("Only one sort is allowed per search")
    sort = sorts[0]
    if isinstance(sort, str):
        name, descending = sort.removeprefix("-"), sort.startswith("-")
    elif isinstance(sort, dict):
        name = str(sort.get("propertyName"))
        direction = str(sort.get("direction", "ASCENDING")).upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise SearchRequestError(f"Unknown sort direction {direction!r}")
        descending = direction == "DESCENDING"
    else:
        raise SearchRequestError("a sort is a property name or {propertyName, direction}")
    if name not in kind.properties:
        raise SearchRequestError(f"Property {name!r} does not exist on {kind.name}")
    return name, accessors[name], descending


def run(
    request: SearchRequest, rows: Iterable[tuple[int, Any]], *, ids_are_objects: bool = False
) -> tuple[int, list[int]]:
    """Total matches and the ids of the requested page; rows come in id order.

    ``ids_are_objects``: the row ids are the objects' ``hs_object_id`` (not positions), so
    an ascending sort on it keeps the rows' order and needs no sorting.
    """
    predicate = request.predicate
    matches = [(object_id, row) for object_id, row in rows if predicate(row)]
    in_id_order = ids_are_objects and request.sort_name == "hs_object_id"
    if request.sort is not None and not (in_id_order and not request.sort[1]):
        matches = _sorted(matches, *request.sort)
    page = matches[request.after : request.after + request.limit]
    return len(matches), [object_id for object_id, _ in page]


def _sorted(
    matches: list[tuple[int, Any]], read: Accessor, descending: bool
) -> list[tuple[int, Any]]:
    """Sort by one property; rows without a value come last either way."""
    keyed: list[tuple[Comparable, int, Any]] = []
    missing: list[tuple[int, Any]] = []
    for object_id, row in matches:
        value = read(row)
        if value is None:
            missing.append((object_id, row))
        else:
            keyed.append((value, object_id, row))
    # Stable sorts keep id order among equal values in both directions.
    keyed.sort(key=lambda entry: entry[0], reverse=descending)
    return [(object_id, row) for _, object_id, row in keyed] + missing


__all__ = [
    "Accessor",
    "Coerce",
    "Comparable",
    "SearchRequest",
    "SearchRequestError",
    "SystemRange",
    "coercer",
    "dict_accessors",
    "id_floor",
    "parse_request",
    "run",
]
