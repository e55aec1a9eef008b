"""What every ``driftcoach`` command module shares: the settings and the error exit.

The root callback only records the options it was given; the settings are read (and
logging set up) the first time a command asks for them, so ``--help`` and ``version``
never pay for pydantic-settings and SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from pydantic import ValidationError

    from service.settings import Settings
    from service.store import Store
    from service.store.tables import Connection

#: What ``pip`` installs for the fake CRMs (``driftcoach sandbox``, ``driftcoach demo``).
SANDBOX_EXTRA = "driftcoach[sandbox]"


@dataclass
class Invocation:
    """One run of the command line: the root options, and the settings once read."""

    overrides: dict[str, object] = field(default_factory=dict)
    settings: Settings | None = None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings for this invocation, read once (with the root options applied)."""
    from pydantic import ValidationError

    from service.logs import configure_logging
    from service.settings import load_settings

    invocation = ctx.find_root().obj
    if not isinstance(invocation, Invocation):  # pragma: no cover - set by the root callback
        raise RuntimeError("invocation missing: the root callback did not run")
    if invocation.settings is None:
        try:
            invocation.settings = load_settings(**invocation.overrides)
        except ValidationError as exc:
            raise fail(f"invalid settings: {settings_problems(exc)}") from None
        configure_logging(invocation.settings.log_level)
    return invocation.settings


def settings_problems(error: ValidationError) -> str:
    """Each problem as ``field: reason``, on one line, never with the value given: a
    database URL carries its password, and a model check sees every secret."""
    from rules.documents import describe_errors

    return "; ".join(describe_errors(error, whole="settings"))


def store_failure(error: BaseException, urls: Iterable[str]) -> str | None:
    """One line for an error of the store (unreachable, unknown dialect, missing driver,
    read-only file, locked) with the passwords of ``urls`` masked; None for any other."""
    from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

    if isinstance(error, NoSuchModuleError | ArgumentError):
        reason = f"unknown database dialect or driver ({error})"
    elif isinstance(error, DBAPIError):
        reason = " ".join(str(error.orig).split()) or type(error.orig).__name__
    elif isinstance(error, ModuleNotFoundError) and error.name in _DRIVERS:
        reason = f"the database driver {error.name} is not installed"
    else:
        return None
    for password in _passwords(urls):
        reason = reason.replace(password, "***")
    return f"cannot use the store: {reason}"


def database_urls(argv: Sequence[str], environ: Mapping[str, str]) -> list[str]:
    """The database URLs this invocation may have used: the option and the setting."""
    urls = [environ.get("DRIFTCOACH_DATABASE_URL", "")]
    for index, argument in enumerate(argv):
        if argument == "--database-url" and index + 1 < len(argv):
            urls.append(argv[index + 1])
        elif argument.startswith("--database-url="):
            urls.append(argument.partition("=")[2])
    return [url for url in urls if url]


def _passwords(urls: Iterable[str]) -> list[str]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    found = []
    for url in urls:
        try:
            password = make_url(url).password
        except (ArgumentError, ValueError):
            continue
        if password:
            found.append(str(password))
    return found


#: Database drivers a URL can name that a plain install may lack.
_DRIVERS = frozenset({"psycopg", "psycopg2", "pymysql", "MySQLdb", "asyncpg", "oracledb"})


def fail(message: str) -> typer.Exit:
    """Print ``error: message`` on stderr and return the exit to raise (code 1)."""
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def sandbox_missing(error: ImportError) -> typer.Exit:
    """The exit for a sandbox command run without the optional extra installed."""
    return fail(
        f"the CRM sandbox needs the optional extra {SANDBOX_EXTRA} ({error.name or error}"
        f" is not installed): pip install '{SANDBOX_EXTRA}'"
    )


def connection_targets(
    store: Store, name: str | None, *, required: bool = True
) -> list[Connection]:
    """The connection named ``name``, or every enabled one; fails when a named one is
    missing, or (``required``) when there is none."""
    from service.store.connections import find_connection, list_connections

    with store.unit_of_work() as session:
        if name is None:
            targets = list_connections(session, enabled_only=True)
        else:
            found = find_connection(session, name)
            if found is None:
                raise fail(f"no connection named {name!r}")
            targets = [found]
    if required and not targets:
        raise fail("no connections: add one with `driftcoach connections add ...`")
    return targets
