"""The ``driftcoach`` command line: operations an admin runs by hand or from a container.

Settings are read once in the root callback and handed to each command through the
typer context, so every command sees the same configuration (including ``--database-url``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

import service
from service import demo as demo_module
from service.logs import configure_logging
from service.settings import Settings, load_settings
from service.store import migrate

app = typer.Typer(
    name="driftcoach",
    help="Coach sales reps on leading indicators before quota is missed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Create and migrate the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings)  # set by the root callback  # noqa: S101
    return settings


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


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
        raise _fail(f"invalid settings:\n{exc}") from None
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
    settings = _settings(ctx)
    try:
        migrate.upgrade(settings, revision)
    except OperationalError as exc:
        raise _fail(f"cannot reach the store: {exc.orig}") from None
    typer.echo(f"{_where(settings)} is at {_current(settings)}")


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[
        str, typer.Argument(help="Target revision: an id, '-1' for one step, 'base' for empty.")
    ],
) -> None:
    """Migrate the store down to REVISION. This drops data: there is no default target."""
    settings = _settings(ctx)
    try:
        migrate.downgrade(settings, revision)
    except OperationalError as exc:
        raise _fail(f"cannot reach the store: {exc.orig}") from None
    typer.echo(f"{_where(settings)} is at {_current(settings)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the store's schema revision and whether it is up to date."""
    settings = _settings(ctx)
    try:
        current = _current(settings)
    except OperationalError as exc:
        raise _fail(f"cannot reach the store: {exc.orig}") from None
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind head {head}: run 'driftcoach db upgrade'"
    typer.echo(f"{current} ({state})")


@app.command()
def demo(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Option(help="SQLite file for the demo store; replaced on every run.")
    ] = Path("driftcoach-demo.db"),
) -> None:
    """Run the whole cycle on a fresh SQLite store and print what it holds."""
    report = demo_module.run(_settings(ctx), path)
    typer.echo(report)


def _current(settings: Settings) -> str:
    revisions = migrate.current_revisions(settings)
    return ", ".join(revisions) if revisions else "no revision (empty store)"


def _where(settings: Settings) -> str:
    return settings.sqlalchemy_url.render_as_string(hide_password=True)


def main() -> None:
    app()
