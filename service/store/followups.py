"""Where a plan's task follow-ups land: updates, completions and alerts, queued with the
finding changes that asked for them, in the same transaction.

A finding's *open task* is its newest task that may be in the CRM (delivered, or
claimed once: a create may have happened) and that nobody has completed or deleted. On
an escalation it is reworded in place: a task nobody has sent yet simply gets the new
wording in the outbox; one that may be in the CRM gets an ``update`` follow-up. On a
resolution every such task gets a ``complete`` follow-up with the closing note (the
tasks never sent are cancelled by :class:`~service.store.plan_writer.PlanWriter`), and
the alerts still waiting for them are cancelled. A snoozed finding's tasks are left
alone: the core sends no follow-up for it.

A task opened or reworded at the alert severity (high by default) also gets a
``notify`` follow-up: a bell in Salesforce, a note in HubSpot, for the task's assignee.
Each recipient gets at most ``per_day`` alerts in any 24 hours (counted in the store, so
every replica sees the same count); the rest are not queued: the task is there anyway,
and an alert is worth something only when it is rare.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from rules.intents import CloseCoachingTask, ReviseCoachingTask
from rules.policies import Severity
from service.store.tables import CrmFollowUp, CrmWrite, FollowUpKind, OutboxState

ALERT_TITLE_LIMIT = 250
ALERT_BODY_LIMIT = 750


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Which tasks alert their assignee in the CRM, and how often at most."""

    severity: Severity = Severity.HIGH
    per_day: int = 3

    def alerts(self, severity: str | None) -> bool:
        return severity is not None and Severity(severity).rank >= self.severity.rank


@dataclass
class FollowUpCounts:
    updates: int = 0
    reworded_unsent: int = 0
    completions: int = 0
    alerts: int = 0
    alerts_over_limit: int = 0


class FollowUpWriter:
    """Collects a plan's revisions and closes, then queues their follow-ups at once."""

    def __init__(
        self, session: Session, connection_id: int, as_of: datetime, policy: AlertPolicy
    ) -> None:
        self.session, self.connection_id, self.as_of, self.policy = (
            session,
            connection_id,
            as_of,
            policy,
        )
        self.counts = FollowUpCounts()
        self._revisions: list[ReviseCoachingTask] = []
        self._closes: list[CloseCoachingTask] = []
        self._rows: list[dict[str, Any]] = []

    def revise(self, intent: ReviseCoachingTask) -> None:
        self._revisions.append(intent)

    def close(self, intent: CloseCoachingTask) -> None:
        self._closes.append(intent)

    def write(self, new_task_keys: Collection[str]) -> FollowUpCounts:
        """Queue everything; ``new_task_keys``: the tasks this plan queued (they may alert,
        and a finding with a new task needs no rewording of its older one)."""
        findings = {int(i.finding_id) for i in self._revisions}
        findings |= {int(i.finding_id) for i in self._closes}
        tasks = self._tasks_of(findings)
        fresh = self._new_tasks(new_task_keys)
        fresh_findings = {task.finding_id for task in fresh}
        alerting: list[tuple[CrmWrite, dict[str, Any]]] = [
            (task, alert_payload(task.payload))
            for task in fresh
            if self.policy.alerts(task.payload.get("severity"))
        ]
        for intent in self._revisions:
            finding_id = int(intent.finding_id)
            open_tasks = tasks.get(finding_id, [])
            if finding_id in fresh_findings or not open_tasks:
                continue
            task = open_tasks[-1]
            self._revise(task, intent)
            if self.policy.alerts(intent.severity.value):
                wording = {"subject": intent.title, "body": intent.body}
                alerting.append((task, alert_payload({**wording, "severity": intent.severity})))
        closed: list[int] = []
        for close in self._closes:
            for task in tasks.get(int(close.finding_id), []):
                if task.state is OutboxState.DONE or task.attempts > 0:
                    self._queue(task, FollowUpKind.COMPLETE, "complete", {"note": close.note})
                    self.counts.completions += 1
                closed.append(task.id)
        self._alert(alerting)
        self._insert()
        self._cancel_alerts(closed)
        return self.counts

    def _tasks_of(self, finding_ids: set[int]) -> dict[int, list[CrmWrite]]:
        """Each finding's tasks that may still be open, oldest first."""
        found: dict[int, list[CrmWrite]] = defaultdict(list)
        wanted = sorted(finding_ids)
        for start in range(0, len(wanted), 5000):
            rows = self.session.scalars(
                select(CrmWrite)
                .where(
                    CrmWrite.connection_id == self.connection_id,
                    CrmWrite.finding_id.in_(wanted[start : start + 5000]),
                    CrmWrite.state.in_((OutboxState.PENDING, OutboxState.DONE)),
                    CrmWrite.completion.is_(None),
                )
                .order_by(CrmWrite.created_at, CrmWrite.id)
            )
            for row in rows:
                found[int(row.finding_id or 0)].append(row)
        return found

    def _new_tasks(self, keys: Collection[str]) -> list[CrmWrite]:
        wanted = sorted(keys)
        found: list[CrmWrite] = []
        for start in range(0, len(wanted), 5000):
            found.extend(
                self.session.scalars(
                    select(CrmWrite).where(
                        CrmWrite.connection_id == self.connection_id,
                        CrmWrite.idempotency_key.in_(wanted[start : start + 5000]),
                        CrmWrite.created_at == self.as_of,  # queued now, not a re-run's
                    )
                )
            )
        return found

    def _revise(self, task: CrmWrite, intent: ReviseCoachingTask) -> None:
        wording = {
            "title": intent.title,
            "body": intent.body,
            "priority": intent.priority,
            "severity": intent.severity.value,
        }
        if task.state is OutboxState.PENDING and task.attempts == 0:
            # Never sent: the outbox row takes the new wording, and one create says it all.
            payload = dict(task.payload)
            payload.update(
                subject=intent.title,
                body=intent.body,
                priority=intent.priority,
                severity=intent.severity.value,
            )
            task.payload = payload
            self.counts.reworded_unsent += 1
            return
        self._queue(task, FollowUpKind.UPDATE, f"update:{self.as_of.isoformat()}", wording)
        self.counts.updates += 1

    def _alert(self, alerting: Sequence[tuple[CrmWrite, dict[str, Any]]]) -> None:
        """A notify follow-up per task, the most severe first, within each recipient's
        limit for the 24 hours up to this evaluation."""
        ordered = sorted(
            {task.id: (task, payload) for task, payload in alerting}.values(),
            key=lambda pair: (-Severity(pair[1]["severity"]).rank, pair[0].id),
        )
        used = self._alerts_sent({task.assignee_crm_id for task, _ in ordered})
        for task, payload in ordered:
            if used[task.assignee_crm_id] >= self.policy.per_day:
                self.counts.alerts_over_limit += 1
                continue
            used[task.assignee_crm_id] += 1
            self._queue(task, FollowUpKind.NOTIFY, f"notify:{self.as_of.isoformat()}", payload)
            self.counts.alerts += 1

    def _alerts_sent(self, recipients: Iterable[str]) -> dict[str, int]:
        since = self.as_of - timedelta(days=1)
        rows = self.session.execute(
            select(CrmFollowUp.recipient_crm_id, func.count())
            .where(
                CrmFollowUp.connection_id == self.connection_id,
                CrmFollowUp.kind == FollowUpKind.NOTIFY,
                CrmFollowUp.recipient_crm_id.in_(sorted(recipients)),
                CrmFollowUp.created_at > since,
                CrmFollowUp.created_at <= self.as_of,
                CrmFollowUp.state != OutboxState.CANCELLED,
            )
            .group_by(CrmFollowUp.recipient_crm_id)
        )
        used: dict[str, int] = defaultdict(int)
        used.update({recipient: int(n) for recipient, n in rows.all()})
        return used

    def _queue(self, task: CrmWrite, kind: FollowUpKind, suffix: str, payload: Any) -> None:
        self._rows.append(
            {
                "connection_id": self.connection_id,
                "task_id": task.id,
                "idempotency_key": f"{task.idempotency_key}:{suffix}",
                "kind": kind,
                "recipient_crm_id": task.assignee_crm_id,
                "payload": payload,
                "state": OutboxState.PENDING,
                "attempts": 0,
                "available_at": self.as_of,
                "created_at": self.as_of,
            }
        )

    def _insert(self) -> None:
        """Insert the follow-ups but those already queued (a re-run of the same plan)."""
        if not self._rows:
            return
        keys = [row["idempotency_key"] for row in self._rows]
        known = set(
            self.session.scalars(
                select(CrmFollowUp.idempotency_key).where(
                    CrmFollowUp.connection_id == self.connection_id,
                    CrmFollowUp.idempotency_key.in_(keys),
                )
            )
        )
        new = [row for row in self._rows if row["idempotency_key"] not in known]
        self.session.add_all(CrmFollowUp(**row) for row in new)
        self.session.flush()
        self._rows = []

    def _cancel_alerts(self, task_ids: Sequence[int]) -> None:
        """Alerts and rewordings still waiting for tasks whose finding resolved: stale."""
        for start in range(0, len(task_ids), 5000):
            self.session.execute(
                update(CrmFollowUp)
                .where(
                    CrmFollowUp.task_id.in_(task_ids[start : start + 5000]),
                    CrmFollowUp.state == OutboxState.PENDING,
                    or_(
                        CrmFollowUp.kind == FollowUpKind.NOTIFY,
                        CrmFollowUp.kind == FollowUpKind.UPDATE,
                    ),
                    CrmFollowUp.attempts == 0,
                )
                .values(state=OutboxState.CANCELLED, last_error="the finding resolved first")
            )


def alert_payload(wording: Mapping[str, Any]) -> dict[str, Any]:
    """What the assignee reads in the bell or the note: the task's subject and the start
    of its body (the evidence is in the task itself)."""
    title = str(wording.get("subject") or "Coaching task")
    body = str(wording.get("body") or "")
    if len(body) > ALERT_BODY_LIMIT:
        body = body[: ALERT_BODY_LIMIT - 1] + "…"
    severity = str(wording.get("severity") or "high")
    return {
        "title": f"{severity.title()}: {title}"[:ALERT_TITLE_LIMIT],
        "body": body,
        "severity": severity,
    }
