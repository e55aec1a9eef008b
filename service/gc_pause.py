"""Keeping Python's cyclic garbage collector out of the way of bulk work.

An evaluation builds a hundred thousand small objects (observations, period points,
standards) that all live until it ends. Each of the collector's full passes walks every
one of them, and while they pile up the passes come ever more often: measured on a
200-rep org, half the rules core's time went to collections that found nothing to
free. Reference counting still frees everything that is not in a cycle; the cycles left
are collected at the next pass after the pause.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _Pauses:
    """Who holds a pause now, and whether the collector ran before the first did."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.holders = 0
        self.was_enabled = True


_pauses = _Pauses()


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """No cyclic collection inside; nests and overlaps across threads (the collector runs
    again once the last holder leaves, and only if it was enabled when the first came)."""
    with _pauses.lock:
        if _pauses.holders == 0:
            _pauses.was_enabled = gc.isenabled()
            gc.disable()
        _pauses.holders += 1
    try:
        yield
    finally:
        with _pauses.lock:
            _pauses.holders -= 1
            if _pauses.holders == 0 and _pauses.was_enabled:
                gc.enable()


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Inside, the objects that existed before it are left out of collections.

    For a long bulk stream of short-lived objects (a sync's records): the collector still
    frees their cycles, but its full passes no longer walk the whole process (modules,
    engine, client libraries) again and again. Measured on the HubSpot sync: store
    throughput up by a tenth. Afterwards they are collectable again.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
