"""Rate metrics: what a rep did inside each period (activities logged, pipeline created).

Activities are read once, in the range spanning all periods (bounds the planner can
see), and counted per rep and period in one grouped pass; pipeline created reads only
the history of the deals created in that span.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    and_,
    column,
    distinct,
    func,
    or_,
    select,
    values,
)

from rules.metrics import (
    ActiveDays,
    ActivityCount,
    MeetingsHeld,
    MetricSeries,
    Observation,
    PipelineCreated,
)
from service.store.metric_queries.common import (
    ACTIVITIES,
    OPPORTUNITIES,
    REPS,
    Database,
    Frame,
    alive_at,
    live_rep,
    local_day,
    not_own_task,
    number,
    parts,
    rep_series,
    run,
    top_deal_columns,
    top_deals,
    utc_offset_minutes,
)
from service.store.metric_queries.snapshot import deal_snapshot

_ZERO = Observation(value=0.0, sample=0)


def measure_activity_count(db: Database, spec: ActivityCount, frame: Frame) -> MetricSeries:
    return _count_activities(
        db,
        frame,
        kinds=spec.kinds,
        subtypes=spec.subtypes,
        outcomes=spec.outcomes,
        exclude_outcomes=spec.exclude_outcomes,
    )


def measure_meetings_held(db: Database, spec: MeetingsHeld, frame: Frame) -> MetricSeries:
    return _count_activities(db, frame, kinds=("meeting",), exclude_outcomes=spec.exclude_outcomes)


def measure_active_days(db: Database, spec: ActiveDays, frame: Frame) -> MetricSeries:
    """Distinct local days per rep and period. Each rep's day is shifted by their time
    zone's offset at the first period's start (a daylight-saving hour later in the range
    moves no working-hours activity across midnight); reps without a zone count UTC days.
    The offsets are one ``VALUES`` row per rep, worked out here: SQLite has no zones."""
    start = min(period.start for period in frame.periods)
    zones = db.execute(
        select(REPS.c.crm_id, REPS.c.time_zone).where(REPS.c.connection_id == frame.connection_id)
    ).all()
    if not zones:
        return {}
    offsets = (
        values(column("rep_crm_id", String), column("minutes", Integer), name="rep_offsets")
        .data([(crm_id, utc_offset_minutes(zone, start)) for crm_id, zone in zones])
        .cte("rep_offsets")
    )
    day = local_day(ACTIVITIES.c.occurred_at, offsets.c.minutes)
    return _count_activities(
        db,
        frame,
        counted=func.count(distinct(day)),
        joined=(offsets, offsets.c.rep_crm_id == REPS.c.crm_id),
    )


def _count_activities(
    db: Database,
    frame: Frame,
    *,
    kinds: Sequence[str] = (),
    subtypes: Sequence[str] = (),
    outcomes: Sequence[str] = (),
    exclude_outcomes: Sequence[str] = (),
    counted: ColumnElement[int] | None = None,
    joined: tuple[Any, ColumnElement[bool]] | None = None,
) -> MetricSeries:
    """Per rep and period, the matching activities (or ``counted`` of them, with the
    ``joined`` table and condition joined to the reps)."""
    a, bounds = ACTIVITIES.c, frame.bounds()
    matches = [
        a.connection_id == frame.connection_id,
        a.rep_crm_id == REPS.c.crm_id,
        a.occurred_at >= bounds.first_start,
        a.occurred_at < bounds.last_end,
        *_filters(kinds, subtypes, outcomes, exclude_outcomes),
        not_own_task(),
    ]
    n = (func.count() if counted is None else counted).label("n")
    if frame.disjoint:
        query = _counted_by_bucket(frame, matches, n)
    else:
        query = _counted_by_join(frame, matches, n)
    if joined is not None:
        query = query.join(*joined)

    def observe(row: Row[Any]) -> Observation:
        return Observation(value=float(row.n), sample=row.n)

    return rep_series(run(db, query), len(frame.periods), observe, _ZERO)


def _counted_by_bucket(
    frame: Frame, matches: list[ColumnElement[bool]], n: ColumnElement[int]
) -> Select[Any]:
    """Disjoint periods (what the rules ask for): each activity falls in at most one, so
    it is bucketed by a ``CASE`` over the periods' literal bounds and counted in one
    grouped pass, reps first, so each rep's activities are one range of the index
    ``(connection_id, rep_crm_id, occurred_at)``. (Joined to the periods CTE instead,
    SQLite without statistics puts the periods outside and rescans every activity of the
    connection once per period.)"""
    bucket = frame.bucket(ACTIVITIES.c.occurred_at, ACTIVITIES, REPS)
    return (
        select(REPS.c.crm_id.label("rep"), bucket.label("idx"), n)
        .join_from(REPS, ACTIVITIES, and_(*matches))
        .where(REPS.c.connection_id == frame.connection_id, bucket.is_not(None))
        .group_by(REPS.c.crm_id, bucket)
    )


def _counted_by_join(
    frame: Frame, matches: list[ColumnElement[bool]], n: ColumnElement[int]
) -> Select[Any]:
    """Overlapping periods: an activity may count in several, so join the periods."""
    periods = frame.periods_cte()
    p = periods.c
    in_period = and_(
        ACTIVITIES.c.occurred_at >= p.start_at,
        ACTIVITIES.c.occurred_at < p.end_at,
        alive_at(ACTIVITIES, p.end_at),
    )
    return (
        select(REPS.c.crm_id.label("rep"), p.idx, n)
        .select_from(periods)
        .join(REPS, live_rep(periods, frame.connection_id, REPS.c.crm_id))
        .join(ACTIVITIES, and_(*matches, in_period))
        .group_by(REPS.c.crm_id, p.idx)
    )


def _filters(
    kinds: Sequence[str],
    subtypes: Sequence[str],
    outcomes: Sequence[str],
    exclude_outcomes: Sequence[str],
) -> list[ColumnElement[bool]]:
    """Kind and subtype compare exactly; outcomes case-insensitively (SQLite's ``lower``
    folds ASCII letters only); a NULL outcome is never excluded."""
    a = ACTIVITIES.c
    found: list[ColumnElement[bool]] = []
    if kinds:
        found.append(a.kind.in_(kinds))
    if subtypes:
        found.append(a.subtype.in_(subtypes))
    if outcomes:
        found.append(func.lower(a.outcome).in_([outcome.lower() for outcome in outcomes]))
    if exclude_outcomes:
        excluded = [outcome.lower() for outcome in exclude_outcomes]
        found.append(or_(a.outcome.is_(None), func.lower(a.outcome).not_in(excluded)))
    return found


def measure_pipeline_created(db: Database, spec: PipelineCreated, frame: Frame) -> MetricSeries:
    """Deals created in the period by their current owner, amounts as of the period end."""
    periods, bounds = frame.periods_cte(), frame.bounds()
    created = OPPORTUNITIES.c.created_in_crm_at
    deals = deal_snapshot(
        frame,
        periods,
        ["amount"],
        deals=[created >= bounds.first_start, created < bounds.last_end],
        where=[created >= periods.c.start_at, created < periods.c.end_at],
    )
    d = deals.c
    rank = (
        func.row_number()
        .over(partition_by=(d.rep, d.idx), order_by=(d.amount.desc().nulls_last(), d.deal))
        .label("rank")
    )
    ranked = select(d.rep, d.idx, d.deal, d.amount, rank).subquery("ranked")
    r = ranked.c
    query = select(
        r.rep,
        r.idx,
        func.count().label("n"),
        func.sum(func.coalesce(r.amount, 0)).label("amount"),
        *top_deal_columns(r.rank, r.deal),
    ).group_by(r.rep, r.idx)

    def observe(row: Row[Any]) -> Observation:
        value = float(row.n) if spec.measure == "count" else number(row.amount)
        return Observation(
            value=value,
            sample=row.n,
            parts=parts(count=row.n, amount=row.amount),
            deals=top_deals(row),
        )

    empty = Observation(value=0.0, sample=0, parts=parts(count=0, amount=0))
    return rep_series(run(db, query), len(frame.periods), observe, empty)
