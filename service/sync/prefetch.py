"""Read ahead on a worker thread so a sync waits on the CRM and the database at once.

A connector's read spends most of its time waiting for the CRM's next page; the pipeline
spends most of its time waiting for the database. Running the read on a thread, a
bounded number of items ahead, overlaps the two without changing the order of records
and checkpoints. Items cross the thread boundary in chunks, because a queue operation
per record would cost more than it saves. Any exception the read raises (including
``BaseException``s such as a simulated crash) is raised again in the consumer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from connectors.read_ahead import ReadAhead, close_source

T = TypeVar("T")

_CHUNK = 500
_CHUNKS_AHEAD = 4
#: The most items the reader can have made beyond what the consumer took: the chunks in
#: the queue, the one being filled, and the one the consumer is working through.
MAX_AHEAD = (_CHUNKS_AHEAD + 2) * _CHUNK


class Prefetched(Generic[T]):
    """Iterate ``source`` on a thread, at most ``chunks`` chunks ahead of the consumer.

    ``flush_on`` marks items after which the pending chunk is handed over at once (the
    pipeline passes checkpoints, so a checkpoint is never held back behind a chunk).
    The thread is a :class:`~connectors.read_ahead.ReadAhead` over chunks.
    """

    def __init__(
        self, source: Iterator[T], *, chunks: int = _CHUNKS_AHEAD, flush_on: Callable[[T], bool]
    ) -> None:
        self._chunks = ReadAhead(_chunked(source, flush_on), ahead=chunks)
        self._pending: Iterator[T] = iter(())

    def __iter__(self) -> Prefetched[T]:
        return self

    def __next__(self) -> T:
        while True:
            for item in self._pending:
                return item
            self._pending = iter(next(self._chunks))  # its StopIteration ends us too

    def close(self) -> None:
        """Stop the reader and wait for it; the source is closed on its own thread."""
        self._chunks.close()


def _chunked(source: Iterator[T], flush_on: Callable[[T], bool]) -> Iterator[list[T]]:
    """``source`` in lists; what it raises comes after the items read before it."""
    chunk: list[T] = []
    try:
        while True:
            try:
                item = next(source)
            except StopIteration:
                break
            except BaseException:
                if chunk:
                    yield chunk
                raise
            chunk.append(item)
            if len(chunk) >= _CHUNK or flush_on(item):
                yield chunk
                chunk = []
        if chunk:
            yield chunk
    finally:
        close_source(source)


class InTurn(Generic[T]):
    """``source`` read on the consumer's thread, reads and writes taking turns: what
    :class:`Prefetched` is measured against, with the same ``close``."""

    def __init__(self, source: Iterator[T]) -> None:
        self._source = source

    def __iter__(self) -> Iterator[T]:
        return self._source

    def close(self) -> None:
        close_source(self._source)
