"""``/v1/webhook-endpoints`` and ``/v1/webhook-deliveries`` through the real app, on both
backends: a secret shown once and never again, the SSRF guard naming the field, and
deliveries listed and replayed (the consumer faked at the transport with respx, the
worker the real one)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import select
from standardwebhooks import Webhook

from service.outbox.ssrf import UrlPolicy
from service.outbox.webhook_delivery import WebhookWorker, webhook_client
from service.outbox.webhook_endpoints import SecretBox, new_key
from service.settings import Settings
from service.store import Store
from service.store.tables import AuditEntry, WebhookEvent
from service.store.tables.webhooks import WebhookEndpoint
from tests.e2e.api_support import Api, api

__all__ = ["api"]
URL = "https://93.184.215.14/driftcoach"  # a public address: no DNS needed to check it
KEY = SecretStr(new_key())


@pytest.fixture
def hooks(api: Api, settings: Settings) -> Api:
    """The API with the settings a webhook secret needs."""
    api.client.app.state.settings = settings.model_copy(update={"webhook_secret_key": KEY})  # type: ignore[attr-defined]
    return api


@pytest.fixture
def consumer() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def _create(api: Api, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    answer = api.client.post("/v1/webhook-endpoints", json={"url": URL, **body}, headers=headers)
    assert answer.status_code == 201, answer.text
    made: dict[str, Any] = answer.json()
    return made


def _events(store: Store, *kinds: str) -> None:
    with store.unit_of_work() as session:
        for n, kind in enumerate(kinds):
            session.add(WebhookEvent(event_id=f"evt_{n:04d}", type=kind, payload={"n": n}))


def _worker(store: Store) -> WebhookWorker:
    jitter = random.Random(1)  # noqa: S311 - retry jitter, not a secret
    return WebhookWorker(store, SecretBox(KEY), webhook_client(UrlPolicy()), rng=jitter)


def test_a_secret_is_shown_once_when_made_and_once_when_rotated(hooks: Api):
    ops = hooks.auth("webhooks:write", name="ops-lead")
    made = _create(hooks, ops, description="alerts", event_types=["finding.opened"])
    assert made["secret"].startswith("whsec_")
    assert made["event_types"] == ["finding.opened"]
    rotated = hooks.client.post(f"/v1/webhook-endpoints/{made['id']}:rotate",
                                json={"overlap_hours": 2}, headers=ops)  # fmt: skip
    assert rotated.status_code == 200
    assert rotated.json()["secret"].startswith("whsec_")
    assert rotated.json()["secret"] != made["secret"]

    secrets = (made["secret"], rotated.json()["secret"])
    listed = hooks.client.get("/v1/webhook-endpoints", headers=ops)
    one = hooks.client.get(f"/v1/webhook-endpoints/{made['id']}", headers=ops)
    deliveries = hooks.client.get(f"/v1/webhook-endpoints/{made['id']}/deliveries", headers=ops)
    assert [e["id"] for e in listed.json()["data"]] == [made["id"]]
    assert one.json()["previous_secret_until"] is not None
    with hooks.store.unit_of_work() as session:
        audit = [(e.action, e.actor, str(e.details)) for e in session.scalars(
            select(AuditEntry).where(AuditEntry.entity_type == "webhook_endpoint"))]  # fmt: skip
        sealed = session.scalars(select(WebhookEndpoint.secret_encrypted)).one()
    assert [(action, actor) for action, actor, _ in audit] == [
        ("webhook_endpoint.created", "ops-lead"), ("webhook_endpoint.secret_rotated", "ops-lead")
    ]  # fmt: skip
    for secret in secrets:
        for text in (listed.text, one.text, deliveries.text, *(d for _, _, d in audit)):
            assert secret not in text
        assert secret not in sealed  # encrypted at rest
    assert sealed not in listed.text + one.text


def test_a_url_the_ssrf_guard_refuses_is_a_422_naming_url_and_nothing_is_stored(hooks: Api):
    ops = hooks.auth("webhooks:write")
    for url in ("https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data",
                "http://93.184.215.14/hook", "https://user:pw@93.184.215.14/",
                "https://hooks..example.com/", "https://hooks.example.com/\x00"):  # fmt: skip
        answer = hooks.client.post("/v1/webhook-endpoints", json={"url": url}, headers=ops)
        assert answer.status_code == 422, url
        assert answer.headers["content-type"] == "application/problem+json"
        assert [p["field"] for p in answer.json()["errors"]] == ["url"]
    body = {"url": URL, "event_types": ["deal.won"]}
    unknown = hooks.client.post("/v1/webhook-endpoints", json=body, headers=ops)
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["field"].startswith("event_types")
    assert hooks.client.get("/v1/webhook-endpoints", headers=ops).json()["data"] == []


def test_deliveries_are_listed_and_a_failed_one_is_replayed_to_the_consumer(
    hooks: Api, consumer: respx.MockRouter
):
    ops = hooks.auth("webhooks:write", name="ops-lead")
    made = _create(hooks, ops)
    _events(hooks.store, "finding.opened", "finding.resolved", "task.created")
    route = consumer.post(URL).mock(return_value=httpx.Response(410))  # gone: fails, disables
    _worker(hooks.store).run()

    base = f"/v1/webhook-endpoints/{made['id']}"
    first = hooks.client.get(f"{base}/deliveries", params={"limit": 2}, headers=ops).json()
    rest = hooks.client.get(f"{base}/deliveries", headers=ops,
                            params={"limit": 2, "cursor": first["next_cursor"]}).json()  # fmt: skip
    seen = first["data"] + rest["data"]
    assert [d["event_id"] for d in seen] == ["evt_0002", "evt_0001", "evt_0000"]  # newest first
    assert rest["next_cursor"] is None
    failed = next(d for d in seen if d["state"] == "failed")
    assert (failed["attempts"], failed["last_status"]) == (1, 410)
    waiting = [d for d in seen if d["state"] == "pending"]
    assert len(waiting) == 2  # not sent: the endpoint was gone
    assert all(d["next_attempt_at"] for d in waiting)
    assert hooks.client.get(base, headers=ops).json()["enabled"] is False

    enabled = hooks.client.post(f"{base}:enable", headers=ops)
    replayed = hooks.client.post(f"/v1/webhook-deliveries/{failed['id']}:replay", headers=ops)
    assert enabled.json()["enabled"] is True
    assert (replayed.status_code, replayed.json()["state"], replayed.json()["attempts"]) == (
        200, "pending", 0,
    )  # fmt: skip
    again = hooks.client.post(f"/v1/webhook-deliveries/{failed['id']}:replay", headers=ops)
    assert again.status_code == 409
    assert hooks.client.post("/v1/webhook-deliveries/999999:replay", headers=ops).status_code == 404

    received: list[Any] = []

    def verify(request: httpx.Request) -> httpx.Response:
        received.append(Webhook(made["secret"]).verify(request.content, dict(request.headers)))
        return httpx.Response(204)

    route.mock(side_effect=verify)
    assert _worker(hooks.store).run().delivered == 3
    assert sorted(r["data"]["n"] for r in received) == [0, 1, 2]
    states = hooks.client.get(f"{base}/deliveries", headers=ops).json()["data"]
    assert {d["state"] for d in states} == {"delivered"}
    with hooks.store.unit_of_work() as session:
        actions = set(
            session.scalars(select(AuditEntry.action).where(AuditEntry.actor == "ops-lead"))
        )
    assert {"webhook_endpoint.enabled", "webhook_delivery.replayed"} <= actions


def test_webhooks_need_the_scope_and_the_secret_key(api: Api, settings: Settings):
    reader = api.auth("rules:read", "findings:read")
    refused = api.client.get("/v1/webhook-endpoints", headers=reader)
    assert (refused.status_code, "webhooks:write" in refused.json()["detail"]) == (403, True)

    ops = api.auth("webhooks:write")
    unconfigured = api.client.post("/v1/webhook-endpoints", json={"url": URL}, headers=ops)
    api.client.app.state.settings = settings  # type: ignore[attr-defined]  # no key set
    keyless = api.client.post("/v1/webhook-endpoints", json={"url": URL}, headers=ops)
    for answer in (unconfigured, keyless):
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
    assert "DRIFTCOACH_WEBHOOK_SECRET_KEY" in keyless.json()["detail"]
    with api.store.unit_of_work() as session:
        assert session.scalars(select(WebhookEndpoint)).first() is None
