"""Run an iterator of network reads on a thread of its own, a few items ahead.

A connector's read alternates between waiting for the CRM and working on what came
back. With the calls on a fetch thread, the CRM prepares the next answer while the
caller maps the last one. The fetch thread is the only one that calls the CRM while it
runs: a client needs no locks for that. Order is kept; whatever the source raises
(``BaseException``s included) is raised again in the consumer, after the items that
came before it. Closing stops the fetch thread before its next item and waits for it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_POLL_SECONDS = 0.1


@dataclass(frozen=True)
class _End:
    error: BaseException | None


class ReadAhead(Generic[T]):
    """Iterate ``source`` on a thread, at most ``ahead`` items beyond the consumer."""

    def __init__(self, source: Iterator[T], *, ahead: int = 1) -> None:
        if ahead < 1:
            raise ValueError("ahead must be at least 1")
        self._source = source
        self._queue: queue.Queue[tuple[T] | _End] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=self._fetch, name="crm-fetch", daemon=True)
        self._thread.start()

    def __iter__(self) -> ReadAhead[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        item = self._queue.get()
        if isinstance(item, _End):
            self._done = True
            self._thread.join()
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item[0]

    def close(self) -> None:
        """Stop fetching (the source is closed on its own thread) and wait for the thread."""
        self._stop.set()
        self._thread.join()

    def __enter__(self) -> ReadAhead[T]:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _fetch(self) -> None:
        try:
            for item in self._source:
                if not self._hand_over((item,)):
                    return
            self._hand_over(_End(None))
        except BaseException as error:  # re-raised in the consumer, whatever it is
            self._hand_over(_End(error))
        finally:
            close_source(self._source)

    def _hand_over(self, item: tuple[T] | _End) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False


def close_source(source: Iterator[object]) -> None:
    """Close a connector's read if it can be closed: a generator (or a read-ahead) stops
    and lets go of what it holds; a plain iterator has nothing to close."""
    close = getattr(source, "close", None)
    if callable(close):
        close()
