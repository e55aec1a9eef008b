"""Objective metrics (coverage, quota pace, win rate) in SQL agree with the reference."""

from __future__ import annotations

import pytest

from rules.metrics import PipelineCoverage, QuotaPace, WinRate
from service.store import Store
from tests.integration.metric_checks import check_against_reference
from tests.integration.metric_fixtures import load
from tests.integration.metric_org import default_org


@pytest.fixture
def connection_id(store: Store) -> int:
    with store.unit_of_work() as session:
        return load(session, default_org())


def test_pipeline_coverage_and_quota_pace_match_the_reference(store: Store, connection_id: int):
    assert check_against_reference(store, connection_id, [PipelineCoverage()]) > 50
    # Quota pace has no value of its own (the rules core computes it): compare the parts.
    check_against_reference(store, connection_id, [QuotaPace()])


def test_win_rate_matches_the_reference_by_count_and_by_amount(store: Store, connection_id: int):
    specs = [
        WinRate(min_sample=1),
        WinRate(min_sample=3, trailing_days=90),
        WinRate(measure="amount", min_sample=2, trailing_days=365),
    ]
    assert check_against_reference(store, connection_id, specs) > 50


def test_win_rate_below_the_minimum_sample_has_no_value_but_keeps_its_sample(
    store: Store, connection_id: int
):
    assert check_against_reference(store, connection_id, [WinRate(min_sample=1000)]) == 0
