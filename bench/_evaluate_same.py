"""The raw scan of the same aggregates: the default pack's metric values, hand-written.

:mod:`bench._evaluate_baseline` is a floor: every row the pack reads, aggregated once at
``t`` from current values. The evaluation computes something else: each metric **per
period** of its rule (the window and, for relative standards, the baseline periods),
each snapshot **as of that period's end**, rebuilt from the change history. This module
computes those aggregates, the same periods and the same as-of rule, in the plain SQL a
competent analyst would write against the store: one grouped statement per metric
family, run through the DBAPI, every row fetched. Nothing here is shared with
:mod:`service.store.metric_queries`.

What it leaves out, and the evaluation does not: reps' rosters and ramps, evidence (top
deals, team medians), the rules core's decisions and the findings it writes. Those are
what the ratio "evaluation / same aggregates" prices.

Statements (``p`` is a statement's periods, bound as a VALUES list). The history's window
pass is done once, into a temporary table (each change row with when it was superseded,
when its deal entered and left the stage it records, and the close-date pushes up to
it), and every history aggregate reads it: ``state`` is each deal's row in force at a
period's end (``changed_at <= end < next_at``), after the rows superseded before the
first period are dropped. The table is dropped at the end; its making is timed.

``activity counts``
    Per rep, kind (call, meeting) and period of the activity rules: count, and meetings
    held (outcome not excluded).
``pipeline created``
    Per owner and period of the pipeline rule: deals created in it, and their amount as
    of the period's end.
``rep snapshots``
    Per owner and period end of the snapshot rules (coverage, pace, win rate,
    qualification): open amount and weighted amount closing inside the quota period in
    force, won amount inside it, deals won and lost in the trailing win-rate window (by
    the change that closed them), open deals in the qualification stages and those with
    every field filled; the quota itself.
``open deals``
    Per open deal and period end of the deal rules: owner, stage, amount, when it entered
    its stage, close-date pushes so far, and its newest activity by then (one index probe
    per deal and period).
``stage medians``
    Per stage and period end of the days-in-stage rule: the median length of the stints
    that ended in the trailing window (sorted once per stage for all periods).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bench._evaluate_baseline import Statement, _Dialect
from rules.documents import RuleDocument
from rules.metrics import (
    ActivityCount,
    CloseDatePushes,
    DaysInStage,
    DaysSinceActivity,
    MeetingsHeld,
    PipelineCoverage,
    PipelineCreated,
    QualificationCompleteness,
    QuotaPace,
    WinRate,
)
from rules.periods import Period
from rules.series import rule_periods


@dataclass(frozen=True)
class SameNeeds:
    """The periods and filters of the pack's rules, grouped by statement."""

    activity_periods: tuple[Period, ...]
    excluded_outcomes: tuple[str, ...]
    created_periods: tuple[Period, ...]
    rep_ends: tuple[datetime, ...]
    win_rate_days: int
    fields: tuple[str, ...]
    stages: tuple[str, ...]
    deal_ends: tuple[datetime, ...]
    median_days: int
    median_min_sample: int


def same_needs(documents: Sequence[RuleDocument], as_of: datetime) -> SameNeeds:
    activity: set[Period] = set()
    created: set[Period] = set()
    rep_ends: set[datetime] = set()
    deal_ends: set[datetime] = set()
    excluded: tuple[str, ...] = ()
    win_days, median = [0], (365, 5)
    fields: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    for document in documents:
        metric, periods = document.metric, rule_periods(document, as_of).all
        if isinstance(metric, ActivityCount | MeetingsHeld):
            activity.update(periods)
        if isinstance(metric, MeetingsHeld):
            excluded = metric.exclude_outcomes
        if isinstance(metric, PipelineCreated):
            created.update(periods)
        if isinstance(metric, PipelineCoverage | QuotaPace | WinRate | QualificationCompleteness):
            rep_ends.update(period.end for period in periods)
        if isinstance(metric, WinRate):
            win_days.append(metric.trailing_days)
        win_days.extend(s.win_rate.trailing_days for s in document.standards)
        if isinstance(metric, QualificationCompleteness):
            fields, stages = metric.fields, metric.stages
        if isinstance(metric, DaysSinceActivity | DaysInStage | CloseDatePushes):
            deal_ends.update(period.end for period in periods)
        if isinstance(metric, DaysInStage):
            median = (metric.trailing_days, metric.min_sample)
    return SameNeeds(
        activity_periods=tuple(sorted(activity, key=lambda p: (p.start, p.end))),
        excluded_outcomes=tuple(o.lower() for o in excluded) or ("",),
        created_periods=tuple(sorted(created, key=lambda p: (p.start, p.end))),
        rep_ends=tuple(sorted(rep_ends)),
        win_rate_days=max(win_days),
        fields=fields,
        stages=stages,
        deal_ends=tuple(sorted(deal_ends)),
        median_days=median[0],
        median_min_sample=median[1],
    )


class _Sql(_Dialect):
    """The floor's spellings, and a few more."""

    def ts(self) -> str:
        return self.mark if self.sqlite else f"CAST({self.mark} AS timestamptz)"

    def date(self) -> str:
        return self.mark if self.sqlite else f"CAST({self.mark} AS date)"

    def days(self, later: str, earlier: str) -> str:
        if self.sqlite:
            return f"(julianday({later}) - julianday({earlier}))"
        # A double, as the metric source measures it: numeric lengths sort several times
        # slower, and the baseline should not be slower for a type choice.
        return f"(date_part('epoch', {later} - {earlier}) / 86400)"

    def periods(self, rows: Sequence[tuple[int, datetime, datetime, datetime]]) -> Statement:
        """``p(idx, start_at, end_at, since_at, day_at)`` as a VALUES list."""
        one = f"({self.mark}, {self.ts()}, {self.ts()}, {self.ts()}, {self.date()})"
        values: list[Any] = []
        for idx, start, end, since in rows:
            values += [idx, self.instant(start), self.instant(end), self.instant(since)]
            values.append(self.day(end))
        listed = ", ".join([one] * len(rows))
        return f"p(idx, start_at, end_at, since_at, day_at) AS (VALUES {listed})", values

    def history(self, from_at: datetime) -> Statement:
        """``state``: per period, each deal's history row in force at its end (from
        :data:`HISTORY`); rows superseded before ``from_at``, the first instant asked
        about, are dropped first."""
        sql = f"""
        live AS MATERIALIZED (
            SELECT * FROM {HISTORY} WHERE next_at IS NULL OR next_at > {self.ts()}
        ),
        state AS (
            SELECT p.idx, p.end_at, p.since_at, p.day_at, live.*
            FROM p JOIN live ON live.changed_at <= p.end_at
                 AND (live.next_at IS NULL OR live.next_at > p.end_at)
        )"""  # noqa: S608 - no input in the SQL, only placeholders
        return sql, [self.instant(from_at)]


#: The temporary table of the history's window pass, made once per scan.
HISTORY = "same_history"


def _history_table(_: SameNeeds, d: _Sql, connection_id: int) -> Statement:
    """Every change row with when it was superseded (``next_at``), when its deal entered
    the stage it records (``entered_at``), when it next moved to another stage
    (``left_at``) and the close-date pushes up to it: the window
    pass every history aggregate needs, done once and shared, as an analyst running
    these statements together would."""
    sql = f"""
        CREATE TEMPORARY TABLE {HISTORY} AS
        WITH h1 AS MATERIALIZED (
            SELECT opportunity_crm_id AS deal, crm_id, changed_at, stage, stage_category,
                   amount, close_date, probability,
                   lag(stage) OVER w AS prev_stage, lag(close_date) OVER w AS prev_close,
                   lead(changed_at) OVER w AS next_at
            FROM opportunity_changes WHERE connection_id = {d.mark}
            WINDOW w AS (PARTITION BY opportunity_crm_id ORDER BY changed_at, crm_id)
        )
        SELECT deal, changed_at, next_at, stage, stage_category, amount, close_date,
               probability,
               max(CASE WHEN prev_stage IS NULL OR prev_stage <> stage THEN changed_at END)
                   OVER r AS entered_at,
               sum(CASE WHEN close_date > prev_close THEN 1 ELSE 0 END) OVER r AS pushes,
               min(CASE WHEN prev_stage <> stage THEN changed_at END) OVER f AS left_at
        FROM h1
        WINDOW r AS (PARTITION BY deal ORDER BY changed_at, crm_id
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
               f AS (PARTITION BY deal ORDER BY changed_at, crm_id
                     ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
    """  # noqa: S608 - no input in the SQL, only placeholders
    return sql, [connection_id]


def same_statements(
    needs: SameNeeds, dialect_name: str, connection_id: int
) -> dict[str, Statement]:
    sql = _Sql(dialect_name)
    builders: dict[str, Callable[[SameNeeds, _Sql, int], Statement]] = {
        "(no leftover table)": lambda *_: (f"DROP TABLE IF EXISTS {HISTORY}", []),
        "deal history, once": _history_table,
        "activity counts": _activity_counts,
        "pipeline created": _pipeline_created,
        "rep snapshots": _rep_snapshots,
        "open deals": _open_deals,
        "stage medians": _stage_medians,
        "(table dropped)": lambda *_: (f"DROP TABLE {HISTORY}", []),
    }
    return {name: build(needs, sql, connection_id) for name, build in builders.items()}


def _spans(periods: Sequence[Period]) -> list[tuple[int, datetime, datetime, datetime]]:
    return [(i, p.start, p.end, p.start) for i, p in enumerate(periods)]


def _ends(ends: Sequence[datetime], days: int) -> list[tuple[int, datetime, datetime, datetime]]:
    return [(i, end, end, end - timedelta(days=days)) for i, end in enumerate(ends)]


def _activity_counts(needs: SameNeeds, d: _Sql, connection_id: int) -> Statement:
    """Weeks one after another (the default pack's) are numbered by arithmetic, any
    other periods found by a range join."""
    spans = needs.activity_periods
    excluded = needs.excluded_outcomes
    first, last = spans[0].start, max(p.end for p in spans)
    weekly = all(
        p.start == first + timedelta(weeks=i) and p.end == p.start + timedelta(weeks=1)
        for i, p in enumerate(spans)
    )
    periods, values = ("", []) if weekly else d.periods(_spans(spans))
    bucket = d.week_of("a.occurred_at") if weekly else "p.idx"
    head = [d.instant(first)] if weekly else values
    sql = f"""
        {"" if weekly else f"WITH {periods}"}
        SELECT a.rep_crm_id, a.kind, {bucket} AS idx, count(*) AS n,
               sum(CASE WHEN a.outcome IS NULL OR lower(a.outcome) NOT IN ({d.marks(len(excluded))})
                        THEN 1 ELSE 0 END) AS held
        FROM reps r
        JOIN activities a ON a.connection_id = r.connection_id AND a.rep_crm_id = r.crm_id
             AND a.occurred_at >= {d.ts()} AND a.occurred_at < {d.ts()}
        {"" if weekly else "JOIN p ON a.occurred_at >= p.start_at AND a.occurred_at < p.end_at"}
        WHERE r.connection_id = {d.mark} AND r.deleted_at IS NULL AND a.deleted_at IS NULL
              AND a.kind IN ('call', 'meeting')
        GROUP BY a.rep_crm_id, a.kind, idx
    """  # noqa: S608 - no input in the SQL, only placeholders
    return sql, [*head, *excluded, d.instant(first), d.instant(last), connection_id]


def _pipeline_created(needs: SameNeeds, d: _Sql, connection_id: int) -> Statement:
    periods, values = d.periods(_spans(needs.created_periods))
    first = needs.created_periods[0].start
    history, history_values = d.history(first)
    sql = f"""
        WITH {periods}, {history}
        SELECT o.owner_crm_id, p.idx, count(*) AS deals, sum(coalesce(s.amount, o.amount)) AS amount
        FROM opportunities o
        JOIN p ON o.created_in_crm_at >= p.start_at AND o.created_in_crm_at < p.end_at
        LEFT JOIN state s ON s.deal = o.crm_id AND s.idx = p.idx
        WHERE o.connection_id = {d.mark} AND o.created_in_crm_at >= {d.ts()}
              AND (o.deleted_at IS NULL OR o.deleted_at > p.end_at)
        GROUP BY o.owner_crm_id, p.idx
    """  # noqa: S608 - no input in the SQL, only placeholders
    return sql, [*values, *history_values, connection_id, d.instant(first)]


def _rep_snapshots(needs: SameNeeds, d: _Sql, connection_id: int) -> Statement:
    periods, values = d.periods(_ends(needs.rep_ends, needs.win_rate_days))
    # The oldest instant a closed deal can matter at: the win-rate window of the first end.
    first = needs.rep_ends[0] - timedelta(days=needs.win_rate_days)
    history, history_values = d.history(needs.rep_ends[0])
    filled = " AND ".join(
        f"{d.field_text(name)} IS NOT NULL AND {d.field_text(name)} <> ''" for name in needs.fields
    )
    stages = d.marks(len(needs.stages))
    sql = f"""
        WITH {periods}, {history},
        quota AS (
            SELECT p.idx, q.rep_crm_id, max(q.amount) AS amount,
                   min(q.period_start) AS starts, max(q.period_end) AS ends
            FROM p JOIN quotas q ON q.connection_id = {d.mark} AND q.deleted_at IS NULL
                 AND q.period_start <= p.day_at AND q.period_end >= p.day_at
            GROUP BY p.idx, q.rep_crm_id
        )
        SELECT s.idx, o.owner_crm_id, max(q.amount) AS quota,
               sum(CASE WHEN s.stage_category = 'open' AND s.close_date >= q.starts
                         AND s.close_date <= q.ends THEN s.amount END) AS open_amount,
               sum(CASE WHEN s.stage_category = 'open' AND s.close_date >= q.starts
                         AND s.close_date <= q.ends THEN s.amount * s.probability / 100.0 END)
                   AS weighted_open,
               sum(CASE WHEN s.stage_category = 'won' AND s.close_date >= q.starts
                         AND s.close_date <= q.ends THEN s.amount END) AS won_amount,
               sum(CASE WHEN s.stage_category = 'won' AND s.entered_at >= s.since_at
                        THEN 1 ELSE 0 END) AS won,
               sum(CASE WHEN s.stage_category = 'lost' AND s.entered_at >= s.since_at
                        THEN 1 ELSE 0 END) AS lost,
               sum(CASE WHEN s.stage_category = 'open' AND s.stage IN ({stages})
                        THEN 1 ELSE 0 END) AS in_stages,
               sum(CASE WHEN s.stage_category = 'open' AND s.stage IN ({stages}) AND {filled}
                        THEN 1 ELSE 0 END) AS qualified
        FROM state s
        JOIN opportunities o ON o.connection_id = {d.mark} AND o.crm_id = s.deal
             AND (o.deleted_at IS NULL OR o.deleted_at > s.end_at)
             AND (o.created_in_crm_at IS NULL OR o.created_in_crm_at <= s.end_at)
        LEFT JOIN quota q ON q.idx = s.idx AND q.rep_crm_id = o.owner_crm_id
        WHERE s.stage_category = 'open' OR s.entered_at >= {d.ts()} OR s.close_date >= q.starts
        GROUP BY s.idx, o.owner_crm_id
    """  # noqa: S608 - field names from the validated pack, values as placeholders
    return sql, [
        *values,
        *history_values,
        connection_id,
        *needs.stages,
        *needs.stages,
        connection_id,
        d.instant(first),
    ]


def _open_deals(needs: SameNeeds, d: _Sql, connection_id: int) -> Statement:
    periods, values = d.periods(_ends(needs.deal_ends, 0))
    history, history_values = d.history(needs.deal_ends[0])
    sql = f"""
        WITH {periods}, {history}
        SELECT s.idx, o.owner_crm_id, s.deal, s.stage, s.amount, s.pushes,
               o.created_in_crm_at AS created_at,
               {d.days("s.end_at", "coalesce(s.entered_at, o.created_in_crm_at)")} AS in_stage,
               (SELECT max(a.occurred_at) FROM activities a
                WHERE a.connection_id = o.connection_id AND a.opportunity_crm_id = s.deal
                      AND a.occurred_at <= s.end_at AND a.deleted_at IS NULL) AS last_activity
        FROM state s
        JOIN opportunities o ON o.connection_id = {d.mark} AND o.crm_id = s.deal
             AND (o.deleted_at IS NULL OR o.deleted_at > s.end_at)
             AND (o.created_in_crm_at IS NULL OR o.created_in_crm_at <= s.end_at)
        WHERE s.stage_category = 'open'
    """  # noqa: S608 - no input in the SQL, only placeholders
    return sql, [*values, *history_values, connection_id]


def _stage_medians(needs: SameNeeds, d: _Sql, connection_id: int) -> Statement:
    """The stints of all the periods' windows sorted once per stage; a running count per
    period (``at_k`` of the ``n_k`` stints in period k's window) finds each middle."""
    ends = needs.deal_ends
    window = timedelta(days=needs.median_days)
    flags, values = [], []
    for k, end in enumerate(ends):
        flags.append(
            f"CASE WHEN left_at >= {d.ts()} AND left_at < {d.ts()} THEN 1 ELSE 0 END AS in_{k}"
        )
        values += [d.instant(end - window), d.instant(end)]
    running = [
        f"sum(in_{k}) OVER (PARTITION BY stage ORDER BY days ROWS UNBOUNDED PRECEDING) AS at_{k},"
        f" sum(in_{k}) OVER (PARTITION BY stage) AS n_{k}"
        for k in range(len(ends))
    ]
    middles = [
        f"avg(CASE WHEN in_{k} = 1 AND at_{k} * 2 >= n_{k} AND at_{k} * 2 <= n_{k} + 2"
        f" AND n_{k} >= {d.mark} THEN days END) AS median_{k}"
        for k in range(len(ends))
    ]
    sql = f"""
        WITH stints AS (
            SELECT stage, {d.days("left_at", "changed_at")} AS days, {", ".join(flags)}
            FROM {HISTORY}
            WHERE stage_category = 'open' AND changed_at = entered_at
                  AND left_at >= {d.ts()} AND left_at < {d.ts()}
        ),
        ranked AS (SELECT stints.*, {", ".join(running)} FROM stints)
        SELECT stage, {", ".join(middles)} FROM ranked GROUP BY stage
    """  # noqa: S608 - no input in the SQL, only placeholders
    bounds = [d.instant(ends[0] - window), d.instant(ends[-1])]
    return sql, [*values, *bounds, *([needs.median_min_sample] * len(ends))]
