"""Periods: the calendar slices a metric is measured over, and business days.

A rule measures a rep per day, week, month or quarter. Rate metrics (activities, pipeline
created) aggregate what happened inside a period; snapshot metrics (coverage, days since
last activity) are read at the period's end. Either way the metric source receives the
same explicit list of :class:`Period` values, so what "the last four weeks" means is
decided once, here, in pure code, and the SQL never does calendar arithmetic.

Business days are Monday to Friday in UTC. Reps' own time zones and holiday calendars
are not applied yet (the store keeps ``reps.time_zone`` for that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum


class PeriodUnit(StrEnum):
    DAY = "day"  # one business day
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"
    QUARTER = "quarter"  # calendar quarters


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open UTC interval ``[start, end)``.

    ``end`` may be earlier than the calendar end of the unit when the period is the
    current, partial one (it then ends at ``as_of``).
    """

    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        """The last calendar day the period touches (inclusive)."""
        return (self.end - timedelta(microseconds=1)).date()

    @property
    def business_days(self) -> int:
        return business_days_between(self.start, self.end)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5  # Saturday is 5


def business_days_between(start: datetime, end: datetime) -> int:
    """Business days whose midnight-to-midnight span starts in ``[start, end)``.

    A day counts when it begins inside the interval, so a period ending mid-day (a
    partial current period) counts today: the rep has had today to work.
    """
    first = start.date() if start == midnight(start.date()) else start.date() + timedelta(days=1)
    last = end.date() if end > midnight(end.date()) else end.date() - timedelta(days=1)
    if last < first:
        return 0
    days = (last - first).days + 1
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(rest):
        if is_business_day(first + timedelta(days=weeks * 7 + offset)):
            count += 1
    return count


def unit_start(moment: datetime, unit: PeriodUnit) -> datetime:
    """The start of the unit (business day, week, month, quarter) containing ``moment``."""
    day = moment.astimezone(UTC).date()
    if unit is PeriodUnit.DAY:
        return midnight(day)
    if unit is PeriodUnit.WEEK:
        return midnight(day - timedelta(days=day.weekday()))
    if unit is PeriodUnit.MONTH:
        return midnight(day.replace(day=1))
    return midnight(day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1))


def next_start(start: datetime, unit: PeriodUnit) -> datetime:
    """The start of the unit following the one starting at ``start``."""
    if unit is PeriodUnit.DAY:
        return start + timedelta(days=1)
    if unit is PeriodUnit.WEEK:
        return start + timedelta(days=7)
    months = 1 if unit is PeriodUnit.MONTH else 3
    month_index = start.month - 1 + months
    return start.replace(year=start.year + month_index // 12, month=month_index % 12 + 1)


def previous_start(start: datetime, unit: PeriodUnit) -> datetime:
    if unit is PeriodUnit.DAY:
        return start - timedelta(days=1)
    if unit is PeriodUnit.WEEK:
        return start - timedelta(days=7)
    months = 1 if unit is PeriodUnit.MONTH else 3
    month_index = start.month - 1 - months
    return start.replace(year=start.year + month_index // 12, month=month_index % 12 + 1)


def complete_periods(as_of: datetime, unit: PeriodUnit, count: int) -> tuple[Period, ...]:
    """The ``count`` most recent periods that ended at or before ``as_of``, oldest first.

    For days, only business days are periods: a rep is not behind on a Sunday.
    """
    periods: list[Period] = []
    start = unit_start(as_of, unit)
    while len(periods) < count:
        start = previous_start(start, unit)
        if unit is PeriodUnit.DAY and not is_business_day(start.date()):
            continue
        periods.append(Period(start, next_start(start, unit)))
    periods.reverse()
    return tuple(periods)


def spanning(periods: tuple[Period, ...], span: int) -> tuple[Period, ...]:
    """Rolling periods: each of ``periods`` from ``span - 1`` periods before it on, so
    the first ``span - 1`` of them only lend their start (``periods`` oldest first)."""
    if span <= 1:
        return periods
    return tuple(
        Period(periods[index - span + 1].start, period.end)
        for index, period in enumerate(periods)
        if index >= span - 1
    )


def periods_to_date(as_of: datetime, unit: PeriodUnit, count: int) -> tuple[Period, ...]:
    """``count`` periods ending with the current, partial one (which ends at ``as_of``).

    Snapshot metrics use these: the last value is the state right now, the earlier ones
    the state at the end of each previous period.
    """
    current_start = unit_start(as_of, unit)
    current = Period(current_start, as_of) if as_of > current_start else None
    if unit is PeriodUnit.DAY and not is_business_day(current_start.date()):
        current = None
    wanted = count - (1 if current else 0)
    earlier = complete_periods(as_of, unit, wanted) if wanted > 0 else ()
    return (*earlier, current) if current else earlier


def period_label(period: Period, unit: PeriodUnit) -> str:
    """A short human label: ``2024-05-06``, ``2024-W19``, ``2024-05`` or ``2024-Q2``.

    A partial (current) period ends before its unit does and is marked "to date"; a
    rolling period (several units) is named by its last: ``4 weeks to 2024-W19``.
    """
    last_start = unit_start(period.end - timedelta(microseconds=1), unit)
    if last_start > period.start:
        units, start = 1, period.start
        while start < last_start:
            units, start = units + 1, next_start(start, unit)
        last = period_label(Period(last_start, period.end), unit)
        return f"{units} {unit.value}s to {last}"
    first = period.first_day
    if unit is PeriodUnit.DAY:
        label = first.isoformat()
    elif unit is PeriodUnit.WEEK:
        year, week, _ = first.isocalendar()
        label = f"{year}-W{week:02d}"
    elif unit is PeriodUnit.MONTH:
        label = f"{first.year}-{first.month:02d}"
    else:
        label = f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    complete = period.end >= next_start(unit_start(period.start, unit), unit)
    return label if complete else f"{label} to date"
