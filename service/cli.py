"""The ``driftcoach`` command line: operations an admin runs by hand or from a container.

Settings are read once in the root callback and handed to each command through the
typer context, so every command sees the same configuration (including ``--database-url``).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

import service
from service import demo as demo_module
from service.cli_support import fail, settings_of
from service.logs import configure_logging
from service.rules_cli import evaluate_command, rules_app
from service.settings import Settings, load_settings
from service.store import migrate
from service.sync_cli import connections_app, sync_command

app = typer.Typer(
    name="driftcoach",
    help="Coach sales reps on leading indicators before quota is missed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create and migrate the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(connections_app, name="connections")
app.command("sync")(sync_command)
app.add_typer(rules_app, name="rules")
app.command("evaluate")(evaluate_command)


@app.callback()
def _root(
    ctx: typer.Context,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="SQLAlchemy URL of the store (default: $DRIFTCOACH_DATABASE_URL).",
            show_default=False,
        ),
    ] = None,
    log_level: Annotated[
        str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR.")
    ] = None,
) -> None:
    overrides: dict[str, object] = {}
    if database_url is not None:
        overrides["database_url"] = database_url
    if log_level is not None:
        overrides["log_level"] = log_level
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:
        raise fail(f"invalid settings:\n{exc}") from None
    configure_logging(settings.log_level)
    ctx.obj = settings


@app.command()
def version() -> None:
    """Print driftcoach's version and the schema revision it expects."""
    typer.echo(f"driftcoach {service.__version__} (schema {migrate.head_revision()})")


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the store up to REVISION (default: the newest)."""
    settings = settings_of(ctx)
    try:
        migrate.upgrade(settings, revision)
    except OperationalError as exc:
        raise fail(f"cannot reach the store: {exc.orig}") from None
    typer.echo(f"{_where(settings)} is at {_current(settings)}")


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, '-1' for one step, 'base' for empty.")
    ],
) -> None:
    """Migrate the store down to REVISION. This drops data: there is no default target."""
    settings = settings_of(ctx)
    try:
        migrate.downgrade(settings, revision)
    except OperationalError as exc:
        raise fail(f"cannot reach the store: {exc.orig}") from None
    typer.echo(f"{_where(settings)} is at {_current(settings)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the store's schema revision and whether it is up to date."""
    settings = settings_of(ctx)
    try:
        current = _current(settings)
    except OperationalError as exc:
        raise fail(f"cannot reach the store: {exc.orig}") from None
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind head {head}: run 'driftcoach db upgrade'"
    typer.echo(f"{current} ({state})")


@app.command()
def sandbox(
    seed: Annotated[int, typer.Option(help="Seed of the generated org.")] = 7,
    managers: Annotated[int, typer.Option(help="Sales managers (one team each).")] = 4,
    reps: Annotated[int, typer.Option(help="Account executives.")] = 24,
    months: Annotated[int, typer.Option(help="Months of history.")] = 12,
    drift_share: Annotated[float, typer.Option(help="Share of reps who drift.")] = 0.25,
    deal_scale: Annotated[float, typer.Option(help="Multiplies deal and activity volumes.")] = 1.0,
    as_of: Annotated[
        str | None, typer.Option(help="Last day of history (YYYY-MM-DD); default today.")
    ] = None,
    placement: Annotated[
        str, typer.Option(help="salesforce, hubspot, or split (teams across both).")
    ] = "split",
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    salesforce_port: Annotated[int, typer.Option(help="0 picks a free port.")] = 0,
    hubspot_port: Annotated[int, typer.Option(help="0 picks a free port.")] = 0,
    hubspot_tls: Annotated[bool, typer.Option(help="Serve HubSpot over HTTPS too.")] = False,
    data_dir: Annotated[
        Path | None, typer.Option(help="Where to write the CA bundle (default: a temp dir).")
    ] = None,
    salesforce_faults: Annotated[
        str | None, typer.Option(help="Faults as JSON, e.g. '{\"error_rate\": 0.05}'.")
    ] = None,
    hubspot_faults: Annotated[str | None, typer.Option(help="Faults as JSON.")] = None,
    salesforce_daily_allocation: Annotated[int, typer.Option(help="API calls per 24 h.")] = 100_000,
    hubspot_ten_second_budget: Annotated[int, typer.Option(help="Requests per 10 s.")] = 100,
    hubspot_searches_per_second: Annotated[int, typer.Option(help="Searches per second.")] = 5,
    hubspot_daily_budget: Annotated[int, typer.Option(help="Requests per day.")] = 250_000,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print connection details as JSON.")
    ] = False,
) -> None:
    """Run the fake Salesforce and HubSpot with a seeded sales org until Ctrl-C."""
    from pydantic import ValidationError as FaultsError

    from connectors.sandbox.faults import FaultConfig
    from connectors.sandbox.hubspot import HubSpotLimits
    from connectors.sandbox.org import OrgSpec
    from connectors.sandbox.runner import SandboxOptions
    from service.sandbox import run_until_stopped

    if placement not in ("salesforce", "hubspot", "split"):
        raise fail("--placement must be salesforce, hubspot or split")
    try:
        spec = OrgSpec(
            seed=seed,
            managers=managers,
            reps=reps,
            months=months,
            drift_share=drift_share,
            deal_scale=deal_scale,
            as_of=date.fromisoformat(as_of) if as_of else date.today(),  # noqa: DTZ011
        )
    except ValueError as exc:
        raise fail(str(exc)) from None
    try:
        sf_faults = FaultConfig.model_validate_json(salesforce_faults or "{}")
        hs_faults = FaultConfig.model_validate_json(hubspot_faults or "{}")
    except FaultsError as exc:
        raise fail(f"invalid faults: {exc}") from None
    options = SandboxOptions(
        org=spec,
        placement=placement,  # type: ignore[arg-type]
        host=host,
        salesforce_port=salesforce_port,
        hubspot_port=hubspot_port,
        hubspot_tls=hubspot_tls,
        data_dir=data_dir,
        salesforce_faults=sf_faults,
        hubspot_faults=hs_faults,
        salesforce_daily_allocation=salesforce_daily_allocation,
        hubspot_limits=HubSpotLimits(
            ten_second_budget=hubspot_ten_second_budget,
            searches_per_second=hubspot_searches_per_second,
            daily_budget=hubspot_daily_budget,
        ),
    )
    run_until_stopped(options, typer.echo, as_json=json_output)


@app.command()
def demo(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Option(help="SQLite file for the demo store; replaced on every run.")
    ] = Path("driftcoach-demo.db"),
) -> None:
    """Run the whole cycle on a fresh SQLite store and print what it holds."""
    report = demo_module.run(settings_of(ctx), path)
    typer.echo(report)


def _current(settings: Settings) -> str:
    revisions = migrate.current_revisions(settings)
    return ", ".join(revisions) if revisions else "no revision (empty store)"


def _where(settings: Settings) -> str:
    return settings.sqlalchemy_url.render_as_string(hide_password=True)


def main() -> None:
    app()
