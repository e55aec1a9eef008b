"""Rate metrics in SQL agree with the plain-Python reference, on SQLite and PostgreSQL.

Each test loads the seeded org and compares every period set of ``PERIOD_SETS`` (current,
complete and past periods), so activities after a period, deletions before or after it
and deals created later are all exercised.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.records import ActivityKind
from rules.metrics import ActiveDays, ActivityCount, MeetingsHeld, PipelineCreated
from rules.periods import Period
from service.store import Store
from service.store.connections import add_connection
from service.store.sql_metric_source import SqlMetricSource
from service.store.tables import Activity, CrmKind, Rep
from tests.integration.metric_checks import check_against_reference
from tests.integration.metric_fixtures import load
from tests.integration.metric_org import default_org


@pytest.fixture
def connection_id(store: Store) -> int:
    with store.unit_of_work() as session:
        return load(session, default_org())


def test_activity_counts_match_the_reference_for_every_filter(store: Store, connection_id: int):
    specs = [
        ActivityCount(),
        ActivityCount(kinds=("call", "email")),
        ActivityCount(kinds=("email",), subtypes=("ListEmail",)),
        ActivityCount(kinds=("call",), outcomes=("CONNECTED", "left voicemail")),
        ActivityCount(kinds=("call", "meeting"), exclude_outcomes=("no answer", "NO SHOW")),
    ]
    assert check_against_reference(store, connection_id, specs) > 500


def test_meetings_held_match_the_reference(store: Store, connection_id: int):
    specs = [MeetingsHeld(), MeetingsHeld(exclude_outcomes=())]
    assert check_against_reference(store, connection_id, specs) > 100


def test_active_days_match_the_reference(store: Store, connection_id: int):
    assert check_against_reference(store, connection_id, [ActiveDays()]) > 100


def test_pipeline_created_matches_the_reference_by_count_and_by_amount(
    store: Store, connection_id: int
):
    specs = [PipelineCreated(), PipelineCreated(measure="amount")]
    assert check_against_reference(store, connection_id, specs) > 100


def test_active_days_are_the_reps_own_calendar_days(store: Store):
    """A Pacific rep's Monday runs to 01:30 UTC on Tuesday: still one day at work; the
    same times for a rep without a zone are two UTC days."""
    monday = datetime(2026, 3, 2, tzinfo=UTC)
    week = Period(monday, monday + timedelta(days=7))
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "zones", CrmKind.SALESFORCE, {}).id
        for crm_id, zone in (("005PACIFIC", "America/Los_Angeles"), ("005NOZONE", None)):
            session.add(Rep(connection_id=connection_id, crm_id=crm_id, name=crm_id,
                            time_zone=zone))  # fmt: skip
            for hours in (16, 25.5):  # 08:00 and 17:30 Pacific on Monday
                at = monday + timedelta(hours=hours)
                session.add(
                    Activity(connection_id=connection_id, crm_id=f"{crm_id}-{hours}",
                             kind=ActivityKind.CALL, rep_crm_id=crm_id, occurred_at=at)
                )  # fmt: skip
        session.flush()
        series = SqlMetricSource(session, connection_id).measure(ActiveDays(), [week])
    assert {key.rep_crm_id: obs[0].value for key, obs in series.items() if obs[0]} == {
        "005PACIFIC": 1.0,
        "005NOZONE": 2.0,
    }
