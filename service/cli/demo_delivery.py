"""The demo's delivery step: the queued tasks written into each sandbox CRM by the outbox
worker, then read back from the CRM through its own API (SOQL on Task in Salesforce, a
batch read of tasks in HubSpot), as a manager's CRM would show them; and the events
POSTed to a webhook receiver on this machine that verifies every signature."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from connectors.base import Connector
from connectors.hubspot import HubSpotConnector, api
from connectors.salesforce import SalesforceConnector
from connectors.salesforce.streams import soql_string
from service.outbox.crm_followups import FollowUpWorker
from service.outbox.crm_writes import CrmWriteWorker
from service.outbox.ssrf import UrlPolicy
from service.outbox.webhook_delivery import WebhookWorker, webhook_client
from service.outbox.webhook_endpoints import SecretBox, add_endpoint, new_key
from service.store import Store
from service.store.tables import CrmWrite, Opportunity, OutboxState, Rep
from service.store.tables.base import utcnow

#: Tasks read back per connection.
SHOWN = 3


def deliver_demo(
    store: Store, connections: Sequence[tuple[str, int, Callable[[], Connector]]]
) -> str:
    """Deliver each ``(name, connection id, connector factory)``'s outbox, then read a
    few of the delivered tasks back from the CRM."""
    sections = []
    for name, connection_id, connect in connections:
        connector = connect()
        try:
            counts = CrmWriteWorker(store, connection_id, connector).run()
            followups = FollowUpWorker(store, connection_id, connector).run()
            lines = [f"delivery, {name}: tasks {counts}"]
            if followups.claimed:
                lines.append(f"  then {followups} (high severity alerts the manager)")
            delivered = _delivered(store, connection_id)
            for task in _read_back(connector, [crm_id for crm_id, _ in delivered]):
                lines.append("  " + _describe(store, connection_id, task))
            lines.append(f"  ({len(delivered)} delivered in all; {SHOWN} read back from the CRM)")
        finally:
            connector.close()
        sections.append("\n".join(lines))
    return "\n\n".join(sections)


def _delivered(store: Store, connection_id: int) -> list[tuple[str, str]]:
    with store.unit_of_work() as session:
        rows = session.execute(
            select(CrmWrite.crm_record_id, CrmWrite.task_kind)
            .where(
                CrmWrite.connection_id == connection_id,
                CrmWrite.state == OutboxState.DONE,
                CrmWrite.crm_record_id.is_not(None),
            )
            .order_by(CrmWrite.task_kind, CrmWrite.id)
        ).all()
    coaching = [(str(r[0]), r[1]) for r in rows if r[1] == "coaching"]
    hygiene = [(str(r[0]), r[1]) for r in rows if r[1] != "coaching"]
    return coaching + hygiene


def _read_back(connector: Connector, crm_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The first tasks as the CRM holds them: owner, subject, related deal."""
    wanted = list(crm_ids[:SHOWN])
    if not wanted:
        return []
    if isinstance(connector, SalesforceConnector):
        ids = ", ".join(soql_string(crm_id) for crm_id in wanted)  # quoted and escaped
        soql = f"SELECT Id, OwnerId, Subject, WhatId, Priority FROM Task WHERE Id IN ({ids})"  # noqa: S608
        pages = connector.client.query_pages(soql, include_deleted=False, budgeted=False)
        rows = [row for page in pages for row in page]
        return [
            {"owner": r["OwnerId"], "subject": r["Subject"], "deal": r.get("WhatId"),
             "priority": r.get("Priority")}
            for r in rows
        ]  # fmt: skip
    if isinstance(connector, HubSpotConnector):
        answer = api.batch_read(
            connector.client, "tasks", wanted,
            properties=["hubspot_owner_id", "hs_task_subject", "hs_task_priority"],
        )  # fmt: skip
        found = []
        for result in answer.get("results", []):
            properties = result.get("properties", {})
            found.append({
                "owner": properties.get("hubspot_owner_id"),
                "subject": properties.get("hs_task_subject"),
                "deal": None,
                "priority": properties.get("hs_task_priority"),
            })  # fmt: skip
        return found
    return []


def _describe(store: Store, connection_id: int, task: dict[str, Any]) -> str:
    with store.unit_of_work() as session:
        owner = session.scalar(
            select(Rep.name).where(Rep.connection_id == connection_id, Rep.crm_id == task["owner"])
        )
        deal = None
        if task["deal"]:
            deal = session.scalar(
                select(Opportunity.name).where(
                    Opportunity.connection_id == connection_id,
                    Opportunity.crm_id == task["deal"],
                )
            )
    where = f" (deal: {deal})" if deal else ""
    return f"for {owner or task['owner']}: {task['subject']}{where} [{task['priority']}]"


# ------------------------------------------------------------------ webhooks

#: The demo's receiver is on this machine, over plain http: allowed for the demo only.
DEMO_POLICY = UrlPolicy(allow_http=True, allow_private=True)


@dataclass
class Receiver:
    """A webhook consumer on loopback that verifies each delivery's signature."""

    url: str
    secret: str = ""
    verified: Counter[str] = field(default_factory=Counter)
    rejected: int = 0

    def receive(self, body: bytes, headers: dict[str, str]) -> int:
        try:
            message = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.rejected += 1
            return 400
        self.verified[str(message["type"])] += 1
        return 204


class _Server(HTTPServer):
    receiver: Receiver


@contextmanager
def webhook_receiver(store: Store) -> Iterator[tuple[Receiver, SecretBox]]:
    """A receiver on 127.0.0.1 and an endpoint for it (with a throwaway key), made
    before the evaluation so its events reach it."""
    server = _Server(("127.0.0.1", 0), _Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_address[1]}/driftcoach")
    server.receiver = receiver
    box = SecretBox(SecretStr(new_key()))
    with store.unit_of_work() as session:
        made = add_endpoint(
            session, receiver.url, box, description="demo receiver", policy=DEMO_POLICY,
            now=utcnow(),
        )  # fmt: skip
        receiver.secret = made.secret
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver, box
    finally:
        server.shutdown()
        server.server_close()


def deliver_webhooks_demo(store: Store, receiver: Receiver, box: SecretBox) -> str:
    with webhook_client(DEMO_POLICY) as client:
        counts = WebhookWorker(store, box, client).run()
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(receiver.verified.items()))
    return (
        f"webhooks: {counts}\n  the receiver at {receiver.url} verified "
        f"{sum(receiver.verified.values())} signatures ({kinds or 'nothing'}) and rejected "
        f"{receiver.rejected}"
    )


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(self.server.receiver.receive(body, dict(self.headers.items())))
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass
