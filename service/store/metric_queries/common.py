"""What every metric query shares: the periods as a CTE, dialect differences, row shaping.

The requested periods travel into SQL as one small CTE of literal rows (``VALUES``), one
row per period, carrying every instant a metric needs (start, end, the end's calendar
day, the start of a trailing window), so a metric over n periods is still one grouped
query and the SQL never does calendar arithmetic.

What differs between SQLite and PostgreSQL: the length of an interval in days
(:class:`days_between`, here); the ``MATERIALIZED`` hint PostgreSQL gets on the history
CTEs (``history.computed_once``); JSON field text, which SQLAlchemy's JSON type already
renders as ``json_extract`` or ``->>``. Nothing else.
"""

from __future__ import annotations

from collections.abc import (
    Callable,
    ItemsView,
    Iterable,
    Iterator,
    KeysView,
    Mapping,
    Sequence,
    ValuesView,
)
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
    literal,
    or_,
    select,
    values,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from connectors.records import ActivityKind
from rules.metrics import MetricSeries, Observation, SubjectKey
from rules.periods import Period
from service.store import tables
from service.store.types import UtcDateTime

Database = Session | Connection

REPS: Table = tables.Rep.__table__  # type: ignore[assignment]
OPPORTUNITIES: Table = tables.Opportunity.__table__  # type: ignore[assignment]
CHANGES: Table = tables.OpportunityChange.__table__  # type: ignore[assignment]
ACTIVITIES: Table = tables.Activity.__table__  # type: ignore[assignment]
QUOTAS: Table = tables.Quota.__table__  # type: ignore[assignment]
CRM_WRITES: Table = tables.CrmWrite.__table__  # type: ignore[assignment]

#: Evidence lists at most this many deals (``Observation.deals``).
TOP_DEALS = 5


@dataclass(frozen=True, slots=True)
class Bounds:
    """Where the periods begin and end, as literals the planner can see (it cannot see
    inside the periods CTE), so rows outside every period are dropped before any join:
    ``first_start`` / ``last_end`` bound rate metrics, ``first_end`` / ``last_end`` the
    instants snapshots are read at, ``first_since`` the earliest trailing window."""

    first_start: ColumnElement[datetime]
    first_end: ColumnElement[datetime]
    last_end: ColumnElement[datetime]
    first_since: ColumnElement[datetime]


@dataclass(frozen=True, slots=True)
class Frame:
    """One measurement request: which connection, which periods."""

    connection_id: int
    periods: Sequence[Period]
    #: What metrics of one source share: the rows of a statement they all run (quota pace
    #: and pipeline coverage read the same totals), keyed by name and periods; temporary
    #: tables the source made (``history.stage_spans``).
    shared: dict[tuple[str, tuple[Period, ...]], Any] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    def once(self, name: str, compute: Callable[[], Sequence[Row[Any]]]) -> Sequence[Row[Any]]:
        """``compute()``'s rows, run once per source for this name and these periods."""
        key = (name, tuple(self.periods))
        if key not in self.shared:
            self.shared[key] = compute()
        rows: Sequence[Row[Any]] = self.shared[key]
        return rows

    def bounds(self, trailing_days: int = 0) -> Bounds:
        """The outer limits of the periods as bound literals (see :class:`Bounds`)."""
        first_end = min(period.end for period in self.periods)

        def at(moment: datetime) -> ColumnElement[datetime]:
            return literal(moment, UtcDateTime())

        return Bounds(
            first_start=at(min(period.start for period in self.periods)),
            first_end=at(first_end),
            last_end=at(max(period.end for period in self.periods)),
            first_since=at(first_end - timedelta(trailing_days)),
        )

    @property
    def disjoint(self) -> bool:
        """No instant lies in two periods (always so for the periods the rules ask for)."""
        ordered = sorted(self.periods, key=lambda period: period.start)
        return all(earlier.end <= later.start for earlier, later in pairwise(ordered))

    def bucket(self, moment: ColumnElement[datetime], *rows: Table) -> ColumnElement[int]:
        """Which of the (disjoint) periods contains ``moment``, NULL for none; each of
        ``rows`` (tables with ``deleted_at``) must also be alive at that period's end."""

        def at(instant: datetime) -> ColumnElement[datetime]:
            return literal(instant, UtcDateTime())

        return case(
            *(
                (
                    and_(
                        moment >= at(period.start),
                        moment < at(period.end),
                        *(alive_at(table, at(period.end)) for table in rows),
                    ),
                    index,
                )
                for index, period in enumerate(self.periods)
            )
        )

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
    subtracts natively (an interval for timestamps, whole days for dates) and reads the
    interval's seconds with ``date_part``, a double: ``EXTRACT`` gives ``numeric``, which
    made every sort on a length (the stage medians sort each stage's stints by it)
    several times slower and reached Python as ``Decimal``.
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
    return f"(date_part('epoch', {later} - {earlier}) / 86400)"


class local_day(FunctionElement[date]):  # noqa: N801 - reads like the SQL function it is
    """The calendar day of a timestamp at a UTC offset in minutes: ``local_day(t, m)``.

    SQLite keeps the UTC wall time as ISO text and shifts it with a ``minutes`` modifier;
    PostgreSQL converts the ``timestamptz`` to UTC first, so the session's time zone
    cannot move an activity to another day."""

    type = Date()
    inherit_cache = True
    name = "local_day"


@compiles(local_day, "sqlite")
def _local_day_sqlite(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    moment, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date({moment}, ({minutes}) || ' minutes')"


@compiles(local_day, "postgresql")
def _local_day_postgresql(element: local_day, compiler: SQLCompiler, **kw: Any) -> str:
    moment, minutes = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(({moment} AT TIME ZONE 'UTC') + ({minutes}) * INTERVAL '1 minute' AS DATE)"


def utc_offset_minutes(time_zone: str | None, at: datetime) -> int:
    """The zone's offset at ``at`` in whole minutes; 0 for an unknown or missing zone."""
    if not time_zone:
        return 0
    try:
        offset = at.astimezone(ZoneInfo(time_zone)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return 0 if offset is None else int(offset.total_seconds() // 60)


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


def rep_series(
    rows: Iterable[Row[Any]],
    period_count: int,
    observe: Callable[[Row[Any]], Observation],
    empty: Observation | None = None,
) -> MetricSeries:
    """One observation per rep and period from rows carrying ``rep`` and ``idx``.

    Periods a rep has no row for get ``empty``: a zero observation for rate metrics,
    None ("nothing to measure") for snapshots. Made when first read, as
    :func:`deal_series` explains.
    """

    def build() -> tuple[Mapping[SubjectKey, Sequence[Observation | None]], Observed]:
        out: dict[SubjectKey, list[Observation | None]] = {}
        observed: dict[SubjectKey, set[int]] = {}
        for row in rows:
            key = SubjectKey(row.rep)
            slots = out.setdefault(key, [empty] * period_count)
            slots[row.idx] = observe(row)
            observed.setdefault(key, set()).add(row.idx)
        return out, observed

    return BuiltOnFirstRead(build)


def deal_series(
    rows: Iterable[Sequence[Any]], period_count: int, observe: Callable[..., Observation]
) -> MetricSeries:
    """One observation per open deal and period from rows ``(rep, idx, deal, *values)``;
    ``observe`` gets the values. Deal results run to 100,000s of rows, so rows are
    unpacked by position (ten times faster than by name) and keys built once per deal.

    The observations are made when the series is first read, not here: when the reads
    run ahead on a worker thread (:mod:`service.evaluation.measure_ahead`), the worker then only
    waits on the database, and the core's thread, which has time to spare while it
    waits for the next read, does this work."""

    def build() -> tuple[Mapping[SubjectKey, Sequence[Observation | None]], Observed]:
        out: dict[tuple[str, str], list[Observation | None]] = {}
        observed: dict[tuple[str, str], set[int]] = {}
        for rep, idx, deal, *measured in rows:
            slots = out.get((rep, deal))
            if slots is None:
                slots = out[rep, deal] = [None] * period_count
                observed[rep, deal] = set()
            slots[idx] = observe(*measured)
            observed[rep, deal].add(idx)
        keys = {pair: SubjectKey(*pair) for pair in out}
        return (
            {keys[pair]: slots for pair, slots in out.items()},
            {keys[pair]: found for pair, found in observed.items()},
        )

    return BuiltOnFirstRead(build)


#: Per subject, the indices of the periods a row was read for (the rest were filled in).
Observed = Mapping[SubjectKey, set[int]]


Build = Callable[[], tuple[Mapping[SubjectKey, Sequence["Observation | None"]], Observed]]


class BuiltOnFirstRead(Mapping[SubjectKey, Sequence["Observation | None"]]):
    """A metric series made by ``build`` the first time anything reads it, then kept;
    it also knows which periods of each subject came from rows (:meth:`observed`)."""

    __slots__ = ("_build", "_built", "_observed")

    def __init__(self, build: Build):
        self._build: Build | None = build
        self._built: Mapping[SubjectKey, Sequence[Observation | None]] | None = None
        self._observed: Observed = {}

    def _series(self) -> Mapping[SubjectKey, Sequence[Observation | None]]:
        if self._built is None:
            assert self._build is not None  # noqa: S101 - set until built
            (self._built, self._observed), self._build = self._build(), None
        return self._built

    def observed(self) -> Observed:
        """Per subject, the periods read from rows: a subject is in the series because of
        them; its other periods hold the "no rows" filler."""
        self._series()
        return self._observed

    def __getitem__(self, key: SubjectKey) -> Sequence[Observation | None]:
        return self._series()[key]

    def __iter__(self) -> Iterator[SubjectKey]:
        return iter(self._series())

    def __len__(self) -> int:
        return len(self._series())

    def __contains__(self, key: object) -> bool:
        return key in self._series()

    def get(self, key: SubjectKey, default: Any = None) -> Any:
        return self._series().get(key, default)

    def keys(self) -> KeysView[SubjectKey]:
        return self._series().keys()

    def items(self) -> ItemsView[SubjectKey, Sequence[Observation | None]]:
        return self._series().items()

    def values(self) -> ValuesView[Sequence[Observation | None]]:
        return self._series().values()

    def __eq__(self, other: object) -> bool:
        return self._series() == other

    __hash__ = None  # type: ignore[assignment]  # mutable-looking, like a dict

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._series()!r})"


def parts(**values: Decimal | float | int | None) -> Mapping[str, float]:
    return {name: number(value) for name, value in values.items()}


def not_own_task() -> ColumnElement[bool]:
    """The activity is not a task driftcoach wrote into the CRM (recognised by the CRM id
    its delivery recorded). A coaching or hygiene task synced back is not the rep's work:
    counted, it would make a day with nothing else a day at work and, on a deal, reset
    the days since the last activity that the hygiene task was about."""
    a, w = ACTIVITIES.c, CRM_WRITES.c
    own = (
        select(w.id).where(w.connection_id == a.connection_id, w.crm_record_id == a.crm_id).exists()
    )
    return or_(a.kind != ActivityKind.TASK, ~own)
