"""Record values between Python and Salesforce's JSON.

Records hold ``str``, ``bool``, ``int``, ``float``, ``date``, aware UTC ``datetime`` or
None; on the wire Salesforce writes datetimes as ``2026-01-05T09:00:00.000+0000`` and
accepts several ISO 8601 spellings in request bodies.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from sandbox.salesforce.schema.specs import FieldSpec


def format_datetime(value: datetime) -> str:
    """Salesforce's wire form: always UTC, milliseconds, ``+0000`` offset."""
    zone = value.tzinfo
    if zone is not UTC and zone is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:23] + "+0000"


def _format_date(value: date) -> str:
    return value.isoformat()


def json_converter(spec: FieldSpec) -> Callable[[Any], Any] | None:
    """The non-null value converter for ``spec``, or None when values are JSON already."""
    if spec.type == "datetime":
        return format_datetime
    if spec.type == "date":
        return _format_date
    return None


def to_json_value(field: FieldSpec, value: Any) -> Any:
    convert = json_converter(field)
    return value if value is None or convert is None else convert(value)


_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}(?::?\d{2})?)?"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def parse_offset(text: str | None) -> timezone:
    """``Z``, ``+01``, ``+0100`` or ``+01:00`` as a fixed UTC offset (no text means UTC)."""
    if not text or text == "Z":
        return UTC
    digits = text[1:].replace(":", "")
    delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
    return timezone(-delta if text[0] == "-" else delta)


def _parse_datetime(_field: FieldSpec, value: Any) -> datetime | None:
    match = _DATETIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g or 0) for g in match.groups()[:6])
    # Salesforce keeps milliseconds; finer digits are dropped, not rounded.
    millis = int((match.group(7) or "0").ljust(3, "0")[:3])
    try:
        moment = datetime(year, month, day, hour, minute, second, millis * 1000,
                          tzinfo=parse_offset(match.group(8)))  # fmt: skip
    except ValueError:
        return None
    return moment.astimezone(UTC)


def _parse_date(_field: FieldSpec, value: Any) -> date | None:
    if not isinstance(value, str) or not _DATE.fullmatch(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_text(field: FieldSpec, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    if field.length is not None and len(value) > field.length:
        raise ValueError(
            f"{field.label}: data value too large: {value!r} (max length={field.length})"
        )
    if field.type == "email" and value and not _EMAIL.fullmatch(value):
        raise ValueError(f"{field.label}: invalid email address: {value!r}")
    return value


def _parse_id(_field: FieldSpec, value: Any) -> str | None:
    ok = isinstance(value, str) and len(value) in (15, 18) and value.isascii() and value.isalnum()
    return value if ok else None


def _parse_boolean(_field: FieldSpec, value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _parse_int(_field: FieldSpec, value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value) if float(value).is_integer() else None


def _parse_number(_field: FieldSpec, value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


_PARSERS: dict[str, Callable[[FieldSpec, Any], Any]] = {
    "id": _parse_id, "reference": _parse_id, "boolean": _parse_boolean, "int": _parse_int,
    "double": _parse_number, "currency": _parse_number, "percent": _parse_number,
    "date": _parse_date, "datetime": _parse_datetime,
}  # fmt: skip


def from_json_value(field: FieldSpec, value: Any) -> Any:
    """Parse one value of a create/update body; ValueError names the field and the value."""
    if value is None:
        # Checkboxes are never null in Salesforce: clearing one stores false.
        return False if field.type == "boolean" else None
    parser: Callable[[FieldSpec, Any], Any] = _PARSERS.get(field.type, _parse_text)
    parsed = parser(field, value)
    if parsed is None:
        raise ValueError(f"{field.label}: value not of required type {field.type}: {value!r}")
    return parsed
