"""The connections repository: which CRM orgs driftcoach syncs, and their non-secret options.

Secrets never go into this table; they come from settings (``DRIFTCOACH_SALESFORCE__*``,
``DRIFTCOACH_HUBSPOT__*``), so a database dump or backup leaks no CRM credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.tables import Connection, CrmKind


class ConnectionExists(ValueError):  # noqa: N818 - reads as a sentence where it is raised
    pass


def add_connection(
    session: Session, name: str, crm: CrmKind, config: Mapping[str, Any]
) -> Connection:
    if find_connection(session, name) is not None:
        raise ConnectionExists(f"a connection named {name!r} exists already")
    connection = Connection(name=name, crm=crm, config=dict(config))
    session.add(connection)
    session.flush()
    return connection


def find_connection(session: Session, name: str) -> Connection | None:
    return session.scalars(select(Connection).where(Connection.name == name)).one_or_none()


def list_connections(session: Session, *, enabled_only: bool = False) -> list[Connection]:
    query = select(Connection).order_by(Connection.name)
    if enabled_only:
        query = query.where(Connection.enabled.is_(True))
    return list(session.scalars(query))


def get_connection(
    session: Session, connection_id: int, *, lock: bool = False
) -> Connection | None:
    """The connection by id; ``lock`` holds its row until the transaction ends, so two
    requests deciding something about one connection (may a sync start?) take turns.
    PostgreSQL: ``FOR NO KEY UPDATE``, which leaves a sync's inserts (whose foreign keys
    share-lock the row) free; SQLite: a write transaction already serialises."""
    query = select(Connection).where(Connection.id == connection_id)
    if lock:
        query = query.with_for_update(key_share=True)
    return session.scalars(query).one_or_none()


def connections_after(session: Session, after_id: int | None, limit: int) -> list[Connection]:
    """Up to ``limit`` connections by id, after ``after_id``: a page of them."""
    query = select(Connection).order_by(Connection.id).limit(limit)
    if after_id is not None:
        query = query.where(Connection.id > after_id)
    return list(session.scalars(query))
