"""``/v1/quotas``: reps' quotas, from the CRM and set by sales ops.

Sales ops set one quota per rep and period (``PUT``, or many at once from a CSV file);
those rows sit beside the quotas synced from the CRM, which they never overwrite, and
the metrics read whichever of a rep's quotas for a period changed last. An upload is
all or nothing: one bad row and no quota changes, with every problem named by line and
column.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.api.auth import scoped, session
from service.api.keys import Caller
from service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode, page
from service.api.problems import (
    MEDIA_TYPE,
    ApiProblem,
    FieldProblem,
    Problem,
    invalid,
    problem_responses,
)
from service.api.quotas_views import (
    CSV_BODY,
    MAX_LISTED,
    QuotaIn,
    QuotaView,
    Upload,
    read_csv,
)
from service.store.quotas import QuotaInput, SetQuota, known_reps, list_quotas, set_quotas
from service.store.tables import Connection

router = APIRouter(prefix="/v1", tags=["quotas"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Reader = Annotated[Caller, Depends(scoped("rules:read"))]
Writer = Annotated[Caller, Depends(scoped("rules:write"))]
CrmIdQuery = Annotated[
    str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
_UNSUPPORTED: dict[int | str, dict[str, Any]] = {
    415: {
        "model": Problem,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "description": "The body is not text/csv",
    }
}


@router.get("/quotas", response_model=Page[QuotaView], responses=problem_responses(401, 403, 422))
def list_all(  # noqa: PLR0917 - FastAPI names each parameter's source by its type
    _: Reader,
    db: Db,
    connection: Annotated[int | None, Query(ge=1, le=2**53)] = None,
    rep: CrmIdQuery = None,
    period: Annotated[date | None, Query(description="Quotas whose period holds this day")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[QuotaView]:
    """Live quotas, CRM and API alike (``source``), by id; filter by connection, rep CRM
    id, or a day their period contains."""
    after = decode(cursor, 1)
    rows = list_quotas(db, connection_id=connection, rep_crm_id=rep, covering=period,
                       after_id=_int(after[0]) if after else None, limit=limit + 1)  # fmt: skip
    return page([QuotaView.of(row) for row in rows], limit, lambda view: [view.id])


@router.put(
    "/quotas",
    response_model=QuotaView,
    responses={
        201: {"model": QuotaView, "description": "Created"},
        **problem_responses(401, 403, 409, 422),
    },
)
def put_quota(who: Writer, quota: QuotaIn, db: Db, response: Response) -> QuotaView:
    """Set a rep's quota for a period: created (201), or the one set before for exactly
    this rep and period replaced (200). The rep must be one of the connection's."""
    _connection(db, quota.connection_id, field="connection_id")
    if not known_reps(db, quota.connection_id, [quota.rep_crm_id]):
        raise invalid("the rep is not known", [_unknown_rep("rep_crm_id", quota.connection_id)])
    (result,) = _applied(db, quota.connection_id, [quota.as_input()], who)
    response.status_code = 201 if result.outcome == "created" else 200
    return QuotaView.of(result.quota)


async def _csv_text(request: Request) -> str:
    """The body as text, if it is CSV in UTF-8 (a byte-order mark is allowed)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "text/csv":
        raise ApiProblem(415, "unsupported-media-type", "Unsupported media type",
                         "send the quotas as text/csv")  # fmt: skip
    try:
        return (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        problem = FieldProblem(field="body", message="not UTF-8 text")
        raise invalid("the file is not UTF-8", [problem]) from None


@router.post(
    "/quotas:upload",
    response_model=Upload,
    openapi_extra=CSV_BODY,
    responses={**problem_responses(401, 403, 409, 422), **_UNSUPPORTED},
)
def upload_quotas(
    who: Writer,
    connection: Annotated[int, Query(ge=1, le=2**53, description="The connection's id")],
    text: Annotated[str, Depends(_csv_text)],
    db: Db,
) -> Upload:
    """Set many quotas from a CSV file (columns ``rep_crm_id, period_start, period_end,
    amount[, currency]``, at most 10,000 rows), all or none: every problem (a value
    that does not parse, a period that ends before it starts, a rep the connection does
    not have, a rep and period given twice) is named as ``lines.<line>.<column>`` and
    nothing is applied."""
    _connection(db, connection, field="connection")
    rows, problems = read_csv(text)
    known = known_reps(db, connection, {row.quota.rep_crm_id for row in rows})
    problems += [_unknown_rep(f"lines.{row.line}.rep_crm_id", connection)
                 for row in rows if row.quota.rep_crm_id not in known]  # fmt: skip
    if problems:
        problems.sort(key=lambda problem: _line_of(problem.field))
        listed = "" if len(problems) <= MAX_LISTED else f"; the first {MAX_LISTED} are listed"
        detail = f"the file has {len(problems)} problems and nothing was applied{listed}"
        raise invalid(detail, problems[:MAX_LISTED])
    results = _applied(db, connection, [row.quota for row in rows], who)
    outcomes = [result.outcome for result in results]
    return Upload(
        connection_id=connection,
        rows=len(rows),
        created=outcomes.count("created"),
        updated=outcomes.count("updated"),
        unchanged=outcomes.count("unchanged"),
    )


def _applied(
    db: Session, connection_id: int, quotas: list[QuotaInput], who: Caller
) -> list[SetQuota]:
    """Set the quotas; a quota someone else created for the same rep and period at the
    same moment is a conflict (409), and nothing of this request is kept."""
    try:
        return set_quotas(db, connection_id, quotas, actor=who.name)
    except IntegrityError:
        raise ApiProblem(409, "conflict", "Conflict", "another request set one of these quotas "
                         "at the same time: send yours again") from None  # fmt: skip


def _connection(db: Session, connection_id: int, *, field: str) -> Connection:
    found = db.get(Connection, connection_id)
    if found is None:
        problem = FieldProblem(field=field, message=f"no connection has id {connection_id}")
        raise invalid("the connection does not exist", [problem])
    return found


def _unknown_rep(field: str, connection_id: int) -> FieldProblem:
    return FieldProblem(field=field, message=f"no rep of connection {connection_id} has this id")


def _line_of(field: str) -> int:
    parts = field.split(".")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0


def _int(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**62:
        return value
    problem = FieldProblem(field="cursor", message="not a cursor this list gave out")
    raise invalid("the cursor is not valid", [problem])
