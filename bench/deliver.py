"""Benchmark: CRM API calls per delivered task, against the fewest the CRMs allow.

Run from the project root::

    .venv/bin/python -m bench.deliver                        # 1,000 and 10,000 tasks
    .venv/bin/python -m bench.deliver --tasks 1000 --backend postgresql

For each CRM and task count, the tasks are queued in a fresh, migrated store's outbox
and the CRM-write worker (:mod:`service.outbox.crm_writes`) delivers them through the
real connector to the sandbox CRM over HTTP(S), until the outbox is empty. The baseline
is the fewest create calls the CRM's batch limit allows: ceil(n / 200) Salesforce sObject
Collections, ceil(n / 100) HubSpot batch creates. Printed: the calls the run made (login
and token calls excluded: they are not task writes), their ratio to that minimum (goal
1.00-1.05x), the wall time and tasks per second. Every task is checked to exist exactly
once in the CRM afterwards, by its marker.

It asserts nothing; it prints figures.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from pydantic import SecretStr

from bench._common import (
    DEFAULT_POSTGRES_URL,
    ceil_div,
    migrated_store,
    progress,
    ratio,
    scratch_database,
)
from connectors.base import Connector
from connectors.hubspot import HubSpotConnector
from connectors.records import task_marker
from connectors.salesforce import ClientCredentialsAuth, SalesforceConfig, SalesforceConnector
from sandbox.meter import Meter
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox, SandboxOptions
from service.bootstrap import hubspot_config
from service.outbox.crm_writes import CrmWriteWorker
from service.settings import HubSpotSettings
from service.store import Store
from service.store.connections import add_connection
from service.store.tables import CrmKind, CrmWrite

SMALL_ORG = OrgSpec(seed=7, managers=1, reps=4, months=3, deal_scale=0.5)
BATCH = {"salesforce": 200, "hubspot": 100}


@dataclass(frozen=True)
class Result:
    crm: str
    tasks: int
    calls: int
    minimum: int
    seconds: float
    duplicates: int
    missing: int


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    counts = [int(n) for n in args.tasks.split(",")]
    results = []
    for crm in ("salesforce", "hubspot"):
        for count in counts:
            results.append(_one(crm, count, args))
    print(f"\n=== {args.backend}: CRM calls per delivery run vs the batch-limit minimum")
    print(f"{'crm':<12}{'tasks':>8}{'calls':>8}{'minimum':>9}{'ratio':>8}{'seconds':>9}"
          f"{'tasks/s':>9}{'dup.':>6}{'miss.':>7}")  # fmt: skip
    for r in results:
        print(
            f"{r.crm:<12}{r.tasks:>8}{r.calls:>8}{r.minimum:>9}{ratio(r.calls, r.minimum):>8}"
            f"{r.seconds:>9.1f}{r.tasks / r.seconds:>9.0f}{r.duplicates:>6}{r.missing:>7}"
        )
    return 0


def _one(crm: str, count: int, args: argparse.Namespace) -> Result:
    progress(f"{crm}: {count} tasks")
    sandbox = Sandbox(SandboxOptions(org=SMALL_ORG, placement=crm))  # type: ignore[arg-type]
    sandbox.start()
    try:
        connect, owners = _crm(crm, sandbox)
        with scratch_database(args.backend, args.postgres_url, "deliver") as url:
            store = migrated_store(url)
            try:
                connection_id = _queue(store, crm, owners, count)
                meter = sandbox.salesforce_meter if crm == "salesforce" else sandbox.hubspot_meter
                before = _calls(meter)
                connector = connect()
                started = time.perf_counter()
                try:
                    CrmWriteWorker(store, connection_id, connector).run()
                finally:
                    connector.close()
                seconds = time.perf_counter() - started
                calls = _calls(meter) - before
            finally:
                store.dispose()
        found = _markers(sandbox, crm)
        keys = [f"bench-{n:06d}" for n in range(count)]
        duplicates = sum(1 for key in keys if found.get(key, 0) > 1)
        missing = sum(1 for key in keys if found.get(key, 0) == 0)
    finally:
        sandbox.stop()
    return Result(crm, count, calls, ceil_div(count, BATCH[crm]), seconds, duplicates, missing)


def _crm(crm: str, sandbox: Sandbox) -> tuple[Callable[[], Connector], list[str]]:
    info = sandbox.info
    if info is None:
        raise RuntimeError("the sandbox is not running")
    if crm == "salesforce":
        rows = sandbox.salesforce_state.records.rows("User", include_deleted=False)

        def salesforce() -> Connector:
            auth = ClientCredentialsAuth(
                client_id=info.salesforce.client_id,
                client_secret=SecretStr(info.salesforce.client_secret),
            )
            config = SalesforceConfig(
                auth=auth, login_url=info.salesforce_url, ca_bundle=info.ca_bundle
            )
            return SalesforceConnector(config)

        return salesforce, [r["Id"] for r in rows if r["IsActive"]]
    owners = sorted(o.id for o in sandbox.hubspot_state.owners.values() if not o.archived)

    def hubspot() -> Connector:
        secrets = HubSpotSettings(access_token=SecretStr(info.hubspot.access_token))
        return HubSpotConnector(hubspot_config({"base_url": info.hubspot_url}, secrets))

    return hubspot, owners


def _queue(store: Store, crm: str, owners: list[str], count: int) -> int:
    with store.unit_of_work() as session:
        connection_id = add_connection(session, crm, CrmKind(crm), {}).id
        for n in range(count):
            key, owner = f"bench-{n:06d}", owners[n % len(owners)]
            session.add(
                CrmWrite(
                    connection_id=connection_id, idempotency_key=key, rule_key="calls",
                    rep_crm_id=owner, assignee_crm_id=owner, budget_owner_crm_id=owner,
                    payload={
                        "key": key, "assignee_crm_id": owner, "subject": f"Coach ({n})",
                        "body": "Calls fell 40% below the rep's own level.",
                        "due_date": date(2026, 12, 1).isoformat(), "priority": "medium",
                        "rep_crm_id": owner, "opportunity_crm_id": None,
                    },
                )
            )  # fmt: skip
    return connection_id


def _calls(meter: Meter) -> int:
    """API calls so far, login and token requests excluded."""
    snapshot = meter.snapshot()
    by_endpoint: dict[str, int] = snapshot["by_endpoint"]
    return sum(n for endpoint, n in by_endpoint.items() if "oauth" not in endpoint)


def _markers(sandbox: Sandbox, crm: str) -> dict[str, int]:
    """How many tasks in the CRM carry each bench task's marker."""
    if crm == "salesforce":
        bodies = [
            str(row.get("Description") or "")
            for row in sandbox.salesforce_state.records.rows("Task", include_deleted=True)
        ]
    else:
        tasks = sandbox.hubspot_state.objects["tasks"].values()
        bodies = [str(task.props.get("hs_task_body") or "") for task in tasks]
    found: dict[str, int] = {}
    prefix = task_marker("bench-")[:-1]
    for body in bodies:
        start = body.find(prefix)
        if start >= 0:
            key = body[start + 1 : body.index("]", start)].split(":", 1)[1]
            found[key] = found.get(key, 0) + 1
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.deliver", description=__doc__)
    parser.add_argument("--tasks", default="1000,10000", help="task counts, comma-separated")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    return parser


if __name__ == "__main__":
    sys.exit(main())
