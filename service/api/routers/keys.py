"""``/v1/keys``: API keys (admin scope). A key's token is in the answer that makes it
and nowhere else; listing shows names, scopes, last use and revocation only."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from service.api.auth import scoped, session
from service.api.keys import SCOPES, ApiKeyError, Caller, create_key, list_keys, revoke_key
from service.api.problems import FieldProblem, invalid, not_found, problem_responses

router = APIRouter(prefix="/v1", tags=["keys"], responses=problem_responses(400, 413, 422))
Db = Annotated[Session, Depends(session)]
Admin = Annotated[Caller, Depends(scoped("admin"))]


class KeyRequest(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(min_length=1, description=f"Of: {', '.join(SCOPES)}.")


class KeyView(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewKeyView(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    token: str = Field(description="Shown once: store it now, it cannot be read again.")


@router.post(
    "/keys", status_code=201, response_model=NewKeyView, responses=problem_responses(401, 403, 422)
)
def create(request: KeyRequest, db: Db, who: Admin) -> NewKeyView:
    try:
        made = create_key(db, request.name, request.scopes, actor=who.name)
    except ApiKeyError as exc:
        raise invalid(str(exc), [FieldProblem(field="scopes", message=str(exc))]) from None
    return NewKeyView(
        key_id=made.key_id, name=made.name, scopes=list(made.scopes), token=made.token
    )


@router.get("/keys", response_model=list[KeyView], responses=problem_responses(401, 403))
def index(db: Db, _: Admin) -> list[KeyView]:
    return [
        KeyView(key_id=k.key_id, name=k.name, scopes=list(k.scopes), created_at=k.created_at,
                created_by=k.created_by, last_used_at=k.last_used_at, revoked_at=k.revoked_at)
        for k in list_keys(db)
    ]  # fmt: skip


@router.delete("/keys/{key_id}", status_code=204, responses=problem_responses(401, 403, 404))
def revoke(key_id: str, db: Db, who: Admin) -> Response:
    """Revoke for good: the key is refused from its next request on."""
    if not revoke_key(db, key_id, actor=who.name):
        raise not_found(f"key {key_id!r}")
    return Response(status_code=204)
