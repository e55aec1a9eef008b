"""Property values on the wire: parsing, normalising and formatting.

HubSpot stores every property as a string. Writers may send datetimes as epoch millis or
ISO-8601; the v3 API answers with ISO-8601 (millis, ``Z``) for datetime properties and
``YYYY-MM-DD`` for date properties, so values are normalised once, on write.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sandbox.hubspot.properties import Kind, PropertyDef

_DAY_MS = 86_400_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("the HubSpot sandbox needs aware datetimes")
    # Exact integer arithmetic: ``int(timestamp() * 1000)`` floors a float, so
    # 18:24:10.889 came back as ...888.
    since_epoch = moment - _EPOCH
    return (
        since_epoch.days * 86_400 + since_epoch.seconds
    ) * 1000 + since_epoch.microseconds // 1000


@functools.lru_cache(maxsize=8192)
def iso(ms: int) -> str:
    """ISO-8601 with milliseconds and ``Z``, the way HubSpot writes timestamps.

    Memoised: a rendered object shows its two system timestamps up to three times each
    (``createdAt``/``hs_createdate``, ``updatedAt``/``hs_lastmodifieddate``).
    """
    day, rest = divmod(ms, _DAY_MS)
    seconds, millis = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{_day(day)}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _day(day: int) -> str:
    """``YYYY-MM-DD`` of a day counted from the epoch."""
    t = time.gmtime(day * 86_400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def parse_instant(raw: str) -> int | None:
    """Epoch millis from epoch millis, a date or an ISO datetime; None if unparseable."""
    text = raw.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return (day - date(1970, 1, 1)).days * _DAY_MS
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_ms(moment)


def parse_number(raw: str) -> float | None:
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def is_canonical_iso(value: str) -> bool:
    """Cheap test for an already-normalised timestamp (keeps bulk imports fast)."""
    return len(value) == 24 and value[10] == "T" and value[-1] == "Z"


@dataclass(frozen=True)
class Problem:
    """One invalid property value, in HubSpot's validation-result vocabulary."""

    name: str
    error: str  # PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, INVALID_OPTION, ...
    message: str


class InvalidValueError(ValueError):
    def __init__(self, error: str, message: str) -> None:
        super().__init__(message)
        self.error, self.message = error, message


# Checks a reference kind (owner, pipeline, stage) against the portal's current data.
ReferenceCheck = Callable[[PropertyDef, str], bool]


def normalize(prop: PropertyDef, raw: object, references: ReferenceCheck) -> str | None:
    """The stored form of ``raw`` for ``prop``; an empty string clears the property."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raw = "true" if raw else "false"
    value = str(raw)
    if value == "":
        return None
    return _NORMALISERS[prop.kind](prop, value, references)


def _string(_: PropertyDef, value: str, __: ReferenceCheck) -> str:
    return value


def _number(prop: PropertyDef, value: str, _: ReferenceCheck) -> str:
    if parse_number(value) is None:
        raise InvalidValueError("INVALID_DECIMAL", f"{value} was not a valid number.")
    return value.strip()


def _datetime(prop: PropertyDef, value: str, _: ReferenceCheck) -> str:
    if is_canonical_iso(value):
        return value
    ms = parse_instant(value)
    if ms is None:
        raise InvalidValueError("INVALID_LONG", f"{value} was not a valid long.")
    return iso(ms)


def _date(prop: PropertyDef, value: str, _: ReferenceCheck) -> str:
    ms = parse_instant(value)
    if ms is None:
        raise InvalidValueError("INVALID_DATE", f"{value} was not a valid date.")
    # https://knowledge.hubspot.com/properties/property-field-types-in-hubspot: date
    # properties hold midnight UTC; any other time of day is refused.
    if ms % _DAY_MS:
        raise InvalidValueError(
            "INVALID_DATE", f"{value} is at {iso(ms)}, which is not midnight UTC."
        )
    return iso(ms)[:10]


def _bool(prop: PropertyDef, value: str, _: ReferenceCheck) -> str:
    lowered = value.lower()
    if lowered not in ("true", "false"):
        raise InvalidValueError("INVALID_OPTION", f"{value} was not one of the allowed options")
    return lowered


def _enum(prop: PropertyDef, value: str, _: ReferenceCheck) -> str:
    if value not in prop.options:
        allowed = ", ".join(sorted(prop.options))
        raise InvalidValueError(
            "INVALID_OPTION", f"{value} was not one of the allowed options: [{allowed}]"
        )
    return value


def _reference(prop: PropertyDef, value: str, references: ReferenceCheck) -> str:
    if not references(prop, value):
        raise InvalidValueError("INVALID_OPTION", f"{value} was not one of the allowed options")
    return value


_NORMALISERS: dict[Kind, Callable[[PropertyDef, str, ReferenceCheck], str]] = {
    Kind.STRING: _string,
    Kind.NUMBER: _number,
    Kind.DATETIME: _datetime,
    Kind.DATE: _date,
    Kind.BOOL: _bool,
    Kind.ENUM: _enum,
    Kind.OWNER: _reference,
    Kind.PIPELINE: _reference,
    Kind.STAGE: _reference,
}
