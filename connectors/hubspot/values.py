"""Property values as HubSpot sends them, parsed. Pure.

HubSpot sends every property as a string: datetimes as ISO-8601 (epoch milliseconds are
accepted too), date properties as ``YYYY-MM-DD`` (date-only values sit at UTC midnight),
numbers as decimal text, and an empty string for "no value".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Obj = Mapping[str, Any]


def parse_datetime(value: Any) -> datetime | None:
    """ISO-8601 (``Z`` or an offset) or epoch milliseconds, as aware UTC."""
    if value is None or value == "":
        return None
    raw = str(value).strip()
    if raw.endswith("Z"):  # HubSpot's own form: the common case, kept short
        return datetime.fromisoformat(raw)
    if raw.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    parsed = datetime.fromisoformat(raw)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # HubSpot's date properties: UTC midnight
    return parsed.astimezone(UTC)


def parse_date(value: Any) -> date | None:
    """A date property, or the UTC day of a datetime one (HubSpot keeps dates at midnight)."""
    moment = parse_datetime(value)
    return None if moment is None else moment.date()


def to_decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def text(value: Any, limit: int | None = None) -> str | None:
    """A string property, None for "no value", cut to ``limit`` characters if given."""
    if value is None or value == "":
        return None
    raw = str(value)
    return raw if limit is None else raw[:limit]


def props_of(obj: Obj) -> Mapping[str, Any]:
    props = obj.get("properties")
    return props if isinstance(props, Mapping) else {}


def modified_at(obj: Obj) -> datetime | None:
    return parse_datetime(props_of(obj).get("hs_lastmodifieddate") or obj.get("updatedAt"))
