"""Calendar arithmetic for the generated org: working days, quarters and local working hours.

Assumptions: Monday-Friday are working days except a few company-wide holidays around the
new year (sales floors empty out then in every region); quarters are calendar quarters;
reps work roughly 08:00-18:00 in their own IANA time zone, and every instant is stored in
UTC. Converting a local working day through the zone's noon offset keeps DST changeover
days correct for working hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

ONE_DAY = timedelta(days=1)
#: (month, day) of company-wide holidays: no activity and no deal movement on them.
COMPANY_HOLIDAYS = frozenset({(1, 1), (12, 24), (12, 25), (12, 26), (12, 31)})
#: Days of a quarter that must have passed before it is the one attainment is judged on.
MIN_ELAPSED_DAYS = 30


def history_start(as_of: date, months: int) -> date:
    """The first day of a ``months``-long history that ends on ``as_of`` inclusive."""
    month_index = as_of.year * 12 + (as_of.month - 1) - months
    year, month = divmod(month_index, 12)
    day = min(as_of.day, _days_in_month(year, month + 1))
    return date(year, month + 1, day) + ONE_DAY


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - ONE_DAY).day


def is_workday(day: date) -> bool:
    return day.weekday() < 5 and (day.month, day.day) not in COMPANY_HOLIDAYS


def workdays(first: date, last: date) -> list[date]:
    """Every working day in ``first..last`` inclusive, in order."""
    days: list[date] = []
    day = first
    while day <= last:
        if is_workday(day):
            days.append(day)
        day += ONE_DAY
    return days


def next_workday(day: date) -> date:
    """``day`` itself if it is a working day, else the next one."""
    while not is_workday(day):
        day += ONE_DAY
    return day


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: date) -> date:
    start = quarter_start(day)
    if start.month == 10:
        return date(start.year, 12, 31)
    return date(start.year, start.month + 3, 1) - ONE_DAY


def quarters_between(first: date, last: date) -> list[tuple[date, date]]:
    """The calendar quarters overlapping ``first..last``, as (start, end) pairs."""
    quarters: list[tuple[date, date]] = []
    start = quarter_start(first)
    while start <= last:
        end = quarter_end(start)
        quarters.append((start, end))
        start = end + ONE_DAY
    return quarters


def final_period_start(as_of: date, rep_end: date | None) -> date:
    """The quarter a rep's final attainment is measured on.

    The current quarter once 30 days of it have passed (less is too little to judge pace
    on), else the previous, complete one; for a rep who left, the quarter they left in.
    """
    if rep_end is not None:
        return quarter_start(rep_end)
    current = quarter_start(as_of)
    if (as_of - current).days + 1 >= MIN_ELAPSED_DAYS:
        return current
    return quarter_start(current - ONE_DAY)


def pace_fraction(start: date, end: date, as_of: date) -> float:
    """Share of the quarter ``start..end`` elapsed by ``as_of`` (1.0 once it is over)."""
    if as_of >= end:
        return 1.0
    return ((as_of - start).days + 1) / ((end - start).days + 1)


@lru_cache(maxsize=16384)
def local_midnight_utc(day: date, zone: str) -> datetime:
    """The UTC instant that working-hour offsets on ``day`` in ``zone`` are added to.

    Uses the zone's offset at local noon, so 09:00 local stays 09:00 even on the day the
    clocks change (the switch happens at night, outside working hours).
    """
    offset = datetime(day.year, day.month, day.day, 12, tzinfo=ZoneInfo(zone)).utcoffset()
    if offset is None:  # pragma: no cover - a ZoneInfo always knows its offset
        raise ValueError(f"time zone {zone} has no UTC offset")
    return datetime(day.year, day.month, day.day, tzinfo=UTC) - offset


def local_day(instant: datetime, zone: str) -> date:
    """The calendar day ``instant`` falls on in ``zone``."""
    return instant.astimezone(ZoneInfo(zone)).date()
