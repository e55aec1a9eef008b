"""What happened: each rep's quota periods and what they won in them, from the store.

Read through the metric source's own quota pace (the same won amount pipeline coverage
and pace judge on), taken at the last instant of each quota period: the deals won by
then whose close date, as known then, falls inside it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.backtest_scoring import QuotaOutcome
from rules.metrics import QuotaPace
from rules.periods import Period, midnight
from service.store.sql_metric_source import SqlMetricSource
from service.store.tables import Quota


def quota_outcomes(
    session: Session, connection_id: int, start: datetime, end: datetime
) -> list[QuotaOutcome]:
    """Every rep's outcome for the quota periods that end inside ``[start, end]``."""
    rows = session.execute(
        select(Quota.period_start, Quota.period_end)
        .where(
            Quota.connection_id == connection_id,
            Quota.deleted_at.is_(None),
            Quota.period_end >= start.date(),
            Quota.period_end < end.date(),
        )
        .distinct()
        .order_by(Quota.period_start, Quota.period_end)
    ).all()
    outcomes: list[QuotaOutcome] = []
    for first, last in rows:
        outcomes.extend(_outcomes_of(session, connection_id, first, last))
    return outcomes


def _outcomes_of(
    session: Session, connection_id: int, first: date, last: date
) -> list[QuotaOutcome]:
    closes = midnight(last) + timedelta(days=1)
    source = SqlMetricSource(session, connection_id, as_of=closes)
    try:
        series = source.measure(QuotaPace(), [Period(midnight(first), closes)])
    finally:
        source.close()
    outcomes = []
    for subject, (observation,) in sorted(series.items(), key=lambda item: item[0].rep_crm_id):
        if observation is None or observation.period_start != first:
            continue  # another quota period in force at that instant
        parts = observation.parts
        outcomes.append(
            QuotaOutcome(
                subject.rep_crm_id, first, last, parts.get("quota", 0.0),
                parts.get("won_amount", 0.0),
            )
        )  # fmt: skip
    return outcomes
