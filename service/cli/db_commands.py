"""``driftcoach db ...``: create and migrate the store's schema (Alembic underneath)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.support import fail, settings_of

if TYPE_CHECKING:
    from service.settings import Settings

db_app = typer.Typer(help="Create and migrate the store's schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Migrate the store up to REVISION (default: the newest)."""
    from sqlalchemy.exc import OperationalError

    from service.store import migrate

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
    from sqlalchemy.exc import OperationalError

    from service.store import migrate

    settings = settings_of(ctx)
    try:
        migrate.downgrade(settings, revision)
    except OperationalError as exc:
        raise fail(f"cannot reach the store: {exc.orig}") from None
    typer.echo(f"{_where(settings)} is at {_current(settings)}")


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Print the store's schema revision and whether it is up to date."""
    from sqlalchemy.exc import OperationalError

    from service.store import migrate

    settings = settings_of(ctx)
    try:
        current = _current(settings)
    except OperationalError as exc:
        raise fail(f"cannot reach the store: {exc.orig}") from None
    head = migrate.head_revision()
    state = "up to date" if current == head else f"behind head {head}: run 'driftcoach db upgrade'"
    typer.echo(f"{current} ({state})")


def _current(settings: Settings) -> str:
    from service.store import migrate

    revisions = migrate.current_revisions(settings)
    return ", ".join(revisions) if revisions else "no revision (empty store)"


def _where(settings: Settings) -> str:
    return settings.sqlalchemy_url.render_as_string(hide_password=True)
