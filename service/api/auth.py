"""Who may call: ``Authorization: Bearer dc_...`` on every endpoint but health, and the
scope each endpoint needs (``Depends(scoped("rules:write"))``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.api.keys import Caller, authenticate
from service.api.problems import ApiProblem
from service.store import Store

_bearer = HTTPBearer(auto_error=False, description="An API key: dc_<key id>_<secret>")
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="driftcoach"'}


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store


def caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The key's holder; 401 for a missing, malformed, unknown or revoked key (the
    answer does not say which: that would help someone guessing keys)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised("send an API key as 'Authorization: Bearer dc_...'")
    with store_of(request).unit_of_work() as unit:
        found = authenticate(unit, credentials.credentials)
    if found is None:
        raise _unauthorised("the API key is not valid (unknown, malformed or revoked)")
    return found


def scoped(scope: str) -> Callable[[Caller], Caller]:
    """A dependency: the caller, if their key has ``scope`` (or ``admin``); else 403."""

    def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if not who.may(scope):
            raise ApiProblem(403, "forbidden", "Forbidden", f"this needs the {scope} scope")
        return who

    return check


def _unauthorised(detail: str) -> ApiProblem:
    return ApiProblem(401, "unauthorised", "Unauthorised", detail, headers=_CHALLENGE)


def session(request: Request, _: Annotated[Caller, Depends(caller)]) -> Iterator[Session]:
    """One unit of work per request, once the key is checked (in its own short
    transaction: never inside this one): committed when the endpoint returns, rolled
    back when it raises (a problem included). A request that may write takes SQLite's
    write lock as it begins, so two writers wait their turn instead of one failing."""
    writes = request.method not in ("GET", "HEAD", "OPTIONS")
    with store_of(request).unit_of_work(writes=writes) as unit:
        yield unit
