"""The sandbox's HTTP layer over real sockets: TLS, routing, admin, injected faults."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sandbox.admin import add_admin_routes
from sandbox.clock import SandboxClock
from sandbox.faults import FaultConfig, FaultDecision, FaultInjector
from sandbox.http import (
    HttpError,
    Request,
    Response,
    Router,
    RunningServer,
    SandboxHttpServer,
)
from sandbox.meter import Meter
from sandbox.tls import make_tls


class PlainBehaviour:
    def error_response(self, error: HttpError) -> Response:
        return Response.json(error.status, {"error": error.code, "message": error.message})

    def fault_response(self, decision: FaultDecision) -> Response:
        return Response.json(decision.status, {"fault": str(decision.kind)})

    def finish(self, request: Request, response: Response) -> Response:
        response.headers["X-Finished"] = "yes"
        return response


def _echo(request: Request) -> Response:
    return Response.json(200, {"id": request.params["id"], "q": request.arg("q")})


def _start(tls_dir: Path | None = None) -> tuple[RunningServer, Meter, FaultInjector, Path | None]:
    meter, faults, clock = Meter(), FaultInjector(), SandboxClock()
    router = Router()
    router.add("GET", "/things/{id}", "thing", _echo)
    add_admin_routes(router, meter=meter, faults=faults, clock=clock, reset=lambda: None)
    tls = make_tls(tls_dir) if tls_dir else None
    server = SandboxHttpServer(
        ("127.0.0.1", 0),
        router,
        PlainBehaviour(),
        meter=meter,
        faults=faults,
        tls=tls.server_context if tls else None,
    )
    return RunningServer(server), meter, faults, tls.ca_bundle if tls else None


@pytest.fixture
def plain() -> Iterator[tuple[RunningServer, Meter, FaultInjector]]:
    running, meter, faults, _ = _start()
    yield running, meter, faults
    running.stop()


def test_routes_match_params_and_unknown_paths_get_the_crm_error_shape(plain):
    running, meter, _ = plain
    with httpx.Client(base_url=running.url) as client:
        ok = client.get("/things/42", params={"q": "x"})
        missing = client.get("/nothing")
        wrong_method = client.delete("/things/42")
    assert ok.json() == {"id": "42", "q": "x"}
    assert ok.headers["X-Finished"] == "yes"
    assert missing.status_code == 404
    assert missing.json()["error"] == "NOT_FOUND"
    assert wrong_method.status_code == 405
    assert meter.calls("GET thing") == 1


def test_https_with_the_generated_ca_bundle(tmp_path: Path):
    running, _, _, bundle = _start(tmp_path)
    try:
        assert running.url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(bundle))
        with httpx.Client(base_url=running.url, verify=trusted) as client:
            assert client.get("/things/1").status_code == 200
        with pytest.raises(httpx.ConnectError), httpx.Client(base_url=running.url) as client:
            client.get("/things/1")  # the system trust store does not know the sandbox CA
    finally:
        running.stop()


def test_faults_set_through_the_admin_endpoint_apply_and_admin_calls_are_never_faulted(plain):
    running, meter, _ = plain
    with httpx.Client(base_url=running.url) as client:
        config = client.put("/__sandbox/faults", json={"error_rate": 1.0, "error_status": 502})
        assert config.status_code == 200
        assert client.get("/things/1").status_code == 502
        assert client.get("/__sandbox/meter").json()["by_status"] == {"502": 1}
        assert client.put("/__sandbox/faults", json={"error_rate": 2}).status_code == 422
        client.post("/__sandbox/reset")
        assert client.get("/things/1").status_code == 200
    assert meter.calls() == 1


def test_a_dropped_response_is_cut_short(plain):
    running, _, faults = plain
    faults.configure(FaultConfig(drop_rate=1.0))
    with (
        httpx.Client(base_url=running.url) as client,
        pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)),
    ):
        client.get("/things/1")


def test_the_clock_moves_through_the_admin_endpoint(plain):
    running, _, _ = plain
    with httpx.Client(base_url=running.url) as client:
        moved = client.post("/__sandbox/clock", json={"now": "2030-01-01T00:00:00Z"})
    assert moved.json()["now"].startswith("2030-01-01T00:00")
