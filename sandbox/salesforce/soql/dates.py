"""SOQL date values: fixed dates and datetimes, and relative date literals as ranges.

A date literal (``TODAY``, ``LAST_N_DAYS:30``...) stands for a range of whole days,
computed from the current day in the querying user's time zone. ``=`` means inside the
range, ``<`` before its start, ``>`` after its end, ``<=``/``>=`` on or before its end /
on or after its start. Weeks start on Sunday (the default en_US locale); quarters and
years are calendar ones (a standard fiscal year starting in January).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from sandbox.salesforce.schema import parse_offset
from sandbox.salesforce.soql.nodes import DateLiteral

_DATETIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?(Z|[+-]\d{2}:?\d{2})"
)

_UNITS = ("DAY", "WEEK", "MONTH", "QUARTER", "YEAR")
_FIXED: dict[str, tuple[str, int, int]] = {
    "YESTERDAY": ("DAY", -1, -1),
    "TODAY": ("DAY", 0, 0),
    "TOMORROW": ("DAY", 1, 1),
    # LAST_90_DAYS includes today (91 days); NEXT_90_DAYS starts tomorrow.
    "LAST_90_DAYS": ("DAY", -90, 0),
    "NEXT_90_DAYS": ("DAY", 1, 90),
}
for _unit in _UNITS[1:]:
    _FIXED.update({f"LAST_{_unit}": (_unit, -1, -1), f"THIS_{_unit}": (_unit, 0, 0)})
    _FIXED[f"NEXT_{_unit}"] = (_unit, 1, 1)


def _last_n(end: int) -> Callable[[int], tuple[int, int]]:
    return lambda n: (-n, end)


def _next_n(n: int) -> tuple[int, int]:
    return 1, n


def _n_ago(n: int) -> tuple[int, int]:
    return -n, -n


_WITH_N: dict[str, tuple[str, Callable[[int], tuple[int, int]]]] = {}
for _unit in _UNITS:
    # LAST_N_DAYS:n includes today; LAST_N_WEEKS:n and the longer ones stop before the
    # current period. NEXT_N_*:n always starts with the next period.
    _WITH_N[f"LAST_N_{_unit}S"] = (_unit, _last_n(0 if _unit == "DAY" else -1))
    _WITH_N[f"NEXT_N_{_unit}S"] = (_unit, _next_n)
    _WITH_N[f"N_{_unit}S_AGO"] = (_unit, _n_ago)


def is_date_literal(name: str) -> bool:
    return name.upper() in _FIXED


def takes_n(name: str) -> bool:
    return name.upper() in _WITH_N


def parse_date(text: str) -> date:
    """``YYYY-MM-DD``; ValueError for an impossible date."""
    return date.fromisoformat(text)


def parse_datetime(text: str) -> datetime:
    """SOQL's dateTime forms (offset required, optional milliseconds) as aware UTC."""
    match = _DATETIME.fullmatch(text)
    if match is None:
        raise ValueError(f"invalid dateTime: {text}")
    day, hour, minute, second, millis, offset = match.groups()
    local = datetime.combine(
        date.fromisoformat(day),
        time(int(hour), int(minute), int(second), int((millis or "0").ljust(3, "0")) * 1000),
        tzinfo=parse_offset(offset),
    )
    return local.astimezone(UTC)


def date_range(literal: DateLiteral, today: date) -> tuple[date, date]:
    """First and last day (both inclusive) of ``literal`` as seen on ``today``."""
    if literal.n is None:
        unit, first, last = _FIXED[literal.name]
    else:
        unit, bounds = _WITH_N[literal.name]
        first, last = bounds(literal.n)
    current = _period_start(unit, today)
    return _shift(unit, current, first), _shift(unit, current, last + 1) - timedelta(days=1)


def instant_range(literal: DateLiteral, now: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """``literal`` for a dateTime field: [start, end) in UTC, days taken in ``zone``."""
    first, last = date_range(literal, now.astimezone(zone).date())
    return _midnight(first, zone), _midnight(last + timedelta(days=1), zone)


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def _period_start(unit: str, day: date) -> date:
    if unit == "DAY":
        return day
    if unit == "WEEK":
        return day - timedelta(days=(day.weekday() + 1) % 7)  # back to Sunday
    if unit == "MONTH":
        return day.replace(day=1)
    if unit == "QUARTER":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    return date(day.year, 1, 1)


def _shift(unit: str, start: date, periods: int) -> date:
    if unit in ("DAY", "WEEK"):
        return start + timedelta(days=periods * (7 if unit == "WEEK" else 1))
    months = periods * {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[unit]
    years, month_index = divmod(start.month - 1 + months, 12)
    return date(start.year + years, month_index + 1, 1)
