"""Deal metrics (days since activity, close-date pushes) in SQL agree with the reference."""

from __future__ import annotations

import pytest

from rules.metrics import CloseDatePushes, DaysSinceActivity
from service.store import Store
from tests.integration.metric_checks import check_against_reference
from tests.integration.metric_fixtures import load
from tests.integration.metric_org import default_org


@pytest.fixture
def connection_id(store: Store) -> int:
    with store.unit_of_work() as session:
        return load(session, default_org())


def test_days_since_activity_matches_the_reference(store: Store, connection_id: int):
    assert check_against_reference(store, connection_id, [DaysSinceActivity()]) > 500


def test_close_date_pushes_match_the_reference(store: Store, connection_id: int):
    assert check_against_reference(store, connection_id, [CloseDatePushes()]) > 500
