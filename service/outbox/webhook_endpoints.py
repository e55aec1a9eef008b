"""Webhook endpoints: where events go, which types, and the secret that signs them.

Secrets follow Standard Webhooks: ``whsec_`` and 32 random bytes in base64. They are
stored encrypted with a key from settings (``DRIFTCOACH_WEBHOOK_SECRET_KEY``, a Fernet
key), returned once when made or rotated, and never logged. A rotation keeps the old
secret signing as well for an overlap (24 hours by default): each delivery then carries
both signatures, so a consumer can switch secrets without missing a message.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.outbox.ssrf import Resolver, UrlPolicy, check_url, system_resolver
from service.store.tables.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

#: Every event type driftcoach sends; schemas in docs/webhooks.md.
EVENT_TYPES = (
    "finding.opened",
    "finding.escalated",
    "finding.resolved",
    "task.created",
    "task.completed",
    "task.failed",
    "sync.failed",
)
DEFAULT_OVERLAP = timedelta(hours=24)


class WebhookConfigError(ValueError):
    """A webhook endpoint or its settings cannot be used as given."""


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_key() -> str:
    """A key for ``DRIFTCOACH_WEBHOOK_SECRET_KEY``."""
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts endpoint secrets at rest with the key from settings."""

    def __init__(self, key: SecretStr | None) -> None:
        if key is None or not key.get_secret_value():
            raise WebhookConfigError(
                "webhooks need DRIFTCOACH_WEBHOOK_SECRET_KEY (make one with "
                "'driftcoach webhooks key')"
            )
        try:
            self._fernet = Fernet(key.get_secret_value().encode())
        except ValueError:
            raise WebhookConfigError(
                "DRIFTCOACH_WEBHOOK_SECRET_KEY is not a Fernet key (32 url-safe base64 bytes)"
            ) from None

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise WebhookConfigError(
                "an endpoint secret does not decrypt with DRIFTCOACH_WEBHOOK_SECRET_KEY "
                "(was the key changed?)"
            ) from None


@dataclass(frozen=True, slots=True)
class Created:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def add_endpoint(
    session: Session,
    url: str,
    box: SecretBox,
    *,
    event_types: Sequence[str] = (),
    description: str = "",
    policy: UrlPolicy | None = None,
    resolve: Resolver = system_resolver,
    now: datetime,
) -> Created:
    """A new endpoint after the URL passed the SSRF guard; it receives events from now."""
    check_url(url, policy or UrlPolicy(), resolve)
    unknown = sorted(set(event_types) - set(EVENT_TYPES))
    if unknown:
        raise WebhookConfigError(
            f"unknown event types: {', '.join(unknown)} (known: {', '.join(EVENT_TYPES)})"
        )
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        event_types=",".join(event_types),
        secret_encrypted=box.seal(secret),
        enabled=True,
        fanned_out_through=0,
        created_at=now,
    )
    session.add(endpoint)
    session.flush()
    return Created(endpoint, secret)


def rotate_secret(
    session: Session,
    endpoint_id: int,
    box: SecretBox,
    *,
    now: datetime,
    overlap: timedelta = DEFAULT_OVERLAP,
) -> str:
    """A new secret for the endpoint; the old one signs too until ``now + overlap``."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookConfigError(f"no webhook endpoint {endpoint_id}")
    secret = new_secret()
    endpoint.previous_secret_encrypted = endpoint.secret_encrypted
    endpoint.previous_secret_until = now + overlap
    endpoint.secret_encrypted = box.seal(secret)
    return secret


def enable_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    """Send to a disabled endpoint again (its failure clock restarts); what it missed
    while disabled is still queued, or can be replayed."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise WebhookConfigError(f"no webhook endpoint {endpoint_id}")
    endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
    return endpoint


def signing_secrets(endpoint: WebhookEndpoint, box: SecretBox, now: datetime) -> list[str]:
    """The secrets a delivery is signed with now: the current one, and the previous one
    while its overlap lasts."""
    found = [box.open(endpoint.secret_encrypted)]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret_encrypted and until is not None and now < until:
        found.append(box.open(endpoint.previous_secret_encrypted))
    return found


def list_endpoints(session: Session) -> list[WebhookEndpoint]:
    return list(session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def replay_delivery(delivery: WebhookDelivery, *, now: datetime) -> None:
    """Queue one failed delivery again from its first attempt, as ``driftcoach webhooks
    replay`` does for a whole endpoint; the next ``deliver`` sends it (once its endpoint
    is enabled). Only a failed one: a pending one is queued already, and a delivered one
    would be dropped by a consumer deduplicating on ``webhook-id``."""
    if delivery.state is not DeliveryState.FAILED:
        raise WebhookConfigError(
            f"delivery {delivery.id} is {delivery.state.value}: only a failed delivery is replayed"
        )
    delivery.state, delivery.attempts, delivery.available_at = DeliveryState.PENDING, 0, now
