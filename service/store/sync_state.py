"""The ``sync_state`` repository: where each stream resumes and how its last run went.

The pipeline calls these inside its units of work: the cursor and the progress counters
are saved in the same transaction as the records they describe, so the row always tells
the truth about the committed data, even after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.tables import SyncState, SyncStatus, WebhookEvent


@dataclass
class RunCounts:
    """What one run of one stream did so far.

    ``records_upserted`` counts rows inserted or changed (records with ``deleted=True``
    included); ``records_deleted`` counts rows newly marked deleted by Deletion records.
    Re-read records that changed nothing count as read only. ``records_quarantined``
    counts records the store could not take (:mod:`service.store.quarantine`).
    """

    records_read: int = 0
    records_upserted: int = 0
    records_deleted: int = 0
    api_calls: int = 0
    records_quarantined: int = 0


def find(session: Session, connection_id: int, stream: str) -> SyncState | None:
    return session.scalars(
        select(SyncState).where(
            SyncState.connection_id == connection_id, SyncState.stream == stream
        )
    ).one_or_none()


def begin_run(
    session: Session, connection_id: int, stream: str, *, now: datetime, entity: str | None = None
) -> Mapping[str, Any] | None:
    """Mark the stream running with fresh counters; returns the cursor to resume from.
    ``entity`` (what the stream feeds) lets an evaluation tell which rules lack data."""
    state = find(session, connection_id, stream)
    if state is None:
        state = SyncState(connection_id=connection_id, stream=stream, cursor=None)
        session.add(state)
    state.entity = entity or state.entity
    state.status = SyncStatus.RUNNING
    state.run_started_at = now
    state.run_finished_at = None
    state.last_error = None
    _set_counts(state, RunCounts())
    session.flush()
    return state.cursor


def save_progress(
    session: Session,
    connection_id: int,
    stream: str,
    counts: RunCounts,
    *,
    cursor: Mapping[str, Any] | None = None,
) -> None:
    """Save the counters and, when given, the cursor the committed records reach."""
    state = _get(session, connection_id, stream)
    _set_counts(state, counts)
    if cursor is not None:
        state.cursor = dict(cursor)
    session.flush()


def finish_run(
    session: Session,
    connection_id: int,
    stream: str,
    status: SyncStatus,
    counts: RunCounts,
    *,
    now: datetime,
    error: str | None = None,
) -> None:
    """Record how the run ended; the cursor stays at the last committed checkpoint."""
    state = _get(session, connection_id, stream)
    state.status = status
    state.run_finished_at = now
    state.last_error = error
    if status is SyncStatus.SUCCEEDED:
        state.last_success_at = now
    if status is SyncStatus.FAILED:
        session.add(_failed_event(state, now))
    _set_counts(state, counts)
    session.flush()


def _failed_event(state: SyncState, now: datetime) -> WebhookEvent:
    """``sync.failed`` for the webhook outbox, in the run's own transaction: consumers
    learn that this connection's data stopped arriving before any rule is held back.
    One event per failed run (its id names the run)."""
    started = state.run_started_at or now
    return WebhookEvent(
        event_id=f"sync.failed:{state.connection_id}:{state.stream}:{started.isoformat()}",
        type="sync.failed",
        connection_id=state.connection_id,
        payload={
            "type": "sync.failed",
            "connection_id": state.connection_id,
            "stream": state.stream,
            "entity": state.entity,
            "error": state.last_error,
            "run_started_at": started.isoformat(),
            "failed_at": now.isoformat(),
        },
        created_at=now,
    )


def _get(session: Session, connection_id: int, stream: str) -> SyncState:
    state = find(session, connection_id, stream)
    if state is None:
        raise LookupError(f"no sync_state for connection {connection_id}, stream {stream!r}")
    return state


def _set_counts(state: SyncState, counts: RunCounts) -> None:
    state.records_read = counts.records_read
    state.records_upserted = counts.records_upserted
    state.records_deleted = counts.records_deleted
    state.api_calls = counts.api_calls
    state.records_quarantined = counts.records_quarantined
