"""Webhook endpoints and the deliveries of events to them (one row per event and endpoint).

An event is written once, in the transaction that caused it (``webhook_events``); the
delivery worker fans it out to every endpoint subscribed to its type and delivers each
copy on its own schedule, so one slow consumer never holds up another.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from service.store.tables.base import Base, BigId, IdPk, Timestamp, enum_column, utcnow


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # retries exhausted or the endpoint disabled; kept for replay


class WebhookEndpoint(Base):
    """Where events go. The signing secret is stored encrypted (Fernet, with the key from
    settings) and shown once, when made; after a rotation the previous secret keeps
    signing too until ``previous_secret_until``, so consumers can switch without a gap."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[IdPk]
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[str] = mapped_column(
        String(500), default="", comment="Comma-separated event types; empty: every type."
    )
    secret_encrypted: Mapped[str] = mapped_column(Text)
    previous_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[Timestamp | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failing_since: Mapped[Timestamp | None] = mapped_column(
        comment="The first failed attempt since the last success: 5 days of it disable."
    )
    fanned_out_through: Mapped[int] = mapped_column(
        BigId, default=0, comment="The last webhook_events.id given a delivery here."
    )
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)

    def wants(self, event_type: str) -> bool:
        types = [t.strip() for t in self.event_types.split(",") if t.strip()]
        return not types or event_type in types


class WebhookDelivery(Base):
    """One event for one endpoint: attempts, schedule, lease and last outcome."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "endpoint_id", name="uq_webhook_deliveries_event_endpoint"),
        Index("ix_webhook_deliveries_state_available_at", "state", "available_at"),
    )

    id: Mapped[IdPk]
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_events.id", ondelete="CASCADE")
    )
    endpoint_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[DeliveryState] = mapped_column(
        enum_column(DeliveryState, "webhook_delivery_state"), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    available_at: Mapped[Timestamp] = mapped_column(default=utcnow)
    lease_until: Mapped[Timestamp | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[Timestamp | None]
    created_at: Mapped[Timestamp] = mapped_column(default=utcnow)
