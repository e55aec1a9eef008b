"""``driftcoach webhooks`` and ``driftcoach deliver`` as an operator runs them: an endpoint
added (its secret printed once, never again), events delivered to a receiver on this
machine that verifies every signature, a rotation, a refused internal URL."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from standardwebhooks import Webhook

from service.settings import Settings
from service.store import Store, make_engine
from service.store.tables import WebhookEvent
from service.store.tables.base import utcnow
from tests.e2e.test_cli import run

KEY = "n8qvq6Cq0J5cM9pS0nWv9Lr3A4q0nYhQb8m0q2d4X1U="


class _Receiver(BaseHTTPRequestHandler):
    bodies: ClassVar[list[tuple[bytes, dict[str, str]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Receiver.bodies.append((body, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.bodies = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_an_operator_adds_an_endpoint_and_deliver_sends_signed_events(
    database_url: str, receiver: str
):
    env = {
        "DRIFTCOACH_DATABASE_URL": database_url,
        "DRIFTCOACH_LOG_LEVEL": "WARNING",
        "DRIFTCOACH_WEBHOOK_SECRET_KEY": KEY,
    }
    assert run("db", "upgrade", env=env).returncode == 0

    refused = run("webhooks", "add", receiver, env=env)
    assert refused.returncode != 0
    assert "plain http is refused" in refused.stderr + refused.stdout

    local = {
        **env,
        "DRIFTCOACH_WEBHOOK_ALLOW_HTTP": "true",
        "DRIFTCOACH_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    added = run("webhooks", "add", receiver, "--event", "finding.opened", env=local)
    assert added.returncode == 0, added.stderr
    (secret,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", added.stdout)

    store = Store(make_engine(Settings(database_url=database_url, _env_file=None)))
    with store.unit_of_work() as session:
        for n, kind in enumerate(("finding.opened", "sync.failed", "finding.opened")):
            session.add(
                WebhookEvent(event_id=f"evt_{n}", type=kind, payload={"n": n}, created_at=utcnow())
            )
    store.dispose()

    delivered = run("--log-level", "DEBUG", "deliver", env=local)
    assert delivered.returncode == 0, delivered.stderr
    assert "webhooks: 2 delivered" in delivered.stdout
    # Nothing a consumer signs with, nor the key that encrypts it, reaches any output,
    # even at the most verbose level.
    assert "webhook evt_0 to endpoint 1: HTTP 200" in delivered.stderr  # it does log
    for secret_text in (secret, secret.removeprefix("whsec_"), KEY):
        assert secret_text not in delivered.stdout + delivered.stderr
    assert [Webhook(secret).verify(body, headers)["data"]["n"] for body, headers in
            _Receiver.bodies] == [0, 2]  # fmt: skip

    listed = run("webhooks", "list", env=local)
    assert receiver in listed.stdout
    assert "finding.opened" in listed.stdout
    rotated = run("webhooks", "rotate", "1", env=local)
    (new_secret,) = re.findall(r"whsec_[A-Za-z0-9+/=]+", rotated.stdout)
    assert new_secret != secret
    shown = run("webhooks", "deliveries", env=local).stdout + listed.stdout
    assert secret not in shown
    assert new_secret not in shown
    assert "delivered" in shown
