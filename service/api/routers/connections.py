"""``/v1/connections``: the CRM orgs driftcoach syncs, how their syncs stand, and a sync
on demand (admin only: a sync spends the CRM's API allowance).

Nothing here shows a secret (see :mod:`service.api.connections_views`). A sync asked for
here runs in this process after the answer (202, with the connection's URL to poll);
a second one for the same connection while one runs, from here or the command line, is
refused (409): the store decides, so two servers cannot both start one.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from connectors.base import Connector
from rules.documents import describe_errors
from service.api.auth import scoped, session, store_of
from service.api.connections_views import (
    ConnectionStatus,
    ConnectionView,
    SyncAccepted,
    connection_view,
    run_sync,
    run_view,
    stream_view,
)
from service.api.keys import Caller
from service.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode, page
from service.api.problems import (
    MEDIA_TYPE,
    ApiProblem,
    FieldProblem,
    Problem,
    invalid,
    not_found,
    problem_responses,
)
from service.bootstrap import ConfigurationError, build_connector
from service.settings import Settings
from service.store import quarantine, sync_state
from service.store.connections import connections_after, get_connection
from service.store.tables import Connection, utcnow

router = APIRouter(prefix="/v1", tags=["connections"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Admin = Annotated[Caller, Depends(scoped("admin"))]
ConnectionId = Annotated[int, Path(ge=1, le=2**53, description="The connection's id")]
_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Problem,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        "description": "The service lacks the settings a sync needs",
    }
}


@router.get(
    "/connections",
    response_model=Page[ConnectionView],
    responses=problem_responses(401, 403, 422),
)
def list_connections(
    _: Admin,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ConnectionView]:
    """Every connection by id, with its CRM, state and non-secret options."""
    after = decode(cursor, 1)
    rows = connections_after(db, _after_id(after[0]) if after else None, limit + 1)
    return page([connection_view(row) for row in rows], limit, lambda view: [view.id])


@router.get(
    "/connections/{connection_id}",
    response_model=ConnectionStatus,
    responses=problem_responses(401, 403, 404),
)
def get_connection_status(connection_id: ConnectionId, _: Admin, db: Db) -> ConnectionStatus:
    """The connection and its syncs: per stream the cursor's time, the last run's status
    and counts (records read, written, deleted, quarantined; API calls) and error; the
    records held in quarantine; and the last sync started here, with the CRM's daily
    API usage when it reported it. Poll this after starting a sync."""
    row = _connection(db, connection_id)
    held = quarantine.open_counts(db, connection_id)
    requested, finished = sync_state.last_run(db, connection_id)
    return ConnectionStatus(
        **connection_view(row).model_dump(),
        running=sync_state.sync_running(db, connection_id, now=utcnow()),
        last_run=run_view(requested, finished),
        streams=[stream_view(state, held) for state in sync_state.streams_of(db, connection_id)],
        quarantined=held,
    )


@router.post(
    "/connections/{connection_id}:sync",
    status_code=202,
    response_model=SyncAccepted,
    responses={**problem_responses(401, 403, 404, 409), **_UNAVAILABLE},
)
def start_sync(
    connection_id: ConnectionId,
    who: Admin,
    request: Request,
    response: Response,
    background: BackgroundTasks,
) -> SyncAccepted:
    """Sync the connection now, in the background: 202 with the URL to poll (also in
    ``Location``). 409 while a sync of it runs (started here or by ``driftcoach sync``)
    or when it is disabled; 503 when the service lacks the settings (the CRM's
    credentials) to reach it."""
    settings = _settings(request)
    store = store_of(request)
    with store.unit_of_work(writes=True) as db:
        row = _connection(db, connection_id, lock=True)
        if not row.enabled:
            raise _conflict(f"connection {row.name!r} is disabled")
        connector = _connector(row, settings)
        run = sync_state.request_run(db, connection_id, actor=who.name, now=utcnow())
        if run is None:
            connector.close()
            raise _conflict(f"a sync of connection {row.name!r} is running: wait for it "
                            f"(GET /v1/connections/{connection_id})")  # fmt: skip
        run_id, requested_at = run.id, run.occurred_at
    commits = (settings.sync_min_commit, settings.sync_max_commit_delay_s)
    background.add_task(run_sync, store, connector, connection_id=connection_id, run_id=run_id,
                        actor=who.name, commits=commits)  # fmt: skip
    status_url = f"/v1/connections/{connection_id}"
    response.headers["Location"] = status_url
    return SyncAccepted(connection_id=connection_id, run_id=run_id, requested_at=requested_at,
                        status_url=status_url)  # fmt: skip


def _settings(request: Request) -> Settings:
    """The settings the app was built with; a sync cannot reach a CRM without them."""
    found = getattr(request.app.state, "settings", None)
    if not isinstance(found, Settings):
        raise ApiProblem(503, "unavailable", "Service unavailable",
                         "the API was started without its settings: it cannot sync")  # fmt: skip
    return found


def _connector(row: Connection, settings: Settings) -> Connector:
    """The connection's connector; 503 naming the setting that is missing or wrong (the
    service's configuration, not the request, is at fault). Values are never shown."""
    try:
        return build_connector(row, settings)
    except ConfigurationError as exc:
        detail = str(exc)
    except ValidationError as exc:
        detail = "; ".join(describe_errors(exc, whole="options"))
    raise ApiProblem(503, "unavailable", "Service unavailable",
                     f"connection {row.name!r} cannot be synced: {detail}")  # fmt: skip


def _connection(db: Session, connection_id: int, *, lock: bool = False) -> Connection:
    found = get_connection(db, connection_id, lock=lock)
    if found is None:
        raise not_found(f"connection {connection_id}")
    return found


def _conflict(detail: str) -> ApiProblem:
    return ApiProblem(409, "conflict", "Conflict", detail)


def _after_id(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 2**62:
        return value
    problem = FieldProblem(field="cursor", message="not a cursor this list gave out")
    raise invalid("the cursor is not valid", [problem])
