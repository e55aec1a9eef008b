"""The webhook transport at connect time, over real sockets to a receiver on this
machine: a name that turns internal after it was saved (DNS rebinding) is refused, and
nothing reaches the receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest

from service.outbox.ssrf import GuardedTransport, UnsafeUrlError, UrlPolicy, check_url

PUBLIC = "93.184.215.14"


class _Ok(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        _Ok.received += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def local_receiver() -> Iterator[int]:
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_a_name_that_turns_internal_at_connect_time_is_refused_by_the_transport(
    local_receiver: int,
):
    """Public when saved, 127.0.0.1 when called (DNS rebinding): the connection is
    refused, and the receiver on this machine never hears of it."""
    answers = iter([[PUBLIC], ["127.0.0.1"]])

    def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    policy = UrlPolicy(allow_http=True)
    url = f"http://rebind.example:{local_receiver}/hook"
    check_url(url, policy, rebinding)  # saved: looked public
    client = httpx.Client(transport=GuardedTransport(policy, rebinding))
    before = _Ok.received
    with pytest.raises(UnsafeUrlError, match=r"127\.0\.0\.1 at connect time"):
        client.post(url, content=b"{}")
    assert _Ok.received == before


def test_the_transport_delivers_where_the_policy_allows(local_receiver: int):
    policy = UrlPolicy(allow_http=True, allow_private=True)
    with httpx.Client(transport=GuardedTransport(policy)) as client:
        answer = client.post(f"http://127.0.0.1:{local_receiver}/hook", content=b"{}")
    assert answer.status_code == 204


def test_the_transport_refuses_a_literal_internal_address(local_receiver: int):
    with (
        httpx.Client(transport=GuardedTransport(UrlPolicy(allow_http=True))) as client,
        pytest.raises(UnsafeUrlError, match="at connect time"),
    ):
        client.post(f"http://127.0.0.1:{local_receiver}/hook", content=b"{}")
