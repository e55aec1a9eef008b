"""Rate metrics in SQL agree with the plain-Python reference, on SQLite and PostgreSQL.

Each test loads the seeded org and compares every period set of ``PERIOD_SETS`` (current,
complete and past periods), so activities after a period, deletions before or after it
and deals created later are all exercised.
"""

from __future__ import annotations

import pytest

from rules.metrics import ActivityCount, MeetingsHeld, PipelineCreated
from service.store import Store
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


def test_pipeline_created_matches_the_reference_by_count_and_by_amount(
    store: Store, connection_id: int
):
    specs = [PipelineCreated(), PipelineCreated(measure="amount")]
    assert check_against_reference(store, connection_id, specs) > 100
