"""Deal metrics, one subject per open deal at each period end: days since the last
activity and close-date pushes (days in stage lives with the other stage metrics)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select

from rules.metrics import CloseDatePushes, DaysSinceActivity, MetricSeries, Observation
from service.store.metric_queries.common import (
    ACTIVITIES,
    Database,
    Frame,
    alive_at,
    days_between,
    deal_key,
    number,
    run,
    series,
)
from service.store.metric_queries.history import deal_snapshot


def measure_days_since_activity(
    db: Database, spec: DaysSinceActivity, frame: Frame
) -> MetricSeries:
    """The newest linked activity at or before t, found per deal and period by a backward
    walk of the index ``(connection_id, opportunity_crm_id, occurred_at)``."""
    periods = frame.periods_cte()
    deals = deal_snapshot(frame.connection_id, periods, ["stage", "amount"], open_only=True)
    d, a = deals.c, ACTIVITIES.c
    last_activity = (
        select(a.occurred_at)
        .where(
            a.connection_id == frame.connection_id,
            a.opportunity_crm_id == d.deal,
            a.occurred_at <= d.end_at,
            alive_at(ACTIVITIES, d.end_at),
        )
        .order_by(a.occurred_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    since = func.coalesce(last_activity, d.created_at)
    query = select(d.rep, d.idx, d.deal, d.amount, days_between(d.end_at, since).label("days"))

    def observe(row: Row[Any]) -> Observation:
        days = None if row.days is None else float(row.days)
        return Observation(value=days, sample=1, parts={"amount": number(row.amount)})

    return series(run(db, query), len(frame.periods), deal_key, observe)


def measure_close_date_pushes(db: Database, spec: CloseDatePushes, frame: Frame) -> MetricSeries:
    periods = frame.periods_cte()
    deals = deal_snapshot(
        frame.connection_id, periods, ["stage", "amount", "close_date"], open_only=True
    )
    d = deals.c
    query = select(d.rep, d.idx, d.deal, d.amount, d.pushes, d.days_pushed)

    def observe(row: Row[Any]) -> Observation:
        return Observation(
            value=float(row.pushes),
            sample=1,
            parts={"amount": number(row.amount), "days_pushed": number(row.days_pushed)},
        )

    return series(run(db, query), len(frame.periods), deal_key, observe)
