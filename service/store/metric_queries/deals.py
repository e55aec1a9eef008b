"""Deal metrics, one subject per open deal at each period end: days since the last
activity, close-date pushes and days in the current stage.

The three read the same thing: every open deal at each period end, with its state then.
That snapshot is the costly part (the deals that can be open, their history rebuilt at
each period end), so one statement computes it once with every column the three need,
and each metric of a source over the same periods takes its columns from those rows;
days in stage adds one small statement for the stage medians it compares with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, func, select

from rules.metrics import CloseDatePushes, DaysSinceActivity, MetricSeries, Observation
from service.store.metric_queries.common import (
    ACTIVITIES,
    Database,
    Frame,
    alive_at,
    days_between,
    deal_series,
    not_own_task,
    number,
    run,
)
from service.store.metric_queries.history import stage_spans
from service.store.metric_queries.snapshot import SnapshotColumn, deal_snapshot

# Positions in an open-deal row (rows are unpacked by position: see ``deal_series``).
REP, IDX, DEAL, STAGE, AMOUNT, IN_STAGE, IDLE, PUSHES, DAYS_PUSHED = range(9)


def open_deals(db: Database, frame: Frame) -> Sequence[Row[Any]]:
    """Per period and deal open at its end: ``rep, idx, deal, stage, amount, in_stage``
    (days since it entered its stage), ``idle`` (days since its newest linked activity at
    or before the end, else since its creation), ``pushes`` and ``days_pushed`` so far.

    The newest activity is found per deal and period by a backward walk of the index
    ``(connection_id, opportunity_crm_id, occurred_at)``. One statement per source and
    periods, whichever of the deal metrics asks first."""

    def compute() -> Sequence[Row[Any]]:
        periods = frame.periods_cte()
        columns: list[SnapshotColumn] = [
            "stage", "entered_at", "amount", "created_at", "pushes", "days_pushed",
        ]  # fmt: skip
        spans = stage_spans(db, frame)
        deals = deal_snapshot(frame, periods, columns, open_only=True, spans=spans)
        d, a = deals.c, ACTIVITIES.c
        last_activity = (
            select(a.occurred_at)
            .where(
                a.connection_id == frame.connection_id,
                a.opportunity_crm_id == d.deal,
                a.occurred_at <= d.end_at,
                alive_at(ACTIVITIES, d.end_at),
                not_own_task(),
            )
            .order_by(a.occurred_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = select(
            d.rep,
            d.idx,
            d.deal,
            d.stage,
            d.amount,
            days_between(d.end_at, d.entered_at).label("in_stage"),
            days_between(d.end_at, func.coalesce(last_activity, d.created_at)).label("idle"),
            d.pushes,
            d.days_pushed,
        )
        return run(db, query)

    return frame.once("open deals", compute)


def picked(rows: Sequence[Row[Any]], *positions: int) -> Iterator[tuple[Any, ...]]:
    """``(rep, idx, deal, *values at positions)`` per row, as :func:`deal_series` reads."""
    for row in rows:
        yield (row[REP], row[IDX], row[DEAL], *(row[at] for at in positions))


def measure_days_since_activity(
    db: Database, spec: DaysSinceActivity, frame: Frame
) -> MetricSeries:
    def observe(amount: Decimal | None, days: float | None) -> Observation:
        value = None if days is None else float(days)
        return Observation(value=value, sample=1, parts={"amount": number(amount)})

    rows = picked(open_deals(db, frame), AMOUNT, IDLE)
    return deal_series(rows, len(frame.periods), observe)


def measure_close_date_pushes(db: Database, spec: CloseDatePushes, frame: Frame) -> MetricSeries:
    def observe(amount: Decimal | None, pushes: int, pushed: float) -> Observation:
        return Observation(
            value=float(pushes),
            sample=1,
            parts={"amount": number(amount), "days_pushed": number(pushed)},
        )

    rows = picked(open_deals(db, frame), AMOUNT, PUSHES, DAYS_PUSHED)
    return deal_series(rows, len(frame.periods), observe)
