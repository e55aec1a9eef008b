"""Timing one evaluation as a whole and by part, without changing what it does.

The metric source is wrapped (the evaluation takes a source factory), so every
``measure`` call is timed under a label naming the metric, its parameters and its
periods; the engine's statement events time the SQL that runs outside the source
(findings, transitions, tasks and events written, then rolled back). What is left of
the wall time is Python: the rules core, evidence, the ORM.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from rules.evaluation import CreateCoachingTask, OpenFinding
from rules.metrics import DealProfile, MetricSeries, MetricSpec, RepProfile
from rules.periods import Period
from service.evaluation.measure_ahead import ClosingSource
from service.evaluation.run import evaluate_connection
from service.store import Store
from service.store.sql_metric_source import SqlMetricSource

PROFILES = "reps, deals, freshness"


class Clock:
    """Where one evaluation's time goes: each metric, the source's other reads, the SQL
    outside the metric source (findings, tasks, events, rules), and the rest."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.in_source = False
        self.other_sql = 0.0
        self.other_statements = 0
        self._statement_started = 0.0

    @contextmanager
    def source_call(self, label: str) -> Iterator[None]:
        started, self.in_source = time.perf_counter(), True
        try:
            yield
        finally:
            self.in_source = False
            self.spent[label] += time.perf_counter() - started

    @contextmanager
    def watching(self, engine: Engine) -> Iterator[None]:
        """Time every statement the engine runs outside the metric source."""
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        try:
            yield
        finally:
            event.remove(engine, "before_cursor_execute", self._before)
            event.remove(engine, "after_cursor_execute", self._after)

    def _before(self, *_: Any) -> None:
        self._statement_started = time.perf_counter()

    def _after(self, *_: Any) -> None:
        if not self.in_source:
            self.other_sql += time.perf_counter() - self._statement_started
            self.other_statements += 1


class TimedSource:
    """The SQL metric source with a stopwatch on every call."""

    def __init__(self, source: ClosingSource, clock: Clock) -> None:
        self._source, self._clock = source, clock

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        with self._clock.source_call(metric_label(metric, periods)):
            return self._source.measure(metric, periods)

    def close(self) -> None:
        with self._clock.source_call(PROFILES):
            self._source.close()

    def reps(self) -> Sequence[RepProfile]:
        with self._clock.source_call(PROFILES):
            return self._source.reps()

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        with self._clock.source_call(PROFILES):
            return self._source.deals(crm_ids)

    def data_as_of(self) -> datetime | None:
        with self._clock.source_call(PROFILES):
            return self._source.data_as_of()


def metric_label(metric: MetricSpec, periods: Sequence[Period]) -> str:
    """The metric's name, its non-default parameters and how many periods it covers."""
    options = metric.model_dump(mode="json", exclude_defaults=True, exclude={"metric"})
    shown = " ".join(f"{name}={_short(value)}" for name, value in sorted(options.items()))
    return f"{metric.metric}{f' ({shown})' if shown else ''} x{len(periods)}"


def _short(value: Any) -> str:
    """A parameter as it fits in a table cell: long lists become their length."""
    if isinstance(value, list):
        joined = ",".join(str(item) for item in value)
        return joined if len(joined) <= 20 else f"{len(value)} items"
    return str(value)


@dataclass
class EvaluationRun:
    seconds: float
    clock: Clock
    opened: int
    tasks: int


def evaluate_once(
    store: Store, connection_id: int, as_of: datetime, *, read_ahead: bool = True
) -> EvaluationRun:
    """One dry-run evaluation of every stored rule, timed as a whole and by part.

    With ``read_ahead`` (the service's default) the metric reads run on a worker thread
    while the core judges: each read is timed on that thread, and what is left of the
    wall time is the Python that did not overlap a read."""
    clock = Clock()

    def factory(session: Session, connection: int, /, *, as_of: datetime) -> ClosingSource:
        return TimedSource(SqlMetricSource(session, connection, as_of=as_of), clock)

    with clock.watching(store.engine):
        started = time.perf_counter()
        result = evaluate_connection(
            store,
            connection_id,
            as_of=as_of,
            dry_run=True,
            source_factory=factory,
            read_ahead=read_ahead,
        )
        seconds = time.perf_counter() - started
    plan = result.plan
    return EvaluationRun(
        seconds, clock, len(plan.of_type(OpenFinding)), len(plan.of_type(CreateCoachingTask))
    )
