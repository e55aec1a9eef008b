"""The ``sync_state`` repository: where each stream resumes and how its last run went.

The pipeline calls these inside its units of work: the cursor and the progress counters
are saved in the same transaction as the records they describe, so the row always tells
the truth about the committed data, even after a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service.store.tables import AuditEntry, SyncState, SyncStatus, WebhookEvent

#: A sync shows no sign of life for this long (no stream changed, no run requested):
#: it died with its process, and another may start.
RUN_LEASE = timedelta(minutes=30)
RUN_REQUESTED, RUN_FINISHED = "connection.sync_requested", "connection.sync_finished"


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


# --------------------------------------------------------------------------- requested runs


def streams_of(session: Session, connection_id: int) -> list[SyncState]:
    """Every stream of the connection that ever ran, by name."""
    query = select(SyncState).where(SyncState.connection_id == connection_id)
    return list(session.scalars(query.order_by(SyncState.stream)))


def sync_running(
    session: Session, connection_id: int, *, now: datetime, lease: timedelta = RUN_LEASE
) -> bool:
    """Whether a sync of the connection is under way: a stream is running and changed
    within ``lease`` (a sync from any process, the command line's included), or a run
    was requested (:func:`request_run`), has not finished, and it or a stream of the
    connection changed within ``lease``. A run whose process died stops counting once
    the lease has passed with no sign of life (its streams stay ``running`` for good)."""
    since = now - lease
    live_streams = session.scalar(
        select(func.count())
        .select_from(SyncState)
        .where(
            SyncState.connection_id == connection_id,
            SyncState.status == SyncStatus.RUNNING,
            SyncState.updated_at > since,
        )
    )
    if live_streams:
        return True
    requested, finished = last_run(session, connection_id)
    if requested is None or finished is not None:
        return False
    changed = session.scalar(
        select(func.max(SyncState.updated_at)).where(SyncState.connection_id == connection_id)
    )
    return max(requested.occurred_at, changed or requested.occurred_at) > since


def request_run(
    session: Session, connection_id: int, *, actor: str, now: datetime
) -> AuditEntry | None:
    """Record that ``actor`` started a sync of the connection, unless one is under way
    (None). The caller holds the connection's row lock, so two requests cannot both
    find none running."""
    if sync_running(session, connection_id, now=now):
        return None
    entry = _run_entry(connection_id, actor, RUN_REQUESTED, {})
    entry.occurred_at = now
    session.add(entry)
    session.flush()
    return entry


def finish_run_request(
    session: Session, connection_id: int, run_id: int, *, actor: str, details: Mapping[str, Any]
) -> None:
    """Record how the requested run ``run_id`` ended (status, counts, API usage)."""
    session.add(_run_entry(connection_id, actor, RUN_FINISHED, {"run": run_id, **details}))
    session.flush()


def _run_entry(
    connection_id: int, actor: str, action: str, details: Mapping[str, Any]
) -> AuditEntry:
    return AuditEntry(
        actor=actor,
        action=action,
        entity_type="connection",
        entity_id=str(connection_id),
        details=dict(details),
    )


def last_run(session: Session, connection_id: int) -> tuple[AuditEntry | None, AuditEntry | None]:
    """The connection's last requested run, and its end if it ended."""
    about = (AuditEntry.entity_type == "connection", AuditEntry.entity_id == str(connection_id))
    requested = session.scalars(
        select(AuditEntry).where(*about, AuditEntry.action == RUN_REQUESTED)
        .order_by(AuditEntry.id.desc()).limit(1)
    ).one_or_none()  # fmt: skip
    if requested is None:
        return None, None
    ends = session.scalars(
        select(AuditEntry).where(*about, AuditEntry.action == RUN_FINISHED,
                                 AuditEntry.id > requested.id)
        .order_by(AuditEntry.id)
    )  # fmt: skip
    return requested, next((end for end in ends if end.details.get("run") == requested.id), None)
