"""Coaching cadence and the managers' weekly task budget.

Coaching works at a rhythm that fits the rep, and a manager flooded with tasks coaches no
one. So a rep gets at most one task per rule (and deal) per cadence window, and each
manager's week holds at most a budget of new coaching tasks; the rest are deferred
(returned, not dropped), and a later evaluation offers them again. Coaching tasks rank
by the rule's level first (activities, which a manager can coach, before the objectives
and results they drive), then severity, then gap. Deal hygiene goes to the deal owner
from their own, separate weekly budget, so it never takes a manager's: the tasks about
the most open pipeline first.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from rules.intents import DeferredTask, TaskDraft, TaskKind
from rules.metrics import SubjectKey

#: Cadence windows are counted from this Monday, so 7-day windows are calendar weeks.
CADENCE_ANCHOR = datetime(2000, 1, 3, tzinfo=UTC)
MAX_KEY_LENGTH = 80

HistoryKey = tuple[str, str, str | None]


@dataclass(frozen=True, slots=True)
class CoachingHistory:
    """What the store knows about coaching already done.

    ``last_task_at``: per (rule key, rep CRM id, deal CRM id or None), when the newest
    coaching task was created. ``tasks_this_week``: per budget owner of coaching tasks
    (the rep's manager, else the task's assignee), tasks created since Monday 00:00 UTC of
    the evaluation's week; ``hygiene_this_week``: the same for hygiene tasks, per rep.
    """

    last_task_at: Mapping[HistoryKey, datetime] = field(default_factory=dict)
    tasks_this_week: Mapping[str, int] = field(default_factory=dict)
    hygiene_this_week: Mapping[str, int] = field(default_factory=dict)

    def last_task(self, rule_key: str, subject: SubjectKey) -> datetime | None:
        return self.last_task_at.get((rule_key, subject.rep_crm_id, subject.deal_crm_id))


def cadence_window(as_of: datetime, days: int) -> int:
    """The index of the ``days``-long window containing ``as_of``."""
    return (as_of - CADENCE_ANCHOR) // timedelta(days=days)


def cadence_allows(
    history: CoachingHistory, rule_key: str, subject: SubjectKey, days: int, as_of: datetime
) -> bool:
    """True when the subject's last task for the rule is at least ``days`` old (or absent)."""
    last = history.last_task(rule_key, subject)
    return last is None or as_of - last >= timedelta(days=days)


def task_key(rule_key: str, subject: SubjectKey, days: int, as_of: datetime) -> str:
    """Deterministic: the same rule, subject and cadence window give the same key.

    Readable prefix (rule key and window) plus a hash of everything, at most 80 chars.
    """
    window = cadence_window(as_of, days)
    identity = "\x1f".join(
        (rule_key, subject.rep_crm_id, subject.deal_crm_id or "", str(days), str(window))
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    key = f"dc-{rule_key}-{days}d{window}-{digest}"
    return key if len(key) <= MAX_KEY_LENGTH else f"dc-{digest}-{window}"


def _rank(task: TaskDraft) -> tuple[float | str, ...]:
    tie = (task.rule_key, task.rep_crm_id, task.deal_crm_id or "")
    if task.kind == "hygiene":
        return (-task.at_risk, -task.severity.rank, -task.gap, *tie)
    return (task.tier, -task.severity.rank, -task.gap, *tie)


@dataclass(frozen=True, slots=True)
class Budgets:
    """Weekly task budgets: coaching per manager (``per_manager`` overrides ``coaching``
    per manager CRM id) and hygiene per rep."""

    coaching: int = 3
    per_manager: Mapping[str, int] = field(default_factory=dict)
    hygiene: int = 2

    def of(self, kind: TaskKind, owner: str) -> int:
        if kind == "hygiene":
            return self.hygiene
        return self.per_manager.get(owner, self.coaching)


def apply_budget(
    tasks: Sequence[TaskDraft], history: CoachingHistory, budgets: Budgets
) -> tuple[tuple[TaskDraft, ...], tuple[DeferredTask, ...]]:
    """Split ``tasks`` into those within their owner's weekly budget and the rest.

    Ranked as the module says; ties by rule, rep and deal, so the same inputs always
    pick the same tasks.
    """
    used: dict[tuple[TaskKind, str], int] = defaultdict(int)
    used.update((("coaching", owner), n) for owner, n in history.tasks_this_week.items())
    used.update((("hygiene", owner), n) for owner, n in history.hygiene_this_week.items())
    created: list[TaskDraft] = []
    deferred: list[DeferredTask] = []
    for task in sorted(tasks, key=_rank):
        owner = (task.kind, task.budget_owner_crm_id)
        budget = budgets.of(*owner)
        if used[owner] >= budget:
            what = "hygiene tasks" if task.kind == "hygiene" else "tasks"
            reason = f"weekly budget of {budget} {what} for {owner[1]} is used up"
            deferred.append(DeferredTask(task, reason))
            continue
        used[owner] += 1
        created.append(task)
    return tuple(created), tuple(deferred)
