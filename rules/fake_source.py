"""An in-memory :class:`~rules.metrics.MetricSource` for tests, docs and experiments.

Series are given newest-last and aligned to the *end* of whatever period list is asked
for: ``[5, 6, 7]`` means "7 in the latest period, 6 before it, 5 before that". Periods
further back than the data get what the port promises for no rows: an observation of 0
for rate metrics, None for snapshots. A series is registered for an exact metric spec or
for every spec of a metric name. Every ``measure`` call is recorded in :attr:`measured`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from rules.metrics import (
    DealProfile,
    MetricSeries,
    MetricShape,
    MetricSpec,
    Observation,
    RepProfile,
    SubjectKey,
)
from rules.periods import Period

Value = float | int | Observation | None
SeriesSpec = Mapping[SubjectKey, Sequence[Value]]


class FakeMetricSource:
    def __init__(
        self,
        reps: Sequence[RepProfile] = (),
        deals: Sequence[DealProfile] = (),
        data_as_of: datetime | None = None,
    ) -> None:
        self._reps = list(reps)
        self._deals = {deal.crm_id: deal for deal in deals}
        self._data_as_of = data_as_of
        self._by_spec: dict[MetricSpec, SeriesSpec] = {}
        self._by_name: dict[str, SeriesSpec] = {}
        self.measured: list[tuple[MetricSpec, tuple[Period, ...]]] = []
        self.deal_lookups: list[tuple[str, ...]] = []

    def set_series(self, metric: MetricSpec | str, series: SeriesSpec) -> FakeMetricSource:
        """Register values for an exact spec, or (given a name) for any spec of that metric."""
        if isinstance(metric, str):
            self._by_name[metric] = series
        else:
            self._by_spec[metric] = series
        return self

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        self.measured.append((metric, tuple(periods)))
        given = self._by_spec.get(metric, self._by_name.get(metric.metric, {}))
        missing = Observation(0.0) if metric.shape is MetricShape.RATE else None
        return {key: _aligned(values, len(periods), missing) for key, values in given.items()}

    def reps(self) -> Sequence[RepProfile]:
        return list(self._reps)

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        self.deal_lookups.append(tuple(crm_ids))
        return [self._deals[crm_id] for crm_id in crm_ids if crm_id in self._deals]

    def data_as_of(self) -> datetime | None:
        return self._data_as_of


def _aligned(
    values: Sequence[Value], count: int, missing: Observation | None
) -> list[Observation | None]:
    recent = [_observation(value) for value in values][-count:] if count else []
    return [missing] * (count - len(recent)) + recent


def _observation(value: Value) -> Observation | None:
    if value is None or isinstance(value, Observation):
        return value
    return Observation(float(value), sample=1)
