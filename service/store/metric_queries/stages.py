"""Stage metrics: how long deals sit in their stages, and whether they are qualified.

Stints (a deal's time in one stage, see :func:`~.history.stage_spans`) are measured once and
joined to each period's trailing window; the per-stage median that ``days_in_stage``
compares with is found with running-count windows (SQLite has no percentile function).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    FromClause,
    Row,
    Subquery,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    true,
)

from connectors.records import StageCategory
from rules.metrics import (
    DaysInStage,
    MetricSeries,
    Observation,
    QualificationCompleteness,
    StageDuration,
    SubjectKey,
)
from service.store.metric_queries.common import (
    REPS,
    Database,
    Frame,
    deal_series,
    live_rep,
    number,
    rep_series,
    run,
    top_deal_columns,
    top_deals,
)
from service.store.metric_queries.deals import AMOUNT, IDX, IN_STAGE, STAGE, open_deals, picked
from service.store.metric_queries.history import stage_spans
from service.store.metric_queries.snapshot import SnapshotColumn, deal_snapshot
from service.store.types import UtcDateTime


def _alive(spans: FromClause, end: ColumnElement[datetime]) -> ColumnElement[bool]:
    """The stint's deal existed at ``end`` (created by then, not deleted by then)."""
    s = spans.c
    return and_(
        or_(s.created_at.is_(None), s.created_at <= end),
        or_(s.deleted_at.is_(None), s.deleted_at > end),
    )


def measure_stage_duration(db: Database, spec: StageDuration, frame: Frame) -> MetricSeries:
    """Per rep, period and stage: stints ended in the window (count, total days); the
    per-rep mean is combined in Python from these few rows."""
    periods = frame.periods_cte(trailing_days=spec.trailing_days)
    bounds = frame.bounds(spec.trailing_days)
    s, p = stage_spans(db, frame), periods.c
    open_stage = s.c.stage_category == StageCategory.OPEN.value
    wanted = s.c.stage.in_(spec.stages) if spec.stages else open_stage
    in_window = and_(s.c.ended_at >= p.since_at, s.c.ended_at < p.end_at, _alive(s, p.end_at))
    query = (
        select(s.c.rep, p.idx, s.c.stage, func.count().label("n"), func.sum(s.c.days).label("days"))
        .select_from(periods)
        .join(s, in_window)
        .join(REPS, live_rep(periods, frame.connection_id, s.c.rep))
        .where(wanted, s.c.ended_at >= bounds.first_since, s.c.ended_at < bounds.last_end)
        .group_by(s.c.rep, p.idx, s.c.stage)
    )
    return _stage_means(run(db, query), len(frame.periods))


def _stage_means(rows: Sequence[Row[Any]], period_count: int) -> MetricSeries:
    grouped: dict[tuple[str, int], list[Row[Any]]] = defaultdict(list)
    for row in rows:
        grouped[row.rep, row.idx].append(row)
    out: dict[SubjectKey, list[Observation | None]] = {}
    for (rep, idx), stages in grouped.items():
        count = sum(row.n for row in stages)
        total = sum(number(row.days) for row in stages)
        slots = out.setdefault(SubjectKey(rep), [None] * period_count)
        slots[idx] = Observation(
            value=total / count,
            sample=count,
            parts={row.stage: number(row.days) / row.n for row in stages},
        )
    return out


def stage_medians(frame: Frame, periods: CTE, spans: FromClause, spec: DaysInStage) -> Subquery:
    """Per period and stage: the median completed stint, when there are enough of them.

    The periods' windows overlap heavily (three consecutive days of 365-day windows), so
    rather than ranking the stints once per period, the stints of all windows are sorted
    once per stage, and a running count per period (``in_k``: the stint is in period
    k's window) finds each period's middle: one sort, whatever the number of periods.
    """
    s, bounds = spans, frame.bounds(spec.trailing_days)
    windows = [
        and_(
            s.c.ended_at >= literal(period.end - timedelta(spec.trailing_days), UtcDateTime()),
            s.c.ended_at < literal(period.end, UtcDateTime()),
            _alive(s, literal(period.end, UtcDateTime())),
        )
        for period in frame.periods
    ]
    lengths = (
        select(
            s.c.stage,
            s.c.days,
            *(case((w, 1), else_=0).label(f"in_{k}") for k, w in enumerate(windows)),
        )
        .where(s.c.ended_at >= bounds.first_since, s.c.ended_at < bounds.last_end)
        .subquery("stint_lengths")
    )
    c = lengths.c
    ranked = select(
        c.stage,
        c.days,
        *(c[f"in_{k}"] for k in range(len(windows))),
        *(
            func.sum(c[f"in_{k}"])
            .over(partition_by=c.stage, order_by=c.days, rows=(None, 0))
            .label(f"at_{k}")
            for k in range(len(windows))
        ),
        *(
            func.sum(c[f"in_{k}"]).over(partition_by=c.stage).label(f"n_{k}")
            for k in range(len(windows))
        ),
    ).subquery("stint_ranks")
    r = ranked.c

    def median(k: int) -> ColumnElement[Any]:
        at, n = r[f"at_{k}"], r[f"n_{k}"]
        middle = and_(r[f"in_{k}"] == 1, at * 2 >= n, at * 2 <= n + 2, n >= spec.min_sample)
        return func.avg(case((middle, r.days))).label(f"median_{k}")

    per_stage = (
        select(r.stage, *(median(k) for k in range(len(windows))))
        .group_by(r.stage)
        .subquery("stage_median_columns")
    )
    m = per_stage.c
    by_period = case(*((periods.c.idx == k, m[f"median_{k}"]) for k in range(len(windows))))
    return (
        select(periods.c.idx, m.stage, by_period.label("median_days"))
        .join_from(periods, per_stage, true())
        .subquery("stage_medians")
    )


def measure_days_in_stage(db: Database, spec: DaysInStage, frame: Frame) -> MetricSeries:
    """The open deals come from the snapshot the deal metrics share
    (:func:`~.deals.open_deals`); the stage medians from one more small statement."""
    periods = frame.periods_cte(trailing_days=spec.trailing_days)
    medians = stage_medians(frame, periods, stage_spans(db, frame), spec)
    median_of = {
        (row.idx, row.stage): float(row.median_days)
        for row in run(db, select(medians))
        if row.median_days is not None
    }

    def observe(idx: int, stage: str, amount: Decimal | None, days: float | None) -> Observation:
        found = {"amount": number(amount)}
        median = median_of.get((idx, stage))
        if median is not None:
            found["stage_median_days"] = median
        value = None if days is None else float(days)
        return Observation(value=value, sample=1, parts=found, detail=stage)

    rows = picked(open_deals(db, frame), IDX, STAGE, AMOUNT, IN_STAGE)
    return deal_series(rows, len(frame.periods), observe)


def measure_qualification(
    db: Database, spec: QualificationCompleteness, frame: Frame
) -> MetricSeries:
    """Open deals in the named stages; a field is filled when present, not null, not ''."""
    periods = frame.periods_cte()
    columns: list[SnapshotColumn] = ["stage", "amount", "qualification"]
    deals = deal_snapshot(frame, periods, columns, open_only=True, spans=stage_spans(db, frame))
    d = deals.c
    filled = [d.qualification[name].as_string() for name in spec.fields]
    complete = case((and_(*(value.is_not(None) & (value != "") for value in filled)), 1), else_=0)
    ranked = (
        select(
            d.rep,
            d.idx,
            d.deal,
            complete.label("complete"),
            func.row_number()
            .over(
                partition_by=(d.rep, d.idx, complete),
                order_by=(d.amount.desc().nulls_last(), d.deal),
            )
            .label("rank"),
        )
        .where(d.stage.in_(spec.stages))
        .subquery("qualified")
    )
    r = ranked.c
    query = select(
        r.rep,
        r.idx,
        func.count().label("n"),
        func.sum(r.complete).label("complete"),
        *top_deal_columns(case((r.complete == 0, r.rank)), r.deal),
    ).group_by(r.rep, r.idx)

    def observe(row: Row[Any]) -> Observation:
        return Observation(
            value=number(row.complete) / row.n,
            sample=row.n,
            parts={"complete": number(row.complete)},
            deals=top_deals(row),
        )

    return rep_series(run(db, query), len(frame.periods), observe)
