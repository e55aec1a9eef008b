"""Is coaching working? Per manager and rule: tasks created and completed, how long the
managers took, and how often the indicator recovered after the coaching.

A task *recovered* when its finding resolved (back inside the standard for the rule's
``resolve_after`` periods) no later than ``resolve_after + 1`` of the rule's periods
after the manager completed it: a rep who improves right after the conversation is
resolved ``resolve_after`` periods later, once the period under way has closed. Only
tasks the manager completed count towards it; a task driftcoach completed was closed
because the indicator had already recovered, which says nothing of the coaching.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.store.stored_rules import current_rules
from service.store.tables import CrmWrite, Finding, OutboxState, TaskCompletion

PERIOD_LENGTH = {
    "day": timedelta(days=1.4),  # a business day, weekends spread over the week
    "week": timedelta(weeks=1),
    "month": timedelta(days=30.44),
    "quarter": timedelta(days=91.31),
}


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """One coaching task as the report needs it."""

    manager: str
    rule_key: str
    delivered_at: datetime
    completion: str | None
    completed_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class CoachingLine:
    manager: str
    rule_key: str
    created: int
    completed: int
    median_days_to_complete: float | None
    recovered: int

    @property
    def recovered_share(self) -> float | None:
        return self.recovered / self.completed if self.completed else None


def coaching_lines(
    outcomes: Iterable[TaskOutcome], windows: Mapping[str, timedelta]
) -> list[CoachingLine]:
    """The report's lines, by manager then rule; ``windows``: how soon after completion
    a recovery counts, per rule key (rules without one count no recovery)."""
    grouped: dict[tuple[str, str], list[TaskOutcome]] = defaultdict(list)
    for outcome in outcomes:
        grouped[outcome.manager, outcome.rule_key].append(outcome)
    lines = []
    for (manager, rule_key), tasks in sorted(grouped.items()):
        done = [t for t in tasks if t.completion == TaskCompletion.MANAGER and t.completed_at]
        days = [
            (t.completed_at - t.delivered_at).total_seconds() / 86400
            for t in done
            if t.completed_at
        ]
        window = windows.get(rule_key)
        recovered = sum(
            1
            for t in done
            if window is not None
            and t.resolved_at is not None
            and t.completed_at is not None
            and t.resolved_at <= t.completed_at + window
        )
        median = statistics.median(days) if days else None
        lines.append(CoachingLine(manager, rule_key, len(tasks), len(done), median, recovered))
    return lines


def recovery_windows(documents: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, timedelta]:
    """Per rule key: ``resolve_after + 1`` of its periods (see the module doc)."""
    windows = {}
    for key, document in documents:
        unit = str((document.get("period") or {}).get("unit") or "week")
        resolve_after = int((document.get("drift") or {}).get("resolve_after") or 1)
        windows[key] = PERIOD_LENGTH.get(unit, PERIOD_LENGTH["week"]) * (resolve_after + 1)
    return windows


def coaching_report(
    session: Session, connection_ids: Sequence[int], *, since: datetime | None = None
) -> list[CoachingLine]:
    """The coaching tasks delivered on ``connection_ids`` (since ``since``), reported."""
    query = (
        select(CrmWrite, Finding.resolved_at)
        .outerjoin(Finding, Finding.id == CrmWrite.finding_id)
        .where(
            CrmWrite.connection_id.in_(connection_ids),
            CrmWrite.task_kind == "coaching",
            CrmWrite.state == OutboxState.DONE,
        )
    )
    if since is not None:
        query = query.where(CrmWrite.delivered_at >= since)
    outcomes = [
        TaskOutcome(
            task.assignee_crm_id,
            task.rule_key,
            task.delivered_at or task.created_at,
            None if task.completion is None else task.completion.value,
            task.completed_at,
            resolved_at,
        )
        for task, resolved_at in session.execute(query)
    ]
    rules = current_rules(session, enabled_only=False)
    return coaching_lines(outcomes, recovery_windows((r.key, r.document) for r in rules))
