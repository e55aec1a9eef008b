"""Objective metrics read at each period end: pipeline coverage, quota pace, win rate.

Coverage and pace start from the quota in force (so a rep with a quota and an empty
pipeline gets a coverage of 0 rather than no value) and join the rep's deals as of the
instant whose close date falls inside that quota period.

The quota period is chosen by the *last day the period touches* (``Period.last_day``),
not by the calendar day of the end instant: a quarter ends at midnight on the first day
of the next quarter, and its closing snapshot should be measured against its own quota.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Float,
    Row,
    Select,
    Subquery,
    and_,
    case,
    exists,
    func,
    or_,
    select,
    type_coerce,
    union_all,
)

from connectors.records import StageCategory
from rules.metrics import MetricSeries, Observation, PipelineCoverage, QuotaPace, WinRate
from service.store.metric_queries.common import (
    CHANGES,
    OPPORTUNITIES,
    QUOTAS,
    REPS,
    Database,
    Frame,
    alive_at,
    deal_exists,
    live_rep,
    number,
    parts,
    rep_series,
    run,
    top_deal_columns,
    top_deals,
)
from service.store.metric_queries.history import category_in_window, stage_spans
from service.store.metric_queries.snapshot import SnapshotColumn, deal_snapshot

OPEN, WON, LOST = StageCategory.OPEN.value, StageCategory.WON.value, StageCategory.LOST.value


def quota_at(connection_id: int, periods: CTE) -> CTE:
    """Each rep's quota in force at each period end (the most recently updated if several)."""
    q, p = QUOTAS.c, periods.c
    covers = and_(
        q.connection_id == connection_id,
        q.period_start <= p.last_day,
        q.period_end >= p.last_day,
        alive_at(QUOTAS, p.end_at),
    )
    newest_first = (q.updated_at.desc(), q.id.desc())
    ranked = (
        select(
            q.rep_crm_id.label("rep"),
            p.idx,
            q.period_start,
            q.period_end,
            q.amount.label("quota"),
            func.row_number()
            .over(partition_by=(q.rep_crm_id, p.idx), order_by=newest_first)
            .label("rank"),
        )
        .select_from(periods)
        .join(QUOTAS, covers)
        .join(REPS, live_rep(periods, connection_id, q.rep_crm_id))
        .subquery("quota_ranked")
    )
    return select(ranked).where(ranked.c.rank == 1).cte("quota_at")


def _quota_totals(db: Database, frame: Frame) -> Select[Any]:
    """Per rep and period with a quota: open, won and weighted amounts closing in it.

    The deals are totalled first (deals joined to the few quota rows), and the totals
    then joined back to the quotas, so no plan has to probe the large deal snapshot
    once per quota row.
    """
    periods = frame.periods_cte()
    quota = quota_at(frame.connection_id, periods)
    spans = stage_spans(db, frame)
    open_or_won = category_in_window(spans, frame.bounds(), (StageCategory.OPEN, StageCategory.WON))
    deals = deal_snapshot(
        frame,
        periods,
        ["category", "amount", "close_date", "probability"],
        deals=[open_or_won, _may_close_in_a_quota(frame)],
    )
    q, d = quota.c, deals.c
    closing_in_quota = and_(
        q.rep == d.rep,
        q.idx == d.idx,
        d.close_date >= q.period_start,
        d.close_date <= q.period_end,
    )
    rank = func.row_number().over(
        partition_by=(d.rep, d.idx, d.category), order_by=(d.amount.desc().nulls_last(), d.deal)
    )
    counted = (
        select(d.rep, d.idx, d.deal, d.category, d.amount, d.probability, rank.label("rank"))
        .join_from(deals, quota, closing_in_quota)
        .where(d.category.in_((OPEN, WON)))
        .subquery("quota_deals")
    )
    c = counted.c
    is_open = c.category == OPEN
    totals = (
        select(
            c.rep,
            c.idx,
            func.count(case((is_open, 1))).label("n_open"),
            func.sum(case((is_open, c.amount), else_=0)).label("open_amount"),
            func.sum(case((c.category == WON, c.amount), else_=0)).label("won_amount"),
            # Float: the product must not be rounded to the cents of the amount's type.
            func.sum(
                case((is_open, type_coerce(c.amount, Float()) * c.probability / 100), else_=0)
            ).label("weighted_open"),
            *top_deal_columns(case((is_open, c.rank)), c.deal),
        )
        .group_by(c.rep, c.idx)
        .subquery("quota_totals")
    )
    t = totals.c
    return select(
        q.rep, q.idx, q.period_start, q.period_end, q.quota,
        *(col for col in totals.c if col.name not in ("rep", "idx")),
    ).outerjoin_from(quota, totals, and_(t.rep == q.rep, t.idx == q.idx))  # fmt: skip


def _may_close_in_a_quota(frame: Frame) -> ColumnElement[bool]:
    """A condition on ``opportunities``: some close date the deal has had (its current
    one, or one its history recorded) falls inside a quota period in force at one of the
    periods; a deal whose every close date lies outside them can never count."""
    q, o, connection_id = QUOTAS.c, OPPORTUNITIES.c, frame.connection_id
    days = [period.last_day for period in frame.periods]
    in_force = (
        q.connection_id == connection_id,
        q.period_start <= max(days),
        q.period_end >= min(days),
    )
    earliest = select(func.min(q.period_start)).where(*in_force).scalar_subquery()
    latest = select(func.max(q.period_end)).where(*in_force).scalar_subquery()
    c = CHANGES.alias("close_date_changes").c
    recorded = (
        select(c.id)
        .where(
            c.connection_id == connection_id,
            c.opportunity_crm_id == o.crm_id,
            c.close_date >= earliest,
            c.close_date <= latest,
        )
        .correlate(OPPORTUNITIES)
        .exists()
    )
    return or_(and_(o.close_date >= earliest, o.close_date <= latest), recorded)


def measure_pipeline_coverage(db: Database, spec: PipelineCoverage, frame: Frame) -> MetricSeries:
    def observe(row: Row[Any]) -> Observation:
        quota, won = number(row.quota), number(row.won_amount)
        remaining = quota - won
        open_amount = number(row.open_amount)
        return Observation(
            value=open_amount / remaining if remaining > 0 else None,
            sample=row.n_open or 0,
            parts=parts(open_amount=open_amount, won_amount=won, quota=quota, remaining=remaining),
            deals=top_deals(row),
            period_start=row.period_start,
            period_end=row.period_end,
        )

    return rep_series(
        frame.once("quota totals", lambda: run(db, _quota_totals(db, frame))),
        len(frame.periods),
        observe,
    )


def measure_quota_pace(db: Database, spec: QuotaPace, frame: Frame) -> MetricSeries:
    def observe(row: Row[Any]) -> Observation:
        return Observation(
            value=None,
            sample=row.n_open or 0,
            parts=parts(
                won_amount=row.won_amount, weighted_open=row.weighted_open, quota=row.quota
            ),
            deals=top_deals(row),
            period_start=row.period_start,
            period_end=row.period_end,
        )

    return rep_series(
        frame.once("quota totals", lambda: run(db, _quota_totals(db, frame))),
        len(frame.periods),
        observe,
    )


def _closing_in_some_window(frame: Frame, trailing_days: int) -> ColumnElement[bool]:
    """Deals that can have closed inside some period's window: a stage change inside the
    union of the windows, or (read without history) a ``closed_at`` inside it. Only their
    history is read."""
    bounds, o = frame.bounds(trailing_days), OPPORTUNITIES.c
    c = CHANGES.alias("closing_changes").c
    staged = (
        exists()
        .where(
            c.connection_id == frame.connection_id,
            c.opportunity_crm_id == o.crm_id,
            c.stage.is_not(None),
            c.changed_at >= bounds.first_since,
            c.changed_at < bounds.last_end,
        )
        .correlate(OPPORTUNITIES)
    )
    return or_(staged, and_(o.closed_at >= bounds.first_since, o.closed_at < bounds.last_end))


def measure_win_rate(db: Database, spec: WinRate, frame: Frame) -> MetricSeries:
    """Deals closed (won or lost as of t) by a change inside ``[t - trailing_days, t)``."""
    if spec.measure == "count":
        query = _closed_deals_counted(db, frame, spec.trailing_days)
    else:
        query = _closed_deals_weighed(db, frame, spec.trailing_days)

    def observe(row: Row[Any]) -> Observation:
        won, lost = number(row.won), number(row.lost)
        measurable = row.n >= spec.min_sample and won + lost > 0
        return Observation(
            value=won / (won + lost) if measurable else None,
            sample=row.n,
            parts=parts(won=won, lost=lost),
        )

    # The counts do not depend on ``min_sample`` (applied here, in Python): a coverage
    # standard's win rate and a win-rate rule over the same window share one statement.
    name = f"win rate over {spec.trailing_days} days by {spec.measure}"
    return rep_series(frame.once(name, lambda: run(db, query)), len(frame.periods), observe)


def _won_and_lost(closed: Subquery, weight: ColumnElement[Any] | int) -> Select[Any]:
    """Per rep and period: deals closed (``n``), and the ``weight`` won and lost."""
    c = closed.c
    return select(
        c.rep,
        c.idx,
        func.count().label("n"),
        func.sum(case((c.category == WON, weight), else_=0)).label("won"),
        func.sum(case((c.category == LOST, weight), else_=0)).label("lost"),
    ).group_by(c.rep, c.idx)


def _closed_deals_counted(db: Database, frame: Frame, trailing_days: int) -> Select[Any]:
    """By count, read from the stage spans alone: a deal closed inside the window as of
    ``t`` is one whose span in force at ``t`` is won or lost and began inside the window
    (the change that closed it). A deal with no span begun by ``t`` (no stage history
    then) has its current category and ``closed_at``. The same deals as the snapshot
    (:func:`_closed_deals_weighed`) finds, without rebuilding any deal's state: the
    spans already hold the stage, the owner and the deal's life.

    The reps are joined to the totals, not to every closed deal: the planner knows
    nothing of the spans table's size, and a nested loop over reps per deal cost more
    than the rest of the statement."""
    periods = frame.periods_cte(trailing_days=trailing_days)
    spans, connection_id = stage_spans(db, frame), frame.connection_id
    bounds = frame.bounds(trailing_days)
    s, p, o = spans.c, periods.c, OPPORTUNITIES.c
    closed = (WON, LOST)
    by_span = select(s.rep, p.idx, s.stage_category.label("category")).join_from(
        periods,
        spans,
        and_(
            s.stage_category.in_(closed),
            s.started_at >= bounds.first_since,
            s.started_at < bounds.last_end,
            s.started_at >= p.since_at,
            s.started_at < p.end_at,
            or_(s.ended_at.is_(None), s.ended_at > p.end_at),
            or_(s.created_at.is_(None), s.created_at <= p.end_at),
            or_(s.deleted_at.is_(None), s.deleted_at > p.end_at),
        ),
    )
    in_window = (o.closed_at >= bounds.first_since, o.closed_at < bounds.last_end)
    closed_in_window = select(o.crm_id).where(o.connection_id == connection_id, *in_window)
    first = (
        select(s.deal, func.min(s.started_at).label("first_at"))
        .where(s.deal.in_(closed_in_window))
        .group_by(s.deal)
        .subquery("first_span")
    )
    without_span = (
        select(o.owner_crm_id.label("rep"), p.idx, o.stage_category.label("category"))
        .join_from(
            periods,
            OPPORTUNITIES,
            and_(
                deal_exists(periods, connection_id),
                o.stage_category.in_(closed),
                *in_window,
                o.closed_at >= p.since_at,
                o.closed_at < p.end_at,
            ),
        )
        .outerjoin(first, first.c.deal == o.crm_id)
        .where(or_(first.c.first_at.is_(None), first.c.first_at > p.end_at))
    )
    totals = _won_and_lost(union_all(by_span, without_span).subquery("closed"), 1).subquery(
        "closed_totals"
    )
    t = totals.c
    return (
        select(t.rep, t.idx, t.n, t.won, t.lost)
        .join_from(totals, periods, p.idx == t.idx)
        .join(REPS, live_rep(periods, connection_id, t.rep))
    )


def _closed_deals_weighed(db: Database, frame: Frame, trailing_days: int) -> Select[Any]:
    """By amount: the deals' snapshot at each end, for their amount then."""
    periods = frame.periods_cte(trailing_days=trailing_days)
    wanted: list[SnapshotColumn] = ["category", "closed_change_at", "since_at", "amount"]
    deals = deal_snapshot(
        frame,
        periods,
        wanted,
        deals=[_closing_in_some_window(frame, trailing_days)],
        spans=stage_spans(db, frame),
    )
    d = deals.c
    closed = (
        select(d.rep, d.idx, d.category, d.amount)
        .where(
            d.category.in_((WON, LOST)),
            d.closed_change_at >= d.since_at,
            d.closed_change_at < d.end_at,
        )
        .subquery("closed")
    )
    return _won_and_lost(closed, closed.c.amount)
