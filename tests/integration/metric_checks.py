"""Comparing the SQL metric source with the reference, over every period set."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import pytest

from rules.metrics import MetricSeries, MetricSpec, Observation
from service.store import Store
from service.store.sql_metric_source import SqlMetricSource
from tests.integration.metric_fixtures import PERIOD_SETS
from tests.integration.metric_org import default_org
from tests.integration.metric_reference import Reference


@cache
def default_reference() -> Reference:
    return Reference(default_org())


def check_against_reference(store: Store, connection_id: int, specs: Sequence[MetricSpec]) -> int:
    """Measure every spec over every period set in SQL and in the reference, assert they
    agree, and return how many values (not None) were compared, so a caller can make
    sure the comparison was not vacuous."""
    reference = default_reference()
    compared = 0
    with store.unit_of_work() as session:
        source = SqlMetricSource(session, connection_id)
        for spec in specs:
            for name, periods in PERIOD_SETS.items():
                expected = reference.measure(spec, periods)
                assert_same_series(source.measure(spec, periods), expected, f"{spec!r}, {name}")
                compared += sum(
                    1 for obs in expected.values() for o in obs if o and o.value is not None
                )
    return compared


def assert_same_series(actual: MetricSeries, expected: MetricSeries, context: str = "") -> None:
    """Equal subjects and observations; numbers compared to a millionth of a day/unit."""
    assert set(actual) == set(expected), (
        f"{context}: only in SQL: {sorted(set(actual) - set(expected), key=str)[:5]}, "
        f"only in reference: {sorted(set(expected) - set(actual), key=str)[:5]}"
    )
    for subject, observations in expected.items():
        got = list(actual[subject])
        assert len(got) == len(observations), f"{context}: {subject}"
        for index, (mine, theirs) in enumerate(zip(got, observations, strict=True)):
            assert _same(mine, theirs), (
                f"{context}: {subject} period {index}: SQL {mine} != reference {theirs}"
            )


def _same(mine: Observation | None, theirs: Observation | None) -> bool:
    if mine is None or theirs is None:
        return mine is theirs
    close = pytest.approx(theirs.value, rel=1e-9, abs=1e-6) if theirs.value is not None else None
    parts = {k: pytest.approx(v, rel=1e-9, abs=1e-6) for k, v in theirs.parts.items()}
    return (
        (mine.value is None if theirs.value is None else mine.value == close)
        and mine.sample == theirs.sample
        and dict(mine.parts) == parts
        and mine.deals == theirs.deals
        and mine.detail == theirs.detail
        and mine.period_start == theirs.period_start
        and mine.period_end == theirs.period_end
    )
