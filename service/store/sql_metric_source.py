"""The SQL implementation of the rules core's :class:`~rules.metrics.MetricSource` port.

The rules core asks for a metric over a list of periods; this answers with one grouped
statement per call, computed in the database over all periods at once (the queries live
in :mod:`service.store.metric_queries`, one module per family). Like a repository it takes
a session (or a connection) and never commits: it only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from rules.metrics import (
    ActivityCount,
    CloseDatePushes,
    DaysInStage,
    DaysSinceActivity,
    DealProfile,
    MeetingsHeld,
    MetricSeries,
    MetricSpec,
    PipelineCoverage,
    PipelineCreated,
    QualificationCompleteness,
    QuotaPace,
    RepProfile,
    StageDuration,
    WinRate,
)
from rules.periods import Period
from service.store.metric_queries import activity, deals, objectives, stages
from service.store.metric_queries.common import OPPORTUNITIES, REPS, Database, Frame
from service.store.metric_queries.history import drop_temporary_tables
from service.store.tables import SyncState

_Measure = Callable[[Database, Any, Frame], MetricSeries]

_MEASURES: Mapping[type[Any], _Measure] = {
    ActivityCount: activity.measure_activity_count,
    MeetingsHeld: activity.measure_meetings_held,
    PipelineCreated: activity.measure_pipeline_created,
    PipelineCoverage: objectives.measure_pipeline_coverage,
    QuotaPace: objectives.measure_quota_pace,
    WinRate: objectives.measure_win_rate,
    StageDuration: stages.measure_stage_duration,
    DaysInStage: stages.measure_days_in_stage,
    QualificationCompleteness: stages.measure_qualification,
    DaysSinceActivity: deals.measure_days_since_activity,
    CloseDatePushes: deals.measure_close_date_pushes,
}


class SqlMetricSource:
    """Metrics of one connection, read from the store through ``db``."""

    def __init__(self, db: Database, connection_id: int) -> None:
        self._db = db
        self._connection_id = connection_id
        self._shared: dict[Any, Any] = {}

    def measure(self, metric: MetricSpec, periods: Sequence[Period]) -> MetricSeries:
        """Values of ``metric`` for each period, in one statement (none for no periods)."""
        if not periods:
            return {}
        measure = _MEASURES[type(metric)]
        frame = Frame(self._connection_id, tuple(periods), self._shared)
        return measure(self._db, metric, frame)

    def close(self) -> None:
        """Drop what the source made in the transaction (the temporary stage spans): on
        SQLite they would outlive it on the pooled connection. Measuring again after
        this makes them anew."""
        drop_temporary_tables(self._db, self._shared)
        self._shared.clear()

    def reps(self) -> Sequence[RepProfile]:
        r = REPS.c
        rows = self._db.execute(
            select(
                r.crm_id,
                r.name,
                r.manager_crm_id,
                r.team,
                r.role,
                r.started_on,
                r.is_active,
                r.email,
            )
            .where(r.connection_id == self._connection_id, r.deleted_at.is_(None))
            .order_by(r.crm_id)
        )
        return [RepProfile(**row._asdict()) for row in rows]

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        """The named deals as they stand now, in the order asked (unknown ids are skipped)."""
        if not crm_ids:
            return []
        o = OPPORTUNITIES.c
        rows = self._db.execute(
            select(o.crm_id, o.name, o.owner_crm_id, o.amount, o.stage, o.close_date).where(
                o.connection_id == self._connection_id, o.crm_id.in_(set(crm_ids))
            )
        )
        found = {
            row.crm_id: DealProfile(
                crm_id=row.crm_id,
                name=row.name,
                owner_crm_id=row.owner_crm_id,
                amount=None if row.amount is None else float(row.amount),
                stage=row.stage,
                close_date=row.close_date,
            )
            for row in rows
        }
        return [found[crm_id] for crm_id in dict.fromkeys(crm_ids) if crm_id in found]

    def data_as_of(self) -> datetime | None:
        """The newest successful sync of any of the connection's streams."""
        return self._db.scalar(
            select(func.max(SyncState.last_success_at)).where(
                SyncState.connection_id == self._connection_id
            )
        )
