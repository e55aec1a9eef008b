"""What ``/v1/webhook-endpoints`` takes and answers, and the reads and audit entries
behind it. A signing secret appears in exactly two answers, the one that makes it
(:class:`CreatedEndpoint`) and the one that rotates it (:class:`RotatedSecret`); no other
model has a field that could carry it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.api.pagination import decode
from service.api.problems import FieldProblem, invalid, not_found
from service.api.settings_views import MAX_ID
from service.outbox.webhook_endpoints import EVENT_TYPES
from service.store.tables import AuditEntry, WebhookEvent
from service.store.tables.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

#: The event types as an enumeration, so the OpenAPI document lists them for a form.
EventType = StrEnum("EventType", {name.replace(".", "_"): name for name in EVENT_TYPES})  # type: ignore[misc]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        min_length=1,
        max_length=2048,
        pattern=r"^[^\s\x00-\x1f\x7f]+$",
        description="An https URL on the public internet (checked against SSRF when saved "
        "and at every connection).",
    )
    description: str = Field(
        default="", max_length=200, pattern=r"^[^\x00]*$", description="What it is for."
    )
    event_types: list[EventType] = Field(
        default_factory=list, max_length=len(EVENT_TYPES),
        description="The event types to send; empty: every type.",
    )  # fmt: skip


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: float = Field(
        default=24, ge=0, le=24 * 30,
        description="Hours the previous secret keeps signing too, so consumers switch "
        "without a gap.",
    )  # fmt: skip


class EndpointView(BaseModel):
    id: int
    url: str
    description: str
    event_types: list[str] = Field(description="Empty: every type.")
    enabled: bool
    disabled_reason: str | None
    failing_since: datetime | None
    previous_secret_until: datetime | None = Field(
        description="After a rotation: until when the previous secret signs too."
    )
    created_at: datetime


class CreatedEndpoint(EndpointView):
    secret: str = Field(description="The signing secret (whsec_...): shown this once only.")


class RotatedSecret(BaseModel):
    endpoint_id: int
    secret: str = Field(description="The new signing secret (whsec_...): shown this once only.")
    previous_secret_until: datetime


class DeliveryView(BaseModel):
    id: int
    endpoint_id: int
    event_id: str = Field(description="The event's id: the webhook-id header consumers see.")
    event_type: str
    state: DeliveryState
    attempts: int
    last_status: int | None = Field(description="The HTTP status of the last attempt.")
    last_error: str | None
    next_attempt_at: datetime | None = Field(description="When pending: the next try.")
    delivered_at: datetime | None
    created_at: datetime


def endpoint_view(endpoint: WebhookEndpoint) -> EndpointView:
    return EndpointView(**_endpoint_fields(endpoint))


def created_view(endpoint: WebhookEndpoint, secret: str) -> CreatedEndpoint:
    return CreatedEndpoint(**_endpoint_fields(endpoint), secret=secret)


def _endpoint_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": [t for t in endpoint.event_types.split(",") if t],
        "enabled": endpoint.enabled,
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since,
        "previous_secret_until": endpoint.previous_secret_until,
        "created_at": endpoint.created_at,
    }


def id_cursor(cursor: str | None) -> int | None:
    """The row id a cursor of these lists carries (None: the first page)."""
    key = decode(cursor, 1)
    if key is None:
        return None
    value = key[0]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        problem = FieldProblem(field="cursor", message="not a cursor this list gave out")
        raise invalid("the cursor is not valid", [problem])
    return value


def endpoint_or_404(db: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise not_found(f"webhook endpoint {endpoint_id}")
    return endpoint


def endpoints_after(db: Session, after: int | None, limit: int) -> list[WebhookEndpoint]:
    """Endpoints by id, from after ``after``; ``limit`` of them at most."""
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.id).limit(limit)
    if after is not None:
        query = query.where(WebhookEndpoint.id > after)
    return list(db.scalars(query))


def deliveries_before(
    db: Session, endpoint_id: int, before: int | None, limit: int
) -> list[DeliveryView]:
    """An endpoint's deliveries, newest first, from before ``before``."""
    query = (
        select(WebhookDelivery, WebhookEvent.event_id, WebhookEvent.type)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.endpoint_id == endpoint_id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(WebhookDelivery.id < before)
    return [delivery_view(d, event_id, kind) for d, event_id, kind in db.execute(query).all()]


def delivery_view(delivery: WebhookDelivery, event_id: str, event_type: str) -> DeliveryView:
    pending = delivery.state is DeliveryState.PENDING
    return DeliveryView(
        id=delivery.id, endpoint_id=delivery.endpoint_id, event_id=event_id,
        event_type=event_type, state=delivery.state, attempts=delivery.attempts,
        last_status=delivery.last_status, last_error=delivery.last_error,
        next_attempt_at=delivery.available_at if pending else None,
        delivered_at=delivery.delivered_at, created_at=delivery.created_at,
    )  # fmt: skip


def audit(
    db: Session, actor: str, action: str, entity: tuple[str, int], details: dict[str, Any]
) -> None:
    """An audit entry; ``details`` never holds a secret, sealed or not."""
    entity_type, entity_id = entity
    db.add(
        AuditEntry(
            actor=actor, action=action, entity_type=entity_type, entity_id=str(entity_id),
            details=details,
        )
    )  # fmt: skip
