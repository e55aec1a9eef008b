"""The SQL implementation of the rules core's :class:`~rules.metrics.MetricSource` port.

The rules core asks for a metric over a list of periods; this answers with one grouped
statement per call, computed in the database over all periods at once (the queries live
in :mod:`service.store.metric_queries`, one module per family). Like a repository it takes
a session (or a connection) and never commits: it only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, or_, select

from rules.metrics import (
    ActiveDays,
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
from service.store.metric_queries.snapshot import deal_snapshot
from service.store.tables import SyncState
from service.store.types import UtcDateTime

_Measure = Callable[[Database, Any, Frame], MetricSeries]

_MEASURES: Mapping[type[Any], _Measure] = {
    ActivityCount: activity.measure_activity_count,
    MeetingsHeld: activity.measure_meetings_held,
    ActiveDays: activity.measure_active_days,
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
    """Metrics of one connection, read from the store through ``db``.

    With ``as_of`` everything it says is as known at that instant (an evaluation of a
    past moment, a backtest step): the metrics always are (they are measured per
    period, see :mod:`rules.metrics`), and so are the reps (:meth:`reps`), the deals
    named in evidence and tasks (:meth:`deals`) and the data's freshness. Without it,
    reps and deals are as they stand now.
    """

    def __init__(self, db: Database, connection_id: int, *, as_of: datetime | None = None) -> None:
        if as_of is not None and as_of.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        self._db = db
        self._connection_id = connection_id
        self._as_of = as_of
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
        """The connection's reps; as of an instant, those not deleted by then, active
        then, with their manager, team and role as they are now (the CRMs keep no
        history of those).

        "Active then": active now, or inactive now but changed in the CRM after the
        instant (the deactivation is such a change), and started by then.
        """
        r = REPS.c
        exists: ColumnElement[bool] = r.deleted_at.is_(None)
        active: ColumnElement[bool] = r.is_active
        if self._as_of is not None:
            at = literal(self._as_of, UtcDateTime())
            exists = or_(exists, r.deleted_at > at)
            active = and_(
                or_(r.is_active, r.crm_modified_at > at),
                or_(r.started_on.is_(None), r.started_on <= self._as_of.date()),
            )
        query = select(
            r.crm_id, r.name, r.manager_crm_id, r.team, r.role, r.started_on,
            active.label("is_active"), r.email,
        ).where(r.connection_id == self._connection_id, exists)  # fmt: skip
        rows = self._db.execute(query.order_by(r.crm_id))
        return [RepProfile(**row._asdict()) for row in rows]

    def deals(self, crm_ids: Sequence[str]) -> Sequence[DealProfile]:
        """The named deals in the order asked (unknown ids are skipped): as they stand
        now, or as of the instant, with the stage, amount and close date then (read
        from the change history exactly as the deal metrics read them) and only if the
        deal existed then. Names are the current ones: the CRMs keep no history of them.
        """
        if not crm_ids:
            return []
        wanted = set(crm_ids)
        if self._as_of is None:
            o = OPPORTUNITIES.c
            rows = self._db.execute(
                select(o.crm_id, o.name, o.owner_crm_id, o.amount, o.stage, o.close_date).where(
                    o.connection_id == self._connection_id, o.crm_id.in_(wanted)
                )
            ).all()
        else:
            rows = self._deals_then(wanted, self._as_of)
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

    def _deals_then(self, wanted: set[str], as_of: datetime) -> Sequence[Any]:
        o = OPPORTUNITIES.c
        frame = Frame(self._connection_id, (Period(as_of - timedelta(days=1), as_of),))
        snapshot = deal_snapshot(
            frame, frame.periods_cte(), ("stage", "amount", "close_date"),
            deals=[o.crm_id.in_(wanted)],
        )  # fmt: skip
        s = snapshot.c
        query = select(
            s.deal.label("crm_id"),
            OPPORTUNITIES.c.name,
            s.rep.label("owner_crm_id"),
            s.amount,
            s.stage,
            s.close_date,
        ).join_from(
            snapshot,
            OPPORTUNITIES,
            and_(o.connection_id == self._connection_id, o.crm_id == s.deal),
        )
        return self._db.execute(query).all()

    def data_as_of(self) -> datetime | None:
        """The newest successful sync of any of the connection's streams; as of an
        instant, no later than it (what was known then is complete up to it)."""
        synced = self._db.scalar(
            select(func.max(SyncState.last_success_at)).where(
                SyncState.connection_id == self._connection_id
            )
        )
        if synced is None or self._as_of is None:
            return synced
        return min(synced, self._as_of)
