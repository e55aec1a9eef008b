"""What the rules core decides, as values: the service applies them, the core never does I/O.

Findings are identified by rule key and subject (at most one live finding per pair); an
intent about an existing finding carries its id. Evidence and alert payloads are JSON-ready
dicts (strings, numbers, booleans, None, lists, dicts; dates as ISO strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from rules.drift import Bounds
from rules.metrics import SubjectKey
from rules.policies import Priority, Severity

FindingId = int | str
Evidence = Mapping[str, Any]
#: ``coaching``: for the rep's manager, from the manager's weekly budget. ``hygiene``:
#: about the rep's deals, for the deal owner, from the rep's own weekly budget.
TaskKind = Literal["coaching", "hygiene"]

#: Live finding states; a snoozed finding is kept and resolved but never coached on.
OPEN = "open"
SNOOZED = "snoozed"


@dataclass(frozen=True, slots=True)
class LiveFinding:
    """A finding that is open or snoozed in the store; ``baseline`` is the own baseline
    it opened against (own-baseline standards), which holds while it lives."""

    id: FindingId
    rule_key: str
    subject: SubjectKey
    severity: Severity
    state: str
    opened_at: datetime
    baseline: float | None = None


@dataclass(frozen=True, slots=True)
class OpenFinding:
    """``baseline``: the own baseline the standard used (own-baseline standards), kept
    with the finding as its anchor."""

    rule_key: str
    rule_version: int
    subject: SubjectKey
    severity: Severity
    observed: float | None
    standard: Bounds | None
    period_start: datetime
    period_end: datetime
    evidence: Evidence
    baseline: float | None = None


@dataclass(frozen=True, slots=True)
class KeepFinding:
    """Still live: refresh observed, standard, severity (it may have eased) and evidence."""

    finding_id: FindingId
    rule_key: str
    rule_version: int
    subject: SubjectKey
    severity: Severity
    observed: float | None
    standard: Bounds | None
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class EscalateFinding:
    finding_id: FindingId
    rule_key: str
    rule_version: int
    subject: SubjectKey
    previous_severity: Severity
    severity: Severity
    observed: float | None
    standard: Bounds | None
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class ResolveFinding:
    finding_id: FindingId
    rule_key: str
    subject: SubjectKey
    reason: str
    observed: float | None
    evidence: Evidence


@dataclass(frozen=True, slots=True)
class CreateCoachingTask:
    """A coaching task for the CRM. ``key`` is deterministic (rule, subject and cadence
    window) and at most 80 characters: the outbox's idempotency key and CRM marker.
    ``finding_id`` is None when the finding is opened by the same plan (match it by
    ``rule_key`` and subject). ``budget_owner_crm_id`` is whose weekly budget of
    ``kind`` tasks it uses."""

    key: str
    rule_key: str
    rule_version: int
    rep_crm_id: str
    deal_crm_id: str | None
    assignee_crm_id: str
    budget_owner_crm_id: str
    kind: TaskKind
    subject: str
    body: str
    due_on: date
    priority: Priority
    severity: Severity
    gap: float
    finding_id: FindingId | None
    evidence: Evidence

    @property
    def subject_key(self) -> SubjectKey:
        return SubjectKey(self.rep_crm_id, self.deal_crm_id)


@dataclass(frozen=True, slots=True)
class ReviseCoachingTask:
    """A finding escalated: its open task is reworded with the new severity, priority
    and evidence, in place (the store updates the task in the CRM, never adds one)."""

    finding_id: FindingId
    rule_key: str
    subject: SubjectKey
    severity: Severity
    priority: Priority
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class CloseCoachingTask:
    """A finding resolved: its open task is completed in the CRM with ``note`` (what the
    indicator is back to, against which standard, as of when)."""

    finding_id: FindingId
    rule_key: str
    subject: SubjectKey
    note: str


@dataclass(frozen=True, slots=True)
class TaskDraft:
    """A coaching task before it is worded: who it is for, whose budget it uses, and
    what ranks it. Budgets choose among drafts, so only the tasks created get their
    subject and body (a first evaluation of a large org has thousands of candidates
    for a few hundred tasks). ``tier`` orders the rule's level (activities, which a
    manager can coach, first); ``at_risk`` is the open pipeline the task is about."""

    key: str
    rule_key: str
    rep_crm_id: str
    deal_crm_id: str | None
    assignee_crm_id: str
    budget_owner_crm_id: str
    kind: TaskKind
    tier: int
    severity: Severity
    gap: float
    at_risk: float
    finding_id: FindingId | None


@dataclass(frozen=True, slots=True)
class DeferredTask:
    """A task its owner's weekly budget had no room for; a later evaluation offers it
    again (and words it then)."""

    task: TaskDraft
    reason: str


AlertEvent = Literal["finding.opened", "finding.escalated", "finding.resolved"]


@dataclass(frozen=True, slots=True)
class Alert:
    """A webhook event. ``payload`` has no finding id for ``finding.opened`` (the store
    assigns it when it persists the matching :class:`OpenFinding`)."""

    event: AlertEvent
    rule_key: str
    subject: SubjectKey
    payload: Mapping[str, Any]


FindingIntent = OpenFinding | KeepFinding | EscalateFinding | ResolveFinding
TaskFollowUp = ReviseCoachingTask | CloseCoachingTask
Intent = FindingIntent | CreateCoachingTask | TaskFollowUp | Alert
