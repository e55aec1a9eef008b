"""Delivering webhook events: fan-out to endpoints, signed POSTs, retries, replay.

At-least-once, no ordering promise: a consumer must deduplicate on ``webhook-id`` (the
event's id, the same on every retry) and must not assume events arrive in the order they
happened. Per Standard Webhooks (https://www.standardwebhooks.com/) each POST carries
``webhook-id``, ``webhook-timestamp`` (the attempt's time) and ``webhook-signature``
(``v1,<base64 HMAC-SHA256>``, made with the ``standardwebhooks`` package; two of them,
space-separated, while a rotated secret's overlap lasts). The body is
``{"type", "timestamp", "data"}``.

A run first fans new events out (one delivery row per event and subscribed endpoint,
from the endpoint's creation on), then claims due deliveries with a lease, sends them
with no database lock held, and records each outcome on the rows it still holds, as the
CRM-write worker does. Each POST: 15 s timeout, redirects not followed (a 3xx is a
failure), at most 64 KiB of the answer read. A 2xx delivers. A 410 disables the endpoint.
Anything else is retried about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h after the
attempts before it (each +-20% jitter, later if the answer's ``Retry-After`` says so);
then the delivery is ``failed`` and kept: :func:`replay` queues it again. An endpoint
whose deliveries have failed for 5 days without a success is disabled.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx
import orjson
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from standardwebhooks import Webhook

from service.outbox.leases import kept_alive, skipping_locked, still_held
from service.outbox.ssrf import GuardedTransport, UnsafeUrlError, UrlPolicy
from service.outbox.webhook_endpoints import SecretBox, signing_secrets
from service.store import Store
from service.store.tables import WebhookEvent
from service.store.tables.base import utcnow
from service.store.tables.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
TIMEOUT_SECONDS = 15.0
BODY_CAP = 64 * 1024
DISABLE_AFTER = timedelta(days=5)
FAN_OUT_BATCH = 1000


def webhook_client(policy: UrlPolicy) -> httpx.Client:
    """The client deliveries go through: guarded transport, no redirects, 15 s."""
    return httpx.Client(
        transport=GuardedTransport(policy),
        timeout=TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": "driftcoach-webhooks/1"},
    )


@dataclass
class WebhookCounts:
    fanned_out: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    disabled: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (
            f"{self.delivered} delivered, {self.retrying} to retry, {self.failed} failed "
            f"({self.fanned_out} new deliveries)"
        )
        return text + (f"; disabled: {', '.join(self.disabled)}" if self.disabled else "")


@dataclass(frozen=True, slots=True)
class _Claimed:
    delivery_id: int
    endpoint_id: int
    url: str
    message_id: str
    body: bytes = field(repr=False)
    #: Never in a repr (logs, tracebacks): only the signatures they make leave the process.
    secrets: tuple[str, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: int | None
    error: str | None
    retry_after: timedelta | None = None
    #: Not sent: its endpoint answered 410 earlier in the batch.
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass
class WebhookWorker:
    store: Store
    box: SecretBox
    client: httpx.Client
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    batch_size: int = 50
    lease: timedelta = timedelta(minutes=5)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def run(self, max_batches: int | None = None) -> WebhookCounts:
        counts = WebhookCounts(fanned_out=fan_out(self.store, self.clock()))
        batches = 0
        while max_batches is None or batches < max_batches:
            claimed = self.claim()
            if not claimed:
                break
            batches += 1
            ids = [c.delivery_id for c in claimed]
            with kept_alive(self.store, WebhookDelivery, ids, self.run_id,
                            lease=self.lease, clock=self.clock):  # fmt: skip
                outcomes = self._send_all(claimed)
            self.record(claimed, outcomes, counts)
        return counts

    def claim(self) -> list[_Claimed]:
        now = self.clock()
        with self.store.unit_of_work(writes=True) as session:
            query = (
                select(WebhookDelivery, WebhookEndpoint, WebhookEvent)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
                .where(
                    WebhookDelivery.state == DeliveryState.PENDING,
                    WebhookDelivery.available_at <= now,
                    or_(WebhookDelivery.lease_until.is_(None), WebhookDelivery.lease_until <= now),
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(WebhookDelivery.available_at, WebhookDelivery.id)
                .limit(self.batch_size)
            )
            claimed = []
            secrets: dict[int, tuple[str, ...]] = {}  # decrypted once per endpoint
            for delivery, endpoint, event in session.execute(
                skipping_locked(query, session, WebhookDelivery)
            ).all():
                delivery.attempts += 1
                delivery.lease_until = now + self.lease
                delivery.claimed_by = self.run_id
                if endpoint.id not in secrets:
                    secrets[endpoint.id] = tuple(signing_secrets(endpoint, self.box, now))
                claimed.append(
                    _Claimed(
                        delivery.id, endpoint.id, endpoint.url, event.event_id,
                        message_body(event), secrets[endpoint.id],
                    )
                )  # fmt: skip
            return claimed

    def _send_all(self, claimed: Sequence[_Claimed]) -> list[_Outcome]:
        """Each claimed delivery sent in turn, except to an endpoint already gone (410)."""
        gone: set[int] = set()
        outcomes = []
        for item in claimed:
            if item.endpoint_id in gone:
                outcomes.append(_Outcome(None, "not sent: the endpoint is gone", skipped=True))
                continue
            outcome = self._send(item)
            if outcome.status == 410:
                gone.add(item.endpoint_id)
            outcomes.append(outcome)
        return outcomes

    def _send(self, item: _Claimed) -> _Outcome:
        sent_at = self.clock()
        headers = {
            "content-type": "application/json",
            "webhook-id": item.message_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": " ".join(
                Webhook(secret).sign(item.message_id, sent_at, item.body) for secret in item.secrets
            ),
        }
        outcome = self._post(item, headers, sent_at)
        log.debug(
            "webhook %s to endpoint %s: %s",
            item.message_id,
            item.endpoint_id,
            outcome.error or f"HTTP {outcome.status}",
        )
        return outcome

    def _post(self, item: _Claimed, headers: dict[str, str], sent_at: datetime) -> _Outcome:
        try:
            with self.client.stream("POST", item.url, content=item.body, headers=headers) as answer:
                _read_capped(answer)
                return _Outcome(
                    answer.status_code,
                    None if answer.is_success else f"HTTP {answer.status_code}",
                    _retry_after(answer, sent_at),
                )
        except UnsafeUrlError as exc:
            return _Outcome(None, f"refused: {exc}")
        except httpx.HTTPError as exc:
            return _Outcome(None, f"{type(exc).__name__}: {exc}")

    def record(
        self, claimed: Sequence[_Claimed], outcomes: Sequence[_Outcome], counts: WebhookCounts
    ) -> None:
        """Each outcome on the delivery this run still holds, in one transaction."""
        now = self.clock()
        with self.store.unit_of_work(writes=True) as session:
            held = still_held(
                session, WebhookDelivery, [c.delivery_id for c in claimed], self.run_id
            )
            endpoints = {
                e.id: e
                for e in session.scalars(
                    select(WebhookEndpoint).where(
                        WebhookEndpoint.id.in_({c.endpoint_id for c in claimed})
                    )
                )
            }
            for item, outcome in zip(claimed, outcomes, strict=True):
                delivery, endpoint = held.get(item.delivery_id), endpoints.get(item.endpoint_id)
                if delivery is not None and endpoint is not None:
                    self._settle(delivery, endpoint, outcome, now, counts)

    def _settle(
        self,
        delivery: WebhookDelivery,
        endpoint: WebhookEndpoint,
        outcome: _Outcome,
        now: datetime,
        counts: WebhookCounts,
    ) -> None:
        """Delivered, back in the queue for later, or failed; the endpoint's health."""
        delivery.lease_until, delivery.claimed_by = None, None
        if outcome.skipped:  # back in the queue as it was, for if it is enabled again
            delivery.attempts -= 1
            return
        delivery.last_status, delivery.last_error = outcome.status, outcome.error
        if outcome.ok:
            delivery.state, delivery.delivered_at = DeliveryState.DELIVERED, now
            endpoint.failing_since = None
            counts.delivered += 1
            return
        if outcome.status == 410:
            _disable(endpoint, "the endpoint answered 410 Gone", counts)
        else:
            endpoint.failing_since = endpoint.failing_since or now
            if now - endpoint.failing_since >= DISABLE_AFTER:
                _disable(endpoint, "failing for 5 days", counts)
        if outcome.status == 410 or delivery.attempts > len(RETRY_SCHEDULE):
            delivery.state = DeliveryState.FAILED
            counts.failed += 1
            return
        delay = RETRY_SCHEDULE[delivery.attempts - 1] * self.rng.uniform(0.8, 1.2)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        delivery.available_at = now + delay
        counts.retrying += 1


def message_body(event: WebhookEvent) -> bytes:
    """The POST body: the event's type, when it happened, and its payload."""
    return orjson.dumps(
        {"type": event.type, "timestamp": event.created_at.isoformat(), "data": event.payload}
    )


def fan_out(store: Store, now: datetime) -> int:
    """A delivery for every enabled endpoint and each event it wants, made since the
    endpoint was created and not yet fanned out to it."""
    made = 0
    with store.unit_of_work(writes=True) as session:
        query = select(WebhookEndpoint).where(WebhookEndpoint.enabled.is_(True))
        for endpoint in session.scalars(skipping_locked(query, session)):
            made += _fan_out_one(session, endpoint, now)
    return made


def _fan_out_one(session: Session, endpoint: WebhookEndpoint, now: datetime) -> int:
    events = session.execute(
        select(WebhookEvent.id, WebhookEvent.type)
        .where(
            WebhookEvent.id > endpoint.fanned_out_through,
            WebhookEvent.created_at >= endpoint.created_at,
        )
        .order_by(WebhookEvent.id)
        .limit(FAN_OUT_BATCH)
    ).all()
    made = 0
    for event_id, event_type in events:
        if endpoint.wants(event_type):
            session.add(
                WebhookDelivery(
                    event_id=event_id,
                    endpoint_id=endpoint.id,
                    state=DeliveryState.PENDING,
                    attempts=0,
                    available_at=now,
                    created_at=now,
                )
            )
            made += 1
    if events:
        endpoint.fanned_out_through = events[-1][0]
    return made


def replay(store: Store, *, endpoint_id: int, since: datetime | None = None) -> int:
    """Queue an endpoint's failed deliveries again (all, or those of events since a time)."""
    with store.unit_of_work(writes=True) as session:
        query = update(WebhookDelivery).where(
            WebhookDelivery.endpoint_id == endpoint_id,
            WebhookDelivery.state == DeliveryState.FAILED,
        )
        if since is not None:
            events = select(WebhookEvent.id).where(WebhookEvent.created_at >= since)
            query = query.where(WebhookDelivery.event_id.in_(events))
        result = session.execute(
            query.values(state=DeliveryState.PENDING, attempts=0, available_at=utcnow())
        )
        return int(getattr(result, "rowcount", 0) or 0)


def _disable(endpoint: WebhookEndpoint, reason: str, counts: WebhookCounts) -> None:
    if endpoint.enabled:
        endpoint.enabled, endpoint.disabled_reason = False, reason
        counts.disabled.append(f"{endpoint.url} ({reason})")


def _read_capped(answer: httpx.Response) -> bytes:
    """At most :data:`BODY_CAP` bytes of the answer: a consumer cannot make us read more."""
    kept = bytearray()
    for chunk in answer.iter_bytes():
        kept.extend(chunk[: BODY_CAP - len(kept)])
        if len(kept) >= BODY_CAP:
            break
    return bytes(kept)


def _retry_after(answer: httpx.Response, now: datetime) -> timedelta | None:
    """``Retry-After`` in seconds or as an HTTP date, capped at a day."""
    value = answer.headers.get("retry-after")
    if not value:
        return None
    try:
        delay = timedelta(seconds=float(value))
    except ValueError:
        try:
            delay = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return min(max(delay, timedelta(0)), timedelta(days=1))
