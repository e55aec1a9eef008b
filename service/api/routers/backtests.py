"""``/v1/backtests``: would the rules have warned in time? And
``/v1/rules/{key}/suggestions``: which standard and drift policy would have done best?

A backtest replays rules over a connection's history, one live evaluation at every
week (or month) boundary, each seeing only what was known then, and scores them against
the quota periods that ended in the range (as ``driftcoach backtest`` does). It takes
from seconds to minutes, so ``POST`` queues a job (202) and ``GET`` reads its state,
progress and, once done, its scores and HTML report. Jobs are kept **in this process's
memory** until a ``backtest_jobs`` table exists: a restart forgets them, and replicas do
not share them (:mod:`service.api.backtest_job_views`). Nothing a replay does is written.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from rules.backtest import replay_moments
from rules.documents import VersionedRule
from rules.periods import PeriodUnit
from service.api.auth import scoped, store_of
from service.api.backtest_job_views import Job, JobRequest, TooBusy, jobs_of
from service.api.backtest_views import (
    BacktestIn,
    BacktestJobView,
    Progress,
    Step,
    SuggestionView,
    in_utc,
    suggestion_view,
)
from service.api.keys import Caller
from service.api.problems import ApiProblem, FieldProblem, invalid, not_found, problem_responses
from service.api.settings_views import MAX_ID, Configured, more_problems, unavailable
from service.backtest.outcomes import quota_outcomes
from service.backtest.run import suggest_thresholds
from service.evaluation.packs import PackError, default_pack_dir, load_pack
from service.evaluation.run import stored_rules
from service.store.tables import Connection
from service.store.tables.base import utcnow

router = APIRouter(prefix="/v1", tags=["backtests"], responses=problem_responses(400, 413, 422))
Reader = Annotated[Caller, Depends(scoped("rules:read"))]
Writer = Annotated[Caller, Depends(scoped("rules:write"))]
#: A job replays at most this many steps (about three years of weeks); suggestions, which
#: replay 40-odd variants while the caller waits, at most a year of weeks.
MAX_STEPS, MAX_SUGGEST_STEPS = 160, 53
_DAYS_PER_STEP = {PeriodUnit.WEEK: 7, PeriodUnit.MONTH: 28}
HTML_REPORT: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/html": {"schema": {"type": "string"}}},
        "description": "The report: one static HTML page, no script.",
    }
}


@router.post(
    "/backtests",
    status_code=202,
    response_model=BacktestJobView,
    responses={**problem_responses(401, 403, 409, 422), **more_problems(429, 503)},
)
def start_backtest(
    body: BacktestIn, who: Writer, settings: Configured, request: Request, response: Response
) -> BacktestJobView:
    """Queue a backtest of the stored rules (``rules``: only these, enabled or not;
    ``pack``: a shipped pack instead) over ``connection_id``'s history from ``from`` to
    ``to``. Poll the job (``Location``) until it has ``succeeded`` or ``failed``."""
    if body.pack is not None and body.rules is not None:
        problem = FieldProblem(field="pack", message="give rules or pack, not both")
        raise invalid("give rules or pack", [problem])
    with store_of(request).unit_of_work() as db:
        connection_id, name = _connection(db, body.connection_id, "connection_id")
        rules = _pack() if body.pack is not None else _stored(db, body.rules)
    start, end = in_utc(body.start, "from"), in_utc(body.end or utcnow(), "to")
    every = PeriodUnit(body.step)
    steps = _steps(start, end, every, MAX_STEPS)
    asked = JobRequest(connection_id, name, tuple(rules), start, end, every,
                       body.miss_below, settings.evaluation_settings(), steps)  # fmt: skip
    try:
        job = jobs_of(request).submit(asked, created_by=who.name)
    except TooBusy as exc:
        detail = f"{exc}: try again when one has finished"
        raise ApiProblem(429, "too-busy", "Too many backtests waiting", detail) from None
    response.headers["Location"] = f"/v1/backtests/{job.id}"
    return _view(job)


@router.get(
    "/backtests/{backtest_id}",
    response_model=BacktestJobView,
    responses=problem_responses(401, 403, 404),
)
def get_backtest(backtest_id: str, _: Reader, request: Request) -> BacktestJobView:
    """The job's state and progress; its scores once it has succeeded, the reason once
    it has failed. A job this process does not know (never made, forgotten, or made
    before a restart) is a 404."""
    return _view(_job(request, backtest_id))


@router.get(
    "/backtests/{backtest_id}/report",
    response_class=HTMLResponse,
    responses={**HTML_REPORT, **problem_responses(401, 403, 404, 409)},
)
def get_backtest_report(backtest_id: str, _: Reader, request: Request) -> HTMLResponse:
    """The backtest as one static HTML page (scores, the activity -> result view, per
    rep a timeline per rule): inline CSS and SVG, no script, nothing loaded. 409 until
    the job has succeeded."""
    job = _job(request, backtest_id)
    if job.report is None:
        detail = f"backtest {job.id} is {job.state}: its report exists once it has succeeded"
        raise ApiProblem(409, "conflict", "Conflict", detail)
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
               "Content-Disposition": f'inline; filename="backtest-{job.id}.html"'}  # fmt: skip
    return HTMLResponse(job.report, headers=headers)


@router.get(
    "/rules/{key}/suggestions",
    response_model=SuggestionView,
    responses={**problem_responses(401, 403, 404, 422), **more_problems(503)},
)
def suggest(  # noqa: PLR0917 - FastAPI names each parameter's source by its type
    key: str,
    _: Reader,
    settings: Configured,
    request: Request,
    connection_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    start: Annotated[datetime, Query(alias="from", description="UTC if no offset.")],
    end: Annotated[datetime | None, Query(alias="to", description="Default: now.")] = None,
    step: Step = "week",
    false_alarms: Annotated[float, Query(ge=0, le=1)] = 0.2,
    miss_below: Annotated[float, Query(gt=0, le=10)] = 1.0,
) -> SuggestionView:
    """Replay the stored rule (enabled or not) with its standard scaled from x0.7 to
    x1.3, crossed with drift policies from 2 of 2 to 4 of 4, side by side, and suggest
    the best recall whose false alarms (flagged periods that ended well, over all that
    ended well) stay within ``false_alarms``; beside it, the current policy's scores.
    It fits the history it was tuned on: check it on a later range."""
    store = store_of(request)
    with store.unit_of_work() as db:
        connection_id, _name = _connection(db, connection_id, "connection_id")
        rule = _stored_rule(db, key)
    first, last = in_utc(start, "from"), in_utc(end or utcnow(), "to")
    every = PeriodUnit(step)
    _steps(first, last, every, MAX_SUGGEST_STEPS)
    moments = replay_moments(first, last, every)
    with store.unit_of_work() as db:
        outcomes = quota_outcomes(db, connection_id, first, last)
    found = suggest_thresholds(
        store, connection_id, rule, moments, outcomes, settings=settings.evaluation_settings(),
        budget=false_alarms, miss_below=miss_below,
    )  # fmt: skip
    return suggestion_view(found, connection_id, first, last)


def _connection(db: Session, connection_id: int, field: str) -> tuple[int, str]:
    """The connection's id and name; 422 naming ``field`` when there is none."""
    found = db.get(Connection, connection_id)
    if found is None:
        problem = FieldProblem(field=field, message=f"no connection {connection_id}")
        raise invalid("the connection does not exist", [problem])
    return found.id, found.name


def _steps(start: datetime, end: datetime, every: PeriodUnit, most: int) -> int:
    """How many boundaries lie in ``(start, end]``, within ``most`` (checked on the span
    before any is listed)."""
    if end <= start:
        raise invalid(
            "the range is empty", [FieldProblem(field="to", message="must be after from")]
        )
    if (end - start).days // _DAYS_PER_STEP[every] > most:
        message = f"at most {most} {every.value}s can be replayed at once"
        raise invalid("the range is too long", [FieldProblem(field="from", message=message)])
    steps = len(replay_moments(start, end, every))
    if steps == 0:
        message = f"no {every.value} boundary lies between from and to"
        raise invalid("nothing to replay", [FieldProblem(field="from", message=message)])
    return steps


def _pack() -> list[VersionedRule]:
    try:
        return [VersionedRule(packed.document, 0) for packed in load_pack(default_pack_dir())]
    except PackError as exc:  # the installation is broken, not the request
        raise unavailable("the default pack does not load: " + "; ".join(exc.problems)) from None


def _stored(db: Session, keys: list[str] | None) -> list[VersionedRule]:
    """The enabled stored rules, or the ones named (enabled or not: naming one asks for
    its replay)."""
    if keys is not None:
        return [_stored_rule(db, key, field=f"rules[{n}]") for n, key in enumerate(keys)]
    rules, broken = stored_rules(db)
    if broken:
        detail = f"stored rules no longer validate: {', '.join(broken)}: apply them again"
        raise ApiProblem(409, "conflict", "Conflict", detail)
    if not rules:
        message = "no enabled stored rule: apply a pack, or give pack"
        raise invalid("nothing to replay", [FieldProblem(field="rules", message=message)])
    return rules


def _stored_rule(db: Session, key: str, *, field: str | None = None) -> VersionedRule:
    """The stored rule ``key``, enabled for the replay; 404 (or, for a body ``field``,
    422) when there is none that validates."""
    rules, _ = stored_rules(db, enabled_only=False)
    found = next((rule for rule in rules if rule.key == key), None)
    if found is None:
        if field is None:
            raise not_found(f"rule {key!r}")
        message = f"no stored rule {key!r} (or it no longer validates)"
        raise invalid("a rule does not exist", [FieldProblem(field=field, message=message)])
    enabled = found.document.model_copy(update={"enabled": True})
    return VersionedRule(enabled, found.version)


def _job(request: Request, backtest_id: str) -> Job:
    job = jobs_of(request).get(backtest_id)
    if job is None:
        raise not_found(f"backtest {backtest_id!r}")
    return job


def _view(job: Job) -> BacktestJobView:
    asked = job.request
    return BacktestJobView(
        id=job.id, state=job.state, connection_id=asked.connection_id,
        rules=[rule.key for rule in asked.rules], start=asked.start, end=asked.end,
        step="week" if asked.every is PeriodUnit.WEEK else "month",
        created_by=job.created_by, created_at=job.created_at,
        started_at=job.started_at, finished_at=job.finished_at,
        progress=Progress(steps_done=job.steps_done, steps_total=asked.steps_total),
        error=job.error, result=job.scores,
    )  # fmt: skip
