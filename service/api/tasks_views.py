"""Coaching and hygiene tasks as the API shows them (the CRM-write outbox with what
became of each task in the CRM), and the coaching report's lines.

A task is what driftcoach asked a manager (coaching) or a rep (hygiene) to do; its
follow-ups are what happened to it after its create: reworded when its finding
escalated, completed when it resolved, an alert to its assignee.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from service.store.coaching_report import CoachingLine
from service.store.tables import (
    CrmFollowUp,
    CrmWrite,
    FollowUpKind,
    OutboxState,
    Rep,
    TaskCompletion,
)

TaskKind = Literal["coaching", "hygiene"]


class FollowUpView(BaseModel):
    id: int
    kind: FollowUpKind = Field(description="update, complete or notify")
    state: OutboxState
    outcome: str | None = Field(description="changed, already_completed, deleted or sent")
    recipient_crm_id: str
    attempts: int
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


class TaskView(BaseModel):
    id: int
    connection_id: int
    kind: TaskKind
    rule_key: str
    finding_id: int | None
    rep_crm_id: str
    deal_crm_id: str | None
    assignee_crm_id: str
    subject: str | None = Field(description="The task's title in the CRM.")
    due_date: str | None
    priority: str | None
    state: OutboxState = Field(description="The outbox's: pending, done (in the CRM), ...")
    attempts: int
    last_error: str | None
    crm_record_id: str | None
    created_at: datetime
    delivered_at: datetime | None
    completion: TaskCompletion | None = Field(
        description="manager (done in the CRM), driftcoach (its finding resolved), deleted"
    )
    completed_at: datetime | None
    followups: list[FollowUpView]


@dataclass(frozen=True, slots=True)
class TaskFilters:
    states: tuple[OutboxState, ...] = ()
    kind: TaskKind | None = None
    assignee: str | None = None
    rule: str | None = None
    finding: int | None = None
    connection: int | None = None


def tasks_query(filters: TaskFilters) -> Select[Any]:
    """Tasks, newest first."""
    w = CrmWrite
    conditions = [
        w.state.in_(filters.states) if filters.states else None,
        w.task_kind == filters.kind if filters.kind is not None else None,
        w.assignee_crm_id == filters.assignee if filters.assignee is not None else None,
        w.rule_key == filters.rule if filters.rule is not None else None,
        w.finding_id == filters.finding if filters.finding is not None else None,
        w.connection_id == filters.connection if filters.connection is not None else None,
    ]
    return (
        select(w)
        .where(*(condition for condition in conditions if condition is not None))
        .order_by(w.id.desc())
    )


def task_views(session: Session, tasks: Sequence[CrmWrite]) -> list[TaskView]:
    """The tasks with their follow-ups (one query for the page's follow-ups)."""
    followups: dict[int, list[FollowUpView]] = defaultdict(list)
    if tasks:
        rows = session.scalars(
            select(CrmFollowUp)
            .where(CrmFollowUp.task_id.in_([task.id for task in tasks]))
            .order_by(CrmFollowUp.id)
        )
        for row in rows:
            followups[row.task_id].append(_followup(row))
    return [_task(task, followups[task.id]) for task in tasks]


def _followup(row: CrmFollowUp) -> FollowUpView:
    return FollowUpView(
        id=row.id, kind=row.kind, state=row.state, outcome=row.outcome,
        recipient_crm_id=row.recipient_crm_id, attempts=row.attempts,
        last_error=row.last_error, created_at=row.created_at, done_at=row.done_at,
    )  # fmt: skip


def _task(task: CrmWrite, followups: list[FollowUpView]) -> TaskView:
    payload = task.payload or {}
    kind: TaskKind = "hygiene" if task.task_kind == "hygiene" else "coaching"
    return TaskView(
        id=task.id,
        connection_id=task.connection_id,
        kind=kind,
        rule_key=task.rule_key,
        finding_id=task.finding_id,
        rep_crm_id=task.rep_crm_id,
        deal_crm_id=task.opportunity_crm_id,
        assignee_crm_id=task.assignee_crm_id,
        subject=_text(payload.get("subject")),
        due_date=_text(payload.get("due_date")),
        priority=_text(payload.get("priority")),
        state=task.state,
        attempts=task.attempts,
        last_error=task.last_error,
        crm_record_id=task.crm_record_id,
        created_at=task.created_at,
        delivered_at=task.delivered_at,
        completion=task.completion,
        completed_at=task.completed_at,
        followups=followups,
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)


class CoachingLineView(BaseModel):
    manager_crm_id: str
    manager_name: str | None
    rule_key: str
    created: int = Field(description="Coaching tasks delivered into the CRM.")
    completed: int = Field(description="Of them, completed by the manager.")
    median_days_to_complete: float | None
    recovered: int = Field(
        description="Completed tasks whose finding resolved within the rule's "
        "resolve_after + 1 periods of the completion."
    )
    recovered_share: float | None = Field(description="recovered / completed")


class CoachingReport(BaseModel):
    connection_ids: list[int]
    since: datetime
    lines: list[CoachingLineView]


def coaching_lines_view(
    session: Session, connection_ids: Sequence[int], lines: Sequence[CoachingLine]
) -> list[CoachingLineView]:
    """The report's lines with each manager's name (when one rep has that CRM id)."""
    names: dict[str, set[str]] = defaultdict(set)
    managers = sorted({line.manager for line in lines})
    if managers:
        rows = session.execute(
            select(Rep.crm_id, Rep.name).where(
                Rep.connection_id.in_(connection_ids), Rep.crm_id.in_(managers)
            )
        )
        for crm_id, name in rows:
            names[crm_id].add(name)
    return [
        CoachingLineView(
            manager_crm_id=line.manager,
            manager_name=next(iter(names[line.manager])) if len(names[line.manager]) == 1 else None,
            rule_key=line.rule_key,
            created=line.created,
            completed=line.completed,
            median_days_to_complete=line.median_days_to_complete,
            recovered=line.recovered,
            recovered_share=line.recovered_share,
        )
        for line in lines
    ]
