"""``driftcoach demo``: the whole cycle on a throwaway SQLite store, for a first look.

The cycle so far: start the CRM sandbox with a seeded org split across Salesforce and
HubSpot and summarise it; create and migrate a fresh store; add both halves of the org as
connections and sync them one after the other (each prints records per stream); report
then apply the default rule pack and evaluate both connections: the team scorecard (reps x
indicators, drifting cells marked), the findings opened with their evidence, the coaching
tasks and webhook events queued in the outboxes, and how the findings compare with the
seeded org's ground truth; replay the pack over the last 13 weeks of each connection (the
backtest: scores against quota and the ground truth, and an HTML report next to the
store); before that, deliver the queued tasks into both sandbox CRMs through the outbox
worker and read a few back from each CRM's API; finally report what the store holds.

The HubSpot sync takes the longest: it paces itself under HubSpot's limits (five searches
a second, 100 calls per ten seconds), as it must with a real portal.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import func, inspect, select

from connectors.base import Connector
from connectors.hubspot import HubSpotConnector
from connectors.salesforce import ClientCredentialsAuth, SalesforceConfig, SalesforceConnector
from sandbox.org import OrgSpec
from sandbox.runner import Sandbox, SandboxInfo, SandboxOptions
from service.bootstrap import hubspot_config
from service.cli.demo_delivery import deliver_demo, deliver_webhooks_demo, webhook_receiver
from service.cli.demo_rules import backtest_demo, evaluate_demo
from service.cli.reports import format_report
from service.cli.sandbox_run import org_summary
from service.settings import HubSpotSettings, Settings
from service.store import Base, Store, make_engine, migrate
from service.store.connections import add_connection, find_connection
from service.store.tables import CrmKind
from service.sync.pipeline import sync_connection


def run(settings: Settings, path: Path, *, as_of: date | None = None) -> str:
    """Run the demo cycle with a fresh store at ``path`` (replacing any old one)."""
    spec = OrgSpec(as_of=as_of or date.today())  # noqa: DTZ011 - the org ends "today" locally
    store, demo_settings = _fresh_store(settings, path)
    try:
        with Sandbox(SandboxOptions(org=spec, placement="split")) as info:
            sections = [
                f"sandbox: Salesforce at {info.salesforce_url}, HubSpot at {info.hubspot_url}"
                f" (started in {info.startup_seconds:.1f}s)\n{org_summary(info)}",
                _sync_salesforce(store, info),
                _sync_hubspot(store, info),
            ]
            connections = [(name, _connection_id(store, name)) for name in CONNECTIONS]
            with webhook_receiver(store) as (receiver, box):
                sections.append(evaluate_demo(store, connections, info))
                factories: tuple[Callable[[], Connector], ...] = (
                    lambda: _salesforce_connector(info),
                    lambda: _hubspot_connector(info),
                )
                delivered = [(n, i, f) for (n, i), f in zip(connections, factories, strict=True)]
                sections.append(deliver_demo(store, delivered))
                sections.append(deliver_webhooks_demo(store, receiver, box))
        sections.append(backtest_demo(store, connections, info, path.resolve().parent))
        sections.append(_describe(store, demo_settings))
    finally:
        store.dispose()
    return "\n\n".join(sections)


CONNECTIONS = ("sandbox-salesforce", "sandbox-hubspot")


def _connection_id(store: Store, name: str) -> int:
    with store.unit_of_work() as session:
        connection = find_connection(session, name)
        if connection is None:  # pragma: no cover - added by the sync steps above
            raise RuntimeError(f"connection {name} missing")
        return connection.id


def _fresh_store(settings: Settings, path: Path) -> tuple[Store, Settings]:
    path = path.resolve()
    for suffix in ("", "-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    demo_settings = settings.model_copy(update={"database_url": f"sqlite:///{path}"})
    migrate.upgrade(demo_settings)
    return Store(make_engine(demo_settings)), demo_settings


def _sync_salesforce(store: Store, info: SandboxInfo) -> str:
    """Connect to the sandbox's Salesforce as an operator would, then sync it."""
    options = {
        "auth_method": "client_credentials",
        "login_url": info.salesforce_url,
        "client_id": info.salesforce.client_id,
        "ca_bundle": str(info.ca_bundle),
    }
    with store.unit_of_work() as session:
        connection_id = add_connection(
            session, "sandbox-salesforce", CrmKind.SALESFORCE, options
        ).id
    connector = _salesforce_connector(info)
    try:
        report = sync_connection(store, connection_id, connector)
    finally:
        connector.close()
    return format_report("sandbox-salesforce", report)


def _sync_hubspot(store: Store, info: SandboxInfo) -> str:
    """Connect to the sandbox's HubSpot as an operator would, then sync it.

    HubSpot has no manager field: the operator says who manages each team (its members
    report to them) and whom each manager reports to, as ``connections add hubspot
    --team-manager TEAM=EMAIL --owner-manager EMAIL=EMAIL`` would record it.
    """
    options = {"base_url": info.hubspot_url, **_hubspot_managers(info)}
    with store.unit_of_work() as session:
        connection_id = add_connection(session, "sandbox-hubspot", CrmKind.HUBSPOT, options).id
    connector = _hubspot_connector(info)
    try:
        report = sync_connection(store, connection_id, connector)
    finally:
        connector.close()
    return format_report("sandbox-hubspot", report)


def _salesforce_connector(info: SandboxInfo) -> SalesforceConnector:
    config = SalesforceConfig(
        auth=ClientCredentialsAuth(
            client_id=info.salesforce.client_id,
            client_secret=SecretStr(info.salesforce.client_secret),
        ),
        login_url=info.salesforce_url,
        ca_bundle=info.ca_bundle,
    )
    return SalesforceConnector(config)


def _hubspot_connector(info: SandboxInfo) -> HubSpotConnector:
    options = {"base_url": info.hubspot_url, **_hubspot_managers(info)}
    secrets = HubSpotSettings(access_token=SecretStr(info.hubspot.access_token))
    return HubSpotConnector(hubspot_config(options, secrets))


def _hubspot_managers(info: SandboxInfo) -> dict[str, dict[str, str]]:
    """The seeded org's reporting lines for the teams placed in HubSpot, by email."""
    users = {user.id: user for user in info.org.users}
    teams: dict[str, str] = {}
    owners: dict[str, str] = {}
    for team in info.org.teams:
        manager = users.get(team.manager_id)
        if manager is None or team.manager_id not in info.hubspot_ids:
            continue
        teams[team.name] = manager.email
        boss = users.get(manager.manager_id or "")
        if boss is not None and boss.id in info.hubspot_ids:
            owners[manager.email] = boss.email
    return {"team_managers": teams, "owner_managers": owners}


def _describe(store: Store, settings: Settings) -> str:
    present = set(inspect(store.engine).get_table_names())
    lines = [f"demo store: {settings.sqlalchemy_url.database}", "", f"{'table':<22} rows"]
    with store.unit_of_work() as session:
        for table in Base.metadata.sorted_tables:
            if table.name not in present:
                lines.append(f"{table.name:<22} MISSING")
                continue
            count = session.scalar(select(func.count()).select_from(table))
            lines.append(f"{table.name:<22} {count}")
    revision = migrate.current_revisions(settings)
    lines += ["", f"schema revision: {', '.join(revision)} (head {migrate.head_revision()})"]
    return "\n".join(lines)
