"""The raw scan: the aggregates the default pack needs, in their simplest grouped form.

What it computes, as of the evaluation's instant ``t``, one hand-written statement per
table family, run through the DBAPI (no SQLAlchemy, no Python per row), every row
fetched:

``activities by rep``
    Per rep, activity kind (call, meeting) and week of the activity rules' window (the
    12 complete weeks the calls and meetings rules read, baseline weeks included): the
    count, and the meetings held (outcome not one of the meetings rule's excluded
    outcomes). Driven from ``reps``, so each rep's window is one range of the index
    ``(connection_id, rep_crm_id, occurred_at)``, the access path the metric uses.
``activities by deal``
    Per deal open now: its newest linked activity at or before ``t`` (days since
    activity).
``opportunities by owner``
    Per owner and stage category now: deals, amount, probability-weighted amount, amount
    closing in the quarter of ``t`` (coverage, pace), deals closed in the win-rate
    window (win rate), deals created in each week of the pipeline rule's window
    (pipeline created), and deals in the qualification rule's stages with every
    required field filled (qualification completeness).
``changes by deal``
    Per deal: its history rows up to ``t``, first and last change time, distinct
    stages, earliest and latest close date (days in stage, stage medians, pushes).
``quotas``
    Each rep's quota in force on ``t``'s day.

Why it is a fair floor: it reads every row the pack's metrics depend on (same tables,
same windows, the same indexes where the metric has one) and computes each aggregate
once, at ``t`` only, from the rows' current values. The evaluation must do at least that
much work; what it does beyond it (the state of each deal *as of* each period's end
rebuilt from its history, several periods per metric, medians, ranking the deals for the
evidence, the rules core and the findings) is what the ratio prices.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from rules.documents import RuleDocument
from rules.metrics import (
    ActivityCount,
    MeetingsHeld,
    PipelineCreated,
    QualificationCompleteness,
    WinRate,
)
from rules.periods import Period, PeriodUnit, unit_start
from rules.series import rule_periods
from service.store.sqlite_binds import sqlite_timestamp

Statement = tuple[str, list[Any]]


@dataclass(frozen=True)
class PackNeeds:
    """What the pack's rules read, worked out from their documents and the instant."""

    as_of: datetime
    activity_weeks: tuple[Period, ...]
    excluded_outcomes: tuple[str, ...]
    created_weeks: tuple[Period, ...]
    win_rate_since: datetime
    quarter: Period
    fields: tuple[str, ...]
    stages: tuple[str, ...]


def pack_needs(documents: Sequence[RuleDocument], as_of: datetime) -> PackNeeds:
    """The windows and filters of the pack's rules (those the default pack has)."""
    activity: list[Period] = []
    created: tuple[Period, ...] = ()
    excluded: tuple[str, ...] = ()
    trailing = [0]
    fields: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    for document in documents:
        metric, periods = document.metric, rule_periods(document, as_of).all
        if isinstance(metric, ActivityCount | MeetingsHeld):
            activity.extend(periods)
        if isinstance(metric, MeetingsHeld):
            excluded = metric.exclude_outcomes
        if isinstance(metric, PipelineCreated):
            created = periods
        if isinstance(metric, WinRate):
            trailing.append(metric.trailing_days)
        trailing.extend(s.win_rate.trailing_days for s in document.standards)
        if isinstance(metric, QualificationCompleteness):
            fields, stages = metric.fields, metric.stages
    if not activity or not created or not fields:
        raise ValueError("the pack lacks an activity, pipeline-created or qualification rule")
    quarter_start = unit_start(as_of, PeriodUnit.QUARTER)
    return PackNeeds(
        as_of=as_of,
        activity_weeks=_weeks(min(p.start for p in activity), max(p.end for p in activity)),
        excluded_outcomes=tuple(outcome.lower() for outcome in excluded) or ("",),
        created_weeks=created,
        win_rate_since=as_of - timedelta(days=max(trailing)),
        quarter=Period(quarter_start, _next_quarter(quarter_start)),
        fields=fields,
        stages=stages,
    )


def _weeks(start: datetime, end: datetime) -> tuple[Period, ...]:
    count = max(1, round((end - start) / timedelta(days=7)))
    return tuple(
        Period(start + timedelta(weeks=n), start + timedelta(weeks=n + 1)) for n in range(count)
    )


def _next_quarter(start: datetime) -> datetime:
    month = start.month + 3
    return start.replace(year=start.year + (month > 12), month=(month - 1) % 12 + 1)


# --------------------------------------------------------------------------- statements


class _Dialect:
    """The few spellings that differ: placeholders, time values, week buckets, JSON."""

    def __init__(self, name: str) -> None:
        self.sqlite = name == "sqlite"
        self.mark = "?" if self.sqlite else "%s"

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def instant(self, value: datetime) -> Any:
        return sqlite_timestamp(value) if self.sqlite else value

    def day(self, value: datetime) -> Any:
        return value.date().isoformat() if self.sqlite else value.date()

    def week_of(self, column: str) -> str:
        """Whole weeks from a bound start to ``column``."""
        if self.sqlite:
            return f"CAST((julianday({column}) - julianday(?)) / 7 AS INTEGER)"
        return f"CAST(floor(EXTRACT(EPOCH FROM ({column} - %s)) / 604800) AS INTEGER)"

    def field_text(self, name: str) -> str:
        # Field names come from the validated rule document, not from user input.
        if self.sqlite:
            return f"json_extract(qualification, '$.{name}')"
        return f"(qualification ->> '{name}')"


def statements(needs: PackNeeds, dialect_name: str, connection_id: int) -> dict[str, Statement]:
    """The raw statements with their parameters, by table family."""
    dialect = _Dialect(dialect_name)
    builders: dict[str, Callable[[PackNeeds, _Dialect, int], Statement]] = {
        "activities by rep": _activities_by_rep,
        "activities by deal": _activities_by_deal,
        "opportunities by owner": _opportunities_by_owner,
        "changes by deal": _changes_by_deal,
        "quotas": _quotas,
    }
    return {name: build(needs, dialect, connection_id) for name, build in builders.items()}


def _activities_by_rep(needs: PackNeeds, d: _Dialect, connection_id: int) -> Statement:
    weeks = needs.activity_weeks
    excluded = needs.excluded_outcomes
    sql = f"""
        SELECT a.rep_crm_id, a.kind, {d.week_of("a.occurred_at")} AS week, count(*) AS n,
               sum(CASE WHEN a.outcome IS NULL OR lower(a.outcome) NOT IN ({d.marks(len(excluded))})
                        THEN 1 ELSE 0 END) AS held
        FROM reps r
        JOIN activities a ON a.connection_id = r.connection_id AND a.rep_crm_id = r.crm_id
             AND a.occurred_at >= {d.mark} AND a.occurred_at < {d.mark}
        WHERE r.connection_id = {d.mark} AND r.deleted_at IS NULL AND a.deleted_at IS NULL
              AND a.kind IN ('call', 'meeting')
        GROUP BY a.rep_crm_id, a.kind, week
    """  # noqa: S608 - no input in the SQL, only placeholders
    start, end = d.instant(weeks[0].start), d.instant(weeks[-1].end)
    return sql, [start, *excluded, start, end, connection_id]


def _activities_by_deal(needs: PackNeeds, d: _Dialect, connection_id: int) -> Statement:
    sql = f"""
        SELECT o.crm_id, max(a.occurred_at) AS last_activity
        FROM opportunities o
        JOIN activities a ON a.connection_id = o.connection_id AND a.opportunity_crm_id = o.crm_id
             AND a.occurred_at <= {d.mark} AND a.deleted_at IS NULL
        WHERE o.connection_id = {d.mark} AND o.stage_category = 'open' AND o.deleted_at IS NULL
        GROUP BY o.crm_id
    """  # noqa: S608 - no input in the SQL, only placeholders
    return sql, [d.instant(needs.as_of), connection_id]


def _opportunities_by_owner(needs: PackNeeds, d: _Dialect, connection_id: int) -> Statement:
    created = [
        f"sum(CASE WHEN created_in_crm_at >= {d.mark} AND created_in_crm_at < {d.mark}"
        f" THEN 1 ELSE 0 END) AS created_{n}"
        for n in range(len(needs.created_weeks))
    ]
    filled = " AND ".join(
        f"{d.field_text(name)} IS NOT NULL AND {d.field_text(name)} <> ''" for name in needs.fields
    )
    sql = f"""
        SELECT owner_crm_id, stage_category, count(*) AS deals, sum(amount) AS amount,
               sum(amount * probability / 100) AS weighted,
               sum(CASE WHEN close_date >= {d.mark} AND close_date < {d.mark}
                        THEN amount ELSE 0 END) AS closing_in_quarter,
               sum(CASE WHEN closed_at >= {d.mark} THEN 1 ELSE 0 END) AS closed_in_window,
               {", ".join(created)},
               sum(CASE WHEN stage IN ({d.marks(len(needs.stages))}) THEN 1 ELSE 0 END)
                   AS past_discovery,
               sum(CASE WHEN stage IN ({d.marks(len(needs.stages))}) AND {filled}
                        THEN 1 ELSE 0 END) AS qualified
        FROM opportunities
        WHERE connection_id = {d.mark} AND deleted_at IS NULL
              AND (created_in_crm_at IS NULL OR created_in_crm_at <= {d.mark})
        GROUP BY owner_crm_id, stage_category
    """  # noqa: S608 - field names from the validated pack, values as placeholders
    weeks = [d.instant(value) for week in needs.created_weeks for value in (week.start, week.end)]
    return sql, [
        d.day(needs.quarter.start),
        d.day(needs.quarter.end),
        d.instant(needs.win_rate_since),
        *weeks,
        *needs.stages,
        *needs.stages,
        connection_id,
        d.instant(needs.as_of),
    ]


def _changes_by_deal(needs: PackNeeds, d: _Dialect, connection_id: int) -> Statement:
    sql = f"""
        SELECT opportunity_crm_id, count(*) AS changes, min(changed_at) AS first_change,
               max(changed_at) AS last_change, count(DISTINCT stage) AS stages,
               min(close_date) AS first_close, max(close_date) AS last_close
        FROM opportunity_changes
        WHERE connection_id = {d.mark} AND changed_at <= {d.mark}
        GROUP BY opportunity_crm_id
    """  # noqa: S608 - no input in the SQL, only placeholders
    return sql, [connection_id, d.instant(needs.as_of)]


def _quotas(needs: PackNeeds, d: _Dialect, connection_id: int) -> Statement:
    sql = f"""
        SELECT rep_crm_id, max(amount) AS quota
        FROM quotas
        WHERE connection_id = {d.mark} AND deleted_at IS NULL
              AND period_start <= {d.mark} AND period_end >= {d.mark}
        GROUP BY rep_crm_id
    """  # noqa: S608 - no input in the SQL, only placeholders
    day = d.day(needs.as_of)
    return sql, [connection_id, day, day]


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class ScanRun:
    seconds: float
    per_statement: dict[str, float]
    rows: dict[str, int]


def run_scan(engine: Engine, prepared: dict[str, Statement]) -> ScanRun:
    """Every statement once, in one read transaction, each result fetched completely."""
    per_statement: dict[str, float] = {}
    rows: dict[str, int] = {}
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        for name, (sql, parameters) in prepared.items():
            started = time.perf_counter()
            cursor.execute(sql, parameters)
            rows[name] = len(cursor.fetchall()) if cursor.description is not None else 0
            per_statement[name] = time.perf_counter() - started
        cursor.close()
        connection.rollback()
    finally:
        connection.close()
    return ScanRun(sum(per_statement.values()), per_statement, rows)
