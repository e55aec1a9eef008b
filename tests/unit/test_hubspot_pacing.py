"""Client-side pacing: rolling windows by completion time, headers, and what was waited."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.hubspot.config import PacingPolicy
from connectors.hubspot.pacing import EDGE_SECONDS, Lane, Pacer, RateHeaders, RollingBudget


class FakeTime:
    """A clock that only moves when someone sleeps or a call takes time."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_full_window_waits_for_its_oldest_call_to_leave():
    budget = RollingBudget(limit=3, interval=10.0)
    for moment in (0.0, 1.0, 2.0):
        assert budget.delay(moment) == 0
        budget.record(moment)
    assert budget.delay(2.5) == pytest.approx(10.0 - 2.5 + EDGE_SECONDS)
    assert budget.delay(10.0 + EDGE_SECONDS) == 0  # the call at 0.0 has left


def test_calls_the_server_counted_but_this_process_did_not_make_fill_the_window():
    budget = RollingBudget(limit=100, interval=10.0)
    budget.record(0.0)
    budget.observe(limit=10, interval=10.0, remaining=2, now=0.0)  # others made 7 more
    assert (budget.limit, budget.in_window(0.0)) == (10, 8)
    budget.observe(limit=None, interval=None, remaining=9, now=0.0)  # fewer: nothing removed
    assert budget.in_window(0.0) == 8


def test_rate_limit_headers_are_read_whatever_their_case_and_bad_values_ignored():
    headers = RateHeaders.parse(
        {
            "x-hubspot-ratelimit-max": "190",
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Remaining": "oops",
            "X-HubSpot-RateLimit-Daily": "500000",
            "X-HubSpot-RateLimit-Daily-Remaining": "499000",
        }
    )
    assert headers == RateHeaders(190, 10.0, None, 500_000, 499_000)
    assert RateHeaders.parse({}) == RateHeaders()


def test_searches_and_other_calls_are_paced_apart_and_waits_are_counted():
    time = FakeTime()
    pacer = Pacer(PacingPolicy(searches_per_second=2), lambda: time.now, time.sleep)
    for _ in range(3):
        pacer.before(Lane.SEARCH)
        pacer.after(Lane.SEARCH, None)
    pacer.before(Lane.STANDARD)  # the ten-second window is untouched by searches
    assert time.slept == [pytest.approx(1.0 + EDGE_SECONDS)]
    assert pacer.waits == 1
    assert pacer.waited_seconds == pytest.approx(1.0 + EDGE_SECONDS)


def test_only_answers_to_standard_calls_teach_the_budget():
    time = FakeTime()
    pacer = Pacer(PacingPolicy(), lambda: time.now, time.sleep)
    pacer.after(Lane.SEARCH, RateHeaders(limit=7))
    assert pacer.limit(Lane.SEARCH) == (5, 1.0)
    pacer.after(Lane.STANDARD, RateHeaders(limit=7, interval_seconds=10.0, remaining=6))
    assert pacer.limit(Lane.STANDARD) == (7, 10.0)
    assert pacer.limit(Lane.UNPACED) is None


def test_a_search_limit_is_tightened_one_step_at_a_time_but_never_to_zero():
    pacer = Pacer(PacingPolicy(searches_per_second=2), lambda: 0.0, lambda _: None)
    for _ in range(3):
        pacer.tighten(Lane.SEARCH)
    assert pacer.limit(Lane.SEARCH) == (1, 1.0)


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 12),
    calls=st.lists(
        st.tuples(st.floats(0.0, 0.3), st.floats(0.0, 1.0), st.floats(0.0, 0.5)),
        min_size=1,
        max_size=80,
    ),
)
def test_no_server_window_ever_holds_more_calls_than_the_limit(
    limit: int, calls: list[tuple[float, float, float]]
):
    """Each call takes ``latency`` seconds and reaches the server ``share`` of the way
    through; the caller may idle ``gap`` seconds between calls. The server counts a call
    at arrival, in a rolling one-second window: it must never see ``limit + 1``."""
    time = FakeTime()
    pacer = Pacer(PacingPolicy(searches_per_second=limit), lambda: time.now, time.sleep)
    arrivals: list[float] = []
    for latency, share, gap in calls:
        time.now += gap
        pacer.before(Lane.SEARCH)
        arrival = time.now + latency * share
        assert sum(1 for moment in arrivals if moment > arrival - 1.0) < limit
        arrivals.append(arrival)
        time.now += latency
        pacer.after(Lane.SEARCH, None)
