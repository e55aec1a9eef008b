"""The collector pause: off inside, back on after, nested and across threads."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from service.gc_pause import cyclic_gc_paused, heap_frozen


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after():
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_resume_only_when_the_outer_one_ends():
    with cyclic_gc_paused():
        with cyclic_gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off():
    gc.disable()
    with cyclic_gc_paused():
        pass
    assert not gc.isenabled()


def test_an_error_inside_still_resumes_the_collector():
    with pytest.raises(ValueError, match="boom"), cyclic_gc_paused():
        raise ValueError("boom")
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_resume_after_the_last():
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with cyclic_gc_paused():
            inside.set()
            release.wait(5)

    worker = threading.Thread(target=hold)
    worker.start()
    inside.wait(5)
    with cyclic_gc_paused():
        pass
    assert not gc.isenabled()  # the worker still holds its pause
    release.set()
    worker.join(5)
    assert gc.isenabled()


def test_a_frozen_heap_keeps_what_existed_out_of_collections_until_it_ends():
    before = gc.get_freeze_count()
    with heap_frozen():
        assert gc.get_freeze_count() > before
        assert gc.isenabled()  # new objects are still collected
    assert gc.get_freeze_count() == 0
