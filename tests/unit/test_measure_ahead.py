"""Reads run ahead on one worker thread: same answers, the order the core will ask in, one
thread only, failures raised where the core asks, and nothing left running on close."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from rules.metrics import (
    ActivityCount,
    DealProfile,
    MetricSeries,
    MetricSpec,
    Observation,
    RepProfile,
    SubjectKey,
)
from rules.periods import Period
from service.evaluation.measure_ahead import MeasuredAhead
from tests.unit.rules_support import rep

START = datetime(2026, 11, 2, tzinfo=UTC)
WEEKS = tuple(Period(START + timedelta(weeks=n), START + timedelta(weeks=n + 1)) for n in range(4))
CALLS, EMAILS, MEETINGS = (ActivityCount(kinds=[kind]) for kind in ("call", "email", "meeting"))


class RecordingSource:
    """A source that says which thread asked what, in order, and can be held or fail."""

    def __init__(self, *, hold: MetricSpec | None = None, fail: MetricSpec | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.closed_on: str | None = None
        self.hold, self.fail = hold, fail
        self.held, self.release = threading.Event(), threading.Event()

    def _record(self, what: str) -> None:
        self.calls.append((what, threading.current_thread().name))

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        assert isinstance(metric, ActivityCount)
        name = f"{metric.metric}:{','.join(metric.kinds)}"
        self._record(name)
        if metric == self.hold:
            self.held.set()
            assert self.release.wait(5)
        if metric == self.fail:
            raise RuntimeError(f"{name} failed")
        return {SubjectKey("r1"): tuple(Observation(float(len(name))) for _ in periods)}

    def reps(self) -> Sequence[RepProfile]:
        self._record("reps")
        return [rep("r1")]

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        self._record("deals")
        return []

    def data_as_of(self) -> datetime | None:
        self._record("data_as_of")
        return START

    def close(self) -> None:
        self.closed_on = threading.current_thread().name


def test_reads_run_on_one_worker_in_the_order_named_and_answer_as_the_source_would():
    source = RecordingSource()
    with MeasuredAhead(source, [(CALLS, WEEKS), (EMAILS, WEEKS), (CALLS, WEEKS)]) as ahead:
        assert [r.crm_id for r in ahead.reps()] == ["r1"]
        emails = ahead.measure(EMAILS, list(WEEKS))
        calls = ahead.measure(CALLS, WEEKS)
        meetings = ahead.measure(MEETINGS, WEEKS[:2])  # not named: read when asked
        assert ahead.data_as_of() == START
        assert ahead.deals(["006A"]) == []

    assert calls == RecordingSource().measure(CALLS, WEEKS)
    assert emails[SubjectKey("r1")][0] == Observation(float(len("activity_count:email")))
    assert len(meetings[SubjectKey("r1")]) == 2
    order = [what for what, _ in source.calls]
    assert order == [
        "reps", "activity_count:call", "activity_count:email", "activity_count:meeting",
        "data_as_of", "deals",
    ]  # fmt: skip
    threads = {thread for _, thread in source.calls}
    assert len(threads) == 1
    assert threads != {threading.current_thread().name}
    assert source.closed_on == threading.current_thread().name


def test_a_read_asked_twice_is_read_again_not_answered_from_a_spent_one():
    source = RecordingSource()
    with MeasuredAhead(source, [(CALLS, WEEKS)]) as ahead:
        ahead.measure(CALLS, WEEKS)
        ahead.measure(CALLS, WEEKS)
        ahead.reps()
        ahead.reps()
    assert [what for what, _ in source.calls] == [
        "reps", "activity_count:call", "activity_count:call", "reps",
    ]  # fmt: skip


def test_a_failed_read_is_raised_where_the_core_asks_for_it_and_the_source_is_left_alone():
    source = RecordingSource(fail=EMAILS)
    ahead = MeasuredAhead(source, [(CALLS, WEEKS), (EMAILS, WEEKS)])
    with ahead:
        ahead.reps()
        assert ahead.measure(CALLS, WEEKS)
        with pytest.raises(RuntimeError, match="email failed"):
            ahead.measure(EMAILS, WEEKS)
        assert source.closed_on is None
    assert source.closed_on is not None  # closed normally: the error was handled inside

    source = RecordingSource(fail=EMAILS)
    with (
        pytest.raises(RuntimeError, match="email failed"),
        MeasuredAhead(source, [(EMAILS, WEEKS)]) as ahead,
    ):
        ahead.measure(EMAILS, WEEKS)
    assert source.closed_on is None  # the caller's rollback undoes what it made


def test_close_drops_reads_not_started_and_waits_for_the_one_running():
    source = RecordingSource(hold=CALLS)
    ahead = MeasuredAhead(source, [(CALLS, WEEKS), (EMAILS, WEEKS), (MEETINGS, WEEKS)])
    assert source.held.wait(5)
    closer = threading.Thread(target=ahead.close)
    closer.start()
    closer.join(0.2)
    assert closer.is_alive()  # waiting for the running read, not abandoning it
    source.release.set()
    closer.join(5)
    assert not closer.is_alive()
    assert [what for what, _ in source.calls] == ["reps", "activity_count:call"]
    assert source.closed_on == closer.name
