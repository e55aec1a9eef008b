"""Reading ahead keeps order, re-raises the reader's exceptions and stops when closed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from service.sync.prefetch import MAX_AHEAD, Prefetched
from tests.unit.iterator_support import Crash, numbers


def test_items_arrive_in_order_and_flush_markers_are_not_held_back():
    items = Prefetched(numbers(5_000), flush_on=lambda i: i % 7 == 0)
    assert list(items) == list(range(5_000))
    items.close()


def test_an_exception_from_the_reader_reaches_the_consumer_after_the_items_before_it():
    items = Prefetched(numbers(1_000, fail_at=700), flush_on=lambda _: False)
    seen: list[int] = []
    with pytest.raises(Crash, match="at 700"):
        seen.extend(items)
    assert seen == list(range(700))
    items.close()


def test_closing_early_stops_the_reader_and_closes_its_source():
    closed = threading.Event()
    made = 0

    def endless() -> Iterator[int]:
        nonlocal made
        try:
            while True:
                made += 1
                yield made
        finally:
            closed.set()

    items = Prefetched(endless(), flush_on=lambda _: False)
    assert next(items) == 1
    items.close()
    assert closed.is_set()
    assert made <= MAX_AHEAD + 1
