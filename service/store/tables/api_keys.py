"""API keys: who may call the HTTP API, and for what.

A key is shown once, when it is made; the store keeps only the SHA-256 of its secret
(a key is a random 256-bit secret, so a slow password hash would add nothing but
latency to every request). ``key_id`` is the key's public half, in the key itself, so a
request finds its row by index and compares hashes in constant time.
"""

from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables.base import Base, IdPk, Timestamp, utcnow


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[IdPk]
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), comment="Who or what holds it; the audit actor.")
    secret_sha256: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(
        JSON, comment="rules:read, rules:write, ... or admin."
    )
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200))
    last_used_at: Mapped[Timestamp | None]
    revoked_at: Mapped[Timestamp | None]
