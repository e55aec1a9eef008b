"""Deal history as validity intervals, computed with window functions.

The catalogue's rule: a deal's stage, amount, close date and probability at ``t`` come
from the newest change at or before ``t`` that recorded that field, else from the deal's
current row. Rather than ranking every change once per period (changes x periods rows to
sort), each recording gets the time the next recording of the same field took over, in
one window pass over the history, and a period end then picks the one recording per
field whose interval contains it: a range join, after literal bounds have dropped the
recordings superseded before the first period or made after the last.

Stage spans are the exception to "per statement": every stage metric, the win rate and
the choice of the deals that can be open all read them, so a metric source makes them
once, into a temporary table (:func:`stage_spans`).

History entries are read whatever their own ``deleted_at``: they are facts of the past,
and a CRM only deletes them together with their deal, whose own ``deleted_at`` already
hides it from the instant of deletion on. Ties on ``changed_at`` are broken by CRM id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    CTE,
    ClauseElement,
    Column,
    ColumnElement,
    Executable,
    Float,
    FromClause,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    and_,
    case,
    func,
    or_,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from connectors.records import StageCategory
from service.store.metric_queries.common import (
    CHANGES,
    OPPORTUNITIES,
    Bounds,
    Database,
    Frame,
    days_between,
)
from service.store.types import UtcDateTime

StateField = Literal["stage", "amount", "close_date", "probability"]

_DEAL, _AT, _ID = CHANGES.c.opportunity_crm_id, CHANGES.c.changed_at, CHANGES.c.crm_id


def _window(deal: Any = _DEAL, changed_at: Any = _AT, crm_id: Any = _ID) -> dict[str, Any]:
    return {"partition_by": deal, "order_by": (changed_at, crm_id)}


def computed_once(query: Select[Any], name: str) -> CTE:
    """A CTE the database must materialize rather than inline.

    Inlined, a window subquery on the inner side of a nested loop is recomputed for every
    outer row; PostgreSQL picks such loops whenever it lacks statistics (a store just
    loaded and not yet analyzed), which turned a 0.1 s query into minutes, and SQLite
    inlines a CTE used once (days in stage went from 2 s to 9 s without the hint).
    """
    cte = query.cte(name)
    return cte.prefix_with("MATERIALIZED", dialect="postgresql").prefix_with(
        "MATERIALIZED", dialect="sqlite"
    )


# ------------------------------------------------------------------ the plain state


class next_recorded_at(FunctionElement[datetime]):  # noqa: N801 - reads like SQL
    """When the next change of the same deal recorded ``column`` (NULL if none did).

    Rendered by hand because SQLAlchemy 2.1 binds frame offsets as parameters, and
    PostgreSQL only shares one sort and one pass between window functions whose frames
    are identical: with a literal ``1 FOLLOWING`` every field rides the same window.
    """

    type = UtcDateTime()
    inherit_cache = True
    name = "next_recorded_at"


@compiles(next_recorded_at)
def _next_recorded_at(element: next_recorded_at, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    recorded, deal, at, crm_id = (
        compiler.process(clause, **kw) for clause in (column, _DEAL, _AT, _ID)
    )
    return (
        f"min(CASE WHEN {recorded} IS NOT NULL THEN {at} END) OVER (PARTITION BY {deal} "
        f"ORDER BY {at}, {crm_id} ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)"
    )


Deals = Sequence[ColumnElement[bool]] | CTE


def chosen_deals(connection_id: int, conditions: Sequence[ColumnElement[bool]]) -> CTE:
    """The CRM ids of the connection's deals matching ``conditions`` (on
    ``opportunities``), worked out once per statement: tested per history row instead,
    the conditions' subqueries ran once per deal in the history's nested loop."""
    o = OPPORTUNITIES.c
    query = select(o.crm_id).where(o.connection_id == connection_id, *conditions)
    return computed_once(query, "chosen_deals")


def _changes_of(connection_id: int, deals: Deals) -> list[ColumnElement[bool]]:
    """The connection's history rows, only of the deals in ``deals`` when given (a
    :func:`chosen_deals` CTE, or conditions on ``opportunities``): a metric about a few
    deals sorts only their history."""
    found = [CHANGES.c.connection_id == connection_id]
    if isinstance(deals, CTE):
        found.append(_DEAL.in_(select(deals.c.crm_id)))
    elif deals:
        o = OPPORTUNITIES.c
        chosen = select(o.crm_id).where(o.connection_id == connection_id, *deals)
        found.append(_DEAL.in_(chosen))
    return found


def state_history(connection_id: int, fields: Sequence[StateField], deals: Deals = ()) -> CTE:
    """Every change row with, per field, when the next recording of that field took over
    (``next_<field>_at``, NULL for the newest): one sort of the history for all fields."""
    next_at = [next_recorded_at(CHANGES.c[name]).label(f"next_{name}_at") for name in fields]
    values = [CHANGES.c[name] for name in fields]
    if "stage" in fields:
        values.append(CHANGES.c.stage_category)
    query = select(_DEAL.label("deal"), _AT, *values, *next_at).where(
        *_changes_of(connection_id, deals)
    )
    return computed_once(query, "state_history")


def state_at(history: CTE, periods: CTE, bounds: Bounds, fields: Sequence[StateField]) -> Subquery:
    """Per period and deal with history then: each field's value in force at the period
    end (NULL when no recording of it happened yet), and the stage's category."""
    h, end = history.c, periods.c.end_at

    def in_force(name: str, instant: ColumnElement[Any]) -> ColumnElement[bool]:
        following = h[f"next_{name}_at"]
        return and_(h[name].is_not(None), or_(following.is_(None), following > instant))

    values = [func.max(case((in_force(name, end), h[name]))).label(name) for name in fields]
    if "stage" in fields:
        category = func.max(case((in_force("stage", end), h.stage_category)))
        values.append(category.label("stage_category"))
    return (
        select(periods.c.idx, h.deal, *values)
        .join_from(periods, history, h.changed_at <= end)
        .where(
            h.changed_at <= bounds.last_end,
            or_(*(in_force(name, bounds.first_end) for name in fields)),
            or_(*(in_force(name, end) for name in fields)),
        )
        .group_by(periods.c.idx, h.deal)
        .subquery("state_at")
    )


# ------------------------------------------------------------------ stage spans, pushes


def _recorded(connection_id: int, column: str, name: str, deals: Deals = ()) -> Subquery:
    """The changes that recorded ``column``, each with the previous recorded value."""
    value = CHANGES.c[column]
    return (
        select(
            _DEAL.label("deal"),
            _ID,
            _AT,
            value.label("value"),
            CHANGES.c.stage_category,
            func.lag(value, type_=value.type).over(**_window()).label("previous"),
        )
        .where(*_changes_of(connection_id, deals), value.is_not(None))
        .subquery(name)
    )


def _stage_span_rows(connection_id: int, deals: Deals = ()) -> Select[Any]:
    """A deal's time in each stage: from a change that put it in a stage (one that
    recorded a stage different from the recording before it; the first recording always
    does) to the next such change (``ended_at`` NULL while the deal is still in it).

    Columns: ``deal``, ``stage``, ``stage_category`` (see :func:`stint_category`),
    ``started_at``, ``ended_at``, ``days`` (NULL while open) and the deal's ``rep``,
    ``created_at`` and ``deleted_at``. Completed spans are the stints of the stage
    metrics; the span in force at ``t`` says when the deal entered its stage.
    """
    c = _recorded(connection_id, "stage", "stage_recorded", deals).c
    entries = (
        select(c.deal, c.crm_id, c.changed_at, c.value.label("stage"), c.stage_category)
        .where(or_(c.previous.is_(None), c.value != c.previous))
        .subquery("stage_entries")
    )
    e = entries.c
    spans = select(
        e.deal,
        e.stage,
        e.stage_category,
        e.changed_at.label("started_at"),
        func.lead(e.changed_at, type_=UtcDateTime())
        .over(**_window(e.deal, e.changed_at, e.crm_id))
        .label("ended_at"),
    ).subquery("stage_span_rows")
    s, o = spans.c, OPPORTUNITIES.c
    return select(
        s.deal,
        s.stage,
        stint_category(s.stage, s.stage_category).label("stage_category"),
        s.started_at,
        s.ended_at,
        days_between(s.ended_at, s.started_at).label("days"),
        o.owner_crm_id.label("rep"),
        o.created_in_crm_at.label("created_at"),
        o.deleted_at,
    ).join_from(spans, OPPORTUNITIES, and_(o.connection_id == connection_id, o.crm_id == s.deal))


def stage_spans(db: Database, frame: Frame) -> Table:
    """The stage spans of every deal of the connection (:func:`_stage_span_rows`), made
    once per metric source into a temporary table that the stage medians, the win rate
    and the open-deal snapshots all read: each of them used to repeat the two window
    passes over the whole history that make the spans, the costliest work of an
    evaluation. The table is the history as this source first read it; it lives in the
    transaction's connection (dropped at commit on PostgreSQL, by
    :func:`drop_temporary_tables` at the end of an evaluation on both).
    """
    key = ("stage spans", ())
    table: Table | None = frame.shared.get(key)
    if table is None:
        table = _spans_table(f"dc_stage_spans_{int(frame.connection_id)}")
        db.execute(_DropTemporaryTable(table.name))
        db.execute(_CreateTemporaryTableAs(table.name, _stage_span_rows(frame.connection_id)))
        if _dialect_name(db) == "sqlite":
            # SQLite joins the spans by deal with a nested loop: it needs the index.
            # PostgreSQL hashes them, and the index would only cost its making.
            db.execute(_CreateTemporaryIndex(table.name, ("deal", "started_at")))
        frame.shared[key] = table
    return table


def _dialect_name(db: Database) -> str:
    return db.get_bind().dialect.name if isinstance(db, Session) else db.dialect.name


def drop_temporary_tables(db: Database, shared: Mapping[Any, Any]) -> None:
    """Drop the temporary tables a metric source made (see :func:`stage_spans`)."""
    for value in shared.values():
        if isinstance(value, Table):
            db.execute(_DropTemporaryTable(value.name))


def _spans_table(name: str) -> Table:
    return Table(
        name,
        MetaData(),
        Column("deal", String),
        Column("stage", String),
        Column("stage_category", String),
        Column("started_at", UtcDateTime()),
        Column("ended_at", UtcDateTime()),
        Column("days", Float),
        Column("rep", String),
        Column("created_at", UtcDateTime()),
        Column("deleted_at", UtcDateTime()),
    )


class _CreateTemporaryTableAs(Executable, ClauseElement):
    """``CREATE TEMPORARY TABLE name AS query``; on PostgreSQL dropped at commit too."""

    inherit_cache = False

    def __init__(self, name: str, query: Select[Any]) -> None:
        self.name, self.query = name, query


@compiles(_CreateTemporaryTableAs)
def _create_temporary_table_as(
    element: _CreateTemporaryTableAs, compiler: SQLCompiler, **kw: Any
) -> str:
    on_commit = " ON COMMIT DROP" if compiler.dialect.name == "postgresql" else ""
    query = compiler.process(element.query, **kw)
    return f"CREATE TEMPORARY TABLE {element.name}{on_commit} AS {query}"


class _CreateTemporaryIndex(Executable, ClauseElement):
    """An index on a temporary table (in SQLite's ``temp`` schema, as the table is)."""

    inherit_cache = False

    def __init__(self, table: str, columns: Sequence[str]) -> None:
        self.table, self.columns = table, tuple(columns)


@compiles(_CreateTemporaryIndex)
def _create_temporary_index(
    element: _CreateTemporaryIndex, compiler: SQLCompiler, **kw: Any
) -> str:
    schema = "temp." if compiler.dialect.name == "sqlite" else ""
    name = f"{element.table}_{'_'.join(element.columns)}"
    return f"CREATE INDEX {schema}{name} ON {element.table} ({', '.join(element.columns)})"


class _DropTemporaryTable(Executable, ClauseElement):
    """``DROP TABLE IF EXISTS`` the temporary table ``name`` (never a permanent one)."""

    inherit_cache = False

    def __init__(self, name: str) -> None:
        self.name = name


@compiles(_DropTemporaryTable)
def _drop_temporary_table(element: _DropTemporaryTable, compiler: SQLCompiler, **kw: Any) -> str:
    schema = "pg_temp" if compiler.dialect.name == "postgresql" else "temp"
    return f"DROP TABLE IF EXISTS {schema}.{element.name}"


def stint_category(stage: ColumnElement[Any], category: ColumnElement[Any]) -> ColumnElement[Any]:
    """A recorded stage's category; a stage the CRM no longer knows (no category) takes the
    deal's current category if it is the deal's current stage, else counts as open."""
    o = OPPORTUNITIES.c
    return case(
        (category.is_not(None), category),
        (stage == o.stage, o.stage_category),
        else_=StageCategory.OPEN.value,
    )


def open_in_window(spans: FromClause, bounds: Bounds) -> ColumnElement[bool]:
    """A condition on ``opportunities``: the deal can be open at some instant from
    ``bounds.first_end`` on (see :func:`category_in_window`)."""
    return category_in_window(spans, bounds, (StageCategory.OPEN,))


def category_in_window(
    spans: FromClause, bounds: Bounds, categories: Sequence[StageCategory]
) -> ColumnElement[bool]:
    """A condition on ``opportunities``: the deal can be in one of ``categories`` at some
    instant from ``bounds.first_end`` on, read from the stage spans (:func:`stage_spans`).

    A superset, never a guess: a deal is in such a category at such an instant only
    while a span of that category is in force, which then ends after ``first_end`` or
    not at all; before its first span (or without any), a deal has its current category,
    and a deal whose first span starts after ``first_end`` is kept whatever it was.

    Most of an org's deals closed long ago; dropping them before the snapshot joins them
    to every period (and sorts their history) is what keeps the deal metrics cheap. One
    pass over the spans table, hashed, where probing the history index per deal cost
    more than the rest of a snapshot.
    """
    o, s = OPPORTUNITIES.c, spans.c
    wanted = [category.value for category in categories]
    may_be = select(s.deal).where(
        or_(
            and_(
                s.stage_category.in_(wanted),
                or_(s.ended_at.is_(None), s.ended_at > bounds.first_end),
            ),
            s.started_at > bounds.first_end,
        )
    )
    without_spans = and_(o.stage_category.in_(wanted), o.crm_id.not_in(select(s.deal)))
    return or_(o.crm_id.in_(may_be), without_spans)


def close_date_pushes(connection_id: int, deals: Deals = ()) -> CTE:
    """Every push: a close-date recording later than the recording before it, with the
    ``days`` it moved the date. Pushes are few, so counting them up to each period end
    (:func:`pushes_at`) is cheaper than a running count over every recording."""
    c = _recorded(connection_id, "close_date", "close_date_recorded", deals).c
    query = select(c.deal, c.changed_at, days_between(c.value, c.previous).label("days")).where(
        c.value > c.previous
    )
    return computed_once(query, "close_date_pushes")


def pushes_at(pushes: CTE, periods: CTE, bounds: Bounds) -> Subquery:
    """Per period and deal pushed by then: ``pushes`` and ``days_pushed`` up to the end."""
    h = pushes.c
    return (
        select(
            periods.c.idx,
            h.deal,
            func.count().label("pushes"),
            func.sum(h.days).label("days_pushed"),
        )
        .join_from(periods, pushes, h.changed_at <= periods.c.end_at)
        .where(h.changed_at <= bounds.last_end)
        .group_by(periods.c.idx, h.deal)
        .subquery("pushes_at")
    )
