"""The SQL metric source as a whole: one statement per metric, the port's other reads,
and the edge cases of stage history (medians, stages the CRM no longer knows)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select, text

from rules.metrics import (
    ActivityCount,
    CloseDatePushes,
    DaysInStage,
    DaysSinceActivity,
    DealProfile,
    MeetingsHeld,
    MetricSpec,
    PipelineCoverage,
    PipelineCreated,
    QualificationCompleteness,
    QuotaPace,
    RepProfile,
    StageDuration,
    SubjectKey,
    WinRate,
)
from rules.periods import Period
from service.store import Store
from service.store.sql_metric_source import SqlMetricSource
from tests.integration.metric_fixtures import (
    PERIOD_SETS,
    OrgFixture,
    change_row,
    deal_row,
    load,
    rep_row,
)
from tests.integration.metric_org import default_org

EVERY_METRIC: list[MetricSpec] = [
    ActivityCount(kinds=("call",)),
    MeetingsHeld(),
    PipelineCreated(),
    PipelineCoverage(),
    WinRate(),
    StageDuration(),
    QualificationCompleteness(fields=("budget",), stages=("Proposal",)),
    QuotaPace(),
    DaysSinceActivity(),
    DaysInStage(),
    CloseDatePushes(),
]

ADA = "005A"
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
WEEK_1 = Period(datetime(2026, 2, 2, tzinfo=UTC), datetime(2026, 2, 9, tzinfo=UTC))
WEEK_2 = Period(WEEK_1.end, datetime(2026, 2, 16, tzinfo=UTC))


@pytest.fixture
def seeded(store: Store) -> int:
    with store.unit_of_work() as session:
        return load(session, default_org())


@contextmanager
def statements_run(store: Store) -> Iterator[list[str]]:
    """The SQL statements the store's engine runs inside the block."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


@pytest.mark.parametrize("metric", EVERY_METRIC, ids=lambda metric: metric.metric)
def test_every_metric_is_one_statement_whatever_the_number_of_periods(
    store: Store, seeded: int, metric: MetricSpec
):
    """Days in stage reads the open-deal snapshot the deal metrics share, and the stage
    medians: two statements. Every other metric is one."""
    periods = PERIOD_SETS["months"] + PERIOD_SETS["weeks to date"]
    with store.unit_of_work() as session:
        session.execute(select(1))  # the transaction's BEGIN is not the metric's
        with statements_run(store) as statements:
            series = SqlMetricSource(session, seeded).measure(metric, periods)
    assert len(queries(statements)) == (2 if isinstance(metric, DaysInStage) else 1)
    assert series
    assert all(len(observations) == len(periods) for observations in series.values())


def queries(statements: list[str]) -> list[str]:
    """The statements but the temporary stage-spans table's making and dropping."""
    return [s for s in statements if not s.startswith(SPANS_DDL)]


SPANS_DDL = ("CREATE TEMPORARY TABLE", "CREATE INDEX", "DROP TABLE IF EXISTS")


def temporary_tables(session: Any) -> set[str]:
    if session.get_bind().dialect.name == "sqlite":
        listed = "SELECT name FROM sqlite_temp_master WHERE type = 'table'"
    else:
        listed = (
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = pg_my_temp_schema()::regnamespace::text"
        )
    return set(session.scalars(text(listed)))


def test_the_stage_spans_are_made_once_per_source_and_dropped_when_it_closes(
    store: Store, seeded: int
):
    """Every metric that reads stage spans reads one temporary table per source; closing
    the source drops it (on SQLite it would outlive the transaction), and a new source
    makes it afresh, so it never shows another moment's history."""
    periods = PERIOD_SETS["weeks to date"]
    with store.unit_of_work() as session:
        session.execute(select(1))
        source = SqlMetricSource(session, seeded)
        with statements_run(store) as statements:
            for metric in (DaysInStage(), WinRate(), DaysSinceActivity(), StageDuration()):
                assert source.measure(metric, periods)
        made = [s for s in statements if s.startswith("CREATE TEMPORARY TABLE")]
        assert len(made) == 1
        assert temporary_tables(session) == {f"dc_stage_spans_{seeded}"}
        source.close()
        assert temporary_tables(session) == set()
        again = SqlMetricSource(session, seeded)
        assert again.measure(DaysInStage(), periods) == source.measure(DaysInStage(), periods)
        again.close()
        source.close()
        assert temporary_tables(session) == set()


def test_pace_and_coverage_of_one_source_share_their_statement(store: Store, seeded: int):
    """Both read the same per-quota totals: the second asks nothing of the database, and
    a new source (a new evaluation) reads afresh."""
    periods = PERIOD_SETS["weeks to date"]
    with store.unit_of_work() as session:
        session.execute(select(1))
        source = SqlMetricSource(session, seeded)
        with statements_run(store) as statements:
            coverage = source.measure(PipelineCoverage(), periods)
            pace = source.measure(QuotaPace(), periods)
            again = SqlMetricSource(session, seeded).measure(QuotaPace(), periods)
    assert len(queries(statements)) == 2
    assert coverage
    assert pace == again
    assert pace.keys() == coverage.keys()


def test_the_deal_metrics_of_one_source_share_the_open_deal_snapshot(store: Store, seeded: int):
    """Days since activity, close-date pushes and days in stage over the same periods read
    one snapshot of the open deals; days in stage adds its stage medians. Other periods
    are another snapshot."""
    periods = PERIOD_SETS["weeks to date"]
    with store.unit_of_work() as session:
        session.execute(select(1))
        source = SqlMetricSource(session, seeded)
        with statements_run(store) as statements:
            idle = source.measure(DaysSinceActivity(), periods)
            pushes = source.measure(CloseDatePushes(), periods)
            in_stage = source.measure(DaysInStage(), periods)
        assert len(queries(statements)) == 2
        with statements_run(store) as statements:
            source.measure(DaysSinceActivity(), PERIOD_SETS["months"])
        assert len(queries(statements)) == 1
    assert idle
    assert idle.keys() == pushes.keys() == in_stage.keys()


def test_win_rates_differing_only_in_minimum_sample_share_their_statement(
    store: Store, seeded: int
):
    periods = PERIOD_SETS["weeks to date"]
    with store.unit_of_work() as session:
        session.execute(select(1))
        source = SqlMetricSource(session, seeded)
        with statements_run(store) as statements:
            lenient = source.measure(WinRate(min_sample=1), periods)
            strict = source.measure(WinRate(min_sample=1000), periods)
            by_amount = source.measure(WinRate(min_sample=1, measure="amount"), periods)
    assert len(queries(statements)) == 2
    measured = [o for series in lenient.values() for o in series if o and o.value is not None]
    assert measured
    assert all(o is None or o.value is None for series in strict.values() for o in series)
    assert by_amount.keys() == lenient.keys()


def test_a_source_also_reads_through_a_plain_connection(store: Store, seeded: int):
    periods = PERIOD_SETS["weeks to date"]
    with store.unit_of_work() as session:
        through_session = SqlMetricSource(session, seeded).measure(PipelineCoverage(), periods)
    with store.engine.connect() as connection:
        through_connection = SqlMetricSource(connection, seeded).measure(
            PipelineCoverage(), periods
        )
    assert through_connection == through_session
    assert through_session


def test_no_periods_ask_nothing_of_the_database(store: Store, seeded: int):
    with store.unit_of_work() as session:
        assert SqlMetricSource(session, seeded).measure(ActivityCount(), []) == {}


def test_a_connection_sees_only_its_own_rows(store: Store):
    with store.unit_of_work() as session:
        first = load(session, default_org(), name="first")
        second = load(session, default_org(), name="second")
    periods = PERIOD_SETS["weeks to date"]
    with store.unit_of_work() as session:
        mine = SqlMetricSource(session, first).measure(ActivityCount(), periods)
        theirs = SqlMetricSource(session, second).measure(ActivityCount(), periods)
    assert mine == theirs
    assert sum(obs.sample for series in mine.values() for obs in series if obs) > 100


# ------------------------------------------------------------------ reps, deals, freshness


def test_reps_are_the_connections_reps_that_are_not_deleted(store: Store, seeded: int):
    with store.unit_of_work() as session:
        reps = SqlMetricSource(session, seeded).reps()
    org = default_org()
    live = sorted(rep["crm_id"] for rep in org.reps if rep["deleted_at"] is None)
    assert [rep.crm_id for rep in reps] == live
    first = org.reps[1]
    assert reps[0] == RepProfile(
        crm_id=first["crm_id"],
        name=first["name"],
        manager_crm_id=first["manager_crm_id"],
        team="East",
        role="AE",
        started_on=date(2024, 1, 8),
        is_active=True,
        email=first["email"],
    )
    assert [rep.is_active for rep in reps].count(False) == 1


def test_deals_come_back_in_the_order_asked_and_unknown_ids_are_skipped(store: Store, seeded: int):
    org = default_org()
    wanted = [org.opportunities[5]["crm_id"], "no-such-deal", org.opportunities[2]["crm_id"]]
    with store.unit_of_work() as session:
        deals = SqlMetricSource(session, seeded).deals(wanted)
    third = org.opportunities[2]
    assert [deal.crm_id for deal in deals] == [wanted[0], wanted[2]]
    assert deals[1] == DealProfile(
        crm_id=third["crm_id"],
        name=third["name"],
        owner_crm_id=third["owner_crm_id"],
        amount=float(third["amount"]),
        stage=third["stage"],
        close_date=third["close_date"],
    )


def test_data_is_as_of_the_newest_successful_sync(store: Store, seeded: int):
    with store.unit_of_work() as session:
        never_synced = load(session, OrgFixture(), name="new")
    with store.unit_of_work() as session:
        assert SqlMetricSource(session, seeded).data_as_of() == datetime(
            2026, 1, 21, 15, 5, tzinfo=UTC
        )
        assert SqlMetricSource(session, never_synced).data_as_of() is None


# ------------------------------------------------------------------ stage history edge cases


def _proposal_stints(lengths: dict[str, int]) -> Iterator[Any]:
    """One deal per entry: in Proposal for ``days``, then in Negotiation."""
    for number, (deal, days) in enumerate(lengths.items()):
        start = T0 + timedelta(days=number)
        yield deal_row(deal, ADA, start, stage="Negotiation")
        yield change_row(f"{deal}-1", deal, start, stage="Proposal", stage_category="open")
        yield change_row(f"{deal}-2", deal, start + timedelta(days=days), stage="Negotiation",
                         stage_category="open")  # fmt: skip


def _org(*rows: dict[str, Any]) -> OrgFixture:
    org = OrgFixture(reps=[rep_row(ADA)])
    for row in rows:
        (org.changes if "changed_at" in row else org.opportunities).append(row)
    return org


@pytest.fixture
def stage_org(store: Store) -> int:
    """Four Proposal stints of 1, 2, 4 and 10 days end before week 1; a fifth of 20 days
    ends in week 2; deal S sits in Proposal."""
    stints = {"E1": 1, "E2": 2, "E3": 4, "E4": 10}
    late = change_row("E5-1", "E5", datetime(2026, 1, 21, tzinfo=UTC), stage="Proposal")
    org = _org(
        *_proposal_stints(stints),
        deal_row("E5", ADA, late["changed_at"], stage="Negotiation"),
        late,
        change_row("E5-2", "E5", datetime(2026, 2, 10, tzinfo=UTC), stage="Negotiation"),
        deal_row("S", ADA, T0, stage="Proposal", amount=Decimal(10)),
        change_row("S-1", "S", T0, stage="Proposal", stage_category="open"),
    )
    with store.unit_of_work() as session:
        return load(session, org)


def test_days_in_stage_compares_with_the_median_stint_of_the_stage(store: Store, stage_org: int):
    with store.unit_of_work() as session:
        source = SqlMetricSource(session, stage_org)
        enough = source.measure(DaysInStage(min_sample=4), [WEEK_1, WEEK_2])
        too_few = source.measure(DaysInStage(min_sample=5), [WEEK_1])
    week_1, week_2 = enough[SubjectKey(ADA, "S")]
    assert week_1 is not None
    assert week_2 is not None
    assert week_1.parts["stage_median_days"] == pytest.approx(3.0)  # (2 + 4) / 2
    assert week_2.parts["stage_median_days"] == pytest.approx(4.0)  # 1, 2, 4, 10, 20
    assert week_1.detail == "Proposal"
    assert week_1.value == pytest.approx((WEEK_1.end - T0) / timedelta(days=1))
    first = too_few[SubjectKey(ADA, "S")][0]
    assert first is not None
    assert "stage_median_days" not in first.parts


def test_stage_duration_averages_the_stints_that_ended_in_the_window(store: Store, stage_org: int):
    with store.unit_of_work() as session:
        source = SqlMetricSource(session, stage_org)
        series = source.measure(StageDuration(trailing_days=30), [WEEK_1, WEEK_2])
    week_1, week_2 = series[SubjectKey(ADA)]
    # Week 1 ends Feb 9: the window starts Jan 10, keeping the stints that ended Jan 11
    # (4 days) and Jan 18 (10 days), not those that ended Jan 6 and Jan 8.
    assert week_1 is not None
    assert week_1.value == pytest.approx(7.0)
    assert week_1.sample == 2
    # Week 2 ends Feb 16: the window starts Jan 17, keeping only the 10- and 20-day stints.
    assert week_2 is not None
    assert week_2.value == pytest.approx(15.0)
    assert week_2.sample == 2
    assert week_2.parts == {"Proposal": pytest.approx(15.0)}


def test_a_history_stage_the_crm_no_longer_knows_takes_the_deals_category_or_counts_as_open(
    store: Store,
):
    org = _org(
        # Still in its (renamed-away) won stage: won, so not an open deal.
        deal_row("N1", ADA, T0, stage="Won (old)", stage_category="won"),
        change_row("N1-1", "N1", T0, stage="Won (old)"),
        # Was in a retired stage, then lost: open while in the retired stage.
        deal_row("N2", ADA, T0, stage="Closed Lost", stage_category="lost"),
        change_row("N2-1", "N2", T0, stage="Legacy Review"),
        change_row("N2-2", "N2", datetime(2026, 2, 10, tzinfo=UTC), stage="Closed Lost",
                   stage_category="lost"),
    )  # fmt: skip
    with store.unit_of_work() as session:
        connection_id = load(session, org)
    with store.unit_of_work() as session:
        series = SqlMetricSource(session, connection_id).measure(
            CloseDatePushes(), [WEEK_1, WEEK_2]
        )
    assert set(series) == {SubjectKey(ADA, "N2")}
    assert series[SubjectKey(ADA, "N2")][0] is not None
    assert series[SubjectKey(ADA, "N2")][1] is None
