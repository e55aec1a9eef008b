"""``/v1/connections`` through the real app: no secret ever shown, and a sync started over
HTTP against the sandbox's Salesforce: it runs once, and a second start while it runs is
refused by the store (409)."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from sandbox.org import OrgSpec
from sandbox.runner import SandboxInfo
from service.api.app import create_app
from service.settings import SalesforceSettings, Settings
from service.store import Store
from service.store.connections import add_connection
from service.store.tables import (
    AuditEntry,
    Connection,
    CrmKind,
    Rep,
    SyncState,
    SyncStatus,
    utcnow,
)
from tests.e2e.api_support import Api, api
from tests.integration.salesforce_sandbox import running_salesforce

__all__ = ["api"]
# The org ends today so a first sync's history window holds it whatever the run date.
ORG = OrgSpec(seed=5, managers=1, reps=2, months=3, deal_scale=0.3, as_of=date.today())  # noqa: DTZ011
SECRETS = ("hunter2-secret", "pat-na1-0000", "s3ssion", "pw-in-url")
STREAMS = ["events", "opportunities", "opportunity_history", "quotas", "tasks", "users"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxInfo]:
    with running_salesforce(ORG) as running:
        assert running.info is not None
        yield running.info


@pytest.fixture
def synced(store: Store, settings: Settings, sandbox: SandboxInfo) -> Iterator[Api]:
    """The app with settings holding the sandbox's client secret (as the environment
    would), and a key maker."""
    secrets = SalesforceSettings(client_secret=SecretStr(sandbox.salesforce.client_secret))
    app = create_app(store, settings.model_copy(update={"salesforce": secrets}))
    with TestClient(app) as client:
        yield Api(store, client)


def _salesforce(api: Api, info: SandboxInfo, name: str = "sandbox", **options: Any) -> int:
    config = {
        "login_url": info.salesforce_url,
        "client_id": info.salesforce.client_id,
        "ca_bundle": str(info.ca_bundle),
        **options,
    }
    with api.store.unit_of_work() as db:
        return add_connection(db, name, CrmKind.SALESFORCE, config).id


def _count(api: Api, model: Any, *where: Any) -> int:
    with api.store.unit_of_work() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_connections_are_listed_and_shown_without_any_secret(api: Api):
    with api.store.unit_of_work() as db:
        add_connection(
            db,
            "acme",
            CrmKind.SALESFORCE,
            {
                "auth_method": "password",
                "client_id": "3MVG9-public",
                "username": "ops@acme.test",
                "client_secret": SECRETS[0],
                "password": SECRETS[0],
                "login_url": f"https://ops:{SECRETS[3]}@acme.my.salesforce.com",
                "nested": {"access_token": SECRETS[1], "history_days": 400},
            },
        )
        add_connection(
            db, "acme-hs", CrmKind.HUBSPOT, {"refresh_token": SECRETS[1], "session_id": SECRETS[2]}
        )
    admin = api.auth("admin")
    listed = api.client.get("/v1/connections?limit=1", headers=admin)
    rest = api.client.get(f"/v1/connections?cursor={listed.json()['next_cursor']}", headers=admin)
    shown = api.client.get(f"/v1/connections/{listed.json()['data'][0]['id']}", headers=admin)

    for answer in (listed, rest, shown):
        assert answer.status_code == 200
        assert not [secret for secret in SECRETS if secret in answer.text]
    acme = shown.json()
    assert (acme["name"], acme["crm"], acme["enabled"]) == ("acme", "salesforce", True)
    assert acme["options"] == {
        "auth_method": "password",
        "client_id": "3MVG9-public",
        "username": "ops@acme.test",
        "login_url": "https://***@acme.my.salesforce.com",
        "nested": {"history_days": 400},
    }
    assert (acme["streams"], acme["last_run"], acme["running"]) == ([], None, False)
    assert [c["name"] for c in rest.json()["data"]] == ["acme-hs"]
    assert api.client.get("/v1/connections", headers=api.auth("rules:write")).status_code == 403
    assert api.client.get("/v1/connections/999", headers=admin).status_code == 404
    started = api.client.post("/v1/connections/1:sync", headers=admin)
    assert started.status_code == 503  # this app was built without settings


def test_a_sync_started_over_http_runs_once_and_its_status_can_be_polled(
    synced: Api, sandbox: SandboxInfo
):
    cid = _salesforce(synced, sandbox)
    with synced.store.unit_of_work() as db:  # a sync killed two hours ago left this
        db.add(
            SyncState(
                connection_id=cid,
                stream="users",
                status=SyncStatus.RUNNING,
                updated_at=utcnow() - timedelta(hours=2),
            )
        )
    admin = synced.auth("admin", name="ops-admin")

    started = synced.client.post(f"/v1/connections/{cid}:sync", headers=admin)

    assert started.status_code == 202, started.text
    assert started.headers["location"] == f"/v1/connections/{cid}"
    status = synced.client.get(started.headers["location"], headers=admin).json()
    assert status["running"] is False
    run = status["last_run"]
    assert (run["id"], run["requested_by"], run["status"]) == (
        started.json()["run_id"],
        "ops-admin",
        "succeeded",
    )
    assert min(run["api_calls"], run["daily_used"], run["daily_limit"]) > 0
    streams = {s["stream"]: s for s in status["streams"]}
    assert sorted(streams) == STREAMS
    assert {s["status"] for s in streams.values()} == {"succeeded"}
    assert streams["users"]["records_read"] == _count(synced, Rep, Rep.connection_id == cid) > 0
    assert streams["opportunities"]["cursor_time"] is not None
    assert status["quarantined"] == {}
    requested = AuditEntry.action == "connection.sync_requested"
    assert _count(synced, AuditEntry, requested) == 1


def test_a_second_start_while_a_sync_runs_is_refused_and_the_first_runs_once(
    synced: Api, sandbox: SandboxInfo
):
    with _gate(f"{sandbox.salesforce_url}/services/oauth2/token", sandbox) as gate:
        cid = _salesforce(synced, sandbox, token_url=gate.url)
        admin = synced.auth("admin")
        first: list[Any] = []
        starting = threading.Thread(
            target=lambda: first.append(
                synced.client.post(f"/v1/connections/{cid}:sync", headers=admin)
            )
        )
        starting.start()
        assert gate.reached.wait(30), "the sync never asked for a token"

        second = synced.client.post(f"/v1/connections/{cid}:sync", headers=admin)
        polled = synced.client.get(f"/v1/connections/{cid}", headers=admin).json()
        gate.release.set()
        starting.join(60)

    assert second.status_code == 409
    assert "running" in second.json()["detail"]
    assert polled["running"] is True
    assert polled["last_run"]["status"] == "running"
    assert first[0].status_code == 202
    done = synced.client.get(f"/v1/connections/{cid}", headers=admin).json()
    assert (done["running"], done["last_run"]["status"]) == (False, "succeeded")
    assert _count(synced, AuditEntry, AuditEntry.action == "connection.sync_requested") == 1
    assert _count(synced, Rep, Rep.connection_id == cid) > 0


def test_a_sync_running_elsewhere_or_a_disabled_connection_is_not_started(
    synced: Api, sandbox: SandboxInfo
):
    cid = _salesforce(synced, sandbox)
    off = _salesforce(synced, sandbox, name="off")
    with synced.store.unit_of_work() as db:  # ``driftcoach sync`` is reading users now
        db.add(SyncState(connection_id=cid, stream="users", status=SyncStatus.RUNNING))
        db.get_one(Connection, off).enabled = False
    admin = synced.auth("admin")
    assert synced.client.post(f"/v1/connections/{cid}:sync", headers=admin).status_code == 409
    assert synced.client.post(f"/v1/connections/{off}:sync", headers=admin).status_code == 409
    assert synced.client.post("/v1/connections/999:sync", headers=admin).status_code == 404
    assert _count(synced, AuditEntry, AuditEntry.action == "connection.sync_requested") == 0


class _Gate:
    """A token endpoint that holds requests until released, then passes them on to the
    sandbox's: the sync it serves is under way, and stays so until the test says."""

    def __init__(self, target: str, info: SandboxInfo) -> None:
        self.reached, self.release = threading.Event(), threading.Event()
        gate, trusted = self, ssl.create_default_context(cafile=str(info.ca_bundle))

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                gate.reached.set()
                gate.release.wait(60)
                answer = httpx.post(
                    target,
                    content=body,
                    verify=trusted,
                    headers={"content-type": self.headers["content-type"]},
                )
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers["content-type"])
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"


@contextmanager
def _gate(target: str, info: SandboxInfo) -> Iterator[_Gate]:
    gate = _Gate(target, info)
    thread = threading.Thread(target=gate.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gate
    finally:
        gate.release.set()
        gate.server.shutdown()
        gate.server.server_close()
