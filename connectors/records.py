"""Canonical records: what every connector yields, whatever its CRM calls things.

These are the words of the domain (rep, opportunity, activity, quota), not of a CRM.
Connectors translate into them; the sync pipeline writes them into the store; nothing
downstream ever sees a Salesforce or HubSpot field name.

Conventions: instants are aware UTC ``datetime``; calendar days are ``date``; money and
probabilities are ``Decimal``; ``modified_at`` is the CRM's own modification time of the
record (SystemModstamp, hs_lastmodifieddate), which the store uses to skip re-reads that
change nothing; ``deleted`` marks a record the CRM reports as deleted or archived.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Entity(StrEnum):
    """The kinds of canonical records; each maps to one store table."""

    REP = "rep"
    OPPORTUNITY = "opportunity"
    OPPORTUNITY_CHANGE = "opportunity_change"
    ACTIVITY = "activity"
    QUOTA = "quota"


class StageCategory(StrEnum):
    OPEN = "open"
    WON = "won"
    LOST = "lost"


class ActivityKind(StrEnum):
    CALL = "call"
    EMAIL = "email"
    MEETING = "meeting"
    TASK = "task"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Rep:
    """A CRM user: a rep, a manager, or both (``manager_crm_id`` links the hierarchy)."""

    crm_id: str
    name: str
    email: str | None = None
    manager_crm_id: str | None = None
    team: str | None = None
    role: str | None = None
    is_active: bool = True
    started_on: date | None = None
    time_zone: str | None = None
    modified_at: datetime | None = None
    deleted: bool = False
    entity: Entity = field(default=Entity.REP, init=False)


@dataclass(frozen=True, slots=True)
class Opportunity:
    crm_id: str
    name: str
    stage: str
    stage_category: StageCategory
    owner_crm_id: str | None = None
    account_name: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    pipeline: str | None = None
    probability: Decimal | None = None
    close_date: date | None = None
    created_at: datetime | None = None
    closed_at: datetime | None = None
    next_step: str | None = None
    qualification: Mapping[str, Any] = field(default_factory=dict)
    modified_at: datetime | None = None
    deleted: bool = False
    entity: Entity = field(default=Entity.OPPORTUNITY, init=False)


@dataclass(frozen=True, slots=True)
class OpportunityChange:
    """One history entry; a value is None when the entry did not record that field."""

    crm_id: str
    opportunity_crm_id: str
    changed_at: datetime
    stage: str | None = None
    stage_category: StageCategory | None = None
    amount: Decimal | None = None
    close_date: date | None = None
    probability: Decimal | None = None
    modified_at: datetime | None = None
    deleted: bool = False
    entity: Entity = field(default=Entity.OPPORTUNITY_CHANGE, init=False)


@dataclass(frozen=True, slots=True)
class Activity:
    crm_id: str
    kind: ActivityKind
    occurred_at: datetime
    rep_crm_id: str | None = None
    opportunity_crm_id: str | None = None
    subtype: str | None = None
    subject: str | None = None
    status: str | None = None
    outcome: str | None = None
    duration_seconds: int | None = None
    modified_at: datetime | None = None
    deleted: bool = False
    entity: Entity = field(default=Entity.ACTIVITY, init=False)


@dataclass(frozen=True, slots=True)
class Quota:
    crm_id: str
    rep_crm_id: str
    period_start: date
    period_end: date
    amount: Decimal
    currency: str | None = None
    modified_at: datetime | None = None
    deleted: bool = False
    entity: Entity = field(default=Entity.QUOTA, init=False)


@dataclass(frozen=True, slots=True)
class Deletion:
    """The CRM deleted (or purged) a record whose content is no longer available.

    Soft-deleted records that can still be read arrive as ordinary records with
    ``deleted=True``; a Deletion is for ids only (Salesforce Get Deleted, HubSpot archive
    listings without properties).
    """

    target: Entity
    crm_id: str
    deleted_at: datetime


Record = Rep | Opportunity | OpportunityChange | Activity | Quota | Deletion


@dataclass(frozen=True, slots=True)
class Rejected:
    """A CRM record the connector could not translate (a date past year 9999, a value of
    the wrong type), yielded in its place: the stream goes on, and the store quarantines
    the record under ``crm_id`` with ``reason`` until a later read translates it.

    ``entity`` is what the record would have become and ``crm_id`` its id;
    ``reread_id`` is the id of the stream's CRM object a re-read asks for, when it is
    not ``crm_id`` (a HubSpot deal's change comes with the deal).
    """

    entity: Entity
    crm_id: str
    reason: str
    reread_id: str | None = None


#: What a connector's read yields.
Item = Record | Rejected
#: Errors that mean "this one record cannot be translated", not "the read is broken".
#: A bug that raises them for every record quarantines every record: loud in the sync
#: summary and in ``driftcoach sync --quarantined``, and retried once fixed.
MAPPING_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    TypeError,
    KeyError,
    ArithmeticError,  # OverflowError, decimal.InvalidOperation
)


def rejection(
    entity: Entity, crm_id: object, error: Exception, *, reread_id: str | None = None
) -> Rejected:
    """A Rejected naming the error's type and message (no traceback: it may hold data)."""
    message = str(error).strip()
    reason = f"{type(error).__name__}: {message}" if message else type(error).__name__
    return Rejected(entity, str(crm_id), reason[:500], reread_id)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The cursor to resume from once every record yielded before it is stored.

    The pipeline commits the records and this cursor in one transaction, so a crash
    never leaves a cursor ahead of the data (lost rows) nor data without its cursor
    beyond a harmless re-read.
    """

    cursor: Mapping[str, Any]


# ----------------------------------------------------------------------------- write-back


class TaskPriority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class TaskIntent:
    """A coaching task to create in the CRM.

    ``key`` is deterministic (the same intent always has the same key) and unique per
    task; connectors put it in the task as a marker so an uncertain create can be found
    before it is retried. ``assignee_crm_id`` is who must do the task (usually the rep's
    manager); ``rep_crm_id`` is the rep it is about.
    """

    key: str
    assignee_crm_id: str
    subject: str
    body: str
    due_date: date
    priority: TaskPriority = TaskPriority.MEDIUM
    rep_crm_id: str | None = None
    opportunity_crm_id: str | None = None


@dataclass(frozen=True, slots=True)
class TaskResult:
    """The outcome of one intent: the CRM id, or why it failed.

    ``already_existed`` is True when the task was found by its marker rather than
    created now (a retry of a create that had in fact succeeded); ``not_sent`` when the
    run stopped (its API share spent) before sending it: a retry costs no attempt.
    """

    key: str
    crm_id: str | None = None
    error: str | None = None
    already_existed: bool = False
    retryable: bool = False
    not_sent: bool = False

    @property
    def ok(self) -> bool:
        return self.crm_id is not None


def task_marker(key: str) -> str:
    """The marker text a task carries so it can be found again by its intent key."""
    return f"[driftcoach:{key}]"


class TaskChangeKind(StrEnum):
    #: New priority, subject and body (an escalation); the task's status is never sent,
    #: so an update cannot reopen a task the manager completed.
    UPDATE = "update"
    #: Status completed, with a note put before the body (the finding resolved).
    COMPLETE = "complete"


class TaskChangeOutcome(StrEnum):
    CHANGED = "changed"
    #: Nothing sent: the manager completed the task already (left as they left it).
    ALREADY_COMPLETED = "already_completed"
    #: Nothing sent: the task is deleted in the CRM (never recreated).
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class TaskChange:
    """A change to a task driftcoach created, by its CRM id.

    ``key`` is the task's intent key: the marker stays in the body whatever changes.
    ``note`` (complete) goes before the body; ``title``/``body``/``priority``
    (update) replace the task's subject, body and priority.
    """

    key: str
    crm_id: str
    kind: TaskChangeKind
    title: str | None = None
    body: str | None = None
    priority: TaskPriority | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class TaskChangeResult:
    """The outcome of one change: what happened to the task, or why it failed."""

    key: str
    outcome: TaskChangeOutcome | None = None
    error: str | None = None
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.outcome is not None


@dataclass(frozen=True, slots=True)
class CrmAlert:
    """A notification for a task's assignee where they work, about a high-severity
    finding: a Salesforce custom notification (bell and mobile) targeting
    ``target_crm_id``, or a HubSpot note on the deal's timeline (``deal_crm_id``) or on
    the task itself (``task_crm_id``).

    ``key`` is deterministic and unique per alert; a note carries it as a marker.
    """

    key: str
    recipient_crm_id: str
    title: str
    body: str
    task_crm_id: str
    deal_crm_id: str | None = None

    @property
    def target_crm_id(self) -> str:
        return self.deal_crm_id or self.task_crm_id


@dataclass(frozen=True, slots=True)
class CrmAlertResult:
    """``sent`` or why not. Notifications have no idempotency key and no way to look
    one up, so one whose outcome is unknown is not resent (``retryable`` False): a lost
    bell is cheaper than two, the task itself is in the CRM either way."""

    key: str
    sent: bool = False
    crm_id: str | None = None
    error: str | None = None
    retryable: bool = False
