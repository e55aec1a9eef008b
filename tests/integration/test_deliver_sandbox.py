"""The CRM-write worker against both sandbox CRMs over HTTPS, with the real connectors,
on both store backends: every queued task delivered once, a killed run's tasks neither
lost nor duplicated, injected faults changing nothing in the outcome."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from connectors.base import Connector
from connectors.records import task_marker
from connectors.salesforce import RetryPolicy, SalesforceConfig, SalesforceConnector
from sandbox.faults import FaultConfig
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox
from service.outbox.crm_writes import CrmWriteWorker, DeliveryPolicy
from service.store import Store
from service.store.connections import add_connection
from service.store.tables import CrmKind, CrmWrite, OutboxState
from tests.integration.hubspot_sandbox import connector as hubspot_connector
from tests.integration.hubspot_sandbox import reset as reset_hubspot
from tests.integration.hubspot_sandbox import running_hubspot, sandbox_portal
from tests.integration.salesforce_sandbox import reset as reset_salesforce
from tests.integration.salesforce_sandbox import running_salesforce
from tests.integration.test_salesforce_connector import _auth

ORG = OrgSpec(seed=11, managers=1, reps=3, months=3, deal_scale=0.5)
FAST = RetryPolicy(attempts=6, base_delay_seconds=0.01, max_delay_seconds=0.05)
NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)


@dataclass
class Crm:
    """One sandbox CRM as the tests need it: a connector, who may own tasks, and the
    tasks it holds, by marker."""

    name: str
    connect: Callable[[], Connector]
    owners: list[str]
    deals: list[str]
    tasks_by_marker: Callable[[str], int]
    faults: Any
    meter: Any


@pytest.fixture(scope="module")
def salesforce() -> Iterator[Sandbox]:
    with running_salesforce(ORG) as running:
        yield running


@pytest.fixture(scope="module")
def hubspot() -> Iterator[Sandbox]:
    with running_hubspot(ORG) as running:
        yield running


@pytest.fixture(params=["salesforce", "hubspot"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    if request.param == "salesforce":
        sandbox: Sandbox = request.getfixturevalue("salesforce")
        yield _salesforce(sandbox)
        assert sandbox.info is not None
        reset_salesforce(sandbox.info)
    else:
        sandbox = request.getfixturevalue("hubspot")
        yield _hubspot(sandbox)
        assert sandbox.info is not None
        reset_hubspot(sandbox.info.hubspot_url)


def _salesforce(sandbox: Sandbox) -> Crm:
    info = sandbox.info
    assert info is not None
    sandbox.clock.set(datetime.combine(ORG.as_of + timedelta(days=3), time(12), UTC))
    rows = sandbox.salesforce_state.records

    def connect() -> Connector:
        config = SalesforceConfig(
            auth=_auth(info, "client_credentials"),
            login_url=info.salesforce_url,
            instance_url=info.salesforce_url,
            ca_bundle=info.ca_bundle,
            retry=FAST,
        )
        return SalesforceConnector(config, clock=sandbox.clock.now, sleep=lambda _: None)

    def marked(key: str) -> int:
        marker = task_marker(key)
        return sum(
            marker in (row.get("Description") or "")
            for row in rows.rows("Task", include_deleted=True)
        )

    users = rows.rows("User", include_deleted=False)
    owners = [r["Id"] for r in users if r["ManagerId"] and r["IsActive"]]
    deals = [r["Id"] for r in rows.rows("Opportunity", include_deleted=False)]
    return Crm(
        "salesforce", connect, owners, deals, marked, sandbox.salesforce_faults,
        sandbox.salesforce_meter,
    )  # fmt: skip


def _hubspot(sandbox: Sandbox) -> Crm:
    portal = sandbox_portal(sandbox)

    def marked(key: str) -> int:
        marker = task_marker(key)
        return sum(
            marker in str(task.props.get("hs_task_body") or "")
            for task in portal.state.objects["tasks"].values()
        )

    owners = sorted(o.id for o in portal.state.owners.values() if not o.archived)
    live = [d for d in portal.state.objects["deals"].values() if d.archived_ms is None]
    deals = sorted(str(d.id) for d in live)
    return Crm(
        "hubspot", lambda: hubspot_connector(portal), owners, deals, marked, portal.faults,
        portal.meter,
    )  # fmt: skip


def _queue(store: Store, crm: Crm, count: int, prefix: str) -> int:
    with store.unit_of_work() as session:
        kind = CrmKind.SALESFORCE if crm.name == "salesforce" else CrmKind.HUBSPOT
        connection_id = add_connection(session, crm.name, kind, {}).id
        for n in range(count):
            key = f"{prefix}-{n:05d}"
            owner = crm.owners[n % len(crm.owners)]
            session.add(
                CrmWrite(
                    connection_id=connection_id,
                    idempotency_key=key,
                    rule_key="calls",
                    rep_crm_id=owner,
                    assignee_crm_id=owner,
                    budget_owner_crm_id=owner,
                    payload={
                        "key": key,
                        "assignee_crm_id": owner,
                        "subject": f"Coach on call volume ({n})",
                        "body": "Calls fell 40% below the rep's own level.",
                        "due_date": date(2026, 12, 1).isoformat(),
                        "priority": ["low", "medium", "high"][n % 3],
                        "rep_crm_id": owner,
                        "opportunity_crm_id": crm.deals[n % len(crm.deals)] if n % 2 else None,
                    },
                    created_at=NOW,
                    available_at=NOW,
                )
            )
    return connection_id


def _worker(
    store: Store, connection_id: int, connector: Connector, clock: list[datetime], batch: int = 200
) -> CrmWriteWorker:
    return CrmWriteWorker(
        store,
        connection_id,
        connector,
        policy=DeliveryPolicy(batch_size=batch, first_delay=timedelta(seconds=1)),
        clock=lambda: clock[0],
        rng=random.Random(3),  # noqa: S311 - retry jitter
    )


def _done(store: Store) -> list[CrmWrite]:
    with store.unit_of_work() as session:
        return list(session.scalars(select(CrmWrite).order_by(CrmWrite.id)))


def test_every_queued_task_is_delivered_once(store: Store, crm: Crm):
    connection_id = _queue(store, crm, 250, "all")
    connector = crm.connect()
    counts = _worker(store, connection_id, connector, [NOW]).run()
    connector.close()

    assert counts.created == 250
    rows = _done(store)
    assert {row.state for row in rows} == {OutboxState.DONE}
    assert len({row.crm_record_id for row in rows}) == 250
    assert all(crm.tasks_by_marker(row.idempotency_key) == 1 for row in rows)


def test_a_run_killed_mid_delivery_then_run_again_makes_each_task_exactly_once(
    store: Store, crm: Crm
):
    connection_id = _queue(store, crm, 250, "kill")
    clock = [NOW]
    dying = _worker(store, connection_id, crm.connect(), clock)
    claimed = dying.claim()
    dying.connector.write_tasks([c.intent for c in claimed[:120]])  # sent; then SIGKILL

    clock[0] += timedelta(minutes=11)  # the dead run's leases expire
    connector = crm.connect()
    counts = _worker(store, connection_id, connector, clock).run()
    connector.close()

    assert (counts.adopted, counts.created) == (120, 130)
    assert all(crm.tasks_by_marker(row.idempotency_key) == 1 for row in _done(store))
    assert {row.state for row in _done(store)} == {OutboxState.DONE}


def test_server_errors_and_dropped_answers_change_nothing_in_the_outcome(store: Store, crm: Crm):
    connection_id = _queue(store, crm, 60, "faults")
    clock = [NOW]
    crm.faults.configure(FaultConfig(error_rate=0.3, drop_rate=0.2, seed=5))
    for _ in range(20):  # cron runs, each after the retries it scheduled fall due
        connector = crm.connect()
        _worker(store, connection_id, connector, clock, batch=5).run()
        connector.close()
        if all(row.state is OutboxState.DONE for row in _done(store)):
            break
        clock[0] += timedelta(hours=13)
    crm.faults.configure(FaultConfig())

    statuses = crm.meter.snapshot()["by_status"]
    assert sum(count for status, count in statuses.items() if int(status) >= 500) > 0
    rows = _done(store)
    assert {row.state for row in rows} == {OutboxState.DONE}
    assert all(crm.tasks_by_marker(row.idempotency_key) == 1 for row in rows)
