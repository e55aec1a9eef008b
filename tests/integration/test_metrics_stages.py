"""Stage metrics (stage duration, days in stage, qualification) in SQL agree with the
reference, including the per-stage medians computed with window functions."""

from __future__ import annotations

import pytest

from rules.metrics import DaysInStage, QualificationCompleteness, StageDuration
from service.store import Store
from tests.integration.metric_checks import check_against_reference
from tests.integration.metric_fixtures import load
from tests.integration.metric_org import default_org


@pytest.fixture
def connection_id(store: Store) -> int:
    with store.unit_of_work() as session:
        return load(session, default_org())


def test_stage_duration_matches_the_reference(store: Store, connection_id: int):
    specs = [
        StageDuration(),
        StageDuration(trailing_days=60),
        StageDuration(stages=("Proposal", "Closed Won", "Legacy Review")),
    ]
    assert check_against_reference(store, connection_id, specs) > 50


def test_days_in_stage_and_the_stage_medians_match_the_reference(store: Store, connection_id: int):
    specs = [DaysInStage(), DaysInStage(trailing_days=90, min_sample=2)]
    assert check_against_reference(store, connection_id, specs) > 500


def test_qualification_completeness_matches_the_reference(store: Store, connection_id: int):
    specs = [
        QualificationCompleteness(fields=("budget",), stages=("Prospecting",)),
        QualificationCompleteness(
            fields=("budget", "authority", "need", "timeline"),
            stages=("Qualification", "Proposal", "Negotiation", "Legacy Review"),
        ),
    ]
    assert check_against_reference(store, connection_id, specs) > 50
