"""``/healthz`` (the process answers) and ``/readyz`` (the store is reachable and its
schema is the one this code expects): the two probes an orchestrator asks, no key."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.api.auth import store_of
from service.api.problems import problem_responses
from service.store import migrate

router = APIRouter(tags=["health"], responses=problem_responses(422))


class Health(BaseModel):
    status: str
    detail: str | None = None


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> JSONResponse:
    store = store_of(request)
    try:
        with store.unit_of_work() as session:
            session.execute(text("SELECT 1"))
        current = migrate.revisions_of(store.engine)
    except SQLAlchemyError as exc:
        return _unready(f"the database cannot be reached ({type(exc).__name__})")
    head = migrate.head_revision()
    if current != (head,):
        return _unready(f"the schema is at {', '.join(current) or 'nothing'}, not {head}: "
                        "run 'driftcoach db upgrade'")  # fmt: skip
    return JSONResponse(Health(status="ready").model_dump())


def _unready(detail: str) -> JSONResponse:
    return JSONResponse(Health(status="unready", detail=detail).model_dump(), status_code=503)
