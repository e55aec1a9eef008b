"""Which rules an evaluation holds back when their data is missing (no I/O)."""

from __future__ import annotations

import typing

from connectors.records import Entity
from rules.metrics import MetricSpec
from service.evaluation.data_health import READS, held_back
from tests.unit.rules_support import BASE_DOCUMENT, DEAL_DOCUMENT, rule


def _metric_names() -> set[str]:
    (union,) = typing.get_args(MetricSpec)[:1]
    return {spec.model_fields["metric"].default for spec in typing.get_args(union)}


def test_every_metric_of_the_catalogue_says_what_it_reads():
    assert set(READS) == _metric_names()


def test_missing_reps_hold_back_every_enabled_rule_and_missing_deals_only_their_readers():
    calls, stale_deals = rule(), rule(DEAL_DOCUMENT)
    disabled = rule(key="off", enabled=False)
    rules = [calls, stale_deals, disabled]
    assert set(held_back(rules, {Entity.REP: "stream users failed"})) == {"calls", "stale-deals"}
    assert held_back(rules, {Entity.OPPORTUNITY: "stream opportunities failed"}) == {
        "stale-deals": "stream opportunities failed"
    }
    assert held_back(rules, {Entity.QUOTA: "stream quotas failed"}) == {}
    assert held_back(rules, {}) == {}


def test_every_metric_a_rule_reads_counts_not_only_its_own():
    """Pipeline created per day at work reads deals and, for the days, activities."""
    per_day = rule(
        {**BASE_DOCUMENT, "key": "pipeline-per-day", "metric": {"metric": "pipeline_created"}},
        period={"unit": "week", "per_active_day": True},
    )
    assert held_back([per_day], {Entity.ACTIVITY: "stream tasks failed"}) == {
        "pipeline-per-day": "stream tasks failed"
    }
    assert held_back([rule()], {Entity.OPPORTUNITY: "stream opportunities failed"}) == {}
