"""Periods: which slices of time a rule measures, their business days and their labels."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.periods import (
    Period,
    PeriodUnit,
    business_days_between,
    complete_periods,
    period_label,
    periods_to_date,
    spanning,
)

WEDNESDAY = datetime(2024, 5, 8, 10, 30, tzinfo=UTC)
SATURDAY = datetime(2024, 5, 11, 9, 0, tzinfo=UTC)


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


def test_complete_weeks_end_before_the_current_week():
    weeks = complete_periods(WEDNESDAY, PeriodUnit.WEEK, 3)
    assert [w.start for w in weeks] == [at("2024-04-15"), at("2024-04-22"), at("2024-04-29")]
    assert weeks[-1].end == at("2024-05-06")


def test_complete_days_skip_the_weekend():
    days = complete_periods(at("2024-05-06T08:00"), PeriodUnit.DAY, 2)  # a Monday
    assert [d.first_day.isoformat() for d in days] == ["2024-05-02", "2024-05-03"]


def test_periods_to_date_end_with_the_partial_current_period():
    weeks = periods_to_date(WEDNESDAY, PeriodUnit.WEEK, 2)
    assert weeks[-1] == Period(at("2024-05-06"), WEDNESDAY)
    assert weeks[0] == Period(at("2024-04-29"), at("2024-05-06"))


def test_periods_to_date_on_a_weekend_has_no_partial_day():
    days = periods_to_date(SATURDAY, PeriodUnit.DAY, 2)
    assert [d.first_day.isoformat() for d in days] == ["2024-05-09", "2024-05-10"]


def test_a_partial_day_counts_as_a_business_day():
    assert business_days_between(at("2024-05-06"), WEDNESDAY) == 3
    assert business_days_between(at("2024-05-06"), at("2024-05-13")) == 5


def test_quarters_and_months_start_on_calendar_boundaries():
    (quarter,) = complete_periods(WEDNESDAY, PeriodUnit.QUARTER, 1)
    (month,) = complete_periods(WEDNESDAY, PeriodUnit.MONTH, 1)
    assert (quarter.start, quarter.end) == (at("2024-01-01"), at("2024-04-01"))
    assert (month.start, month.end) == (at("2024-04-01"), at("2024-05-01"))


@pytest.mark.parametrize(
    ("unit", "label"),
    [
        (PeriodUnit.DAY, "2024-05-07"),
        (PeriodUnit.WEEK, "2024-W18"),
        (PeriodUnit.MONTH, "2024-04"),
        (PeriodUnit.QUARTER, "2024-Q1"),
    ],
)
def test_complete_periods_are_labelled_by_their_unit(unit: PeriodUnit, label: str):
    assert period_label(complete_periods(WEDNESDAY, unit, 1)[0], unit) == label


def test_the_partial_current_period_is_labelled_to_date():
    current = periods_to_date(WEDNESDAY, PeriodUnit.WEEK, 1)[0]
    assert period_label(current, PeriodUnit.WEEK) == "2024-W19 to date"


def test_iso_week_labels_use_the_iso_year_at_new_year():
    week = Period(at("2024-12-30"), at("2025-01-06"))
    assert period_label(week, PeriodUnit.WEEK) == "2025-W01"


def test_spanning_periods_roll_one_unit_at_a_time():
    weeks = complete_periods(WEDNESDAY, PeriodUnit.WEEK, 6)
    rolling = spanning(weeks, 4)
    assert [(p.start, p.end) for p in rolling] == [
        (at("2024-03-25"), at("2024-04-22")),
        (at("2024-04-01"), at("2024-04-29")),
        (at("2024-04-08"), at("2024-05-06")),
    ]
    assert rolling[-1] == Period(at("2024-04-08"), at("2024-05-06"))
    assert rolling[-1].business_days == 20
    assert spanning(weeks, 1) == weeks


def test_a_spanning_period_is_labelled_by_its_last_unit():
    (four_weeks,) = spanning(complete_periods(WEDNESDAY, PeriodUnit.WEEK, 4), 4)
    assert period_label(four_weeks, PeriodUnit.WEEK) == "4 weeks to 2024-W18"
    (two_months,) = spanning(complete_periods(WEDNESDAY, PeriodUnit.MONTH, 2), 2)
    assert period_label(two_months, PeriodUnit.MONTH) == "2 months to 2024-04"
