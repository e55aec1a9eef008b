"""``/v1/metrics``: what a rule can measure, and what it measures now.

The catalogue is read off the metric models (:mod:`service.api.metrics_views`): each
metric's parameters, subject, shape, level, value format and the standard bases that fit
it, enough for a UI to build a rule form. ``/values`` measures one metric for a rep, a
team or a deal over a range of periods exactly as an evaluation would, and writes
nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from rules.periods import PeriodUnit
from service.api.auth import scoped, session
from service.api.keys import Caller
from service.api.metric_values_views import (
    MetricValues,
    Subject,
    checked_subject,
    parsed_metric,
    period_views,
    periods_between,
    series_of,
)
from service.api.metrics_views import FIXED, MetricView, catalogue, models_by_name
from service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode, page
from service.api.problems import FieldProblem, invalid, not_found, problem_responses
from service.store.sql_metric_source import SqlMetricSource
from service.store.tables import Connection, utcnow

router = APIRouter(prefix="/v1", tags=["metrics"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Reader = Annotated[Caller, Depends(scoped("rules:read"))]
_TEXT = r"^[^\x00-\x1f\x7f]+$"  # no control characters (the store refuses NUL)
CrmIdQuery = Annotated[str | None, Query(min_length=1, max_length=64, pattern=_TEXT)]
TeamQuery = Annotated[
    str | None, Query(min_length=1, max_length=255, pattern=_TEXT, description="A team name")
]
ParamsQuery = Annotated[
    str | None,
    Query(
        max_length=4000,
        description='The metric\'s parameters as a JSON object, e.g. {"kinds": ["call"]} '
        "(see the catalogue); the defaults for any left out.",
    ),
]


@router.get("/metrics", response_model=Page[MetricView], responses=problem_responses(401, 403, 422))
def list_metrics(
    _: Reader,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MetricView]:
    """Every metric a rule can use, by name, with its parameters (type, allowed values,
    default, bounds), subject (rep or deal), shape (rate or snapshot), value format, the
    standard bases that fit it and a one-line summary."""
    after = decode(cursor, 1)
    views = [view for name, view in catalogue().items() if after is None or name > str(after[0])]
    return page(views[: limit + 1], limit, lambda view: [view.name])


@router.get(
    "/metrics/{name}", response_model=MetricView, responses=problem_responses(401, 403, 404)
)
def get_metric(name: str, _: Reader) -> MetricView:
    found = catalogue().get(name)
    if found is None:
        raise not_found(f"metric {name!r}")
    return found


@router.get(
    "/metrics/{name}/values",
    response_model=MetricValues,
    responses=problem_responses(401, 403, 404, 422),
)
def metric_values(  # noqa: PLR0917 - FastAPI names each parameter's source by its type
    name: str,
    _: Reader,
    db: Db,
    connection: Annotated[int, Query(ge=1, le=2**53, description="The connection's id")],
    unit: PeriodUnit,
    first: Annotated[date, Query(alias="from", description="A day of the first period")],
    last: Annotated[date, Query(alias="to", description="A day of the last period")],
    rep: CrmIdQuery = None,
    team: TeamQuery = None,
    deal: CrmIdQuery = None,
    params: ParamsQuery = None,
) -> MetricValues:
    """The metric's raw values per period for one rep, every rep of a team, or one deal
    (deal metrics: a rep's or a team's deals each get a series), as measured for an
    evaluation now: exact, unrounded, not divided by business days (each period says
    its own), with the parts the metric reports (numerator, denominator, quota...).

    Periods are the calendar units (``unit``) from the one holding ``from`` to the one
    holding ``to``, at most 104; the current one ends now, later ones are left out.
    The metric's parameters come as a JSON object in ``params``. A rate metric a rep
    has no rows for is 0; a value that cannot be measured is null. Nothing is written.
    """
    model = models_by_name().get(name)
    if model is None:
        raise not_found(f"metric {name!r}")
    metric = parsed_metric(model, name, params)
    subject = Subject(rep=rep, team=team, deal=deal)
    checked_subject(subject, metric)
    if db.get(Connection, connection) is None:
        problem = FieldProblem(field="connection", message=f"no connection has id {connection}")
        raise invalid("the connection does not exist", [problem])
    now = utcnow()
    periods = periods_between(first, last, unit, now)
    source = SqlMetricSource(db, connection, as_of=now)
    try:
        series = series_of(
            db, source, connection_id=connection, metric=metric, subject=subject, periods=periods
        )
        freshness = source.data_as_of()
    finally:
        source.close()
    return MetricValues(
        metric=name,
        params=metric.model_dump(mode="json", exclude=set(FIXED)),
        connection_id=connection,
        unit=unit,
        as_of=now,
        data_as_of=freshness,
        periods=period_views(periods, unit),
        series=series,
    )
