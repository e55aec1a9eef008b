"""The replay's reuse: every metric measured once for all its steps, each step's answer
cut from it, exactly as the step's own query would have answered.

A weekly replay asks each metric for a sliding window of periods: the week just ended
and the few before it, which the previous step asked for too. Measured step by step,
the same period is read again at every step, and the SQL source's per-source work (the
stage spans' temporary table, the quota totals) is rebuilt each time. Measured once
over every period any step asks for, each period's value is what it always is (a metric
is defined per period and sees only what was known at its end: :mod:`rules.metrics`),
so a step's answer is a cut of it.

The cut keeps the port's promises exactly: a subject is in a step's series when a row
was read for it in one of that step's periods (the series says which:
:meth:`~service.store.metric_queries.common.BuiltOnFirstRead.observed`), as it would be
in the step's own query, and its other periods hold the same "no rows" filler.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from rules.documents import VersionedRule
from rules.evaluation import Measurement, evidence_measurement, measurements_needed
from rules.metrics import MetricSeries, MetricSpec, Observation, SubjectKey
from rules.periods import Period
from service.store.metric_queries.common import BuiltOnFirstRead, Database
from service.store.sql_metric_source import SqlMetricSource


def replay_needs(rules: Sequence[VersionedRule], moments: Iterable[datetime]) -> list[Measurement]:
    """What every step will measure: its rules' reads and the evidence's quota pace."""
    wanted: list[Measurement] = []
    for moment in moments:
        wanted.extend(measurements_needed(rules, moment))
        wanted.append(evidence_measurement(moment))
    return wanted


class MeasuredOnce:
    """Measures each metric over the union of the periods in ``wanted``, when first asked."""

    def __init__(self, db: Database, connection_id: int, wanted: Iterable[Measurement]) -> None:
        self._source = SqlMetricSource(db, connection_id)
        periods: dict[MetricSpec, set[Period]] = {}
        for metric, asked in wanted:
            periods.setdefault(metric, set()).update(asked)
        self._periods = {
            metric: sorted(found, key=lambda p: (p.start, p.end))
            for metric, found in periods.items()
        }
        self._index = {
            metric: {period: i for i, period in enumerate(found)}
            for metric, found in self._periods.items()
        }
        self._series: dict[MetricSpec, MetricSeries] = {}

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        """The step's series: cut from the metric's one measurement, or (periods that
        ``wanted`` did not name) measured on their own by the same source, whose
        temporary tables are the ones the rest uses."""
        index = self._index.get(metric)
        if index is None or any(period not in index for period in periods):
            return self._source.measure(metric, periods)
        series = self._series.get(metric)
        if series is None:
            series = self._series[metric] = self._source.measure(metric, self._periods[metric])
        return _cut(series, [index[period] for period in periods])

    def close(self) -> None:
        self._source.close()


def _cut(series: MetricSeries, positions: Sequence[int]) -> MetricSeries:
    observed = series.observed() if isinstance(series, BuiltOnFirstRead) else None
    out: dict[SubjectKey, list[Observation | None]] = {}
    for subject, slots in series.items():
        if observed is not None:
            seen = observed.get(subject, set())
            if not any(position in seen for position in positions):
                continue
        elif all(slots[position] is None for position in positions):
            continue
        out[subject] = [slots[position] for position in positions]
    return out
