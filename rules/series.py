"""From raw metric series to the values a rule judges: periods, roster, normalisation.

The metric source answers per subject and period; the rule decides which periods (complete
ones for rate metrics, periods to date for snapshots), which reps count (active reps, not
their managers), and what a value means (per business day, quota pace as a ratio).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from rules.documents import RuleDocument
from rules.metrics import (
    MetricSeries,
    MetricShape,
    Observation,
    QuotaPace,
    RepProfile,
    SubjectKey,
    SubjectKind,
)
from rules.periods import (
    Period,
    PeriodUnit,
    business_days_between,
    complete_periods,
    midnight,
    periods_to_date,
    spanning,
)
from rules.standards import Basis


@dataclass(frozen=True, slots=True)
class RulePeriods:
    """The periods a rule measures: ``lead`` (for an own baseline) then the ``window``."""

    unit: PeriodUnit
    lead: tuple[Period, ...]
    window: tuple[Period, ...]

    @property
    def all(self) -> tuple[Period, ...]:
        return (*self.lead, *self.window)


def rule_periods(document: RuleDocument, as_of: datetime) -> RulePeriods:
    """Rate metrics look at complete periods (a half-week is not a slow week); snapshot
    metrics at periods to date (the last value is the state now). A rule with a ``span``
    (rate metrics only) measures each of its periods over that many units to its end."""
    baselines = [s.baseline_periods for s in document.standards if s.basis is Basis.OWN_BASELINE]
    if document.rollup is not None:
        baselines.append(document.rollup.own_periods)
    lead = max(baselines, default=0)
    unit, span = document.period.unit, document.period.span
    if document.metric.shape is MetricShape.RATE:
        periods = spanning(complete_periods(as_of, unit, document.window + lead + span - 1), span)
    else:
        periods = periods_to_date(as_of, unit, document.window + lead)
    split = len(periods) - document.window
    return RulePeriods(unit, periods[:split], periods[split:])


def roster(reps: Sequence[RepProfile], include_managers: bool = False) -> dict[str, RepProfile]:
    """The reps rules judge: active, and (by default) not managing anyone themselves."""
    managers = {rep.manager_crm_id for rep in reps if rep.manager_crm_id}
    return {
        rep.crm_id: rep
        for rep in reps
        if rep.is_active and (include_managers or rep.crm_id not in managers)
    }


def subject_observations(
    document: RuleDocument,
    series: MetricSeries,
    periods: int,
    reps: Mapping[str, RepProfile],
) -> dict[SubjectKey, tuple[Observation | None, ...]]:
    """Per subject on the roster, one observation per period.

    A rep missing from a rate series did nothing: zeros (the port's contract). Deals are
    subjects only while their owner is on the roster.
    """
    found: dict[SubjectKey, tuple[Observation | None, ...]] = {}
    for key, observations in series.items():
        if key.rep_crm_id not in reps or (key.deal_crm_id is None) != _rep_level(document):
            continue
        if len(observations) != periods:
            raise ValueError(
                f"metric source gave {len(observations)} values for {periods} periods "
                f"({document.metric.metric}, {key})"
            )
        found[key] = tuple(observations)
    if _rep_level(document):
        missing: Observation | None = (
            Observation(0.0) if document.metric.shape is MetricShape.RATE else None
        )
        for crm_id in reps:
            found.setdefault(SubjectKey(crm_id), (missing,) * periods)
    return found


def _rep_level(document: RuleDocument) -> bool:
    return document.subject_kind is SubjectKind.REP


def rule_value(
    document: RuleDocument,
    observation: Observation | None,
    period: Period,
    active: Observation | None = None,
) -> float | None:
    """The number the standard is compared with for one period; ``active`` is the rep's
    active days then, for a rule measured per day at work."""
    if observation is None:
        return None
    if isinstance(document.metric, QuotaPace):
        return quota_pace(observation, period.end, document.min_quota_elapsed)
    value = observation.value
    if value is None or not math.isfinite(value):
        return None
    if document.period.per_business_day:
        days = period.business_days
        return value / days if days else None
    if document.period.per_active_day:
        # at most the business days; a period with nothing logged: away, not idle
        logged = 0.0 if active is None or active.value is None else active.value
        worked = min(logged, float(period.business_days))
        return value / worked if worked > 0 else None
    return value


def quota_pace(
    observation: Observation, at: datetime, min_elapsed: float | None = None
) -> float | None:
    """(won + weighted open) / (quota x share of the quota period's business days elapsed).

    None when the quota period is unknown, the quota is not positive, no business day has
    passed yet, or less than ``min_elapsed`` of the period has (too early to judge).
    """
    share = quota_elapsed_share(observation, at)
    quota = observation.parts.get("quota")
    if share is None or share == 0 or quota is None or quota <= 0:
        return None
    if min_elapsed is not None and share < min_elapsed:
        return None
    booked = observation.parts.get("won_amount", 0.0) + observation.parts.get("weighted_open", 0.0)
    pace = booked / (quota * share)
    return pace if math.isfinite(pace) else None


def quota_elapsed_share(observation: Observation, at: datetime) -> float | None:
    """Share of the quota period's business days that have started by ``at``."""
    start, end = observation.period_start, observation.period_end
    if start is None or end is None or end < start:
        return None
    first, after = midnight(start), midnight(_day_after(end))
    total = business_days_between(first, after)
    if total == 0:
        return None
    elapsed = business_days_between(first, min(max(at, first), after))
    return elapsed / total


def _day_after(day: date) -> date:
    return day + timedelta(days=1) if day < date.max else day
