"""The outboxes an evaluation fills in the same transaction as its findings: coaching
tasks for the CRMs and events for webhook consumers.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables.base import (
    Base,
    BigId,
    CrmId,
    Document,
    IdPk,
    Timestamp,
    enum_column,
    utcnow,
)

# --------------------------------------------------------------------------- outboxes


class OutboxState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after the retries; kept for inspection
    CANCELLED = "cancelled"


class TaskCompletion(StrEnum):
    MANAGER = "manager"
    DRIFTCOACH = "driftcoach"
    DELETED = "deleted"


class CrmWrite(Base):
    """A coaching task waiting to be written into the CRM (the write-back outbox).

    Written in the same transaction as the finding that asked for it, so a task is never
    lost nor queued for a finding that was rolled back. ``idempotency_key`` is the
    intent's deterministic key: queueing the same task twice is a no-op, and the
    connector puts the key in the CRM task as a marker so a create whose outcome is
    unknown is found before it is retried. Workers claim rows with a lease
    (``lease_until``), so a crashed worker's claims return to the queue.
    """

    __tablename__ = "crm_writes"
    __table_args__ = (
        UniqueConstraint("connection_id", "idempotency_key", name="uq_crm_writes_key"),
        Index("ix_crm_writes_state_available_at", "state", "available_at"),
        Index(
            "ix_crm_writes_connection_id_rule_key_rep_crm_id",
            "connection_id",
            "rule_key",
            "rep_crm_id",
        ),
        Index(
            "ix_crm_writes_connection_id_budget_owner_created",
            "connection_id",
            "budget_owner_crm_id",
            "created_at",
        ),
        # metrics leave driftcoach's own tasks out of a rep's activities by this lookup
        Index("ix_crm_writes_connection_id_crm_record_id", "connection_id", "crm_record_id"),
    )

    id: Mapped[IdPk]
    connection_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="CASCADE")
    )
    idempotency_key: Mapped[str] = mapped_column(String(120))
    finding_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("findings.id", ondelete="SET NULL")
    )
    rule_key: Mapped[str] = mapped_column(String(100))
    rep_crm_id: Mapped[CrmId]
    opportunity_crm_id: Mapped[CrmId | None]
    assignee_crm_id: Mapped[CrmId]
    budget_owner_crm_id: Mapped[CrmId] = mapped_column(
        comment="Whose weekly budget of its kind the task uses (coaching: the rep's "
        "manager; hygiene: the rep)."
    )
    task_kind: Mapped[str] = mapped_column(
        String(16),
        default="coaching",
        server_default="coaching",
        comment="coaching (for the manager) or hygiene (deal upkeep, for the rep).",
    )
    payload: Mapped[Document] = mapped_column(comment="The task: subject, body, due date...")
    state: Mapped[OutboxState] = mapped_column(
        enum_column(OutboxState, "crm_write_state"), default=OutboxState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    lease_until: Mapped[Timestamp | None]
    claimed_by: Mapped[str | None] = mapped_column(
        String(64),
        comment="The delivery run holding the lease: only it may record the outcome.",
    )
    crm_record_id: Mapped[CrmId | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp] = mapped_column(
        default=utcnow, comment="The evaluation's as-of time: cadence and budgets count from it."
    )
    delivered_at: Mapped[Timestamp | None]
    completion: Mapped[TaskCompletion | None] = mapped_column(
        enum_column(TaskCompletion, "task_completion"),
        comment="How the task in the CRM ended: completed by the manager or by driftcoach "
        "(its finding resolved), or deleted in the CRM. Never reopened nor recreated.",
    )
    completed_at: Mapped[Timestamp | None]


class FollowUpKind(StrEnum):
    UPDATE = "update"  # the finding escalated: new priority, subject and body
    COMPLETE = "complete"  # the finding resolved: completed with a note
    NOTIFY = "notify"  # high severity: a bell (Salesforce) or a note (HubSpot)


class CrmFollowUp(Base):
    """What happens to a delivered task after its create: an update, its completion, or
    an alert to its assignee (the follow-up outbox).

    Queued with the finding change that asked for it, in the same transaction; sent only
    once its task is in the CRM (``task_id``'s row ``done``); cancelled if the task never
    gets there. ``idempotency_key`` is deterministic, so a re-run queues nothing twice.
    """

    __tablename__ = "crm_followups"
    __table_args__ = (
        UniqueConstraint("connection_id", "idempotency_key", name="uq_crm_followups_key"),
        Index("ix_crm_followups_state_available_at", "state", "available_at"),
        Index("ix_crm_followups_task_id", "task_id"),
        # the per-recipient alert limit counts recent alerts by this
        Index("ix_crm_followups_recipient_crm_id_created_at", "recipient_crm_id", "created_at"),
    )

    id: Mapped[IdPk]
    connection_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="CASCADE")
    )
    task_id: Mapped[int] = mapped_column(BigId, ForeignKey("crm_writes.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(String(160))
    kind: Mapped[FollowUpKind] = mapped_column(enum_column(FollowUpKind, "followup_kind"))
    recipient_crm_id: Mapped[CrmId]
    payload: Mapped[Document] = mapped_column(
        comment="update: title, body, priority; complete: note; notify: title, body."
    )
    state: Mapped[OutboxState] = mapped_column(
        enum_column(OutboxState, "crm_followup_state"), default=OutboxState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    lease_until: Mapped[Timestamp | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(
        String(32), comment="changed, already_completed, deleted or sent."
    )
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    done_at: Mapped[Timestamp | None]


class WebhookEvent(Base):
    """An event for webhook consumers (the event outbox); deliveries fan out per endpoint.

    ``event_id`` is deterministic (the finding and the transition), so an evaluation
    re-run cannot emit the same event twice; it becomes the Standard Webhooks
    ``webhook-id`` that consumers deduplicate on.
    """

    __tablename__ = "webhook_events"
    __table_args__ = (Index("ix_webhook_events_created_at", "created_at"),)

    id: Mapped[IdPk]
    event_id: Mapped[str] = mapped_column(String(120), unique=True)
    type: Mapped[str] = mapped_column(String(60))
    connection_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("connections.id", ondelete="SET NULL")
    )
    payload: Mapped[Document]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
