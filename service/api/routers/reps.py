"""``/v1/reps`` and the scorecards: who is judged, and where each rep stands on every
leading indicator against their standard.

A scorecard is the rules core's judgement as of a moment (default now) computed on
request: the same judgement an evaluation makes, with nothing written (no finding,
task or event), so it can be asked as often as a manager likes, and as of any past
moment (with only what was known then).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime, BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.assessment_views import Judgement, judge_connection
from service.api.auth import scoped, session
from service.api.keys import Caller
from service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode, page
from service.api.problems import FieldProblem, invalid, not_found, problem_responses
from service.api.scorecard_views import RepScorecard, TeamScorecard, rep_score, team_scores
from service.settings import Settings
from service.store.tables import Connection, Rep, utcnow

router = APIRouter(prefix="/v1", tags=["reps"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Reader = Annotated[Caller, Depends(scoped("findings:read"))]
MAX_ID = 2**63 - 1
ConnectionId = Annotated[
    int | None,
    Query(ge=1, le=MAX_ID, description="A connection id; may be left out when there is one."),
]
AsOf = Annotated[
    AwareDatetime | None,
    Query(description="Judge as of this moment (ISO 8601 with zone; default now)."),
]
Periods = Annotated[int, Query(ge=1, le=12, description="How many periods' values to show.")]
SCORECARD = problem_responses(401, 403, 404, 422)
#: The earliest moment a scorecard may be asked as of: before it, no CRM data exists
#: and quarter arithmetic would run off the calendar.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class RepView(BaseModel):
    id: int
    crm_id: str
    connection_id: int
    name: str
    manager_crm_id: str | None
    team: str | None
    role: str | None
    active: bool
    started_on: date | None


@router.get("/reps", response_model=Page[RepView], responses=problem_responses(401, 403, 422))
def list_reps(  # noqa: PLR0917 - one parameter per filter
    db: Db,
    _: Reader,
    connection: ConnectionId = None,
    manager: Annotated[str | None, Query(description="Their manager's CRM id.")] = None,
    team: str | None = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RepView]:
    """CRM users as synced (reps and managers; deleted ones left out), in store order."""
    query = select(Rep).where(Rep.deleted_at.is_(None)).order_by(Rep.id).limit(limit + 1)
    conditions = [
        Rep.connection_id == connection if connection is not None else None,
        Rep.manager_crm_id == manager if manager is not None else None,
        Rep.team == team if team is not None else None,
        Rep.is_active.is_(active) if active is not None else None,
    ]
    query = query.where(*(condition for condition in conditions if condition is not None))
    after = decode(cursor, 1)
    if after is not None:
        query = query.where(Rep.id > _cursor_id(after[0]))
    views = [_rep(rep) for rep in db.scalars(query)]
    return page(views, limit, lambda view: [view.id])


@router.get("/reps/{crm_id}/scorecard", response_model=RepScorecard, responses=SCORECARD)
def rep_scorecard(  # noqa: PLR0917 - FastAPI names each parameter's source by its type
    crm_id: Annotated[str, Path(description="The rep's CRM id.")],
    db: Db,
    _: Reader,
    request: Request,
    connection: ConnectionId = None,
    as_of: AsOf = None,
    periods: Periods = 4,
) -> RepScorecard:
    """Every indicator the rep's enabled rules judge: its value and standard (and how
    the standard was derived), ``ok``, ``drifting`` (outside the standard enough to
    open a finding) or ``finding_open``, and the last ``periods`` periods' values. A rep
    the rules do not judge (inactive, a manager) has no indicators."""
    connection_id = _connection(db, connection)
    rep = db.scalars(
        select(Rep).where(Rep.connection_id == connection_id, Rep.crm_id == crm_id)
    ).one_or_none()
    if rep is None:
        raise not_found(f"rep {crm_id!r} in connection {connection_id}")
    judgement = _judge(db, request, connection_id, as_of, periods)
    return RepScorecard(connection_id=connection_id, as_of=judgement.as_of,
                        rep=rep_score(judgement, crm_id, rep.name, periods),
                        invalid_rules=list(judgement.invalid))  # fmt: skip


@router.get("/teams/{team}/scorecard", response_model=TeamScorecard, responses=SCORECARD)
def team_scorecard(  # noqa: PLR0917 - FastAPI names each parameter's source by its type
    team: Annotated[str, Path(description="The team's name as the CRM has it.")],
    db: Db,
    _: Reader,
    request: Request,
    connection: ConnectionId = None,
    as_of: AsOf = None,
    periods: Periods = 4,
) -> TeamScorecard:
    """The scorecard of every judged rep of the team (reps by name), as for one rep;
    team medians are the team's when it has enough reps, as the rules use them."""
    connection_id = _connection(db, connection)
    known = db.scalar(
        select(Rep.id).where(Rep.connection_id == connection_id, Rep.team == team).limit(1)
    )
    if known is None:
        raise not_found(f"team {team!r} in connection {connection_id}")
    judgement = _judge(db, request, connection_id, as_of, periods)
    return TeamScorecard(connection_id=connection_id, as_of=judgement.as_of, team=team,
                         reps=team_scores(judgement, team, periods),
                         invalid_rules=list(judgement.invalid))  # fmt: skip


def _connection(db: Session, wanted: int | None) -> int:
    """The connection asked for, or the only one there is."""
    if wanted is not None:
        if db.get(Connection, wanted) is None:
            raise not_found(f"connection {wanted}")
        return wanted
    ids = list(db.scalars(select(Connection.id).order_by(Connection.id).limit(2)))
    if not ids:
        raise not_found("a connection")
    if len(ids) > 1:
        problem = FieldProblem(field="connection", message="several connections exist: name one")
        raise invalid("say which connection", [problem])
    return ids[0]


def _judge(
    db: Session, request: Request, connection_id: int, as_of: datetime | None, periods: int
) -> Judgement:
    """The core's judgement as of ``as_of``, under the service's settings (the roster
    and the data-age limit the evaluations use)."""
    now = utcnow()
    moment = now if as_of is None else as_of
    if not EARLIEST <= moment <= now:
        message = f"must be between {EARLIEST.date().isoformat()} and now"
        raise invalid("as_of is out of range", [FieldProblem(field="as_of", message=message)])
    moment = moment.astimezone(UTC)  # inside the calendar in UTC: it is after 2000
    settings: Settings | None = getattr(request.app.state, "settings", None)
    if settings is None:
        return judge_connection(db, connection_id, moment, periods)
    return judge_connection(
        db, connection_id, moment, periods,
        settings=settings.evaluation_settings(),
        max_data_age=timedelta(hours=settings.max_data_age_hours),
    )  # fmt: skip


def _rep(rep: Rep) -> RepView:
    return RepView(id=rep.id, crm_id=rep.crm_id, connection_id=rep.connection_id, name=rep.name,
                   manager_crm_id=rep.manager_crm_id, team=rep.team, role=rep.role,
                   active=rep.is_active, started_on=rep.started_on)  # fmt: skip


def _cursor_id(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_ID:
        return value
    problem = FieldProblem(field="cursor", message="not a cursor this list gave out")
    raise invalid("the cursor is not valid", [problem])
