"""A small threaded HTTP(S) server with routing, metering and fault injection.

Built on the standard library rather than an ASGI stack because a fake CRM must be able
to misbehave at the socket level (cut a response half-way, stall before the headers),
which frameworks deliberately make impossible, and because the sandbox must start in
well under a second inside tests.

Each CRM server supplies a :class:`Router` and a :class:`CrmBehaviour` that renders
injected faults and adds its CRM's headers to every response.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

import orjson

from sandbox.faults import FaultDecision, FaultInjector, FaultKind
from sandbox.meter import Meter

log = logging.getLogger(__name__)

ADMIN_PREFIX = "/__sandbox/"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    route: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """Every value of a repeated or comma-separated query parameter."""
        return [part for value in self.query.get(name, []) for part in value.split(",") if part]

    def json(self) -> Any:
        if not self.body:
            raise HttpError(400, "request body is empty")
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HttpError(400, f"request body is not JSON: {exc}") from None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        merged = {"Content-Type": "application/json;charset=UTF-8", **(headers or {})}
        # UTF-8 as the real APIs send it; keys as json.dumps would write them.
        return cls(status, orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS), merged)


class HttpError(Exception):
    """Raised by handlers; the CRM behaviour turns it into that CRM's error body."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler


class Router:
    """Maps ``(method, path)`` to a handler; path patterns use ``{name}`` placeholders."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, name: str, handler: Handler) -> None:
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template.rstrip("/"))
        self._routes.append(Route(method, re.compile(f"^{regex}/?$"), name, handler))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        allowed = False
        for route in self._routes:
            found = route.pattern.match(path)
            if found is None:
                continue
            if route.method == method:
                return route, found.groupdict()
            allowed = True
        if allowed:
            raise HttpError(405, f"method {method} not allowed on {path}", "METHOD_NOT_ALLOWED")
        return None


class CrmBehaviour(Protocol):
    """What differs between CRMs at the HTTP level."""

    def error_response(self, error: HttpError) -> Response: ...

    def fault_response(self, decision: FaultDecision) -> Response: ...

    def finish(self, request: Request, response: Response) -> Response:
        """Add the CRM's per-response headers (limits, rate-limit counters)."""
        ...


class SandboxHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        router: Router,
        behaviour: CrmBehaviour,
        *,
        meter: Meter,
        faults: FaultInjector,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.router, self.behaviour, self.meter, self.faults = router, behaviour, meter, faults
        self.tls = tls
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens on the worker thread, never on the accept loop.
        if self.tls is None:
            super().finish_request(request, client_address)
            return
        # Wrapping detaches the plain socket, so the TLS socket must be closed here.
        secure = self.tls.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            secure.do_handshake()
            super().finish_request(secure, client_address)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS connection from %s failed: %s", client_address, exc)
        finally:
            secure.close()

    def _call(self, route: Route, request: Request) -> Response:
        try:
            return route.handler(request)
        except HttpError as error:
            return self.behaviour.error_response(error)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host!s}:{port}"

    def handle(self, request: Request) -> tuple[Response, FaultDecision]:
        """Route, meter and (outside admin paths) inject faults."""
        try:
            matched = self.router.match(request.method, request.path)
            if matched is None:
                raise HttpError(404, "The requested resource does not exist", "NOT_FOUND")
            route, request.params = matched
            request.route = route.name
        except HttpError as error:
            return self.behaviour.error_response(error), FaultDecision(None, 0)
        if request.path.startswith(ADMIN_PREFIX):
            return self._call(route, request), FaultDecision(None, 0)
        decision = self.faults.decide()
        if decision.kind in (FaultKind.ERROR, FaultKind.THROTTLE):
            response = self.behaviour.fault_response(decision)
        else:
            response = self._call(route, request)
        response = self.behaviour.finish(request, response)
        self.meter.record(f"{request.method} {route.name}", response.status)
        return response, decision


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the body waits for
    # the client's delayed ACK of the headers (~40 ms on Linux) on every keep-alive answer.
    disable_nagle_algorithm = True
    server: SandboxHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        try:
            response, decision = self.server.handle(request)
        except Exception:
            log.exception("sandbox handler crashed on %s %s", self.command, self.path)
            response = Response.json(500, {"message": "sandbox internal error"})
            decision = FaultDecision(None, 0)
        if decision.delay_seconds:
            time.sleep(decision.delay_seconds)
        self._send(response, drop=decision.kind is FaultKind.DROP)

    def _send(self, response: Response, *, drop: bool) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if not drop:
            self.wfile.write(response.body)
            return
        # Half the body, then a hard close: the client sees a truncated response.
        self.wfile.write(response.body[: len(response.body) // 2])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch  # noqa: N815 - stdlib names


class RunningServer:
    """A server on a background thread; ``stop()`` shuts it down and frees the port."""

    def __init__(self, server: SandboxHttpServer) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)
