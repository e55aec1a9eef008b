"""The one interface every CRM connector implements.

A connector declares its streams as data, reads each stream from a cursor as an
iterator of canonical records interleaved with checkpoints, writes coaching tasks back,
and reports the API calls it used. It never touches the store: the sync pipeline owns
transactions, so a connector cannot commit a cursor ahead of its data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from connectors.records import (
    Checkpoint,
    CrmAlert,
    CrmAlertResult,
    Entity,
    Item,
    TaskChange,
    TaskChangeResult,
    TaskIntent,
    TaskResult,
)


@dataclass(frozen=True)
class Stream:
    """One incremental feed of one CRM object.

    ``primary_key`` and ``cursor_field`` name the CRM's fields (documentation for humans
    and for the cursor format); ``entity`` says which canonical records it yields.
    """

    name: str
    entity: Entity
    crm_object: str
    primary_key: str
    cursor_field: str
    sorted_by_cursor: bool = True


@dataclass
class ApiUsage:
    """API consumption as the connector saw it during this run.

    ``daily_used`` / ``daily_limit`` are the CRM's own counters when it reports them
    (Salesforce ``Sforce-Limit-Info``, HubSpot ``X-HubSpot-RateLimit-Daily*``).
    """

    calls: int = 0
    by_endpoint: dict[str, int] = field(default_factory=dict)
    daily_used: int | None = None
    daily_limit: int | None = None
    rate_limit_waits: int = 0
    rate_limit_wait_seconds: float = 0.0
    retries: int = 0


class SyncStopped(Exception):  # noqa: N818 - a stop, not an error: the run ends cleanly
    """Raised by ``read`` to end a run early on purpose, keeping the last checkpoint.

    Examples: the API budget share is reached, or the CRM refused with its daily-limit
    error. The pipeline records the stream as stopped and the next run resumes.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Connector(Protocol):
    """What the sync pipeline and the write-back outbox need from a CRM."""

    crm: str

    def streams(self) -> Sequence[Stream]: ...

    def read(self, stream: Stream, cursor: Mapping[str, Any] | None) -> Iterator[Item | Checkpoint]:
        """Records changed since ``cursor`` (None: a first, full sync), with checkpoints.

        A checkpoint's cursor covers every record yielded before it. Re-reading the
        same records is allowed (the store's upsert is idempotent); skipping is not.
        A record that cannot be translated comes as a
        :class:`~connectors.records.Rejected` in its place, never as an exception.
        May raise :class:`SyncStopped` to end the run cleanly.
        """
        ...

    def reread(self, stream: Stream, crm_ids: Sequence[str]) -> Iterator[Item]:
        """The current version of these records of ``stream``, translated as ``read``
        would (records derived from them included); ids the CRM no longer has are left
        out. This is how quarantined records are tried again."""
        ...

    def write_tasks(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]:
        """Create the tasks, one result per intent, never duplicating a task that exists.

        ``verify_existing``: an earlier attempt may have created some of them (a crash
        mid-write): look for their markers before creating anything."""
        ...

    def change_tasks(self, changes: Sequence[TaskChange]) -> list[TaskChangeResult]:
        """Update or complete tasks driftcoach created, by CRM id, one result per change.

        A task the manager completed or deleted is reported so and left alone: never
        reopened, never recreated."""
        ...

    def send_alerts(self, alerts: Sequence[CrmAlert]) -> list[CrmAlertResult]:
        """Notify each alert's recipient where they work, one result per alert; an alert
        whose outcome is unknown is not resent (the CRMs offer no way to look one up)."""
        ...

    def usage(self) -> ApiUsage: ...

    def close(self) -> None: ...
