"""A metric's raw values for one rep, team or deal, period by period, as the store
measures them for the rules: what a UI shows beside a rule to say "this is what the
standard will be compared with".

The values are the metric source's own (no rounding, no division by business days: each
period carries its business days for that). Periods are whole calendar units from the
one holding ``from`` to the one holding ``to``; one still running ends now, and one not
begun is left out. Business days (``unit=day``) skip weekends, as the rules do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from rules.documents import describe_errors
from rules.metrics import MetricShape, MetricSpec, Observation, SubjectKey, SubjectKind
from rules.periods import (
    Period,
    PeriodUnit,
    is_business_day,
    midnight,
    next_start,
    period_label,
    unit_start,
)
from service.api.metrics_views import FIXED
from service.api.problems import FieldProblem, field_problems, invalid, not_found
from service.store.sql_metric_source import SqlMetricSource
from service.store.tables import Opportunity

MAX_PERIODS = 104


class PeriodView(BaseModel):
    start: datetime
    end: datetime  # exclusive; now, for the period still running
    label: str
    business_days: int


class ObservationView(BaseModel):
    """One value; ``value`` null means not measurable (no quota, too small a sample)."""

    value: float | None
    sample: int
    parts: dict[str, float | None]
    deals: list[str]
    detail: str | None
    quota_period_start: date | None
    quota_period_end: date | None


class SeriesView(BaseModel):
    """One subject's values, one per period (null: nothing to measure then)."""

    rep_crm_id: str
    deal_crm_id: str | None
    values: list[ObservationView | None]


class MetricValues(BaseModel):
    metric: str
    params: dict[str, Any]
    connection_id: int
    unit: PeriodUnit
    as_of: datetime
    data_as_of: datetime | None  # the connection's last successful sync
    periods: list[PeriodView]
    series: list[SeriesView]


class Subject(BaseModel):
    """Whom the values are about: exactly one of a rep, a team or a deal (CRM ids)."""

    rep: str | None = None
    team: str | None = None
    deal: str | None = None


def parsed_metric(model: type[BaseModel], name: str, params: str | None) -> MetricSpec:
    """The metric with the parameters a JSON object in ``params`` gives (its defaults
    for the rest); problems are named ``params.<parameter>``."""
    given: Any = {}
    if params is not None:
        try:
            given = json.loads(params)
        except ValueError:
            given = None
    if not isinstance(given, dict):
        problem = FieldProblem(field="params", message="not a JSON object of parameters")
        raise invalid("the metric's parameters are not valid", [problem])
    fixed = [
        FieldProblem(field=f"params.{key}", message="fixed by the metric, not a parameter")
        for key in given
        if key in FIXED
    ]
    if fixed:
        raise invalid("the metric's parameters are not valid", fixed)
    try:
        metric: MetricSpec = model.model_validate({**given, "metric": name})  # type: ignore[assignment]
    except ValidationError as exc:
        problems = field_problems(describe_errors(exc), prefix="params.")
        raise invalid("the metric's parameters are not valid", problems) from None
    return metric


def periods_between(first: date, last: date, unit: PeriodUnit, now: datetime) -> list[Period]:
    """The units from the one holding ``first`` to the one holding ``last`` that began
    before ``now`` (the running one ends at ``now``); at most :data:`MAX_PERIODS`."""
    if last < first:
        raise invalid("the range is empty", [FieldProblem(field="to", message="before from")])
    periods: list[Period] = []
    start = unit_start(midnight(first), unit)
    while start.date() <= last and start < now:
        end = next_start(start, unit)
        if unit is not PeriodUnit.DAY or is_business_day(start.date()):
            if len(periods) == MAX_PERIODS:
                message = f"more than {MAX_PERIODS} periods of a {unit.value} up to to"
                raise invalid(
                    "the range is too long", [FieldProblem(field="from", message=message)]
                )
            periods.append(Period(start, min(end, now)))
        start = end
    return periods


def period_views(periods: Sequence[Period], unit: PeriodUnit) -> list[PeriodView]:
    return [
        PeriodView(
            start=p.start, end=p.end, label=period_label(p, unit), business_days=p.business_days
        )
        for p in periods
    ]


def series_of(
    db: Session,
    source: SqlMetricSource,
    *,
    connection_id: int,
    metric: MetricSpec,
    subject: Subject,
    periods: Sequence[Period],
) -> list[SeriesView]:
    """The subject's series: a rep's (or, for a deal metric, one per deal of theirs), a
    team's reps' one each, or a deal's."""
    wanted = _reps_of(db, source, connection_id, subject)
    measured = source.measure(metric, periods) if periods else {}
    if metric.subject_kind is SubjectKind.DEAL:
        keys = sorted(
            (key for key in measured if _wanted(key, wanted, subject.deal)),
            key=lambda key: (key.rep_crm_id, key.deal_crm_id or ""),
        )
        if subject.deal is not None and not keys:  # a deal not open in any period
            keys = [SubjectKey(next(iter(wanted)), subject.deal)]
    else:
        keys = [SubjectKey(rep) for rep in sorted(wanted)]
    empty = Observation(0.0) if metric.shape is MetricShape.RATE else None
    return [_series(key, measured.get(key) or [empty] * len(periods)) for key in keys]


def checked_subject(subject: Subject, metric: MetricSpec) -> None:
    """One of rep, team or deal; a deal only for a deal metric."""
    given = [name for name, value in subject.model_dump().items() if value is not None]
    if len(given) != 1:
        problem = FieldProblem(field="rep", message="give exactly one of rep, team or deal")
        raise invalid("whose values?", [problem])
    if subject.deal is not None and metric.subject_kind is SubjectKind.REP:
        message = f"{metric.metric} describes reps: ask for a rep or a team"
        problem = FieldProblem(field="deal", message=message)
        raise invalid("a deal has no value of this metric", [problem])


def _wanted(key: SubjectKey, reps: set[str], deal: str | None) -> bool:
    return key.rep_crm_id in reps and (deal is None or key.deal_crm_id == deal)


def _reps_of(
    db: Session, source: SqlMetricSource, connection_id: int, subject: Subject
) -> set[str]:
    if subject.deal is not None:
        owner = db.scalar(
            select(Opportunity.owner_crm_id).where(
                Opportunity.connection_id == connection_id,
                Opportunity.crm_id == subject.deal,
                Opportunity.deleted_at.is_(None),
            )
        )
        if owner is None:
            raise not_found(f"deal {subject.deal!r} of connection {connection_id} (with an owner)")
        return {owner}
    reps = source.reps()
    if subject.rep is not None:
        if subject.rep not in {rep.crm_id for rep in reps}:
            raise not_found(f"rep {subject.rep!r} of connection {connection_id}")
        return {subject.rep}
    team = {rep.crm_id for rep in reps if rep.team == subject.team}
    if not team:
        raise not_found(f"team {subject.team!r} of connection {connection_id}")
    return team


def _series(key: SubjectKey, values: Sequence[Observation | None]) -> SeriesView:
    observed = [None if value is None else _observation(value) for value in values]
    return SeriesView(rep_crm_id=key.rep_crm_id, deal_crm_id=key.deal_crm_id, values=observed)


def _observation(observed: Observation) -> ObservationView:
    return ObservationView(
        value=_finite(observed.value),
        sample=observed.sample,
        parts=_parts(observed.parts),
        deals=list(observed.deals),
        detail=observed.detail,
        quota_period_start=observed.period_start,
        quota_period_end=observed.period_end,
    )


def _parts(parts: Mapping[str, float]) -> dict[str, float | None]:
    return {name: _finite(value) for name, value in parts.items()}


def _finite(value: float | None) -> float | None:
    """As measured (a Decimal sum becomes the float it equals); JSON has no infinity."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
