"""A deal series is made from its rows when first read (on the core's thread), once."""

from __future__ import annotations

from rules.metrics import Observation, SubjectKey
from service.store.metric_queries.common import deal_series

ROWS = [("r1", 0, "d1", 3.0), ("r1", 1, "d1", 4.0), ("r2", 1, "d2", 5.0)]


def test_the_series_is_made_on_first_read_once_and_reads_like_a_dict() -> None:
    made: list[float] = []

    def observe(value: float) -> Observation:
        made.append(value)
        return Observation(value=value, sample=1)

    series = deal_series(iter(ROWS), 2, observe)
    assert made == []  # nothing made by the read itself

    expected = {
        SubjectKey("r1", "d1"): [Observation(3.0, sample=1), Observation(4.0, sample=1)],
        SubjectKey("r2", "d2"): [None, Observation(5.0, sample=1)],
    }
    assert series == expected
    assert expected == series
    assert made == [3.0, 4.0, 5.0]
    assert len(series) == 2
    assert SubjectKey("r2", "d2") in series
    assert series.get(SubjectKey("r9")) is None
    assert dict(series.items()) == expected
    assert list(series) == list(expected)
    assert series[SubjectKey("r1", "d1")][1] == Observation(4.0, sample=1)
    assert made == [3.0, 4.0, 5.0]  # made once, however often it is read
