"""Search requests a server can answer without compiled predicates. Pure.

A sync's searches almost all have one shape: (at most) one filter group bounding
``hs_object_id`` and ``hs_lastmodifieddate`` (sometimes ``hs_createdate``), sorted by id.
A server whose objects are kept in id order can answer those from the objects' own fields
in one tight loop, starting at the lowest id that can match, and give exactly the answer
the general path gives: paging "id greater than the last one" otherwise rescans every
object, through three predicate calls each, for every page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.hubspot.values import parse_instant, parse_number


@dataclass(frozen=True)
class SystemRange:
    """A search whose only filters bound ``hs_object_id``, ``hs_lastmodifieddate`` and
    ``hs_createdate`` (one group or none, no query), sorted by id ascending or not at all: a
    server can answer it from its objects' own fields, without compiled predicates.
    Bounds are inclusive integers (ids, epoch millis)."""

    id: tuple[float, float]
    updated: tuple[float, float]
    created: tuple[float, float]


_SYSTEM_FIELDS = {
    "hs_object_id": "id",
    "hs_lastmodifieddate": "updated",
    "hs_createdate": "created",
}


def system_range(body: dict[str, Any], sort: tuple[str, bool] | None) -> SystemRange | None:
    """The request's bounds if it has the fast shape (``sort``: property, descending)."""
    groups = body.get("filterGroups") or []
    by_id = sort is None or sort == ("hs_object_id", False)
    if len(groups) > 1 or body.get("query") or not by_id:
        return None
    bounds = dict.fromkeys(("id", "updated", "created"), (-math.inf, math.inf))
    for spec in (groups[0].get("filters") or []) if groups else []:
        field = _SYSTEM_FIELDS.get(spec.get("propertyName"))
        if field is None:
            return None
        narrowed = _narrow(bounds[field], spec, parse_number if field == "id" else _ms)
        if narrowed is None:
            return None
        bounds[field] = narrowed
    return SystemRange(bounds["id"], bounds["updated"], bounds["created"])


def _narrow(
    bounds: tuple[float, float], spec: dict[str, Any], parse: Callable[[str], float | None]
) -> tuple[float, float] | None:
    """Integer bounds tightened by one comparison; None for anything else."""
    operator, raw = spec.get("operator"), spec.get("value")
    value = None if raw is None else parse(str(raw))
    if value is None or operator not in ("EQ", "GT", "GTE", "LT", "LTE"):
        return None
    low, high = bounds
    if operator in ("EQ", "GTE"):
        low = max(low, math.ceil(value))
    elif operator == "GT":
        low = max(low, math.floor(value) + 1)
    if operator in ("EQ", "LTE"):
        high = min(high, math.floor(value))
    elif operator == "LT":
        high = min(high, math.ceil(value) - 1)
    return low, high


def _ms(raw: str) -> float | None:
    value = parse_instant(raw)
    return None if value is None else float(value)


def id_floor(groups: list[Any]) -> int | None:
    """The lowest ``hs_object_id`` any group can match (each group's tightest GT/GTE/EQ
    on it), or None when some group does not bound the id. A server that keeps objects in
    id order starts its scan there: same answer, less work (paging by "id greater than the
    last one" otherwise rescans every object for every page)."""
    floors: list[int] = []
    for group in groups:
        bounds = [
            _floor(spec)
            for spec in group.get("filters") or []
            if isinstance(spec, dict) and spec.get("propertyName") == "hs_object_id"
        ]
        known = [bound for bound in bounds if bound is not None]
        if not known:
            return None
        floors.append(max(known))
    return min(floors) if floors else None


def _floor(spec: dict[str, Any]) -> int | None:
    try:
        value = float(str(spec.get("value")))
    except ValueError:
        return None
    operator = spec.get("operator")
    if operator == "GT":
        return int(value) + 1
    return int(value) if operator in ("GTE", "EQ") and value == int(value) else None
