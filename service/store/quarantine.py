"""The quarantine: CRM records a sync could not store, held by id until one is stored.

A record lands here when its connector could not translate it
(:class:`~connectors.records.Rejected`) or when the store refuses it
(:mod:`service.store.sanitise`), and its stream goes on without it. Each entry is
counted in the run's ``records_quarantined`` and listed by ``driftcoach sync
--quarantined``. The pipeline reads held records again at the start of each run (with a
back-off per entry), so a fix in the CRM or in driftcoach stores them; any later read
that stores one releases it too. Like every repository, these functions take a session
and never commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from service.store.tables import QuarantinedRecord

#: Entries a run reads again at most, oldest attempt first.
RETRY_BATCH = 1000
#: The first retry waits this long; each failed one doubles it, up to ``MAX_BACKOFF``.
FIRST_BACKOFF = timedelta(minutes=15)
MAX_BACKOFF = timedelta(days=1)
_MAX_REASON = 1000
_ROWS_PER_STATEMENT = 1000  # ten parameters a row: below SQLite's 32,766

Key = tuple[str, str]
"""(entity, CRM id): one record of one stream."""


@dataclass(frozen=True)
class Refused:
    """A record a run could not store (or an entry held since): what it is, what a retry
    reads, and why."""

    entity: str
    crm_id: str
    reread_id: str
    reason: str

    @property
    def key(self) -> Key:
        return (self.entity, self.crm_id)


def record_key(crm_id: str) -> str:
    """A fixed-size key for any id, however long (the unique index holds this)."""
    return hashlib.sha256(crm_id.encode("utf-8", "surrogatepass")).hexdigest()


def hold(
    session: Session,
    connection_id: int,
    stream: str,
    refused: Iterable[Refused],
    *,
    now: datetime,
) -> int:
    """Add or renew an entry per record (a renewed one counts one more attempt and is
    open again); returns the entries written."""
    latest = {item.key: item for item in refused}  # one row per key and statement
    if not latest:
        return 0
    rows = [
        {
            "connection_id": connection_id,
            "stream": stream,
            "entity": item.entity,
            "crm_id": item.crm_id,
            "record_key": record_key(item.crm_id),
            "reread_id": item.reread_id,
            "reason": item.reason[:_MAX_REASON],
            "attempts": 1,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for item in latest.values()
    ]
    table = QuarantinedRecord.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        insert = dialect.insert(table).values(rows[start : start + _ROWS_PER_STATEMENT])
        incoming = insert.excluded
        statement = insert.on_conflict_do_update(
            index_elements=["connection_id", "stream", "entity", "record_key"],
            set_={
                "reread_id": incoming.reread_id,
                "reason": incoming.reason,
                "attempts": table.c.attempts + 1,
                "last_seen_at": incoming.last_seen_at,
                "resolved_at": None,
                "resolution": None,
            },
        )
        session.execute(statement)
    return len(rows)


def release(
    session: Session,
    connection_id: int,
    stream: str,
    keys: Iterable[Key],
    resolution: str,
    *,
    now: datetime,
) -> int:
    """Close the open entries of ``keys`` (``stored`` or ``gone``); returns how many."""
    pairs = sorted({(entity, record_key(crm_id)) for entity, crm_id in keys})
    released = 0
    for start in range(0, len(pairs), 500):
        chunk = pairs[start : start + 500]
        statement = (
            update(QuarantinedRecord)
            .where(
                QuarantinedRecord.connection_id == connection_id,
                QuarantinedRecord.stream == stream,
                QuarantinedRecord.resolved_at.is_(None),
                tuple_(QuarantinedRecord.entity, QuarantinedRecord.record_key).in_(chunk),
            )
            .values(resolved_at=now, resolution=resolution)
        )
        released += session.execute(statement).rowcount  # type: ignore[attr-defined]
    return released


def open_keys(session: Session, connection_id: int, stream: str) -> set[Key]:
    """Every open entry of the stream: a read that stores one of them releases it."""
    rows = session.execute(
        select(QuarantinedRecord.entity, QuarantinedRecord.crm_id).where(
            *_open(connection_id, stream)
        )
    )
    return {(entity, crm_id) for entity, crm_id in rows}


def due(
    session: Session, connection_id: int, stream: str, *, now: datetime, every: bool = False
) -> list[Refused]:
    """Open entries whose back-off has passed (``every``: all of them, as after an
    upgrade), least recently tried first, at most :data:`RETRY_BATCH`."""
    q = QuarantinedRecord
    rows = session.execute(
        select(q.entity, q.crm_id, q.reread_id, q.reason, q.attempts, q.last_seen_at)
        .where(*_open(connection_id, stream))
        .order_by(q.last_seen_at, q.id)
    )
    held: list[Refused] = []
    for entity, crm_id, reread_id, reason, attempts, last_seen_at in rows:
        if every or now - last_seen_at >= backoff(attempts):
            held.append(Refused(entity, crm_id, reread_id, reason))
            if len(held) == RETRY_BATCH:
                break
    return held


def backoff(attempts: int) -> timedelta:
    """How long an entry tried ``attempts`` times waits before the next try."""
    wait: timedelta = FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 16)
    return min(wait, MAX_BACKOFF)


def listing(
    session: Session, connection_ids: Sequence[int] | None = None, *, limit: int = 1000
) -> list[QuarantinedRecord]:
    """Open entries, by connection, stream and first sighting."""
    query: Select[Any] = select(QuarantinedRecord).where(QuarantinedRecord.resolved_at.is_(None))
    if connection_ids is not None:
        query = query.where(QuarantinedRecord.connection_id.in_(connection_ids))
    query = query.order_by(
        QuarantinedRecord.connection_id,
        QuarantinedRecord.stream,
        QuarantinedRecord.first_seen_at,
        QuarantinedRecord.id,
    )
    return list(session.scalars(query.limit(limit)))


def open_counts(session: Session, connection_id: int) -> dict[str, int]:
    """Open entries per stream of one connection."""
    rows = session.execute(
        select(QuarantinedRecord.stream, func.count())
        .where(
            QuarantinedRecord.connection_id == connection_id,
            QuarantinedRecord.resolved_at.is_(None),
        )
        .group_by(QuarantinedRecord.stream)
    )
    return {str(stream): int(count) for stream, count in rows}


def _open(connection_id: int, stream: str) -> tuple[ColumnElement[bool], ...]:
    return (
        QuarantinedRecord.connection_id == connection_id,
        QuarantinedRecord.stream == stream,
        QuarantinedRecord.resolved_at.is_(None),
    )
