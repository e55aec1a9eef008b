"""What every metric query shares: the periods as a CTE, dialect differences, row shaping.

The requested periods travel into SQL as one small CTE of literal rows (``VALUES``), one
row per period, carrying every instant a metric needs (start, end, the end's calendar
day, the start of a trailing window), so a metric over n periods is still one grouped
query and the SQL never does calendar arithmetic. The only SQL that differs between
SQLite and PostgreSQL is here: the length of an interval in days.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Float,
    Integer,
    Row,
    Select,
    Table,
    and_,
    case,
    column,
    func,
    or_,
    values,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from rules.metrics import MetricSeries, Observation, SubjectKey
from rules.periods import Period
from service.store import models
from service.store.types import UtcDateTime

Database = Session | Connection

REPS: Table = models.Rep.__table__  # type: ignore[assignment]
OPPORTUNITIES: Table = models.Opportunity.__table__  # type: ignore[assignment]
CHANGES: Table = models.OpportunityChange.__table__  # type: ignore[assignment]
ACTIVITIES: Table = models.Activity.__table__  # type: ignore[assignment]
QUOTAS: Table = models.Quota.__table__  # type: ignore[assignment]

#: Evidence lists at most this many deals (``Observation.deals``).
TOP_DEALS = 5


@dataclass(frozen=True, slots=True)
class Frame:
    """One measurement request: which connection, which periods."""

    connection_id: int
    periods: Sequence[Period]

    def periods_cte(self, trailing_days: int = 0) -> CTE:
        """The periods as literal rows: ``idx``, ``start_at``, ``end_at`` (the instant a
        snapshot is read at), ``last_day`` (the calendar day that instant closes) and
        ``since_at`` (``end_at`` minus ``trailing_days``, for trailing windows)."""
        rows = [
            (
                index,
                period.start,
                period.end,
                period.last_day,
                period.end - timedelta(trailing_days),
            )
            for index, period in enumerate(self.periods)
        ]
        table = values(
            column("idx", Integer),
            column("start_at", UtcDateTime()),
            column("end_at", UtcDateTime()),
            column("last_day", Date()),
            column("since_at", UtcDateTime()),
            name="periods",
        ).data(rows)
        return table.cte("periods")


# ------------------------------------------------------------------ dialect differences


class days_between(FunctionElement[float]):  # noqa: N801 - reads like the SQL function it is
    """``later - earlier`` in fractional days, for two timestamps or two dates.

    SQLite keeps times as ISO text and measures them with ``julianday``; PostgreSQL
    subtracts natively (an interval for timestamps, whole days for dates).
    """

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({later}) - julianday({earlier}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later_clause, earlier_clause = element.clauses
    later, earlier = compiler.process(later_clause, **kw), compiler.process(earlier_clause, **kw)
    if isinstance(later_clause.type, Date):
        return f"CAST(({later} - {earlier}) AS DOUBLE PRECISION)"
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"


# ------------------------------------------------------------------ shared predicates


def alive_at(table: Table | Any, instant: ColumnElement[Any]) -> ColumnElement[bool]:
    """The row was not (soft-)deleted at or before ``instant``."""
    return or_(table.c.deleted_at.is_(None), table.c.deleted_at > instant)


def live_rep(
    periods: CTE, connection_id: int, rep_crm_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    """Join condition to ``reps``: a rep of the connection, not deleted at the period end."""
    return and_(
        REPS.c.connection_id == connection_id,
        REPS.c.crm_id == rep_crm_id,
        alive_at(REPS, periods.c.end_at),
    )


def deal_exists(periods: CTE, connection_id: int) -> ColumnElement[bool]:
    """Join condition to ``opportunities``: the deal was created at or before the period
    end (a deal without a creation time always existed) and not deleted by then."""
    o = OPPORTUNITIES.c
    return and_(
        o.connection_id == connection_id,
        or_(o.created_in_crm_at.is_(None), o.created_in_crm_at <= periods.c.end_at),
        alive_at(OPPORTUNITIES, periods.c.end_at),
    )


def top_deal_columns(rank: ColumnElement[int], deal: ColumnElement[str]) -> list[Any]:
    """``deal_1`` .. ``deal_5``: the deal ranked k-th in each group, for the evidence.

    Portable stand-in for an ordered string aggregate (SQLite before 3.44 cannot order
    ``group_concat``)."""
    return [func.max(case((rank == k, deal))).label(f"deal_{k}") for k in range(1, TOP_DEALS + 1)]


def top_deals(row: Row[Any]) -> tuple[str, ...]:
    mapping = row._mapping
    found = (mapping[f"deal_{k}"] for k in range(1, TOP_DEALS + 1))
    return tuple(deal for deal in found if deal is not None)


def number(value: Decimal | float | int | None) -> float:
    """A SQL number as a float (PostgreSQL sums money as Decimal, SQLite as float); NULL is 0."""
    return 0.0 if value is None else float(value)


# ------------------------------------------------------------------ result shaping


def run(db: Database, query: Select[Any]) -> Sequence[Row[Any]]:
    """Execute the metric's one statement."""
    return db.execute(query).all()


def series(
    rows: Iterable[Row[Any]],
    period_count: int,
    key: Callable[[Row[Any]], SubjectKey | None],
    observe: Callable[[Row[Any]], Observation],
    empty: Observation | None = None,
) -> MetricSeries:
    """One observation per subject and period from rows carrying ``idx``.

    Periods a subject has no row for get ``empty``: a zero observation for rate
    metrics, None ("nothing to measure") for snapshots.
    """
    out: dict[SubjectKey, list[Observation | None]] = {}
    for row in rows:
        subject = key(row)
        if subject is None:
            continue
        slots = out.setdefault(subject, [empty] * period_count)
        slots[row.idx] = observe(row)
    return out


def rep_key(row: Row[Any]) -> SubjectKey:
    return SubjectKey(row.rep)


def deal_key(row: Row[Any]) -> SubjectKey:
    return SubjectKey(row.rep, row.deal)


def parts(**values: Decimal | float | int | None) -> Mapping[str, float]:
    return {name: number(value) for name, value in values.items()}
