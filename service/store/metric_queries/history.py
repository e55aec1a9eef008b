"""Deals "as of" an instant, read from their change history with window functions.

The catalogue's rule: a deal's stage, amount, close date and probability at ``t`` come
from the newest change at or before ``t`` that recorded that field, else from the deal's
current row. Rather than ranking every change once per period (changes x periods rows to
sort), each field's history is turned into validity intervals in one window pass
(``LEAD`` gives when the next recording of the field took over), and a period then picks
the one interval containing its end: a range join that touches each change n times but
sorts it only once.

History entries are read whatever their own ``deleted_at``: they are facts of the past,
and a CRM only deletes them together with their deal, whose own ``deleted_at`` already
hides it from the instant of deletion on. Ties on ``changed_at`` are broken by CRM id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    func,
    or_,
    select,
)

from connectors.records import StageCategory
from service.store.metric_queries.common import (
    CHANGES,
    OPPORTUNITIES,
    REPS,
    days_between,
    deal_exists,
    live_rep,
)
from service.store.types import UtcDateTime

Field = Literal["stage", "amount", "close_date", "probability"]


def _window(deal: ColumnElement[Any], changed_at: Any, crm_id: Any) -> dict[str, Any]:
    return {"partition_by": deal, "order_by": (changed_at, crm_id)}


def _running(deal: ColumnElement[Any], changed_at: Any, crm_id: Any) -> dict[str, Any]:
    return {**_window(deal, changed_at, crm_id), "rows": (None, 0)}


def _recorded(connection_id: int, column: str) -> Subquery:
    """The changes that recorded ``column``, each with the previous recorded value and
    the time the next recording took over (NULL for the newest)."""
    value = CHANGES.c[column]
    over = _window(CHANGES.c.opportunity_crm_id, CHANGES.c.changed_at, CHANGES.c.crm_id)
    return (
        select(
            CHANGES.c.opportunity_crm_id.label("deal"),
            CHANGES.c.crm_id,
            CHANGES.c.changed_at,
            value.label("value"),
            CHANGES.c.stage_category,
            func.lag(value, type_=value.type).over(**over).label("previous"),
            func.lead(CHANGES.c.changed_at, type_=UtcDateTime()).over(**over).label("next_at"),
        )
        .where(CHANGES.c.connection_id == connection_id, value.is_not(None))
        .subquery(f"{column}_recorded")
    )


def _computed_once(query: Select[Any], name: str) -> CTE:
    """A history as a CTE that PostgreSQL must materialize rather than inline.

    Inlined, a window subquery on the inner side of a nested loop is recomputed for every
    outer row; the planner picks such loops whenever it lacks statistics (a store that
    was just loaded and not yet analyzed), which turned a 0.1 s query into minutes.
    """
    return query.cte(name).prefix_with("MATERIALIZED", dialect="postgresql")


def stage_history(connection_id: int) -> CTE:
    """Stage recordings with ``entered_at``: when the deal entered the stage it is in.

    A recording enters a stage when it differs from the previous recording (the first
    recording always does: nothing is known before it)."""
    recorded = _recorded(connection_id, "stage")
    c = recorded.c
    entered = or_(c.previous.is_(None), c.value != c.previous)
    query = select(
        c.deal,
        c.changed_at,
        c.next_at,
        c.value.label("stage"),
        c.stage_category,
        func.max(case((entered, c.changed_at)))
        .over(**_running(c.deal, c.changed_at, c.crm_id))
        .label("entered_at"),
    )
    return _computed_once(query, "stage_history")


def stints(connection_id: int) -> CTE:
    """Stints: from a change that put a deal in a stage to the next one that recorded a
    different stage (``ended_at`` NULL while the deal is still in it)."""
    recorded = _recorded(connection_id, "stage")
    c = recorded.c
    entries = (
        select(c.deal, c.crm_id, c.changed_at, c.value.label("stage"), c.stage_category)
        .where(or_(c.previous.is_(None), c.value != c.previous))
        .subquery("stage_entries")
    )
    e = entries.c
    query = select(
        e.deal,
        e.stage,
        e.stage_category,
        e.changed_at.label("started_at"),
        func.lead(e.changed_at, type_=UtcDateTime())
        .over(**_window(e.deal, e.changed_at, e.crm_id))
        .label("ended_at"),
    )
    return _computed_once(query, "stints")


def close_date_history(connection_id: int) -> CTE:
    """Close-date recordings with the running count and total days of pushes (a recording
    later than the one before it)."""
    recorded = _recorded(connection_id, "close_date")
    c = recorded.c
    pushed = c.value > c.previous
    running = _running(c.deal, c.changed_at, c.crm_id)
    query = select(
        c.deal,
        c.changed_at,
        c.next_at,
        c.value.label("close_date"),
        func.sum(case((pushed, 1), else_=0)).over(**running).label("pushes"),
        func.sum(case((pushed, days_between(c.value, c.previous)), else_=0.0))
        .over(**running)
        .label("days_pushed"),
    )
    return _computed_once(query, "close_date_history")


def field_history(connection_id: int, column: Literal["amount", "probability"]) -> CTE:
    recorded = _recorded(connection_id, column)
    c = recorded.c
    query = select(c.deal, c.changed_at, c.next_at, c.value.label(column))
    return _computed_once(query, f"{column}_history")


def as_of(history: CTE, periods: CTE, name: str) -> Subquery:
    """For each period, each deal's history entry in force at the period end."""
    h = history.c
    in_force = and_(
        h.changed_at <= periods.c.end_at, or_(h.next_at.is_(None), h.next_at > periods.c.end_at)
    )
    kept = [col for col in history.c if col.name not in ("changed_at", "next_at")]
    return select(periods.c.idx, *kept).join_from(periods, history, in_force).subquery(name)


def deal_snapshot(
    connection_id: int,
    periods: CTE,
    fields: Sequence[Field],
    *,
    open_only: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
) -> CTE:
    """Every deal of a live rep that exists at each period end, with its state then.

    Columns: ``idx``, ``end_at``, ``since_at``, ``last_day``, ``start_at``, ``deal``,
    ``rep``, ``created_at``, ``qualification`` (current: the CRMs keep no history of it),
    and per requested field: ``stage``, ``category``, ``entered_at``, ``closed_change_at``
    (stage); ``amount``; ``close_date``, ``pushes``, ``days_pushed`` (close_date);
    ``probability``.
    ``where`` conditions may use ``OPPORTUNITIES`` and ``periods``.
    """
    o, p = OPPORTUNITIES.c, periods.c
    columns: list[Any] = [
        p.idx, p.start_at, p.end_at, p.since_at, p.last_day,
        o.crm_id.label("deal"), o.owner_crm_id.label("rep"),
        o.created_in_crm_at.label("created_at"), o.qualification,
    ]  # fmt: skip
    query = (
        select()
        .select_from(periods)
        .join(OPPORTUNITIES, deal_exists(periods, connection_id))
        .join(REPS, live_rep(periods, connection_id, o.owner_crm_id))
    )
    conditions = list(where)
    for field in fields:
        history = _history(connection_id, field)
        at = as_of(history, periods, f"{field}_at")
        query = query.outerjoin(at, and_(at.c.idx == p.idx, at.c.deal == o.crm_id))
        columns += _field_columns(field, at)
        if field == "stage" and open_only:
            conditions.append(category(at) == StageCategory.OPEN)
    return _computed_once(query.add_columns(*columns).where(*conditions), "deal_at")


def _history(connection_id: int, field: Field) -> CTE:
    if field == "stage":
        return stage_history(connection_id)
    if field == "close_date":
        return close_date_history(connection_id)
    return field_history(connection_id, field)


def category(stage_at: Subquery) -> ColumnElement[Any]:
    """The stage category as of the instant.

    A history entry may name a stage the CRM's stage list no longer knows (no category):
    then it is the deal's current category if the stage is its current stage, else open.
    """
    o, s = OPPORTUNITIES.c, stage_at.c
    return case(
        (s.deal.is_(None), o.stage_category),
        (s.stage_category.is_not(None), s.stage_category),
        (s.stage == o.stage, o.stage_category),
        else_=StageCategory.OPEN.value,
    )


def _field_columns(field: str, at: Subquery) -> list[Any]:
    o, a = OPPORTUNITIES.c, at.c
    if field == "stage":
        return [
            func.coalesce(a.stage, o.stage).label("stage"),
            category(at).label("category"),
            func.coalesce(a.entered_at, o.created_in_crm_at).label("entered_at"),
            # When the deal entered its (closed) stage; without history, its closed_at.
            case((a.deal.is_(None), o.closed_at), else_=a.entered_at).label("closed_change_at"),
        ]
    if field == "close_date":
        return [
            func.coalesce(a.close_date, o.close_date).label("close_date"),
            func.coalesce(a.pushes, 0).label("pushes"),
            func.coalesce(a.days_pushed, 0.0).label("days_pushed"),
        ]
    return [func.coalesce(a[field], o[field]).label(field)]
