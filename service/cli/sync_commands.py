"""``driftcoach connections ...`` and ``driftcoach sync``: set up CRM connections and pull.

The connectors (and their CRM client libraries) are imported when a command runs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from service.cli.support import connection_targets, fail, settings_of

connections_app = typer.Typer(help="The CRM orgs driftcoach syncs.", no_args_is_help=True)
add_app = typer.Typer(help="Add a connection.", no_args_is_help=True)
connections_app.add_typer(add_app, name="add")


@add_app.command("salesforce")
def add_salesforce(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for this org, e.g. acme-prod.")],
    auth_method: Annotated[
        str, typer.Option(help="client_credentials, password, jwt_bearer or session.")
    ] = "client_credentials",
    login_url: Annotated[str | None, typer.Option(help="My Domain or login URL.")] = None,
    token_url: Annotated[str | None, typer.Option(help="OAuth token URL if not standard.")] = None,
    instance_url: Annotated[str | None, typer.Option(help="Needed for session auth.")] = None,
    client_id: Annotated[str | None, typer.Option(help="Connected app consumer key.")] = None,
    username: Annotated[str | None, typer.Option(help="For password and JWT auth.")] = None,
    ca_bundle: Annotated[
        Path | None,
        typer.Option(help="Extra CA bundle (the sandbox's).", exists=True, dir_okay=False),
    ] = None,
    history_days: Annotated[int, typer.Option(help="How far back a first sync reads.")] = 400,
    budget_share: Annotated[
        float, typer.Option(help="Share of the daily API allocation one run may use.")
    ] = 0.10,
) -> None:
    """Add a Salesforce org. Secrets come from DRIFTCOACH_SALESFORCE__* settings."""
    options: dict[str, Any] = {
        "auth_method": auth_method,
        "history_days": history_days,
        "budget_share": budget_share,
    }
    for key, value in {
        "login_url": login_url,
        "token_url": token_url,
        "instance_url": instance_url,
        "client_id": client_id,
        "username": username,
        "ca_bundle": str(ca_bundle.resolve()) if ca_bundle else None,
    }.items():
        if value is not None:
            options[key] = value
    _validate_salesforce(options)
    _add(ctx, name, "salesforce", options)


def _add(ctx: typer.Context, name: str, crm: str, options: dict[str, Any]) -> None:
    from service.store import Store
    from service.store.connections import ConnectionExists, add_connection
    from service.store.tables import CrmKind

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            connection = add_connection(session, name, CrmKind(crm), options)
            typer.echo(f"added connection {connection.name} (id {connection.id})")
    except ConnectionExists as exc:
        raise fail(str(exc)) from None
    finally:
        store.dispose()


def _validate_salesforce(options: dict[str, Any]) -> None:
    """Check the options now, with stand-in secrets: real ones are read at sync time."""
    from pydantic import ValidationError

    from service.bootstrap import ConfigurationError, salesforce_config
    from service.settings import SalesforceSettings

    names = ("client_secret", "password", "session_id", "private_key_path")
    stand_in = SalesforceSettings.model_validate(dict.fromkeys(names, "stand-in"))
    try:
        salesforce_config(options, stand_in)
    except (ConfigurationError, ValidationError) as exc:
        raise fail(f"invalid Salesforce connection: {exc}") from None


@add_app.command("hubspot")
def add_hubspot(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for this portal, e.g. acme-hubspot.")],
    base_url: Annotated[
        str | None, typer.Option(help="API host (default https://api.hubapi.com).")
    ] = None,
    auth_method: Annotated[str, typer.Option(help="private_app or oauth.")] = "private_app",
    client_id: Annotated[str | None, typer.Option(help="The public app's client id.")] = None,
    ca_bundle: Annotated[
        Path | None, typer.Option(help="Extra CA bundle.", exists=True, dir_okay=False)
    ] = None,
    history_days: Annotated[int, typer.Option(help="How far back a first sync reads.")] = 400,
    budget_share: Annotated[
        float, typer.Option(help="Share of the daily API allowance one run may use.")
    ] = 0.10,
    team_manager: Annotated[
        list[str] | None,
        typer.Option(help="TEAM=MANAGER (team name or id, owner email or id); repeatable."),
    ] = None,
    owner_manager: Annotated[
        list[str] | None,
        typer.Option(help="OWNER=MANAGER (owner emails or ids); repeatable, wins over teams."),
    ] = None,
) -> None:
    """Add a HubSpot portal. Secrets come from DRIFTCOACH_HUBSPOT__* settings."""
    options: dict[str, Any] = {
        "auth_method": auth_method,
        "history_days": history_days,
        "budget_share": budget_share,
        "team_managers": _pairs(team_manager, "--team-manager"),
        "owner_managers": _pairs(owner_manager, "--owner-manager"),
    }
    for key, value in {
        "base_url": base_url,
        "client_id": client_id,
        "ca_bundle": str(ca_bundle.resolve()) if ca_bundle else None,
    }.items():
        if value is not None:
            options[key] = value
    _validate_hubspot(options)
    _add(ctx, name, "hubspot", options)


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values or []:
        key, sep, target = value.partition("=")
        if not (sep and key.strip() and target.strip()):
            raise fail(f"{option} takes KEY=VALUE, not {value!r}")
        pairs[key.strip()] = target.strip()
    return pairs


def _validate_hubspot(options: dict[str, Any]) -> None:
    """Check the options now, with stand-in secrets: real ones are read at sync time."""
    from pydantic import ValidationError

    from service.bootstrap import ConfigurationError, hubspot_config
    from service.settings import HubSpotSettings

    names = ("access_token", "client_secret", "refresh_token")
    stand_in = HubSpotSettings.model_validate(dict.fromkeys(names, "stand-in"))
    try:
        hubspot_config(options, stand_in)
    except (ConfigurationError, ValidationError) as exc:
        raise fail(f"invalid HubSpot connection: {exc}") from None


@connections_app.command("list")
def list_command(ctx: typer.Context) -> None:
    """List connections with their CRM and options (never secrets)."""
    from service.store import Store
    from service.store.connections import list_connections

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            for connection in list_connections(session):
                state = "enabled" if connection.enabled else "disabled"
                typer.echo(f"{connection.name}\t{connection.crm}\t{state}\t{connection.config}")
    finally:
        store.dispose()


def sync_command(
    ctx: typer.Context,
    connection: Annotated[
        str | None, typer.Option(help="Sync only this connection (default: all enabled).")
    ] = None,
    full: Annotated[bool, typer.Option(help="Ignore cursors and rewrite everything.")] = False,
    quarantined: Annotated[
        bool, typer.Option("--quarantined", help="List the records held in quarantine; no sync.")
    ] = False,
    retry_quarantined: Annotated[
        bool,
        typer.Option(
            "--retry-quarantined", help="Read every quarantined record again now (after a fix)."
        ),
    ] = False,
) -> None:
    """Pull changes from the CRMs into the store, resuming from the saved cursors.

    A record that cannot be stored is quarantined and its stream goes on; each run reads
    quarantined records again (backing off), and --quarantined lists them.
    """
    if quarantined:
        _list_quarantined(ctx, connection)
        return
    from pydantic import ValidationError

    from service.bootstrap import ConfigurationError, build_connector
    from service.cli.reports import format_report
    from service.store import Store
    from service.sync.pipeline import sync_connection

    settings = settings_of(ctx)
    store = Store.from_settings(settings)
    try:
        targets = connection_targets(store, connection)
        failed = False
        for target in targets:
            try:
                connector = build_connector(target, settings)
            except (ConfigurationError, ValidationError) as exc:
                raise fail(f"{target.name}: {exc}") from None
            try:
                report = sync_connection(
                    store,
                    target.id,
                    connector,
                    full=full,
                    min_commit=settings.sync_min_commit,
                    max_commit_delay=settings.sync_max_commit_delay_s,
                    progress=_Progress(target.name),
                    retry_every_quarantined=retry_quarantined,
                )
            finally:
                connector.close()
            typer.echo(format_report(target.name, report))
            failed = failed or report.status == "failed"
        if failed:
            raise typer.Exit(code=1)
    finally:
        store.dispose()


def _list_quarantined(ctx: typer.Context, connection: str | None) -> None:
    from service.cli.reports import format_quarantine
    from service.store import Store
    from service.store.connections import find_connection, list_connections
    from service.store.quarantine import listing

    store = Store.from_settings(settings_of(ctx))
    try:
        with store.unit_of_work() as session:
            names = {found.id: found.name for found in list_connections(session)}
            ids = None
            if connection is not None:
                found = find_connection(session, connection)
                if found is None:
                    raise fail(f"no connection named {connection!r}")
                ids = [found.id]
            typer.echo(format_quarantine(listing(session, ids), names))
    finally:
        store.dispose()


class _Progress:
    """Prints records per stream at most every two seconds on stderr (long runs only)."""

    def __init__(self, connection: str) -> None:
        self.connection = connection
        self._last = time.monotonic()

    def __call__(self, stream: str, records: int) -> None:
        now = time.monotonic()
        if now - self._last >= 2:
            self._last = now
            typer.echo(f"{self.connection}: {stream} {records} records...", err=True)
