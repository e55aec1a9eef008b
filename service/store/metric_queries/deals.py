"""Deal metrics, one subject per open deal at each period end: days since the last
activity and close-date pushes (days in stage lives with the other stage metrics)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from rules.metrics import CloseDatePushes, DaysSinceActivity, MetricSeries, Observation
from service.store.metric_queries.common import (
    ACTIVITIES,
    Database,
    Frame,
    alive_at,
    days_between,
    deal_series,
    number,
    run,
)
from service.store.metric_queries.snapshot import deal_snapshot


def measure_days_since_activity(
    db: Database, spec: DaysSinceActivity, frame: Frame
) -> MetricSeries:
    """The newest linked activity at or before t, found per deal and period by a backward
    walk of the index ``(connection_id, opportunity_crm_id, occurred_at)``."""
    periods = frame.periods_cte()
    deals = deal_snapshot(frame, periods, ["amount", "created_at"], open_only=True)
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
    query = select(d.rep, d.idx, d.deal, d.amount, days_between(d.end_at, since))

    def observe(amount: Decimal | None, days: float | None) -> Observation:
        value = None if days is None else float(days)
        return Observation(value=value, sample=1, parts={"amount": number(amount)})

    return deal_series(run(db, query), len(frame.periods), observe)


def measure_close_date_pushes(db: Database, spec: CloseDatePushes, frame: Frame) -> MetricSeries:
    periods = frame.periods_cte()
    deals = deal_snapshot(frame, periods, ["amount", "pushes", "days_pushed"], open_only=True)
    d = deals.c
    query = select(d.rep, d.idx, d.deal, d.amount, d.pushes, d.days_pushed)

    def observe(amount: Decimal | None, pushes: int, pushed: float) -> Observation:
        return Observation(
            value=float(pushes),
            sample=1,
            parts={"amount": number(amount), "days_pushed": number(pushed)},
        )

    return deal_series(run(db, query), len(frame.periods), observe)
