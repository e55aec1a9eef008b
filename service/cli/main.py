"""The ``driftcoach`` command line: operations an admin runs by hand or from a container.

This module is the table of contents: the root options and the command groups. Each
group's module imports what its commands need only when one runs, so ``--help`` starts
fast and neither the sandbox nor the CRM clients are loaded for commands that do not
use them. The settings are read once, on first use, and shared by the invocation
(``--database-url`` included).
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

import service
from service.cli import (
    api_commands,
    backtest_commands,
    coaching_commands,
    db_commands,
    deliver_commands,
    rule_commands,
    rule_history_commands,
    sandbox_commands,
    sync_commands,
    webhook_commands,
)
from service.cli.support import Invocation, database_urls, fail, store_failure

app = typer.Typer(
    name="driftcoach",
    help="Coach sales reps on leading indicators before quota is missed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db_commands.db_app, name="db")
app.add_typer(sync_commands.connections_app, name="connections")
app.command("sync")(sync_commands.sync_command)
app.add_typer(rule_commands.rules_app, name="rules")
_ = rule_history_commands  # its commands join the rules group on import
app.command("evaluate")(rule_commands.evaluate_command)
app.command("deliver")(deliver_commands.deliver_command)
app.command("coaching")(coaching_commands.coaching_command)
app.command("api")(api_commands.api_command)
app.add_typer(api_commands.keys_app, name="keys")
app.add_typer(webhook_commands.webhooks_app, name="webhooks")
app.command("backtest")(backtest_commands.backtest_command)
app.command("sandbox")(sandbox_commands.sandbox)
app.command("demo")(sandbox_commands.demo)


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
    ctx.obj = Invocation(overrides)


@app.command()
def version() -> None:
    """Print driftcoach's version and the schema revision it expects."""
    from service.store import migrate

    typer.echo(f"driftcoach {service.__version__} (schema {migrate.head_revision()})")


def main() -> None:
    """Run the command line; a store that cannot be used is one line, not a traceback."""
    try:
        app()
    except Exception as error:
        message = store_failure(error, database_urls(sys.argv, os.environ))
        if message is None:
            raise
        raise SystemExit(fail(message).exit_code) from None
