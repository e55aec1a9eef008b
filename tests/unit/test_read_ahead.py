"""A connector's fetch thread keeps order, re-raises what the source raised, stays a
bounded number of items ahead, and stops when closed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from connectors.read_ahead import ReadAhead
from tests.unit.iterator_support import Crash, numbers


def test_items_arrive_in_order_and_the_thread_ends_with_them():
    with ReadAhead(numbers(2_000)) as items:
        assert list(items) == list(range(2_000))
        assert list(items) == []  # stays exhausted
    assert not items._thread.is_alive()


def test_what_the_source_raises_reaches_the_consumer_after_the_items_before_it():
    seen: list[int] = []
    with ReadAhead(numbers(100, fail_at=60), ahead=3) as items, pytest.raises(Crash, match="60"):
        seen.extend(items)
    assert seen == list(range(60))


def test_the_source_never_runs_more_than_ahead_items_beyond_the_consumer():
    made = 0

    def counted() -> Iterator[int]:
        nonlocal made
        for i in range(100):
            made += 1
            yield i

    with ReadAhead(counted(), ahead=2) as items:
        assert next(items) == 0
        time.sleep(0.3)  # room for the thread to run as far as it may
        # one taken, two waiting in the queue, one made and waiting to be put
        assert made <= 4


def test_closing_early_stops_the_fetch_thread_and_closes_its_source():
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                i += 1
                yield i
        finally:
            closed.set()

    items = ReadAhead(endless())
    assert next(items) == 1
    items.close()
    assert closed.is_set()
    assert not items._thread.is_alive()


def test_ahead_must_be_positive():
    with pytest.raises(ValueError, match="ahead"):
        ReadAhead(iter(()), ahead=0)
