"""Connections as the API shows them, and the sync a request starts.

Never a secret: credentials live in settings, not in the row, but a connection's options
may hold one (``connections add`` takes none, yet the options are free JSON and
:mod:`service.bootstrap` reads e.g. ``client_secret`` from them when present). Options
whose name looks secret are left out, and a URL's user and password are masked.

A sync started through the API runs on a worker thread of this process after the 202
(there is no scheduler yet); the store coordinates (:func:`~service.store.sync_state.
request_run`): one run per connection at a time, whichever process asks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from connectors.base import Connector
from service.store import Store, sync_state
from service.store.tables import AuditEntry, Connection, SyncState
from service.sync.pipeline import SyncReport, describe_error, sync_connection

logger = logging.getLogger(__name__)

_SECRET_NAME = re.compile(
    r"secret|passw|token|session|private|credential|api_?key|bearer|cookie|signature|"
    r"^auth$|^key$",
    re.IGNORECASE,
)
_URL_USER = re.compile(r"(?<=://)[^/@\s]+@")


class ConnectionView(BaseModel):
    """A CRM org or portal driftcoach syncs; ``options`` are its non-secret settings."""

    id: int
    name: str
    crm: str
    enabled: bool
    created_at: datetime
    updated_at: datetime
    options: dict[str, Any]


class StreamView(BaseModel):
    """One stream's sync: where it resumes (``cursor_time``) and how its last run went."""

    stream: str
    entity: str | None
    status: str
    cursor_time: datetime | None
    run_started_at: datetime | None
    run_finished_at: datetime | None
    last_success_at: datetime | None
    records_read: int
    records_upserted: int
    records_deleted: int
    records_quarantined: int
    api_calls: int
    last_error: str | None
    quarantined_open: int


class RunView(BaseModel):
    """The last sync started through the API, and how it ended once it has."""

    id: int
    requested_at: datetime
    requested_by: str
    finished_at: datetime | None
    status: str  # running, succeeded, failed, stopped
    api_calls: int | None
    daily_used: int | None  # the CRM's own count of the day's calls, when it reports one
    daily_limit: int | None
    error: str | None


class ConnectionStatus(ConnectionView):
    running: bool
    last_run: RunView | None
    streams: list[StreamView]
    quarantined: dict[str, int]


class SyncAccepted(BaseModel):
    connection_id: int
    run_id: int
    requested_at: datetime
    status_url: str


def connection_view(row: Connection) -> ConnectionView:
    return ConnectionView(id=row.id, name=row.name, crm=row.crm.value, enabled=row.enabled,
                          created_at=row.created_at, updated_at=row.updated_at,
                          options=public_options(row.config))  # fmt: skip


def public_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` without anything that looks secret, at any depth."""
    return {name: _public(value) for name, value in options.items()
            if not _SECRET_NAME.search(str(name))}  # fmt: skip


def _public(value: Any) -> Any:
    if isinstance(value, Mapping):
        return public_options(value)
    if isinstance(value, list):
        return [_public(item) for item in value]
    if isinstance(value, str):
        return _URL_USER.sub("***@", value)
    return value


def stream_view(state: SyncState, quarantined: Mapping[str, int]) -> StreamView:
    return StreamView(
        stream=state.stream,
        entity=state.entity,
        status=state.status.value,
        cursor_time=_cursor_time(state.cursor),
        run_started_at=state.run_started_at,
        run_finished_at=state.run_finished_at,
        last_success_at=state.last_success_at,
        records_read=state.records_read,
        records_upserted=state.records_upserted,
        records_deleted=state.records_deleted,
        records_quarantined=state.records_quarantined,
        api_calls=state.api_calls,
        last_error=state.last_error,
        quarantined_open=quarantined.get(state.stream, 0),
    )


def run_view(requested: AuditEntry | None, finished: AuditEntry | None) -> RunView | None:
    if requested is None:
        return None
    end: Mapping[str, Any] = finished.details if finished is not None else {}
    return RunView(
        id=requested.id,
        requested_at=requested.occurred_at,
        requested_by=requested.actor,
        finished_at=finished.occurred_at if finished is not None else None,
        status=str(end.get("status", "running")),
        api_calls=end.get("api_calls"),
        daily_used=end.get("daily_used"),
        daily_limit=end.get("daily_limit"),
        error=end.get("error"),
    )


def _cursor_time(cursor: Mapping[str, Any] | None) -> datetime | None:
    """How far the stream has read: the modification time its cursor holds (Salesforce
    ``system_modstamp``, HubSpot ``modified``), else its latest time of any name."""
    if not cursor:
        return None
    times = {name: _instant(value) for name, value in cursor.items()}
    for name in ("system_modstamp", "modified"):
        if times.get(name) is not None:
            return times[name]
    known = [moment for moment in times.values() if moment is not None]
    return max(known, default=None)


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def run_sync(
    store: Store,
    connector: Connector,
    *,
    connection_id: int,
    run_id: int,
    actor: str,
    commits: tuple[int, float],
) -> None:
    """Sync the connection, then record how the run ended (whatever happened, so the
    connection is free to sync again). Runs after the response, on a worker thread;
    safe to run twice (a sync resumes from its cursors), though the store lets one run
    at a time."""
    outcome: dict[str, Any] = {"status": "failed"}
    try:
        min_commit, max_delay = commits
        report = sync_connection(store, connection_id, connector, min_commit=min_commit,
                                 max_commit_delay=max_delay)  # fmt: skip
        outcome = _outcome(report)
        logger.info("sync of connection %s (run %s): %s", connection_id, run_id, report.status)
    except Exception as exc:  # recorded as the run's end; the server goes on
        outcome["error"] = describe_error(exc)
        logger.error("sync of connection %s (run %s) failed: %s", connection_id, run_id,
                     outcome["error"])  # fmt: skip
    finally:
        connector.close()
        with store.unit_of_work(writes=True) as db:
            sync_state.finish_run_request(db, connection_id, run_id, actor=actor, details=outcome)


def _outcome(report: SyncReport) -> dict[str, Any]:
    usage = report.usage
    errors = [f"{s.stream}: {s.error}" for s in report.streams if s.error]
    return {
        "status": report.status.value,
        "streams": {stream.stream: stream.status.value for stream in report.streams},
        "records_read": sum(stream.counts.records_read for stream in report.streams),
        "api_calls": report.api_calls,
        "daily_used": usage.daily_used if usage else None,
        "daily_limit": usage.daily_limit if usage else None,
        "held": dict(report.held),
        "error": "; ".join(errors)[:1000] or None,
    }
