"""Webhook delivery on the store (SQLite and PostgreSQL), consumers mocked with respx at
the transport: signatures a Standard Webhooks consumer verifies, filters, the retry
schedule, Retry-After, 410, redirects, the body cap, rotation, replay, and a consumer
down for an hour (time moved by an injected clock, not slept)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import select
from standardwebhooks import Webhook

from service.outbox.ssrf import UrlPolicy
from service.outbox.webhook_delivery import (
    BODY_CAP,
    RETRY_SCHEDULE,
    WebhookWorker,
    replay,
    webhook_client,
)
from service.outbox.webhook_endpoints import (
    SecretBox,
    WebhookConfigError,
    add_endpoint,
    enable_endpoint,
    new_key,
    rotate_secret,
)
from service.store import Store
from service.store.tables import WebhookEvent
from service.store.tables.base import utcnow
from service.store.tables.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

URL = "https://hooks.example.com/driftcoach"
BOX = SecretBox(SecretStr(new_key()))


def public(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or utcnow()

    def __call__(self) -> datetime:
        return self.now


def _endpoint(store: Store, now: datetime, types: tuple[str, ...] = ()) -> tuple[int, str]:
    with store.unit_of_work() as session:
        made = add_endpoint(session, URL, BOX, event_types=types, resolve=public, now=now)
        return made.endpoint.id, made.secret


def _event(store: Store, n: int, at: datetime, kind: str = "finding.opened") -> None:
    with store.unit_of_work() as session:
        session.add(
            WebhookEvent(
                event_id=f"evt_{n:04d}", type=kind, payload={"type": kind, "n": n}, created_at=at
            )
        )


def _worker(store: Store, clock: Clock) -> WebhookWorker:
    return WebhookWorker(
        store, BOX, webhook_client(UrlPolicy()), clock=clock,
        rng=random.Random(1),  # noqa: S311 - retry jitter
    )  # fmt: skip


def _deliveries(store: Store) -> list[WebhookDelivery]:
    with store.unit_of_work() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def test_a_standard_webhooks_consumer_verifies_every_delivery(store: Store, mock: Any):
    now = utcnow()
    endpoint_id, secret = _endpoint(store, now - timedelta(minutes=1), ("finding.opened",))
    _event(store, 1, now)
    _event(store, 2, now, kind="sync.failed")  # not subscribed
    _event(store, 3, now)
    received: list[dict[str, Any]] = []

    def consumer(request: httpx.Request) -> httpx.Response:
        received.append(Webhook(secret).verify(request.content, dict(request.headers)))
        return httpx.Response(204)

    mock.post(URL).mock(side_effect=consumer)
    counts = _worker(store, Clock()).run()

    assert (counts.fanned_out, counts.delivered) == (2, 2)
    assert [r["data"]["n"] for r in received] == [1, 3]
    assert received[0]["type"] == "finding.opened"
    headers = mock.calls[0].request.headers
    assert headers["webhook-id"] == "evt_0001"
    assert {d.state for d in _deliveries(store)} == {DeliveryState.DELIVERED}
    with store.unit_of_work() as session:
        stored = session.get(WebhookEndpoint, endpoint_id)
        assert stored is not None
        assert secret not in stored.secret_encrypted  # encrypted at rest


def test_events_from_before_an_endpoint_existed_are_not_sent_to_it(store: Store, mock: Any):
    now = utcnow()
    _event(store, 1, now - timedelta(hours=1))
    _endpoint(store, now)
    mock.post(URL).mock(return_value=httpx.Response(200))
    assert _worker(store, Clock()).run().fanned_out == 0


def test_failures_follow_the_retry_schedule_then_fail_and_can_be_replayed(store: Store, mock: Any):
    start = utcnow()
    endpoint_id, _ = _endpoint(store, start)
    _event(store, 1, start)
    route = mock.post(URL).mock(return_value=httpx.Response(500))
    clock = Clock(start)
    worker = _worker(store, clock)

    delays = []
    for _ in range(len(RETRY_SCHEDULE) + 1):
        worker.run()
        (delivery,) = _deliveries(store)
        if delivery.state is DeliveryState.FAILED:
            break
        delays.append(delivery.available_at - clock.now)
        clock.now = delivery.available_at
    for delay, planned in zip(delays, RETRY_SCHEDULE, strict=True):
        assert planned * 0.8 <= delay <= planned * 1.2
    (delivery,) = _deliveries(store)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.FAILED, len(RETRY_SCHEDULE) + 1, 500,
    )  # fmt: skip
    assert route.call_count == len(RETRY_SCHEDULE) + 1

    assert replay(store, endpoint_id=endpoint_id) == 1
    route.mock(return_value=httpx.Response(200))
    assert worker.run().delivered == 1


def test_retry_after_is_honoured(store: Store, mock: Any):
    now = utcnow()
    _endpoint(store, now)
    _event(store, 1, now)
    mock.post(URL).mock(return_value=httpx.Response(429, headers={"retry-after": "3600"}))
    clock = Clock(now)
    _worker(store, clock).run()
    (delivery,) = _deliveries(store)
    assert delivery.available_at - now == timedelta(hours=1)  # later than the 5 s planned


def test_410_disables_the_endpoint_and_enabling_it_sends_what_waited(store: Store, mock: Any):
    now = utcnow()
    endpoint_id, _ = _endpoint(store, now)
    for n in range(3):
        _event(store, n, now)
    route = mock.post(URL).mock(return_value=httpx.Response(410))
    worker = _worker(store, Clock(now))
    counts = worker.run()
    assert route.call_count == 1  # nothing more is sent once it is gone, same batch or not
    (disabled,) = counts.disabled
    assert "410" in disabled
    with store.unit_of_work() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        assert endpoint.enabled is False
        enable_endpoint(session, endpoint_id)
    route.mock(return_value=httpx.Response(200))
    assert worker.run().delivered == 2  # the two that waited; the refused one is failed


def test_redirects_are_not_followed(store: Store, mock: Any):
    now = utcnow()
    _endpoint(store, now)
    _event(store, 1, now)
    mock.post(URL).mock(
        return_value=httpx.Response(307, headers={"location": "http://169.254.169.254/"})
    )
    elsewhere = mock.route(host="169.254.169.254").mock(return_value=httpx.Response(200))
    counts = _worker(store, Clock(now)).run()
    assert (counts.delivered, counts.retrying, elsewhere.call_count) == (0, 1, 0)
    assert _deliveries(store)[0].last_error == "HTTP 307"


def test_only_the_first_64_kib_of_an_answer_are_read(store: Store, mock: Any):
    now = utcnow()
    _endpoint(store, now)
    _event(store, 1, now)
    pulled = []

    def endless() -> Iterator[bytes]:
        for _ in range(10_000):  # 160 MB if read to the end
            pulled.append(16 * 1024)
            yield b"x" * 16 * 1024

    mock.post(URL).mock(return_value=httpx.Response(200, content=endless()))
    assert _worker(store, Clock(now)).run().delivered == 1
    assert sum(pulled) <= BODY_CAP + 16 * 1024


def test_after_a_rotation_both_secrets_sign_until_the_overlap_ends(store: Store, mock: Any):
    now = utcnow()
    endpoint_id, old = _endpoint(store, now - timedelta(minutes=1))
    with store.unit_of_work() as session:
        new = rotate_secret(session, endpoint_id, BOX, now=now, overlap=timedelta(hours=1))
    _event(store, 1, now)
    verified: list[str] = []

    def consumer(request: httpx.Request) -> httpx.Response:
        for secret in (old, new):
            Webhook(secret).verify(request.content, dict(request.headers))
            verified.append(secret)
        return httpx.Response(200)

    mock.post(URL).mock(side_effect=consumer)
    _worker(store, Clock()).run()
    assert verified == [old, new]
    assert len(mock.calls[0].request.headers["webhook-signature"].split(" ")) == 2


def test_a_consumer_down_for_an_hour_receives_every_event_after(store: Store, mock: Any):
    start = datetime(2026, 11, 20, 9, tzinfo=UTC)
    _, secret = _endpoint(store, start)
    for n in range(5):
        _event(store, n, start + timedelta(minutes=n))
    clock = Clock(start + timedelta(minutes=5))
    received: set[str] = set()

    def consumer(request: httpx.Request) -> httpx.Response:
        if clock.now < start + timedelta(hours=1):
            return httpx.Response(503)
        _check_signature(secret, request)
        received.add(request.headers["webhook-id"])
        return httpx.Response(200)

    mock.post(URL).mock(side_effect=consumer)
    worker = _worker(store, clock)
    for _ in range(100):  # each run at the next retry due
        worker.run()
        pending = [d for d in _deliveries(store) if d.state is DeliveryState.PENDING]
        if not pending:
            break
        clock.now = min(d.available_at for d in pending)
    assert received == {f"evt_{n:04d}" for n in range(5)}
    assert {d.state for d in _deliveries(store)} == {DeliveryState.DELIVERED}


def _check_signature(secret: str, request: httpx.Request) -> None:
    """What ``Webhook.verify`` checks, but at the moved clock's time."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode()
        + request.content
    )
    expected = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert expected in request.headers["webhook-signature"].split(" ")


def test_endpoint_urls_and_types_are_checked_when_saved(store: Store):
    with store.unit_of_work() as session:
        with pytest.raises(ValueError, match="private addresses are refused"):
            add_endpoint(session, "https://10.0.0.1/", BOX, resolve=public, now=utcnow())
        with pytest.raises(WebhookConfigError, match=r"unknown event types: deal\.won"):
            add_endpoint(session, URL, BOX, event_types=["deal.won"], resolve=public, now=utcnow())


def test_webhooks_need_a_proper_key():
    with pytest.raises(WebhookConfigError, match="need DRIFTCOACH_WEBHOOK_SECRET_KEY"):
        SecretBox(None)
    with pytest.raises(WebhookConfigError, match="not a Fernet key"):
        SecretBox(SecretStr("short"))
