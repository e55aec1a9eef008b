"""Delivering the follow-up outbox: task updates, completions and alerts, once each.

The same discipline as the task outbox (:mod:`service.outbox.crm_writes`): a run
leases a small batch of due rows in one short transaction, lets go of the database,
calls the connector, and records each outcome on the rows it still holds. Only rows
whose task is in the CRM (``done``, with its CRM id) are claimed; a follow-up whose
task failed or was cancelled is cancelled with it.

What the manager did wins: a task they completed or deleted is recorded as such on the
task row (``completion``), and no later follow-up touches it. Completing a task on the
finding's resolution queues ``task.completed`` (by driftcoach); the sync reading back a
task the manager completed queues the same event (by the manager), under the same
event id, so a consumer hears of a completion once.

Updates and completions are idempotent and retried with backoff like task creates.
Alerts have no idempotency key in either CRM, so an alert whose outcome is unknown is
not sent again (at most once; the task itself is in the CRM either way).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.records import (
    CrmAlert,
    CrmAlertResult,
    TaskChange,
    TaskChangeKind,
    TaskChangeOutcome,
    TaskChangeResult,
    TaskPriority,
)
from service.outbox.crm_writes import DeliveryPolicy
from service.outbox.leases import kept_alive, skipping_locked, still_held
from service.store import Store
from service.store.tables import (
    CrmFollowUp,
    CrmWrite,
    FollowUpKind,
    OutboxState,
    TaskCompletion,
)
from service.store.tables.base import utcnow
from service.store.task_outcomes import task_completed


class FollowUpSender(Protocol):
    """What follow-ups need of a connector (:class:`connectors.base.Connector` has it)."""

    def change_tasks(self, changes: Sequence[TaskChange]) -> list[TaskChangeResult]: ...

    def send_alerts(self, alerts: Sequence[CrmAlert]) -> list[CrmAlertResult]: ...


@dataclass
class FollowUpCounts:
    claimed: int = 0
    updated: int = 0
    completed: int = 0
    left_alone: int = 0  # the manager had completed or deleted the task
    alerted: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    batches: int = 0

    def __str__(self) -> str:
        return (
            f"{self.updated} updated, {self.completed} completed, {self.alerted} alerts, "
            f"{self.left_alone} left as the manager left them, {self.retrying} to retry, "
            f"{self.failed} failed, {self.cancelled} cancelled"
        )


@dataclass(frozen=True, slots=True)
class _Claimed:
    row_id: int
    kind: FollowUpKind
    task_key: str
    task_crm_id: str
    deal_crm_id: str | None
    recipient: str
    payload: dict[str, object]
    key: str


@dataclass
class FollowUpWorker:
    """Drains one connection's follow-up outbox through ``connector``."""

    store: Store
    connection_id: int
    connector: FollowUpSender
    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def run(self, max_batches: int | None = None) -> FollowUpCounts:
        counts = FollowUpCounts()
        counts.cancelled = self.cancel_orphans()
        while max_batches is None or counts.batches < max_batches:
            claimed = self.claim()
            if not claimed:
                break
            counts.batches += 1
            counts.claimed += len(claimed)
            changes = [c for c in claimed if c.kind is not FollowUpKind.NOTIFY]
            alerts = [c for c in claimed if c.kind is FollowUpKind.NOTIFY]
            ids = [c.row_id for c in claimed]
            with kept_alive(self.store, CrmFollowUp, ids, self.run_id,
                            lease=self.policy.lease, clock=self.clock):  # fmt: skip
                change_results = (
                    self.connector.change_tasks([_change(c) for c in changes]) if changes else []
                )
                alert_results = (
                    self.connector.send_alerts([_alert(c) for c in alerts]) if alerts else []
                )
            self.record(changes, change_results, alerts, alert_results, counts)
        return counts

    def cancel_orphans(self) -> int:
        """Follow-ups whose task will never be in the CRM (failed, cancelled), or that a
        manager's completion or deletion made pointless, end without a call."""
        now = self.clock()
        with self.store.unit_of_work(writes=True) as session:
            decided = session.execute(
                select(CrmFollowUp, CrmWrite)
                .join(CrmWrite, CrmWrite.id == CrmFollowUp.task_id)
                .where(
                    CrmFollowUp.connection_id == self.connection_id,
                    CrmFollowUp.state == OutboxState.PENDING,
                    (CrmFollowUp.lease_until.is_(None)) | (CrmFollowUp.lease_until <= now),
                    CrmWrite.completion.is_not(None),
                )
            ).all()
            for followup, task in decided:
                _settle_locally(followup, task, now)
            dead = select(CrmWrite.id).where(
                CrmWrite.connection_id == self.connection_id,
                CrmWrite.state.in_((OutboxState.FAILED, OutboxState.CANCELLED)),
            )
            result = session.execute(
                update(CrmFollowUp)
                .where(
                    CrmFollowUp.connection_id == self.connection_id,
                    CrmFollowUp.state == OutboxState.PENDING,
                    CrmFollowUp.task_id.in_(dead),
                )
                .values(state=OutboxState.CANCELLED, last_error="its task never reached the CRM")
            )
            return int(getattr(result, "rowcount", 0) or 0)

    def claim(self) -> list[_Claimed]:
        now = self.clock()
        with self.store.unit_of_work(writes=True) as session:
            query = (
                select(CrmFollowUp, CrmWrite)
                .join(CrmWrite, CrmWrite.id == CrmFollowUp.task_id)
                .where(
                    CrmFollowUp.connection_id == self.connection_id,
                    CrmFollowUp.state == OutboxState.PENDING,
                    CrmFollowUp.available_at <= now,
                    (CrmFollowUp.lease_until.is_(None)) | (CrmFollowUp.lease_until <= now),
                    CrmWrite.state == OutboxState.DONE,
                    CrmWrite.crm_record_id.is_not(None),
                    CrmWrite.completion.is_(None),
                )
                .order_by(CrmFollowUp.available_at, CrmFollowUp.id)
                .limit(self.policy.batch_size)
            )
            rows = session.execute(skipping_locked(query, session, CrmFollowUp)).all()
            claimed = []
            for followup, task in rows:
                followup.attempts += 1
                followup.lease_until = now + self.policy.lease
                followup.claimed_by = self.run_id
                claimed.append(
                    _Claimed(
                        followup.id,
                        followup.kind,
                        task.idempotency_key,
                        str(task.crm_record_id),
                        task.opportunity_crm_id,
                        followup.recipient_crm_id,
                        dict(followup.payload),
                        followup.idempotency_key,
                    )
                )
            return claimed

    def record(
        self,
        changes: Sequence[_Claimed],
        change_results: Sequence[TaskChangeResult],
        alerts: Sequence[_Claimed],
        alert_results: Sequence[CrmAlertResult],
        counts: FollowUpCounts,
    ) -> None:
        now = self.clock()
        ids = [c.row_id for c in (*changes, *alerts)]
        with self.store.unit_of_work(writes=True) as session:
            held = still_held(session, CrmFollowUp, ids, self.run_id)
            for item, result in zip(changes, change_results, strict=True):
                row = held.get(item.row_id)
                if row is not None and row.state is OutboxState.PENDING:
                    self._record_change(session, row, result, now, counts)
            for item, sent in zip(alerts, alert_results, strict=True):
                row = held.get(item.row_id)
                if row is not None and row.state is OutboxState.PENDING:
                    self._record_alert(row, sent, now, counts)

    def _record_change(
        self,
        session: Session,
        row: CrmFollowUp,
        result: TaskChangeResult,
        now: datetime,
        counts: FollowUpCounts,
    ) -> None:
        if result.outcome is None:
            self._retry_or_fail(row, result.error, result.retryable, now, counts)
            return
        _finish(row, result.outcome.value, now)
        task = session.get(CrmWrite, row.task_id)
        if task is None:
            return
        if result.outcome is TaskChangeOutcome.CHANGED:
            if row.kind is FollowUpKind.COMPLETE:
                counts.completed += 1
                _complete(session, task, TaskCompletion.DRIFTCOACH, now)
            else:
                counts.updated += 1
            return
        counts.left_alone += 1
        if result.outcome is TaskChangeOutcome.DELETED:
            _complete(session, task, TaskCompletion.DELETED, now)
        else:
            _complete(session, task, TaskCompletion.MANAGER, now)

    def _record_alert(
        self, row: CrmFollowUp, sent: CrmAlertResult, now: datetime, counts: FollowUpCounts
    ) -> None:
        if sent.sent:
            counts.alerted += 1
            _finish(row, "sent", now)
            return
        self._retry_or_fail(row, sent.error, sent.retryable, now, counts)

    def _retry_or_fail(
        self,
        row: CrmFollowUp,
        error: str | None,
        retryable: bool,
        now: datetime,
        counts: FollowUpCounts,
    ) -> None:
        row.lease_until, row.claimed_by, row.last_error = None, None, error
        if retryable and row.attempts < self.policy.max_attempts:
            counts.retrying += 1
            row.available_at = now + self.policy.delay(row.attempts, self.rng)
            return
        counts.failed += 1
        row.state = OutboxState.FAILED


def _settle_locally(followup: CrmFollowUp, task: CrmWrite, now: datetime) -> None:
    """The manager completed or deleted the task already: nothing to send."""
    if followup.kind is FollowUpKind.NOTIFY:
        followup.state = OutboxState.CANCELLED
        followup.last_error = f"the task was {task.completion} first"
        return
    outcome = (
        TaskChangeOutcome.DELETED
        if task.completion is TaskCompletion.DELETED
        else TaskChangeOutcome.ALREADY_COMPLETED
    )
    _finish(followup, outcome.value, now)


def _finish(row: CrmFollowUp, outcome: str, now: datetime) -> None:
    row.state, row.outcome, row.done_at = OutboxState.DONE, outcome, now
    row.lease_until, row.claimed_by, row.last_error = None, None, None


def _complete(session: Session, task: CrmWrite, how: TaskCompletion, now: datetime) -> None:
    if task.completion is not None:
        return
    task.completion, task.completed_at = how, now
    if how is not TaskCompletion.DELETED:
        task_completed(session, task, now, by=how)


def _change(claimed: _Claimed) -> TaskChange:
    payload = claimed.payload
    if claimed.kind is FollowUpKind.COMPLETE:
        return TaskChange(
            claimed.task_key,
            claimed.task_crm_id,
            TaskChangeKind.COMPLETE,
            note=str(payload.get("note") or ""),
        )
    priority = payload.get("priority")
    return TaskChange(
        claimed.task_key,
        claimed.task_crm_id,
        TaskChangeKind.UPDATE,
        title=str(payload.get("title") or "") or None,
        body=str(payload.get("body") or "") or None,
        priority=TaskPriority(str(priority)) if priority else None,
    )


def _alert(claimed: _Claimed) -> CrmAlert:
    return CrmAlert(
        key=claimed.key,
        recipient_crm_id=claimed.recipient,
        title=str(claimed.payload.get("title") or ""),
        body=str(claimed.payload.get("body") or ""),
        task_crm_id=claimed.task_crm_id,
        deal_crm_id=claimed.deal_crm_id,
    )
