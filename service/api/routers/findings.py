"""``/v1/findings``, ``/v1/tasks`` and ``/v1/coaching-report``: what the rules found,
what driftcoach asked people to do about it, and whether that worked.

Findings are made and resolved by evaluations; through the API a person may only snooze
one (stop coaching it until a date, with a reason) or unsnooze it. Every such change is
in the finding's history (its transitions) and in the audit log.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.auth import scoped, session
from service.api.findings_views import (
    FindingDetail,
    FindingFilters,
    FindingView,
    SnoozeRequest,
    finding_detail,
    finding_views,
    findings_query,
    snooze,
    unsnooze,
)
from service.api.keys import Caller
from service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode, page
from service.api.problems import FieldProblem, invalid, not_found, problem_responses
from service.api.tasks_views import (
    CoachingReport,
    TaskFilters,
    TaskKind,
    TaskView,
    coaching_lines_view,
    task_views,
    tasks_query,
)
from service.store.coaching_report import coaching_report
from service.store.tables import (
    Connection,
    CrmWrite,
    Finding,
    FindingState,
    OutboxState,
    Severity,
    utcnow,
)

router = APIRouter(prefix="/v1", tags=["findings"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Reader = Annotated[Caller, Depends(scoped("findings:read"))]
Writer = Annotated[Caller, Depends(scoped("findings:write"))]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
#: Row ids are 64-bit: a larger number names nothing (and SQLite could not bind it).
MAX_ID = 2**63 - 1
FindingId = Annotated[int, Path(ge=1, le=MAX_ID)]
READ = problem_responses(401, 403, 422)
CHANGE = problem_responses(401, 403, 404, 409, 422)


@router.get("/findings", response_model=Page[FindingView], responses=READ)
def list_findings(  # noqa: PLR0917 - one parameter per filter
    db: Db,
    _: Reader,
    state: Annotated[list[FindingState] | None, Query(description="Repeatable.")] = None,
    rule: Annotated[str | None, Query(description="A rule key.")] = None,
    rep: Annotated[str | None, Query(description="The rep's CRM id.")] = None,
    manager: Annotated[str | None, Query(description="Their manager's CRM id.")] = None,
    team: str | None = None,
    severity: Annotated[list[Severity] | None, Query(description="Repeatable.")] = None,
    opened_after: Annotated[
        AwareDatetime | None, Query(description="Opened at or after (ISO 8601 with zone).")
    ] = None,
    opened_before: AwareDatetime | None = None,
    connection: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="A connection id.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[FindingView]:
    """Findings, newest first; every filter given narrows the list (a repeated one
    matches any of its values). A finding about a deal names the deal and its owner."""
    filters = FindingFilters(
        states=tuple(state or ()), severities=tuple(severity or ()), rule=rule, rep=rep,
        manager=manager, team=team, opened_after=opened_after, opened_before=opened_before,
        connection=connection,
    )  # fmt: skip
    query = findings_query(filters).limit(limit + 1)
    after = decode(cursor, 1)
    if after is not None:
        query = query.where(Finding.id < _int(after[0]))
    found = finding_views(db.execute(query).all())
    return page(found, limit, lambda view: [view.id])


@router.get(
    "/findings/{finding_id}",
    response_model=FindingDetail,
    responses=problem_responses(401, 403, 404, 422),
)
def get_finding(finding_id: FindingId, db: Db, _: Reader) -> FindingDetail:
    """The finding and its history: every opening, escalation, easing, snooze and
    resolution, oldest first, each with the evidence of that moment."""
    return finding_detail(db, finding_id)


@router.post("/findings/{finding_id}:snooze", response_model=FindingDetail, responses=CHANGE)
def snooze_finding(
    finding_id: FindingId, body: SnoozeRequest, db: Db, who: Writer
) -> FindingDetail:
    """Stop coaching an open finding until ``until`` (at most 90 days ahead): it stays
    live, is still judged and resolves as usual, but gets no new task. A finding that
    is not open is a conflict (409), except one whose snooze has already ended, which
    may be snoozed again."""
    snooze(db, finding_id, body, who.name)
    return finding_detail(db, finding_id)


@router.post("/findings/{finding_id}:unsnooze", response_model=FindingDetail, responses=CHANGE)
def unsnooze_finding(finding_id: FindingId, db: Db, who: Writer) -> FindingDetail:
    """Coach a snoozed finding again from the next evaluation; 409 when not snoozed."""
    unsnooze(db, finding_id, who.name)
    return finding_detail(db, finding_id)


@router.get("/tasks", response_model=Page[TaskView], responses=READ)
def list_tasks(  # noqa: PLR0917 - one parameter per filter
    db: Db,
    _: Reader,
    state: Annotated[list[OutboxState] | None, Query(description="Repeatable.")] = None,
    kind: Annotated[TaskKind | None, Query(description="coaching or hygiene")] = None,
    assignee: Annotated[str | None, Query(description="The assignee's CRM id.")] = None,
    rule: Annotated[str | None, Query(description="A rule key.")] = None,
    finding: Annotated[int | None, Query(ge=1, le=MAX_ID, description="A finding id.")] = None,
    connection: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="A connection id.")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[TaskView]:
    """Coaching tasks (for managers) and hygiene tasks (for reps), newest first, each
    with its follow-ups and how it ended in the CRM."""
    filters = TaskFilters(states=tuple(state or ()), kind=kind, assignee=assignee, rule=rule,
                          finding=finding, connection=connection)  # fmt: skip
    query = tasks_query(filters).limit(limit + 1)
    after = decode(cursor, 1)
    if after is not None:
        query = query.where(CrmWrite.id < _int(after[0]))
    found = task_views(db, db.scalars(query).all())
    return page(found, limit, lambda view: [view.id])


@router.get(
    "/coaching-report",
    response_model=CoachingReport,
    responses=problem_responses(401, 403, 404, 422),
)
def get_coaching_report(
    db: Db,
    _: Reader,
    connection: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="A connection id; default all.")
    ] = None,
    days: Annotated[int, Query(ge=1, le=3650, description="Tasks delivered since.")] = 180,
) -> CoachingReport:
    """Is coaching working? Per manager and rule: coaching tasks delivered in the last
    ``days``, how many the manager completed and how fast (median days), and the share
    after which the indicator recovered."""
    if connection is None:
        ids = list(db.scalars(select(Connection.id).order_by(Connection.id)))
    elif db.get(Connection, connection) is None:
        raise not_found(f"connection {connection}")
    else:
        ids = [connection]
    since = utcnow() - timedelta(days=days)
    lines = coaching_report(db, ids, since=since) if ids else []
    return CoachingReport(connection_ids=ids, since=since,
                          lines=coaching_lines_view(db, ids, lines))  # fmt: skip


def _int(value: object) -> int:
    """A cursor's id; a cursor that does not hold one is refused like any bad cursor."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    problem = FieldProblem(field="cursor", message="not a cursor this list gave out")
    raise invalid("the cursor is not valid", [problem])
