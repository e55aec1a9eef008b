"""Stage metrics: how long deals sit in their stages, and whether they are qualified.

Stints (a deal's time in one stage, see :func:`~.history.stints`) are measured once and
joined to each period's trailing window; the per-stage median that ``days_in_stage``
compares with is ranked with ``ROW_NUMBER``/``COUNT`` windows, since SQLite has no
percentile function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import CTE, Row, Subquery, and_, case, func, select

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
    OPPORTUNITIES,
    REPS,
    Database,
    Frame,
    days_between,
    deal_exists,
    deal_key,
    live_rep,
    number,
    rep_key,
    run,
    series,
    top_deal_columns,
    top_deals,
)
from service.store.metric_queries.history import deal_snapshot, stints


def _stints_ended_in_window(connection_id: int, periods: CTE) -> Any:
    """Completed stints ending in ``[since_at, end_at)`` of deals that exist at the end."""
    s, p, o = stints(connection_id), periods.c, OPPORTUNITIES.c
    return (
        select()
        .select_from(periods)
        .join(s, and_(s.c.ended_at >= p.since_at, s.c.ended_at < p.end_at))
        .join(OPPORTUNITIES, and_(deal_exists(periods, connection_id), o.crm_id == s.c.deal))
    ), s


def measure_stage_duration(db: Database, spec: StageDuration, frame: Frame) -> MetricSeries:
    """Per rep and period: stints per stage (count, total days), combined in Python."""
    periods = frame.periods_cte(trailing_days=spec.trailing_days)
    query, s = _stints_ended_in_window(frame.connection_id, periods)
    o = OPPORTUNITIES.c
    if spec.stages:
        wanted = s.c.stage.in_(spec.stages)
    else:
        stint_category = case(
            (s.c.stage_category.is_not(None), s.c.stage_category),
            (s.c.stage == o.stage, o.stage_category),
            else_=StageCategory.OPEN.value,
        )
        wanted = stint_category == StageCategory.OPEN.value
    query = (
        query.join(REPS, live_rep(periods, frame.connection_id, o.owner_crm_id))
        .add_columns(
            o.owner_crm_id.label("rep"),
            periods.c.idx,
            s.c.stage,
            func.count().label("n"),
            func.sum(days_between(s.c.ended_at, s.c.started_at)).label("days"),
        )
        .where(wanted)
        .group_by(o.owner_crm_id, periods.c.idx, s.c.stage)
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


def stage_medians(connection_id: int, periods: CTE, min_sample: int) -> Subquery:
    """Per period and stage: the median completed stint, when there are enough of them."""
    query, s = _stints_ended_in_window(connection_id, periods)
    p = periods.c
    lengths = query.add_columns(
        p.idx, s.c.stage, days_between(s.c.ended_at, s.c.started_at).label("days")
    ).subquery("stint_lengths")
    by_stage = (lengths.c.idx, lengths.c.stage)
    ranked = select(
        lengths,
        func.row_number().over(partition_by=by_stage, order_by=lengths.c.days).label("position"),
        func.count().over(partition_by=by_stage).label("stints"),
    ).subquery("stint_ranks")
    r = ranked.c
    middle = and_(r.position * 2 >= r.stints, r.position * 2 <= r.stints + 2)
    return (
        select(r.idx, r.stage, func.avg(r.days).label("median_days"))
        .where(middle, r.stints >= min_sample)
        .group_by(r.idx, r.stage)
        .subquery("stage_medians")
    )


def measure_days_in_stage(db: Database, spec: DaysInStage, frame: Frame) -> MetricSeries:
    periods = frame.periods_cte(trailing_days=spec.trailing_days)
    deals = deal_snapshot(frame.connection_id, periods, ["stage", "amount"], open_only=True)
    medians = stage_medians(frame.connection_id, periods, spec.min_sample)
    d, m = deals.c, medians.c
    query = select(
        d.rep,
        d.idx,
        d.deal,
        d.stage,
        d.amount,
        days_between(d.end_at, d.entered_at).label("days"),
        m.median_days,
    ).outerjoin_from(deals, medians, and_(m.idx == d.idx, m.stage == d.stage))

    def observe(row: Row[Any]) -> Observation:
        found = {"amount": number(row.amount)}
        if row.median_days is not None:
            found["stage_median_days"] = number(row.median_days)
        days = None if row.days is None else float(row.days)
        return Observation(value=days, sample=1, parts=found, detail=row.stage)

    return series(run(db, query), len(frame.periods), deal_key, observe)


def measure_qualification(
    db: Database, spec: QualificationCompleteness, frame: Frame
) -> MetricSeries:
    """Open deals in the named stages; a field is filled when present, not null, not ''."""
    periods = frame.periods_cte()
    deals = deal_snapshot(frame.connection_id, periods, ["stage", "amount"], open_only=True)
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

    return series(run(db, query), len(frame.periods), rep_key, observe)
