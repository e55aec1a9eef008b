"""Hand-written cases with values worked out by hand: what is known at an instant.

A small org over three weeks of February 2026: deals created, re-valued, won, reopened;
activities deleted before or after a period ends; a rep deleted in the middle; quotas met
and missing. Each test states the expected numbers directly, independently of the
reference implementation the seeded tests compare with.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from rules.metrics import (
    ActivityCount,
    DaysInStage,
    DaysSinceActivity,
    PipelineCoverage,
    PipelineCreated,
    SubjectKey,
    WinRate,
)
from rules.periods import Period
from service.store import Store
from service.store.sql_metric_source import SqlMetricSource
from tests.integration.metric_fixtures import (
    OrgFixture,
    activity_row,
    change_row,
    deal_row,
    load,
    quota_row,
    rep_row,
)

ADA, BOB, CY = "005A", "005B", "005C"


def at(day: int, hour: int = 9, month: int = 2) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


WEEKS = (
    Period(at(2, 0), at(9, 0)),
    Period(at(9, 0), at(16, 0)),
    Period(at(16, 0), at(23, 0)),
)


def small_org() -> OrgFixture:
    org = OrgFixture()
    org.reps = [rep_row(ADA), rep_row(BOB, deleted_at=at(16, 12)), rep_row(CY)]
    org.opportunities = [
        # D1: created in week 1 at 1,000, re-valued to 3,000 in week 2, won at 5,000 in week 3.
        deal_row("D1", ADA, at(3, 10), stage="Closed Won", stage_category="won",
                 amount=Decimal(5000), close_date=date(2026, 3, 20), closed_at=at(17)),
        # D2: no history at all; created in week 2.
        deal_row("D2", ADA, at(11), stage="Proposal", amount=Decimal(700),
                 close_date=date(2026, 3, 10)),
        # D3: won in week 1, reopened in week 2.
        deal_row("D3", ADA, at(5, month=1), stage="Negotiation", amount=Decimal(2000),
                 close_date=date(2026, 4, 30)),
        deal_row("D4", CY, at(5, month=1), stage="Proposal", amount=Decimal(100),
                 close_date=date(2026, 3, 1)),
    ]  # fmt: skip
    org.changes = [
        change_row("H1", "D1", at(3, 10), stage="Prospecting", stage_category="open",
                   amount=Decimal(1000), close_date=date(2026, 3, 20)),
        change_row("H2", "D1", at(10, 12), amount=Decimal(3000)),
        change_row("H3", "D1", at(17), stage="Closed Won", stage_category="won",
                   amount=Decimal(5000)),
        change_row("H4", "D3", at(5, month=1), stage="Proposal", stage_category="open"),
        change_row("H5", "D3", at(4), stage="Closed Won", stage_category="won"),
        change_row("H6", "D3", at(11), stage="Negotiation", stage_category="open"),
    ]  # fmt: skip
    org.activities = [
        activity_row("A1", ADA, "call", at(4), opportunity_crm_id="D1", deleted_at=at(12)),
        activity_row("A2", ADA, "call", at(5), deleted_at=at(5, 18)),
        activity_row("A3", ADA, "call", at(20), opportunity_crm_id="D1"),
        activity_row("A4", ADA, "call", at(9, 0)),  # exactly at the start of week 2
        *(activity_row(f"B{day}", BOB, "email", at(day)) for day in (3, 10, 17)),
    ]
    org.quotas = [quota_row("Q1", ADA, date(2026, 1, 1), date(2026, 3, 31), "4000")]
    return org


@pytest.fixture
def source(store: Store):
    with store.unit_of_work() as session:
        connection_id = load(session, small_org())
    with store.unit_of_work() as session:
        yield SqlMetricSource(session, connection_id)


def values(series, subject: SubjectKey) -> list[float | None]:
    return [None if obs is None else obs.value for obs in series[subject]]


def test_activities_count_in_their_period_and_deletions_after_the_period_end_do_not_matter(
    source: SqlMetricSource,
):
    counts = source.measure(ActivityCount(), WEEKS)
    # A1 is deleted in week 2 but counted in week 1; A2 was deleted within week 1;
    # A4 at the first instant of week 2 belongs to week 2; A3 happens in week 3.
    assert values(counts, SubjectKey(ADA)) == [1.0, 1.0, 1.0]


def test_a_deleted_rep_is_measured_until_the_deletion_and_not_after(source: SqlMetricSource):
    counts = source.measure(ActivityCount(), WEEKS)
    assert values(counts, SubjectKey(BOB)) == [1.0, 1.0, 0.0]


def test_amounts_are_read_as_of_the_period_end_and_later_deals_are_absent(
    source: SqlMetricSource,
):
    created = source.measure(PipelineCreated(measure="amount"), WEEKS)
    # D1 was worth 1,000 when week 1 ended (3,000 and 5,000 came later); D2 came in week 2.
    assert values(created, SubjectKey(ADA)) == [1000.0, 700.0, 0.0]
    assert created[SubjectKey(ADA)][0].deals == ("D1",)  # type: ignore[union-attr]


def test_days_since_activity_ignores_later_activities_and_deleted_ones(
    source: SqlMetricSource,
):
    days = source.measure(DaysSinceActivity(), WEEKS)
    d1 = values(days, SubjectKey(ADA, "D1"))
    # Week 1: last activity A1 on Feb 4 09:00 -> 4.625 days before Feb 9 00:00.
    # Week 2: A1 is deleted by then and A3 is in the future: days since creation (Feb 3 10:00).
    # Week 3: D1 is won, no longer an open deal.
    assert d1 == [pytest.approx(4.625), pytest.approx(12 + 14 / 24), None]
    # D2 did not exist when week 1 ended; it has no activity, so it counts from creation.
    assert values(days, SubjectKey(ADA, "D2")) == [None, pytest.approx(4 + 15 / 24), 11 + 15 / 24]


def test_a_reopened_deal_is_closed_only_between_winning_and_reopening(source: SqlMetricSource):
    rate = source.measure(WinRate(min_sample=1, trailing_days=30), WEEKS)
    ada = rate[SubjectKey(ADA)]
    assert ada[0] is not None
    assert (ada[0].value, ada[0].sample) == (1.0, 1)
    assert ada[1] is None  # D3 reopened on Feb 11, D1 not won yet: nothing closed
    assert ada[2] is not None
    assert (ada[2].value, ada[2].sample) == (1.0, 1)
    in_stage = source.measure(DaysInStage(), WEEKS)
    d3 = values(in_stage, SubjectKey(ADA, "D3"))
    assert d3 == [None, pytest.approx(4 + 15 / 24), pytest.approx(11 + 15 / 24)]


def test_a_win_rate_below_the_minimum_sample_has_no_value_but_reports_the_sample(
    source: SqlMetricSource,
):
    rate = source.measure(WinRate(min_sample=2, trailing_days=30), WEEKS)
    first = rate[SubjectKey(ADA)][0]
    assert first is not None
    assert first.value is None
    assert first.sample == 1
    assert first.parts == {"won": 1.0, "lost": 0.0}


@pytest.mark.parametrize("measure", ["count", "amount"])
def test_a_closed_deal_without_stage_history_by_then_counts_by_its_closed_at(
    store: Store, measure: str
):
    org = OrgFixture()
    org.reps = [rep_row(ADA)]
    org.opportunities = [
        # E1: lost on Feb 10, no history at all.
        deal_row("E1", ADA, at(2, month=1), stage="Closed Lost", stage_category="lost",
                 amount=Decimal(100), closed_at=at(10)),
        # E2: won on Feb 4, but its stage history was first recorded on Feb 18.
        deal_row("E2", ADA, at(2, month=1), stage="Closed Won", stage_category="won",
                 amount=Decimal(300), closed_at=at(4)),
    ]  # fmt: skip
    org.changes = [
        change_row("H1", "E2", at(18), stage="Closed Won", stage_category="won",
                   amount=Decimal(300)),
    ]  # fmt: skip
    with store.unit_of_work() as session:
        connection_id = load(session, org)
    with store.unit_of_work() as session:
        rate = SqlMetricSource(session, connection_id).measure(
            WinRate(min_sample=1, trailing_days=30, measure=measure),
            WEEKS,
        )
    weeks = rate[SubjectKey(ADA)]
    # Week 1: E2 won by its closed_at (no history by then); E1 not closed yet.
    # Week 2: E1 lost by its closed_at, E2 still won by its closed_at.
    # Week 3: E2 now read from its history, won by the change of Feb 18.
    assert [None if week is None else week.sample for week in weeks] == [1, 2, 2]
    won, lost = (1, 1) if measure == "count" else (300, 100)
    assert [None if week is None else week.parts for week in weeks] == [
        {"won": won, "lost": 0},
        {"won": won, "lost": lost},
        {"won": won, "lost": lost},
    ]


def test_coverage_uses_history_for_closed_deals_and_current_values_for_deals_without_history(
    source: SqlMetricSource,
):
    coverage = source.measure(PipelineCoverage(), WEEKS)
    week1, week2, week3 = coverage[SubjectKey(ADA)]
    # Week 1: D1 open at 1,000 closing in Q1; D3 won but closing in April; quota 4,000.
    assert week1 is not None
    assert week1.value == pytest.approx(1000 / 4000)
    # Week 2: D1 at 3,000 and D2 (no history: its current 700) are open in Q1.
    assert week2 is not None
    assert week2.value == pytest.approx(3700 / 4000)
    assert week2.deals == ("D1", "D2")
    assert week2.sample == 2
    # Week 3: D1 won 5,000 against a 4,000 quota: met, so coverage has no value.
    assert week3 is not None
    assert week3.value is None
    assert week3.parts["remaining"] == pytest.approx(-1000)
    assert week3.period_start == date(2026, 1, 1)


def test_a_rep_without_a_quota_has_no_coverage(source: SqlMetricSource):
    coverage = source.measure(PipelineCoverage(), WEEKS)
    assert SubjectKey(CY) not in coverage
    assert SubjectKey(ADA) in coverage
