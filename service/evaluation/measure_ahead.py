"""Metric reads run ahead on one worker thread, so the rules core judges while SQL runs.

An evaluation alternates two kinds of work: the database computing a rule's metric, and
Python judging its subjects (about a fifth of the time on a large org). Done in turn,
each waits for the other. The core can say up front which reads it will ask for
(:func:`rules.evaluation.measurements_needed`), so this wrapper hands them all to a
single worker thread at once, in that order: while the core judges one rule, the
database is already computing the next rule's metric. The database releases Python's
lock while it works, so the two really overlap, on either backend.

One worker, not several: every read goes through the one session and its transaction
(the metric source's temporary tables live on that connection), and a session must not
be used by two threads at once. Everything the source is asked, not only the reads
named up front, goes through the same worker, and the caller touches the session again
only after :meth:`MeasuredAhead.close`, which waits for the worker to stop. What the
core receives is exactly what the source returns, in the same order of calls to the
database, so the plan is the same as without the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Protocol, TypeVar

from rules.evaluation import Measurement
from rules.metrics import DealProfile, MetricSeries, MetricSource, MetricSpec, RepProfile
from rules.periods import Period

T = TypeVar("T")


class ClosingSource(MetricSource, Protocol):
    """A metric source that may make things in the caller's transaction (the SQL source's
    temporary tables) and drops them on :meth:`close`; the core's port has no such step."""

    def close(self) -> None: ...


class MeasuredAhead:
    """``source`` with ``wanted`` read ahead, in order, on one worker thread.

    The roster (:meth:`reps`), which the core asks for before anything else, is read
    first. A read not named in ``wanted``, or asked for a second time, queues behind the
    ones already handed over. Use as a context manager, or call :meth:`close`: it stops
    the worker (dropping reads not started) before the caller's session is used again.
    """

    def __init__(self, source: ClosingSource, wanted: Sequence[Measurement]) -> None:
        self._source = source
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="driftcoach-measure")
        self._reps: Future[Sequence[RepProfile]] | None = self._worker.submit(source.reps)
        self._ahead: dict[Measurement, Future[MetricSeries]] = {
            key: self._worker.submit(source.measure, *key) for key in dict.fromkeys(wanted)
        }

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        ahead = self._ahead.pop((metric, tuple(periods)), None)
        if ahead is None:
            return self._on_worker(self._source.measure, metric, periods)
        return ahead.result()

    def reps(self) -> Sequence[RepProfile]:
        ahead, self._reps = self._reps, None
        return self._on_worker(self._source.reps) if ahead is None else ahead.result()

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        return self._on_worker(self._source.deals, crm_ids)

    def data_as_of(self) -> datetime | None:
        return self._on_worker(self._source.data_as_of)

    def close(self, *, release_source: bool = True) -> None:
        """Stop the worker: reads not started are dropped, the one running is waited
        for. Then the source is closed (if it can be), on this thread, unless
        ``release_source`` is false (after a failure the caller's rollback undoes what
        the source made, and a failed PostgreSQL transaction would refuse the drop)."""
        self._worker.shutdown(wait=True, cancel_futures=True)
        self._ahead.clear()
        if release_source:
            self._source.close()

    def __enter__(self) -> MeasuredAhead:
        return self

    def __exit__(self, failure: type[BaseException] | None, *_: object) -> None:
        self.close(release_source=failure is None)

    def _on_worker(self, call: Callable[..., T], *args: object) -> T:
        return self._worker.submit(call, *args).result()
