"""Delivering the CRM-write outbox: coaching and hygiene tasks into the CRM, exactly once.

A run claims a small batch of due rows with a lease, lets go of the database, sends the
batch through the connector (which writes in the CRM's own batch sizes: Salesforce
collections of 200, HubSpot batches of 100), then records each outcome in a second short
transaction. No database lock is held across an HTTP call, so several workers (replicas,
or cron runs that overlap) can drain one outbox:

* **claiming** on PostgreSQL skips rows another worker has locked (``FOR UPDATE SKIP
  LOCKED``); on SQLite the claim is one ``BEGIN IMMEDIATE`` transaction, which
  serialises claimers. A claim sets ``lease_until`` and ``claimed_by`` (this run) and
  counts an attempt before anything is sent;
* **a live run keeps its lease** while the connector's calls run (renewed every third
  of it: :func:`~service.outbox.leases.kept_alive`), however long the CRM's retries and
  pacing make them; the lease itself stays short, so a crashed run's rows come back soon;
* **recording** touches only rows this run still holds: a worker that stalled past its
  lease (its renewals failing) and lost the row to another never overwrites that one's
  outcome;
* **a crash** (SIGKILL included) between the two leaves rows leased; once the lease has
  expired they are claimed again, and since an attempt was counted, the retry asks the
  connector to look for the task's marker first (``verify_existing``): a create that
  reached the CRM before the crash is adopted, not repeated;
* **failures** the connector calls retryable come back after an exponential backoff with
  full jitter; after ``max_attempts`` (or a refusal that no retry can fix) the row is
  ``failed`` and a ``task.failed`` event is queued for webhook consumers (a delivered
  task queues ``task.created``, with its CRM id);
* **the API budget**: the connector meters the run like a sync, and stops cleanly when
  the run's share is spent; the rows it did not send return to the queue untouched
  (their attempt is given back).
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from connectors.records import TaskIntent, TaskPriority, TaskResult
from connectors.writeback import UNKNOWN_OUTCOME
from service.outbox.leases import kept_alive, skipping_locked, still_held
from service.store import Store
from service.store.tables import CrmWrite, OutboxState, WebhookEvent
from service.store.tables.base import utcnow

log = logging.getLogger(__name__)


class TaskWriter(Protocol):
    """What delivery needs of a connector (:class:`connectors.base.Connector` has it)."""

    def write_tasks(
        self, intents: Sequence[TaskIntent], *, verify_existing: bool = False
    ) -> list[TaskResult]: ...


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How a run claims and retries. Defaults: a claim of 200 (one Salesforce collection,
    two HubSpot batches), a 2-minute lease (renewed while the run lives, so it bounds
    only how long a crashed run's rows wait), and up to 12 attempts, 2 minutes apart at
    first and doubling to 12 hours: the retries span about 41 hours at most (31 on the
    jitter's average), so a CRM's maintenance window or a long outage does not fail a
    task."""

    batch_size: int = 200
    lease: timedelta = timedelta(minutes=2)
    max_attempts: int = 12
    first_delay: timedelta = timedelta(minutes=2)
    max_delay: timedelta = timedelta(hours=12)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Full jitter: uniform in [0.5, 1] x min(max_delay, first_delay x 2^(n-1)), so
        retries after a shared outage spread out instead of arriving together."""
        ceiling = min(self.max_delay, self.first_delay * (1 << min(max(0, attempts - 1), 30)))
        return ceiling * rng.uniform(0.5, 1.0)


@dataclass
class DeliveryCounts:
    claimed: int = 0
    created: int = 0
    adopted: int = 0  # found by marker: an earlier attempt had in fact created it
    retrying: int = 0
    failed: int = 0
    not_sent: int = 0
    batches: int = 0

    def __str__(self) -> str:
        return (
            f"{self.created} created, {self.adopted} found already written, "
            f"{self.retrying} to retry, {self.failed} failed, {self.not_sent} not sent "
            f"(API limit reached) in {self.batches} batches"
        )


@dataclass
class CrmWriteWorker:
    """Drains one connection's CRM-write outbox through ``connector``."""

    store: Store
    connection_id: int
    connector: TaskWriter
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def run(self, max_batches: int | None = None) -> DeliveryCounts:
        """Claim, send and record until nothing is due, the API share is spent, or
        ``max_batches`` batches have gone."""
        counts = DeliveryCounts()
        while max_batches is None or counts.batches < max_batches:
            claimed = self.claim()
            if not claimed:
                break
            counts.batches += 1
            counts.claimed += len(claimed)
            results = self._send(claimed)
            stopped = self.record(claimed, results, counts)
            if stopped:
                break
        return counts

    def claim(self) -> list[Claimed]:
        """Lease up to ``batch_size`` due rows to this run, in one short transaction."""
        now = self.clock()
        with self.store.unit_of_work(writes=True) as session:
            query = (
                select(CrmWrite)
                .where(
                    CrmWrite.connection_id == self.connection_id,
                    CrmWrite.state == OutboxState.PENDING,
                    CrmWrite.available_at <= now,
                    or_(CrmWrite.lease_until.is_(None), CrmWrite.lease_until <= now),
                )
                .order_by(CrmWrite.available_at, CrmWrite.id)
                .limit(self.policy.batch_size)
            )
            rows = session.scalars(skipping_locked(query, session)).all()
            claimed = []
            for row in rows:
                claimed.append(Claimed(row.id, _intent(row.payload), verify=_uncertain(row)))
                row.attempts += 1
                row.lease_until = now + self.policy.lease
                row.claimed_by = self.run_id
            return claimed

    def _send(self, claimed: Sequence[Claimed]) -> list[TaskResult]:
        intents = [c.intent for c in claimed]
        verify = any(c.verify for c in claimed)
        ids = [c.row_id for c in claimed]
        with kept_alive(self.store, CrmWrite, ids, self.run_id, **self._lease()):
            return list(self.connector.write_tasks(intents, verify_existing=verify))

    def _lease(self) -> dict[str, Any]:
        return {"lease": self.policy.lease, "clock": self.clock}

    def record(
        self, claimed: Sequence[Claimed], results: Sequence[TaskResult], counts: DeliveryCounts
    ) -> bool:
        """Each outcome on the row this run still holds; True when the API share ran out."""
        now = self.clock()
        stopped = False
        with self.store.unit_of_work(writes=True) as session:
            held = still_held(session, CrmWrite, [c.row_id for c in claimed], self.run_id)
            for item, result in zip(claimed, results, strict=True):
                row = held.get(item.row_id)
                if row is None or row.state != OutboxState.PENDING:
                    continue  # lost the lease to another run, or cancelled meanwhile
                if result.ok:
                    _delivered(session, row, result, now)
                    counts.adopted += result.already_existed
                    counts.created += not result.already_existed
                elif result.not_sent:
                    stopped = True
                    counts.not_sent += 1
                    _release(row, result, give_back=True)
                elif result.retryable and row.attempts < self.policy.max_attempts:
                    counts.retrying += 1
                    _release(row, result, give_back=False)
                    row.available_at = now + self.policy.delay(row.attempts, self.rng)
                else:
                    counts.failed += 1
                    _failed(session, row, result, now)
        return stopped


@dataclass(frozen=True, slots=True)
class Claimed:
    row_id: int
    intent: TaskIntent
    #: An earlier attempt may have reached the CRM: look for the marker before creating.
    verify: bool


def _uncertain(row: CrmWrite) -> bool:
    """A row claimed before (a crash or a lost lease) or whose last create's outcome was
    unknown: nobody knows whether the CRM has it."""
    return row.attempts > 0 or (row.last_error or "").startswith(UNKNOWN_OUTCOME)


def _intent(payload: dict[str, object]) -> TaskIntent:
    return TaskIntent(
        key=str(payload["key"]),
        assignee_crm_id=str(payload["assignee_crm_id"]),
        subject=str(payload["subject"]),
        body=str(payload["body"]),
        due_date=date.fromisoformat(str(payload["due_date"])),
        priority=TaskPriority(str(payload.get("priority") or TaskPriority.MEDIUM)),
        rep_crm_id=_optional(payload.get("rep_crm_id")),
        opportunity_crm_id=_optional(payload.get("opportunity_crm_id")),
    )


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _delivered(session: Session, row: CrmWrite, result: TaskResult, now: datetime) -> None:
    row.state = OutboxState.DONE
    row.crm_record_id = result.crm_id
    row.delivered_at = now
    row.lease_until = None
    row.claimed_by = None
    row.last_error = None
    session.add(_task_event("task.created", row, now, crm_record_id=result.crm_id))


def _release(row: CrmWrite, result: TaskResult, *, give_back: bool) -> None:
    row.lease_until = None
    row.claimed_by = None
    row.last_error = result.error
    if give_back:
        row.attempts -= 1


def _failed(session: Session, row: CrmWrite, result: TaskResult, now: datetime) -> None:
    row.state = OutboxState.FAILED
    row.lease_until = None
    row.claimed_by = None
    row.last_error = result.error
    session.add(_task_event("task.failed", row, now, error=result.error))


def _task_event(kind: str, row: CrmWrite, now: datetime, **extra: object) -> WebhookEvent:
    """``task.created`` or ``task.failed`` for webhook consumers, in the transaction that
    records the outcome, so it is queued exactly once (its id names the task)."""
    at = "created_at" if kind == "task.created" else "failed_at"
    return WebhookEvent(
        event_id=f"{kind}:{row.connection_id}:{row.idempotency_key}",
        type=kind,
        connection_id=row.connection_id,
        payload={
            "type": kind,
            "connection_id": row.connection_id,
            "task_key": row.idempotency_key,
            "task_kind": row.task_kind,
            "finding_id": row.finding_id,
            "rule_key": row.rule_key,
            "rep_crm_id": row.rep_crm_id,
            "opportunity_crm_id": row.opportunity_crm_id,
            "assignee_crm_id": row.assignee_crm_id,
            "attempts": row.attempts,
            **extra,
            at: now.isoformat(),
        },
        created_at=now,
    )
