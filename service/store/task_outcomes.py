"""The coaching loop read back: what became of the tasks driftcoach wrote.

The sync reads driftcoach's own tasks like any activity (they are left out of every
metric: :func:`service.store.metric_queries.common.not_own_task`); here they are
recognised by the CRM id their delivery recorded, and when one comes back completed or
deleted, the task row says so (``completion``), the finding records when its manager
coached (``coached_at``), and ``task.completed`` is queued for webhook consumers.

Both CRMs' completed statuses are recognised (Salesforce ``Completed``, HubSpot
``COMPLETED``, and any status a Salesforce org marks closed that reads as completed).
The completion time is the task's last modification as the CRM reports it: neither CRM
is read for a separate completion time, and a task is rarely edited after it is done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connectors.records import Activity, ActivityKind
from service.store.tables import CrmWrite, Finding, TaskCompletion, WebhookEvent

COMPLETED_STATUSES = frozenset({"completed", "complete", "done"})


def note_task_outcomes(
    session: Session,
    connection_id: int,
    activities: Sequence[Activity],
    deleted_ids: Sequence[str],
    now: datetime,
) -> int:
    """Record the completions and deletions among ``activities`` of driftcoach's own
    tasks; returns how many tasks changed. One query per call, on an index."""
    completed = {
        a.crm_id: a.modified_at or now
        for a in activities
        if a.kind is ActivityKind.TASK
        and not a.deleted
        and (a.status or "").strip().lower() in COMPLETED_STATUSES
    }
    gone = {*deleted_ids, *(a.crm_id for a in activities if a.deleted)}
    wanted = sorted({*completed, *gone})
    if not wanted:
        return 0
    changed = 0
    for start in range(0, len(wanted), 5000):
        tasks = session.scalars(
            select(CrmWrite).where(
                CrmWrite.connection_id == connection_id,
                CrmWrite.crm_record_id.in_(wanted[start : start + 5000]),
                CrmWrite.completion.is_(None),
            )
        )
        for task in tasks:
            crm_id = str(task.crm_record_id)
            if crm_id in completed:
                task.completion, task.completed_at = TaskCompletion.MANAGER, completed[crm_id]
                task_completed(session, task, now, by=TaskCompletion.MANAGER)
            else:
                task.completion, task.completed_at = TaskCompletion.DELETED, now
            changed += 1
    return changed


def task_completed(session: Session, task: CrmWrite, now: datetime, *, by: TaskCompletion) -> None:
    """``task.completed`` for webhook consumers, once per task whoever saw it first (the
    event id names the task); a manager's completion is also noted on the finding."""
    if by is TaskCompletion.MANAGER and task.finding_id is not None:
        finding = session.get(Finding, task.finding_id)
        if finding is not None:
            at = task.completed_at or now
            finding.coached_at = max(finding.coached_at, at) if finding.coached_at else at
    event = {
        "event_id": f"task.completed:{task.connection_id}:{task.idempotency_key}",
        "type": "task.completed",
        "connection_id": task.connection_id,
        "payload": {
            "type": "task.completed",
            "connection_id": task.connection_id,
            "task_key": task.idempotency_key,
            "task_kind": task.task_kind,
            "crm_record_id": task.crm_record_id,
            "finding_id": task.finding_id,
            "rule_key": task.rule_key,
            "rep_crm_id": task.rep_crm_id,
            "opportunity_crm_id": task.opportunity_crm_id,
            "assignee_crm_id": task.assignee_crm_id,
            "completed_by": by.value,
            "completed_at": (task.completed_at or now).isoformat(),
        },
        "created_at": now,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(WebhookEvent).values(**event)
    session.execute(statement.on_conflict_do_nothing(index_elements=["event_id"]))
