"""Deals as they stood at each period end: the base of every deal-derived metric.

One row per period and deal that exists then (created, not yet deleted) and belongs to
a rep who is not deleted, carrying only the columns the metric asks for; each column
costs only the history it needs (the plain state of all fields is one window pass,
close-date pushes one more; stage entry times come from the source's stage spans).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import CTE, ColumnElement, FromClause, Subquery, and_, case, func, or_, select

from connectors.records import StageCategory
from service.store.metric_queries.common import (
    OPPORTUNITIES,
    REPS,
    Frame,
    deal_exists,
    live_rep,
)
from service.store.metric_queries.history import (
    Deals,
    StateField,
    chosen_deals,
    close_date_pushes,
    computed_once,
    open_in_window,
    pushes_at,
    state_at,
    state_history,
)

SnapshotColumn = Literal[
    "stage", "category", "entered_at", "closed_change_at", "amount", "close_date", "pushes",
    "days_pushed", "probability", "created_at", "qualification", "start_at", "since_at",
]  # fmt: skip

_ENTRY_COLUMNS = frozenset({"entered_at", "closed_change_at"})
_PUSH_COLUMNS = frozenset({"pushes", "days_pushed"})


def deal_snapshot(
    frame: Frame,
    periods: CTE,
    columns: Sequence[SnapshotColumn],
    *,
    open_only: bool = False,
    deals: Sequence[ColumnElement[bool]] = (),
    where: Sequence[ColumnElement[bool]] = (),
    spans: FromClause | None = None,
) -> CTE:
    """Every deal of a live rep that exists at each period end, with its state then.

    Always ``idx``, ``end_at``, ``deal`` and ``rep``, plus the requested ``columns``
    (``qualification`` is the current value: the CRMs keep no history of it). The
    snapshot is materialized, so every extra column is paid for on every deal and
    period. ``deals`` (conditions on ``OPPORTUNITIES`` alone) limits the deals, and the
    history read for them; ``where`` conditions may also use ``periods``. ``spans``
    (every deal's, :func:`~.history.stage_spans`) is what ``entered_at`` and
    ``closed_change_at`` are read from; it must be given when they are asked for.
    """
    o, p, connection_id = OPPORTUNITIES.c, periods.c, frame.connection_id
    bounds = frame.bounds()
    conditions = list(deals)
    if open_only:
        if spans is None:
            raise ValueError("open_only needs the stage spans")
        conditions.append(open_in_window(spans, bounds))
    chosen: Deals = chosen_deals(connection_id, conditions) if conditions else ()
    only_chosen = [o.crm_id.in_(select(chosen.c.crm_id))] if isinstance(chosen, CTE) else []
    query = (
        select(p.idx, p.end_at, o.crm_id.label("deal"), o.owner_crm_id.label("rep"))
        .select_from(periods)
        .join(OPPORTUNITIES, and_(deal_exists(periods, connection_id), *only_chosen))
        .join(REPS, live_rep(periods, connection_id, o.owner_crm_id))
    )
    found: dict[str, FromClause] = {}

    def attach(name: str, history: Subquery) -> None:
        nonlocal query
        query = query.outerjoin(history, and_(history.c.idx == p.idx, history.c.deal == o.crm_id))
        found[name] = history

    entries = bool(_ENTRY_COLUMNS & set(columns))
    if entries:
        if spans is None:
            raise ValueError("entered_at and closed_change_at need the stage spans")
        # The span in force at the period end (spans of a deal never overlap), found by
        # deal: on SQLite a probe of the spans table's index per deal and period.
        span = spans.alias("span_at")
        in_force = and_(
            span.c.deal == o.crm_id,
            span.c.started_at <= p.end_at,
            or_(span.c.ended_at.is_(None), span.c.ended_at > p.end_at),
        )
        query = query.outerjoin(span, in_force)
        found["stage"] = span
    fields = _state_fields(columns, open_only, stage_known=entries)
    if fields:
        attach(
            "state", state_at(state_history(connection_id, fields, chosen), periods, bounds, fields)
        )
        found.setdefault("stage", found["state"])
    if _PUSH_COLUMNS & set(columns):
        attach("pushes", pushes_at(close_date_pushes(connection_id, chosen), periods, bounds))
    query = query.add_columns(*(_column(name, found, periods) for name in columns))
    if open_only:
        query = query.where(category(found["stage"]) == StageCategory.OPEN.value)
    return computed_once(query.where(*where), "deal_at")


def _state_fields(
    columns: Sequence[str], open_only: bool, *, stage_known: bool
) -> list[StateField]:
    fields: list[StateField] = [
        name for name in ("amount", "close_date", "probability") if name in columns
    ]
    needs_stage = open_only or "stage" in columns or "category" in columns
    if needs_stage and not stage_known:
        fields.append("stage")
    return fields


def category(stage_at: FromClause) -> ColumnElement[Any]:
    """The stage category as of the instant (the current one without stage history).

    A history entry may name a stage the CRM's stage list no longer knows (no category):
    then it is the deal's current category if the stage is its current stage, else open.
    """
    o, s = OPPORTUNITIES.c, stage_at.c
    return case(
        (s.stage.is_(None), o.stage_category),
        (s.stage_category.is_not(None), s.stage_category),
        (s.stage == o.stage, o.stage_category),
        else_=StageCategory.OPEN.value,
    )


def _column(name: str, found: dict[str, FromClause], periods: CTE) -> Any:
    o = OPPORTUNITIES.c
    direct = {
        "created_at": o.created_in_crm_at,
        "qualification": o.qualification,
        "start_at": periods.c.start_at,
        "since_at": periods.c.since_at,
    }
    if name in direct:
        return direct[name].label(name)
    if name == "category":
        return category(found["stage"]).label(name)
    if name in _ENTRY_COLUMNS:
        stage = found["stage"].c
        if name == "entered_at":
            return func.coalesce(stage.started_at, o.created_in_crm_at).label(name)
        # When the deal entered its (closed) stage; without stage history, its closed_at.
        return case((stage.stage.is_(None), o.closed_at), else_=stage.started_at).label(name)
    if name in _PUSH_COLUMNS:
        return func.coalesce(found["pushes"].c[name], 0).label(name)
    source = found["stage"] if name == "stage" else found["state"]
    return func.coalesce(source.c[name], o[name]).label(name)
