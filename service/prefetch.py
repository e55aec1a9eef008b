"""Read ahead on a worker thread so a sync waits on the CRM and the database at once.

A connector's read spends most of its time waiting for the CRM's next page; the pipeline
spends most of its time waiting for the database. Running the read on a thread, a
bounded number of items ahead, overlaps the two without changing the order of records
and checkpoints. Items cross the thread boundary in chunks, because a queue operation
per record would cost more than it saves. Any exception the read raises (including
``BaseException``s such as a simulated crash) is raised again in the consumer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

_CHUNK = 500
_CHUNKS_AHEAD = 4
#: The most items the reader can have made beyond what the consumer took: the chunks in
#: the queue, the one being filled, and the one the consumer is working through.
MAX_AHEAD = (_CHUNKS_AHEAD + 2) * _CHUNK


@dataclass(frozen=True)
class _End:
    error: BaseException | None


class Prefetched(Generic[T]):
    """Iterate ``source`` on a thread, at most ``chunks`` chunks ahead of the consumer.

    ``flush_on`` marks items after which the pending chunk is handed over at once (the
    pipeline passes checkpoints, so a checkpoint is never held back behind a chunk).
    """

    def __init__(
        self, source: Iterator[T], *, chunks: int = _CHUNKS_AHEAD, flush_on: Callable[[T], bool]
    ) -> None:
        self._source, self._flush_on = source, flush_on
        self._queue: queue.Queue[list[T] | _End] = queue.Queue(maxsize=chunks)
        self._stop = threading.Event()
        self._pending: Iterator[T] = iter(())
        self._thread = threading.Thread(target=self._produce, name="sync-read", daemon=True)
        self._thread.start()

    def __iter__(self) -> Prefetched[T]:
        return self

    def __next__(self) -> T:
        while True:
            for item in self._pending:
                return item
            chunk = self._queue.get()
            if isinstance(chunk, _End):
                self._queue.put(chunk)  # stay exhausted if called again
                if chunk.error is not None:
                    raise chunk.error
                raise StopIteration
            self._pending = iter(chunk)

    def close(self) -> None:
        """Stop the reader and wait for it; the source is closed on its own thread."""
        self._stop.set()
        self._thread.join()

    def _produce(self) -> None:
        chunk: list[T] = []
        try:
            for item in self._source:
                chunk.append(item)
                if len(chunk) >= _CHUNK or self._flush_on(item):
                    if not self._hand_over(chunk):
                        return
                    chunk = []
            self._hand_over(chunk)
            self._hand_over(_End(None))
        except BaseException as error:  # re-raised in the consumer, whatever it is
            self._hand_over(chunk)
            self._hand_over(_End(error))
        finally:
            close = getattr(self._source, "close", None)
            if callable(close):
                close()

    def _hand_over(self, chunk: list[T] | _End) -> bool:
        if isinstance(chunk, list) and not chunk:
            return True
        while not self._stop.is_set():
            try:
                self._queue.put(chunk, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False
