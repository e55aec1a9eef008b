"""Making, finding and revoking API keys (``dc_`` + key id + secret).

Scopes: ``rules:read``, ``rules:write``, ``findings:read``, ``findings:write``,
``webhooks:write`` and ``admin`` (every scope, and keys themselves). A write scope does
not imply its read scope: a CI job that only applies packs needs ``rules:write`` alone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.tables import AuditEntry
from service.store.tables.api_keys import ApiKey
from service.store.tables.base import utcnow

SCOPES = ("rules:read", "rules:write", "findings:read", "findings:write", "webhooks:write", "admin")
PREFIX = "dc_"
LAST_USED_PRECISION = timedelta(minutes=1)


class ApiKeyError(ValueError):
    """A key or its scopes cannot be made as asked; the message says why."""


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key as made: ``token`` is shown once and never stored."""

    id: int
    key_id: str
    name: str
    scopes: tuple[str, ...]
    token: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: the key's row id, its name (the audit actor) and its scopes."""

    key_id: str
    name: str
    scopes: frozenset[str]

    def may(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def checked_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    wanted = tuple(dict.fromkeys(scope.strip() for scope in scopes if scope.strip()))
    unknown = [scope for scope in wanted if scope not in SCOPES]
    if unknown:
        raise ApiKeyError(f"unknown scopes {', '.join(unknown)}: use {', '.join(SCOPES)}")
    if not wanted:
        raise ApiKeyError(f"a key needs at least one scope of {', '.join(SCOPES)}")
    return wanted


def create_key(session: Session, name: str, scopes: Sequence[str], *, actor: str) -> NewKey:
    """A new key; its token is in the result and nowhere else."""
    name = name.strip()
    if not name or len(name) > 200:
        raise ApiKeyError("a key needs a name of 1 to 200 characters")
    wanted = checked_scopes(scopes)
    key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
    row = ApiKey(key_id=key_id, name=name, secret_sha256=_digest(secret), scopes=list(wanted),
                 created_by=actor)  # fmt: skip
    session.add(row)
    session.flush()
    _audit(session, actor, "api_key.created", row, {"name": name, "scopes": list(wanted)})
    return NewKey(row.id, key_id, name, wanted, f"{PREFIX}{key_id}_{secret}")


def authenticate(session: Session, token: str, *, now: datetime | None = None) -> Caller | None:
    """The caller a token names, or None (malformed, unknown, wrong secret, revoked);
    the last-used time is recorded. The comparison takes the same time whatever the
    secret's first wrong character."""
    parts = token.removeprefix(PREFIX).split("_", 1) if token.startswith(PREFIX) else []
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    key_id, secret = parts
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).one_or_none()
    expected = row.secret_sha256 if row is not None else _digest("")
    matches = hmac.compare_digest(expected, _digest(secret))
    if row is None or not matches or row.revoked_at is not None:
        return None
    moment = now or utcnow()
    if row.last_used_at is None or moment - row.last_used_at >= LAST_USED_PRECISION:
        row.last_used_at = moment  # a write at most once a minute per key, not per request
    return Caller(row.key_id, row.name, frozenset(row.scopes))


def revoke_key(session: Session, key_id: str, *, actor: str) -> bool:
    """Revoke a key for good; False when there is no such key."""
    row = session.scalars(select(ApiKey).where(ApiKey.key_id == key_id)).one_or_none()
    if row is None:
        return False
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        _audit(session, actor, "api_key.revoked", row, {"name": row.name})
    return True


def list_keys(session: Session) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id)))


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _audit(
    session: Session, actor: str, action: str, row: ApiKey, details: dict[str, object]
) -> None:
    session.add(
        AuditEntry(
            actor=actor, action=action, entity_type="api_key", entity_id=row.key_id, details=details
        )
    )
